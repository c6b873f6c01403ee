"""The scheduled credential jobs, run as Celery tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from experts.models import Credential
from experts.states import CredentialStatus
from experts.tasks import review_expired_credentials, warn_expiring_credentials
from marketplace.models import Notification
from tests.experts import factories as ef
from tests.factories import expert

pytestmark = pytest.mark.django_db


def test_beat_runs_both_credential_jobs_daily():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    assert {
        "experts.tasks.review_expired_credentials",
        "experts.tasks.warn_expiring_credentials",
    } <= tasks


def test_tasks_are_idempotent(django_capture_on_commit_callbacks):
    person = expert()
    today = timezone.localdate()
    soon = ef.verified_credential(person, expires_on=today + timedelta(days=10))
    gone = ef.verified_credential(person, title="Licence", expires_on=today + timedelta(days=90))
    Credential.objects.filter(pk=gone.pk).update(expires_on=today - timedelta(days=2))

    with django_capture_on_commit_callbacks(execute=True):
        assert warn_expiring_credentials.delay().get() == 1
        assert review_expired_credentials.delay().get() == 1
        assert warn_expiring_credentials.delay().get() == 0
        assert review_expired_credentials.delay().get() == 0

    assert Credential.objects.get(pk=gone.pk).status == CredentialStatus.SUBMITTED
    assert Credential.objects.get(pk=soon.pk).status == CredentialStatus.VERIFIED
    assert Notification.objects.filter(recipient=person, kind="credential.expiring").count() == 1
    assert Notification.objects.filter(recipient=person, kind="credential.expired").count() == 1
