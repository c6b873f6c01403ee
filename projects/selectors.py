"""Reads about projects, scoped to the caller. Anything outside the scope raises NotFound."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from marketplace.errors import NotFound
from marketplace.models import Membership, Organization, User
from projects.access import LabActor, lab_actor_for_membership
from projects.models import (
    Annotation,
    GuidelineAcknowledgement,
    GuidelineVersion,
    Project,
    ProjectFunding,
    ProjectMember,
    Task,
    TaskImport,
    WebhookDelivery,
    WebhookEndpoint,
)
from projects.pricing import cost_with_fee_cents
from projects.states import AnnotationStatus, MemberStatus, ProjectStatus, TaskStatus


def _as_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound() from None


# Projects --------------------------------------------------------------------------------


def _count(rows: QuerySet[Any]) -> Coalesce:
    return Coalesce(
        Subquery(rows.annotate(n=Count("id")).values("n")), 0, output_field=IntegerField()
    )


def with_stats(projects: QuerySet[Project]) -> QuerySet[Project]:
    """Annotate what ``project_figures`` reads: one subquery per count, in the same query
    whatever the number of projects."""
    tasks = Task.objects.filter(project=OuterRef("pk")).order_by().values("project")
    regular = tasks.filter(is_gold=False)
    billable = (
        Annotation.objects.filter(project=OuterRef("pk"))
        .exclude(status=AnnotationStatus.REJECTED)
        .order_by()
        .values("project")
    )
    return projects.annotate(
        task_count=_count(regular),
        gold_count=_count(tasks.filter(is_gold=True)),
        completed_count=_count(regular.filter(status=TaskStatus.COMPLETED)),
        annotations_done=Coalesce(
            Subquery(regular.annotate(n=Sum("annotation_count")).values("n")),
            0,
            output_field=IntegerField(),
        ),
        billable_count=_count(billable),
    )


def projects_for_actor(*, actor: LabActor, status: str | None = None) -> QuerySet[Project]:
    """The organisation's projects, newest first, with their counts (see ``project_figures``)."""
    projects = with_stats(
        Project.objects.filter(organization=actor.organization)
        .select_related("organization", "domain", "domain__parent")
        .order_by("-created_at", "-id")
    )
    if status:
        projects = projects.filter(status=status)
    return projects


def project_with_stats(*, project: Project) -> Project:
    """The project read again with its counts (after a change, for the API's answer)."""
    return (
        with_stats(Project.objects.filter(pk=project.pk))
        .select_related("organization", "domain", "domain__parent")
        .prefetch_related("specialties")
        .get()
    )


def project_status_counts(*, actor: LabActor) -> dict[str, int]:
    """How many of the organisation's projects are in each state."""
    rows = (
        Project.objects.filter(organization=actor.organization)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["status"]: row["n"] for row in rows}


def project_for_actor(*, actor: LabActor, project_id: Any) -> Project:
    """The project, if it belongs to the actor's organisation."""
    try:
        return Project.objects.select_related(
            "organization", "domain", "domain__parent", "created_by"
        ).get(public_id=_as_uuid(project_id), organization=actor.organization)
    except Project.DoesNotExist:
        raise NotFound() from None


def project_for_user(*, user: User, project_id: Any) -> tuple[Project, LabActor]:
    """The project and the user's standing in its organisation (API sessions, any lab)."""
    if not user.is_authenticated:
        raise NotFound()
    try:
        project = Project.objects.select_related(
            "organization", "domain", "domain__parent", "created_by"
        ).get(public_id=_as_uuid(project_id))
        membership = Membership.objects.select_related("organization").get(
            user=user, organization_id=project.organization_id
        )
    except (Project.DoesNotExist, Membership.DoesNotExist):
        raise NotFound() from None
    return project, lab_actor_for_membership(membership, user)


def organization_project_totals(*, organization: Organization) -> dict[str, int]:
    """Projects in total, live ones, and all money put into them (one query)."""
    return Project.objects.filter(organization=organization).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=ProjectStatus.ACTIVE)),
        funded_cents=Coalesce(Sum("funded_cents"), 0),
    )


# Guidelines ------------------------------------------------------------------------------


def project_guidelines(*, project: Project) -> GuidelineVersion | None:
    """The current version, or None before the first one."""
    if not project.guidelines_version:
        return None
    return GuidelineVersion.objects.filter(
        project=project, number=project.guidelines_version
    ).first()


def project_guideline_versions(*, project: Project) -> QuerySet[GuidelineVersion]:
    return GuidelineVersion.objects.filter(project=project).select_related("created_by")


