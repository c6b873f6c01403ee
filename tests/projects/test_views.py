"""The lab's project pages: scoping by role, the create form, the lifecycle from the project
page, guidelines, imports with their report, sanitized rendering, webhooks, and query counts."""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from experts.models import Domain
from marketplace.models import AuditEvent
from marketplace.states import MembershipRole
from projects import services
from projects.access import LabActor
from projects.models import (
    GoldAnswer,
    GuidelineVersion,
    Project,
    ProjectFunding,
    Task,
    TaskImport,
    WebhookDelivery,
    WebhookEndpoint,
)
from projects.selectors import project_progress, required_funds_cents
from projects.services.imports import task_import_create
from projects.services.webhooks import webhook_endpoint_create
from projects.states import ImportStatus, ProjectStatus, WebhookEvent
from tests import factories as core
from tests.payments.factories import fund_lab
from tests.projects import factories

pytestmark = pytest.mark.django_db

XSS = (
    "Before <script>alert(1)</script> middle <img src=x onerror=alert(1)> "
    "and [x](javascript:alert(1)) after."
)


def url(name: str, project: Project | None = None, *args: Any, slug: str | None = None) -> str:
    if project is None:
        return reverse(f"projects:{name}", args=[slug, *args])
    return reverse(f"projects:{name}", args=[project.organization.slug, project.public_id, *args])


def task_data(**fields: Any) -> dict[str, Any]:
    """A pairwise task's data, as the import stores it (without the external id)."""
    return {
        "prompt": "Is it safe?",
        "response_a": "Answer A",
        "response_b": "Answer B",
        **fields,
    }


def row(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": f"ext-{n}",
        "prompt": f"Question {n}: is ibuprofen safe with lisinopril?",
        "response_a": f"Answer A {n}",
        "response_b": f"Answer B {n}",
        **extra,
    }


def jsonl_file(*rows: Any, name: str = "tasks.jsonl") -> SimpleUploadedFile:
    body = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    return SimpleUploadedFile(name, body.encode(), content_type="application/x-ndjson")


def assert_inert(page: str) -> None:
    """No markup from the lab's text survives as markup (it may show as escaped text)."""
    assert "<script>alert" not in page
    assert not re.search(r"<[a-z][^>]*\sonerror\s*=", page, re.IGNORECASE)
    assert 'href="javascript:' not in page.lower()


def viewer_of(organization) -> Any:
    viewer = core.lab_user()
    core.add_member(organization, viewer, MembershipRole.VIEWER)
    return viewer


def create_form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "title": "Medication safety preferences",
        "summary": "Compare two answers about drug interactions.",
        "domain": str(factories.domain("medicine").pk),
        "required_credential_kinds": ["licence", "board_certification"],
        "min_seniority": "senior",
        "languages": ["en", "de"],
        "task_type": "pairwise",
        "settings_lines": "Accuracy\nSafety",
        "task_settings_json": '{"require_rationale": false}',
        "guidelines": "# Guidelines\n\nPrefer what a careful clinician would say.",
        "rubric": "",
        "overlap": "3",
        "price": "12.50",
        "seats": "20",
        "budget": "5000",
        "deadline": (timezone.localdate() + datetime.timedelta(days=30)).isoformat(),
        "gold_rate_percent": "10",
        "min_gold_accuracy_percent": "80",
    }
    data.update(overrides)
    return data


# Who sees what -----------------------------------------------------------------------------


def page_urls(project: Project) -> dict[str, str]:
    """Every GET page of the app, for one project with a task and an import."""
    task = factories.tasks(project, 1)[0]
    task_import = TaskImport.objects.create(
        project=project, format="jsonl", original_name="t.jsonl", status=ImportStatus.SUCCEEDED
    )
    slug = project.organization.slug
    return {
        "list": url("list", slug=slug),
        "create": url("create", slug=slug),
        "detail": url("detail", project),
        "edit": url("edit", project),
        "tasks": url("tasks", project),
        "task": url("task", project, task.pk),
        "preview": url("preview", project),
        "imports": url("imports", project),
        "import": url("import", project, task_import.public_id),
        "import_status": url("import_status", project, task_import.public_id),
        "webhooks": url("webhooks", slug=slug),
    }


