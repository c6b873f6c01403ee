"""Labs add money to their balance through the provider's hosted payment page (Checkout).

``lab_funding_start`` opens the page; the balance is credited only by
``lab_funding_complete``, which the provider's signed webhook calls (never the browser coming
back), once however often and in whatever order the events arrive.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.services import notification_create
from payments.ledger import funding_credit
from payments.models import LabFunding
from payments.providers import ProviderError, provider
from payments.states import FundingStatus
from projects.access import LabActor, lab_audit_record
from projects.pricing import format_dollars

MIN_FUNDING_CENTS = 1_000
MAX_FUNDING_CENTS = 10_000_000_00  # ten million dollars in one payment


def lab_funding_start(
    *,
    actor: LabActor,
    amount_cents: int,
    currency: str = "USD",
    success_url: str,
    cancel_url: str,
    ip_address: str | None = None,
) -> LabFunding:
    """Open a hosted payment page for ``amount_cents``; the funding waits for the provider's
    word. ``success_url`` may carry ``{CHECKOUT_SESSION_ID}``, as Stripe fills it in."""
    actor.require_manager("add funds")
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise InvalidInput("The amount must be a whole number of cents.", field="amount_cents")
    if amount_cents < MIN_FUNDING_CENTS:
        raise InvalidInput(
            f"Add at least {format_dollars(MIN_FUNDING_CENTS)}.", field="amount_cents"
        )
    if amount_cents > MAX_FUNDING_CENTS:
        raise InvalidInput(
            f"Add at most {format_dollars(MAX_FUNDING_CENTS)} in one payment.",
            field="amount_cents",
        )
    currency = (currency or "").upper()
    if currency != "USD":
        raise InvalidInput("Balances are kept in USD.", field="currency")
    chosen = provider()
    with transaction.atomic():
        funding = LabFunding.objects.create(
            organization=actor.organization,
            amount_cents=amount_cents,
            currency=currency,
            provider=chosen.name,
            created_by=actor.user,
        )
        lab_audit_record(
            actor=actor,
            action="funding.start",
            target=funding,
            after={"amount_cents": amount_cents, "provider": chosen.name},
            ip_address=ip_address,
        )
    # The provider is called outside the transaction: the pending row exists whatever
    # happens to the call, and the session is created once per funding (idempotency key).
    try:
        session = chosen.checkout_session_create(
            funding=funding, success_url=success_url, cancel_url=cancel_url
        )
    except ProviderError as error:
        # No payment page exists, so nothing can be paid: the funding ends here.
        LabFunding.objects.filter(pk=funding.pk).update(
            status=FundingStatus.EXPIRED, updated_at=timezone.now()
        )
        raise Conflict(
            "The payment provider could not open a payment page; nothing was charged. "
            "Try again in a minute."
        ) from error
    LabFunding.objects.filter(pk=funding.pk).update(
        checkout_session_id=session.id, checkout_url=session.url
    )
    funding.checkout_session_id = session.id
    funding.checkout_url = session.url
    return funding


def lab_funding_complete(
    *, funding_id: uuid.UUID | str, amount_cents: int, currency: str, payment_reference: str = ""
) -> tuple[LabFunding, bool]:
    """The provider says the payment of funding ``funding_id`` (its public id) completed:
    credit the lab's balance, once. Return the funding and whether this call credited it.

    The row is locked and moved from pending to completed conditionally, so a replayed or
    concurrent event credits nothing more. An amount or currency other than the funding's is
    refused (InvalidInput) and nothing is credited.
    """
    with transaction.atomic():
        funding = (
            LabFunding.objects.select_for_update()
            .select_related("organization")
            .filter(public_id=funding_id)
            .first()
        )
        if funding is None:
            raise NotFound("No such funding.")
        if funding.status == FundingStatus.COMPLETED:
            return funding, False
        if amount_cents != funding.amount_cents or currency.upper() != funding.currency:
            raise InvalidInput(
                f"The payment ({amount_cents} {currency.upper()}) does not match the funding "
                f"({funding.amount_cents} {funding.currency}).",
                field="amount",
            )
        now = timezone.now()
        # Even an expired session may be paid (the lab paid just before it expired): the
        # money arrived, so it is credited.
        LabFunding.objects.filter(pk=funding.pk).update(
            status=FundingStatus.COMPLETED,
            completed_at=now,
            payment_reference=payment_reference[:255],
            updated_at=now,
        )
        funding_credit(
            organization=funding.organization,
            amount_cents=funding.amount_cents,
            currency=funding.currency,
            key=f"funding:{funding.pk}",
            funding=funding,
            created_by=funding.created_by,
        )
        if funding.created_by is not None:
            notification_create(
                recipient=funding.created_by,
                kind="funding.completed",
                text=(
                    f"{format_dollars(funding.amount_cents)} was added to "
                    f"{funding.organization.name}'s balance."
                ),
                link=f"/labs/{funding.organization.slug}/billing/",
            )
    funding.refresh_from_db()
    return funding, True


def lab_funding_expire(*, funding_id: uuid.UUID | str) -> LabFunding | None:
    """The provider's page expired unpaid: a pending funding becomes expired (a completed one
    stays completed, whatever order the events come in)."""
    with transaction.atomic():
        updated = LabFunding.objects.filter(
            public_id=funding_id, status=FundingStatus.PENDING
        ).update(status=FundingStatus.EXPIRED, updated_at=timezone.now())
        funding = LabFunding.objects.filter(public_id=funding_id).first()
    if funding is None:
        raise NotFound("No such funding.")
    return funding if updated else None
