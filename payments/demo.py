"""The demo's money: the lab's payments into its balance, experts' payout accounts, a paid
payout batch, a failed payout, a bonus, an appeal and a dispute, all through the services
(the offline sandbox stands in for Stripe)."""

from __future__ import annotations

from payments.funding import lab_funding_complete, lab_funding_start
from payments.ledger import balance_cents, lab_account
from payments.models import LabFunding
from payments.states import FundingStatus
from projects.access import LabActor

# The lab's first payment: enough for every demo project with room to spare, so the
# billing page shows a balance left after the projects' escrow.
OPENING_FUNDS_CENTS = 150_000_00
TOP_UP_STEP_CENTS = 10_000_00


def _pay(actor: LabActor, amount_cents: int) -> LabFunding:
    """Add funds as a lab manager would: the sandbox Checkout page, then its webhook."""
    funding = lab_funding_start(
        actor=actor,
        amount_cents=amount_cents,
        success_url=f"/labs/{actor.organization.slug}/billing/",
        cancel_url=f"/labs/{actor.organization.slug}/billing/",
    )
    completed, _ = lab_funding_complete(
        funding_id=funding.public_id,
        amount_cents=amount_cents,
        currency=funding.currency,
        payment_reference=f"pi_sandbox_demo_{funding.pk}",
    )
    return completed


def seed_opening_funds(*, actor: LabActor) -> None:
    """The lab's first payment, once."""
    if not LabFunding.objects.filter(
        organization=actor.organization, status=FundingStatus.COMPLETED
    ).exists():
        _pay(actor, OPENING_FUNDS_CENTS)


def ensure_balance(*, actor: LabActor, cents: int) -> None:
    """Top the lab's balance up (in round steps) so it holds at least ``cents``."""
    held = balance_cents(lab_account(organization=actor.organization, currency="USD"))
    if held >= cents:
        return
    short = cents - held
    _pay(actor, -(-short // TOP_UP_STEP_CENTS) * TOP_UP_STEP_CENTS)
