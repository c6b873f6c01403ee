"""The Exports tab, streamed downloads, background exports with progress, signed links,
manifest and card, and the export API: content, scope (404), expiry (410) and query counts."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import timedelta
from typing import Any

import orjson
import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.models import AuditEvent
from projects.exports import services
from projects.exports.models import DatasetExport
from projects.models import Annotation, Project
from projects.states import ExportStatus
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import lab_viewer, submit_next, workspace

pytestmark = pytest.mark.django_db


def url(name: str, project: Project, *args: Any) -> str:
    return reverse(f"projects:{name}", args=[project.organization.slug, project.public_id, *args])


def api(name: str, project: Project, *args: Any) -> str:
    return reverse(f"api:{name}", args=[project.public_id, *args])


def content_of(response) -> bytes:
    return b"".join(response.streaming_content)


def answered(experts: int = 2, tasks: int = 2, **fields: Any):
    actor, project, people = workspace(experts=experts, task_count=tasks, overlap=experts, **fields)
    annotations = [submit_next(expert, project) for expert in people for _ in range(tasks)]
    return actor, project, annotations


def prepared(client, project: Project, django_capture_on_commit_callbacks, **data: Any):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("exports", project), {"format": "jsonl", "shape": "training", **data}
        )
    assert response.status_code == 302
    return DatasetExport.objects.filter(project=project).latest("id")


# The page ---------------------------------------------------------------------------------


def test_the_exports_tab_offers_the_options_and_the_dpo_download(client):
    actor, project, _ = answered()
    client.force_login(actor.user)

    response = client.get(url("exports", project))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'aria-current="page">Exports' in page
    assert "4 annotations on 2 items so far." in page
    assert 'data-testid="download-now"' in page
    dpo = "?format=jsonl&amp;shape=training&amp;exclude_ties=1"
    assert f'href="{url("export_download", project)}{dpo}"' in page
    assert 'data-testid="download-dpo"' in page
    assert "No exports yet." in page


def test_the_dpo_link_downloads_dpo_rows_that_parse(client):
    actor, project, annotations = answered()
    client.force_login(actor.user)

    response = client.get(
        url("export_download", project) + "?format=jsonl&shape=training&exclude_ties=1"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    today = timezone.now().date().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="medication-safety-preferences-training-{today}.jsonl"'
    )
    rows = [orjson.loads(line) for line in content_of(response).splitlines()]
    assert len(rows) == len(annotations)
    for row in rows:
        assert all(row[key] for key in ("prompt", "chosen", "rejected"))
        assert row["margin"] == 2
        assert row["provenance"]["export_id"] == response["X-Export-Id"]
    export = DatasetExport.objects.get(public_id=response["X-Export-Id"])
    assert export.status == ExportStatus.READY
    assert export.filters["exclude_ties"] is True
    assert AuditEvent.objects.filter(action="project.export").count() == 1


def test_download_now_sends_the_browser_to_the_streamed_download(client):
    actor, project, _ = answered()
    client.force_login(actor.user)

    response = client.post(
        url("exports", project),
        {
            "action": "download",
            "format": "csv",
            "shape": "raw",
            "accepted_only": "1",
            "min_agreement": "0.5",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == (
        url("export_download", project) + "?format=csv&shape=raw&accepted_only=1&min_agreement=0.5"
    )
    assert not DatasetExport.objects.exists()


def test_a_wrong_option_is_shown_on_the_form(client):
    actor, project, _ = answered()
    client.force_login(actor.user)

    response = client.post(
        url("exports", project),
        {"action": "prepare", "format": "jsonl", "shape": "training", "min_agreement": "7"},
    )

    assert response.status_code == 400
    assert "The minimum agreement is a share from 0 to 1" in response.content.decode()
    assert not DatasetExport.objects.exists()


def test_a_background_export_shows_progress_then_its_links(
    client, django_capture_on_commit_callbacks
):
    actor, project, _ = answered()
    client.force_login(actor.user)
    pending = DatasetExport.objects.create(
        project=project, format="csv", shape="raw", total_rows=4, written_rows=1,
        status=ExportStatus.RUNNING,
    )  # fmt: skip

    export = prepared(client, project, django_capture_on_commit_callbacks, format="parquet")
    page = client.get(url("exports", project)).content.decode()
    fragment = client.get(url("export_status", project, pending.public_id)).content.decode()

    assert export.status == ExportStatus.READY
    assert f'hx-get="{url("export_status", project, pending.public_id)}"' in page
    assert 'value="25" max="100"' in page
    assert "1 of 4 rows" in fragment
    assert 'hx-trigger="every 1s"' in fragment
    # The signed token carries the second it was made: compare all but its time and
    # signature, then check the page's own token opens the file.
    token = services.export_download_token(export)
    link = url("export_file", project, export.public_id, token)
    prefix = link[: link.index(token)] + token.split(":")[0] + ":"
    shown = re.search(r'href="(' + re.escape(prefix) + r'[^"]+)"', page)
    assert shown is not None
    assert client.get(shown.group(1)).status_code == 200
    assert f'href="{url("export_manifest", project, export.public_id)}"' in page
    assert export.sha256[:12] in page
    ready = client.get(url("export_status", project, export.public_id)).content.decode()
    assert "hx-get" not in ready


def test_the_signed_link_downloads_the_file_without_a_session(
    client, django_capture_on_commit_callbacks
):
    actor, project, _ = answered()
    client.force_login(actor.user)
    export = prepared(client, project, django_capture_on_commit_callbacks, format="csv")
    client.logout()

    response = client.get(
        url("export_file", project, export.public_id, services.export_download_token(export))
    )

    content = b"".join(response.streaming_content)
    assert response.status_code == 200
    assert hashlib.sha256(content).hexdigest() == export.sha256 == response["X-Export-Sha256"]
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert len(rows) == 4


def test_tampered_and_expired_links_are_refused(client, django_capture_on_commit_callbacks):
    actor, project, _ = answered()
    client.force_login(actor.user)
    export = prepared(client, project, django_capture_on_commit_callbacks)
    token = services.export_download_token(export)
    client.logout()

    tampered = client.get(url("export_file", project, export.public_id, token + "x"))
    other = project_factories.active_project()
    elsewhere = client.get(
        reverse(
            "projects:export_file",
            args=[other.organization.slug, project.public_id, export.public_id, token],
        )
    )
    DatasetExport.objects.filter(pk=export.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = client.get(url("export_file", project, export.public_id, token))

    assert (tampered.status_code, elsewhere.status_code) == (404, 404)
    assert expired.status_code == 410
    assert "This download link has expired" in expired.content.decode()


def test_manifest_and_card_describe_the_export(client, django_capture_on_commit_callbacks):
    actor, project, _ = answered()
    client.force_login(actor.user)
    export = prepared(client, project, django_capture_on_commit_callbacks)

    manifest = client.get(url("export_manifest", project, export.public_id))
    card = client.get(url("export_card", project, export.public_id))

    assert manifest.json() == export.manifest
    assert manifest.json()["file"]["sha256"] == export.sha256
    assert card["Content-Type"] == "text/markdown; charset=utf-8"
    assert card.content.decode() == export.dataset_card
    assert card.content.decode().startswith("# Medication safety preferences")


def test_a_viewer_may_export(client):
    actor, project, annotations = answered()
    client.force_login(lab_viewer(actor))

    response = client.get(url("export_download", project) + "?format=jsonl&shape=raw")

    assert response.status_code == 200
    assert len(content_of(response).splitlines()) == len(annotations)


def test_another_labs_exports_are_not_found(client, django_capture_on_commit_callbacks):
    actor, project, _ = answered()
    client.force_login(actor.user)
    export = prepared(client, project, django_capture_on_commit_callbacks)
    stranger = project_factories.manager_actor()
    client.force_login(stranger.user)
    before = DatasetExport.objects.count()

    pages = [
        client.get(url("exports", project)),
        client.post(url("exports", project), {"format": "jsonl", "shape": "training"}),
        client.get(url("export_download", project) + "?format=jsonl&shape=training"),
        client.get(url("export_status", project, export.public_id)),
        client.get(url("export_manifest", project, export.public_id)),
        client.get(url("export_card", project, export.public_id)),
        client.get(api("project-export-list", project)),
        client.post(
            api("project-export-list", project),
            {"format": "jsonl", "shape": "training"},
            content_type="application/json",
        ),
        client.get(api("project-export-download", project) + "?format=jsonl&shape=raw"),
        client.get(api("project-export-detail", project, export.public_id)),
        client.get(api("project-export-manifest", project, export.public_id)),
        client.get(api("project-export-card", project, export.public_id)),
    ]

    assert [page.status_code for page in pages] == [404] * len(pages)
    assert DatasetExport.objects.count() == before


def test_an_export_of_another_project_is_not_found_under_mine(
    client, django_capture_on_commit_callbacks
):
    actor, project, _ = answered()
    client.force_login(actor.user)
    export = prepared(client, project, django_capture_on_commit_callbacks)
    mine = project_factories.active_project(actor)

    assert client.get(url("export_status", mine, export.public_id)).status_code == 404
    assert client.get(url("export_manifest", mine, export.public_id)).status_code == 404
    assert client.get(api("project-export-detail", mine, export.public_id)).status_code == 404


# Query counts -----------------------------------------------------------------------------


def test_the_exports_tab_takes_a_fixed_number_of_queries(client, django_assert_num_queries):
    actor, project, _ = answered()
    client.force_login(actor.user)
    for _ in range(2):
        DatasetExport.objects.create(project=project, format="jsonl", shape="training")
    client.get(url("exports", project))

    with django_assert_num_queries(9) as few:
        client.get(url("exports", project))
    for _ in range(6):
        DatasetExport.objects.create(
            project=project, format="csv", shape="raw", status=ExportStatus.READY,
            file="exports/x/file.csv", expires_at=timezone.now() + timedelta(days=1),
            manifest={"rows": 1},
        )  # fmt: skip
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url("exports", project))
    assert response.content.decode().count('data-testid="export-row"') == 8


def annotations_of(project: Project, count: int) -> None:
    """Clone the project's first annotation onto new tasks until it has ``count``."""
    first = Annotation.objects.filter(project=project).first()
    task = first.task
    existing = Annotation.objects.filter(project=project).count()
    for n in range(existing, count):
        clone = task.__class__.objects.create(
            project=project, external_id=f"clone-{n}", data=task.data, reserved_count=1,
            annotation_count=1,
        )  # fmt: skip
        Annotation.objects.create(
            task=clone, project=project, expert=first.expert, result=first.result,
            confidence=first.confidence, guidelines_version=first.guidelines_version,
            submitted_at=first.submitted_at,
        )  # fmt: skip


