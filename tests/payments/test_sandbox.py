"""The offline sandbox's checkout and onboarding pages raise the provider's events, handled by
the webhook code: a manager's payment credits the lab, an onboarding opens payouts."""

from __future__ import annotations

import pytest

from marketplace.models import Notification
from marketplace.states import MembershipRole
from payments.connect import payout_account_onboarding_start
from payments.funding import lab_funding_start
from payments.ledger import balance_cents, lab_account
from payments.models import LabFunding, LedgerTransaction, Payout, PayoutAccount, ProviderEvent
from payments.providers import ProviderError
from payments.providers.offline import OfflineProvider
from payments.states import FundingStatus, PayoutAccountStatus, WebhookEventStatus
from projects.access import LabActor
from tests import factories
from tests.projects import factories as pf

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _offline(settings):
    settings.PAYMENTS_PROVIDER = "offline"


def _start(actor: LabActor, cents: int = 5_000) -> LabFunding:
    slug = actor.organization.slug
    return lab_funding_start(
        actor=actor,
        amount_cents=cents,
        success_url=f"/labs/{slug}/billing/?session={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"/labs/{slug}/billing/?cancelled=1",
    )


def _balance(funding: LabFunding) -> int:
    return balance_cents(lab_account(organization=funding.organization, currency="USD"))


def _untouched(funding: LabFunding) -> None:
    funding.refresh_from_db()
    assert funding.status == FundingStatus.PENDING
    assert _balance(funding) == 0
    assert LedgerTransaction.objects.count() == 0
    assert ProviderEvent.objects.count() == 0


def test_the_checkout_page_shows_the_amount_and_the_lab(client, django_assert_num_queries):
    actor = pf.manager_actor()
    for cents in (1_000, 2_000, 3_000):
        _start(actor, cents)
    funding = _start(actor, 12_345)
    client.force_login(actor.user)

    with django_assert_num_queries(6):
        response = client.get(funding.checkout_url)

    assert response.status_code == 200
    text = response.content.decode()
    assert "Sandbox — no real money" in text
    assert "$123.45 USD" in text
    assert f"Add funds to {actor.organization.name}" in text
    assert "Pay $123.45" in text
    assert "Cancel" in text


def test_paying_credits_the_lab_exactly_the_amount_once(client):
    actor = pf.manager_actor()
    funding = _start(actor, 5_000)
    client.force_login(actor.user)

    response = client.post(funding.checkout_url, {"action": "pay"})
    again = client.post(funding.checkout_url, {"action": "pay"})

    slug = actor.organization.slug
    assert response.status_code == 302
    assert response["Location"] == f"/labs/{slug}/billing/?session={funding.checkout_session_id}"
    assert again.status_code == 302
    funding.refresh_from_db()
    assert funding.status == FundingStatus.COMPLETED
    assert funding.payment_reference.startswith("pi_sandbox_")
    assert _balance(funding) == 5_000
    assert LedgerTransaction.objects.count() == 1
    stored = ProviderEvent.objects.get()
    assert (stored.type, stored.provider, stored.status) == (
        "checkout.session.completed",
        "offline",
        WebhookEventStatus.PROCESSED,
    )
    page = client.get(funding.checkout_url).content.decode()
    assert "Pay $50.00" not in page
    assert "paid" in page


def test_cancel_returns_to_the_cancel_url_and_credits_nothing(client):
    actor = pf.manager_actor()
    funding = _start(actor)
    client.force_login(actor.user)

    response = client.post(funding.checkout_url, {"action": "cancel"})

    assert response.status_code == 302
    assert response["Location"] == f"/labs/{actor.organization.slug}/billing/?cancelled=1"
    _untouched(funding)


def test_another_labs_manager_gets_404_and_pays_nothing(client):
    funding = _start(pf.manager_actor())
    stranger = pf.manager_actor()
    client.force_login(stranger.user)

    assert client.get(funding.checkout_url).status_code == 404
    assert client.post(funding.checkout_url, {"action": "pay"}).status_code == 404
    _untouched(funding)


def test_a_viewer_of_the_lab_gets_404(client):
    actor = pf.manager_actor()
    funding = _start(actor)
    viewer = factories.lab_user()
    factories.add_member(actor.organization, viewer, MembershipRole.VIEWER)
    client.force_login(viewer)

    assert client.get(funding.checkout_url).status_code == 404
    assert client.post(funding.checkout_url, {"action": "pay"}).status_code == 404
    _untouched(funding)


