"""The lab REST API: projects, guidelines, tasks, imports, progress, task types, webhooks."""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace import services as core_services
from marketplace.models import AuditEvent, Membership, Organization, User
from marketplace.states import MembershipRole
from projects import services
from projects.models import (
    GuidelineVersion,
    Project,
    ProjectFunding,
    Task,
    TaskImport,
    WebhookDelivery,
    WebhookEndpoint,
)
from projects.services import webhooks as webhook_services
from projects.states import ProjectStatus, WebhookEvent
from projects.task_types import REGISTRY
from tests import factories
from tests.payments.factories import fund_lab
from tests.projects.factories import manager_actor, project, tasks

pytestmark = pytest.mark.django_db

COMPLETED = WebhookEvent.PROJECT_COMPLETED


@dataclass
class Lab:
    organization: Organization
    owner: User
    key: str

    @property
    def header(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Api-Key {self.key}"}


def new_lab(name: str = "Helix Labs") -> Lab:
    owner = factories.lab_user()
    organization = factories.organization(owner=owner, name=name)
    membership = Membership.objects.get(organization=organization, user=owner)
    issued = core_services.api_key_create(membership=membership, name="ci")
    return Lab(organization=organization, owner=owner, key=issued.secret)


def actor_of(lab: Lab):
    return manager_actor(lab.organization, lab.owner)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def lab() -> Lab:
    return new_lab("Helix Labs")


@pytest.fixture
def other_lab() -> Lab:
    return new_lab("Other Lab")


@pytest.fixture
def webhooks_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    return settings


def url(name: str, *args: Any) -> str:
    return reverse(f"api:{name}", args=args)


def rows(count: int, *, prefix: str = "q", gold: bool = False) -> list[dict[str, Any]]:
    """Valid pairwise rows, as a lab would send them."""
    made = []
    for n in range(count):
        row: dict[str, Any] = {
            "external_id": f"{prefix}-{n}",
            "prompt": f"Is it safe to take ibuprofen with lisinopril? (case {n})",
            "response_a": "Occasional use is usually fine; check with your doctor.",
            "response_b": "Yes, there is no interaction.",
        }
        if gold:
            row["gold"] = {
                "preference": "a_much_better",
                "rationale": f"SECRET-GOLD-RATIONALE-{n}",
                "confidence": 95,
            }
            row["gold_explanation"] = "B misses a documented interaction."
        made.append(row)
    return made


PROJECT_BODY: dict[str, Any] = {
    "title": "Medication safety preferences",
    "summary": "Compare two answers to patients' medication questions.",
    "domain": "medicine",
    "task_type": "pairwise",
    "task_settings": {"criteria": ["accuracy", "safety"], "require_rationale": True},
    "overlap": 3,
    "price_per_annotation_cents": 500,
    "seats": 20,
    "languages": ["en"],
    "required_credential_kinds": ["licence"],
    "min_seniority": "mid",
    "gold_rate_percent": 10,
    "min_gold_accuracy_percent": 70,
}


# The README flow ---------------------------------------------------------------------------


def test_the_readme_flow_works_end_to_end_with_an_api_key(api, lab):
    auth = lab.header

    created = api.post(url("project-list"), PROJECT_BODY, format="json", **auth)
    assert created.status_code == 201, created.json()
    body = created.json()
    project_id = body["id"]
    assert body["status"] == "draft"
    assert body["organization"] == lab.organization.slug
    assert body["task_settings"] == {"criteria": ["accuracy", "safety"], "require_rationale": True}
    assert body["guidelines_version"] == 0
    assert body["links"]["tasks"].endswith(f"/api/v1/projects/{project_id}/tasks/")

    guidelines = api.post(
        url("project-guidelines", project_id),
        {"guidelines": "# Guidelines\n\nPrefer the safe answer.", "changelog": "First version."},
        format="json",
        **auth,
    )
    assert guidelines.status_code == 201, guidelines.json()
    assert guidelines.json()["number"] == 1

    batch = api.post(
        url("project-task-list", project_id), {"tasks": rows(1000)}, format="json", **auth
    )
    assert batch.status_code == 201, batch.json()
    assert (batch.json()["created_count"], batch.json()["skipped_count"]) == (1000, 0)
    assert batch.json()["status"] == "succeeded"

    shown = api.get(url("project-detail", project_id), **auth).json()
    assert shown["counts"] == {"tasks": 1000, "gold_tasks": 0, "completed_tasks": 0}
    # 1,000 tasks × 3 annotations, plus 334 gold ones at the default 10% gold rate, × $5 =
    # $16,670, plus the 20% platform fee.
    assert shown["money"]["required_cents"] == 2_000_400
    assert shown["money"]["shortfall_cents"] == 2_000_400
    assert shown["progress"] == {
        "annotations_needed": 3000,
        "annotations_done": 0,
        "percent_done": 0,
    }

    # The lab pays into its balance (Checkout, confirmed by the webhook), then funds the
    # project from it.
    fund_lab(lab.organization, 2_000_400)
    fund_headers = {**auth, "HTTP_IDEMPOTENCY_KEY": "fund-2026-001"}
    funded = api.post(
        url("project-fund", project_id),
        {"amount_cents": shown["money"]["shortfall_cents"]},
        format="json",
        **fund_headers,
    )
    assert funded.status_code == 201, funded.json()
    assert funded.json()["funding"]["amount_cents"] == 2_000_400
    assert funded.json()["project"]["status"] == "funded"
    again = api.post(
        url("project-fund", project_id),
        {"amount_cents": 2_000_400},
        format="json",
        **fund_headers,
    )
    assert again.status_code == 201
    assert again.json()["funding"] == funded.json()["funding"]
    assert again.json()["project"]["money"]["funded_cents"] == 2_000_400
    assert ProjectFunding.objects.count() == 1

    activated = api.post(url("project-activate", project_id), **auth)
    assert activated.status_code == 200, activated.json()
    assert activated.json()["status"] == "active"
    assert activated.json()["money"]["shortfall_cents"] == 0
    assert Task.objects.filter(project__public_id=project_id).count() == 1000
    audit = AuditEvent.objects.filter(action="project.activate").get()
    assert audit.after["api_key"] == lab.key.split("_")[1]


def test_creating_a_project_with_guidelines_publishes_version_one(api, lab):
    body = {**PROJECT_BODY, "guidelines": "# Be careful", "rubric": "- accuracy"}

    created = api.post(url("project-list"), body, format="json", **lab.header)

    assert created.status_code == 201
    assert created.json()["guidelines_version"] == 1
    history = api.get(url("project-guidelines", created.json()["id"]), **lab.header).json()
    assert history["current"]["guidelines"] == "# Be careful"
    assert history["current"]["rubric"] == "- accuracy"
    assert [v["number"] for v in history["versions"]] == [1]


def test_guidelines_history_lists_every_version_newest_first(api, lab):
    created = project(actor_of(lab))
    path = url("project-guidelines", created.public_id)

    published = api.post(
        path,
        {"guidelines": "# v2", "changelog": "Stricter on dosing.", "is_material": True},
        format="json",
        **lab.header,
    )
    history = api.get(path, **lab.header).json()

    assert published.status_code == 201
    assert published.json()["is_material"] is True
    assert history["current"]["number"] == 2
    assert history["material_version"] == 2
    assert [v["number"] for v in history["versions"]] == [2, 1]
    assert [v["changelog"] for v in history["versions"]] == [
        "Stricter on dosing.",
        "First version.",
    ]


def test_publishing_unchanged_guidelines_names_the_field(api, lab):
    created = project(actor_of(lab), guidelines="# Same")

    response = api.post(
        url("project-guidelines", created.public_id),
        {"guidelines": "# Same", "changelog": "Nothing really."},
        format="json",
        **lab.header,
    )

    assert response.status_code == 400
    assert response.json()["field"] == "guidelines"
    assert GuidelineVersion.objects.filter(project=created).count() == 1


# Creating and editing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"domain": "astrology"}, "domain"),
        ({"task_type": "essay"}, "task_type"),
        ({"overlap": 12}, "overlap"),
        ({"price_per_annotation_cents": 0}, "price_per_annotation_cents"),
        ({"languages": ["xx"]}, "languages"),
        ({"required_credential_kinds": ["diploma"]}, "required_credential_kinds"),
        ({"min_seniority": "wizard"}, "min_seniority"),
        ({"specialties": ["nowhere"]}, "specialties"),
        ({"specialties": ["law-contracts"]}, "specialties"),
        ({"deadline": "2001-01-01"}, "deadline"),
        ({"task_settings": {"criteria": "accuracy"}}, "task_settings.criteria"),
        ({"title": ""}, "title"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_creating_with_a_bad_field_names_it_and_creates_nothing(api, lab, change, field):
    body = {**PROJECT_BODY, **change}

    response = api.post(url("project-list"), body, format="json", **lab.header)

    assert response.status_code == 400
    payload = response.json()
    assert payload.get("field") == field or field in payload, payload
    assert not Project.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="project.").exists()


def test_a_missing_required_field_is_named(api, lab):
    body = {k: v for k, v in PROJECT_BODY.items() if k != "task_type"}

    response = api.post(url("project-list"), body, format="json", **lab.header)

    assert response.status_code == 400
    assert "task_type" in response.json()
    assert not Project.objects.exists()


def test_patch_changes_fields_and_refuses_setup_changes_once_live(api, lab):
    actor = actor_of(lab)
    created = project(actor)
    path = url("project-detail", created.public_id)

    renamed = api.patch(
        path, {"title": "Drug interactions", "overlap": 5}, format="json", **lab.header
    )
    assert renamed.status_code == 200, renamed.json()
    assert (renamed.json()["title"], renamed.json()["overlap"]) == ("Drug interactions", 5)

    tasks(created, 2)
    fund_lab(created.organization, 10_000_000)
    services.project_fund(actor=actor, project=created, amount_cents=10_000_000)
    services.project_activate(actor=actor, project=created)
    refused = api.patch(path, {"overlap": 2}, format="json", **lab.header)

    assert refused.status_code == 409
    assert "overlap" in refused.json()["detail"]
    created.refresh_from_db()
    assert created.overlap == 5
    unknown = api.patch(path, {"status": "archived"}, format="json", **lab.header)
    assert unknown.status_code == 400
    assert "status" in unknown.json()


def test_activation_refusal_lists_what_is_missing(api, lab):
    created = project(actor_of(lab), guidelines="")
    fund_lab(created.organization, 100)
    services.project_fund(actor=actor_of(lab), project=created, amount_cents=100)

    response = api.post(url("project-activate", created.public_id), **lab.header)

    assert response.status_code == 409
    problems = response.json()["problems"]
    assert "Import at least one task." in problems
    assert "Write the guidelines." in problems
    created.refresh_from_db()
    assert created.status == ProjectStatus.FUNDED


def test_lifecycle_actions_follow_the_state_machine(api, lab):
    actor = actor_of(lab)
    created = project(actor)
    tasks(created, 2)
    fund_lab(created.organization, 10_000_000)
    services.project_fund(actor=actor, project=created, amount_cents=10_000_000)
    pid = created.public_id

    steps = [
        ("project-pause", 409),
        ("project-activate", 200),
        ("project-pause", 200),
        ("project-resume", 200),
        ("project-complete", 200),
        ("project-archive", 200),
        ("project-activate", 409),
    ]
    statuses = []
    for name, expected in steps:
        response = api.post(url(name, pid), **lab.header)
        assert response.status_code == expected, (name, response.json())
        statuses.append(response.json().get("status"))

    assert statuses == [None, "active", "paused", "active", "completed", "archived", None]


def test_funding_checks_the_amount(api, lab):
    created = project(actor_of(lab))

    response = api.post(
        url("project-fund", created.public_id), {"amount_cents": 0}, format="json", **lab.header
    )

    assert response.status_code == 400
    assert "amount_cents" in response.json()
    assert not ProjectFunding.objects.exists()


# Lists, filters and the organisation -------------------------------------------------------


def test_project_list_shows_only_the_labs_own_and_filters_by_status(api, lab, other_lab):
    mine = project(actor_of(lab), title="Mine")
    project(actor_of(other_lab), title="Theirs")

    listed = api.get(url("project-list"), **lab.header).json()
    drafts = api.get(url("project-list"), {"status": "draft"}, **lab.header).json()
    active = api.get(url("project-list"), {"status": "active"}, **lab.header).json()
    bad = api.get(url("project-list"), {"status": "sleeping"}, **lab.header)

    assert [p["id"] for p in listed["results"]] == [str(mine.public_id)]
    assert listed["count"] == 1
    assert [p["title"] for p in drafts["results"]] == ["Mine"]
    assert active["results"] == []
    assert bad.status_code == 400
    assert bad.json()["field"] == "status"


def test_a_member_of_several_labs_names_the_organisation(api, lab, other_lab):
    factories.add_member(other_lab.organization, lab.owner, MembershipRole.MANAGER)
    api.force_login(lab.owner)

    unnamed = api.post(url("project-list"), PROJECT_BODY, format="json")
    named = api.post(
        url("project-list"),
        {**PROJECT_BODY, "organization": other_lab.organization.slug},
        format="json",
    )
    listed = api.get(url("project-list"), {"organization": other_lab.organization.slug})

    assert unnamed.status_code == 400
    assert unnamed.json()["field"] == "organization"
    assert named.status_code == 201
    assert named.json()["organization"] == other_lab.organization.slug
    assert Project.objects.get().organization == other_lab.organization
    assert [p["id"] for p in listed.json()["results"]] == [named.json()["id"]]


def test_an_api_key_cannot_name_another_organisation(api, lab, other_lab):
    body = {**PROJECT_BODY, "organization": other_lab.organization.slug}

    response = api.post(url("project-list"), body, format="json", **lab.header)

    assert response.status_code == 404
    assert not Project.objects.exists()


def test_task_list_filters_and_detail_by_external_id(api, lab):
    created = project(actor_of(lab))
    tasks(created, 3, prefix="alpha")
    tasks(created, 2, prefix="beta")
    tasks(created, 1, gold=True, prefix="gold")
    path = url("project-task-list", created.public_id)

    everything = api.get(path, **lab.header).json()
    betas = api.get(path, {"external_id": "beta"}, **lab.header).json()
    gold_only = api.get(path, {"is_gold": "true"}, **lab.header).json()
    regular = api.get(path, {"is_gold": "false", "status": "open"}, **lab.header).json()
    bad = api.get(path, {"status": "sleeping"}, **lab.header)
    detail = api.get(url("project-task-detail", created.public_id, "beta-1"), **lab.header)
    missing = api.get(url("project-task-detail", created.public_id, "nope"), **lab.header)

    assert everything["count"] == 6
    assert set(everything["results"][0]) == {
        "id",
        "external_id",
        "data",
        "is_gold",
        "status",
        "annotation_count",
        "created_at",
    }
    assert [t["external_id"] for t in betas["results"]] == ["beta-0", "beta-1"]
    assert [t["external_id"] for t in gold_only["results"]] == ["goldg-0"]
    assert regular["count"] == 5
    assert bad.status_code == 400
    assert "status" in bad.json()
    assert detail.status_code == 200
    assert detail.json()["external_id"] == "beta-1"
    assert missing.status_code == 404


def test_gold_answers_are_never_in_task_lists(api, lab):
    created = project(actor_of(lab))

    posted = api.post(
        url("project-gold-list", created.public_id),
        {"tasks": rows(3, prefix="g", gold=True)},
        format="json",
        **lab.header,
    )

    assert posted.status_code == 201, posted.json()
    assert posted.json()["kind"] == "gold"
    listed = api.get(url("project-task-list", created.public_id), **lab.header)
    gold_only = api.get(
        url("project-task-list", created.public_id), {"is_gold": "true"}, **lab.header
    )
    detail = api.get(url("project-task-detail", created.public_id, "g-0"), **lab.header)
    for response in (listed, gold_only, detail):
        assert response.status_code == 200
        assert "SECRET-GOLD-RATIONALE" not in response.content.decode()
        assert "a_much_better" not in response.content.decode()
    assert [t["is_gold"] for t in listed.json()["results"]] == [True, True, True]
    gold = api.get(url("project-gold-list", created.public_id), **lab.header).json()
    assert gold["count"] == 3
    first = gold["results"][0]
    assert first["external_id"] == "g-0"
    assert first["answer"]["preference"] == "a_much_better"
    assert first["answer"]["rationale"] == "SECRET-GOLD-RATIONALE-0"
    assert first["explanation"] == "B misses a documented interaction."


def test_sending_the_same_tasks_again_creates_nothing(api, lab):
    created = project(actor_of(lab))
    path = url("project-task-list", created.public_id)
    api.post(path, {"tasks": rows(5)}, format="json", **lab.header)

    again = api.post(path, {"tasks": rows(7)}, format="json", **lab.header)

    assert again.status_code == 201
    assert (again.json()["created_count"], again.json()["skipped_count"]) == (2, 5)
    assert Task.objects.filter(project=created).count() == 7


def test_a_rejected_batch_reports_rows_and_fields_and_saves_nothing(api, lab):
    created = project(actor_of(lab))
    batch = rows(4)
    del batch[1]["response_b"]
    batch[3]["colour"] = "red"

    response = api.post(
        url("project-task-list", created.public_id), {"tasks": batch}, format="json", **lab.header
    )

    assert response.status_code == 400
    body = response.json()
    assert "nothing was imported" in body["detail"]
    assert {"row": 2, "field": "response_b", "problem": "This field is required."} in body[
        "problems"
    ]
    assert any(p["row"] == 4 and p["field"] == "colour" for p in body["problems"])
    assert not Task.objects.exists()
    assert not TaskImport.objects.exists()


@pytest.mark.parametrize("body", [{}, {"tasks": []}, {"tasks": "many"}, {"rows": [{}]}])
def test_a_malformed_batch_names_the_field(api, lab, body):
    created = project(actor_of(lab))

    response = api.post(
        url("project-task-list", created.public_id), body, format="json", **lab.header
    )

    assert response.status_code == 400
    assert set(response.json()) & {"tasks", "rows"}
    assert not Task.objects.exists()


def test_a_batch_over_the_limit_is_refused(api, lab, settings):
    created = project(actor_of(lab))

    response = api.post(
        url("project-task-list", created.public_id),
        {"tasks": rows(settings.MAX_TASKS_PER_API_BATCH + 1)},
        format="json",
        **lab.header,
    )

    assert response.status_code == 400
    assert "tasks" in response.json()
    assert not Task.objects.exists()


def test_an_uploaded_file_is_imported_in_the_background(
    api, lab, django_capture_on_commit_callbacks
):
    created = project(actor_of(lab))
    content = "\n".join(json.dumps(row) for row in rows(4)).encode()
    upload = SimpleUploadedFile("tasks.jsonl", content, content_type="application/x-ndjson")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            url("project-task-list", created.public_id),
            {"file": upload},
            format="multipart",
            **lab.header,
        )

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["original_name"] == "tasks.jsonl"
    assert body["format"] == "jsonl"
    detail = api.get(body["url"], **lab.header).json()
    assert detail["status"] == "succeeded"
    assert detail["progress_percent"] == 100
    assert (detail["created_count"], detail["skipped_count"], detail["error_count"]) == (4, 0, 0)
    assert detail["errors"] == []
    listed = api.get(url("project-import-list", created.public_id), **lab.header).json()
    assert [i["id"] for i in listed["results"]] == [body["id"]]
    assert "errors" not in listed["results"][0]
    assert Task.objects.filter(project=created).count() == 4


