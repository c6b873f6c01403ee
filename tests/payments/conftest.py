"""Payments fixtures: the fake Stripe server, and webhook payloads signed as Stripe signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.payments.fake_stripe import FakeStripe

WEBHOOK_SECRET = "whsec_test"


@pytest.fixture
def fake_stripe(settings) -> Iterator[FakeStripe]:
    """A fake Stripe API for this test, with the settings pointing the stripe provider at it."""
    fake = FakeStripe().start()
    settings.PAYMENTS_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    try:
        yield fake
    finally:
        fake.stop()


def signed_webhook(
    payload: dict[str, Any], secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[bytes, str]:
    """``payload`` as a webhook body and its ``Stripe-Signature`` header
    (``t=<t>,v1=<HMAC-SHA256 of "<t>.<body>">``)."""
    body = json.dumps(payload).encode()
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={t},v1={digest}"


def stripe_event(
    type: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> dict[str, Any]:
    """An event as Stripe posts it to the webhook."""
    import secrets

    return {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2024-06-20",
        "type": type,
        "created": int(time.time()) if created is None else created,
        "livemode": False,
        "data": {"object": obj},
    }