def test_streaming_takes_the_same_queries_for_5_and_50_rows(client, django_assert_num_queries):
    actor, project, _ = answered(experts=5, tasks=1)
    client.force_login(actor.user)
    download = url("export_download", project) + "?format=jsonl&shape=training"

    with django_assert_num_queries(19) as five:
        assert len(content_of(client.get(download)).splitlines()) == 5
    annotations_of(project, 50)
    with django_assert_num_queries(len(five.captured_queries)):
        assert len(content_of(client.get(download)).splitlines()) == 50


# API --------------------------------------------------------------------------------------


def test_the_api_creates_an_export_and_lists_it_with_its_links(
    client, django_capture_on_commit_callbacks
):
    actor, project, _ = answered()
    client.force_login(actor.user)

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(
            api("project-export-list", project),
            {"format": "parquet", "shape": "consensus", "filters": {"accepted_only": False}},
            content_type="application/json",
        )
    assert created.status_code == 201
    assert created.json()["status"] == "pending"
    detail = client.get(api("project-export-detail", project, created.json()["id"])).json()
    listed = client.get(api("project-export-list", project)).json()

    export = DatasetExport.objects.get()
    assert detail["status"] == "ready"
    assert detail["progress_percent"] == 100
    assert detail["sha256"] == export.sha256
    assert detail["delivery"] == "file"
    assert detail["download_url"] == "http://testserver" + url(
        "export_file", project, export.public_id, services.export_download_token(export)
    )
    assert detail["manifest_url"].endswith(
        api("project-export-manifest", project, export.public_id)
    )
    assert listed["results"] == [detail]
    assert client.get(detail["manifest_url"]).json() == export.manifest
    assert client.get(detail["card_url"]).content.decode() == export.dataset_card
    client.logout()
    assert client.get(detail["download_url"]).status_code == 200


