"""Demo projects for the demo lab: one of every task type, in the states a lab dashboard shows.

Everything is made through the services, as a lab manager would, once per natural key: a
project by (organisation, title), a task by its external id. Running the seed again
converges and creates nothing new.
"""

from __future__ import annotations

import contextlib
import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from experts.models import Domain
from experts.states import CredentialKind, Seniority
from marketplace.errors import InvalidInput
from marketplace.models import Organization, User
from payments.demo import ensure_balance, seed_opening_funds
from projects import services
from projects.access import LabActor, lab_actor_for_member
from projects.demo.code import (
    DEMONSTRATION_GUIDELINES,
    DEMONSTRATION_RUBRIC,
    DEMONSTRATION_TASKS,
    SAFETY_GUIDELINES,
    SAFETY_RUBRIC,
    SAFETY_SETTINGS,
    SAFETY_TASKS,
)
from projects.demo.legal import CRITIQUE_GUIDELINES, CRITIQUE_RUBRIC, CRITIQUE_TASKS
from projects.demo.medical import (
    CRITERIA,
    PAIRWISE_GUIDELINES,
    PAIRWISE_GUIDELINES_V2,
    PAIRWISE_RUBRIC,
    PAIRWISE_TASKS,
    RUBRIC_GUIDELINES,
    RUBRIC_RUBRIC,
    RUBRIC_SETTINGS,
    RUBRIC_TASKS,
)
from projects.demo.multilingual import (
    CLASSIFICATION_GUIDELINES,
    CLASSIFICATION_RUBRIC,
    CLASSIFICATION_TASKS,
    INTENTS,
)
from projects.demo.radiology import RADIOLOGY_GUIDELINES, RADIOLOGY_RUBRIC, RADIOLOGY_TASKS
from projects.matching.services import invitation_accept, invitation_decline, matching_run
from projects.models import (
    Annotation,
    MatchingRun,
    Project,
    ProjectInvitation,
    WebhookEndpoint,
)
from projects.pricing import suggested_price_cents
from projects.selectors import required_funds_cents
from projects.services.imports import tasks_create_batch
from projects.services.webhooks import webhook_endpoint_create
from projects.states import (
    AnnotationStatus,
    DeclineReason,
    ImportKind,
    InvitationSource,
    InvitationStatus,
    ProjectStatus,
    RunTrigger,
    WebhookEvent,
)


@dataclass(frozen=True)
class DemoRevision:
    """A later guidelines version, published once the project is live."""

    guidelines: str
    rubric: str
    changelog: str
    is_material: bool = True


@dataclass(frozen=True)
class DemoProject:
    title: str
    summary: str
    domain: str
    specialties: tuple[str, ...]
    task_type: str
    status: str  # draft, active or paused
    guidelines: str
    rubric: str
    # Task rows as a lab uploads them; a gold row carries its answer under "gold".
    tasks: tuple[dict[str, Any], ...]
    task_settings: dict[str, Any] = field(default_factory=dict)
    overlap: int = 3
    seats: int = 10
    languages: tuple[str, ...] = ("en",)
    required_credential_kinds: tuple[str, ...] = ()
    min_seniority: str = ""
    deadline_in_days: int | None = None
    revision: DemoRevision | None = None


# Medicine: pairwise preferences on medication questions -----------------------------------

