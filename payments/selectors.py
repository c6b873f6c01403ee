"""Reads of the money, each scoped to its caller: a lab's billing, an expert's earnings, the
staff overview.

Figures come from the ledger (entries summed per transaction kind, account kind and project
in one grouped query) and a few bounded lists, so a page costs the same number of queries
for one project or a hundred.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, Sum

from marketplace.errors import NotFound
from marketplace.models import Organization, User
from payments.ledger import organization_money
from payments.models import (
    Account,
    Bonus,
    Entry,
    LabFunding,
    Payout,
    PayoutAccount,
    PayoutBatch,
    ProviderEvent,
    ReconciliationReport,
)
from payments.states import (
    PAYOUT_OPEN_STATES,
    AccountKind,
    PayoutStatus,
    TransactionKind,
    WebhookEventStatus,
)
from projects.access import LabActor
from projects.exports.provenance import lab_pseudonym
from projects.models import Annotation, Project, ProjectMember
from projects.states import EDITABLE_ANNOTATION_STATES

CURRENCY = "USD"
# Lists on the pages show the newest rows, this many at most.
FUNDINGS_SHOWN = 50
BONUSES_SHOWN = 50
PAYOUTS_SHOWN = 50
BATCHES_SHOWN = 20
PROBLEMS_SHOWN = 50
REPORTS_SHOWN = 5
BATCH_PAYOUTS_SHOWN = 500

EARNING_KINDS = (TransactionKind.EARNING, TransactionKind.EARNING_REVERSAL)


def _cents(value: Any) -> int:
    return int(value or 0)


# Lab billing -------------------------------------------------------------------------------


@dataclass
class ProjectEscrow:
    """One project's money: put into escrow, still held, paid for answers (the experts'
    share, net of reversals), the platform's fees on them, and returned to the lab."""

    project: Project | None
    deposited_cents: int = 0
    held_cents: int = 0
    spent_cents: int = 0
    fees_cents: int = 0
    returned_cents: int = 0


@dataclass(frozen=True)
class BonusGiven:
    bonus: Bonus
    pseudonym: str


@dataclass(frozen=True)
class LabBilling:
    organization: Organization
    currency: str
    balance_cents: int
    funds_added_cents: int
    bonuses_total_cents: int
    projects: list[ProjectEscrow]
    totals: ProjectEscrow
    fundings: list[LabFunding]
    bonuses: list[BonusGiven]