def test_the_api_streams_small_exports(client):
    actor, project, annotations = answered()
    client.force_login(actor.user)

    response = client.get(
        api("project-export-download", project) + "?format=csv&shape=training&exclude_gold=1"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(content_of(response).decode())))
    assert {row["provenance.annotation_id"] for row in rows} == {
        str(a.public_id) for a in annotations
    }


def test_the_api_names_a_wrong_option(client, settings):
    actor, project, _ = answered()
    client.force_login(actor.user)

    wrong = client.get(api("project-export-download", project) + "?format=xml")
    unknown = client.post(
        api("project-export-list", project),
        {"format": "jsonl", "shape": "training", "filters": {"colour": "red"}},
        content_type="application/json",
    )
    settings.EXPORT_STREAM_MAX_ROWS = 1
    big = client.get(api("project-export-download", project) + "?format=jsonl")

    assert (wrong.status_code, wrong.json()) == (
        400,
        {"detail": "Choose a format: jsonl, csv, parquet.", "field": "format"},
    )
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"filters": {"colour": ["Unknown field."]}},
    )
    assert big.status_code == 409
    assert not DatasetExport.objects.exists()


def test_the_api_list_takes_a_fixed_number_of_queries(client, django_assert_num_queries):
    actor, project, _ = answered()
    client.force_login(actor.user)
    DatasetExport.objects.create(project=project, format="jsonl", shape="training")
    client.get(api("project-export-list", project))

    with django_assert_num_queries(6) as few:
        client.get(api("project-export-list", project))
    for _ in range(5):
        DatasetExport.objects.create(
            project=project, format="csv", shape="raw", status=ExportStatus.READY,
            file="exports/x/file.csv", expires_at=timezone.now() + timedelta(days=1),
        )  # fmt: skip
    with django_assert_num_queries(len(few.captured_queries)):
        assert len(client.get(api("project-export-list", project)).json()["results"]) == 6
