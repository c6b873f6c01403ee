"""Starting a lab funding: a pending row and a Stripe Checkout session, or nothing at all."""

from __future__ import annotations

import pytest

from marketplace.errors import Conflict, InvalidInput, PermissionDenied
from marketplace.models import AuditEvent
from marketplace.states import MembershipRole
from payments.funding import lab_funding_start
from payments.models import LabFunding, LedgerTransaction
from payments.providers import ProviderError
from payments.states import FundingStatus
from projects.access import LabActor
from tests import factories
from tests.projects import factories as pf

pytestmark = pytest.mark.django_db

SUCCESS = "https://market.example/labs/helix/billing/?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://market.example/labs/helix/billing/"


def _start(actor: LabActor, amount_cents: object = 5_000, currency: str = "USD") -> LabFunding:
    return lab_funding_start(
        actor=actor,
        amount_cents=amount_cents,  # type: ignore[arg-type]
        currency=currency,
        success_url=SUCCESS,
        cancel_url=CANCEL,
    )


def test_starting_opens_a_checkout_session_for_the_amount(fake_stripe):
    actor = pf.manager_actor()

    funding = _start(actor, 25_000)

    stored = LabFunding.objects.get()
    assert stored.pk == funding.pk
    assert (stored.status, stored.amount_cents, stored.currency, stored.provider) == (
        FundingStatus.PENDING,
        25_000,
        "USD",
        "stripe",
    )
    assert stored.created_by == actor.user
    session = fake_stripe.checkout_sessions[stored.checkout_session_id]
    assert stored.checkout_url == session["url"]
    assert session["amount_total"] == 25_000
    assert session["metadata"] == {"funding_id": str(stored.public_id)}
    assert session["success_url"] == SUCCESS
    assert LedgerTransaction.objects.count() == 0
    audit = AuditEvent.objects.get(action="funding.start")
    assert audit.organization == actor.organization
    assert audit.after == {"amount_cents": 25_000, "provider": "stripe"}


@pytest.mark.parametrize(
    ("amount", "currency", "field", "message"),
    [
        (999, "USD", "amount_cents", "Add at least $10.00."),
        (0, "USD", "amount_cents", "Add at least $10.00."),
        (-5_000, "USD", "amount_cents", "Add at least $10.00."),
        (
            1_000_000_001,
            "USD",
            "amount_cents",
            "Add at most $10,000,000.00 in one payment.",
        ),
        ("5000", "USD", "amount_cents", "The amount must be a whole number of cents."),
        (50.5, "USD", "amount_cents", "The amount must be a whole number of cents."),
        (True, "USD", "amount_cents", "The amount must be a whole number of cents."),
        (5_000, "EUR", "currency", "Balances are kept in USD."),
        (5_000, "", "currency", "Balances are kept in USD."),
    ],
)
def test_invalid_input_names_the_field_and_creates_nothing(
    fake_stripe, amount, currency, field, message
):
    actor = pf.manager_actor()

    with pytest.raises(InvalidInput) as raised:
        _start(actor, amount, currency)

    assert (raised.value.field, raised.value.message) == (field, message)
    assert LabFunding.objects.count() == 0
    assert AuditEvent.objects.filter(action="funding.start").count() == 0
    assert fake_stripe.requests == []


def test_a_lowercase_currency_is_accepted(fake_stripe):
    funding = _start(pf.manager_actor(), 1_000, "usd")

    assert funding.currency == "USD"


def test_a_viewer_cannot_add_funds(fake_stripe):
    owner = pf.manager_actor()
    viewer = factories.lab_user()
    factories.add_member(owner.organization, viewer, MembershipRole.VIEWER)
    actor = LabActor(
        organization=owner.organization, user=viewer, api_key=None, role=MembershipRole.VIEWER
    )

    with pytest.raises(PermissionDenied) as raised:
        _start(actor)

    assert raised.value.message == "Only owners and managers can add funds."
    assert LabFunding.objects.count() == 0
    assert fake_stripe.requests == []


def test_a_manager_can_add_funds(fake_stripe):
    owner = pf.manager_actor()
    manager = factories.lab_user()
    factories.add_member(owner.organization, manager, MembershipRole.MANAGER)
    actor = LabActor(
        organization=owner.organization, user=manager, api_key=None, role=MembershipRole.MANAGER
    )

    funding = _start(actor, 2_000)

    assert funding.created_by == manager
    assert len(fake_stripe.checkout_sessions) == 1


def test_stripe_refusing_the_session_ends_the_funding_and_says_nothing_was_charged(
    fake_stripe, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    actor = pf.manager_actor()
    fake_stripe.fail_next("POST", "/v1/checkout/sessions", status=503)

    with pytest.raises(Conflict, match="nothing was charged") as raised:
        _start(actor)

    assert isinstance(raised.value.__cause__, ProviderError)
    stored = LabFunding.objects.get()
    assert (stored.status, stored.checkout_session_id, stored.checkout_url) == (
        FundingStatus.EXPIRED,
        None,
        "",
    )
    assert fake_stripe.checkout_sessions == {}
    assert LedgerTransaction.objects.count() == 0
