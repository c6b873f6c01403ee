"""The provider's webhook: signed events in, an acknowledgement out."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.providers import SignatureError
from payments.webhooks import webhook_receive


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """400 for a body whose signature, timestamp or shape does not check out; 200 otherwise,
    also for an event that failed to apply (it is stored for staff, and a resend would fail
    the same way)."""
    try:
        stored = webhook_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except SignatureError:
        return JsonResponse({"error": "Invalid signature or payload."}, status=400)
    return JsonResponse({"received": True, "status": stored.status})


urlpatterns: list[URLPattern] = [
    path("payments/webhooks/stripe/", stripe_webhook, name="stripe_webhook"),
]
