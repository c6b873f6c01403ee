"""The payments system checks refuse sandbox money in production and unsafe Celery timings."""

from __future__ import annotations

from payments.checks import check_payments


def _ids(errors) -> list[str]:
    return [error.id for error in errors]


def test_the_embedded_default_passes(settings):
    settings.DEBUG = True
    settings.PAYMENTS_PROVIDER = "offline"
    assert check_payments() == []


def test_the_sandbox_with_debug_off_is_refused_unless_allowed(settings):
    settings.DEBUG = False
    settings.PAYMENTS_PROVIDER = "offline"
    settings.PAYMENTS_ALLOW_SANDBOX = False
    assert _ids(check_payments()) == ["payments.E002"]
    settings.PAYMENTS_ALLOW_SANDBOX = True
    assert check_payments() == []


def test_stripe_needs_its_webhook_secret(settings):
    settings.PAYMENTS_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_live_x"
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert _ids(check_payments()) == ["payments.E003"]
    settings.STRIPE_WEBHOOK_SECRET = "whsec_x"
    assert check_payments() == []


def test_an_unknown_provider_is_refused(settings):
    settings.PAYMENTS_PROVIDER = "paypal"
    assert "payments.E001" in _ids(check_payments())


def test_a_visibility_timeout_shorter_than_a_payout_wait_is_refused(settings):
    settings.DEBUG = True
    settings.PAYMENTS_PROVIDER = "offline"
    settings.PAYOUT_RETRY_MAX_DELAY = 7_200
    assert _ids(check_payments()) == ["payments.E004"]
    settings.PAYOUT_RETRY_MAX_DELAY = 1_800
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3_600}
    assert _ids(check_payments()) == ["payments.E005"]
