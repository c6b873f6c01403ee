"""Project services: creation rules, edits, guidelines versions, funding and state guards."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput, PermissionDenied
from marketplace.models import AuditEvent, Notification
from marketplace.states import MembershipRole
from payments.ledger import balance_cents, escrow_account, lab_account
from projects import services
from projects.access import LabActor
from projects.models import Annotation, GuidelineVersion, Project, ProjectFunding
from projects.selectors import guidelines_acknowledgement_required, required_funds_cents
from projects.states import ProjectStatus
from tests import factories
from tests.payments.factories import fund_lab
from tests.projects import factories as pf

pytestmark = pytest.mark.django_db


def viewer_of(actor: LabActor) -> LabActor:
    user = factories.lab_user()
    factories.add_member(actor.organization, user, MembershipRole.VIEWER)
    return LabActor(
        organization=actor.organization, user=user, api_key=None, role=MembershipRole.VIEWER
    )


# Create ----------------------------------------------------------------------------------


def test_create_makes_a_draft_with_first_guidelines_version_and_audit():
    actor = pf.manager_actor()
    cardiology = pf.domain("medicine-cardiology")
    project = services.project_create(
        actor=actor,
        title="  Chest pain   triage  ",
        domain=pf.domain(),
        task_type="pairwise",
        price_per_annotation_cents=1250,
        specialties=[cardiology],
        required_credential_kinds=["licence", "board_certification"],
        min_seniority="senior",
        languages=["en", "es"],
        task_settings={"criteria": ["helpfulness", "harmlessness"]},
        overlap=5,
        seats=12,
        budget_cents=500_000,
        deadline=timezone.localdate() + datetime.timedelta(days=30),
        gold_rate_percent=15,
        min_gold_accuracy_percent=80,
        guidelines="Prefer **safe** answers.",
        rubric="1. Safety first",
    )
    project.refresh_from_db()
    assert project.title == "Chest pain triage"
    assert project.status == ProjectStatus.DRAFT
    assert project.organization == actor.organization
    assert list(project.specialties.all()) == [cardiology]
    assert project.task_settings == {
        "criteria": ["helpfulness", "harmlessness"],
        "require_rationale": True,
    }
    assert (project.overlap, project.price_per_annotation_cents, project.seats) == (5, 1250, 12)
    assert project.guidelines_version == 1
    version = GuidelineVersion.objects.get(project=project)
    assert (version.number, version.guidelines, version.rubric) == (
        1,
        "Prefer **safe** answers.",
        "1. Safety first",
    )
    assert (
        AuditEvent.objects.filter(action="project.create", target_id=str(project.pk)).count() == 1
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "   "}, "title"),
        ({"overlap": 0}, "overlap"),
        ({"overlap": 10}, "overlap"),
        ({"price_per_annotation_cents": 0}, "price_per_annotation_cents"),
        ({"task_type": "essay"}, "task_type"),
        ({"task_settings": {"criteria": "helpfulness"}}, "task_settings.criteria"),
        ({"task_settings": {"colour": "red"}}, "task_settings.colour"),
        ({"languages": ["xx"]}, "languages"),
        ({"required_credential_kinds": ["diploma-mill"]}, "required_credential_kinds"),
        ({"min_seniority": "wizard"}, "min_seniority"),
        ({"gold_rate_percent": 51}, "gold_rate_percent"),
        ({"min_gold_accuracy_percent": 101}, "min_gold_accuracy_percent"),
        ({"seats": 0}, "seats"),
        ({"deadline": datetime.date(2020, 1, 1)}, "deadline"),
        ({"specialties": "law-contracts"}, "specialties"),
    ],
)
def test_create_refuses_bad_fields_naming_them_and_creates_nothing(fields, field):
    actor = pf.manager_actor()
    if fields.get("specialties") == "law-contracts":
        fields["specialties"] = [pf.domain("law-contracts")]
    values = {
        "title": "Triage",
        "domain": pf.domain(),
        "task_type": "pairwise",
        "price_per_annotation_cents": 500,
        **fields,
    }
    with pytest.raises(InvalidInput) as error:
        services.project_create(actor=actor, **values)
    assert error.value.field == field
    assert Project.objects.count() == 0
    assert AuditEvent.objects.filter(action="project.create").count() == 0


def test_viewers_cannot_create_projects():
    viewer = viewer_of(pf.manager_actor())
    with pytest.raises(PermissionDenied):
        pf.project(viewer)
    assert Project.objects.count() == 0


# Edit ------------------------------------------------------------------------------------


def test_update_changes_fields_and_audits_before_and_after():
    actor = pf.manager_actor()
    project = pf.project(actor, overlap=3)
    services.project_update(actor=actor, project=project, changes={"overlap": 4, "title": "New"})
    project.refresh_from_db()
    assert (project.overlap, project.title) == (4, "New")
    event = AuditEvent.objects.get(action="project.update")
    assert event.before == {"overlap": 3, "title": "Medication safety preferences"}
    assert event.after == {"overlap": 4, "title": "New"}


def test_task_type_cannot_change_once_tasks_exist():
    actor = pf.manager_actor()
    project = pf.project(actor)
    pf.tasks(project, 1)
    with pytest.raises(Conflict, match="task type"):
        services.project_update(
            actor=actor, project=project, changes={"task_type": "classification"}
        )
    project.refresh_from_db()
    assert project.task_type == "pairwise"


def test_task_type_may_change_before_tasks_and_settings_follow_the_new_type():
    actor = pf.manager_actor()
    project = pf.project(actor, task_settings={"criteria": ["helpfulness"]})
    services.project_update(
        actor=actor,
        project=project,
        changes={"task_type": "classification", "task_settings": {"labels": ["a", "b"]}},
    )
    project.refresh_from_db()
    assert project.task_type == "classification"
    assert project.task_settings["labels"] == ["a", "b"]


def test_setup_fields_are_fixed_once_active_but_title_is_not():
    actor = pf.manager_actor()
    project = pf.active_project(actor)
    with pytest.raises(Conflict, match="price_per_annotation_cents"):
        services.project_update(
            actor=actor, project=project, changes={"price_per_annotation_cents": 1}
        )
    services.project_update(actor=actor, project=project, changes={"title": "Renamed"})
    project.refresh_from_db()
    assert (project.title, project.price_per_annotation_cents) == ("Renamed", 500)


def test_unknown_fields_cannot_be_set():
    actor = pf.manager_actor()
    project = pf.project(actor)
    with pytest.raises(InvalidInput) as error:
        services.project_update(actor=actor, project=project, changes={"status": "active"})
    assert error.value.field == "status"
    project.refresh_from_db()
    assert project.status == ProjectStatus.DRAFT


# Guidelines ------------------------------------------------------------------------------


def test_publishing_makes_a_new_version_and_keeps_the_old_one():
    actor = pf.manager_actor()
    project = pf.project(actor)
    version = services.guidelines_publish(
        actor=actor, project=project, guidelines="v2 text", changelog="Clarified ties."
    )
    project.refresh_from_db()
    assert (version.number, project.guidelines_version, project.material_guidelines_version) == (
        2,
        2,
        0,
    )
    assert list(project.guideline_versions.values_list("number", "changelog")) == [
        (2, "Clarified ties."),
        (1, "First version."),
    ]


def test_publishing_the_same_text_or_without_changelog_is_refused():
    actor = pf.manager_actor()
    project = pf.project(actor)
    with pytest.raises(InvalidInput) as error:
        services.guidelines_publish(
            actor=actor, project=project, guidelines=pf.GUIDELINES, changelog="Nothing."
        )
    assert error.value.field == "guidelines"
    with pytest.raises(InvalidInput) as error:
        services.guidelines_publish(actor=actor, project=project, guidelines="New", changelog=" ")
    assert error.value.field == "changelog"
    assert project.guideline_versions.count() == 1


def test_material_change_asks_experts_who_worked_to_reacknowledge():
    actor = pf.manager_actor()
    project = pf.active_project(actor)
    worker, bystander = factories.expert(), factories.expert()
    task = project.tasks.first()
    Annotation.objects.create(
        task=task,
        project=project,
        expert=worker,
        result={"preference": "tie"},
        confidence=50,
        guidelines_version=1,
    )
    services.guidelines_acknowledge(expert=worker, project=project)
    assert not guidelines_acknowledgement_required(expert=worker, project=project)

    services.guidelines_publish(
        actor=actor, project=project, guidelines="Minor wording", changelog="Typos."
    )
    project.refresh_from_db()
    assert not guidelines_acknowledgement_required(expert=worker, project=project)
    assert Notification.objects.count() == 0

    services.guidelines_publish(
        actor=actor,
        project=project,
        guidelines="Ties are now forbidden.",
        changelog="No more ties.",
        is_material=True,
    )
    project.refresh_from_db()
    assert project.material_guidelines_version == 3
    assert guidelines_acknowledgement_required(expert=worker, project=project)
    notice = Notification.objects.get()
    assert notice.recipient == worker
    assert "No more ties." in notice.text
    assert not Notification.objects.filter(recipient=bystander).exists()

    services.guidelines_acknowledge(expert=worker, project=project)
    assert not guidelines_acknowledgement_required(expert=worker, project=project)


# Funding and states ----------------------------------------------------------------------


def test_funding_a_draft_credits_it_and_makes_it_funded():
    actor = pf.manager_actor()
    project = pf.project(actor)
    fund_lab(project.organization, 10_000)
    funding = services.project_fund(actor=actor, project=project, amount_cents=10_000)
    project.refresh_from_db()
    assert (project.status, project.funded_cents) == (ProjectStatus.FUNDED, 10_000)
    assert (funding.provider, funding.amount_cents) == ("balance", 10_000)
    assert balance_cents(lab_account(organization=actor.organization, currency="USD")) == 0
    assert balance_cents(escrow_account(project=project)) == 10_000
    assert AuditEvent.objects.filter(action="project.fund").count() == 1


def test_funding_with_the_same_idempotency_key_charges_once():
    actor = pf.manager_actor()
    project = pf.project(actor)
    fund_lab(actor.organization, 5000)
    first = services.project_fund(
        actor=actor, project=project, amount_cents=5000, idempotency_key="order-1"
    )
    again = services.project_fund(
        actor=actor, project=project, amount_cents=5000, idempotency_key="order-1"
    )
    project.refresh_from_db()
    assert first.pk == again.pk
    assert project.funded_cents == 5000
    assert ProjectFunding.objects.count() == 1
    assert balance_cents(escrow_account(project=project)) == 5000
    with pytest.raises(Conflict):
        services.project_fund(
            actor=actor, project=project, amount_cents=7000, idempotency_key="order-1"
        )


@pytest.mark.parametrize("amount", [0, -5, 1.5, True])
def test_funding_refuses_bad_amounts(amount):
    actor = pf.manager_actor()
    project = pf.project(actor)
    with pytest.raises(InvalidInput) as error:
        services.project_fund(actor=actor, project=project, amount_cents=amount)
    assert error.value.field == "amount_cents"
    project.refresh_from_db()
    assert (project.status, project.funded_cents) == (ProjectStatus.DRAFT, 0)


def test_funding_a_project_needs_the_lab_balance_and_changes_nothing_when_short():
    actor = pf.manager_actor()
    project = pf.project(actor)
    fund_lab(actor.organization, 4_000)
    with pytest.raises(Conflict, match=r"The lab's balance holds \$40\.00; \$50\.00 is needed"):
        services.project_fund(actor=actor, project=project, amount_cents=5_000)
    project.refresh_from_db()
    assert (project.status, project.funded_cents) == (ProjectStatus.DRAFT, 0)
    assert ProjectFunding.objects.count() == 0
    assert balance_cents(lab_account(organization=actor.organization, currency="USD")) == 4_000


def test_activation_needs_tasks_guidelines_and_enough_funds():
    actor = pf.manager_actor()
    project = pf.project(actor, guidelines="", overlap=3, price_per_annotation_cents=500)
    fund_lab(project.organization, 100)
    services.project_fund(actor=actor, project=project, amount_cents=100)
    with pytest.raises(Conflict) as error:
        services.project_activate(actor=actor, project=project)
    assert "Import at least one task." in error.value.message
    assert "Write the guidelines." in error.value.message

    pf.tasks(project, 4)
    pf.tasks(project, 2, gold=True)
    services.guidelines_publish(actor=actor, project=project, guidelines="Go", changelog="v1")
    needed = required_funds_cents(project=project, task_count=4)
    # 12 regular annotations, 2 gold ones at the 10% gold rate (12 / 9, rounded up), 20% fee.
    assert needed == 14 * 500 * 120 // 100
    with pytest.raises(Conflict, match=r"\$84\.00 needed, \$1\.00 funded"):
        services.project_activate(actor=actor, project=project)
    project.refresh_from_db()
    assert project.status == ProjectStatus.FUNDED

    fund_lab(project.organization, needed - 100)
    services.project_fund(actor=actor, project=project, amount_cents=needed - 100)
    services.project_activate(actor=actor, project=project)
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert project.activated_at is not None


def test_a_draft_cannot_be_activated_without_funding():
    actor = pf.manager_actor()
    project = pf.project(actor)
    pf.tasks(project, 1)
    with pytest.raises(Conflict, match="draft project cannot be activated"):
        services.project_activate(actor=actor, project=project)


def test_pause_resume_complete_archive():
    actor = pf.manager_actor()
    project = pf.active_project(actor)
    services.project_pause(actor=actor, project=project)
    assert project.status == ProjectStatus.PAUSED
    services.project_resume(actor=actor, project=project)
    assert project.status == ProjectStatus.ACTIVE
    services.project_complete(actor=actor, project=project)
    assert project.status == ProjectStatus.COMPLETED
    assert project.completed_at is not None
    with pytest.raises(Conflict, match="completed project cannot be paused"):
        services.project_pause(actor=actor, project=project)
    services.project_archive(actor=actor, project=project)
    assert project.status == ProjectStatus.ARCHIVED
    actions = list(
        AuditEvent.objects.filter(
            target_id=str(project.pk),
            action__in=["project.pause", "project.resume", "project.complete", "project.archive"],
        )
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["project.pause", "project.resume", "project.complete", "project.archive"]


def test_resume_rechecks_funds_after_more_tasks_arrived():
    actor = pf.manager_actor()
    project = pf.active_project(actor, task_count=2)
    services.project_pause(actor=actor, project=project)
    pf.tasks(project, 3, prefix="more")
    with pytest.raises(Conflict, match="needed"):
        services.project_resume(actor=actor, project=project)
    project.refresh_from_db()
    assert project.status == ProjectStatus.PAUSED


def test_finished_projects_take_no_funds_or_changes():
    actor = pf.manager_actor()
    project = pf.active_project(actor)
    services.project_complete(actor=actor, project=project)
    funded = project.funded_cents
    with pytest.raises(Conflict):
        services.project_fund(actor=actor, project=project, amount_cents=100)
    with pytest.raises(Conflict):
        services.project_update(actor=actor, project=project, changes={"title": "x"})
    with pytest.raises(Conflict):
        services.guidelines_publish(actor=actor, project=project, guidelines="x", changelog="x")
    project.refresh_from_db()
    assert project.funded_cents == funded


def test_viewers_cannot_move_projects_or_fund_them():
    actor = pf.manager_actor()
    project = pf.active_project(actor)
    viewer = viewer_of(actor)
    for call in (services.project_pause, services.project_complete):
        with pytest.raises(PermissionDenied):
            call(actor=viewer, project=project)
    with pytest.raises(PermissionDenied):
        services.project_fund(actor=viewer, project=project, amount_cents=100)
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE


def test_sending_the_same_task_type_keeps_the_settings():
    actor = pf.manager_actor()
    project = pf.project(actor, task_settings={"criteria": ["accuracy", "safety"]})
    services.project_update(actor=actor, project=project, changes={"task_type": "pairwise"})
    project.refresh_from_db()
    assert project.task_settings["criteria"] == ["accuracy", "safety"]


def test_task_settings_are_fixed_once_tasks_exist():
    actor = pf.manager_actor()
    project = pf.project(actor, task_type="classification", task_settings={"labels": ["yes", "no"]})
    pf.tasks(project, 1)
    with pytest.raises(Conflict, match="settings cannot change"):
        services.project_update(
            actor=actor, project=project, changes={"task_settings": {"labels": ["red", "green"]}}
        )
    project.refresh_from_db()
    assert project.task_settings["labels"] == ["yes", "no"]
    # Re-sending the settings unchanged (as the edit form does) is fine.
    services.project_update(
        actor=actor,
        project=project,
        changes={"task_settings": project.task_settings, "title": "Renamed"},
    )
    project.refresh_from_db()
    assert project.title == "Renamed"
