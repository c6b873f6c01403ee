"""Outgoing webhooks: signing, endpoints, events, and delivery to a real local HTTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import AuditEvent
from marketplace.states import MembershipRole
from projects import services
from projects.access import LabActor
from projects.models import WebhookDelivery, WebhookEndpoint
from projects.services import webhooks
from projects.states import DeliveryStatus, WebhookEvent
from projects.webhooks import (
    webhook_signature,
    webhook_signature_header,
    webhook_signature_verify,
)
from tests import factories
from tests.projects.factories import active_project, manager_actor

pytestmark = pytest.mark.django_db

COMPLETED = WebhookEvent.PROJECT_COMPLETED


# A real HTTP server on 127.0.0.1 -------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    """Records every POST; answers with the queued status codes, then 200."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.got_one = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/hooks/marketplace"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append((dict(self.headers.items()), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.server.got_one.set()

    def log_message(self, format: str, *args: object) -> None:
        return


def start_receiver() -> Receiver:
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = start_receiver()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_hosts(settings):
    """Let endpoints point at 127.0.0.1 (only tests and local development do this)."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.WEBHOOK_MAX_ATTEMPTS = 8
    return settings


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    return settings


def endpoint_for(
    actor: LabActor, url: str, events: list[str] | None = None, **kwargs
) -> WebhookEndpoint:
    return webhooks.webhook_endpoint_create(
        actor=actor, url=url, events=[COMPLETED] if events is None else events, **kwargs
    )


def emitted_delivery(actor: LabActor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Emit one project.completed event and return the endpoint's delivery (not yet sent)."""
    webhooks.webhook_event_emit(
        organization=actor.organization, event=COMPLETED, data={"project": "p-1"}
    )
    return WebhookDelivery.objects.get(endpoint=endpoint)


def make_due(delivery: WebhookDelivery) -> None:
    """Pretend the wait before the next attempt has passed."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


# Signing -----------------------------------------------------------------------------------

SECRET = "whsec_test_secret"
BODY = b'{"id":"evt_1","type":"project.completed"}'
# HMAC-SHA256("whsec_test_secret", "1700000000." + BODY), checked with
# `printf '1700000000.%s' "$BODY" | openssl dgst -sha256 -hmac whsec_test_secret`.
KNOWN_SIGNATURE = "d215ce2bf10ec7422d1a566a7eb601444c701d38a50ff1e85f4f3427b80a2dd1"


def test_signature_matches_a_known_vector():
    assert webhook_signature(SECRET, 1700000000, BODY) == KNOWN_SIGNATURE
    assert webhook_signature(SECRET, 1700000000, BODY.decode()) == KNOWN_SIGNATURE
    assert webhook_signature_header(SECRET, 1700000000, BODY) == (
        f"t=1700000000,v1={KNOWN_SIGNATURE}"
    )


def test_signature_verification_refuses_tampering_old_timestamps_and_other_secrets():
    header = f"t=1700000000,v1={KNOWN_SIGNATURE}"

    assert webhook_signature_verify(SECRET, header, BODY, now=1700000100)
    assert webhook_signature_verify(
        SECRET, f"t=1700000000,v1=00,v1={KNOWN_SIGNATURE}", BODY, now=1700000000
    )
    assert not webhook_signature_verify(SECRET, header, BODY + b" ", now=1700000000)
    assert not webhook_signature_verify("whsec_other", header, BODY, now=1700000000)
    assert not webhook_signature_verify(SECRET, header, BODY, now=1700000000 + 301)
    assert not webhook_signature_verify(SECRET, f"v1={KNOWN_SIGNATURE}", BODY, now=1700000000)
    assert not webhook_signature_verify(SECRET, "t=soon,v1=ab", BODY, now=1700000000)
    assert not webhook_signature_verify(SECRET, "", BODY, now=1700000000)


# Endpoints ---------------------------------------------------------------------------------


def test_an_endpoint_gets_a_secret_and_an_audit_row_without_it(local_hosts):
    actor = manager_actor()

    endpoint = endpoint_for(
        actor, "https://hooks.example.com/in", [COMPLETED, COMPLETED], description=" CI  hook "
    )

    assert endpoint.organization == actor.organization
    assert endpoint.events == [COMPLETED]
    assert endpoint.description == "CI hook"
    assert endpoint.secret.startswith("whsec_")
    assert len(endpoint.secret) == len("whsec_") + 43
    event = AuditEvent.objects.get(action="webhook.create")
    assert event.after["url"] == "https://hooks.example.com/in"
    assert endpoint.secret not in json.dumps(event.after)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/in", "https://"),
        ("ftp://hooks.example.com/in", "https://"),
        ("", "Give the URL"),
        ("https://", "valid URL"),
        ("https://[abc/in", "valid URL"),
        ("https://hooks.example.com:99999/in", "valid URL"),
        ("https://user:pw@hooks.example.com/in", "user name"),
        ("https://127.0.0.1/in", "private"),
        ("https://localhost:8443/in", "private"),
        ("https://10.2.3.4/in", "private"),
        ("https://192.168.1.10/in", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://[::1]/in", "private"),
        ("https://[::ffff:127.0.0.1]/in", "private"),
        ("https://0.0.0.0/in", "private"),
    ],
)
def test_endpoint_urls_must_be_https_on_public_hosts(production, url, message):
    actor = manager_actor()

    with pytest.raises(InvalidInput, match=message) as refused:
        endpoint_for(actor, url)

    assert refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()
    assert not AuditEvent.objects.filter(action="webhook.create").exists()


def test_a_public_host_is_accepted_in_production(production, monkeypatch):
    def resolve(host, port, *args, **kwargs):
        assert host == "hooks.example.com"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", resolve)

    endpoint = endpoint_for(manager_actor(), "https://hooks.example.com/in")

    assert endpoint.url == "https://hooks.example.com/in"


def test_a_host_that_resolves_to_a_private_address_is_refused(production, monkeypatch):
    monkeypatch.setattr(
        webhooks.socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ],
    )

    with pytest.raises(InvalidInput, match="private") as refused:
        endpoint_for(manager_actor(), "https://rebind.example.com/in")

    assert refused.value.field == "url"
    assert not WebhookEndpoint.objects.exists()


def test_an_unresolvable_host_is_refused(production, monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror("no such host")

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", fail)

    with pytest.raises(InvalidInput, match="could not be resolved") as refused:
        endpoint_for(manager_actor(), "https://nowhere.example.com/in")

    assert refused.value.field == "url"


@pytest.mark.parametrize("events", [[], ["project.exploded"], "project.completed"])
def test_events_must_be_known_and_at_least_one(local_hosts, events):
    with pytest.raises(InvalidInput) as refused:
        endpoint_for(manager_actor(), "https://hooks.example.com/in", events=events)

    assert refused.value.field == "events"
    assert not WebhookEndpoint.objects.exists()


def test_an_organisation_has_at_most_ten_endpoints(local_hosts):
    actor = manager_actor()
    for n in range(10):
        endpoint_for(actor, f"https://hooks.example.com/{n}")

    with pytest.raises(Conflict, match="at most 10"):
        endpoint_for(actor, "https://hooks.example.com/11")

    assert WebhookEndpoint.objects.filter(organization=actor.organization).count() == 10
    endpoint_for(manager_actor(), "https://hooks.example.com/other-lab")


def test_viewers_cannot_manage_endpoints(local_hosts):
    owner = manager_actor()
    endpoint = endpoint_for(owner, "https://hooks.example.com/in")
    viewer_user = factories.lab_user()
    factories.add_member(owner.organization, viewer_user, MembershipRole.VIEWER)
    viewer = LabActor(
        organization=owner.organization, user=viewer_user, api_key=None, role="viewer"
    )
    secret = endpoint.secret

    with pytest.raises(PermissionDenied):
        endpoint_for(viewer, "https://hooks.example.com/mine")
    with pytest.raises(PermissionDenied):
        webhooks.webhook_endpoint_update(actor=viewer, endpoint=endpoint, is_active=False)
    with pytest.raises(PermissionDenied):
        webhooks.webhook_endpoint_rotate_secret(actor=viewer, endpoint=endpoint)
    with pytest.raises(PermissionDenied):
        webhooks.webhook_endpoint_delete(actor=viewer, endpoint=endpoint)

    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.secret) == (True, secret)
    assert WebhookEndpoint.objects.count() == 1


def test_update_rotate_and_delete_are_audited(local_hosts):
    actor = manager_actor()
    endpoint = endpoint_for(actor, "https://hooks.example.com/in")
    old_secret = endpoint.secret

    updated = webhooks.webhook_endpoint_update(
        actor=actor,
        endpoint=endpoint,
        events=[COMPLETED, WebhookEvent.TASK_COMPLETED],
        is_active=False,
    )
    rotated = webhooks.webhook_endpoint_rotate_secret(actor=actor, endpoint=updated)
    webhooks.webhook_endpoint_delete(actor=actor, endpoint=rotated)

    assert updated.events == [COMPLETED, WebhookEvent.TASK_COMPLETED]
    assert updated.is_active is False
    assert rotated.secret.startswith("whsec_")
    assert rotated.secret != old_secret
    assert not WebhookEndpoint.objects.exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="webhook.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "webhook.create",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.delete",
    ]
    update = AuditEvent.objects.get(action="webhook.update")
    assert update.before == {"events": [COMPLETED], "is_active": True}
    assert all(
        old_secret not in json.dumps(e.after) and rotated.secret not in json.dumps(e.after)
        for e in AuditEvent.objects.all()
    )


def test_another_labs_endpoint_cannot_be_changed(local_hosts):
    endpoint = endpoint_for(manager_actor(), "https://hooks.example.com/in")
    stranger = manager_actor()

    with pytest.raises(NotFound):
        webhooks.webhook_endpoint_update(actor=stranger, endpoint=endpoint, is_active=False)

    endpoint.refresh_from_db()
    assert endpoint.is_active is True


# Emitting ----------------------------------------------------------------------------------


def test_emit_records_one_delivery_per_subscribed_active_endpoint_of_the_lab(
    local_hosts, django_capture_on_commit_callbacks
):
    actor = manager_actor()
    subscribed = endpoint_for(actor, "https://hooks.example.com/a", [COMPLETED])
    endpoint_for(actor, "https://hooks.example.com/b", [WebhookEvent.TASK_COMPLETED])
    disabled = endpoint_for(actor, "https://hooks.example.com/c", [COMPLETED])
    webhooks.webhook_endpoint_update(actor=actor, endpoint=disabled, is_active=False)
    endpoint_for(manager_actor(), "https://hooks.example.com/other-lab", [COMPLETED])

    with django_capture_on_commit_callbacks() as queued:
        count = webhooks.webhook_event_emit(
            organization=actor.organization, event=COMPLETED, data={"project": "p-1"}
        )

    assert count == 1
    assert len(queued) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == subscribed
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 0
    assert delivery.payload["id"] == str(delivery.public_id)
    assert delivery.payload["type"] == COMPLETED
    assert delivery.payload["data"] == {"project": "p-1"}
    assert delivery.payload["created"].startswith(str(timezone.now().year))


def test_emit_without_subscribers_records_nothing(local_hosts, django_capture_on_commit_callbacks):
    actor = manager_actor()
    endpoint_for(actor, "https://hooks.example.com/a", [WebhookEvent.TASK_COMPLETED])

    with django_capture_on_commit_callbacks() as queued:
        count = webhooks.webhook_event_emit(
            organization=actor.organization, event=COMPLETED, data={}
        )

    assert count == 0
    assert queued == []
    assert not WebhookDelivery.objects.exists()


def test_completing_a_project_emits_project_completed(
    local_hosts, receiver, django_capture_on_commit_callbacks
):
    actor = manager_actor()
    project = active_project(actor)
    endpoint = endpoint_for(actor, receiver.url, [COMPLETED])

    with django_capture_on_commit_callbacks(execute=True):
        services.project_complete(actor=actor, project=project)

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event == COMPLETED
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.payload["data"]["project"] == str(project.public_id)
    assert delivery.payload["data"]["title"] == project.title
    [(headers, body)] = receiver.received
    assert json.loads(body) == delivery.payload
    assert webhook_signature_verify(endpoint.secret, headers["Webhook-Signature"], body)


# Sending -----------------------------------------------------------------------------------


def test_a_delivery_is_signed_and_posted(local_hosts, receiver):
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    delivery = emitted_delivery(actor, endpoint)

    outcome = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert outcome == webhooks.DeliveryOutcome(status=DeliveryStatus.DELIVERED)
    [(headers, body)] = receiver.received
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"].startswith("ExpertMarketplace-Webhooks/")
    assert headers["Webhook-Id"] == str(delivery.public_id)
    timestamp = int(headers["Webhook-Timestamp"])
    assert abs(timestamp - timezone.now().timestamp()) < 60
    assert headers["Webhook-Signature"] == webhook_signature_header(
        endpoint.secret, timestamp, body
    )
    assert webhook_signature_verify(endpoint.secret, headers["Webhook-Signature"], body)
    assert json.loads(body) == {
        "id": str(delivery.public_id),
        "type": COMPLETED,
        "created": delivery.payload["created"],
        "data": {"project": "p-1"},
    }
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 1
    assert delivery.response_status == 200
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None


def test_a_failed_attempt_is_retried_with_exponential_backoff(local_hosts, receiver):
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    delivery = emitted_delivery(actor, endpoint)
    receiver.statuses = [500, 503]

    first = webhooks.webhook_delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    first_due = delivery.next_attempt_at
    make_due(delivery)
    second = webhooks.webhook_delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    make_due(delivery)
    third = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert first == webhooks.DeliveryOutcome(status=DeliveryStatus.RETRYING, retry_in_seconds=60)
    assert abs((first_due - timezone.now()).total_seconds() - 60) < 10
    assert second == webhooks.DeliveryOutcome(status=DeliveryStatus.RETRYING, retry_in_seconds=120)
    assert third == webhooks.DeliveryOutcome(status=DeliveryStatus.DELIVERED)
    assert len(receiver.received) == 3
    ids = {headers["Webhook-Id"] for headers, _ in receiver.received}
    assert ids == {str(delivery.public_id)}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, "")


def test_the_backoff_doubles_up_to_six_hours():
    delays = [webhooks.retry_delay_seconds(n) for n in (1, 2, 3, 8, 9, 10, 20)]

    assert delays == [60, 120, 240, 7680, 15360, 21600, 21600]


def test_a_delivery_fails_after_the_attempt_cap(local_hosts, receiver):
    local_hosts.WEBHOOK_MAX_ATTEMPTS = 3
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    delivery = emitted_delivery(actor, endpoint)
    receiver.statuses = [500, 500, 500, 500]

    outcomes = []
    for _ in range(3):
        make_due(delivery)
        outcomes.append(webhooks.webhook_delivery_send(delivery_id=delivery.pk))

    assert [o.status for o in outcomes] == ["retrying", "retrying", "failed"]
    assert outcomes[-1].retry_in_seconds is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3
    assert delivery.response_status == 500
    assert delivery.last_error == "HTTP 500."
    assert delivery.next_attempt_at is None
    assert len(receiver.received) == 3


def test_sending_twice_is_harmless(local_hosts, receiver):
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    delivery = emitted_delivery(actor, endpoint)

    webhooks.webhook_delivery_send(delivery_id=delivery.pk)
    again = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert again == webhooks.DeliveryOutcome(status=DeliveryStatus.DELIVERED)
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_a_retry_that_is_not_due_yet_sends_nothing(local_hosts, receiver):
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    delivery = emitted_delivery(actor, endpoint)
    receiver.statuses = [500]
    webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    early = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert early == webhooks.DeliveryOutcome(status=DeliveryStatus.RETRYING)
    assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1


def test_redirects_are_not_followed(local_hosts, receiver):
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    delivery = emitted_delivery(actor, endpoint)
    receiver.statuses = [302]

    outcome = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert outcome.status == DeliveryStatus.RETRYING
    delivery.refresh_from_db()
    assert delivery.last_error == "HTTP 302: redirects are not followed."
    assert len(receiver.received) == 1


def test_an_unreachable_endpoint_records_the_error(local_hosts):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    actor = manager_actor()
    endpoint = endpoint_for(actor, f"http://127.0.0.1:{port}/in")
    delivery = emitted_delivery(actor, endpoint)

    outcome = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert outcome == webhooks.DeliveryOutcome(status=DeliveryStatus.RETRYING, retry_in_seconds=60)
    delivery.refresh_from_db()
    assert delivery.response_status is None
    assert delivery.last_error.startswith("ConnectionError")
    assert len(delivery.last_error) <= 300


def test_a_disabled_endpoint_fails_its_queued_deliveries_without_sending(local_hosts, receiver):
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    delivery = emitted_delivery(actor, endpoint)
    webhooks.webhook_endpoint_update(actor=actor, endpoint=endpoint, is_active=False)

    outcome = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert outcome == webhooks.DeliveryOutcome(status=DeliveryStatus.FAILED)
    assert receiver.received == []
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 0)
    assert delivery.last_error == "The endpoint was disabled."


def test_a_deleted_endpoint_leaves_nothing_to_send(local_hosts, receiver):
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    delivery = emitted_delivery(actor, endpoint)
    webhooks.webhook_endpoint_delete(actor=actor, endpoint=endpoint)

    outcome = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert outcome == webhooks.DeliveryOutcome(status="deleted")
    assert receiver.received == []


def test_the_host_is_checked_again_when_sending(local_hosts, receiver):
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    delivery = emitted_delivery(actor, endpoint)
    local_hosts.WEBHOOK_ALLOW_PRIVATE_HOSTS = False

    outcome = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert outcome.status == DeliveryStatus.RETRYING
    assert receiver.received == []
    delivery.refresh_from_db()
    assert "private" in delivery.last_error


def test_the_celery_task_runs_one_attempt_per_due_time(
    local_hosts, receiver, django_capture_on_commit_callbacks
):
    """Eagerly, Celery retries at once; the early retry must not hammer the endpoint, and the
    retry must not surface in the request that emitted the event."""
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    receiver.statuses = [500]

    with django_capture_on_commit_callbacks(execute=True):
        webhooks.webhook_event_emit(organization=actor.organization, event=COMPLETED, data={})

    assert len(receiver.received) == 1
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts) == ("retrying", 1)


# Redelivery and lost messages --------------------------------------------------------------


def test_redeliver_sends_the_same_body_as_a_new_delivery(
    local_hosts, receiver, django_capture_on_commit_callbacks
):
    actor = manager_actor()
    endpoint = endpoint_for(actor, receiver.url)
    delivery = emitted_delivery(actor, endpoint)
    webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    with django_capture_on_commit_callbacks(execute=True):
        redelivery = webhooks.webhook_delivery_redeliver(actor=actor, delivery=delivery)

    redelivery.refresh_from_db()
    assert redelivery.pk != delivery.pk
    assert redelivery.payload == delivery.payload
    assert redelivery.status == DeliveryStatus.DELIVERED
    first, second = receiver.received
    assert first[1] == second[1]
    assert second[0]["Webhook-Id"] == str(redelivery.public_id)
    assert AuditEvent.objects.filter(action="webhook.redeliver").count() == 1


def test_redeliver_needs_an_active_endpoint_and_a_manager(local_hosts):
    actor = manager_actor()
    endpoint = endpoint_for(actor, "https://hooks.example.com/in")
    delivery = emitted_delivery(actor, endpoint)
    viewer = LabActor(organization=actor.organization, user=None, api_key=None, role="viewer")

    with pytest.raises(PermissionDenied):
        webhooks.webhook_delivery_redeliver(actor=viewer, delivery=delivery)
    webhooks.webhook_endpoint_update(actor=actor, endpoint=endpoint, is_active=False)
    with pytest.raises(Conflict, match="disabled"):
        webhooks.webhook_delivery_redeliver(actor=actor, delivery=delivery)

    assert WebhookDelivery.objects.count() == 1


def test_lost_deliveries_are_queued_again(local_hosts, django_capture_on_commit_callbacks):
    actor = manager_actor()
    endpoint = endpoint_for(actor, "https://hooks.example.com/in")
    lost = emitted_delivery(actor, endpoint)
    WebhookDelivery.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(minutes=30)
    )
    webhooks.webhook_event_emit(organization=actor.organization, event=COMPLETED, data={})

    with django_capture_on_commit_callbacks() as queued:
        count = webhooks.webhook_deliveries_requeue_due()

    assert count == 1
    assert len(queued) == 1


def test_a_send_connects_to_the_address_it_checked(local_hosts, receiver, monkeypatch):
    """One lookup per send, and the connection goes to its answer: a second lookup could
    return an internal address (DNS rebinding). The Host header keeps the endpoint's name."""
    actor = manager_actor()
    port = receiver.server_address[1]
    endpoint = endpoint_for(actor, f"http://hooks.lab.test:{port}/in")
    delivery = emitted_delivery(actor, endpoint)
    lookups: list[str] = []

    def resolve(host, port, *args, **kwargs):
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", resolve)
    outcome = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert outcome.status == DeliveryStatus.DELIVERED
    # Connecting to the literal address asks the resolver too, but no name is looked up again.
    assert lookups == ["hooks.lab.test", "127.0.0.1"]
    [(headers, _)] = receiver.received
    assert headers["Host"] == f"hooks.lab.test:{port}"


def test_a_host_that_turned_private_is_refused_at_send_time(production, receiver, monkeypatch):
    actor = manager_actor()
    monkeypatch.setattr(
        webhooks.socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))
        ],
    )
    endpoint = endpoint_for(actor, "https://hooks.lab.test/in")
    delivery = emitted_delivery(actor, endpoint)
    monkeypatch.setattr(
        webhooks.socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))
        ],
    )

    outcome = webhooks.webhook_delivery_send(delivery_id=delivery.pk)

    assert outcome.status == DeliveryStatus.RETRYING
    delivery.refresh_from_db()
    assert delivery.response_status is None
    assert "private, loopback or link-local" in delivery.last_error
    assert receiver.received == []