MANAGER_ONLY_PAGES = {"create", "edit"}


def test_every_page_answers_the_owner_and_the_viewer_reads_without_forms(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    urls = page_urls(project)
    viewer = viewer_of(actor.organization)

    client.force_login(actor.user)
    for name, address in urls.items():
        assert client.get(address).status_code == 200, name
    client.force_login(viewer)
    for name, address in urls.items():
        response = client.get(address)
        expected = 403 if name in MANAGER_ONLY_PAGES else 200
        assert response.status_code == expected, name
    detail = client.get(urls["detail"]).content.decode()
    assert reverse("projects:fund", args=[actor.organization.slug, project.public_id]) not in detail
    assert "Publish" not in detail
    assert "New project" not in client.get(urls["list"]).content.decode()
    assert 'enctype="multipart/form-data"' not in client.get(urls["imports"]).content.decode()


@pytest.mark.parametrize("who", ["other_lab", "expert"])
def test_every_page_is_404_outside_the_organisation(client, who):
    project = factories.project()
    urls = page_urls(project)
    outsider = factories.manager_actor().user if who == "other_lab" else core.expert()
    client.force_login(outsider)

    for name, address in urls.items():
        assert client.get(address).status_code == 404, name


def test_another_labs_project_is_404_under_ones_own_organisation(client):
    mine = factories.manager_actor()
    theirs = factories.project()
    client.force_login(mine.user)

    address = reverse("projects:detail", args=[mine.organization.slug, theirs.public_id])
    assert client.get(address).status_code == 404
    response = client.post(
        reverse("projects:state", args=[mine.organization.slug, theirs.public_id, "archive"])
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == ProjectStatus.DRAFT


def test_anonymous_visitors_are_sent_to_log_in(client):
    urls = page_urls(factories.project())

    for name, address in urls.items():
        response = client.get(address)
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("account_login")), name


def test_viewer_actions_change_nothing(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    factories.tasks(project, 2)
    client.force_login(viewer_of(actor.organization))

    response = client.post(
        url("fund", project), {"amount": "100.00", "idempotency_key": "k1"}, follow=True
    )
    assert "Only owners and managers can fund projects." in response.content.decode()
    client.post(url("state", project, "archive"))
    client.post(
        url("guidelines_publish", project),
        {"guidelines": "New text", "changelog": "Changed", "is_material": "on"},
    )
    client.post(url("create", slug=actor.organization.slug), create_form_data())
    response = client.post(
        url("imports", project),
        {"kind": "tasks", "format": "", "file": jsonl_file(row(1))},
        follow=True,
    )
    assert "Only owners and managers can import tasks." in response.content.decode()
    response = client.post(
        url("webhooks", slug=actor.organization.slug),
        {"url": "https://hooks.example.org/in", "events": [WebhookEvent.TASK_COMPLETED]},
        follow=True,
    )
    assert "Only owners and managers can manage webhooks." in response.content.decode()

    project.refresh_from_db()
    assert project.status == ProjectStatus.DRAFT
    assert project.funded_cents == 0
    assert project.guidelines_version == 1
    assert not ProjectFunding.objects.exists()
    assert Project.objects.count() == 1
    assert not TaskImport.objects.exists()
    assert not WebhookEndpoint.objects.exists()


# Project list ------------------------------------------------------------------------------


def test_project_list_filters_by_status_and_shows_counts(client):
    actor = factories.manager_actor()
    draft = factories.project(actor, title="Draft one")
    live = factories.active_project(actor, title="Live one", task_count=2)
    client.force_login(actor.user)

    page = client.get(url("list", slug=actor.organization.slug)).content.decode()
    assert "Draft one" in page
    assert "Live one" in page
    assert "New project" in page

    page = client.get(url("list", slug=actor.organization.slug) + "?status=active").content
    page = page.decode()
    assert "Live one" in page
    assert draft.title not in page
    assert live.get_task_type_display() in page


def test_project_list_query_count_does_not_grow_with_projects(client, django_assert_num_queries):
    actor = factories.manager_actor()
    for n in range(2):
        factories.tasks(factories.project(actor, title=f"P{n}"), 2)
    client.force_login(actor.user)
    address = url("list", slug=actor.organization.slug)
    client.get(address)

    with django_assert_num_queries(7):
        client.get(address)
    for n in range(2, 12):
        factories.tasks(factories.project(actor, title=f"P{n}"), 3)
    with django_assert_num_queries(7):
        response = client.get(address)
    assert response.content.decode().count('data-testid="project-row"') == 12


# Create and edit ---------------------------------------------------------------------------


def test_create_form_offers_every_task_type_and_the_suggested_price(client):
    actor = factories.manager_actor()
    client.force_login(actor.user)

    page = client.get(url("create", slug=actor.organization.slug)).content.decode()

    for key in ("pairwise", "rubric", "demonstration", "critique", "safety", "classification"):
        assert f'value="{key}"' in page
    assert "Compare two model responses" in page
    assert 'name="domain"' in page
    assert "Suggested:" in page


def test_manager_creates_a_project_with_exact_values(client):
    actor = factories.manager_actor()
    client.force_login(actor.user)

    response = client.post(url("create", slug=actor.organization.slug), create_form_data())

    project = Project.objects.get()
    assert response.status_code == 302
    assert response.url == url("detail", project)
    assert project.organization == actor.organization
    assert project.title == "Medication safety preferences"
    assert project.domain == factories.domain("medicine")
    assert project.required_credential_kinds == ["licence", "board_certification"]
    assert project.min_seniority == "senior"
    assert project.languages == ["en", "de"]
    assert project.task_type == "pairwise"
    assert project.task_settings == {"criteria": ["Accuracy", "Safety"], "require_rationale": False}
    assert project.overlap == 3
    assert project.price_per_annotation_cents == 1250
    assert project.seats == 20
    assert project.budget_cents == 500_000
    assert project.gold_rate_percent == 10
    assert project.min_gold_accuracy_percent == 80
    assert project.status == ProjectStatus.DRAFT
    assert project.guidelines_version == 1
    assert GuidelineVersion.objects.get(project=project).guidelines.startswith("# Guidelines")


def test_create_with_specialties_of_the_field(client):
    actor = factories.manager_actor()
    client.force_login(actor.user)
    radiology = Domain.objects.get(slug="medicine-radiology")

    client.post(
        url("create", slug=actor.organization.slug),
        create_form_data(specialties=[str(radiology.pk)]),
    )

    assert list(Project.objects.get().specialties.all()) == [radiology]


@pytest.mark.parametrize(
    ("overrides", "field_message"),
    [
        ({"price": "12.505"}, "Use dollars and cents only"),
        ({"price": "abc"}, "Enter an amount in dollars"),
        ({"overlap": "12"}, "less than or equal to 9"),
        ({"title": ""}, "This field is required"),
        ({"task_settings_json": "{not json"}, "This is not valid JSON"),
        ({"deadline": "2001-01-01"}, "The deadline is in the past."),
        ({"task_type": "rubric", "settings_lines": "", "task_settings_json": '{"x": 1}'}, ""),
    ],
)
def test_invalid_create_shows_the_error_and_creates_nothing(client, overrides, field_message):
    actor = factories.manager_actor()
    client.force_login(actor.user)

    response = client.post(
        url("create", slug=actor.organization.slug), create_form_data(**overrides)
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved." in page
    assert field_message in page
    assert not Project.objects.exists()
    assert not AuditEvent.objects.filter(action="project.create").exists()


def test_rubric_lines_become_criteria(client):
    actor = factories.manager_actor()
    client.force_login(actor.user)

    client.post(
        url("create", slug=actor.organization.slug),
        create_form_data(
            task_type="rubric",
            settings_lines="Accuracy: Facts are right\nBedside manner",
            task_settings_json="",
        ),
    )

    criteria = Project.objects.get().task_settings["criteria"]
    assert [(c["key"], c["label"], c["description"]) for c in criteria] == [
        ("accuracy", "Accuracy", "Facts are right"),
        ("bedside_manner", "Bedside manner", ""),
    ]


def test_form_fragments_follow_the_chosen_type_and_field(client):
    actor = factories.manager_actor()
    client.force_login(actor.user)
    slug = actor.organization.slug
    medicine = factories.domain("medicine")

    settings_page = client.get(
        url("form_type_settings", slug=slug) + "?task_type=critique"
    ).content.decode()
    assert "Severities" in settings_page
    assert "minor\nmajor\ncritical" in settings_page
    specialties = client.get(
        url("form_specialties", slug=slug) + f"?domain={medicine.pk}"
    ).content.decode()
    assert "Radiology" in specialties
    price = client.get(
        url("form_suggested_price", slug=slug) + f"?task_type=pairwise&domain={medicine.pk}"
    ).content.decode()
    assert "$10.00" in price


def test_markdown_preview_is_sanitized_and_needs_csrf(client):
    actor = factories.manager_actor()
    client.force_login(actor.user)
    address = url("markdown_preview", slug=actor.organization.slug) + "?field=guidelines"

    response = client.post(address, {"guidelines": f"**Bold** {XSS}"})

    page = response.content.decode()
    assert "<strong>Bold</strong>" in page
    assert_inert(page)
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(actor.user)
    assert csrf_client.post(address, {"guidelines": "x"}).status_code == 403


def test_edit_of_a_live_project_changes_only_what_may_change(client):
    actor = factories.manager_actor()
    project = factories.active_project(actor)
    client.force_login(actor.user)
    form_page = client.get(url("edit", project)).content.decode()
    assert re.search(r'<input[^>]*name="price"[^>]*disabled', form_page)

    response = client.post(
        url("edit", project),
        create_form_data(title="Renamed", price="99.00", overlap="5", seats="7"),
    )

    assert response.status_code == 302
    project.refresh_from_db()
    assert project.title == "Renamed"
    assert project.seats == 7
    assert project.price_per_annotation_cents == 500
    assert project.overlap == 3


def test_edit_of_a_draft_changes_its_setup(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)

    client.post(url("edit", project), create_form_data(price="7.25", overlap="2"))

    project.refresh_from_db()
    assert project.price_per_annotation_cents == 725
    assert project.overlap == 2


# The project page: fund, activate, lifecycle, guidelines ----------------------------------


def test_fund_and_activate_from_the_project_page(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    factories.tasks(project, 4)
    client.force_login(actor.user)
    shortfall = project_progress(project=project).shortfall_cents
    fund_lab(actor.organization, shortfall)
    page = client.get(url("detail", project)).content.decode()
    assert f'value="{shortfall // 100}.{shortfall % 100:02d}"' in page

    response = client.post(
        url("fund", project),
        {"amount": f"{shortfall // 100}.{shortfall % 100:02d}", "idempotency_key": "fund-1"},
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.status == ProjectStatus.FUNDED
    assert project.funded_cents == shortfall
    # The same rendered form submitted twice charges once.
    client.post(
        url("fund", project),
        {"amount": f"{shortfall // 100}.{shortfall % 100:02d}", "idempotency_key": "fund-1"},
    )
    assert ProjectFunding.objects.filter(project=project).count() == 1

    page = client.get(url("detail", project)).content.decode()
    assert 'data-testid="activation-ready"' in page
    response = client.post(url("state", project, "activate"), follow=True)

    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert "is live" in response.content.decode()
    assert 'data-testid="project-state">Active<' in response.content.decode()


def test_activation_refused_shows_the_checklist_and_keeps_the_state(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    factories.tasks(project, 4)
    fund_lab(project.organization, 100)
    services.project_fund(actor=actor, project=project, amount_cents=100)
    client.force_login(actor.user)

    response = client.post(url("state", project, "activate"), follow=True)

    page = response.content.decode()
    project.refresh_from_db()
    assert project.status == ProjectStatus.FUNDED
    assert 'data-testid="activation-checklist"' in page
    needed = required_funds_cents(project=project, task_count=4)
    assert f"${needed / 100:,.2f} needed" in page
    assert not AuditEvent.objects.filter(action="project.activate").exists()


def test_invalid_funding_amount_adds_nothing(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)

    response = client.post(url("fund", project), {"amount": "-5", "idempotency_key": "k"})

    assert response.status_code == 400
    assert "No funds were added." in response.content.decode()
    project.refresh_from_db()
    assert project.funded_cents == 0
    assert project.status == ProjectStatus.DRAFT


def test_pause_resume_complete_and_archive(client):
    actor = factories.manager_actor()
    project = factories.active_project(actor)
    client.force_login(actor.user)

    for action, status in [
        ("pause", ProjectStatus.PAUSED),
        ("resume", ProjectStatus.ACTIVE),
        ("complete", ProjectStatus.COMPLETED),
        ("archive", ProjectStatus.ARCHIVED),
    ]:
        client.post(url("state", project, action))
        project.refresh_from_db()
        assert project.status == status, action
    assert client.post(url("state", project, "explode")).status_code == 404


def test_a_refused_transition_changes_nothing(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)

    response = client.post(url("state", project, "complete"), follow=True)

    assert "A draft project cannot be completed." in response.content.decode()
    project.refresh_from_db()
    assert project.status == ProjectStatus.DRAFT


def test_publishing_guidelines_creates_a_material_version(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)
    page = client.get(url("detail", project)).content.decode()
    assert "Prefer the response a careful clinician would give." in page

    response = client.post(
        url("guidelines_publish", project),
        {
            "guidelines": "# Guidelines\n\nCite the interaction by name.",
            "rubric": "",
            "changelog": "Ask for the interaction's name.",
            "is_material": "on",
        },
        follow=True,
    )

    version = GuidelineVersion.objects.get(project=project, number=2)
    assert version.is_material is True
    assert version.changelog == "Ask for the interaction's name."
    project.refresh_from_db()
    assert project.guidelines_version == 2
    assert project.material_guidelines_version == 2
    page = response.content.decode()
    assert "Guidelines version 2 is published." in page
    assert "Cite the interaction by name." in page
    assert "material</span>" in page


def test_publishing_unchanged_guidelines_keeps_the_text_and_the_version(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)

    response = client.post(
        url("guidelines_publish", project),
        {"guidelines": factories.GUIDELINES, "changelog": "Nothing really"},
    )

    assert response.status_code == 400
    assert "Nothing changed since the current version." in response.content.decode()
    project.refresh_from_db()
    assert project.guidelines_version == 1


def test_project_page_query_count_does_not_grow(client, django_assert_num_queries):
    actor = factories.manager_actor()
    project = factories.project(actor)
    factories.tasks(project, 2)
    client.force_login(actor.user)
    client.get(url("detail", project))

    address = url("detail", project)
    with django_assert_num_queries(15):
        client.get(address)
    factories.tasks(project, 30, prefix="more")
    factories.tasks(project, 5, gold=True)
    for n in range(3):
        fund_lab(project.organization, 1000 + n)
        services.project_fund(actor=actor, project=project, amount_cents=1000 + n)
        services.guidelines_publish(
            actor=actor, project=project, guidelines=f"Version {n}", changelog=f"Change {n}"
        )
    with django_assert_num_queries(15):
        client.get(address)


# Tasks -------------------------------------------------------------------------------------


def test_task_list_filters_and_escapes_the_preview(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    factories.tasks(project, 3, prefix="alpha")
    factories.tasks(project, 2, gold=True, prefix="beta")
    Task.objects.create(project=project, external_id="xss-1", data=task_data(prompt=XSS))
    client.force_login(actor.user)

    page = client.get(url("tasks", project)).content.decode()
    assert page.count('data-testid="task-row"') == 6
    assert_inert(page)
    assert "&lt;script&gt;" in page

    page = client.get(url("tasks", project) + "?gold=gold").content.decode()
    assert page.count('data-testid="task-row"') == 2
    page = client.get(url("tasks", project) + "?external_id=alpha").content.decode()
    assert page.count('data-testid="task-row"') == 3


def test_task_list_query_count_does_not_grow(client, django_assert_num_queries):
    actor = factories.manager_actor()
    project = factories.project(actor)
    factories.tasks(project, 3)
    client.force_login(actor.user)
    client.get(url("tasks", project))

    with django_assert_num_queries(7):
        client.get(url("tasks", project))
    factories.tasks(project, 120, prefix="many")
    with django_assert_num_queries(7):
        response = client.get(url("tasks", project) + "?page=2")
    assert response.content.decode().count('data-testid="task-row"') == 50


def test_task_page_renders_the_task_and_the_gold_answer_to_the_lab(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    task = factories.tasks(project, 1, gold=True)[0]
    GoldAnswer.objects.filter(task=task).update(explanation="A names the interaction.")
    client.force_login(actor.user)

    page = client.get(url("task", project, task.pk)).content.decode()

    assert "Is it safe to take ibuprofen with lisinopril?" in page
    assert "Gold answer" in page
    assert "A names the interaction." in page
    assert re.search(r'value="a_much_better"[^>]*checked', page)


def test_lab_text_renders_inert_on_task_preview_and_project_pages(client):
    actor = factories.manager_actor()
    project = factories.project(actor, guidelines=f"# Rules\n\n{XSS}")
    task = Task.objects.create(
        project=project,
        external_id="xss",
        data=task_data(prompt=XSS, response_a=XSS, response_b="Fine."),
    )
    client.force_login(actor.user)

    for address in (url("task", project, task.pk), url("preview", project), url("detail", project)):
        response = client.get(address)
        page = response.content.decode()
        assert response.status_code == 200
        assert_inert(page)
        assert "Before" in page
    assert (
        "<script>" not in client.get(url("preview", project)).content.decode().split("</head>")[1]
    )


def test_preview_shows_the_first_task_with_a_disabled_form(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    factories.tasks(project, 2)
    client.force_login(actor.user)

    page = client.get(url("preview", project)).content.decode()

    assert "#0" in page
    assert '<fieldset class="answer-fields" disabled>' in page
    assert 'name="preference"' in page


def test_preview_without_tasks_shows_the_example(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)

    page = client.get(url("preview", project)).content.decode()

    assert "no tasks yet" in page
    assert "Is it safe to take ibuprofen with lisinopril?" in page


# Imports -----------------------------------------------------------------------------------


def test_a_file_with_bad_rows_is_rejected_with_its_report(
    client, django_capture_on_commit_callbacks
):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)
    upload = jsonl_file(
        row(1),
        {"external_id": "ext-2", "prompt": "Missing B", "response_a": "A"},
        row(3),
        row(4, color="<b>red</b>"),
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("imports", project), {"kind": "tasks", "format": "", "file": upload}
        )

    task_import = TaskImport.objects.get(project=project)
    assert response.status_code == 302
    assert response.url == url("import", project, task_import.public_id)
    page = client.get(response.url).content.decode()
    task_import.refresh_from_db()
    assert task_import.status == ImportStatus.FAILED
    assert task_import.error_count == 2
    assert page.count('data-testid="report-row"') == 2
    assert re.search(r"<td>2</td><td><code>response_b</code></td>", page)
    assert re.search(r"<td>4</td><td><code>color</code></td>", page)
    assert "Fix the file and upload it again." in page
    assert "<b>red</b>" not in page
    assert 'hx-trigger="every 1s"' not in page
    assert not Task.objects.filter(project=project).exists()


def test_a_good_file_creates_the_tasks(client, django_capture_on_commit_callbacks):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("imports", project),
            {"kind": "tasks", "format": "jsonl", "file": jsonl_file(row(1), row(2), row(3))},
        )

    page = client.get(response.url).content.decode()
    assert "Imported 3 tasks" in page
    assert sorted(Task.objects.filter(project=project).values_list("external_id", flat=True)) == [
        "ext-1",
        "ext-2",
        "ext-3",
    ]
    tasks_page = client.get(url("tasks", project)).content.decode()
    assert tasks_page.count('data-testid="task-row"') == 3


def test_an_unknown_file_type_is_refused_on_the_form(client):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)

    response = client.post(
        url("imports", project),
        {"kind": "tasks", "format": "", "file": SimpleUploadedFile("tasks.txt", b"hello")},
    )

    assert response.status_code == 400
    assert "Upload a .jsonl" in response.content.decode()
    assert not TaskImport.objects.exists()


def test_an_oversized_upload_is_refused_with_a_clear_error(client, settings):
    settings.MAX_TASK_IMPORT_SIZE = 10
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)

    response = client.post(
        url("imports", project),
        {"kind": "tasks", "format": "", "file": jsonl_file(*(row(n) for n in range(200)))},
    )

    assert response.status_code == 413
    assert "is larger than" in response.content.decode()
    assert not TaskImport.objects.exists()


def test_the_status_fragment_polls_until_the_import_ends(
    client, django_capture_on_commit_callbacks
):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)
    pending = task_import_create(
        actor=actor, project=project, upload=jsonl_file(row(1)), kind="tasks"
    )

    fragment = client.get(url("import_status", project, pending.public_id)).content.decode()
    assert 'hx-trigger="every 1s"' in fragment
    assert "<html" not in fragment

    with django_capture_on_commit_callbacks(execute=True):
        done = task_import_create(
            actor=actor, project=project, upload=jsonl_file(row(2)), kind="tasks"
        )
    fragment = client.get(url("import_status", project, done.public_id)).content.decode()
    assert 'data-status="succeeded"' in fragment
    assert "hx-trigger" not in fragment
    assert "hx-get" not in fragment


def test_import_fragment_query_count_does_not_grow_with_the_report(
    client, django_assert_num_queries
):
    actor = factories.manager_actor()
    project = factories.project(actor)
    client.force_login(actor.user)

    def failed_import(problems: int) -> TaskImport:
        return TaskImport.objects.create(
            project=project,
            format="jsonl",
            original_name="bad.jsonl",
            status=ImportStatus.FAILED,
            error_count=problems,
            errors=[{"row": n, "field": "prompt", "problem": "Missing."} for n in range(problems)],
        )

    few, many = failed_import(2), failed_import(400)
    with django_assert_num_queries(6):
        client.get(url("import_status", project, few.public_id))
    with django_assert_num_queries(6):
        response = client.get(url("import_status", project, many.public_id))
    assert response.content.decode().count('data-testid="report-row"') == 400


# Webhooks ----------------------------------------------------------------------------------


@pytest.fixture
def private_hosts(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


def test_manager_adds_reveals_rotates_disables_and_deletes_an_endpoint(client, private_hosts):
    actor = factories.manager_actor()
    slug = actor.organization.slug
    client.force_login(actor.user)

    response = client.post(
        url("webhooks", slug=slug),
        {
            "url": "https://hooks.example.org/in",
            "events": [WebhookEvent.TASK_COMPLETED, WebhookEvent.PROJECT_COMPLETED],
            "description": "Pipeline",
        },
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get(organization=actor.organization)
    assert endpoint.events == [WebhookEvent.TASK_COMPLETED, WebhookEvent.PROJECT_COMPLETED]
    page = client.get(url("webhooks", slug=slug)).content.decode()
    assert endpoint.secret not in page

    revealed = client.post(url("webhook_reveal", None, endpoint.public_id, slug=slug))
    assert endpoint.secret in revealed.content.decode()
    assert revealed["Cache-Control"] == "no-store"

    old_secret = endpoint.secret
    client.post(url("webhook_rotate", None, endpoint.public_id, slug=slug))
    endpoint.refresh_from_db()
    assert endpoint.secret != old_secret

    client.post(url("webhook_toggle", None, endpoint.public_id, slug=slug))
    endpoint.refresh_from_db()
    assert endpoint.is_active is False

    client.post(url("webhook_delete", None, endpoint.public_id, slug=slug))
    assert not WebhookEndpoint.objects.exists()


def test_invalid_endpoint_shows_the_error_and_adds_nothing(client, private_hosts):
    actor = factories.manager_actor()
    client.force_login(actor.user)

    response = client.post(
        url("webhooks", slug=actor.organization.slug),
        {"url": "https://hooks.example.org/in", "events": []},
    )

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_viewer_sees_endpoints_but_not_secrets_or_forms(client, private_hosts):
    actor = factories.manager_actor()
    endpoint = webhook_endpoint_create(
        actor=actor, url="https://hooks.example.org/in", events=[WebhookEvent.TASK_COMPLETED]
    )
    slug = actor.organization.slug
    client.force_login(viewer_of(actor.organization))

    page = client.get(url("webhooks", slug=slug)).content.decode()
    assert "https://hooks.example.org/in" in page
    assert "Add an endpoint" not in page
    revealed = client.post(url("webhook_reveal", None, endpoint.public_id, slug=slug), follow=True)
    assert endpoint.secret not in revealed.content.decode()
    client.post(url("webhook_delete", None, endpoint.public_id, slug=slug))
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_delivery_log_redelivers(client, private_hosts):
    actor = factories.manager_actor()
    endpoint = webhook_endpoint_create(
        actor=actor, url="https://hooks.example.org/in", events=[WebhookEvent.TASK_COMPLETED]
    )
    deliveries = [
        WebhookDelivery.objects.create(
            endpoint=endpoint, event=WebhookEvent.TASK_COMPLETED, payload={"n": n}
        )
        for n in range(3)
    ]
    slug = actor.organization.slug
    client.force_login(actor.user)

    page = client.get(url("webhooks", slug=slug)).content.decode()
    assert page.count('data-testid="delivery-row"') == 3

    client.post(url("webhook_redeliver", None, deliveries[0].public_id, slug=slug))
    assert WebhookDelivery.objects.filter(endpoint=endpoint, payload={"n": 0}).count() == 2
    other = factories.manager_actor()
    client.force_login(other.user)
    response = client.post(
        url("webhook_redeliver", None, deliveries[0].public_id, slug=other.organization.slug)
    )
    assert response.status_code == 404


# The lab dashboard -------------------------------------------------------------------------


def test_lab_dashboard_shows_active_projects_and_funds(client):
    actor = factories.manager_actor()
    live = factories.active_project(actor, task_count=2)
    draft = factories.project(actor, title="Draft")
    fund_lab(draft.organization, 1234)
    services.project_fund(actor=actor, project=draft, amount_cents=1234)
    client.force_login(actor.user)

    page = client.get(reverse("lab_dashboard", args=[actor.organization.slug])).content.decode()

    live.refresh_from_db()
    assert 'data-testid="active-projects">1<' in page
    total = live.funded_cents + 1234
    assert f'data-testid="funded-balance">${total // 100:,}.{total % 100:02d}<' in page
    assert reverse("projects:list", args=[actor.organization.slug]) in page
    assert reverse("projects:webhooks", args=[actor.organization.slug]) in page


def test_money_filter_is_exact():
    from projects.templatetags.money import dollars

    assert dollars(0) == "$0.00"
    assert dollars(1250) == "$12.50"
    assert dollars(123456789) == "$1,234,567.89"
    assert dollars(-5) == "-$0.05"
    assert dollars(None) == "—"


def test_lab_actor_role_label_shows_in_the_navigation(client):
    actor: LabActor = factories.manager_actor()
    client.force_login(actor.user)

    page = client.get(url("list", slug=actor.organization.slug)).content.decode()

    assert "your role: Owner" in page


def test_list_and_project_page_show_progress_and_experts_by_pseudonym(client):
    from experts.models import ExpertProfile
    from projects.models import Annotation

    actor = factories.manager_actor()
    live = factories.active_project(actor, title="Live one", task_count=2, overlap=2)
    expert = core.expert(full_name="Dr Secret Name")
    profile = ExpertProfile.objects.create(user=expert)
    for task in live.tasks.all()[:1]:
        Annotation.objects.create(
            task=task, project=live, expert=expert, result={}, confidence=90, guidelines_version=1
        )
        task.annotation_count = task.reserved_count = 1
        task.save()
    client.force_login(actor.user)

    listing = client.get(url("list", slug=actor.organization.slug)).content.decode()
    # 2 tasks, 1 of 4 annotations done.
    assert re.search(r"<td>2\s*</td>", listing)
    assert 'value="25"' in listing
    assert "25%" in listing

    page = client.get(url("detail", live)).content.decode()
    assert str(profile.public_id)[:8] in page
    assert "Dr Secret Name" not in page
    assert expert.email not in page
