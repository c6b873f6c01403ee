"""The Stripe provider over HTTP against the fake Stripe server: parameters, idempotency,
retries, and Stripe's errors as ours."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.models import User
from payments.models import LabFunding, Payout
from payments.providers import ProviderError, provider
from payments.providers.stripe import StripeProvider
from tests import factories
from tests.payments.fake_stripe import FakeStripe

pytestmark = pytest.mark.django_db

SUCCESS = "https://market.example/labs/helix/billing/?session={CHECKOUT_SESSION_ID}"
CANCEL = "https://market.example/labs/helix/billing/"


def _funding(cents: int = 5_000) -> LabFunding:
    org = factories.organization()
    return LabFunding.objects.create(
        organization=org, amount_cents=cents, currency="USD", provider="stripe"
    )


def _enabled_account(fake: FakeStripe, user: User | None = None) -> str:
    account = StripeProvider().connected_account_create(user=user or factories.expert())
    fake.set_account(account.id, payouts_enabled=True, details_submitted=True)
    return account.id


def _payout(destination: str, cents: int = 2_500) -> Payout:
    return Payout.objects.create(
        expert=factories.expert(),
        amount_cents=cents,
        currency="USD",
        provider="stripe",
        destination=destination,
    )


def test_the_configured_provider_is_stripe(fake_stripe):
    assert isinstance(provider(), StripeProvider)
    assert provider().name == "stripe"


def test_checkout_is_created_with_the_amount_and_the_funding_id(fake_stripe):
    funding = _funding(12_345)

    session = StripeProvider().checkout_session_create(
        funding=funding, success_url=SUCCESS, cancel_url=CANCEL
    )

    stored = fake_stripe.checkout_sessions[session.id]
    assert session.id.startswith("cs_")
    assert session.url == stored["url"]
    assert stored["amount_total"] == 12_345
    assert stored["currency"] == "usd"
    assert stored["mode"] == "payment"
    assert stored["metadata"] == {"funding_id": str(funding.public_id)}
    assert stored["client_reference_id"] == str(funding.public_id)
    assert (stored["success_url"], stored["cancel_url"]) == (SUCCESS, CANCEL)
    assert fake_stripe.requests == [
        ("POST", "/v1/checkout/sessions", f"checkout-{funding.public_id}")
    ]


def test_a_repeated_checkout_replays_the_same_session(fake_stripe):
    funding = _funding()
    chosen = StripeProvider()

    first = chosen.checkout_session_create(funding=funding, success_url=SUCCESS, cancel_url=CANCEL)
    second = chosen.checkout_session_create(funding=funding, success_url=SUCCESS, cancel_url=CANCEL)

    assert second == first
    assert list(fake_stripe.checkout_sessions) == [first.id]
    assert len(fake_stripe.requests) == 2


def test_the_same_key_with_other_parameters_is_a_provider_error(fake_stripe):
    funding = _funding(5_000)
    chosen = StripeProvider()
    first = chosen.checkout_session_create(funding=funding, success_url=SUCCESS, cancel_url=CANCEL)
    funding.amount_cents = 6_000

    with pytest.raises(ProviderError) as raised:
        chosen.checkout_session_create(funding=funding, success_url=SUCCESS, cancel_url=CANCEL)

    assert raised.value.code == "idempotency_error"
    assert raised.value.retryable is False
    assert list(fake_stripe.checkout_sessions) == [first.id]
    assert fake_stripe.checkout_sessions[first.id]["amount_total"] == 5_000


def test_a_server_error_is_retried_with_the_same_key(fake_stripe):
    destination = _enabled_account(fake_stripe)
    payout = _payout(destination)
    fake_stripe.fail_next("POST", "/v1/transfers", status=500)

    transfer = StripeProvider().transfer_create(payout=payout)

    assert list(fake_stripe.transfers) == [transfer.id]
    assert fake_stripe.idempotency_keys("/v1/transfers") == [
        payout.idempotency_key,
        payout.idempotency_key,
    ]
    assert (transfer.amount_cents, transfer.destination, transfer.payout_id) == (
        2_500,
        destination,
        str(payout.public_id),
    )


def test_a_connection_dropped_after_commit_yields_exactly_one_transfer(fake_stripe):
    destination = _enabled_account(fake_stripe)
    payout = _payout(destination)
    fake_stripe.drop_after_commit_next("/v1/transfers")

    transfer = StripeProvider().transfer_create(payout=payout)

    assert list(fake_stripe.transfers) == [transfer.id]
    assert len(fake_stripe.idempotency_keys("/v1/transfers")) == 2
    stored = fake_stripe.transfers[transfer.id]
    assert stored["metadata"] == {"payout_id": str(payout.public_id)}
    assert stored["amount"] == 2_500


def test_our_own_retry_after_a_lost_answer_gets_the_first_transfer(fake_stripe, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    destination = _enabled_account(fake_stripe)
    payout = _payout(destination)
    fake_stripe.drop_after_commit_next("/v1/transfers")

    with pytest.raises(ProviderError) as raised:
        StripeProvider().transfer_create(payout=payout)
    assert raised.value.retryable is True
    assert raised.value.code == "network_error"
    assert len(fake_stripe.transfers) == 1

    again = StripeProvider().transfer_create(payout=payout)

    assert list(fake_stripe.transfers) == [again.id]


def test_persistent_server_errors_are_retryable(fake_stripe, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    destination = _enabled_account(fake_stripe)
    fake_stripe.fail_next("POST", "/v1/transfers", status=503)

    with pytest.raises(ProviderError) as raised:
        StripeProvider().transfer_create(payout=_payout(destination))

    assert (raised.value.code, raised.value.retryable) == ("api_error", True)
    assert fake_stripe.transfers == {}


def test_a_rate_limit_is_retryable(fake_stripe, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    destination = _enabled_account(fake_stripe)
    fake_stripe.fail_next("POST", "/v1/transfers", status=429, code="rate_limit")

    with pytest.raises(ProviderError) as raised:
        StripeProvider().transfer_create(payout=_payout(destination))

    assert raised.value.retryable is True
    assert fake_stripe.transfers == {}


def test_an_unreachable_stripe_is_retryable(fake_stripe, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    destination = _enabled_account(fake_stripe)
    fake_stripe.stop()

    with pytest.raises(ProviderError) as raised:
        StripeProvider().transfer_create(payout=_payout(destination))

    assert (raised.value.code, raised.value.retryable) == ("network_error", True)


def test_a_short_platform_balance_is_retryable_and_sends_nothing(fake_stripe):
    destination = _enabled_account(fake_stripe)
    fake_stripe.set_platform_balance(1_000)
    payout = _payout(destination, 2_500)

    with pytest.raises(ProviderError) as raised:
        StripeProvider().transfer_create(payout=payout)

    assert (raised.value.code, raised.value.retryable) == ("balance_insufficient", True)
    assert fake_stripe.transfers == {}

    fake_stripe.set_platform_balance(5_000)
    transfer = StripeProvider().transfer_create(payout=payout)
    assert list(fake_stripe.transfers) == [transfer.id]


def test_an_account_without_payouts_refuses_transfers_for_good(fake_stripe):
    account = StripeProvider().connected_account_create(user=factories.expert())

    with pytest.raises(ProviderError) as raised:
        StripeProvider().transfer_create(payout=_payout(account.id))

    assert raised.value.code == "insufficient_capabilities_for_transfer"
    assert raised.value.retryable is False
    assert fake_stripe.transfers == {}


def test_transfer_find_matches_the_payout_id_in_the_metadata(fake_stripe):
    destination = _enabled_account(fake_stripe)
    sent, others = _payout(destination), [_payout(destination) for _ in range(3)]
    chosen = StripeProvider()
    for other in others[:2]:
        chosen.transfer_create(payout=other)
    transfer = chosen.transfer_create(payout=sent)

    found = chosen.transfer_find(payout=sent)

    assert found == transfer
    assert found is not None
    assert found.payout_id == str(sent.public_id)
    assert chosen.transfer_find(payout=others[2]) is None


def test_transfers_list_pages_through_everything_since_a_time(fake_stripe, settings):
    destination = _enabled_account(fake_stripe)
    chosen = StripeProvider()
    made = {chosen.transfer_create(payout=_payout(destination, 1_000 + n)).id for n in range(4)}
    old = next(iter(made))
    fake_stripe.transfers[old]["created"] = int(time.time()) - 3 * 86_400

    listed = list(chosen.transfers_list(since=timezone.now() - timedelta(days=1)))

    assert {t.id for t in listed} == made - {old}
    assert all(t.destination == destination and t.currency == "usd" for t in listed)
    everything = list(chosen.transfers_list(since=timezone.now() - timedelta(days=7)))
    assert {t.id for t in everything} == made


def test_transfer_listing_follows_pagination(fake_stripe):
    from payments import stripe_client

    destination = _enabled_account(fake_stripe)
    chosen = StripeProvider()
    made = [chosen.transfer_create(payout=_payout(destination, 1_000 + n)).id for n in range(5)]

    listed = [
        row["id"] for row in stripe_client.transfers_list(destination=destination, page_size=2)
    ]

    assert listed == list(reversed(made))
    pages = [path for method, path, _ in fake_stripe.requests if method == "GET"]
    assert len(pages) == 3


def test_connected_accounts_are_express_with_transfers_requested_once_per_user(fake_stripe):
    expert = factories.expert()
    chosen = StripeProvider()

    first = chosen.connected_account_create(user=expert)
    second = chosen.connected_account_create(user=expert)

    assert first == second
    assert (first.payouts_enabled, first.details_submitted) == (False, False)
    stored = fake_stripe.accounts[first.id]
    assert list(fake_stripe.accounts) == [first.id]
    assert stored["type"] == "express"
    assert stored["metadata"] == {"user_id": str(expert.pk)}
    assert stored["capabilities"] == {"transfers": "inactive"}
    assert fake_stripe.idempotency_keys("/v1/accounts") == [f"account-{expert.pk}"] * 2


def test_an_onboarding_link_is_an_account_onboarding_link(fake_stripe):
    account = StripeProvider().connected_account_create(user=factories.expert())

    url = StripeProvider().onboarding_link(
        account_id=account.id,
        refresh_url="https://market.example/expert/earnings/onboarding/",
        return_url="https://market.example/expert/earnings/",
    )

    (link,) = fake_stripe.account_links
    assert url == link["url"]
    assert link["type"] == "account_onboarding"
    assert link["return_url"] == "https://market.example/expert/earnings/"


def test_retrieving_an_account_reads_its_payout_state(fake_stripe):
    account = StripeProvider().connected_account_create(user=factories.expert())
    fake_stripe.set_account(
        account.id, payouts_enabled=True, details_submitted=True, disabled_reason=None
    )

    retrieved = StripeProvider().connected_account_retrieve(account_id=account.id)

    assert (retrieved.payouts_enabled, retrieved.details_submitted) == (True, True)
    assert retrieved.disabled_reason == ""
    with pytest.raises(ProviderError) as raised:
        StripeProvider().connected_account_retrieve(account_id="acct_missing")
    assert (raised.value.code, raised.value.retryable) == ("resource_missing", False)


def test_requests_without_the_secret_key_are_refused(fake_stripe, settings):
    settings.STRIPE_SECRET_KEY = "pk_wrong"

    with pytest.raises(ProviderError) as raised:
        StripeProvider().connected_account_create(user=factories.expert())

    assert raised.value.retryable is False
    assert fake_stripe.accounts == {}
