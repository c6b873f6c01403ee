"""The demo's money: the lab's payments into its balance, experts' payout accounts, a paid
payout batch with one failed payout, a bonus, an appeal and a dispute, all through the
services, with the offline sandbox standing in for Stripe (its Checkout and Connect pages
raise the same webhook events Stripe would)."""

from __future__ import annotations

from django.db import transaction

from marketplace.models import Organization, User
from payments.appeals import appeal_open, dispute_open
from payments.bonuses import bonus_pay
from payments.connect import payout_account_onboarding_start
from payments.funding import lab_funding_start
from payments.ledger import balance_cents, lab_account
from payments.models import (
    Appeal,
    Bonus,
    Dispute,
    LabFunding,
    PayoutAccount,
    PayoutBatch,
    ReconciliationReport,
)
from payments.payouts import payout_batch_create, reconciliation_run
from payments.providers.offline import sandbox_checkout_pay, sandbox_onboarding_finish
from payments.states import FundingStatus, PayoutBatchTrigger, PayoutStatus
from projects.access import LabActor, lab_actor_for_member
from projects.exports.provenance import lab_pseudonym
from projects.models import Annotation
from projects.states import AnnotationStatus

# The lab's first payment: enough for every demo project with room to spare, so the
# billing page shows a balance left after the projects' escrow.
OPENING_FUNDS_CENTS = 150_000_00
TOP_UP_STEP_CENTS = 10_000_00
BONUS_CENTS = 75_00
BONUS_REASON = "Careful rationales on the imaging reports: thank you."
APPEAL_NOTE = (
    "The guidelines (section 2) ask us to prefer the answer that names the follow-up "
    "interval; B does and A does not. Could you look again?"
)
DISPUTE_REASON = (
    "Accepted by mistake during a bulk review: this answer contradicts the gold standard "
    "on incidental nodule follow-up."
)


def _pay(actor: LabActor, amount_cents: int) -> LabFunding:
    """Add funds as a lab manager would: the sandbox Checkout page, whose Pay button raises
    the webhook event that credits the balance."""
    funding = lab_funding_start(
        actor=actor,
        amount_cents=amount_cents,
        success_url=f"/labs/{actor.organization.slug}/billing/",
        cancel_url=f"/labs/{actor.organization.slug}/billing/",
    )
    sandbox_checkout_pay(session_id=funding.checkout_session_id or "")
    funding.refresh_from_db()
    return funding


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


def _onboard(expert: User, *, finish: bool = True, rejects_transfers: bool = False) -> None:
    """Start the expert's payout account and, with ``finish``, complete the sandbox's
    onboarding (its webhook event enables payouts)."""
    if PayoutAccount.objects.filter(user=expert).exists():
        return
    payout_account_onboarding_start(
        user=expert, refresh_url="/expert/earnings/", return_url="/expert/earnings/"
    )
    if finish:
        account = PayoutAccount.objects.get(user=expert)
        sandbox_onboarding_finish(
            account_id=account.account_id, rejects_transfers=rejects_transfers
        )


def seed_payments(
    *, organization: Organization, manager: User, staff: User, users: dict[str, User]
) -> None:
    """Bring the demo's money to life. Call after the projects and their answers exist;
    each step runs only when its outcome is missing."""
    actor = lab_actor_for_member(user=manager, organization_slug=organization.slug)
    haddad = users["dr.haddad@demo.example"]
    # Payout accounts: Dr. Haddad and the reliable panel are onboarded; Dr. Lindqvist left
    # onboarding half-way (her earnings wait); the panel's random clicker onboarded an
    # account that refuses transfers, so her payout fails and the money returns.
    _onboard(haddad)
    _onboard(users["dr.lindqvist@demo.example"], finish=False)
    panel = {u.email: u for u in User.objects.filter(email__startswith="panel")}
    for number in range(1, 7):
        expert = panel.get(f"panel{number}@demo.example")
        if expert is not None:
            _onboard(expert, rejects_transfers=number == 6)
    # A payout batch, once, started by staff. The transfers go out after the seed commits
    # (eager Celery runs the queued tasks then).
    if not PayoutBatch.objects.exists():
        payout_batch_create(trigger=PayoutBatchTrigger.STAFF, actor=staff)
    # A bonus after the batch, so Dr. Haddad has money waiting for the next one.
    if not Bonus.objects.filter(organization=organization, expert=haddad).exists():
        with transaction.atomic():
            bonus_pay(
                actor=actor,
                expert_pseudonym=lab_pseudonym(organization.pk, haddad.pk),
                amount_cents=BONUS_CENTS,
                reason=BONUS_REASON,
            )
    # Dr. Haddad appeals the answer the lab rejected.
    rejected = (
        Annotation.objects.filter(
            expert=haddad, project__organization=organization, status=AnnotationStatus.REJECTED
        )
        .order_by("pk")
        .first()
    )
    if rejected is not None and not Appeal.objects.filter(annotation=rejected).exists():
        appeal_open(expert=haddad, annotation=rejected, note=APPEAL_NOTE)
    # The lab disputes one accepted panel answer; staff decide at /staff/disputes/.
    disputed = (
        Annotation.objects.filter(
            project__organization=organization,
            expert__email="panel2@demo.example",
            status=AnnotationStatus.ACCEPTED,
        )
        .order_by("pk")
        .first()
    )
    if disputed is not None and not Dispute.objects.filter(organization=organization).exists():
        dispute_open(actor=actor, annotation=disputed, reason=DISPUTE_REASON)


def seed_reconciliation() -> None:
    """A reconciliation report for staff to read, once the batch's transfers went out. Call
    after the seed's transaction committed (the payouts are sent then)."""
    if not ReconciliationReport.objects.exists():
        reconciliation_run()


def summary_lines(*, organization: Organization) -> list[str]:
    """What the demo's money looks like, for the seed's output."""
    held = balance_cents(lab_account(organization=organization, currency="USD"))
    batch = PayoutBatch.objects.first()
    statuses = list(batch.payouts.values_list("status", flat=True)) if batch is not None else []
    paid = statuses.count(PayoutStatus.PAID)
    returned = statuses.count(PayoutStatus.RETURNED)
    return [
        f"Payments: {organization.name} holds ${held // 100:,} on its balance; the payout batch "
        f"paid {paid} of {len(statuses)} experts ({returned} returned: the account refuses "
        "transfers); Dr. Haddad has a bonus and an open appeal. Billing: /labs/"
        f"{organization.slug}/billing/ · earnings: /expert/earnings/ · staff: /staff/payments/"
    ]
