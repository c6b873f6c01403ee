"""Which requests may send a large file: only signed-in ones, to the task-import endpoints."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadhandler import StopUpload

from marketplace.uploads import CappedUploadHandler
from tests import factories

IMPORT_PATH = "/labs/acme/projects/0b8a8f4e-0000-4000-8000-000000000000/imports/"


@pytest.fixture
def caps(settings):
    settings.MAX_UPLOAD_SIZE = 100
    settings.MAX_TASK_IMPORT_SIZE = 10_000
    return settings


def reads(request, size: int) -> bool:
    handler = CappedUploadHandler(request)
    handler.new_file("file", "tasks.jsonl", "application/x-ndjson", size)
    try:
        handler.receive_data_chunk(b"x" * size, 0)
    except StopUpload:
        return False
    return True


@pytest.mark.django_db
def test_a_signed_in_user_may_send_a_task_file_past_the_ordinary_cap(rf, caps):
    request = rf.post(IMPORT_PATH)
    request.user = factories.lab_user()
    assert reads(request, 5_000)
    assert not reads(request, 20_000)


def test_anonymous_requests_get_the_ordinary_cap_even_on_import_paths(rf, caps):
    request = rf.post(IMPORT_PATH)
    request.user = AnonymousUser()
    assert not reads(request, 5_000)
    assert request.upload_too_large is True


@pytest.mark.django_db
def test_other_paths_keep_the_ordinary_cap(rf, caps):
    request = rf.post("/expert/credentials/1/documents/")
    request.user = factories.expert()
    assert not reads(request, 5_000)
