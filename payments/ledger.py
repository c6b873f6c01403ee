"""The only code that moves money: posting balanced transactions to the ledger.

Each public function is one money event (DESIGN.md, flow 7) and is idempotent through the
transaction's unique ``key``: posting the same event twice returns the first posting. Call
them inside the caller's database transaction, with the business row (annotation, payout,
funding) locked, so the money moves together with the state it pays for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from marketplace.errors import Conflict, InvalidInput
from marketplace.models import Organization, User
from payments.models import Account, Entry, LedgerTransaction
from payments.states import (
    NO_OVERDRAFT_KINDS,
    PLATFORM_ACCOUNT_KINDS,
    AccountKind,
    TransactionKind,
)
from projects.models import Annotation, Project
from projects.pricing import format_dollars, platform_fee_cents
from projects.states import EDITABLE_ANNOTATION_STATES, ProjectStatus

# Projects whose escrow no longer pays for work: money coming back goes to the lab.
CLOSED_PROJECT_STATES = frozenset({ProjectStatus.COMPLETED, ProjectStatus.ARCHIVED})


class InsufficientFunds(Conflict):
    """An account that may not go below zero does not hold enough."""


# Accounts ----------------------------------------------------------------------------------


def _account(kind: str, currency: str, **owner: Any) -> Account:
    lookup = {"kind": kind, "currency": currency, **owner}
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(**lookup)
    except IntegrityError:
        # Created meanwhile by a concurrent posting.
        return Account.objects.get(**lookup)


def lab_account(*, organization: Organization, currency: str) -> Account:
    return _account(AccountKind.LAB, currency.upper(), organization=organization)


def escrow_account(*, project: Project) -> Account:
    return _account(
        AccountKind.ESCROW,
        project.currency.upper(),
        project=project,
        organization_id=project.organization_id,
    )


def expert_account(*, user: User, currency: str) -> Account:
    return _account(AccountKind.EXPERT, currency.upper(), user=user)


def platform_account(*, kind: str, currency: str) -> Account:
    if kind not in PLATFORM_ACCOUNT_KINDS:
        raise InvalidInput(f"“{kind}” is not a platform account.", field="kind")
    return _account(kind, currency.upper())


# Posting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    account: Account
    amount_cents: int


def _validate(lines: Sequence[Line]) -> str:
    if len(lines) < 2:
        raise InvalidInput("A transaction needs at least two entries.", field="lines")
    currencies = {line.account.currency for line in lines}
    if len(currencies) != 1:
        raise InvalidInput("A transaction moves one currency.", field="lines")
    for line in lines:
        if isinstance(line.amount_cents, bool) or not isinstance(line.amount_cents, int):
            raise InvalidInput("Amounts are whole numbers of cents.", field="lines")
        if line.amount_cents == 0:
            raise InvalidInput("An entry cannot be zero.", field="lines")
    if sum(line.amount_cents for line in lines) != 0:
        raise InvalidInput("A transaction's entries must sum to zero.", field="lines")
    return currencies.pop()


def _describe(account: Account) -> str:
    if account.kind == AccountKind.LAB:
        return "The lab's balance"
    if account.kind == AccountKind.ESCROW:
        return "The project's escrow"
    return str(account)


def ledger_post(
    *,
    kind: str,
    key: str,
    lines: Sequence[Line],
    memo: str = "",
    created_by: User | None = None,
    **refs: Any,
) -> tuple[LedgerTransaction, bool]:
    """Post a balanced transaction once per ``key``; return it and whether it is new.

    Balances change with the entries, in account-id order (so concurrent postings never
    deadlock); a lab balance or escrow that would go below zero refuses the whole posting
    (InsufficientFunds) and nothing is written.
    """
    if kind not in TransactionKind.values:
        raise InvalidInput(f"“{kind}” is not a kind of transaction.", field="kind")
    currency = _validate(lines)
    existing = LedgerTransaction.objects.filter(key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            posted = LedgerTransaction.objects.create(
                kind=kind,
                key=key,
                currency=currency,
                memo=memo[:300],
                created_by=created_by if created_by and created_by.is_authenticated else None,
                **refs,
            )
            Entry.objects.bulk_create(
                Entry(transaction=posted, account=line.account, amount_cents=line.amount_cents)
                for line in lines
            )
            for line in sorted(lines, key=lambda line: line.account.pk):
                scope = Account.objects.filter(pk=line.account.pk)
                if line.amount_cents < 0 and line.account.kind in NO_OVERDRAFT_KINDS:
                    scope = scope.filter(balance_cents__gte=-line.amount_cents)
                if not scope.update(balance_cents=F("balance_cents") + line.amount_cents):
                    held = Account.objects.get(pk=line.account.pk).balance_cents
                    raise InsufficientFunds(
                        f"{_describe(line.account)} holds {format_dollars(held)}; "
                        f"{format_dollars(-line.amount_cents)} is needed."
                    )
    except IntegrityError:
        # The same key posted meanwhile by a concurrent call (or the annotation's earning
        # under another key): the first posting stands.
        existing = LedgerTransaction.objects.filter(key=key).first()
        if existing is None:
            raise
        return existing, False
    return posted, True


def _lock_balances(*accounts: Account) -> dict[int, int]:
    """Lock the accounts' rows in id order (the order postings update them, so no deadlock)
    and return their balances: a decision read from them holds until the transaction ends.
    Call inside a transaction."""
    rows = (
        Account.objects.select_for_update()
        .filter(pk__in=[account.pk for account in accounts])
        .order_by("pk")
        .values_list("pk", "balance_cents")
    )
    return {pk: int(balance) for pk, balance in rows}


def balance_cents(account: Account) -> int:
    """The account's balance as stored (kept in step with its entries)."""
    return int(Account.objects.values_list("balance_cents", flat=True).get(pk=account.pk))


