"""The money reads: a lab's billing, an expert's earnings and statement, the staff overview.

The scenario goes through the real services: a funded project whose answers are accepted, a
bonus, a payout batch paid through the offline sandbox, a second project completed with its
escrow returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import reverse

from marketplace.errors import NotFound
from marketplace.models import User
from payments import selectors
from payments.bonuses import bonus_pay
from payments.models import Payout, PayoutBatch
from payments.payouts import payout_batch_create
from payments.states import PayoutStatus, TransactionKind
from projects import services as project_services
from projects.access import LabActor
from projects.exports.provenance import lab_pseudonym
from projects.models import Annotation, Project
from projects.review import services as review
from tests import factories
from tests.payments.factories import fund_lab
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import answer_task, workspace

pytestmark = pytest.mark.django_db


@dataclass
class Money:
    actor: LabActor
    project: Project
    closed: Project
    alice: User
    bob: User
    pending: Annotation
    staff: User


def connect_payouts(client, expert: User, *, rejects: bool = False) -> None:
    """Onboard the expert's payout account through the sandbox's pages, as they would."""
    client.force_login(expert)
    response = client.post(reverse("payments:payout_connect"))
    assert response.status_code == 302
    onboarding = client.post(response.url, {"action": "reject" if rejects else "enable"})
    assert onboarding.status_code == 302
    client.logout()


def run_batch(staff: User, capture) -> PayoutBatch | None:
    with capture(execute=True):
        return payout_batch_create(trigger="staff", actor=staff)


def money_scenario(client, capture) -> Money:
    """A lab with a $24 escrow (4 tasks × $5 + 20% fee) and $100 more on its balance; Alice
    has 3 answers accepted and $10 of them paid out; Bob has 1 answer in review and a $2.50
    bonus; a second project ($7.20) was completed untouched and its escrow returned."""
    actor, project, (alice, bob) = workspace(
        experts=2, task_count=4, overlap=1, price_per_annotation_cents=500
    )
    tasks = list(project.tasks.order_by("id"))
    for task in tasks[:2]:
        review.annotation_accept(actor=actor, annotation=answer_task(alice, task, project))
    fund_lab(actor.organization, 10_000)
    bonus_pay(
        actor=actor,
        expert_pseudonym=lab_pseudonym(actor.organization.pk, bob.pk),
        amount_cents=250,
        reason="Spotted the duplicate items",
        project=project,
    )
    staff, _ = factories.staff_user()
    connect_payouts(client, alice)
    batch = run_batch(staff, capture)
    assert batch is not None
    review.annotation_accept(actor=actor, annotation=answer_task(alice, tasks[2], project))
    pending = answer_task(bob, tasks[3], project)
    closed = project_factories.active_project(
        actor,
        task_count=2,
        overlap=1,
        price_per_annotation_cents=300,
        gold_rate_percent=0,
        title="Closed study",
    )
    project_services.project_complete(actor=actor, project=closed)
    return Money(actor, project, closed, alice, bob, pending, staff)


@pytest.fixture
def money(client, django_capture_on_commit_callbacks) -> Money:
    return money_scenario(client, django_capture_on_commit_callbacks)


# Lab billing -----------------------------------------------------------------------------------


def test_the_lab_billing_figures_are_exact(money, django_assert_num_queries):
    with django_assert_num_queries(6):
        billing = selectors.lab_billing(actor=money.actor)

    assert billing.balance_cents == 10_000 - 250 + 720
    assert billing.funds_added_cents == 2400 + 10_000 + 720
    assert billing.bonuses_total_cents == 250
    rows = {row.project: row for row in billing.projects}
    assert set(rows) == {money.project, money.closed}
    live, closed = rows[money.project], rows[money.closed]
    assert (
        live.deposited_cents,
        live.held_cents,
        live.spent_cents,
        live.fees_cents,
        live.returned_cents,
    ) == (2400, 2400 - 3 * 600, 1500, 300, 0)
    assert (
        closed.deposited_cents,
        closed.held_cents,
        closed.spent_cents,
        closed.fees_cents,
        closed.returned_cents,
    ) == (720, 0, 0, 0, 720)
    totals = billing.totals
    assert (totals.deposited_cents, totals.held_cents, totals.spent_cents) == (3120, 600, 1500)
    assert (totals.fees_cents, totals.returned_cents) == (300, 720)
    assert [funding.amount_cents for funding in billing.fundings] == [720, 10_000, 2400]
    assert all(funding.status == "completed" for funding in billing.fundings)
    (given,) = billing.bonuses
    assert given.pseudonym == lab_pseudonym(money.actor.organization.pk, money.bob.pk)
    assert (given.bonus.amount_cents, given.bonus.reason) == (250, "Spotted the duplicate items")


def test_a_lab_sees_none_of_another_labs_money(money):
    other = project_factories.manager_actor()
    fund_lab(other.organization, 5000)

    billing = selectors.lab_billing(actor=other)

    assert (billing.balance_cents, billing.funds_added_cents) == (5000, 5000)
    assert billing.projects == []
    assert billing.bonuses == []
    assert [funding.amount_cents for funding in billing.fundings] == [5000]
    with pytest.raises(NotFound):
        selectors.funding_for_actor(
            actor=other, funding_id=money.actor.organization.fundings.first().public_id
        )


def test_the_experts_a_lab_may_pay_are_those_on_its_projects(money):
    stranger = factories.expert()

    known = selectors.lab_experts_by_pseudonym(organization=money.actor.organization)

    organization_id = money.actor.organization.pk
    assert known == {
        lab_pseudonym(organization_id, money.alice.pk): money.alice.pk,
        lab_pseudonym(organization_id, money.bob.pk): money.bob.pk,
    }
    assert stranger.pk not in known.values()


# Expert earnings -------------------------------------------------------------------------------


def test_the_expert_earnings_are_exact(money, django_assert_num_queries):
    with django_assert_num_queries(7):
        alice = selectors.expert_earnings(expert=money.alice)

    assert (alice.pending_cents, alice.pending_count) == (0, 0)
    assert (alice.payable_cents, alice.in_transit_cents, alice.paid_cents) == (500, 0, 1000)
    assert (alice.earned_cents, alice.bonus_cents) == (1500, 0)
    (row,) = alice.projects
    assert (row.title, row.accepted_count, row.earned_cents, row.pending_cents) == (
        money.project.title,
        3,
        1500,
        0,
    )
    (payout,) = alice.payouts
    assert (payout.amount_cents, payout.status) == (1000, PayoutStatus.PAID)
    assert alice.payout_account is not None
    assert alice.payout_account.payouts_enabled

    bob = selectors.expert_earnings(expert=money.bob)
    assert (bob.pending_cents, bob.pending_count) == (500, 1)
    assert (bob.payable_cents, bob.paid_cents, bob.earned_cents, bob.bonus_cents) == (
        250,
        0,
        0,
        250,
    )
    (row,) = bob.projects
    assert (row.earned_cents, row.bonus_cents, row.pending_cents, row.pending_count) == (
        0,
        250,
        500,
        1,
    )
    assert [bonus.reason for bonus in bob.bonuses] == ["Spotted the duplicate items"]
    assert bob.payouts == []
    assert bob.payout_account is None


def test_answers_sent_back_for_revision_still_count_as_pending(money):
    review.annotation_request_revision(
        actor=money.actor, annotation=money.pending, feedback="Cite the guideline."
    )

    bob = selectors.expert_earnings(expert=money.bob)

    assert (bob.pending_cents, bob.pending_count) == (500, 1)
    review.annotation_reject(
        actor=money.actor, annotation=money.pending, feedback="Still not cited."
    )
    assert selectors.expert_earnings(expert=money.bob).pending_cents == 0


def test_the_statement_lists_every_line_with_the_balance_after(money, django_assert_num_queries):
    with django_assert_num_queries(1):
        lines = list(selectors.expert_statement(expert=money.alice))

    assert [(line.kind, line.amount_cents, line.balance_cents) for line in lines] == [
        (TransactionKind.EARNING, 500, 500),
        (TransactionKind.EARNING, 500, 1000),
        (TransactionKind.PAYOUT, -1000, 0),
        (TransactionKind.EARNING, 500, 500),
    ]
    assert {line.project_title for line in lines} == {money.project.title, ""}
    assert lines[0].description == f"Accepted answer on “{money.project.title}”"
    assert lines[0].kind_label == "Accepted answer"

    bob_lines = list(selectors.expert_statement(expert=money.bob))
    assert [(line.kind, line.amount_cents, line.description) for line in bob_lines] == [
        (TransactionKind.BONUS, 250, "Bonus from Helix Labs: Spotted the duplicate items")
    ]


# Staff -----------------------------------------------------------------------------------------


def test_the_staff_overview_counts_batches_and_balances(
    money, client, django_capture_on_commit_callbacks, django_assert_num_queries, settings
):
    settings.PAYOUT_MINIMUM_CENTS = 100
    connect_payouts(client, money.bob, rejects=True)
    batch = run_batch(money.staff, django_capture_on_commit_callbacks)
    assert batch is not None

    with django_assert_num_queries(8):
        overview = selectors.staff_payments()

    balances = overview.balances
    assert balances.funding_received_cents == 2400 + 10_000 + 720
    assert balances.revenue_cents == 300
    assert (balances.in_transit_cents, balances.paid_out_cents) == (0, 1000 + 500)
    newest, first = overview.batches
    assert newest.batch == batch
    assert (newest.batch.payout_count, newest.batch.total_cents) == (2, 750)
    assert (newest.paid_count, newest.returned_count, newest.open_count) == (1, 1, 0)
    assert newest.paid_cents == 500
    assert (first.paid_count, first.paid_cents, first.returned_count) == (1, 1000, 0)
    (returned,) = overview.returned
    assert (returned.expert, returned.amount_cents, returned.failure_code) == (
        money.bob,
        250,
        "account_disabled",
    )
    assert overview.open_payouts == []
    assert overview.open_count == 0
    assert overview.reports == []
    assert overview.failed_events == []

    with django_assert_num_queries(2):
        detail = selectors.payout_batch_for_staff(batch_id=batch.public_id)
    assert {(payout.expert, payout.status) for payout in detail.payouts} == {
        (money.alice, PayoutStatus.PAID),
        (money.bob, PayoutStatus.RETURNED),
    }
    assert Payout.objects.count() == 3
    with pytest.raises(NotFound):
        selectors.payout_batch_for_staff(batch_id="00000000-0000-0000-0000-000000000000")