def test_an_uploaded_file_with_bad_rows_has_a_report(api, lab, django_capture_on_commit_callbacks):
    created = project(actor_of(lab))
    bad = rows(3)
    del bad[2]["prompt"]
    content = "\n".join(json.dumps(row) for row in bad).encode()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            url("project-task-list", created.public_id),
            {"file": SimpleUploadedFile("tasks.jsonl", content), "format": "jsonl"},
            format="multipart",
            **lab.header,
        )

    assert response.status_code == 202
    detail = api.get(response.json()["url"], **lab.header).json()
    assert detail["status"] == "failed"
    assert detail["error_count"] == 1
    assert detail["errors"] == [{"row": 3, "field": "prompt", "problem": "This field is required."}]
    assert not Task.objects.exists()


def test_an_upload_without_a_file_names_the_field(api, lab):
    created = project(actor_of(lab))

    response = api.post(
        url("project-task-list", created.public_id),
        {"format": "jsonl"},
        format="multipart",
        **lab.header,
    )

    assert response.status_code == 400
    assert "file" in response.json()
    assert not TaskImport.objects.exists()


def test_progress_reports_counts_and_money(api, lab):
    created = project(actor_of(lab))
    tasks(created, 4)
    tasks(created, 1, gold=True)

    response = api.get(url("project-progress", created.public_id), **lab.header)

    assert response.status_code == 200
    assert response.json() == {
        "task_count": 4,
        "gold_count": 1,
        "completed_tasks": 0,
        "annotations_needed": 12,
        "annotations_done": 0,
        "percent_done": 0,
        "cost_so_far_cents": 0,
        "required_funds_cents": 8400,
        "funded_cents": 0,
        "remaining_budget_cents": 0,
        "shortfall_cents": 8400,
        "experts": [],
    }


