"""The offline sandbox: a provider that behaves like Stripe's test mode without a network.

Checkout and Connect onboarding are pages of our own (``payments/views/sandbox.py``) whose
buttons raise the same events Stripe's webhooks would, handled by the same code. Accounts
need onboarding before they can take transfers, and an account onboarded as "rejects
transfers" fails them, so every failure path can be tried by hand. State lives in
``SandboxObject`` rows, answered again for a repeated idempotency key, as Stripe does.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from marketplace.models import User
from payments.models import LabFunding, Payout, SandboxObject
from payments.providers.base import (
    CheckoutSession,
    ConnectedAccount,
    ProviderError,
    ProviderEventData,
    SignatureError,
    Transfer,
)

NAME = "offline"


def _new_id(prefix: str) -> str:
    return f"{prefix}_sandbox_{secrets.token_hex(10)}"


def _remember(*, kind: str, prefix: str, key: str, data: dict[str, Any]) -> SandboxObject:
    """The object stored for ``key``, created on first use (a replay answers the same)."""
    existing = SandboxObject.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return SandboxObject.objects.create(
                kind=kind, object_id=_new_id(prefix), idempotency_key=key, data=data
            )
    except IntegrityError:
        return SandboxObject.objects.get(idempotency_key=key)


def _account(account_id: str) -> SandboxObject:
    found = SandboxObject.objects.filter(kind="account", object_id=account_id).first()
    if found is None:
        raise ProviderError(f"No such account: {account_id}", code="resource_missing")
    return found


def _connected(stored: SandboxObject) -> ConnectedAccount:
    return ConnectedAccount(
        id=stored.object_id,
        payouts_enabled=bool(stored.data.get("payouts_enabled")),
        details_submitted=bool(stored.data.get("details_submitted")),
        disabled_reason=str(stored.data.get("disabled_reason") or ""),
    )


def _transfer(stored: SandboxObject) -> Transfer:
    return Transfer(
        id=stored.object_id,
        amount_cents=int(stored.data["amount"]),
        currency=str(stored.data["currency"]),
        destination=str(stored.data["destination"]),
        payout_id=str(stored.data.get("payout_id", "")),
        created=stored.created_at,
    )


def account_object(stored: SandboxObject) -> dict[str, Any]:
    """The account as Stripe's ``account.updated`` event carries it."""
    return {
        "id": stored.object_id,
        "object": "account",
        "payouts_enabled": bool(stored.data.get("payouts_enabled")),
        "details_submitted": bool(stored.data.get("details_submitted")),
        "requirements": {"disabled_reason": stored.data.get("disabled_reason") or None},
        "metadata": {"user_id": str(stored.data.get("user_id", ""))},
    }


def sandbox_event(*, type: str, obj: dict[str, Any]) -> ProviderEventData:
    """An event as Stripe would send it, for the sandbox's own pages to hand to the webhook
    handler."""
    now = timezone.now()
    event_id = _new_id("evt")
    payload = {
        "id": event_id,
        "object": "event",
        "type": type,
        "created": int(now.timestamp()),
        "data": {"object": obj},
    }
    return ProviderEventData(id=event_id, type=type, created=now, object=obj, payload=payload)


