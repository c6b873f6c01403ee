"""System checks for money: no sandbox money in production, and Celery timings under which a
payout is never handed to two workers."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register("payments")
def check_payments(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    provider = settings.PAYMENTS_PROVIDER
    if provider not in ("offline", "stripe"):
        errors.append(
            Error(
                f"PAYMENTS_PROVIDER is “{provider}”.",
                hint="Use “stripe” (with Stripe keys) or “offline” (the local sandbox).",
                id="payments.E001",
            )
        )
    if provider == "offline" and not settings.DEBUG and not settings.PAYMENTS_ALLOW_SANDBOX:
        errors.append(
            Error(
                "The offline payment sandbox is on with DEBUG off: anyone managing a lab could "
                "credit its balance without paying.",
                hint="Set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, or PAYMENTS_ALLOW_SANDBOX=1 "
                "for a throwaway environment.",
                id="payments.E002",
            )
        )
    if provider == "stripe" and not (settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET):
        errors.append(
            Error(
                "Stripe needs both STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET.",
                hint="Without the webhook secret no payment would ever be credited.",
                id="payments.E003",
            )
        )
    longest = max(settings.PAYOUT_RETRY_MAX_DELAY, settings.PAYOUT_TASK_TIME_LIMIT)
    if longest >= settings.CELERY_VISIBILITY_TIMEOUT:
        errors.append(
            Error(
                f"CELERY_VISIBILITY_TIMEOUT ({settings.CELERY_VISIBILITY_TIMEOUT} s) must be "
                f"longer than the longest payout wait or run ({longest} s).",
                hint="Redis would hand a waiting payout message to a second worker.",
                id="payments.E004",
            )
        )
    options = (
        settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        settings.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS,
    )
    if any(o.get("visibility_timeout") != settings.CELERY_VISIBILITY_TIMEOUT for o in options):
        errors.append(
            Error(
                "The broker's and the result backend's visibility timeouts differ from "
                "CELERY_VISIBILITY_TIMEOUT.",
                hint="Set the same visibility_timeout in both transport options.",
                id="payments.E005",
            )
        )
    return errors