@dataclass(frozen=True)
class LedgerProblem:
    what: str
    detail: str


def ledger_verify() -> list[LedgerProblem]:
    """Every way the ledger could disagree with itself: an unbalanced transaction, or an
    account whose stored balance is not the sum of its entries."""
    problems = [
        LedgerProblem("unbalanced transaction", f"{row['transaction__key']}: {row['total']:+}")
        for row in Entry.objects.values("transaction_id", "transaction__key")
        .annotate(total=Sum("amount_cents"))
        .exclude(total=0)
    ]
    sums = dict(
        Entry.objects.values_list("account_id").annotate(total=Sum("amount_cents")).order_by()
    )
    for account in Account.objects.all().order_by("pk"):
        expected = int(sums.get(account.pk, 0) or 0)
        if account.balance_cents != expected:
            problems.append(
                LedgerProblem(
                    "balance differs from entries",
                    f"{account}: stored {account.balance_cents}, entries {expected}",
                )
            )
    return problems


# Money events ------------------------------------------------------------------------------


def _move(
    *,
    kind: str,
    key: str,
    source: Account,
    target: Account,
    amount_cents: int,
    memo: str,
    created_by: User | None = None,
    **refs: Any,
) -> LedgerTransaction:
    """Post ``amount_cents`` from ``source`` to ``target`` once per ``key``."""
    posted, _ = ledger_post(
        kind=kind,
        key=key,
        lines=[Line(source, -amount_cents), Line(target, amount_cents)],
        memo=memo,
        created_by=created_by,
        **refs,
    )
    return posted


def funding_credit(
    *, organization: Organization, amount_cents: int, currency: str, key: str, **refs: Any
) -> LedgerTransaction:
    """Money the provider confirmed a lab paid: credit the lab's balance."""
    return _move(
        kind=TransactionKind.FUNDING,
        key=key,
        source=platform_account(kind=AccountKind.FUNDING, currency=currency),
        target=lab_account(organization=organization, currency=currency),
        amount_cents=amount_cents,
        memo="Funds added",
        organization=organization,
        **refs,
    )


