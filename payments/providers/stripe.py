"""Stripe: Checkout for lab funding, Connect Express accounts and transfers for payouts.

Everything goes through ``payments.stripe_client``; this module only shapes parameters and
answers. Each create call's idempotency key derives from our row, so a retry (ours or the
library's) never makes a second session, account or transfer.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from marketplace.models import User
from payments import stripe_client
from payments.models import LabFunding, Payout
from payments.providers.base import (
    CheckoutSession,
    ConnectedAccount,
    ProviderEventData,
    SignatureError,
    Transfer,
)

NAME = "stripe"
PRODUCT_NAME = "Marketplace balance"


def _when(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def _connected(data: dict[str, Any]) -> ConnectedAccount:
    requirements = data.get("requirements") or {}
    return ConnectedAccount(
        id=str(data["id"]),
        payouts_enabled=bool(data.get("payouts_enabled")),
        details_submitted=bool(data.get("details_submitted")),
        disabled_reason=str(requirements.get("disabled_reason") or ""),
    )


def account_from_object(data: dict[str, Any]) -> ConnectedAccount:
    """The account an ``account.updated`` event carries."""
    return _connected(data)


def _transfer(data: dict[str, Any]) -> Transfer:
    metadata = data.get("metadata") or {}
    return Transfer(
        id=str(data["id"]),
        amount_cents=int(data["amount"]),
        currency=str(data.get("currency", "")).lower(),
        destination=str(data.get("destination") or ""),
        payout_id=str(metadata.get("payout_id") or ""),
        created=_when(data.get("created")),
        reversed=bool(data.get("reversed")),
    )


class StripeProvider:
    name = NAME

    def checkout_session_create(
        self, *, funding: LabFunding, success_url: str, cancel_url: str
    ) -> CheckoutSession:
        public_id = str(funding.public_id)
        data = stripe_client.checkout_session_create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": funding.currency.lower(),
                            "unit_amount": funding.amount_cents,
                            "product_data": {"name": PRODUCT_NAME},
                        },
                    }
                ],
                "metadata": {"funding_id": public_id},
                "payment_intent_data": {"metadata": {"funding_id": public_id}},
                "client_reference_id": public_id,
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            idempotency_key=f"checkout-{public_id}",
        )
        return CheckoutSession(id=str(data["id"]), url=str(data.get("url") or ""))

    def connected_account_create(self, *, user: User) -> ConnectedAccount:
        params: dict[str, Any] = {
            "type": "express",
            "metadata": {"user_id": str(user.pk)},
            "capabilities": {"transfers": {"requested": True}},
        }
        if user.email:
            params["email"] = user.email
        data = stripe_client.account_create(params=params, idempotency_key=f"account-{user.pk}")
        return _connected(data)

    def onboarding_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        data = stripe_client.account_link_create(
            params={
                "account": account_id,
                "refresh_url": refresh_url,
                "return_url": return_url,
                "type": "account_onboarding",
            },
            # A link is single-use: each request is a new one, retried safely by the library.
            idempotency_key=f"account-link-{account_id}-{uuid.uuid4().hex}",
        )
        return str(data["url"])

    def connected_account_retrieve(self, *, account_id: str) -> ConnectedAccount:
        return _connected(stripe_client.account_retrieve(account_id=account_id))

    def transfer_create(self, *, payout: Payout) -> Transfer:
        data = stripe_client.transfer_create(
            params={
                "amount": payout.amount_cents,
                "currency": payout.currency.lower(),
                "destination": payout.destination,
                "metadata": {"payout_id": str(payout.public_id)},
            },
            idempotency_key=payout.idempotency_key,
        )
        return _transfer(data)

    def transfer_find(self, *, payout: Payout) -> Transfer | None:
        wanted = str(payout.public_id)
        for data in stripe_client.transfers_list(destination=payout.destination):
            if str((data.get("metadata") or {}).get("payout_id") or "") == wanted:
                return _transfer(data)
        return None

    def transfers_list(self, *, since: datetime) -> Iterator[Transfer]:
        for data in stripe_client.transfers_list(created_gte=int(since.timestamp())):
            yield _transfer(data)

    def webhook_event(self, *, payload: bytes, signature: str) -> ProviderEventData:
        data = stripe_client.webhook_construct_event(payload=payload, signature=signature)
        created = _when(data.get("created"))
        if created is None:
            raise SignatureError("The event has no creation time.")
        obj = (data.get("data") or {}).get("object") or {}
        return ProviderEventData(
            id=str(data["id"]),
            type=str(data["type"]),
            created=created,
            object=dict(obj),
            payload=data,
        )