def guidelines_acknowledgement_required(*, expert: User, project: Project) -> bool:
    """True when a material change came after what the expert last acknowledged."""
    if not project.guidelines_version:
        return False
    acknowledged = (
        GuidelineAcknowledgement.objects.filter(project=project, expert=expert)
        .values_list("version", flat=True)
        .first()
    )
    if acknowledged is None:
        return True
    return acknowledged < project.material_guidelines_version


def project_for_expert(*, expert: User, project_id: Any) -> Project:
    """A project the expert is a member of (and not removed from) or has annotated, else
    NotFound."""
    if not expert.is_authenticated:
        raise NotFound()
    try:
        return Project.objects.select_related("organization").get(
            Q(pk__in=Project.objects.filter(annotations__expert=expert).values("pk"))
            | Q(
                pk__in=ProjectMember.objects.filter(expert=expert)
                .exclude(status=MemberStatus.REMOVED)
                .values("project_id")
            ),
            public_id=_as_uuid(project_id),
        )
    except Project.DoesNotExist:
        raise NotFound() from None


def guideline_changes_since(*, expert: User, project: Project) -> QuerySet[GuidelineVersion]:
    """Versions published after the one the expert last acknowledged, newest first."""
    acknowledged = (
        GuidelineAcknowledgement.objects.filter(project=project, expert=expert)
        .values_list("version", flat=True)
        .first()
    )
    return GuidelineVersion.objects.filter(project=project, number__gt=acknowledged or 0)


def experts_on_project(*, project: Project) -> QuerySet[User]:
    """Experts on the project: members (not removed) and anyone who annotated it."""
    return User.objects.filter(
        Q(annotations__project=project)
        | Q(
            project_memberships__project=project,
            project_memberships__status__in=[MemberStatus.ACTIVE, MemberStatus.PAUSED],
        )
    ).distinct()


# Tasks -----------------------------------------------------------------------------------


def project_tasks(
    *,
    project: Project,
    status: str | None = None,
    is_gold: bool | None = None,
    external_id: str | None = None,
) -> QuerySet[Task]:
    """The project's tasks in import order, filtered. Never includes gold answers."""
    tasks = Task.objects.filter(project=project).order_by("id")
    if status:
        tasks = tasks.filter(status=status)
    if is_gold is not None:
        tasks = tasks.filter(is_gold=is_gold)
    if external_id:
        tasks = tasks.filter(external_id__startswith=external_id)
    return tasks


def task_for_project(*, project: Project, task_id: int) -> Task:
    try:
        return Task.objects.select_related("gold_answer").get(project=project, pk=task_id)
    except Task.DoesNotExist:
        raise NotFound() from None


def task_by_external_id(*, project: Project, external_id: str) -> Task:
    try:
        return Task.objects.select_related("gold_answer").get(
            project=project, external_id=external_id
        )
    except Task.DoesNotExist:
        raise NotFound() from None


def project_gold_tasks(*, project: Project) -> QuerySet[Task]:
    return (
        Task.objects.filter(project=project, is_gold=True)
        .select_related("gold_answer")
        .order_by("id")
    )


# Imports ---------------------------------------------------------------------------------


def project_imports(*, project: Project) -> QuerySet[TaskImport]:
    return TaskImport.objects.filter(project=project).select_related("created_by")


def import_for_project(*, project: Project, import_id: Any) -> TaskImport:
    try:
        return TaskImport.objects.select_related("created_by").get(
            project=project, public_id=_as_uuid(import_id)
        )
    except TaskImport.DoesNotExist:
        raise NotFound() from None


# Progress and money ----------------------------------------------------------------------