def escrow_deposit(
    *, project: Project, amount_cents: int, key: str, created_by: User | None = None
) -> LedgerTransaction:
    """Move ``amount_cents`` of the lab's balance into the project's escrow."""
    return _move(
        kind=TransactionKind.ESCROW_DEPOSIT,
        key=key,
        source=lab_account(organization=project.organization, currency=project.currency),
        target=escrow_account(project=project),
        amount_cents=amount_cents,
        memo=f"Budget for “{project.title}”",
        created_by=created_by,
        organization_id=project.organization_id,
        project=project,
    )


def annotation_price_cents(annotation: Annotation) -> tuple[int, int]:
    """What an accepted answer pays the expert and the platform's fee on it."""
    price = annotation.project.price_per_annotation_cents
    return price, platform_fee_cents(price)


def earning_post(*, annotation: Annotation, created_by: User | None = None) -> LedgerTransaction:
    """Pay an accepted answer, once: its price from the project's escrow to the expert's
    payable balance and the fee to revenue. When the escrow is short (extra answers the
    budget did not plan for) the rest comes from the lab's balance. Call with the
    annotation locked."""
    project = annotation.project
    price, fee = annotation_price_cents(annotation)
    escrow = escrow_account(project=project)
    lab = lab_account(organization=project.organization, currency=project.currency)
    expert = expert_account(user=annotation.expert, currency=project.currency)
    revenue = platform_account(kind=AccountKind.REVENUE, currency=project.currency)
    # Every account this posting may touch, locked at once in id order: the escrow read
    # below holds, and no other posting can take them in another order.
    held = _lock_balances(escrow, lab, expert, revenue)[escrow.pk]
    from_escrow = min(held, price + fee)
    lines = []
    if from_escrow:
        lines.append(Line(escrow, -from_escrow))
    if price + fee - from_escrow:
        lines.append(Line(lab, -(price + fee - from_escrow)))
    lines.append(Line(expert, price))
    if fee:
        lines.append(Line(revenue, fee))
    try:
        posted, _ = ledger_post(
            kind=TransactionKind.EARNING,
            key=f"earning:{annotation.pk}",
            lines=lines,
            memo=f"Accepted answer on “{project.title}”",
            created_by=created_by,
            organization_id=project.organization_id,
            project=project,
            expert_id=annotation.expert_id,
            annotation=annotation,
        )
    except InsufficientFunds as error:
        raise InsufficientFunds(
            "The project's escrow and the lab's balance do not cover this answer "
            f"({format_dollars(price + fee)} with the fee). Add funds first."
        ) from error
    return posted


def earning_reverse(
    *, annotation: Annotation, created_by: User | None = None, memo: str = ""
) -> LedgerTransaction | None:
    """Undo an answer's earning (a dispute upheld after acceptance): every entry of the
    earning is mirrored, with the money going back to the escrow, or to the lab once the
    project is closed. None when the answer was never paid. The expert's payable balance
    may go below zero (already paid out): later earnings make it up."""
    earning = (
        LedgerTransaction.objects.filter(annotation=annotation, kind=TransactionKind.EARNING)
        .prefetch_related("entries__account")
        .first()
    )
    if earning is None:
        return None
    project = annotation.project
    back_to = (
        lab_account(organization=project.organization, currency=project.currency)
        if project.status in CLOSED_PROJECT_STATES
        else escrow_account(project=project)
    )
    lines = []
    for entry in earning.entries.all():
        if entry.account.kind in (AccountKind.ESCROW, AccountKind.LAB):
            lines.append(Line(back_to, -entry.amount_cents))
        else:
            lines.append(Line(entry.account, -entry.amount_cents))
    posted, _ = ledger_post(
        kind=TransactionKind.EARNING_REVERSAL,
        key=f"earning-reversal:{annotation.pk}",
        lines=lines,
        memo=memo or f"Reversed: answer on “{project.title}”",
        created_by=created_by,
        organization_id=project.organization_id,
        project=project,
        expert_id=annotation.expert_id,
        annotation=annotation,
    )
    return posted


