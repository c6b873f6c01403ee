"""Outgoing webhooks: a lab's endpoints, the events recorded for them, and their delivery.

Deliveries are at least once. Each event becomes one ``WebhookDelivery`` row per subscribed
endpoint, written in the caller's transaction and sent by a Celery task once it commits; a
failed attempt is retried with exponential backoff until ``WEBHOOK_MAX_ATTEMPTS``. The row is
the source of truth: sending a delivered or failed delivery again does nothing. Signing is in
``projects.webhooks``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import SplitResult, urlsplit

import certifi
import urllib3
from celery.exceptions import Retry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.models import Organization
from projects.access import LabActor, lab_audit_record
from projects.models import WebhookDelivery, WebhookEndpoint
from projects.states import DeliveryStatus, WebhookEvent
from projects.webhooks import webhook_signature_header

MAX_ENDPOINTS_PER_ORGANIZATION = 10
MAX_URL_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 120
MAX_ERROR_LENGTH = 300
MAX_BACKOFF_SECONDS = 6 * 3600
# A retry message that arrives this much before the delivery's next attempt is a duplicate
# (or an eager run retrying at once): the attempt it would make is someone else's.
EARLY_SLACK_SECONDS = 5
# A delivery still waiting this long after it was due lost its message (a worker died or the
# broker was flushed); ``webhook_deliveries_requeue_due`` sends it again.
LOST_AFTER = timedelta(minutes=10)
USER_AGENT = "ExpertMarketplace-Webhooks/1"
SENDABLE_STATES = frozenset({DeliveryStatus.PENDING, DeliveryStatus.RETRYING})


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one send did: the delivery's status, and when to try again (None: don't)."""

    status: str
    retry_in_seconds: int | None = None


def retry_delay_seconds(attempts: int) -> int:
    """The wait before the next attempt after ``attempts`` failed ones: 60 s, 2 min, 4 min…
    capped at 6 hours."""
    return int(min(2**attempts * 30, MAX_BACKOFF_SECONDS))


# Validation ------------------------------------------------------------------------------


def _non_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def _port(parts: SplitResult) -> int:
    """The URL's port, or its scheme's default. Raises ValueError on a malformed port."""
    return parts.port or (443 if parts.scheme == "https" else 80)


