"""A real Celery worker delivers a committed webhook event to a real HTTP server, signed.

The worker is the same kind of process as in ``test_celery_worker`` (its own queue, the test
database); the receiving server runs in a thread of this test process on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from django.db import transaction

from projects.models import WebhookDelivery
from projects.services import webhooks
from projects.states import DeliveryStatus, WebhookEvent
from projects.webhooks import webhook_signature_verify
from tests.integration.test_celery_worker import (  # noqa: F401 - fixtures
    DELIVERY_TIMEOUT,
    Worker,
    _wait_until,
    celery_worker,
    worker,
)
from tests.projects.factories import manager_actor
from tests.projects.test_webhooks import Receiver, start_receiver

pytestmark = [pytest.mark.postgres, pytest.mark.celery]


@pytest.fixture(scope="module", autouse=True)
def _worker_may_call_localhost() -> Iterator[None]:
    """The worker inherits the environment: let it post to 127.0.0.1 (autouse fixtures of
    a scope run before the others, so this is set before the worker starts)."""
    saved = os.environ.get("WEBHOOK_ALLOW_PRIVATE_HOSTS")
    os.environ["WEBHOOK_ALLOW_PRIVATE_HOSTS"] = "1"
    yield
    if saved is None:
        os.environ.pop("WEBHOOK_ALLOW_PRIVATE_HOSTS", None)
    else:
        os.environ["WEBHOOK_ALLOW_PRIVATE_HOSTS"] = saved


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = start_receiver()
    yield server
    server.shutdown()
    server.server_close()


def test_a_committed_event_is_delivered_by_the_worker(
    worker: Worker,  # noqa: F811 - the fixture imported above
    receiver,
    settings,
):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    actor = manager_actor()
    endpoint = webhooks.webhook_endpoint_create(
        actor=actor, url=receiver.url, events=[WebhookEvent.PROJECT_COMPLETED]
    )

    with transaction.atomic():
        queued = webhooks.webhook_event_emit(
            organization=actor.organization,
            event=WebhookEvent.PROJECT_COMPLETED,
            data={"project": "p-integration"},
        )
        # Nothing is sent before the transaction commits.
        assert not receiver.got_one.wait(timeout=0.5)

    assert queued == 1
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    def delivered() -> bool:
        delivery.refresh_from_db()
        return delivery.status == DeliveryStatus.DELIVERED

    _wait_until(
        delivered,
        timeout=DELIVERY_TIMEOUT,
        worker=worker,
        what=f"the worker to deliver webhook delivery {delivery.pk}",
    )

    [(headers, body)] = receiver.received
    assert webhook_signature_verify(endpoint.secret, headers["Webhook-Signature"], body)
    assert headers["Webhook-Id"] == str(delivery.public_id)
    assert json.loads(body) == {
        "id": str(delivery.public_id),
        "type": "project.completed",
        "created": delivery.payload["created"],
        "data": {"project": "p-integration"},
    }
    assert delivery.attempts == 1
    assert delivery.response_status == 200
