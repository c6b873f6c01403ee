"""The ledger's invariants hold over random sequences of money events (hypothesis).

Every example runs a random mix of fundings, escrow deposits, accepts, rejections, reversed
earnings, bonuses, payouts and malformed postings against one project with real annotations,
through the same services the product uses, and after each step checks that:
- every transaction's entries sum to zero and every stored balance equals its entries;
- all balances together sum to zero (money is neither created nor lost);
- no lab balance or escrow is negative;
- each answer is paid at most once;
- every balance equals an independent model of what the steps should have done.
Refused steps (short funds, bad postings) must change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.db.models import Count, Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.errors import Conflict, InvalidInput
from payments import ledger
from payments.models import Account, Entry, LedgerTransaction
from payments.states import AccountKind, TransactionKind
from projects import services as project_services
from projects.models import Annotation
from projects.pricing import platform_fee_cents
from projects.review.services import annotation_accept, annotation_reject
from tests.payments.factories import fund_lab
from tests.projects import workspace_factories as wf

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    """Ends an example, undoing its writes so the next starts from the same rows."""


@dataclass
class Model:
    lab: int
    escrow: int
    experts: dict[int, int] = field(default_factory=dict)
    revenue: int = 0
    in_transit: int = 0
    paid_out: int = 0
    funded: int = 0
    earned: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # pk → (esc, lab, ex)
    reversed: set[int] = field(default_factory=set)
    accepted: set[int] = field(default_factory=set)
    rejected: set[int] = field(default_factory=set)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("fund"), st.integers(1, 40_000)),
        st.tuples(st.just("deposit"), st.integers(1, 40_000)),
        st.tuples(st.just("accept"), st.integers(0, 5)),
        st.tuples(st.just("reject"), st.integers(0, 5)),
        st.tuples(st.just("reverse"), st.integers(0, 5)),
        st.tuples(st.just("bonus"), st.integers(0, 1), st.integers(1, 20_000)),
        st.tuples(st.just("payout"), st.integers(0, 1), st.booleans()),
        st.tuples(st.just("unbalanced"), st.integers(-5_000, 5_000)),
        st.tuples(st.just("release"), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture
def world():
    actor, project, experts = wf.workspace(experts=2, task_count=3, overlap=2)
    annotations = [wf.submit_next(expert, project) for expert in experts for _ in range(3)]
    return actor, project, experts, annotations


def _balances(project, experts) -> dict[str, int]:
    stored = {
        (row.kind, row.project_id, row.user_id): row.balance_cents for row in Account.objects.all()
    }

    def of(kind, project_id=None, user_id=None):
        return stored.get((kind, project_id, user_id), 0)

    return {
        "lab": of(AccountKind.LAB),
        "escrow": of(AccountKind.ESCROW, project.pk),
        "revenue": of(AccountKind.REVENUE),
        "in_transit": of(AccountKind.IN_TRANSIT),
        "paid_out": of(AccountKind.PAID_OUT),
        **{f"expert{index}": of(AccountKind.EXPERT, None, e.pk) for index, e in enumerate(experts)},
    }


def _expected(model: Model, experts) -> dict[str, int]:
    return {
        "lab": model.lab,
        "escrow": model.escrow,
        "revenue": model.revenue,
        "in_transit": model.in_transit,
        "paid_out": model.paid_out,
        **{f"expert{index}": model.experts.get(e.pk, 0) for index, e in enumerate(experts)},
    }


def _check_invariants(project, experts, model: Model) -> None:
    assert ledger.ledger_verify() == []
    assert (Account.objects.aggregate(total=Sum("balance_cents"))["total"] or 0) == 0
    assert not Account.objects.filter(
        kind__in=[AccountKind.LAB, AccountKind.ESCROW], balance_cents__lt=0
    ).exists()
    assert not (
        LedgerTransaction.objects.filter(kind=TransactionKind.EARNING)
        .values("annotation")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    assert _balances(project, experts) == _expected(model, experts)


def _run(op, *, actor, project, experts, annotations, model: Model, step: int) -> None:
    price = project.price_per_annotation_cents
    fee = platform_fee_cents(price)
    kind = op[0]
    if kind == "fund":
        fund_lab(actor.organization, max(op[1], 1))
        model.lab += op[1]
        model.funded += op[1]
    elif kind == "deposit":
        try:
            project_services.project_fund(
                actor=actor, project=project, amount_cents=op[1], idempotency_key=f"d{step}"
            )
        except ledger.InsufficientFunds:
            assert model.lab < op[1]
        else:
            model.lab -= op[1]
            model.escrow += op[1]
    elif kind in ("accept", "reject"):
        annotation = annotations[op[1]]
        try:
            if kind == "accept":
                annotation_accept(actor=actor, annotation=annotation)
            else:
                annotation_reject(actor=actor, annotation=annotation, feedback="No.")
        except ledger.InsufficientFunds:
            assert kind == "accept"
            assert model.escrow + model.lab < price + fee
        except Conflict:
            # Accepted and rejected are final in review.
            assert annotation.pk in model.accepted | model.rejected
        else:
            if kind == "accept" and annotation.pk not in model.accepted:
                from_escrow = min(model.escrow, price + fee)
                model.escrow -= from_escrow
                model.lab -= price + fee - from_escrow
                model.experts[annotation.expert_id] = (
                    model.experts.get(annotation.expert_id, 0) + price
                )
                model.revenue += fee
                model.accepted.add(annotation.pk)
            elif kind == "reject":
                model.rejected.add(annotation.pk)
    elif kind == "reverse":
        annotation = Annotation.objects.select_related("project").get(pk=annotations[op[1]].pk)
        with transaction.atomic():
            posted = ledger.earning_reverse(annotation=annotation)
        if annotation.pk in model.accepted and annotation.pk not in model.reversed:
            assert posted is not None
            model.escrow += price + fee
            model.experts[annotation.expert_id] -= price
            model.revenue -= fee
            model.reversed.add(annotation.pk)
        elif annotation.pk not in model.accepted:
            assert posted is None
    elif kind == "bonus":
        expert = experts[op[1]]
        try:
            ledger.bonus_post(
                organization=actor.organization,
                expert=expert,
                amount_cents=op[2],
                currency="USD",
                key=f"bonus-test:{step}",
                memo="Thanks",
            )
        except ledger.InsufficientFunds:
            assert model.lab < op[2]
        else:
            model.lab -= op[2]
            model.experts[expert.pk] = model.experts.get(expert.pk, 0) + op[2]
    elif kind == "payout":
        expert = experts[op[1]]
        owed = model.experts.get(expert.pk, 0)
        if owed > 0:
            ledger.payout_debit(expert=expert, amount_cents=owed, currency="USD", key=f"p{step}")
            settle = ledger.payout_settle if op[2] else ledger.payout_return
            settle(expert=expert, amount_cents=owed, currency="USD", key=f"p{step}-end")
            model.experts[expert.pk] = 0 if op[2] else owed
            if op[2]:
                model.paid_out += owed
    elif kind == "unbalanced":
        lab = ledger.lab_account(organization=actor.organization, currency="USD")
        escrow = ledger.escrow_account(project=project)
        entries_before = Entry.objects.count()
        with pytest.raises(InvalidInput):
            ledger.ledger_post(
                kind=TransactionKind.BONUS,
                key=f"bad:{step}",
                lines=[ledger.Line(lab, op[1]), ledger.Line(escrow, -op[1] + 1)],
            )
        assert Entry.objects.count() == entries_before
    elif kind == "release":
        with transaction.atomic():
            ledger.escrow_release(project=project)
        # Answers still waiting for review stay covered.
        waiting = sum(1 for a in annotations if a.pk not in model.accepted | model.rejected)
        released = max(0, model.escrow - waiting * (price + fee))
        model.lab += released
        model.escrow -= released


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_random_sequences_of_money_events_keep_the_ledger_balanced(world, ops):
    actor, project, experts, annotations = world
    start = _balances(project, experts)
    model = Model(lab=start["lab"], escrow=start["escrow"])
    try:
        with transaction.atomic():
            for step, op in enumerate(ops):
                for annotation in annotations:
                    annotation.refresh_from_db()
                _run(
                    op,
                    actor=actor,
                    project=project,
                    experts=experts,
                    annotations=annotations,
                    model=model,
                    step=step,
                )
                _check_invariants(project, experts, model)
            raise Rollback
    except Rollback:
        pass
    for annotation in annotations:
        annotation.refresh_from_db()


def test_posted_entries_cannot_be_updated(world):
    from django.db import DatabaseError

    _actor, _project, _experts, _annotations = world
    entry = Entry.objects.filter(account__kind=AccountKind.ESCROW).first()
    assert entry is not None
    with pytest.raises(DatabaseError), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount_cents=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerTransaction.objects.filter(pk=entry.transaction_id).update(memo="changed")
    entry.refresh_from_db()
    assert entry.amount_cents != 1


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        ([100], "at least two entries"),
        ([100, -99], "sum to zero"),
        ([100, 0, -100], "cannot be zero"),
        ([1.5, -1.5], "whole numbers of cents"),
    ],
)
def test_malformed_postings_are_refused_and_write_nothing(world, amounts, message):
    actor, project, _experts, _annotations = world
    accounts = [
        ledger.lab_account(organization=actor.organization, currency="USD"),
        ledger.escrow_account(project=project),
        ledger.platform_account(kind=AccountKind.REVENUE, currency="USD"),
    ]
    before = (LedgerTransaction.objects.count(), Entry.objects.count(), _balances(project, []))
    with pytest.raises(InvalidInput, match=message):
        ledger.ledger_post(
            kind=TransactionKind.BONUS,
            key="malformed",
            lines=[ledger.Line(accounts[i], amount) for i, amount in enumerate(amounts)],
        )
    after = (LedgerTransaction.objects.count(), Entry.objects.count(), _balances(project, []))
    assert before == after


def test_a_repeated_key_posts_once(world):
    actor, _project, experts, _annotations = world
    fund_lab(actor.organization, 5_000)
    for _ in range(3):
        ledger.bonus_post(
            organization=actor.organization,
            expert=experts[0],
            amount_cents=1_000,
            currency="USD",
            key="bonus:once",
            memo="Thanks",
        )
    assert LedgerTransaction.objects.filter(key="bonus:once").count() == 1
    expert_account = ledger.expert_account(user=experts[0], currency="USD")
    assert ledger.balance_cents(expert_account) == 1_000
