"""Reads of the workspace, scoped to the expert: their leases, drafts and answers."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from marketplace.errors import NotFound
from marketplace.models import User
from projects.dispatch.models import Assignment
from projects.models import Annotation, Project, ProjectMember
from projects.review.models import AnnotationReview
from projects.selectors import _as_uuid
from projects.states import AnnotationStatus, AssignmentStatus, MemberStatus, ProjectStatus

HIDDEN_PROJECT_STATES = frozenset({ProjectStatus.ARCHIVED})


def assignment_for_expert(*, expert: User, assignment_id: Any) -> Assignment:
    """One of the expert's own assignments on a project they are still on, else NotFound.

    Only the task's data is loaded with it: the gold answer lives in another table and is
    never read here.
    """
    if not expert.is_authenticated:
        raise NotFound()
    try:
        return (
            Assignment.objects.select_related("task", "project", "project__organization")
            .exclude(project__status__in=HIDDEN_PROJECT_STATES)
            .exclude(
                Exists(
                    ProjectMember.objects.filter(
                        project=OuterRef("project"), expert=expert, status=MemberStatus.REMOVED
                    )
                )
            )
            .get(public_id=_as_uuid(assignment_id), expert=expert)
        )
    except Assignment.DoesNotExist:
        raise NotFound() from None


def annotation_for_expert(*, expert: User, annotation_id: Any) -> Annotation:
    """One of the expert's own annotations (with its reviews), else NotFound."""
    if not expert.is_authenticated:
        raise NotFound()
    try:
        return (
            Annotation.objects.select_related("task", "project", "project__organization")
            .prefetch_related(_reviews())
            .get(public_id=_as_uuid(annotation_id), expert=expert)
        )
    except Annotation.DoesNotExist:
        raise NotFound() from None


def _reviews() -> Prefetch[Any]:
    return Prefetch("reviews", queryset=AnnotationReview.objects.order_by("created_at", "id"))


def annotations_of_expert(
    *, expert: User, project: Project | None = None, status: str = ""
) -> QuerySet[Annotation]:
    """The expert's answers, newest first, with their project and reviews."""
    rows = Annotation.objects.filter(expert=expert)
    if project is not None:
        rows = rows.filter(project=project)
    if status:
        rows = rows.filter(status=status)
    return (
        rows.select_related("project", "task")
        .prefetch_related(_reviews())
        .order_by("-submitted_at", "-id")
    )


def kept_drafts(*, expert: User, project: Project | None = None) -> QuerySet[Assignment]:
    """Drafts whose lease ran out: still open while their task has room (the next claim
    resumes the newest), closed once it filled up."""
    rows = Assignment.objects.filter(
        expert=expert, status=AssignmentStatus.EXPIRED, draft__isnull=False
    )
    if project is not None:
        rows = rows.filter(project=project)
    return rows.select_related("project", "task").order_by("-draft_saved_at")


def expert_project_progress(*, expert: User, project: Project) -> dict[str, int]:
    """The expert's own counts on the project, by review status (one query)."""
    counts = Annotation.objects.filter(expert=expert, project=project).aggregate(
        total=Count("id"),
        accepted=Count("id", filter=Q(status=AnnotationStatus.ACCEPTED)),
        rejected=Count("id", filter=Q(status=AnnotationStatus.REJECTED)),
        revision=Count("id", filter=Q(status=AnnotationStatus.REVISION)),
    )
    return {key: int(value or 0) for key, value in counts.items()}