PROJECTS: tuple[DemoProject, ...] = (
    DemoProject(
        title="Medication safety preferences",
        summary="Compare two answers to patients' questions about their medicines and "
        "choose the one a careful clinician would rather they read.",
        domain="medicine",
        specialties=("medicine-pharmacology",),
        task_type="pairwise",
        status=ProjectStatus.ACTIVE,
        guidelines=PAIRWISE_GUIDELINES,
        rubric=PAIRWISE_RUBRIC,
        tasks=PAIRWISE_TASKS,
        task_settings={"criteria": CRITERIA},
        required_credential_kinds=(CredentialKind.DEGREE, CredentialKind.LICENCE),
        min_seniority=Seniority.MID,
        deadline_in_days=60,
        revision=DemoRevision(
            guidelines=PAIRWISE_GUIDELINES_V2,
            rubric=PAIRWISE_RUBRIC,
            changelog="Dose questions: an answer that gives a dose without the patient's age, "
            "weight or kidney function is now worse.",
        ),
    ),
    DemoProject(
        title="Imaging report explanations",
        summary="Compare two answers to patients asking what their radiology report means and "
        "choose the one a radiologist would rather they read.",
        domain="medicine-radiology",
        specialties=(),
        task_type="pairwise",
        status=ProjectStatus.ACTIVE,
        guidelines=RADIOLOGY_GUIDELINES,
        rubric=RADIOLOGY_RUBRIC,
        tasks=RADIOLOGY_TASKS,
        task_settings={"criteria": CRITERIA},
        required_credential_kinds=(CredentialKind.BOARD_CERTIFICATION,),
        min_seniority=Seniority.SENIOR,
        seats=3,
        deadline_in_days=40,
    ),
    DemoProject(
        title="Discharge summary explanations",
        summary="Score plain-language explanations of hospital discharge summaries for "
        "accuracy, completeness, readability and safety-netting.",
        domain="medicine",
        specialties=("medicine-emergency-medicine", "medicine-cardiology"),
        task_type="rubric",
        status=ProjectStatus.PAUSED,
        guidelines=RUBRIC_GUIDELINES,
        rubric=RUBRIC_RUBRIC,
        tasks=RUBRIC_TASKS,
        task_settings=RUBRIC_SETTINGS,
        required_credential_kinds=(CredentialKind.LICENCE,),
        min_seniority=Seniority.SENIOR,
        seats=6,
    ),
    DemoProject(
        title="Contract clause review",
        summary="Find and correct the legal errors in answers about commercial contract "
        "clauses under English law.",
        domain="law",
        specialties=("law-contracts",),
        task_type="critique",
        status=ProjectStatus.ACTIVE,
        guidelines=CRITIQUE_GUIDELINES,
        rubric=CRITIQUE_RUBRIC,
        tasks=CRITIQUE_TASKS,
        overlap=2,
        seats=5,
        required_credential_kinds=(CredentialKind.LICENCE,),
        min_seniority=Seniority.MID,
        deadline_in_days=45,
    ),
    DemoProject(
        title="Python utility functions",
        summary="Write the reference solution a senior engineer would give to small, "
        "well-specified Python tasks.",
        domain="software-engineering",
        specialties=("software-engineering-backend",),
        task_type="demonstration",
        status=ProjectStatus.DRAFT,
        guidelines=DEMONSTRATION_GUIDELINES,
        rubric=DEMONSTRATION_RUBRIC,
        tasks=DEMONSTRATION_TASKS,
        task_settings={"min_answer_chars": 200, "allow_code": True},
        overlap=1,
        min_seniority=Seniority.SENIOR,
    ),
    DemoProject(
        title="Cyber-security red-team",
        summary="Rate model responses to cyber-security prompts for harm, and write "
        "adversarial prompts for given objectives.",
        domain="software-engineering",
        specialties=("software-engineering-security",),
        task_type="safety",
        status=ProjectStatus.ACTIVE,
        guidelines=SAFETY_GUIDELINES,
        rubric=SAFETY_RUBRIC,
        tasks=SAFETY_TASKS,
        task_settings=SAFETY_SETTINGS,
        seats=8,
        required_credential_kinds=(CredentialKind.PROFESSIONAL_CERTIFICATION,),
        min_seniority=Seniority.SENIOR,
        deadline_in_days=30,
    ),
    DemoProject(
        title="Customer message intent (ES/FR/DE)",
        summary="Route Spanish, French and German customer-support messages to the right "
        "team by choosing their intent.",
        domain="languages",
        specialties=("languages-spanish", "languages-french", "languages-german"),
        task_type="classification",
        status=ProjectStatus.ACTIVE,
        guidelines=CLASSIFICATION_GUIDELINES,
        rubric=CLASSIFICATION_RUBRIC,
        tasks=CLASSIFICATION_TASKS,
        task_settings={"labels": INTENTS},
        languages=("es", "fr", "de"),
        seats=15,
    ),
)


