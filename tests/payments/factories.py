"""Money set up through the real services: a lab's balance credited as a completed payment."""

from __future__ import annotations

from marketplace.models import Organization
from payments.funding import lab_funding_complete
from payments.models import LabFunding


def fund_lab(organization: Organization, cents: int, currency: str = "USD") -> LabFunding:
    """Credit the lab's balance with ``cents``, as a completed Checkout payment would."""
    funding = LabFunding.objects.create(
        organization=organization, amount_cents=cents, currency=currency, provider="offline"
    )
    completed, _ = lab_funding_complete(
        funding_id=funding.public_id,
        amount_cents=cents,
        currency=currency,
        payment_reference=f"test_{funding.pk}",
    )
    return completed