def escrow_release(*, project: Project, created_by: User | None = None) -> LedgerTransaction | None:
    """Return what a closed project's escrow holds beyond the answers still waiting for
    review (they stay covered until decided) to the lab's balance. None when there is
    nothing to return. Call inside a transaction, after each change that frees escrow."""
    escrow = escrow_account(project=project)
    lab = lab_account(organization=project.organization, currency=project.currency)
    waiting = Annotation.objects.filter(
        project=project, status__in=EDITABLE_ANNOTATION_STATES
    ).count()
    price = project.price_per_annotation_cents
    keep = waiting * (price + platform_fee_cents(price))
    held = _lock_balances(escrow, lab)[escrow.pk] - keep
    if held <= 0:
        return None
    count = LedgerTransaction.objects.filter(
        project=project, kind=TransactionKind.ESCROW_RELEASE
    ).count()
    return _move(
        kind=TransactionKind.ESCROW_RELEASE,
        key=f"escrow-release:{project.pk}:{count + 1}",
        source=escrow,
        target=lab,
        amount_cents=held,
        memo=f"Unused budget of “{project.title}” returned",
        created_by=created_by,
        organization_id=project.organization_id,
        project=project,
    )


def bonus_post(
    *,
    organization: Organization,
    expert: User,
    amount_cents: int,
    currency: str,
    key: str,
    memo: str,
    created_by: User | None = None,
    **refs: Any,
) -> LedgerTransaction:
    """A lab's bonus to an expert, from the lab's balance."""
    return _move(
        kind=TransactionKind.BONUS,
        key=key,
        source=lab_account(organization=organization, currency=currency),
        target=expert_account(user=expert, currency=currency),
        amount_cents=amount_cents,
        memo=memo,
        created_by=created_by,
        organization=organization,
        expert=expert,
        **refs,
    )


def payout_debit(
    *, expert: User, amount_cents: int, currency: str, key: str, **refs: Any
) -> LedgerTransaction:
    """Take a payout from the expert's payable balance into transit."""
    return _move(
        kind=TransactionKind.PAYOUT,
        key=key,
        source=expert_account(user=expert, currency=currency),
        target=platform_account(kind=AccountKind.IN_TRANSIT, currency=currency),
        amount_cents=amount_cents,
        memo="Payout",
        expert=expert,
        **refs,
    )


def payout_settle(
    *, expert: User, amount_cents: int, currency: str, key: str, **refs: Any
) -> LedgerTransaction:
    """The provider confirmed the transfer: the money left the platform."""
    return _move(
        kind=TransactionKind.PAYOUT_PAID,
        key=key,
        source=platform_account(kind=AccountKind.IN_TRANSIT, currency=currency),
        target=platform_account(kind=AccountKind.PAID_OUT, currency=currency),
        amount_cents=amount_cents,
        memo="Payout confirmed",
        expert=expert,
        **refs,
    )


def payout_return(
    *, expert: User, amount_cents: int, currency: str, key: str, **refs: Any
) -> LedgerTransaction:
    """A payout that failed for good: the money goes back to the expert's payable balance."""
    return _move(
        kind=TransactionKind.PAYOUT_RETURN,
        key=key,
        source=platform_account(kind=AccountKind.IN_TRANSIT, currency=currency),
        target=expert_account(user=expert, currency=currency),
        amount_cents=amount_cents,
        memo="Payout returned",
        expert=expert,
        **refs,
    )


# Reads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationMoney:
    currency: str
    balance_cents: int
    escrow_cents: int


def organization_money(*, organization: Organization, currency: str = "USD") -> OrganizationMoney:
    """What the lab holds: its spendable balance and, apart, what sits in its projects'
    escrow (one query)."""
    rows = dict(
        Account.objects.filter(
            organization=organization,
            currency=currency,
            kind__in=[AccountKind.LAB, AccountKind.ESCROW],
        )
        .values_list("kind")
        .annotate(total=Sum("balance_cents"))
        .order_by()
    )
    return OrganizationMoney(
        currency=currency,
        balance_cents=int(rows.get(AccountKind.LAB) or 0),
        escrow_cents=int(rows.get(AccountKind.ESCROW) or 0),
    )
