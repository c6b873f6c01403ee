"""seed_demo gives the demo lab one project of every task type, in every lifecycle state a
dashboard shows, with valid tasks and gold answers, and converges when run again."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from marketplace.models import AuditEvent, Organization
from projects.demo import PROJECTS
from projects.demo.quality import TITLE as PANEL_TITLE
from projects.models import (
    GoldAnswer,
    GuidelineVersion,
    Project,
    ProjectFunding,
    ProjectInvitation,
    ProjectMember,
    Task,
    TaskImport,
)
from projects.pricing import suggested_price_cents
from projects.selectors import required_funds_cents
from projects.states import ImportStatus, ProjectStatus
from projects.task_types import REGISTRY, task_type_for

pytestmark = pytest.mark.django_db

COUNTED = (
    Project,
    Task,
    GoldAnswer,
    GuidelineVersion,
    TaskImport,
    ProjectFunding,
    AuditEvent,
)


def _demo_projects() -> dict[str, Project]:
    lab = Organization.objects.get(name="Acme AI Lab")
    return {p.title: p for p in Project.objects.filter(organization=lab)}


def test_one_project_of_every_task_type(seeded):
    projects = _demo_projects()

    assert sorted({p.task_type for p in projects.values()}) == sorted(REGISTRY)
    assert set(projects) == {spec.title for spec in PROJECTS} | {PANEL_TITLE}


def test_every_task_is_valid_for_its_type_and_every_gold_task_has_an_answer(seeded):
    for project in _demo_projects().values():
        task_type = task_type_for(project.task_type)
        tasks = list(project.tasks.select_related("gold_answer"))
        regular = [t for t in tasks if not t.is_gold]
        gold = [t for t in tasks if t.is_gold]

        assert len(regular) >= 8, project.title
        assert len(gold) >= 2, project.title
        for task in tasks:
            clean, problems = task_type.validate_input(task.data, project.task_settings)
            assert problems == [], (project.title, task.external_id)
            assert clean == task.data
        for task in gold:
            answer = task.gold_answer.answer
            validated = task_type.validate_result(
                answer, task=task.data, settings=project.task_settings
            )
            assert validated == answer, task.external_id
            assert task_type.score_against_gold(answer, answer, project.task_settings) == 1.0
        assert not GoldAnswer.objects.filter(task__in=regular).exists()


def test_the_projects_show_the_whole_lifecycle(seeded):
    projects = _demo_projects()

    assert {title: p.status for title, p in projects.items()} == {
        "Medication safety preferences": ProjectStatus.ACTIVE,
        "Imaging report explanations": ProjectStatus.ACTIVE,
        "Discharge summary explanations": ProjectStatus.PAUSED,
        "Contract clause review": ProjectStatus.ACTIVE,
        "Python utility functions": ProjectStatus.DRAFT,
        "Cyber-security red-team": ProjectStatus.ACTIVE,
        "Customer message intent (ES/FR/DE)": ProjectStatus.ACTIVE,
        PANEL_TITLE: ProjectStatus.ACTIVE,
    }
    draft = projects["Python utility functions"]
    assert draft.funded_cents == 0
    assert not draft.fundings.exists()
    assert draft.activated_at is None
    for project in projects.values():
        assert project.price_per_annotation_cents == suggested_price_cents(
            task_type=project.task_type, domain=project.domain
        )
        assert project.guidelines_version >= 1
        assert project.imports.exclude(status=ImportStatus.SUCCEEDED).count() == 0
        if project.status == ProjectStatus.DRAFT:
            continue
        needed = required_funds_cents(
            project=project, task_count=project.tasks.filter(is_gold=False).count()
        )
        assert project.funded_cents == needed, project.title
        assert project.fundings.get().provider == "balance"
        assert project.activated_at is not None
    # Every step went through the services, so the audit log tells the story.
    assert AuditEvent.objects.filter(action="project.create").count() == 8
    assert AuditEvent.objects.filter(action="project.fund").count() == 7
    assert AuditEvent.objects.filter(action="project.activate").count() == 7
    assert AuditEvent.objects.filter(action="project.pause").count() == 1


def test_one_project_has_a_material_second_guidelines_version(seeded):
    project = _demo_projects()["Medication safety preferences"]

    assert (project.guidelines_version, project.material_guidelines_version) == (2, 2)
    first, second = project.guideline_versions.order_by("number")
    assert (first.changelog, first.is_material) == ("First version.", False)
    assert second.is_material
    assert second.changelog.startswith("Dose questions:")
    assert "```text" in second.guidelines
    assert second.guidelines.startswith(first.guidelines)
    others = GuidelineVersion.objects.exclude(project=project)
    assert set(others.values_list("number", flat=True)) == {1}
    assert all(v.rubric for v in GuidelineVersion.objects.all())


def test_pasted_markup_in_a_task_renders_inert(seeded):
    project = _demo_projects()["Medication safety preferences"]
    task = project.tasks.get(external_id="med-pw-007")

    assert '<script>alert("xss")</script>' in task.data["prompt"]
    html = task_type_for("pairwise").render_task(task=task.data, settings=project.task_settings)
    assert "<script" not in html
    assert "metformin 1 g twice daily" in html


def test_the_summary_names_the_projects(seeded):
    assert (
        "Projects of Acme AI Lab: 8 (1 draft, 6 active, 1 paused), "
        "110 tasks and 28 gold tasks." in seeded
    )
    assert "paused  rubric         Discharge summary explanations" in seeded


def test_seeding_twice_creates_nothing(seeded):
    counts = {model.__name__: model.objects.count() for model in COUNTED}
    states = dict(Project.objects.values_list("title", "status"))
    funded = dict(Project.objects.values_list("title", "funded_cents"))

    call_command("seed_demo", stdout=io.StringIO())

    assert {model.__name__: model.objects.count() for model in COUNTED} == counts
    assert dict(Project.objects.values_list("title", "status")) == states
    assert dict(Project.objects.values_list("title", "funded_cents")) == funded


def test_seed_configures_one_webhook_endpoint_for_every_event(seeded):
    from projects.models import WebhookEndpoint
    from projects.states import WebhookEvent

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == "https://hooks.acme.example/marketplace"
    assert sorted(endpoint.events) == sorted(WebhookEvent.values)
    assert endpoint.is_active


def test_matching_has_filled_the_radiology_project_with_every_answer(seeded):
    answers = dict(
        ProjectInvitation.objects.filter(project__title="Imaging report explanations").values_list(
            "expert__email", "status"
        )
    )
    assert answers == {
        "dr.haddad@demo.example": "accepted",
        "dr.nakamura@demo.example": "declined",
        "dr.rivera@demo.example": "pending",
        "dr.lindqvist@demo.example": "accepted",
    }
    members = ProjectMember.objects.exclude(project__title=PANEL_TITLE)
    assert sorted(members.values_list("expert__email", flat=True)) == [
        "dr.haddad@demo.example",
        "dr.lindqvist@demo.example",
    ]
    assert "Matching: 4 invitations (1 waiting for an answer)." in seeded


def test_the_radiologists_have_worked_and_the_lab_has_reviewed(seeded):
    from projects.models import Annotation, Assignment

    rows = Annotation.objects.filter(project__title="Imaging report explanations")
    by_expert = {
        email: sorted(rows.filter(expert__email=email).values_list("status", flat=True))
        for email in ("dr.haddad@demo.example", "dr.lindqvist@demo.example")
    }
    assert by_expert == {
        "dr.haddad@demo.example": ["accepted", "accepted", "rejected", "revision", "submitted"],
        "dr.lindqvist@demo.example": ["submitted", "submitted", "submitted"],
    }
    flagged = rows.get(is_edge_case=True)
    assert flagged.expert.email == "dr.lindqvist@demo.example"
    assert "ambiguous" in flagged.edge_case_note
    rejected = rows.get(status="rejected")
    assert "misreading" in rejected.reviews.get().feedback
    lease = Assignment.objects.get(status="leased")
    assert lease.expert.email == "dr.haddad@demo.example"
    assert lease.draft == {"preference": ["a_better"], "rationale": ["A is calmer, but "]}
    assert "Workspace: 8 annotations (4 waiting for review, 1 open edge case)" in seeded


def test_the_panel_project_shows_the_quality_engine_at_work(seeded):
    project = Project.objects.get(title=PANEL_TITLE)
    figures = project.quality.figures

    assert figures["annotations"] == project.annotations.count() > 100
    assert figures["questions"][0]["alpha"] is not None
    assert figures["calibration"]["n"] > 0
    # Adaptive overlap is on; whether an item is still unsettled depends on which tasks
    # dispatch handed to whom (gold is mixed in at random).
    assert figures["adaptive"]["enabled"] is True
    assert Task.objects.filter(project=project, target_overlap__isnull=False).count() == (
        figures["adaptive"]["extra_requested"] + figures["adaptive"]["stopped_early"]
    )
    clicker = ProjectMember.objects.get(project=project, expert__email="panel6@demo.example")
    assert clicker.quality_paused is True
    assert clicker.status_reason.startswith("Your gold accuracy on this project is")
    assert list(
        ProjectMember.objects.filter(project=project, quality_paused=True).values_list(
            "expert__email", flat=True
        )
    ) == ["panel6@demo.example"]
    assert f"Quality: “{PANEL_TITLE}” has {figures['annotations']} annotations" in seeded