def test_the_task_type_registry_is_public(api):
    response = api.get(url("task-type-list"))

    assert response.status_code == 200
    listed = response.json()
    assert [t["key"] for t in listed] == list(REGISTRY)
    pairwise = next(t for t in listed if t["key"] == "pairwise")
    assert pairwise["label"] == "Pairwise preference"
    assert pairwise["base_rate_cents"] == 400
    assert "response_a" in pairwise["input_schema"]["properties"]
    assert "preference" in pairwise["result_schema"]["properties"]
    assert "criteria" in pairwise["settings_schema"]["properties"]
    assert pairwise["example_input"] == REGISTRY["pairwise"].example_input()
    assert pairwise["example_result"] == REGISTRY["pairwise"].example_result()


def test_the_api_root_links_the_lab_resources(api):
    root = api.get(url("root")).json()

    assert root["projects"].endswith("/api/v1/projects/")
    assert root["task_types"].endswith("/api/v1/task-types/")
    assert root["webhooks"].endswith("/api/v1/webhooks/")


def test_the_schema_documents_the_lab_api(client):
    schema = client.get(reverse("api_schema"))

    assert schema.status_code == 200
    body = schema.content.decode()
    for path in (
        "/api/v1/projects/",
        "/api/v1/projects/{project_id}/tasks/",
        "/api/v1/projects/{project_id}/fund/",
        "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver/",
        "/api/v1/task-types/",
    ):
        assert path in body
    assert "Webhook-Signature" in body


