"""Payouts: batches of money sent to experts through the provider, exactly once each.

A payout's row is the source of truth. ``payout_batch_create`` moves each expert's payable
balance into transit together with the rows it creates; ``payout_send`` records every attempt
and commits it before calling the provider with the payout's idempotency key, so a task run
twice, a worker killed mid-call or a message lost between commit and publish never pays
twice (``payouts_requeue_lost`` sends what a lost message left undone). ``reconciliation_run``
compares our payouts with the provider's transfers and the ledger with itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplace.errors import InvalidInput, NotFound, PermissionDenied
from marketplace.models import User
from marketplace.services import audit_record, notification_create
from payments.ledger import (
    ledger_verify,
    payout_debit,
    payout_return,
    payout_settle,
    platform_account,
)
from payments.models import Account, Payout, PayoutAccount, PayoutBatch, ReconciliationReport
from payments.providers import ProviderError, Transfer, provider
from payments.states import (
    PAYOUT_OPEN_STATES,
    AccountKind,
    PayoutBatchTrigger,
    PayoutStatus,
)
from projects.pricing import format_dollars

PAYOUT_CURRENCY = "USD"
EARNINGS_LINK = "/expert/earnings/"
STAFF_PAYMENTS_LINK = "/staff/payments/"
# How far back a reconciliation looks when not told: a little over a month of payouts.
RECONCILIATION_WINDOW = timedelta(days=35)
# Failure codes that mean the expert must act on their payout account.
ACCOUNT_FAILURE_CODES = frozenset(
    {
        "account_disabled",
        "account_invalid",
        "insufficient_capabilities_for_transfer",
        "payouts_not_allowed",
        "resource_missing",
    }
)


class PayoutRetryLater(Exception):
    """The provider failed in a way that may pass: send the payout again in ``countdown``
    seconds."""

    def __init__(self, countdown: int, message: str = "") -> None:
        super().__init__(message or f"Retry the payout in {countdown} s.")
        self.countdown = countdown


def retry_countdown(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: doubling, capped."""
    delay = int(settings.PAYOUT_RETRY_DELAY) * 2 ** max(attempts - 1, 0)
    return int(min(delay, int(settings.PAYOUT_RETRY_MAX_DELAY)))


# Batches -----------------------------------------------------------------------------------


