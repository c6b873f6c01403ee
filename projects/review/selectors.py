"""Reads of lab review, scoped to the lab: the review queue, one annotation, edge cases."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import CharField, Count, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Cast, Replace

from marketplace.errors import InvalidInput, NotFound
from projects.access import LabActor
from projects.models import Annotation, Project
from projects.review.models import AnnotationReview
from projects.selectors import _as_uuid
from projects.states import AnnotationStatus

PSEUDONYM = re.compile(r"^(?:expert\s+)?([0-9a-f]{4,32})$", re.IGNORECASE)


@dataclass(frozen=True)
class ReviewFilters:
    """What the review queue shows. ``status`` "" means every status."""

    status: str = AnnotationStatus.SUBMITTED
    expert: str = ""  # the pseudonym's hex part
    flagged: bool | None = None
    min_confidence: int | None = None
    max_confidence: int | None = None
    disagreement: bool | None = None
    gold: bool | None = None


def _flag(value: str | None, field: str) -> bool | None:
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise InvalidInput(f"{field}: use yes or no.", field=field)


def resolved_filter_from(value: str | None) -> bool | None:
    """The edge-case queue's filter: open ones (the default), resolved ones, or all (None)."""
    if (value or "").strip().lower() == "all":
        return None
    try:
        return bool(_flag(value, "resolved"))
    except InvalidInput:
        raise InvalidInput("resolved: use yes, no or all.", field="resolved") from None


def _percent(value: str | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidInput(f"{field}: enter a whole number from 0 to 100.", field=field) from None
    if not 0 <= number <= 100:
        raise InvalidInput(f"{field}: enter a whole number from 0 to 100.", field=field)
    return number


def review_filters_from(params: Any) -> ReviewFilters:
    """Read the queue's filters from query parameters; InvalidInput names a bad one."""
    status = (params.get("status") or AnnotationStatus.SUBMITTED).strip()
    if status == "all":
        status = ""
    if status and status not in AnnotationStatus.values:
        raise InvalidInput(
            f"status: choose one of {', '.join(AnnotationStatus.values)} or all.", field="status"
        )
    expert = (params.get("expert") or "").strip()
    if expert:
        match = PSEUDONYM.match(expert)
        if match is None:
            raise InvalidInput(
                "expert: enter the pseudonym as shown, such as “Expert 1a2b3c4d”.", field="expert"
            )
        expert = match.group(1).lower()
    low = _percent(params.get("min_confidence"), "min_confidence")
    high = _percent(params.get("max_confidence"), "max_confidence")
    if low is not None and high is not None and low > high:
        raise InvalidInput(
            "min_confidence: must not be above max_confidence.", field="min_confidence"
        )
    return ReviewFilters(
        status=status,
        expert=expert,
        flagged=_flag(params.get("flagged"), "flagged"),
        min_confidence=low,
        max_confidence=high,
        disagreement=_flag(params.get("disagreement"), "disagreement"),
        gold=_flag(params.get("gold"), "gold"),
    )


def _with_lab_fields(rows: QuerySet[Annotation]) -> QuerySet[Annotation]:
    return rows.select_related("task", "expert__expert_profile").only(
        "public_id",
        "project_id",
        "task__external_id",
        "task__is_gold",
        "task__disagreement",
        "task__annotation_count",
        "expert__expert_profile__public_id",
        "result",
        "confidence",
        "is_edge_case",
        "edge_case_note",
        "edge_case_resolved_at",
        "edge_case_reply",
        "time_spent_seconds",
        "paste_count",
        "pasted_chars",
        "focus_loss_count",
        "ai_used",
        "ai_disclosure",
        "edit_count",
        "status",
        "submitted_at",
        "reviewed_at",
        "guidelines_version",
    )


def review_queue(*, project: Project, filters: ReviewFilters) -> QuerySet[Annotation]:
    """The project's annotations matching ``filters``, oldest submission first (the order a
    reviewer works through them)."""
    rows = Annotation.objects.filter(project=project)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.expert:
        rows = rows.annotate(
            expert_hex=Replace(
                Cast("expert__expert_profile__public_id", CharField()), Value("-"), Value("")
            )
        ).filter(expert_hex__startswith=filters.expert)
    if filters.flagged is not None:
        rows = rows.filter(is_edge_case=filters.flagged)
    if filters.min_confidence is not None:
        rows = rows.filter(confidence__gte=filters.min_confidence)
    if filters.max_confidence is not None:
        rows = rows.filter(confidence__lte=filters.max_confidence)
    if filters.disagreement is True:
        rows = rows.filter(task__disagreement__gt=0)
    elif filters.disagreement is False:
        rows = rows.filter(Q(task__disagreement=0) | Q(task__disagreement__isnull=True))
    if filters.gold is not None:
        rows = rows.filter(task__is_gold=filters.gold)
    return _with_lab_fields(rows).order_by("submitted_at", "id")


def review_counts(*, project: Project) -> dict[str, int]:
    """How many of the project's annotations are in each review state, and open edge cases
    (one query)."""
    counts = Annotation.objects.filter(project=project).aggregate(
        submitted=Count("id", filter=Q(status=AnnotationStatus.SUBMITTED)),
        accepted=Count("id", filter=Q(status=AnnotationStatus.ACCEPTED)),
        rejected=Count("id", filter=Q(status=AnnotationStatus.REJECTED)),
        revision=Count("id", filter=Q(status=AnnotationStatus.REVISION)),
        edge_cases=Count("id", filter=Q(is_edge_case=True, edge_case_resolved_at__isnull=True)),
    )
    return {key: int(value or 0) for key, value in counts.items()}


def annotation_for_lab(*, actor: LabActor, project: Project, annotation_id: Any) -> Annotation:
    """One annotation of the lab's project, with its task and reviews, else NotFound."""
    if project.organization_id != actor.organization.pk:
        raise NotFound()
    try:
        return (
            Annotation.objects.filter(project=project)
            .select_related("task", "expert__expert_profile")
            .prefetch_related(
                Prefetch(
                    "reviews",
                    queryset=AnnotationReview.objects.select_related("reviewer").order_by(
                        "created_at", "id"
                    ),
                )
            )
            .get(public_id=_as_uuid(annotation_id))
        )
    except Annotation.DoesNotExist:
        raise NotFound() from None


def edge_cases(*, project: Project, resolved: bool | None = False) -> QuerySet[Annotation]:
    """Annotations flagged as edge cases, newest first; open ones by default."""
    rows = Annotation.objects.filter(project=project, is_edge_case=True)
    if resolved is True:
        rows = rows.exclude(edge_case_resolved_at=None)
    elif resolved is False:
        rows = rows.filter(edge_case_resolved_at=None)
    return _with_lab_fields(rows).order_by("-submitted_at", "-id")