# Webhooks ----------------------------------------------------------------------------------


def test_webhook_endpoints_through_the_api(api, lab, webhooks_allowed):
    created = api.post(
        url("webhook-list"),
        {"url": "https://hooks.example.com/in", "events": [COMPLETED], "description": "CI"},
        format="json",
        **lab.header,
    )
    assert created.status_code == 201, created.json()
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["events"] == [COMPLETED]
    detail_path = url("webhook-detail", endpoint["id"])

    listed = api.get(url("webhook-list"), **lab.header).json()
    assert [e["id"] for e in listed["results"]] == [endpoint["id"]]

    patched = api.patch(
        detail_path,
        {"events": [COMPLETED, WebhookEvent.TASK_COMPLETED], "is_active": False},
        format="json",
        **lab.header,
    )
    assert patched.status_code == 200
    assert patched.json()["is_active"] is False

    rotated = api.post(url("webhook-rotate-secret", endpoint["id"]), **lab.header)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != endpoint["secret"]

    deleted = api.delete(detail_path, **lab.header)
    assert deleted.status_code == 204
    assert api.get(detail_path, **lab.header).status_code == 404
    assert not WebhookEndpoint.objects.exists()


def test_webhook_deliveries_are_listed_and_can_be_redelivered(
    api, lab, webhooks_allowed, django_capture_on_commit_callbacks
):
    actor = actor_of(lab)
    endpoint = webhook_services.webhook_endpoint_create(
        actor=actor, url="https://hooks.example.com/in", events=[COMPLETED]
    )
    webhook_services.webhook_event_emit(
        organization=lab.organization, event=COMPLETED, data={"project": "p"}
    )
    delivery = WebhookDelivery.objects.get()

    listed = api.get(url("webhook-delivery-list", endpoint.public_id), **lab.header).json()
    with django_capture_on_commit_callbacks() as queued:
        redelivered = api.post(
            url("webhook-delivery-redeliver", endpoint.public_id, delivery.public_id),
            **lab.header,
        )

    assert [d["id"] for d in listed["results"]] == [str(delivery.public_id)]
    assert listed["results"][0]["payload"]["data"] == {"project": "p"}
    assert listed["results"][0]["status"] == "pending"
    assert redelivered.status_code == 202
    assert redelivered.json()["payload"] == delivery.payload
    assert redelivered.json()["id"] != str(delivery.public_id)
    assert len(queued) == 1
    assert WebhookDelivery.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://hooks.example.com/in", "events": [COMPLETED]}, "url"),
        ({"url": "https://127.0.0.1/in", "events": [COMPLETED]}, "url"),
        ({"url": "https://hooks.example.com/in", "events": []}, "events"),
        ({"url": "https://hooks.example.com/in", "events": ["nope"]}, "events"),
        ({"events": [COMPLETED]}, "url"),
    ],
)
def test_a_bad_webhook_is_refused_naming_the_field(api, lab, settings, body, field):
    settings.DEBUG = False
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False

    response = api.post(url("webhook-list"), body, format="json", **lab.header)

    assert response.status_code == 400
    payload = response.json()
    assert payload.get("field") == field or field in payload, payload
    assert not WebhookEndpoint.objects.exists()