def test_anonymous_visitors_are_sent_to_log_in(client):
    funding = _start(pf.manager_actor())

    response = client.post(funding.checkout_url, {"action": "pay"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    _untouched(funding)


def test_the_sandbox_pages_do_not_exist_with_stripe(client, settings):
    actor = pf.manager_actor()
    funding = _start(actor)
    expert = factories.expert()
    onboarding = payout_account_onboarding_start(
        user=expert, refresh_url="/expert/earnings/", return_url="/expert/earnings/"
    )
    settings.PAYMENTS_PROVIDER = "stripe"

    client.force_login(actor.user)
    assert client.get(funding.checkout_url).status_code == 404
    assert client.post(funding.checkout_url, {"action": "pay"}).status_code == 404
    client.force_login(expert)
    assert client.post(onboarding, {"action": "finish"}).status_code == 404
    _untouched(funding)
    assert PayoutAccount.objects.get(user=expert).payouts_enabled is False


def test_an_unknown_session_is_404(client):
    actor = pf.manager_actor()
    client.force_login(actor.user)

    assert client.get("/payments/sandbox/checkout/cs_sandbox_nope/").status_code == 404


def _onboarding(return_url: str = "/expert/earnings/?from=onboarding"):
    expert = factories.expert()
    link = payout_account_onboarding_start(
        user=expert, refresh_url="/expert/earnings/", return_url=return_url
    )
    return expert, link, PayoutAccount.objects.get(user=expert)


def test_the_onboarding_page_offers_both_endings(client, django_assert_num_queries):
    for _ in range(3):
        _onboarding()
    expert, link, account = _onboarding()
    client.force_login(expert)

    with django_assert_num_queries(4):
        response = client.get(link)

    text = response.content.decode()
    assert response.status_code == 200
    assert "Sandbox — no real money" in text
    assert account.account_id in text
    assert "Finish onboarding" in text
    assert "Finish with an account that rejects transfers" in text


def test_finishing_onboarding_enables_payouts(client):
    expert, link, account = _onboarding()
    client.force_login(expert)

    response = client.post(link, {"action": "finish"})

    assert response.status_code == 302
    assert response["Location"] == "/expert/earnings/?from=onboarding"
    account.refresh_from_db()
    assert (account.status, account.payouts_enabled, account.details_submitted) == (
        PayoutAccountStatus.ENABLED,
        True,
        True,
    )
    stored = ProviderEvent.objects.get()
    assert (stored.type, stored.status) == ("account.updated", WebhookEventStatus.PROCESSED)
    assert list(Notification.objects.filter(recipient=expert).values_list("kind", flat=True)) == [
        "payouts.enabled"
    ]
    payout = Payout.objects.create(
        expert=expert,
        amount_cents=2_000,
        currency="USD",
        provider="offline",
        destination=account.account_id,
    )
    transfer = OfflineProvider().transfer_create(payout=payout)
    assert (transfer.amount_cents, transfer.destination) == (2_000, account.account_id)


def test_an_account_that_rejects_transfers_fails_them(client):
    expert, link, account = _onboarding()
    client.force_login(expert)

    client.post(link, {"action": "reject"})

    account.refresh_from_db()
    assert account.payouts_enabled is True
    payout = Payout.objects.create(
        expert=expert,
        amount_cents=2_000,
        currency="USD",
        provider="offline",
        destination=account.account_id,
    )
    with pytest.raises(ProviderError) as raised:
        OfflineProvider().transfer_create(payout=payout)
    assert (raised.value.code, raised.value.retryable) == ("account_disabled", False)


def test_another_expert_cannot_finish_someone_elses_onboarding(client):
    _expert, link, account = _onboarding()
    client.force_login(factories.expert())

    assert client.get(link).status_code == 404
    assert client.post(link, {"action": "finish"}).status_code == 404
    account.refresh_from_db()
    assert account.payouts_enabled is False
    assert ProviderEvent.objects.count() == 0


def test_a_return_url_on_another_site_falls_back_to_earnings(client):
    expert, link, _account = _onboarding(return_url="https://evil.example/steal")
    client.force_login(expert)

    response = client.post(link, {"action": "finish"})

    assert response["Location"] == "/expert/earnings/"
