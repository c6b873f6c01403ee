"""The one module that talks to Stripe's library: plain dicts in and out, errors as ours.

Every create call carries an idempotency key, so the library's own retries of network errors
and 5xx answers (``max_network_retries``) and our later retries are told apart by Stripe from
new requests. Stripe's errors become ``ProviderError`` (``retryable`` for what may succeed
later) and a webhook that does not verify becomes ``SignatureError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import stripe
from django.conf import settings

from payments.providers.base import ProviderError, SignatureError

# Errors Stripe answers that may succeed if tried again later, by code.
RETRYABLE_CODES = frozenset({"balance_insufficient", "lock_timeout", "rate_limit"})

T = TypeVar("T")


def _client() -> stripe.StripeClient:
    key = settings.STRIPE_SECRET_KEY
    if not key:
        raise ProviderError("Stripe is not configured (STRIPE_SECRET_KEY).", code="configuration")
    base = settings.STRIPE_API_BASE
    retries = settings.STRIPE_MAX_NETWORK_RETRIES
    if base:
        return stripe.StripeClient(key, base_addresses={"api": base}, max_network_retries=retries)
    return stripe.StripeClient(key, max_network_retries=retries)


def _provider_error(error: stripe.StripeError) -> ProviderError:
    body: dict[str, Any] = error.json_body if isinstance(error.json_body, dict) else {}
    detail: dict[str, Any] = body["error"] if isinstance(body.get("error"), dict) else {}
    code = str(getattr(error, "code", None) or detail.get("code") or "")
    status = error.http_status or 0
    message = error.user_message or str(error) or type(error).__name__
    if isinstance(error, stripe.APIConnectionError):
        return ProviderError(message, code=code or "network_error", retryable=True)
    if isinstance(error, stripe.RateLimitError):
        return ProviderError(message, code=code or "rate_limit", retryable=True)
    if code == "idempotency_key_in_use" or status == 409:
        # Another request with the same key is still running: what it does is learnt later,
        # so this is never a definite refusal.
        return ProviderError(message, code=code or "idempotency_key_in_use", retryable=True)
    if isinstance(error, stripe.IdempotencyError):
        # The same key with other parameters: a mistake of ours, not worth repeating.
        return ProviderError(message, code=code or "idempotency_error", retryable=False)
    if isinstance(error, stripe.AuthenticationError):
        return ProviderError(message, code=code or "authentication", retryable=False)
    if status >= 500 or (isinstance(error, stripe.APIError) and not status):
        return ProviderError(message, code=code or "api_error", retryable=True)
    return ProviderError(message, code=code or "invalid_request", retryable=code in RETRYABLE_CODES)


def _call(action: Callable[[], T]) -> T:
    try:
        return action()
    except stripe.StripeError as error:
        raise _provider_error(error) from error


def _plain(obj: stripe.StripeObject) -> dict[str, Any]:
    return obj.to_dict()


def _options(idempotency_key: str) -> stripe.RequestOptions:
    return {"idempotency_key": idempotency_key}


def checkout_session_create(*, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    client = _client()
    return _plain(
        _call(
            lambda: client.v1.checkout.sessions.create(
                params,  # type: ignore[arg-type]
                _options(idempotency_key),
            )
        )
    )


def checkout_session_retrieve(*, session_id: str) -> dict[str, Any]:
    client = _client()
    return _plain(_call(lambda: client.v1.checkout.sessions.retrieve(session_id)))


def account_create(*, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    client = _client()
    return _plain(
        _call(
            lambda: client.v1.accounts.create(
                params,  # type: ignore[arg-type]
                _options(idempotency_key),
            )
        )
    )


def account_retrieve(*, account_id: str) -> dict[str, Any]:
    client = _client()
    return _plain(_call(lambda: client.v1.accounts.retrieve(account_id)))


def account_link_create(*, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    client = _client()
    return _plain(
        _call(
            lambda: client.v1.account_links.create(
                params,  # type: ignore[arg-type]
                _options(idempotency_key),
            )
        )
    )


def transfer_create(*, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    client = _client()
    return _plain(
        _call(
            lambda: client.v1.transfers.create(
                params,  # type: ignore[arg-type]
                _options(idempotency_key),
            )
        )
    )


def transfer_retrieve(*, transfer_id: str) -> dict[str, Any]:
    client = _client()
    return _plain(_call(lambda: client.v1.transfers.retrieve(transfer_id)))


def transfers_list(
    *, destination: str | None = None, created_gte: int | None = None, page_size: int = 100
) -> Iterator[dict[str, Any]]:
    """Every transfer matching the filters, newest first, page after page."""
    client = _client()
    params: dict[str, Any] = {"limit": page_size}
    if destination:
        params["destination"] = destination
    if created_gte is not None:
        params["created"] = {"gte": created_gte}
    first = _call(lambda: client.v1.transfers.list(params))  # type: ignore[arg-type]
    pages = iter(first.auto_paging_iter())
    while True:
        try:
            item = _call(lambda: next(pages))
        except StopIteration:
            return
        yield _plain(item)


def webhook_construct_event(*, payload: bytes, signature: str) -> dict[str, Any]:
    """The event of a webhook whose signature (``STRIPE_WEBHOOK_SECRET``) and timestamp
    (within ``STRIPE_WEBHOOK_TOLERANCE`` seconds) check out; SignatureError otherwise."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise SignatureError("No webhook secret is configured.")
    tolerance = int(getattr(settings, "STRIPE_WEBHOOK_TOLERANCE", 300))
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError as error:
        raise SignatureError(str(error) or "The signature does not match.") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise SignatureError("The body is not a JSON event.") from error
    data = _plain(event)
    if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str):
        raise SignatureError("The body is not an event.")
    return data