# Who may see and do what -------------------------------------------------------------------


@dataclass
class Scene:
    lab: Lab
    project: Project
    endpoint: WebhookEndpoint
    delivery: WebhookDelivery
    task_import: TaskImport


@pytest.fixture
def scene(lab, webhooks_allowed) -> Scene:
    actor = actor_of(lab)
    created = project(actor)
    tasks(created, 2)
    task_import = TaskImport.objects.create(project=created, format="jsonl")
    endpoint = webhook_services.webhook_endpoint_create(
        actor=actor, url="https://hooks.example.com/in", events=[COMPLETED]
    )
    webhook_services.webhook_event_emit(organization=lab.organization, event=COMPLETED, data={})
    return Scene(lab, created, endpoint, WebhookDelivery.objects.get(), task_import)


def every_endpoint(scene: Scene) -> list[tuple[str, str, dict[str, Any] | None]]:
    pid = scene.project.public_id
    eid = scene.endpoint.public_id
    return [
        ("get", url("project-detail", pid), None),
        ("patch", url("project-detail", pid), {"title": "Taken over"}),
        ("post", url("project-fund", pid), {"amount_cents": 1000}),
        ("post", url("project-activate", pid), None),
        ("post", url("project-pause", pid), None),
        ("post", url("project-resume", pid), None),
        ("post", url("project-complete", pid), None),
        ("post", url("project-archive", pid), None),
        ("get", url("project-guidelines", pid), None),
        ("post", url("project-guidelines", pid), {"guidelines": "# Mine", "changelog": "x"}),
        ("get", url("project-task-list", pid), None),
        ("post", url("project-task-list", pid), {"tasks": rows(1)}),
        ("get", url("project-task-detail", pid, "t-0"), None),
        ("get", url("project-gold-list", pid), None),
        ("post", url("project-gold-list", pid), {"tasks": rows(1, gold=True)}),
        ("get", url("project-import-list", pid), None),
        ("get", url("project-import-detail", pid, scene.task_import.public_id), None),
        ("get", url("project-progress", pid), None),
        ("get", url("webhook-detail", eid), None),
        ("patch", url("webhook-detail", eid), {"is_active": False}),
        ("delete", url("webhook-detail", eid), None),
        ("post", url("webhook-rotate-secret", eid), None),
        ("get", url("webhook-delivery-list", eid), None),
        ("post", url("webhook-delivery-redeliver", eid, scene.delivery.public_id), None),
    ]