def expected_annotations(*, project: Project, task_count: int) -> int:
    """Paid annotations the project needs for ``task_count`` regular tasks.

    Gold answers are paid work too: at a gold rate of r%, r of every 100 tasks an expert is
    served are gold, so each regular annotation brings r / (100 - r) gold ones (rounded up).
    """
    regular = task_count * project.overlap
    rate = project.gold_rate_percent
    return regular + (-(-regular * rate // (100 - rate)) if rate else 0)


def required_funds_cents(*, project: Project, task_count: int) -> int:
    """What ``task_count`` regular tasks cost: their annotations at the project's overlap,
    the gold annotations mixed in at its gold rate, at its price, with the platform fee."""
    return cost_with_fee_cents(
        annotations=expected_annotations(project=project, task_count=task_count),
        price_cents=project.price_per_annotation_cents,
    )


@dataclass(frozen=True)
class ProjectFigures:
    """A project's counts and money, from one row of ``with_stats``."""

    task_count: int
    gold_count: int
    completed_tasks: int
    annotations_needed: int
    annotations_done: int
    cost_so_far_cents: int
    required_funds_cents: int
    funded_cents: int

    @property
    def percent_done(self) -> int:
        if not self.annotations_needed:
            return 0
        return min(100, self.annotations_done * 100 // self.annotations_needed)

    @property
    def shortfall_cents(self) -> int:
        return max(0, self.required_funds_cents - self.funded_cents)

    @property
    def remaining_budget_cents(self) -> int:
        """Funds not yet spent on accepted or pending work (never below zero)."""
        return max(0, self.funded_cents - self.cost_so_far_cents)


def project_figures(project: Project) -> ProjectFigures:
    """Counts and money of a project read through ``with_stats`` (no query)."""
    task_count = int(getattr(project, "task_count", 0) or 0)
    return ProjectFigures(
        task_count=task_count,
        gold_count=int(getattr(project, "gold_count", 0) or 0),
        completed_tasks=int(getattr(project, "completed_count", 0) or 0),
        annotations_needed=task_count * project.overlap,
        annotations_done=int(getattr(project, "annotations_done", 0) or 0),
        cost_so_far_cents=cost_with_fee_cents(
            annotations=int(getattr(project, "billable_count", 0) or 0),
            price_cents=project.price_per_annotation_cents,
        ),
        required_funds_cents=required_funds_cents(project=project, task_count=task_count),
        funded_cents=project.funded_cents,
    )


@dataclass(frozen=True)
class ExpertProgress:
    """One expert's work on a project, under the pseudonymous id labs see (never a name)."""

    expert: uuid.UUID | None
    annotations: int


@dataclass(frozen=True)
class ProjectProgress(ProjectFigures):
    """The figures with each expert's share of the work."""

    experts: list[ExpertProgress] = field(default_factory=list)


def project_progress(*, project: Project) -> ProjectProgress:
    """Counts, money and per-expert progress in two queries whatever the project's size."""
    figures = project_figures(with_stats(Project.objects.filter(pk=project.pk)).get())
    per_expert = (
        project.annotations.values("expert_id", "expert__expert_profile__public_id")
        .annotate(n=Count("id"))
        .order_by("-n", "expert_id")[:50]
    )
    experts = [
        ExpertProgress(expert=row["expert__expert_profile__public_id"], annotations=row["n"])
        for row in per_expert
    ]
    values = {item.name: getattr(figures, item.name) for item in fields(figures)}
    return ProjectProgress(**values, experts=experts)


def project_fundings(*, project: Project) -> QuerySet[ProjectFunding]:
    return ProjectFunding.objects.filter(project=project).select_related("created_by")


# Webhooks --------------------------------------------------------------------------------


def webhook_endpoints_for_actor(*, actor: LabActor) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=actor.organization).order_by("created_at")


def webhook_endpoint_for_actor(*, actor: LabActor, endpoint_id: Any) -> WebhookEndpoint:
    try:
        return WebhookEndpoint.objects.get(
            organization=actor.organization, public_id=_as_uuid(endpoint_id)
        )
    except WebhookEndpoint.DoesNotExist:
        raise NotFound() from None


def webhook_endpoint_for_user(*, user: User, endpoint_id: Any) -> tuple[WebhookEndpoint, LabActor]:
    """The endpoint and the user's standing in its organisation (API sessions, any lab)."""
    try:
        endpoint = WebhookEndpoint.objects.get(public_id=_as_uuid(endpoint_id))
        membership = Membership.objects.select_related("organization").get(
            user=user, organization_id=endpoint.organization_id
        )
    except (WebhookEndpoint.DoesNotExist, Membership.DoesNotExist):
        raise NotFound() from None
    return endpoint, lab_actor_for_membership(membership, user)


def webhook_delivery_for_actor(
    *, actor: LabActor, delivery_id: Any, endpoint: WebhookEndpoint | None = None
) -> WebhookDelivery:
    delivery = (
        webhook_deliveries_for_actor(actor=actor, endpoint=endpoint)
        .filter(public_id=_as_uuid(delivery_id))
        .first()
    )
    if delivery is None:
        raise NotFound()
    return delivery


def webhook_deliveries_for_actor(
    *, actor: LabActor, endpoint: WebhookEndpoint | None = None
) -> QuerySet[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.filter(
        endpoint__organization=actor.organization
    ).select_related("endpoint")
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    return deliveries.order_by("-created_at", "-id")