# Seeding ----------------------------------------------------------------------------------


def seed_projects(*, organization: Organization, manager: User) -> list[Project]:
    """Create the demo projects of ``organization`` as ``manager`` and bring each to its state.

    Call after the manager's membership exists. Each step runs only when its outcome is
    missing, so a second run changes nothing.
    """
    actor = lab_actor_for_member(user=manager, organization_slug=organization.slug)
    seed_opening_funds(actor=actor)
    slugs = {spec.domain for spec in PROJECTS} | {s for spec in PROJECTS for s in spec.specialties}
    domains = Domain.objects.in_bulk(list(slugs), field_name="slug")
    existing = {p.title: p for p in Project.objects.filter(organization=organization)}
    projects = [_project(actor, spec, existing.get(spec.title), domains) for spec in PROJECTS]
    _webhook_endpoint(actor)
    return projects


def seed_matching(*, accepting: User, keeps_pending: User) -> None:
    """Run matching once over the demo (in the seed's transaction), then have ``accepting``
    take their seat and the lowest-ranked other invitee decline it, so the lab's experts page
    shows every answer; ``keeps_pending`` is left to answer in the browser. A second run offers
    the declined seat to the next expert."""
    if MatchingRun.objects.exists():
        return
    matching_run(trigger=RunTrigger.SCHEDULE)
    pending = ProjectInvitation.objects.filter(status=InvitationStatus.PENDING)
    mine = pending.filter(expert=accepting).first()
    if mine is not None:
        invitation_accept(expert=accepting, invitation=mine)
    other = (
        pending.exclude(expert__in=[accepting, keeps_pending])
        .select_related("expert")
        .order_by("score")
        .first()
    )
    if other is not None:
        invitation_decline(
            expert=other.expert,
            invitation=other,
            reason=DeclineReason.NO_TIME,
            note="On congress leave until January.",
        )
        matching_run(trigger=RunTrigger.CAPACITY_FREED)


DEMO_WEBHOOK_URL = "https://hooks.acme.example/marketplace"


def _webhook_endpoint(actor: LabActor) -> None:
    """A webhook endpoint for every event, so the lab's webhooks page shows one configured.

    The host does not exist: deliveries (when a demo project completes) end in the log as
    retrying, which is what a lab whose receiver is down sees.
    """
    if WebhookEndpoint.objects.filter(
        organization=actor.organization, url=DEMO_WEBHOOK_URL
    ).exists():
        return
    with contextlib.suppress(InvalidInput):  # private hosts refused: production-like settings
        webhook_endpoint_create(
            actor=actor,
            url=DEMO_WEBHOOK_URL,
            events=list(WebhookEvent.values),
            description="Data pipeline (demo receiver)",
        )