def snapshot(scene: Scene) -> tuple[Any, ...]:
    scene.project.refresh_from_db()
    scene.endpoint.refresh_from_db()
    return (
        scene.project.title,
        scene.project.status,
        scene.project.funded_cents,
        scene.project.guidelines_version,
        Task.objects.count(),
        scene.endpoint.is_active,
        scene.endpoint.secret,
        WebhookDelivery.objects.count(),
        ProjectFunding.objects.count(),
    )


def call(api: APIClient, method: str, path: str, body: Any, **headers: str):
    if body is None:
        return getattr(api, method)(path, **headers)
    return getattr(api, method)(path, body, format="json", **headers)


def test_another_labs_key_gets_404_everywhere(api, scene, other_lab):
    before = snapshot(scene)

    answers = {
        (method, path): call(api, method, path, body, **other_lab.header).status_code
        for method, path, body in every_endpoint(scene)
    }

    assert set(answers.values()) == {404}, answers
    assert snapshot(scene) == before


def test_another_labs_member_gets_404_everywhere(api, scene, other_lab):
    api.force_login(other_lab.owner)
    before = snapshot(scene)

    answers = {
        (method, path): call(api, method, path, body).status_code
        for method, path, body in every_endpoint(scene)
    }

    assert set(answers.values()) == {404}, answers
    assert snapshot(scene) == before
    assert api.get(url("project-list")).json()["results"] == []
    assert api.get(url("webhook-list")).json()["results"] == []


