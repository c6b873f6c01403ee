"""The funding hand-off: charge a lab for a project through the configured provider.

The embedded default is the offline provider, which approves every charge at once (a
sandbox: no money moves). The payments app replaces this with the double-entry ledger and
Stripe; callers keep calling ``funding_charge``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from marketplace.errors import Conflict, InvalidInput
from marketplace.models import Organization


@dataclass(frozen=True)
class FundingResult:
    provider: str
    reference: str
    amount_cents: int


def funding_charge(
    *, organization: Organization, amount_cents: int, currency: str, idempotency_key: str
) -> FundingResult:
    """Charge the organisation ``amount_cents``. The same key never charges twice."""
    if amount_cents <= 0:
        raise InvalidInput("The amount must be positive.", field="amount_cents")
    provider = settings.PAYMENTS_PROVIDER
    if provider == "offline":
        return FundingResult(
            provider="offline", reference=f"offline_{idempotency_key}", amount_cents=amount_cents
        )
    raise Conflict(f"The payment provider “{provider}” cannot fund projects yet.")
