"""Stripe's webhook: signatures and timestamps checked, each event applied once, in any order."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.models import Notification
from payments.connect import payout_account_onboarding_start
from payments.ledger import balance_cents, lab_account
from payments.models import LabFunding, LedgerTransaction, PayoutAccount, ProviderEvent
from payments.states import FundingStatus, PayoutAccountStatus, WebhookEventStatus
from tests import factories
from tests.integration.concurrency import race
from tests.payments.conftest import signed_webhook, stripe_event
from tests.projects import factories as pf

pytestmark = pytest.mark.django_db

URL = "/payments/webhooks/stripe/"


def _funding(cents: int = 5_000) -> LabFunding:
    actor = pf.manager_actor()
    return LabFunding.objects.create(
        organization=actor.organization,
        amount_cents=cents,
        currency="USD",
        provider="stripe",
        created_by=actor.user,
        checkout_session_id="cs_test_1",
    )


def _session(funding: LabFunding, **fields: Any) -> dict[str, Any]:
    session = {
        "id": funding.checkout_session_id,
        "object": "checkout.session",
        "amount_total": funding.amount_cents,
        "currency": "usd",
        "client_reference_id": str(funding.public_id),
        "metadata": {"funding_id": str(funding.public_id)},
        "mode": "payment",
        "payment_intent": "pi_123",
        "payment_status": "paid",
        "status": "complete",
    }
    session.update(fields)
    return session


def _post(client: Client, payload: dict[str, Any], **signing: Any):
    body, signature = signed_webhook(payload, **signing)
    return client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


def _balance(funding: LabFunding) -> int:
    return balance_cents(lab_account(organization=funding.organization, currency="USD"))


def _nothing_credited(funding: LabFunding) -> None:
    funding.refresh_from_db()
    assert funding.status == FundingStatus.PENDING
    assert LedgerTransaction.objects.count() == 0
    assert _balance(funding) == 0


def test_the_url_is_named():
    assert reverse("payments:stripe_webhook") == URL


def test_a_signed_completed_checkout_credits_the_lab_once(client, fake_stripe):
    funding = _funding(5_000)
    event = stripe_event("checkout.session.completed", _session(funding), event_id="evt_1")

    response = _post(client, event)

    assert response.status_code == 200
    assert response.json() == {"received": True, "status": "processed"}
    funding.refresh_from_db()
    assert funding.status == FundingStatus.COMPLETED
    assert funding.payment_reference == "pi_123"
    assert _balance(funding) == 5_000
    stored = ProviderEvent.objects.get()
    assert (stored.event_id, stored.type, stored.provider, stored.status) == (
        "evt_1",
        "checkout.session.completed",
        "stripe",
        WebhookEventStatus.PROCESSED,
    )
    assert stored.detail == f"Credited $50.00 to {funding.organization.name}."
    assert stored.payload["data"]["object"]["id"] == "cs_test_1"
    assert (
        Notification.objects.filter(recipient=funding.created_by, kind="funding.completed").count()
        == 1
    )


def test_a_replayed_event_credits_once(client, fake_stripe):
    funding = _funding(5_000)
    event = stripe_event("checkout.session.completed", _session(funding), event_id="evt_1")

    first = _post(client, event)
    second = _post(client, event)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == {"received": True, "status": "processed"}
    assert _balance(funding) == 5_000
    assert ProviderEvent.objects.count() == 1
    assert LedgerTransaction.objects.count() == 1


def test_two_events_for_one_payment_credit_once(client, fake_stripe):
    funding = _funding(5_000)

    _post(client, stripe_event("checkout.session.completed", _session(funding)))
    response = _post(
        client, stripe_event("checkout.session.async_payment_succeeded", _session(funding))
    )

    assert response.json()["status"] == "processed"
    assert ProviderEvent.objects.filter(detail="Already credited; nothing changed.").count() == 1
    assert _balance(funding) == 5_000
    assert LedgerTransaction.objects.count() == 1


def test_a_wrong_secret_is_refused_and_nothing_is_credited(client, fake_stripe):
    funding = _funding()

    response = _post(
        client,
        stripe_event("checkout.session.completed", _session(funding)),
        secret="whsec_other",
    )

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid signature or payload."}
    _nothing_credited(funding)
    assert ProviderEvent.objects.count() == 0


def test_a_tampered_body_is_refused(client, fake_stripe):
    funding = _funding(5_000)
    body, signature = signed_webhook(
        stripe_event("checkout.session.completed", _session(funding, amount_total=100))
    )
    tampered = body.replace(b'"amount_total": 100', b'"amount_total": 5000')
    assert tampered != body

    response = client.post(
        URL, data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )

    assert response.status_code == 400
    _nothing_credited(funding)
    assert ProviderEvent.objects.count() == 0


def test_a_timestamp_older_than_the_tolerance_is_refused(client, fake_stripe, settings):
    settings.STRIPE_WEBHOOK_TOLERANCE = 300
    funding = _funding()

    response = _post(
        client,
        stripe_event("checkout.session.completed", _session(funding)),
        timestamp=int(time.time()) - 301,
    )

    assert response.status_code == 400
    _nothing_credited(funding)
    assert ProviderEvent.objects.count() == 0


def test_a_missing_signature_or_a_body_that_is_not_json_is_refused(client, fake_stripe):
    funding = _funding()
    body, signature = signed_webhook(stripe_event("checkout.session.completed", _session(funding)))

    unsigned = client.post(URL, data=body, content_type="application/json")
    garbage = b"not json"
    t = signature.split(",")[0].removeprefix("t=")
    import hashlib
    import hmac

    digest = hmac.new(b"whsec_test", f"{t}.".encode() + garbage, hashlib.sha256).hexdigest()
    not_json = client.post(
        URL,
        data=garbage,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=f"t={t},v1={digest}",
    )

    assert (unsigned.status_code, not_json.status_code) == (400, 400)
    _nothing_credited(funding)


def test_only_post_is_allowed(client, fake_stripe):
    assert client.get(URL).status_code == 405


def test_the_offline_provider_takes_no_http_webhooks(client, settings):
    settings.PAYMENTS_PROVIDER = "offline"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test"
    funding = _funding()

    response = _post(client, stripe_event("checkout.session.completed", _session(funding)))

    assert response.status_code == 400
    _nothing_credited(funding)


def test_an_unpaid_completed_session_is_ignored(client, fake_stripe):
    funding = _funding()

    response = _post(
        client,
        stripe_event("checkout.session.completed", _session(funding, payment_status="unpaid")),
    )

    assert response.json() == {"received": True, "status": "ignored"}
    _nothing_credited(funding)
    assert ProviderEvent.objects.get().detail == "Payment status is “unpaid”, not paid."


def test_a_mismatched_amount_is_stored_failed_and_credits_nothing(client, fake_stripe):
    funding = _funding(5_000)

    response = _post(
        client, stripe_event("checkout.session.completed", _session(funding, amount_total=4_999))
    )

    assert response.status_code == 200
    assert response.json() == {"received": True, "status": "failed"}
    stored = ProviderEvent.objects.get()
    assert stored.status == WebhookEventStatus.FAILED
    assert stored.detail == ("The payment (4999 USD) does not match the funding (5000 USD).")
    _nothing_credited(funding)


def test_an_unknown_funding_is_stored_failed(client, fake_stripe):
    funding = _funding()
    other = _session(funding, metadata={"funding_id": "8d5f1c9e-0000-4000-8000-000000000000"})
    other["client_reference_id"] = None
    garbage = _session(funding, metadata={"funding_id": "nope"}, client_reference_id=None)

    first = _post(client, stripe_event("checkout.session.completed", other))
    second = _post(client, stripe_event("checkout.session.completed", garbage))

    assert first.json()["status"] == second.json()["status"] == "failed"
    assert sorted(ProviderEvent.objects.values_list("detail", flat=True)) == [
        "No such funding.",
        "No such funding: nope.",
    ]
    _nothing_credited(funding)


def test_an_expired_session_expires_a_pending_funding(client, fake_stripe):
    funding = _funding()

    response = _post(
        client,
        stripe_event(
            "checkout.session.expired",
            _session(funding, status="expired", payment_status="unpaid"),
        ),
    )

    assert response.json()["status"] == "processed"
    funding.refresh_from_db()
    assert funding.status == FundingStatus.EXPIRED
    assert _balance(funding) == 0


def test_expired_after_completed_leaves_the_funding_completed(client, fake_stripe):
    funding = _funding(5_000)

    _post(client, stripe_event("checkout.session.completed", _session(funding)))
    response = _post(
        client,
        stripe_event(
            "checkout.session.expired",
            _session(funding, status="expired", payment_status="unpaid"),
        ),
    )

    assert response.json()["status"] == "processed"
    funding.refresh_from_db()
    assert funding.status == FundingStatus.COMPLETED
    assert _balance(funding) == 5_000
    assert ProviderEvent.objects.filter(type="checkout.session.expired").get().detail == (
        "The funding was no longer pending; nothing changed."
    )


def test_a_payment_arriving_after_expiry_is_still_credited(client, fake_stripe):
    funding = _funding(5_000)

    _post(
        client,
        stripe_event(
            "checkout.session.expired",
            _session(funding, status="expired", payment_status="unpaid"),
        ),
    )
    _post(client, stripe_event("checkout.session.async_payment_succeeded", _session(funding)))

    funding.refresh_from_db()
    assert funding.status == FundingStatus.COMPLETED
    assert _balance(funding) == 5_000


def test_an_unknown_event_type_is_acknowledged_and_stored_ignored(client, fake_stripe):
    response = _post(
        client, stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    )

    assert response.status_code == 200
    assert response.json() == {"received": True, "status": "ignored"}
    stored = ProviderEvent.objects.get()
    assert (stored.type, stored.status, stored.detail) == (
        "customer.created",
        WebhookEventStatus.IGNORED,
        "Not an event we act on.",
    )


def _account_event(account_id: str, *, enabled: bool, created: int, **more: Any) -> dict:
    return stripe_event(
        "account.updated",
        {
            "id": account_id,
            "object": "account",
            "payouts_enabled": enabled,
            "details_submitted": True,
            "requirements": {"disabled_reason": None if enabled else "requirements.past_due"},
            "metadata": {},
            **more,
        },
        created=created,
    )


def test_an_older_account_update_arriving_late_leaves_the_newer_state(client, fake_stripe):
    expert = factories.expert()
    payout_account_onboarding_start(
        user=expert, refresh_url="https://m.example/r", return_url="https://m.example/b"
    )
    account = PayoutAccount.objects.get(user=expert)
    now = int(time.time())

    newer = _post(client, _account_event(account.account_id, enabled=True, created=now))
    older = _post(client, _account_event(account.account_id, enabled=False, created=now - 60))

    assert newer.json()["status"] == "processed"
    assert older.json()["status"] == "ignored"
    account.refresh_from_db()
    assert (account.status, account.payouts_enabled, account.disabled_reason) == (
        PayoutAccountStatus.ENABLED,
        True,
        "",
    )
    assert int(account.state_as_of.timestamp()) == now
    assert list(Notification.objects.filter(recipient=expert).values_list("kind", flat=True)) == [
        "payouts.enabled"
    ]


def test_an_update_for_an_account_that_is_not_ours_is_ignored(client, fake_stripe):
    response = _post(client, _account_event("acct_unknown", enabled=True, created=int(time.time())))

    assert response.json() == {"received": True, "status": "ignored"}
    assert PayoutAccount.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_event_posted_at_once_from_several_threads_credits_once(fake_stripe):
    funding = _funding(5_000)
    body, signature = signed_webhook(
        stripe_event("checkout.session.completed", _session(funding), event_id="evt_race")
    )

    def deliver() -> tuple[int, dict]:
        response = Client().post(
            URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
        )
        return response.status_code, json.loads(response.content)

    outcomes = race(*[deliver for _ in range(6)])

    assert outcomes == [(200, {"received": True, "status": "processed"})] * 6
    assert ProviderEvent.objects.count() == 1
    assert LedgerTransaction.objects.count() == 1
    assert _balance(funding) == 5_000
    funding.refresh_from_db()
    assert funding.status == FundingStatus.COMPLETED


def test_a_refunded_payment_is_flagged_to_staff_and_reverses_nothing(client, fake_stripe):
    funding = _funding(5_000)
    _post(client, stripe_event("checkout.session.completed", _session(funding)))
    staff, _ = factories.staff_user()

    response = _post(
        client,
        stripe_event(
            "charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": "pi_123"}
        ),
    )

    assert response.status_code == 200
    stored = ProviderEvent.objects.get(type="charge.refunded")
    assert stored.status == WebhookEventStatus.FAILED
    assert "payment of $50.00 was refunded" in stored.detail
    assert Notification.objects.filter(recipient=staff, kind="payments.payment_taken_back").exists()
    assert _balance(funding) == 5_000