def test_an_expert_gets_404_everywhere(api, scene):
    api.force_login(factories.expert())
    before = snapshot(scene)

    answers = {
        (method, path): call(api, method, path, body).status_code
        for method, path, body in every_endpoint(scene)
    }

    assert set(answers.values()) == {404}, answers
    assert api.get(url("project-list")).status_code == 404
    assert api.post(url("project-list"), PROJECT_BODY, format="json").status_code == 404
    assert api.post(url("project-list"), {"title": ""}, format="json").status_code == 404
    assert api.get(url("webhook-list")).status_code == 404
    assert snapshot(scene) == before
    assert Project.objects.count() == 1


def test_anonymous_callers_get_401(api, scene):
    answers = {
        call(api, method, path, body).status_code for method, path, body in every_endpoint(scene)
    }

    assert answers == {401}


def test_viewers_may_read_but_not_write(api, scene):
    viewer = factories.lab_user()
    factories.add_member(scene.lab.organization, viewer, MembershipRole.VIEWER)
    api.force_login(viewer)
    before = snapshot(scene)

    answers = {
        (method, path): call(api, method, path, body).status_code
        for method, path, body in every_endpoint(scene)
    }

    reads = {key: code for key, code in answers.items() if key[0] == "get"}
    writes = {key: code for key, code in answers.items() if key[0] != "get"}
    assert set(reads.values()) == {200}, reads
    assert set(writes.values()) == {403}, writes
    assert snapshot(scene) == before
    endpoint = api.get(url("webhook-detail", scene.endpoint.public_id)).json()
    assert endpoint["secret"] is None
    created = api.post(url("project-list"), PROJECT_BODY, format="json")
    assert created.status_code == 403
    assert Project.objects.count() == 1
    assert api.get(url("project-list")).json()["count"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/projects/not-a-uuid/",
        "/api/v1/projects/not-a-uuid/tasks/",
        "/api/v1/webhooks/1234/",
    ],
)
def test_bad_ids_are_404(api, lab, path):
    assert api.get(path, **lab.header).status_code == 404