def lab_billing(*, actor: LabActor) -> LabBilling:
    """The actor's organisation's balance, what it added, its escrow per project and its
    receipts and bonuses (newest first)."""
    organization = actor.organization
    balance = organization_money(organization=organization, currency=CURRENCY).balance_cents
    lab_totals = dict(
        Entry.objects.filter(
            account__kind=AccountKind.LAB,
            account__organization=organization,
            account__currency=CURRENCY,
        )
        .values_list("transaction__kind")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    escrows = list(
        Account.objects.filter(
            kind=AccountKind.ESCROW, organization=organization, currency=CURRENCY
        )
        .select_related("project")
        .order_by("-project__created_at", "-project_id")
    )
    by_project = {
        account.project_id: ProjectEscrow(project=account.project, held_cents=account.balance_cents)
        for account in escrows
    }
    movements = (
        Entry.objects.filter(
            transaction__organization=organization,
            transaction__project__isnull=False,
            transaction__currency=CURRENCY,
            transaction__kind__in=[
                TransactionKind.ESCROW_DEPOSIT,
                TransactionKind.ESCROW_RELEASE,
                *EARNING_KINDS,
            ],
        )
        .values_list("transaction__project_id", "transaction__kind", "account__kind")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    for project_id, kind, account_kind, total in movements:
        row = by_project.get(project_id)
        if row is None:
            continue
        amount = _cents(total)
        if kind == TransactionKind.ESCROW_DEPOSIT and account_kind == AccountKind.ESCROW:
            row.deposited_cents += amount
        elif kind == TransactionKind.ESCROW_RELEASE and account_kind == AccountKind.LAB:
            row.returned_cents += amount
        elif kind in EARNING_KINDS and account_kind == AccountKind.EXPERT:
            row.spent_cents += amount
        elif kind in EARNING_KINDS and account_kind == AccountKind.REVENUE:
            row.fees_cents += amount
    projects = list(by_project.values())
    totals = ProjectEscrow(
        project=None,
        deposited_cents=sum(row.deposited_cents for row in projects),
        held_cents=sum(row.held_cents for row in projects),
        spent_cents=sum(row.spent_cents for row in projects),
        fees_cents=sum(row.fees_cents for row in projects),
        returned_cents=sum(row.returned_cents for row in projects),
    )
    fundings = list(
        LabFunding.objects.filter(organization=organization).select_related("created_by")[
            :FUNDINGS_SHOWN
        ]
    )
    bonuses = [
        BonusGiven(bonus=bonus, pseudonym=lab_pseudonym(organization.pk, bonus.expert_id))
        for bonus in Bonus.objects.filter(organization=organization).select_related(
            "project", "created_by"
        )[:BONUSES_SHOWN]
    ]
    return LabBilling(
        organization=organization,
        currency=CURRENCY,
        balance_cents=_cents(balance),
        funds_added_cents=_cents(lab_totals.get(TransactionKind.FUNDING)),
        bonuses_total_cents=-_cents(lab_totals.get(TransactionKind.BONUS)),
        projects=projects,
        totals=totals,
        fundings=fundings,
        bonuses=bonuses,
    )


def funding_for_actor(*, actor: LabActor, funding_id: Any) -> LabFunding:
    """One of the organisation's fundings by its public id; NotFound for any other."""
    funding = LabFunding.objects.filter(
        organization=actor.organization, public_id=funding_id
    ).first()
    if funding is None:
        raise NotFound()
    return funding


def lab_bonus_projects(*, actor: LabActor) -> list[Project]:
    """The organisation's projects a bonus may name, newest first."""
    return list(
        Project.objects.filter(organization=actor.organization)
        .only("id", "public_id", "title", "organization_id")
        .order_by("-created_at", "-id")
    )


def lab_experts_by_pseudonym(*, organization: Organization) -> dict[str, int]:
    """The experts who worked on the organisation's projects, by the pseudonym the lab sees
    in exports and dashboards: pseudonym → user id."""
    expert_ids = (
        ProjectMember.objects.filter(project__organization=organization)
        .values_list("expert_id", flat=True)
        .distinct()
    )
    return {lab_pseudonym(organization.pk, expert_id): expert_id for expert_id in expert_ids}


# Expert earnings ---------------------------------------------------------------------------


@dataclass
class ProjectEarning:
    """What one project brought the expert: accepted answers paid (net of reversals),
    bonuses naming it, and answers still waiting for review."""

    project_id: int
    title: str
    organization_name: str
    earned_cents: int = 0
    accepted_count: int = 0
    bonus_cents: int = 0
    pending_cents: int = 0
    pending_count: int = 0

    @property
    def total_cents(self) -> int:
        return self.earned_cents + self.bonus_cents


@dataclass(frozen=True)
class ExpertEarnings:
    currency: str
    pending_cents: int
    pending_count: int
    payable_cents: int
    in_transit_cents: int
    paid_cents: int
    earned_cents: int
    bonus_cents: int
    projects: list[ProjectEarning]
    payouts: list[Payout]
    bonuses: list[Bonus]
    payout_account: PayoutAccount | None
    minimum_payout_cents: int = 0


def expert_earnings(*, expert: User) -> ExpertEarnings:
    """The expert's own money: in review, payable, on its way, paid; per project, per payout,
    and bonuses with their reasons."""
    from django.conf import settings

    projects: dict[int, ProjectEarning] = {}

    def project_row(project_id: int, title: str, organization_name: str) -> ProjectEarning:
        row = projects.get(project_id)
        if row is None:
            row = projects[project_id] = ProjectEarning(
                project_id=project_id, title=title, organization_name=organization_name
            )
        return row

    pending = (
        Annotation.objects.filter(expert=expert, status__in=EDITABLE_ANNOTATION_STATES)
        .values_list("project_id", "project__title", "project__organization__name")
        .annotate(count=Count("id"), cents=Sum("project__price_per_annotation_cents"))
        .order_by()
    )
    for project_id, title, organization_name, count, cents in pending:
        row = project_row(project_id, title, organization_name)
        row.pending_count = count
        row.pending_cents = _cents(cents)
    earned = bonus_total = 0
    lines = (
        Entry.objects.filter(
            account__kind=AccountKind.EXPERT, account__user=expert, account__currency=CURRENCY
        )
        .values_list(
            "transaction__kind",
            "transaction__project_id",
            "transaction__project__title",
            "transaction__project__organization__name",
        )
        .annotate(total=Sum("amount_cents"), count=Count("id"))
        .order_by()
    )
    for kind, project_id, title, organization_name, total, count in lines:
        amount = _cents(total)
        if kind in EARNING_KINDS:
            earned += amount
        elif kind == TransactionKind.BONUS:
            bonus_total += amount
        if project_id is None or kind not in (*EARNING_KINDS, TransactionKind.BONUS):
            continue
        row = project_row(project_id, title, organization_name)
        if kind == TransactionKind.BONUS:
            row.bonus_cents += amount
        else:
            row.earned_cents += amount
            row.accepted_count += count if kind == TransactionKind.EARNING else -count
    payable = (
        Account.objects.filter(kind=AccountKind.EXPERT, user=expert, currency=CURRENCY)
        .values_list("balance_cents", flat=True)
        .first()
    )
    by_status = dict(
        Payout.objects.filter(expert=expert, currency=CURRENCY)
        .values_list("status")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    return ExpertEarnings(
        currency=CURRENCY,
        pending_cents=sum(row.pending_cents for row in projects.values()),
        pending_count=sum(row.pending_count for row in projects.values()),
        payable_cents=_cents(payable),
        in_transit_cents=sum(_cents(by_status.get(status)) for status in PAYOUT_OPEN_STATES),
        paid_cents=_cents(by_status.get(PayoutStatus.PAID)),
        earned_cents=earned,
        bonus_cents=bonus_total,
        projects=sorted(projects.values(), key=lambda row: (row.title.lower(), row.project_id)),
        payouts=list(Payout.objects.filter(expert=expert)[:PAYOUTS_SHOWN]),
        bonuses=list(
            Bonus.objects.filter(expert=expert).select_related("organization", "project")[
                :BONUSES_SHOWN
            ]
        ),
        payout_account=PayoutAccount.objects.filter(user=expert).first(),
        minimum_payout_cents=int(settings.PAYOUT_MINIMUM_CENTS),
    )


@dataclass(frozen=True)
class StatementLine:
    at: datetime
    kind: str
    kind_label: str
    project_title: str
    description: str
    amount_cents: int
    balance_cents: int


def expert_statement(*, expert: User) -> Iterator[StatementLine]:
    """Every line of the expert's payable account, oldest first, with the balance after it
    (one query, read in chunks)."""
    entries = (
        Entry.objects.filter(
            account__kind=AccountKind.EXPERT, account__user=expert, account__currency=CURRENCY
        )
        .select_related("transaction", "transaction__project")
        .order_by("transaction__created_at", "id")
    )
    balance = 0
    for entry in entries.iterator(chunk_size=2000):
        balance += entry.amount_cents
        txn = entry.transaction
        yield StatementLine(
            at=txn.created_at,
            kind=txn.kind,
            kind_label=TransactionKind(txn.kind).label,
            project_title=txn.project.title if txn.project is not None else "",
            description=txn.memo,
            amount_cents=entry.amount_cents,
            balance_cents=balance,
        )


# Staff -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformBalances:
    currency: str
    revenue_cents: int
    funding_received_cents: int
    in_transit_cents: int
    paid_out_cents: int


@dataclass
class BatchSummary:
    batch: PayoutBatch
    counts: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return self.counts.get(status, 0)

    @property
    def paid_count(self) -> int:
        return self.count(PayoutStatus.PAID)

    @property
    def open_count(self) -> int:
        return sum(self.count(status) for status in PAYOUT_OPEN_STATES)

    @property
    def returned_count(self) -> int:
        return self.count(PayoutStatus.RETURNED)

    @property
    def paid_cents(self) -> int:
        return self.amounts.get(PayoutStatus.PAID, 0)


@dataclass(frozen=True)
class StaffPayments:
    balances: PlatformBalances
    batches: list[BatchSummary]
    returned: list[Payout]
    open_payouts: list[Payout]
    open_count: int
    reports: list[ReconciliationReport]
    failed_events: list[ProviderEvent]


def platform_balances(*, currency: str = CURRENCY) -> PlatformBalances:
    """The platform's own accounts: fees earned, money received from labs (the funding
    account runs negative as labs pay in), payouts on their way and paid out."""
    balances = dict(
        Account.objects.filter(
            kind__in=[
                AccountKind.REVENUE,
                AccountKind.FUNDING,
                AccountKind.IN_TRANSIT,
                AccountKind.PAID_OUT,
            ],
            currency=currency,
        ).values_list("kind", "balance_cents")
    )
    return PlatformBalances(
        currency=currency,
        revenue_cents=_cents(balances.get(AccountKind.REVENUE)),
        funding_received_cents=-_cents(balances.get(AccountKind.FUNDING)),
        in_transit_cents=_cents(balances.get(AccountKind.IN_TRANSIT)),
        paid_out_cents=_cents(balances.get(AccountKind.PAID_OUT)),
    )


def staff_payments() -> StaffPayments:
    """What staff watch: balances, recent batches with their payouts counted by status,
    payouts that failed and came back, payouts still open, reconciliation and failed
    provider events."""
    batches = [
        BatchSummary(batch=batch)
        for batch in PayoutBatch.objects.select_related("created_by")[:BATCHES_SHOWN]
    ]
    by_id = {summary.batch.pk: summary for summary in batches}
    if by_id:
        rows = (
            Payout.objects.filter(batch_id__in=list(by_id))
            .values_list("batch_id", "status")
            .annotate(count=Count("id"), total=Sum("amount_cents"))
            .order_by()
        )
        for batch_id, status, count, total in rows:
            by_id[batch_id].counts[status] = count
            by_id[batch_id].amounts[status] = _cents(total)
    open_scope = Payout.objects.filter(status__in=PAYOUT_OPEN_STATES)
    return StaffPayments(
        balances=platform_balances(),
        batches=batches,
        returned=list(
            Payout.objects.filter(status=PayoutStatus.RETURNED)
            .select_related("expert", "batch")
            .order_by("-updated_at", "-id")[:PROBLEMS_SHOWN]
        ),
        open_payouts=list(
            open_scope.select_related("expert", "batch").order_by("created_at", "id")[
                :PROBLEMS_SHOWN
            ]
        ),
        open_count=open_scope.count(),
        reports=list(ReconciliationReport.objects.all()[:REPORTS_SHOWN]),
        failed_events=list(
            ProviderEvent.objects.filter(status=WebhookEventStatus.FAILED).defer("payload")[
                :PROBLEMS_SHOWN
            ]
        ),
    )


@dataclass(frozen=True)
class BatchDetail:
    summary: BatchSummary
    payouts: list[Payout]


def payout_batch_for_staff(*, batch_id: Any) -> BatchDetail:
    """One batch and its payouts (staff only); NotFound for an unknown id."""
    batch = PayoutBatch.objects.select_related("created_by").filter(public_id=batch_id).first()
    if batch is None:
        raise NotFound()
    payouts = list(
        Payout.objects.filter(batch=batch)
        .select_related("expert")
        .order_by("-amount_cents", "id")[:BATCH_PAYOUTS_SHOWN]
    )
    summary = BatchSummary(batch=batch)
    grouped: dict[str, list[int]] = defaultdict(list)
    for payout in payouts:
        grouped[payout.status].append(payout.amount_cents)
    for status, amounts in grouped.items():
        summary.counts[status] = len(amounts)
        summary.amounts[status] = sum(amounts)
    return BatchDetail(summary=summary, payouts=payouts)
