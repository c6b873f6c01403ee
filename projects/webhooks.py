"""How outgoing webhooks are signed, and how a receiver checks them.

Every delivery is a ``POST`` of a JSON body with these headers:

- ``Webhook-Id``: the delivery's id (a new one for each redelivery);
- ``Webhook-Timestamp``: when it was signed, in whole seconds since the Unix epoch;
- ``Webhook-Signature``: ``t=<timestamp>,v1=<signature>`` where ``<signature>`` is the
  lowercase hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` keyed with the endpoint's secret
  (``whsec_...``, the whole string), ``body`` being the raw bytes received.

A receiver recomputes the HMAC over the raw body (before any JSON parsing), compares it in
constant time, and refuses timestamps too far from its clock to stop replays. The body's
``id`` names the event and stays the same across redeliveries, so receivers dedupe on it.
This module has no Django dependency: labs may copy it as is.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def webhook_signature(secret: str, timestamp: int, body: bytes | str) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` keyed with ``secret``."""
    message = f"{int(timestamp)}.".encode() + _as_bytes(body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def webhook_signature_header(secret: str, timestamp: int, body: bytes | str) -> str:
    """The ``Webhook-Signature`` header value: ``t=<timestamp>,v1=<signature>``."""
    signature = webhook_signature(secret, timestamp, body)
    return f"t={int(timestamp)},{SIGNATURE_SCHEME}={signature}"


def webhook_signature_verify(
    secret: str,
    header: str,
    body: bytes | str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (the ``Webhook-Signature`` value) signs ``body`` with ``secret``
    and was made within ``tolerance_seconds`` of ``now``. Several ``v1=`` values are allowed
    (any one matching is enough)."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == SIGNATURE_SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = webhook_signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in signatures)