def payout_batch_create(*, trigger: str, actor: User | None) -> PayoutBatch | None:
    """Pay every expert owed at least ``PAYOUT_MINIMUM_CENTS`` whose payout account can
    receive money: one payout each, for the whole payable balance. Return None, creating
    nothing, when nobody is owed.

    Staff start a batch by hand; the schedule starts one with no actor. The expert accounts
    (and the in-transit account) are locked in id order, so an answer accepted or a bonus
    paid meanwhile lands either wholly before the batch or wholly after it.
    """
    if trigger not in PayoutBatchTrigger.values:
        raise InvalidInput(f"“{trigger}” is not a payout trigger.", field="trigger")
    if actor is not None and not (actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Only staff can start a payout batch.")
    minimum = int(settings.PAYOUT_MINIMUM_CENTS)
    chosen = provider()
    with transaction.atomic():
        candidate_ids = list(
            Account.objects.filter(
                kind=AccountKind.EXPERT,
                currency=PAYOUT_CURRENCY,
                balance_cents__gte=minimum,
                user__payout_account__payouts_enabled=True,
            ).values_list("pk", flat=True)
        )
        if not candidate_ids:
            return None
        in_transit = platform_account(kind=AccountKind.IN_TRANSIT, currency=PAYOUT_CURRENCY)
        locked = list(
            Account.objects.select_for_update()
            .filter(pk__in=[*candidate_ids, in_transit.pk])
            .order_by("pk")
        )
        # Read again under the locks: balances and open payouts as they are now.
        balances = {
            account.user_id: account.balance_cents
            for account in locked
            if account.kind == AccountKind.EXPERT
            and account.user_id is not None
            and account.balance_cents >= minimum
        }
        user_ids = sorted(balances)
        busy = set(
            Payout.objects.filter(
                expert_id__in=user_ids, status__in=PAYOUT_OPEN_STATES
            ).values_list("expert_id", flat=True)
        )
        experts = User.objects.in_bulk(user_ids)
        destinations = dict(
            PayoutAccount.objects.filter(user_id__in=user_ids, payouts_enabled=True).values_list(
                "user_id", "account_id"
            )
        )
        owed = [user_id for user_id in user_ids if user_id not in busy and user_id in destinations]
        if not owed:
            return None
        batch = PayoutBatch.objects.create(
            trigger=trigger,
            created_by=actor,
            currency=PAYOUT_CURRENCY,
            payout_count=len(owed),
            total_cents=sum(balances[user_id] for user_id in owed),
        )
        payouts = []
        for user_id in owed:
            payout = Payout.objects.create(
                batch=batch,
                expert=experts[user_id],
                amount_cents=balances[user_id],
                currency=PAYOUT_CURRENCY,
                status=PayoutStatus.PENDING,
                provider=chosen.name,
                destination=destinations[user_id],
            )
            payout_debit(
                expert=payout.expert,
                amount_cents=payout.amount_cents,
                currency=payout.currency,
                key=f"payout:{payout.pk}",
                payout=payout,
                created_by=actor,
            )
            payouts.append(payout)
        audit_record(
            actor=actor,
            action="payout_batch.create",
            target=batch,
            after={
                "trigger": trigger,
                "payout_count": batch.payout_count,
                "total_cents": batch.total_cents,
                "provider": chosen.name,
            },
        )
        for payout in payouts:
            _queue_send(payout.pk)
    return batch


def _queue_send(payout_id: int) -> None:
    """Publish the payout's task once the transaction commits. Were the publish lost, the
    payout stays pending and ``payouts_requeue_lost`` sends it."""
    from payments.tasks import send_payout

    def publish() -> None:
        send_payout.delay(payout_id)

    transaction.on_commit(publish, robust=True)


# Sending -----------------------------------------------------------------------------------


def payout_send(*, payout_id: int) -> Payout:
    """Send one payout through the provider; safe to run twice or concurrently.

    The attempt is recorded and committed before the provider is called, and the provider
    is told the payout's idempotency key, so whatever dies in between, the next run finds
    the transfer (by the key, or by the payout's metadata once the key is forgotten) instead
    of making a second one. Call outside any transaction. Raise PayoutRetryLater when the
    provider failed in a way that may pass.
    """
    with transaction.atomic():
        payout = Payout.objects.select_for_update().filter(pk=payout_id).first()
        if payout is None:
            raise NotFound("No such payout.")
        if payout.status in (PayoutStatus.PAID, PayoutStatus.RETURNED):
            return payout
        now = timezone.now()
        in_flight = timedelta(seconds=int(settings.PAYOUT_TASK_TIME_LIMIT))
        if (
            payout.status == PayoutStatus.SENDING
            and not payout.failure_code
            and payout.last_attempt_at is not None
            and now - payout.last_attempt_at < in_flight
        ):
            # Another run is calling the provider right now (a duplicated or redelivered
            # message): let it finish; a run lasts at most the task's time limit.
            raise PayoutRetryLater(int(in_flight.total_seconds()), "A send is in progress.")
        first_attempt = payout.attempts == 0
        payout.status = PayoutStatus.SENDING
        payout.attempts += 1
        payout.last_attempt_at = now
        payout.failure_code = ""
        payout.failure_message = ""
        payout.save(
            update_fields=[
                "status",
                "attempts",
                "last_attempt_at",
                "failure_code",
                "failure_message",
                "updated_at",
            ]
        )
    chosen = provider()
    try:
        found = None if first_attempt else chosen.transfer_find(payout=payout)
        transfer = found if found is not None else chosen.transfer_create(payout=payout)
    except ProviderError as error:
        return _failed(payout, error)
    return _settle(payout_id=payout.pk, transfer=transfer)


def _settle(*, payout_id: int, transfer: Transfer) -> Payout:
    """The provider holds the transfer: the payout is paid and the money left the platform."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update().select_related("expert").get(pk=payout_id)
        if payout.status != PayoutStatus.SENDING:
            # Settled or returned by a concurrent run meanwhile.
            return payout
        now = timezone.now()
        Payout.objects.filter(pk=payout.pk, status=PayoutStatus.SENDING).update(
            status=PayoutStatus.PAID,
            transfer_id=transfer.id,
            paid_at=now,
            failure_code="",
            failure_message="",
            updated_at=now,
        )
        payout_settle(
            expert=payout.expert,
            amount_cents=payout.amount_cents,
            currency=payout.currency,
            key=f"payout-paid:{payout.pk}",
            payout=payout,
        )
        audit_record(
            actor=None,
            action="payout.paid",
            target=payout,
            before={"status": PayoutStatus.SENDING},
            after={"status": PayoutStatus.PAID, "transfer_id": transfer.id},
        )
        notification_create(
            recipient=payout.expert,
            kind="payout.paid",
            text=(
                f"Your payout of {format_dollars(payout.amount_cents)} was sent to your payout "
                "account. Your bank usually shows it within a few business days."
            ),
            link=EARNINGS_LINK,
        )
    payout.refresh_from_db()
    return payout


def _failed(payout: Payout, error: ProviderError) -> Payout:
    """Handle a refused or failed call: retry later when it may pass and attempts remain;
    otherwise give the money back to the expert's payable balance and tell them."""
    code = (error.code or "provider_error")[:64]
    message = error.message[:500]
    if error.retryable and payout.attempts < int(settings.PAYOUT_MAX_ATTEMPTS):
        _note_failure(payout.pk, code=code, message=message)
        raise PayoutRetryLater(retry_countdown(payout.attempts), message) from error
    # Before giving the money back, make sure no transfer was made after all: a connection
    # dropped after the provider committed it, or a concurrent run with the same key.
    try:
        found = provider().transfer_find(payout=payout)
    except ProviderError as lookup_error:
        if lookup_error.retryable:
            # The provider cannot say now: leave the payout sending so nothing is paid twice;
            # the lost-payout reconciler sends it again later.
            _note_failure(payout.pk, code=code, message=message)
            return Payout.objects.get(pk=payout.pk)
        found = None
    if found is not None:
        return _settle(payout_id=payout.pk, transfer=found)
    return _return(payout_id=payout.pk, code=code, message=message, attempt=payout.attempts)


def _note_failure(payout_id: int, *, code: str, message: str) -> None:
    Payout.objects.filter(pk=payout_id, status=PayoutStatus.SENDING).update(
        failure_code=code, failure_message=message, updated_at=timezone.now()
    )


def _return(*, payout_id: int, code: str, message: str, attempt: int) -> Payout:
    """Give a payout that failed for good back to the expert, unless another run has
    started a newer attempt meanwhile (its outcome decides)."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update().select_related("expert").get(pk=payout_id)
        if payout.status != PayoutStatus.SENDING or payout.attempts != attempt:
            return payout
        now = timezone.now()
        Payout.objects.filter(pk=payout.pk, status=PayoutStatus.SENDING).update(
            status=PayoutStatus.RETURNED,
            failure_code=code,
            failure_message=message,
            updated_at=now,
        )
        payout_return(
            expert=payout.expert,
            amount_cents=payout.amount_cents,
            currency=payout.currency,
            key=f"payout-return:{payout.pk}",
            payout=payout,
        )
        audit_record(
            actor=None,
            action="payout.returned",
            target=payout,
            before={"status": PayoutStatus.SENDING},
            after={"status": PayoutStatus.RETURNED, "failure_code": code},
        )
        notification_create(
            recipient=payout.expert,
            kind="payout.returned",
            text=(
                f"Your payout of {format_dollars(payout.amount_cents)} could not be sent "
                f"({_reason(code, message)}). The money is back in your payable balance. "
                f"{_what_to_do(code)}"
            ),
            link=EARNINGS_LINK,
        )
    payout.refresh_from_db()
    return payout


def _reason(code: str, message: str) -> str:
    if code in ACCOUNT_FAILURE_CODES:
        return "your payout account cannot receive transfers yet"
    if code == "balance_insufficient":
        return "the platform's payout balance was short"
    return message.rstrip(".") or "the payment provider refused it"


def _what_to_do(code: str) -> str:
    if code in ACCOUNT_FAILURE_CODES:
        return (
            "Finish onboarding your payout account (or fix what it asks for); the amount is "
            "included in the next payout once transfers are enabled."
        )
    return "It is included in the next payout; nothing is needed from you."


# Lost messages -----------------------------------------------------------------------------


def payouts_requeue_lost(*, now: datetime | None = None) -> int:
    """Send again every payout whose message was lost: still pending or sending after
    ``PAYOUT_STALE_SECONDS`` (a crash between commit and publish, a worker killed, Redis
    restarted). A payout waiting out a retry's backoff is left alone until its retry is
    overdue too. Return how many were queued."""
    now = now or timezone.now()
    stale = timedelta(seconds=int(settings.PAYOUT_STALE_SECONDS))
    cutoff = now - stale
    lost: list[int] = []
    with transaction.atomic():
        candidates = (
            Payout.objects.select_for_update(skip_locked=True)
            .filter(status__in=PAYOUT_OPEN_STATES, updated_at__lt=cutoff)
            .order_by("pk")
            .only("pk", "status", "attempts", "last_attempt_at", "failure_code")
        )
        for payout in candidates:
            waiting_for_retry = (
                payout.status == PayoutStatus.SENDING
                and payout.failure_code
                and payout.last_attempt_at is not None
                and payout.last_attempt_at + timedelta(seconds=retry_countdown(payout.attempts))
                >= cutoff
            )
            if not waiting_for_retry:
                lost.append(payout.pk)
        if lost:
            # Touched, so the next run does not queue them again while this message is out.
            Payout.objects.filter(pk__in=lost).update(updated_at=now)
            for payout_id in lost:
                _queue_send(payout_id)
    return len(lost)


# Reconciliation ----------------------------------------------------------------------------


def _difference(
    kind: str, *, payout: str = "", transfer: str = "", detail: str = ""
) -> dict[str, str]:
    return {"kind": kind, "payout": payout, "transfer": transfer, "detail": detail}


def reconciliation_run(*, since: datetime | None = None) -> ReconciliationReport:
    """Compare our payouts since ``since`` with the provider's transfers, and every balance
    with its entries; store what disagrees and tell staff when anything does."""
    since = since or timezone.now() - RECONCILIATION_WINDOW
    transfers = list(provider().transfers_list(since=since))
    ours = {
        str(payout.public_id): payout
        for payout in Payout.objects.filter(created_at__gte=since).select_related("expert")
    }
    # A transfer made since ``since`` may pay an older payout.
    named = {transfer.payout_id for transfer in transfers if transfer.payout_id} - set(ours)
    for older in Payout.objects.filter(public_id__in=_uuids(named)):
        ours[str(older.public_id)] = older

    differences: list[dict[str, str]] = []
    seen: dict[str, Transfer] = {}
    for transfer in transfers:
        matched = ours.get(transfer.payout_id)
        if matched is None:
            differences.append(
                _difference(
                    "transfer_without_payout",
                    payout=transfer.payout_id,
                    transfer=transfer.id,
                    detail=(
                        f"{format_dollars(transfer.amount_cents)} to {transfer.destination} "
                        "matches no payout of ours."
                    ),
                )
            )
            continue
        public_id = str(matched.public_id)
        if public_id in seen:
            differences.append(
                _difference(
                    "duplicate_transfer",
                    payout=public_id,
                    transfer=transfer.id,
                    detail=f"A second transfer for the payout (the first is {seen[public_id].id}).",
                )
            )
            continue
        seen[public_id] = transfer
        differences.extend(_compare(matched, transfer))

    for public_id, payout in ours.items():
        if (
            payout.status == PayoutStatus.PAID
            and public_id not in seen
            and payout.created_at >= since
        ):
            differences.append(
                _difference(
                    "paid_payout_without_transfer",
                    payout=public_id,
                    transfer=payout.transfer_id,
                    detail=(
                        f"Paid {format_dollars(payout.amount_cents)} to {payout.destination} "
                        "here, but the provider lists no transfer for it."
                    ),
                )
            )

    problems = ledger_verify()
    differences.extend(
        _difference("ledger", detail=f"{problem.what}: {problem.detail}") for problem in problems
    )
    with transaction.atomic():
        report = ReconciliationReport.objects.create(
            payouts_checked=len(ours),
            transfers_checked=len(transfers),
            accounts_checked=Account.objects.count(),
            differences=differences,
        )
        if differences:
            for staff in User.objects.filter(is_staff=True, is_active=True).order_by("pk"):
                notification_create(
                    recipient=staff,
                    kind="payments.reconciliation",
                    text=(
                        f"Payment reconciliation found {len(differences)} "
                        f"difference{'s' if len(differences) != 1 else ''} to look at."
                    ),
                    link=STAFF_PAYMENTS_LINK,
                    send_email=False,
                )
    return report


def _compare(payout: Payout, transfer: Transfer) -> list[dict[str, str]]:
    public_id = str(payout.public_id)
    if payout.status == PayoutStatus.RETURNED:
        return [
            _difference(
                "transfer_for_returned_payout",
                payout=public_id,
                transfer=transfer.id,
                detail=(
                    f"The payout was returned to the expert's balance, but the provider sent "
                    f"{format_dollars(transfer.amount_cents)}."
                ),
            )
        ]
    if payout.status != PayoutStatus.PAID:
        return [
            _difference(
                "transfer_for_open_payout",
                payout=public_id,
                transfer=transfer.id,
                detail=f"The transfer exists but the payout is still {payout.status}.",
            )
        ]
    found: list[dict[str, str]] = []
    mismatches = _mismatches(payout, transfer)
    if mismatches:
        found.append(
            _difference(
                "transfer_mismatch",
                payout=public_id,
                transfer=transfer.id,
                detail="; ".join(mismatches),
            )
        )
    if transfer.reversed:
        found.append(
            _difference(
                "transfer_reversed",
                payout=public_id,
                transfer=transfer.id,
                detail="The provider reversed the transfer of a paid payout.",
            )
        )
    return found


def _mismatches(payout: Payout, transfer: Transfer) -> list[str]:
    checks: list[tuple[str, Any, Any]] = [
        ("amount", payout.amount_cents, transfer.amount_cents),
        ("currency", payout.currency.upper(), transfer.currency.upper()),
        ("destination", payout.destination, transfer.destination),
        ("transfer id", payout.transfer_id, transfer.id),
    ]
    return [
        f"{what}: ours {mine}, provider's {theirs}"
        for what, mine, theirs in checks
        if mine != theirs
    ]


def _uuids(values: set[str]) -> list[str]:
    valid = []
    for value in values:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid
