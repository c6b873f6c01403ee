"""The one interface every payment provider implements, and the values it returns.

Services talk to ``provider()`` only, never to a provider's library: the Stripe provider and
the offline sandbox (the embedded default and the demo) are interchangeable.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from marketplace.models import User
from payments.models import LabFunding, Payout


class ProviderError(Exception):
    """The provider refused or could not be reached.

    ``retryable`` is True for what may succeed later (network errors, the provider's 5xx,
    rate limits, the platform's balance short of a transfer); False for what will not
    (a disabled or unknown account, bad parameters).
    """

    def __init__(self, message: str, *, code: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable


class SignatureError(Exception):
    """A webhook whose signature, secret or timestamp does not check out."""


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True)
class ConnectedAccount:
    id: str
    payouts_enabled: bool
    details_submitted: bool
    disabled_reason: str = ""


@dataclass(frozen=True)
class Transfer:
    id: str
    amount_cents: int
    currency: str
    destination: str
    payout_id: str  # our Payout.public_id, from the transfer's metadata ("" if none)
    created: datetime | None = None
    reversed: bool = False


@dataclass(frozen=True)
class ProviderEventData:
    """A verified webhook event: Stripe's shape (``data.object`` is ``object``)."""

    id: str
    type: str
    created: datetime
    object: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str

    def checkout_session_create(
        self, *, funding: LabFunding, success_url: str, cancel_url: str
    ) -> CheckoutSession:
        """A hosted payment page for ``funding`` (idempotent per funding)."""
        ...

    def connected_account_create(self, *, user: User) -> ConnectedAccount:
        """An Express account for the expert (idempotent per user)."""
        ...

    def onboarding_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        """A one-time link to the provider's onboarding for the account."""
        ...

    def connected_account_retrieve(self, *, account_id: str) -> ConnectedAccount: ...

    def transfer_create(self, *, payout: Payout) -> Transfer:
        """Send the payout with the idempotency key ``payout.idempotency_key`` and the
        payout's id in the metadata."""
        ...

    def transfer_find(self, *, payout: Payout) -> Transfer | None:
        """The transfer made for ``payout``, found by its metadata (idempotency keys are
        forgotten after 24 hours)."""
        ...

    def transfers_list(self, *, since: datetime) -> Iterator[Transfer]:
        """Every transfer created since ``since``."""
        ...

    def webhook_event(self, *, payload: bytes, signature: str) -> ProviderEventData:
        """Verify a webhook's signature and timestamp (SignatureError) and parse it."""
        ...


def provider() -> PaymentProvider:
    """The configured provider (``PAYMENTS_PROVIDER``: ``offline`` or ``stripe``)."""
    from django.conf import settings

    name = settings.PAYMENTS_PROVIDER
    if name == "stripe":
        from payments.providers.stripe import StripeProvider

        return StripeProvider()
    if name == "offline":
        from payments.providers.offline import OfflineProvider

        return OfflineProvider()
    raise ProviderError(f"Unknown payment provider “{name}”.", code="configuration")