def _project(
    actor: LabActor, spec: DemoProject, project: Project | None, domains: dict[str, Domain]
) -> Project:
    if project is None:
        domain = domains[spec.domain]
        deadline = (
            timezone.localdate() + datetime.timedelta(days=spec.deadline_in_days)
            if spec.deadline_in_days is not None
            else None
        )
        project = services.project_create(
            actor=actor,
            title=spec.title,
            summary=spec.summary,
            domain=domain,
            specialties=[domains[slug] for slug in spec.specialties],
            task_type=spec.task_type,
            task_settings=spec.task_settings,
            price_per_annotation_cents=suggested_price_cents(
                task_type=spec.task_type, domain=domain
            ),
            overlap=spec.overlap,
            seats=spec.seats,
            languages=list(spec.languages),
            required_credential_kinds=list(spec.required_credential_kinds),
            min_seniority=spec.min_seniority,
            deadline=deadline,
            guidelines=spec.guidelines,
            rubric=spec.rubric,
        )
    if spec.status == ProjectStatus.DRAFT:
        _import_tasks(actor, project, spec)
        return project
    # Funds first: a live project takes new tasks only when they are covered.
    regular = sum("gold" not in row for row in spec.tasks)
    needed = required_funds_cents(project=project, task_count=regular)
    if project.funded_cents < needed:
        ensure_balance(actor=actor, cents=needed - project.funded_cents)
        services.project_fund(
            actor=actor,
            project=project,
            amount_cents=needed - project.funded_cents,
            idempotency_key=f"demo-{project.public_id}-{needed}",
        )
    _import_tasks(actor, project, spec)
    if project.status == ProjectStatus.FUNDED:
        services.project_activate(actor=actor, project=project)
    if spec.revision is not None and project.guidelines_version < 2:
        services.guidelines_publish(
            actor=actor,
            project=project,
            guidelines=spec.revision.guidelines,
            rubric=spec.revision.rubric,
            changelog=spec.revision.changelog,
            is_material=spec.revision.is_material,
        )
    if spec.status == ProjectStatus.PAUSED and project.status == ProjectStatus.ACTIVE:
        services.project_pause(actor=actor, project=project)
    return project


def _import_tasks(actor: LabActor, project: Project, spec: DemoProject) -> None:
    """Import the rows whose external id the project lacks, regular and gold apart."""
    present = set(project.tasks.values_list("external_id", flat=True))
    missing = [row for row in spec.tasks if row["external_id"] not in present]
    for kind, rows in (
        (ImportKind.TASKS, [row for row in missing if "gold" not in row]),
        (ImportKind.GOLD, [row for row in missing if "gold" in row]),
    ):
        if rows:
            tasks_create_batch(actor=actor, project=project, rows=rows, kind=kind)


def summary_lines(*, organization: Organization) -> list[str]:
    """What the demo holds for labs, for the command's closing summary."""
    projects = (
        Project.objects.filter(organization=organization)
        .annotate(
            regular=Count("tasks", filter=Q(tasks__is_gold=False)),
            gold=Count("tasks", filter=Q(tasks__is_gold=True)),
        )
        .order_by("created_at", "id")
    )
    rows = list(projects)
    shown = ", ".join(
        f"{count} {label.lower()}"
        for value, label in ProjectStatus.choices
        if (count := sum(p.status == value for p in rows))
    )
    lines = [
        f"Projects of {organization.name}: {len(rows)} ({shown}), "
        f"{sum(p.regular for p in rows)} tasks and {sum(p.gold for p in rows)} gold tasks."
    ]
    lines.extend(f"  {p.get_status_display().lower():<7} {p.task_type:<14} {p.title}" for p in rows)
    invitations = ProjectInvitation.objects.filter(
        project__organization=organization, source=InvitationSource.MATCHING
    )
    lines.append(
        f"Matching: {invitations.count()} invitations "
        f"({invitations.filter(status='pending').count()} waiting for an answer)."
    )
    lines.extend(
        f"  {invitation.expert.full_name} → {invitation.project.title} ({invitation.status})"
        for invitation in invitations.select_related("expert", "project").order_by("created_at")
    )
    return lines


def workspace_summary_lines(*, organization: Organization) -> list[str]:
    """What the demo holds in the workspace and the review queue."""
    from projects.demo.quality import TITLE as PANEL_TITLE

    annotations = Annotation.objects.filter(project__organization=organization).exclude(
        project__title=PANEL_TITLE
    )
    counts = annotations.aggregate(
        total=Count("id"),
        waiting=Count("id", filter=Q(status=AnnotationStatus.SUBMITTED)),
        edge_cases=Count("id", filter=Q(is_edge_case=True, edge_case_resolved_at=None)),
    )
    return [
        f"Workspace: {counts['total']} annotations ({counts['waiting']} waiting for review, "
        f"{counts['edge_cases']} open edge case); log in as dr.haddad@demo.example and open "
        "/expert/projects/ to continue a task with its draft."
    ]