def _resolve(url: str) -> tuple[str | None, str | None]:
    """Resolve the URL's host once: (why it may not receive webhooks, or None; the address
    to connect to). Private, loopback and link-local addresses are refused unless settings
    allow them."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, _port(parts), type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        return f"The host “{host}” could not be resolved.", None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        return f"The host “{host}” could not be resolved.", None
    if not settings.WEBHOOK_ALLOW_PRIVATE_HOSTS and any(
        _non_public_address(address) for address in addresses
    ):
        return f"The host “{host}” resolves to a private, loopback or link-local address.", None
    return None, addresses[0]


def _host_problem(url: str) -> str | None:
    """Why the URL may not be registered, or None (hosts are checked again at each send)."""
    if settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return None
    return _resolve(url)[0]


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise InvalidInput("Give the URL that receives the events.", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(
            f"The URL is too long ({MAX_URL_LENGTH} characters at most).", field="url"
        )
    insecure_allowed = settings.DEBUG or settings.WEBHOOK_ALLOW_PRIVATE_HOSTS
    try:
        parts = urlsplit(url)  # raises ValueError on a malformed host such as "[abc"
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InvalidInput("Enter a valid URL.", field="url") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (insecure_allowed and scheme == "http"):
        raise InvalidInput("The URL must start with https://.", field="url")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise InvalidInput("Enter a valid URL.", field="url") from None
    if parts.username or parts.password:
        raise InvalidInput("The URL must not contain a user name or password.", field="url")
    problem = _host_problem(url)
    if problem:
        raise InvalidInput(problem, field="url")
    return url


def _clean_events(events: Any) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        raise InvalidInput("Subscribe to at least one event.", field="events")
    unknown = [str(event) for event in events if event not in WebhookEvent.values]
    if unknown:
        raise InvalidInput(f"Unknown event “{unknown[0]}”.", field="events")
    return [str(event) for event in dict.fromkeys(events)]


def _clean_description(description: str) -> str:
    description = " ".join((description or "").split())
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(
            f"The description is too long ({MAX_DESCRIPTION_LENGTH} characters at most).",
            field="description",
        )
    return description


def _new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _require_own(actor: LabActor, endpoint: WebhookEndpoint) -> None:
    if endpoint.organization_id != actor.organization.pk:
        raise NotFound()


# Endpoints -------------------------------------------------------------------------------


def webhook_endpoint_create(
    *,
    actor: LabActor,
    url: str,
    events: list[str],
    description: str = "",
    ip_address: str | None = None,
) -> WebhookEndpoint:
    """Register a URL for some events, with a new signing secret (shown to the lab)."""
    actor.require_manager("manage webhooks")
    clean_url = _clean_url(url)
    clean_events = _clean_events(events)
    clean_description = _clean_description(description)
    with transaction.atomic():
        # Lock the organisation so two concurrent creations cannot both pass the cap.
        Organization.objects.select_for_update().filter(pk=actor.organization.pk).first()
        if (
            WebhookEndpoint.objects.filter(organization=actor.organization).count()
            >= MAX_ENDPOINTS_PER_ORGANIZATION
        ):
            raise Conflict(
                f"An organisation may have at most {MAX_ENDPOINTS_PER_ORGANIZATION} webhook "
                "endpoints; delete one first."
            )
        endpoint = WebhookEndpoint.objects.create(
            organization=actor.organization,
            url=clean_url,
            events=clean_events,
            description=clean_description,
            secret=_new_secret(),
            created_by=actor.user,
        )
        lab_audit_record(
            actor=actor,
            action="webhook.create",
            target=endpoint,
            after={"url": clean_url, "events": clean_events},
            ip_address=ip_address,
        )
    return endpoint


def webhook_endpoint_update(
    *,
    actor: LabActor,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
    ip_address: str | None = None,
) -> WebhookEndpoint:
    """Change what is given (None keeps the value). A disabled endpoint receives nothing."""
    actor.require_manager("manage webhooks")
    _require_own(actor, endpoint)
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = _clean_url(url)
    if events is not None:
        changes["events"] = _clean_events(events)
    if description is not None:
        changes["description"] = _clean_description(description)
    if is_active is not None:
        changes["is_active"] = bool(is_active)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        before = {name: getattr(locked, name) for name in changes}
        changed = {name: value for name, value in changes.items() if before[name] != value}
        if changed:
            for name, value in changed.items():
                setattr(locked, name, value)
            locked.save(update_fields=[*changed, "updated_at"])
            lab_audit_record(
                actor=actor,
                action="webhook.update",
                target=locked,
                before={name: before[name] for name in changed},
                after=changed,
                ip_address=ip_address,
            )
    return locked


def webhook_endpoint_delete(
    *, actor: LabActor, endpoint: WebhookEndpoint, ip_address: str | None = None
) -> None:
    """Remove the endpoint and its delivery history; queued sends find nothing to do."""
    actor.require_manager("manage webhooks")
    _require_own(actor, endpoint)
    with transaction.atomic():
        lab_audit_record(
            actor=actor,
            action="webhook.delete",
            target=endpoint,
            before={"url": endpoint.url, "events": endpoint.events},
            ip_address=ip_address,
        )
        endpoint.delete()


def webhook_endpoint_rotate_secret(
    *, actor: LabActor, endpoint: WebhookEndpoint, ip_address: str | None = None
) -> WebhookEndpoint:
    """Replace the signing secret; deliveries sent from now on use the new one."""
    actor.require_manager("manage webhooks")
    _require_own(actor, endpoint)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        locked.secret = _new_secret()
        locked.save(update_fields=["secret", "updated_at"])
        lab_audit_record(
            actor=actor,
            action="webhook.rotate_secret",
            target=locked,
            ip_address=ip_address,
        )
    return locked


# Events and deliveries -------------------------------------------------------------------


def _queue_send(delivery_id: int) -> None:
    from projects.tasks import send_webhook_delivery

    # Retry surfaces here only in eager mode (the embedded default), where the task runs
    # inline after the caller's commit: the row records when the next attempt is due, and
    # ``webhook_deliveries_requeue_due`` picks it up.
    with contextlib.suppress(Retry):
        send_webhook_delivery.delay(delivery_id)


def webhook_event_emit(*, organization: Organization, event: str, data: dict[str, Any]) -> int:
    """Record a delivery per active endpoint of the organisation subscribed to ``event`` and
    send each once the transaction commits. Return how many were queued.

    The body is ``{"id", "type", "created", "data"}``; ``data`` must be JSON-serialisable
    (UUIDs, dates and decimals are turned into strings).
    """
    if event not in WebhookEvent.values:
        raise InvalidInput(f"Unknown event “{event}”.", field="event")
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(organization=organization, is_active=True)
        if event in endpoint.events
    ]
    if not endpoints:
        return 0
    clean_data = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    created = timezone.now().isoformat()
    with transaction.atomic():
        for endpoint in endpoints:
            public_id = uuid.uuid4()
            delivery = WebhookDelivery.objects.create(
                public_id=public_id,
                endpoint=endpoint,
                event=event,
                payload={
                    "id": str(public_id),
                    "type": event,
                    "created": created,
                    "data": clean_data,
                },
            )
            transaction.on_commit(partial(_queue_send, delivery.pk))
    return len(endpoints)


def _body(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """POST once, without following redirects. Return (HTTP status or None, error or "").

    The host is resolved once and the connection made to that checked address (TLS still
    verifies the certificate against the host name): a second lookup could answer with an
    internal address (DNS rebinding).
    """
    problem, address = _resolve(url)
    if problem or address is None:
        return None, problem or "The host could not be resolved."
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = _port(parts)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = urllib3.Timeout(total=settings.WEBHOOK_TIMEOUT_SECONDS)
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            server_hostname=host,
            assert_hostname=host,
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={**headers, "Host": parts.netloc},
            redirect=False,
            retries=False,
            preload_content=False,  # the answer's body is never read
        )
        code = response.status
        response.release_conn()
    except urllib3.exceptions.NewConnectionError as error:  # a subclass of TimeoutError
        return None, f"ConnectionError: {error}"
    except urllib3.exceptions.TimeoutError:
        return None, f"No answer within {settings.WEBHOOK_TIMEOUT_SECONDS} seconds."
    except urllib3.exceptions.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"
    finally:
        pool.close()
    if 200 <= code < 300:
        return code, ""
    if 300 <= code < 400:
        return code, f"HTTP {code}: redirects are not followed."
    return code, f"HTTP {code}."


def _record(
    *, delivery_id: int, attempts_seen: int, code: int | None, error: str, now: datetime
) -> DeliveryOutcome:
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if locked is None:
            return DeliveryOutcome(status="deleted")
        if locked.status not in SENDABLE_STATES or locked.attempts != attempts_seen:
            # A concurrent send recorded its attempt first; this one changes nothing.
            return DeliveryOutcome(status=locked.status)
        locked.attempts += 1
        locked.response_status = code
        retry_in: int | None = None
        if not error:
            locked.status = DeliveryStatus.DELIVERED
            locked.delivered_at = now
            locked.last_error = ""
            locked.next_attempt_at = None
        elif locked.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            locked.status = DeliveryStatus.FAILED
            locked.last_error = error[:MAX_ERROR_LENGTH]
            locked.next_attempt_at = None
        else:
            retry_in = retry_delay_seconds(locked.attempts)
            locked.status = DeliveryStatus.RETRYING
            locked.last_error = error[:MAX_ERROR_LENGTH]
            locked.next_attempt_at = now + timedelta(seconds=retry_in)
        locked.save(
            update_fields=[
                "attempts",
                "response_status",
                "status",
                "delivered_at",
                "last_error",
                "next_attempt_at",
                "updated_at",
            ]
        )
    return DeliveryOutcome(status=locked.status, retry_in_seconds=retry_in)


def webhook_delivery_send(*, delivery_id: int) -> DeliveryOutcome:
    """Make one attempt at a pending or retrying delivery and record its outcome.

    Idempotent: a delivered or failed delivery, one whose endpoint is gone, or a retry that
    is not due yet is left alone. An endpoint disabled meanwhile fails the delivery without
    an attempt (the lab may redeliver it). No database lock is held during the request.
    """
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return DeliveryOutcome(status="deleted")
    if delivery.status not in SENDABLE_STATES:
        return DeliveryOutcome(status=delivery.status)
    now = timezone.now()
    if (
        delivery.status == DeliveryStatus.RETRYING
        and delivery.next_attempt_at is not None
        and now < delivery.next_attempt_at - timedelta(seconds=EARLY_SLACK_SECONDS)
    ):
        return DeliveryOutcome(status=delivery.status)
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        updated = WebhookDelivery.objects.filter(pk=delivery.pk, status__in=SENDABLE_STATES).update(
            status=DeliveryStatus.FAILED,
            last_error="The endpoint was disabled.",
            next_attempt_at=None,
            updated_at=now,
        )
        return DeliveryOutcome(status=DeliveryStatus.FAILED if updated else delivery.status)
    body = _body(delivery.payload)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Webhook-Id": str(delivery.public_id),
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": webhook_signature_header(endpoint.secret, timestamp, body),
    }
    code, error = _post(endpoint.url, body, headers)
    return _record(
        delivery_id=delivery.pk,
        attempts_seen=delivery.attempts,
        code=code,
        error=error,
        now=timezone.now(),
    )


def webhook_delivery_redeliver(
    *, actor: LabActor, delivery: WebhookDelivery, ip_address: str | None = None
) -> WebhookDelivery:
    """Send the same event body again, as a new delivery, to the same endpoint."""
    actor.require_manager("manage webhooks")
    endpoint = delivery.endpoint
    _require_own(actor, endpoint)
    if not endpoint.is_active:
        raise Conflict("The endpoint is disabled: enable it before redelivering.")
    with transaction.atomic():
        redelivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event=delivery.event, payload=delivery.payload
        )
        lab_audit_record(
            actor=actor,
            action="webhook.redeliver",
            target=redelivery,
            before={"delivery": str(delivery.public_id)},
            after={"delivery": str(redelivery.public_id)},
            ip_address=ip_address,
        )
        transaction.on_commit(partial(_queue_send, redelivery.pk))
    return redelivery


def webhook_deliveries_requeue_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Queue again the deliveries whose send message was lost (for a periodic task).

    A delivery counts as lost when it is still pending ``LOST_AFTER`` after it was created,
    or still retrying ``LOST_AFTER`` after its next attempt was due. Return how many.
    """
    now = now or timezone.now()
    cutoff = now - LOST_AFTER
    lost = Q(status=DeliveryStatus.PENDING, created_at__lt=cutoff) | Q(
        status=DeliveryStatus.RETRYING, next_attempt_at__lt=cutoff
    )
    ids = list(
        WebhookDelivery.objects.filter(lost).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    for delivery_id in ids:
        transaction.on_commit(partial(_queue_send, delivery_id))
    return len(ids)
