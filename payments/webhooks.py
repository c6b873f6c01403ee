"""The provider's events: verified, stored once by id and handled in the same transaction.

A replayed or concurrently delivered event finds its stored row and does nothing more. A
handler's domain error (an unknown funding, an amount that does not match) is stored as
``failed`` with its reason for staff to see, and the event is still acknowledged: Stripe
would only send it again, to the same end.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from marketplace.errors import DomainError, InvalidInput, NotFound
from marketplace.models import User
from marketplace.services import notification_create
from payments.connect import payout_account_sync
from payments.funding import lab_funding_complete, lab_funding_expire
from payments.models import LabFunding, ProviderEvent
from payments.providers import ConnectedAccount, ProviderEventData, provider
from payments.states import WebhookEventStatus
from projects.pricing import format_dollars

logger = logging.getLogger(__name__)

Outcome = tuple[str, str]  # (status, detail)
STAFF_LINK = "/staff/payments/"


def _funding_id(obj: dict[str, Any]) -> uuid.UUID:
    metadata = obj.get("metadata") or {}
    raw = metadata.get("funding_id") or obj.get("client_reference_id") or ""
    if not raw:
        raise InvalidInput("The checkout session carries no funding id.", field="funding_id")
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise NotFound(f"No such funding: {str(raw)[:80]}.") from None


def _reference(obj: dict[str, Any]) -> str:
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return str(intent or obj.get("id") or "")


def _checkout_paid(event: ProviderEventData) -> Outcome:
    obj = event.object
    payment_status = str(obj.get("payment_status") or "")
    if payment_status != "paid":
        return WebhookEventStatus.IGNORED, f"Payment status is “{payment_status}”, not paid."
    try:
        amount = int(obj.get("amount_total"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput("The checkout session carries no amount.", field="amount") from None
    funding, credited = lab_funding_complete(
        funding_id=_funding_id(obj),
        amount_cents=amount,
        currency=str(obj.get("currency") or ""),
        payment_reference=_reference(obj),
    )
    if not credited:
        return WebhookEventStatus.PROCESSED, "Already credited; nothing changed."
    return (
        WebhookEventStatus.PROCESSED,
        f"Credited {format_dollars(funding.amount_cents)} to {funding.organization.name}.",
    )


def _checkout_expired(event: ProviderEventData) -> Outcome:
    expired = lab_funding_expire(funding_id=_funding_id(event.object))
    if expired is None:
        return WebhookEventStatus.PROCESSED, "The funding was no longer pending; nothing changed."
    return WebhookEventStatus.PROCESSED, "The funding expired unpaid."


def _connected_account(obj: dict[str, Any]) -> ConnectedAccount:
    if not obj.get("id"):
        raise InvalidInput("The event carries no account id.", field="account")
    requirements = obj.get("requirements") or {}
    return ConnectedAccount(
        id=str(obj["id"]),
        payouts_enabled=bool(obj.get("payouts_enabled")),
        details_submitted=bool(obj.get("details_submitted")),
        disabled_reason=str(requirements.get("disabled_reason") or ""),
    )


def _account_updated(event: ProviderEventData) -> Outcome:
    account = _connected_account(event.object)
    synced = payout_account_sync(account=account, as_of=event.created)
    if synced is None:
        return (
            WebhookEventStatus.IGNORED,
            "Not one of our accounts, or older than the state already applied.",
        )
    return WebhookEventStatus.PROCESSED, f"Account {synced.get_status_display().lower()}."


def _payment_taken_back(event: ProviderEventData) -> Outcome:
    """A lab's payment refunded or disputed at the provider: the balance it credited may be
    spent already, so nothing is reversed automatically; staff are told and decide (the
    event is kept as failed, which lists it on the staff payments page)."""
    obj = event.object
    intent = obj.get("payment_intent")
    reference = str(intent.get("id") if isinstance(intent, dict) else intent or "")
    funding = (
        LabFunding.objects.select_related("organization")
        .filter(payment_reference=reference)
        .first()
        if reference
        else None
    )
    what = "refunded" if event.type == "charge.refunded" else "disputed by the card holder"
    whose = (
        f"{funding.organization.name}'s payment of {format_dollars(funding.amount_cents)}"
        if funding is not None
        else f"A payment ({reference or 'unknown'})"
    )
    text = f"{whose} was {what} at the payment provider. Check the lab's balance."
    for staff in User.objects.filter(is_staff=True, is_active=True).order_by("pk"):
        notification_create(
            recipient=staff, kind="payments.payment_taken_back", text=text, link=STAFF_LINK
        )
    return WebhookEventStatus.FAILED, text


HANDLERS: dict[str, Callable[[ProviderEventData], Outcome]] = {
    "charge.refunded": _payment_taken_back,
    "charge.dispute.created": _payment_taken_back,
    "checkout.session.completed": _checkout_paid,
    "checkout.session.async_payment_succeeded": _checkout_paid,
    "checkout.session.expired": _checkout_expired,
    "account.updated": _account_updated,
}


def provider_event_handle(*, event: ProviderEventData, provider_name: str) -> ProviderEvent:
    """Store ``event`` once and handle it in the same transaction; a replay (or a duplicate
    racing this one) answers the stored row and changes nothing."""
    stored = ProviderEvent.objects.filter(event_id=event.id).first()
    if stored is not None:
        return stored
    with transaction.atomic():
        try:
            with transaction.atomic():
                stored = ProviderEvent.objects.create(
                    event_id=event.id,
                    type=event.type[:100],
                    provider=provider_name,
                    provider_created_at=event.created,
                    payload=event.payload,
                    status=WebhookEventStatus.PROCESSED,
                )
        except IntegrityError:
            # The same event, stored by a concurrent delivery that has committed.
            return ProviderEvent.objects.get(event_id=event.id)
        handler = HANDLERS.get(event.type)
        status: str
        detail: str
        if handler is None:
            status, detail = WebhookEventStatus.IGNORED, "Not an event we act on."
        else:
            try:
                with transaction.atomic():
                    status, detail = handler(event)
            except DomainError as error:
                status, detail = WebhookEventStatus.FAILED, error.message
                logger.warning(
                    "Payment event %s (%s) failed: %s", event.id, event.type, error.message
                )
        stored.status = status
        stored.detail = detail[:500]
        stored.save(update_fields=["status", "detail"])
    return stored


def webhook_receive(*, payload: bytes, signature: str) -> ProviderEvent:
    """Verify a webhook with the configured provider (SignatureError) and handle its event."""
    chosen = provider()
    event = chosen.webhook_event(payload=payload, signature=signature)
    return provider_event_handle(event=event, provider_name=chosen.name)
