"""Money under concurrency on PostgreSQL: an answer accepted by several requests at the same
moment is paid once, and simultaneous spending never takes a lab below zero."""

from __future__ import annotations

import pytest

from marketplace.errors import Conflict
from payments import ledger
from payments.models import LedgerTransaction
from payments.states import TransactionKind
from projects import services
from projects.models import Annotation, ProjectFunding
from projects.pricing import platform_fee_cents
from projects.review.models import AnnotationReview
from projects.review.services import annotation_accept, annotations_accept_bulk
from projects.states import AnnotationStatus
from tests.integration.concurrency import race
from tests.payments.factories import fund_lab
from tests.projects import factories as pf
from tests.projects import workspace_factories as wf

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_an_answer_accepted_by_simultaneous_requests_is_paid_once():
    actor, project, (expert,) = wf.workspace(experts=1, task_count=2)
    annotation = wf.submit_next(expert, project)
    price = project.price_per_annotation_cents
    fee = platform_fee_cents(price)
    escrow_before = ledger.balance_cents(ledger.escrow_account(project=project))

    outcomes = race(
        *[lambda: annotation_accept(actor=actor, annotation=annotation) for _ in range(6)],
        lambda: annotations_accept_bulk(
            actor=actor, project=project, annotation_ids=[annotation.public_id]
        ),
    )

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.ACCEPTED
    assert AnnotationReview.objects.filter(annotation=annotation, decision="accept").count() == 1
    earnings = LedgerTransaction.objects.filter(annotation=annotation, kind=TransactionKind.EARNING)
    assert earnings.count() == 1
    expert_account = ledger.expert_account(user=expert, currency="USD")
    assert ledger.balance_cents(expert_account) == price
    assert ledger.balance_cents(ledger.escrow_account(project=project)) == escrow_before - (
        price + fee
    )
    assert ledger.ledger_verify() == []


def test_the_database_refuses_a_second_earning_for_one_answer():
    actor, project, (expert,) = wf.workspace(experts=1, task_count=2)
    annotation = wf.submit_next(expert, project)
    annotation_accept(actor=actor, annotation=annotation)
    escrow = ledger.escrow_account(project=project)
    account = ledger.expert_account(user=expert, currency="USD")
    # Even a posting under another key cannot pay the same answer twice.
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        ledger.ledger_post(
            kind=TransactionKind.EARNING,
            key="earning:another-key",
            lines=[ledger.Line(escrow, -100), ledger.Line(account, 100)],
            annotation=annotation,
        )
    assert ledger.balance_cents(account) == project.price_per_annotation_cents


def test_simultaneous_project_fundings_never_overdraw_the_lab():
    actor = pf.manager_actor()
    projects = [pf.project(actor) for _ in range(5)]
    fund_lab(actor.organization, 3 * 4_000)

    outcomes = race(
        *[
            lambda p=p: services.project_fund(actor=actor, project=p, amount_cents=4_000)
            for p in projects
        ]
    )

    funded = [o for o in outcomes if isinstance(o, ProjectFunding)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(funded), len(refused)) == (3, 2), outcomes
    lab = ledger.lab_account(organization=actor.organization, currency="USD")
    assert ledger.balance_cents(lab) == 0
    assert sum(ledger.balance_cents(ledger.escrow_account(project=p)) for p in projects) == 12_000
    assert ledger.ledger_verify() == []


def test_posted_entries_cannot_be_deleted_on_postgres():
    from django.db import DatabaseError, transaction

    from payments.models import Entry

    actor = pf.manager_actor()
    fund_lab(actor.organization, 1_000)
    entry = Entry.objects.first()
    with pytest.raises(DatabaseError), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).delete()
    assert Entry.objects.filter(pk=entry.pk).exists()
