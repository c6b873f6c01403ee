"""A project's escrow over its life: funded from the lab's balance, spent on accepted
answers, and returned when it closes, except what answers still waiting for review need."""

from __future__ import annotations

import pytest

from payments import ledger
from payments.models import LedgerTransaction
from payments.states import TransactionKind
from projects import services
from projects.pricing import platform_fee_cents
from projects.review.services import annotation_accept, annotation_reject
from tests.projects import workspace_factories as wf

pytestmark = pytest.mark.django_db


def _escrow(project) -> int:
    return ledger.balance_cents(ledger.escrow_account(project=project))


def _lab(actor) -> int:
    return ledger.organization_money(organization=actor.organization).balance_cents


def test_closing_keeps_escrow_for_waiting_answers_and_returns_it_as_they_are_decided():
    actor, project, experts = wf.workspace(experts=2, task_count=3)
    cost = project.price_per_annotation_cents + platform_fee_cents(
        project.price_per_annotation_cents
    )
    funded = _escrow(project)
    first, second, third = (
        wf.submit_next(experts[0], project),
        wf.submit_next(experts[1], project),
        wf.submit_next(experts[0], project),
    )
    annotation_accept(actor=actor, annotation=first)
    lab_before = _lab(actor)

    services.project_complete(actor=actor, project=project)

    # Two answers wait: their cost stays in escrow, the rest goes back to the lab.
    assert _escrow(project) == 2 * cost
    assert _lab(actor) == lab_before + funded - cost - 2 * cost

    annotation_reject(actor=actor, annotation=second, feedback="Off topic.")
    assert _escrow(project) == cost
    assert _lab(actor) == lab_before + funded - 2 * cost

    annotation_accept(actor=actor, annotation=third)
    assert _escrow(project) == 0
    assert _lab(actor) == lab_before + funded - 2 * cost

    services.project_archive(actor=actor, project=project)
    assert _escrow(project) == 0
    releases = LedgerTransaction.objects.filter(
        project=project, kind=TransactionKind.ESCROW_RELEASE
    )
    assert releases.count() == 2
    assert ledger.ledger_verify() == []


def test_an_answer_waiting_at_completion_is_paid_from_the_escrow_kept_for_it():
    actor, project, (expert,) = wf.workspace(experts=1, task_count=2)
    cost = project.price_per_annotation_cents + platform_fee_cents(
        project.price_per_annotation_cents
    )
    answer = wf.submit_next(expert, project)
    services.project_complete(actor=actor, project=project)
    assert _escrow(project) == cost
    lab = _lab(actor)
    annotation_accept(actor=actor, annotation=answer)
    assert (_escrow(project), _lab(actor)) == (0, lab)

    expert_balance = ledger.balance_cents(ledger.expert_account(user=expert, currency="USD"))
    assert expert_balance == project.price_per_annotation_cents