def test_unknown_ids_are_404(api, lab):
    missing = uuid.uuid4()

    assert api.get(url("project-detail", missing), **lab.header).status_code == 404
    assert api.get(url("webhook-detail", missing), **lab.header).status_code == 404


# Query counts ------------------------------------------------------------------------------


def _fill(lab: Lab, count: int) -> tuple[Project, WebhookEndpoint]:
    """``count`` projects, tasks, gold tasks, imports and deliveries, and up to ten (the
    most an organisation may have) webhook endpoints."""
    actor = actor_of(lab)
    projects = [project(actor, title=f"Project {n}") for n in range(count)]
    first = projects[0]
    tasks(first, count)
    tasks(first, count, gold=True)
    TaskImport.objects.bulk_create(
        TaskImport(project=first, format="jsonl", original_name=f"{n}.jsonl") for n in range(count)
    )
    endpoints = [
        webhook_services.webhook_endpoint_create(
            actor=actor,
            url=f"https://hooks.example.com/{n}",
            events=[COMPLETED] if n == 0 else [WebhookEvent.TASK_COMPLETED],
        )
        for n in range(min(count, 10))
    ]
    for _ in range(count):
        webhook_services.webhook_event_emit(organization=lab.organization, event=COMPLETED, data={})
    return first, endpoints[0]


# Every list: the API key's lookup, the page's count and the page itself; project-scoped
# lists also fetch their project (or endpoint); projects prefetch their specialties.
LIST_QUERIES = {
    "project-list": 5,  # with the page's fair-pay medians, one query for all
    "project-task-list": 4,
    "project-gold-list": 4,
    "project-import-list": 4,
    "webhook-list": 3,
    "webhook-delivery-list": 4,
}


@pytest.mark.parametrize("count", [3, 30])
@pytest.mark.parametrize("name", list(LIST_QUERIES))
def test_list_endpoints_take_a_fixed_number_of_queries(
    api, lab, webhooks_allowed, django_assert_num_queries, count, name
):
    first, endpoint = _fill(lab, count)
    args = {
        "project-list": (),
        "webhook-list": (),
        "webhook-delivery-list": (endpoint.public_id,),
    }.get(name, (first.public_id,))
    path = url(name, *args)
    api.get(path, **lab.header)  # the key's last use is recorded once a minute at most

    with django_assert_num_queries(LIST_QUERIES[name]):
        response = api.get(path, **lab.header)

    assert response.status_code == 200
    expected = {"webhook-list": min(count, 10), "project-task-list": 2 * count}
    assert response.json()["count"] == expected.get(name, count)
    assert len(response.json()["results"]) == min(response.json()["count"], 50)


def test_a_project_page_takes_a_fixed_number_of_queries(api, lab, django_assert_num_queries):
    created = project(actor_of(lab))
    tasks(created, 30)
    path = url("project-detail", created.public_id)
    api.get(path, **lab.header)

    # key, project, project with its counts, specialties, fair-pay median
    with django_assert_num_queries(5):
        response = api.get(path, **lab.header)

    assert response.json()["counts"]["tasks"] == 30


def test_deadline_in_the_future_is_accepted(api, lab):
    deadline = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()

    response = api.post(
        url("project-list"), {**PROJECT_BODY, "deadline": deadline}, format="json", **lab.header
    )

    assert response.status_code == 201
    assert response.json()["deadline"] == deadline


def test_a_full_batch_of_large_tasks_fits_in_one_request(api, lab):
    created = project(actor_of(lab))
    big = [{**row, "response_a": "x" * 3000} for row in rows(1000, prefix="big")]

    response = api.post(
        url("project-task-list", created.public_id), {"tasks": big}, format="json", **lab.header
    )

    assert response.status_code == 201, response.content[:300]
    assert response.json()["created_count"] == 1000


def test_a_body_over_the_cap_is_refused_with_a_json_413(api, lab, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    created = project(actor_of(lab))

    response = api.post(
        url("project-task-list", created.public_id),
        {"tasks": rows(100)},
        format="json",
        **lab.header,
    )

    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert created.tasks.count() == 0