class OfflineProvider:
    name = NAME

    def checkout_session_create(
        self, *, funding: LabFunding, success_url: str, cancel_url: str
    ) -> CheckoutSession:
        stored = _remember(
            kind="checkout_session",
            prefix="cs",
            key=f"checkout-{funding.public_id}",
            data={
                "amount_total": funding.amount_cents,
                "currency": funding.currency.lower(),
                "funding_id": str(funding.public_id),
                "status": "open",
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
        )
        url = reverse("payments:sandbox_checkout", kwargs={"session_id": stored.object_id})
        return CheckoutSession(id=stored.object_id, url=url)

    def connected_account_create(self, *, user: User) -> ConnectedAccount:
        stored = _remember(
            kind="account",
            prefix="acct",
            key=f"account-{user.pk}",
            data={"user_id": user.pk, "payouts_enabled": False, "details_submitted": False},
        )
        return _connected(stored)

    def onboarding_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        _account(account_id)
        path = reverse("payments:sandbox_onboarding", kwargs={"account_id": account_id})
        return f"{path}?{urlencode({'return_url': return_url})}"

    def connected_account_retrieve(self, *, account_id: str) -> ConnectedAccount:
        return _connected(_account(account_id))

    def transfer_create(self, *, payout: Payout) -> Transfer:
        existing = SandboxObject.objects.filter(idempotency_key=payout.idempotency_key).first()
        if existing is not None:
            return _transfer(existing)
        account = _account(payout.destination)
        if account.data.get("rejects_transfers") or not account.data.get("payouts_enabled"):
            raise ProviderError(
                "The destination account cannot receive transfers.",
                code="account_disabled",
                retryable=False,
            )
        stored = _remember(
            kind="transfer",
            prefix="tr",
            key=payout.idempotency_key,
            data={
                "amount": payout.amount_cents,
                "currency": payout.currency.lower(),
                "destination": payout.destination,
                "payout_id": str(payout.public_id),
            },
        )
        return _transfer(stored)

    def transfer_find(self, *, payout: Payout) -> Transfer | None:
        stored = SandboxObject.objects.filter(
            kind="transfer", data__payout_id=str(payout.public_id)
        ).first()
        return _transfer(stored) if stored is not None else None

    def transfers_list(self, *, since: datetime) -> Iterator[Transfer]:
        rows = SandboxObject.objects.filter(kind="transfer", created_at__gte=since)
        for stored in rows.order_by("created_at", "id").iterator():
            yield _transfer(stored)

    def webhook_event(self, *, payload: bytes, signature: str) -> ProviderEventData:
        raise SignatureError("The offline sandbox sends no webhooks over HTTP.")


# What the sandbox's own pages do (payments/views/sandbox.py), also used by the demo seed ----


def _session_object(stored: SandboxObject) -> dict[str, Any]:
    """The session as Stripe's ``checkout.session.completed`` event carries it."""
    funding_id = str(stored.data.get("funding_id", ""))
    return {
        "id": stored.object_id,
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": int(stored.data["amount_total"]),
        "currency": str(stored.data["currency"]),
        "client_reference_id": funding_id,
        "metadata": {"funding_id": funding_id},
        "payment_intent": _new_id("pi"),
        "payment_status": "paid",
        "status": "complete",
    }


def sandbox_checkout_pay(*, session_id: str) -> str:
    """Pay a sandbox Checkout session: raise the ``checkout.session.completed`` event Stripe
    would send, handled by the webhook code. A session already paid sends nothing more.
    Return the session's success URL, as Stripe redirects to it."""
    from payments.webhooks import provider_event_handle

    with transaction.atomic():
        locked = SandboxObject.objects.select_for_update().get(
            kind="checkout_session", object_id=session_id
        )
        if locked.data.get("status") != "complete":
            event = sandbox_event(type="checkout.session.completed", obj=_session_object(locked))
            provider_event_handle(event=event, provider_name=NAME)
            locked.data = {**locked.data, "status": "complete"}
            locked.save(update_fields=["data", "updated_at"])
    success_url = str(locked.data.get("success_url") or "/")
    return success_url.replace("{CHECKOUT_SESSION_ID}", locked.object_id)


def sandbox_onboarding_finish(*, account_id: str, rejects_transfers: bool = False) -> None:
    """Finish a sandbox Connect onboarding and raise the ``account.updated`` event; an account
    that ``rejects_transfers`` fails every transfer, as a restricted Stripe account would."""
    from payments.webhooks import provider_event_handle

    with transaction.atomic():
        locked = SandboxObject.objects.select_for_update().get(kind="account", object_id=account_id)
        locked.data = {
            **locked.data,
            "payouts_enabled": True,
            "details_submitted": True,
            "disabled_reason": "",
            "rejects_transfers": rejects_transfers,
        }
        locked.save(update_fields=["data", "updated_at"])
        event = sandbox_event(type="account.updated", obj=account_object(locked))
        provider_event_handle(event=event, provider_name=NAME)
