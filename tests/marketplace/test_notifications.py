"""Notifications: in-app list, unread count, and e-mail sent only after commit."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from marketplace import services
from marketplace.errors import InvalidInput
from marketplace.models import Notification
from marketplace.tasks import send_notification_email
from tests.factories import expert

pytestmark = pytest.mark.django_db


def test_notification_email_is_sent_after_commit(django_capture_on_commit_callbacks):
    user = expert()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = services.notification_create(
            recipient=user, kind="test", text="Your credential was verified", link="/expert/"
        )
        assert mail.outbox == []

    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "Your credential was verified" in mail.outbox[0].body
    assert "/expert/" in mail.outbox[0].body
    notification.refresh_from_db()
    assert notification.emailed_at is not None


def test_rolled_back_work_sends_nothing(django_capture_on_commit_callbacks):
    user = expert()

    def failing_work() -> None:
        with transaction.atomic():
            services.notification_create(recipient=user, kind="test", text="Never")
            raise RuntimeError("the surrounding work failed")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        failing_work()

    assert callbacks == []
    assert mail.outbox == []
    assert not Notification.objects.exists()


def test_the_email_task_is_idempotent():
    user = expert()
    notification = services.notification_create(recipient=user, kind="test", text="Once")

    assert send_notification_email.delay(notification.pk).get() is True
    assert send_notification_email.delay(notification.pk).get() is False
    assert send_notification_email.delay(999_999).get() is False

    assert len(mail.outbox) == 1


def test_unread_count_list_and_mark_read(client, django_assert_num_queries):
    user = expert()
    other = expert()
    for i in range(3):
        services.notification_create(
            recipient=user, kind="test", text=f"Note {i}", send_email=False
        )
    foreign = services.notification_create(
        recipient=other, kind="test", text="Not yours", send_email=False
    )
    client.force_login(user)
    client.get(reverse("notification_list"))

    # session, user, unread count, page count, page rows
    with django_assert_num_queries(5):
        page = client.get(reverse("notification_list")).content.decode()

    assert 'data-testid="unread-count">3<' in page
    assert "Not yours" not in page
    first = Notification.objects.filter(recipient=user).first()
    fragment = client.post(
        reverse("notification_read", args=[first.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'id="notification-{first.pk}"' in fragment
    assert "Mark read" not in fragment
    assert '<span id="unread-badge" hx-swap-oob="true">' in fragment
    assert 'data-testid="unread-count">2<' in fragment
    first.refresh_from_db()
    assert first.read_at is not None

    assert client.post(reverse("notification_read", args=[foreign.pk])).status_code == 404
    foreign.refresh_from_db()
    assert foreign.read_at is None

    client.post(reverse("notification_read_all"))
    assert not Notification.objects.filter(recipient=user, read_at__isnull=True).exists()
    page = client.get(reverse("notification_list")).content.decode()
    assert 'data-testid="unread-count"' not in page


def test_notification_text_is_escaped(client):
    user = expert()
    services.notification_create(
        recipient=user, kind="test", text="<script>alert(1)</script>", send_email=False
    )
    client.force_login(user)

    page = client.get(reverse("notification_list")).content.decode()

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_read_timestamps_do_not_move(client):
    user = expert()
    notification = services.notification_create(
        recipient=user, kind="test", text="x", send_email=False
    )
    earlier = timezone.now() - timezone.timedelta(days=1)
    Notification.objects.filter(pk=notification.pk).update(read_at=earlier)
    client.force_login(user)

    client.post(reverse("notification_read", args=[notification.pk]))

    notification.refresh_from_db()
    assert notification.read_at == earlier


@pytest.mark.parametrize(
    "link", ["//evil.example/x", "https://evil.example", "@evil.example", "/\\evil.example"]
)
def test_notification_links_must_stay_on_the_site(link):
    user = expert()

    with pytest.raises(InvalidInput, match="path on this site"):
        services.notification_create(recipient=user, kind="test", text="x", link=link)

    assert not Notification.objects.exists()


def test_reading_a_notification_never_redirects_off_site(client):
    user = expert()
    notification = services.notification_create(
        recipient=user, kind="test", text="x", send_email=False
    )
    Notification.objects.filter(pk=notification.pk).update(link="//evil.example/x")
    client.force_login(user)

    response = client.post(reverse("notification_read", args=[notification.pk]))

    assert response.url == reverse("notification_list")
