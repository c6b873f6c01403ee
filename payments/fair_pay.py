"""Fair pay: what a project's price per annotation comes to per hour of an expert's work.

The rate is the price ÷ the median active time of the project's answers once there are
enough of them ("measured"); before that, the task type's typical minutes per annotation
("estimate"). Labs are warned, never refused, when it falls below the platform's floor
(``settings.FAIR_PAY_FLOOR_CENTS_PER_HOUR``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber

from projects.models import Annotation, Project
from projects.task_types import REGISTRY

# Fewer timed answers than this say too little about the work: the estimate stands.
MIN_MEASURED_ANSWERS = 5
SECONDS_PER_HOUR = 3600

Basis = Literal["measured", "estimate"]


@dataclass(frozen=True)
class FairPay:
    """A project's effective hourly rate for experts (None when nothing tells it)."""

    cents_per_hour: int | None
    median_seconds: int | None
    basis: Basis
    below_floor: bool

    @property
    def floor_cents_per_hour(self) -> int:
        return int(settings.FAIR_PAY_FLOOR_CENTS_PER_HOUR)


def _estimate(project: Project) -> FairPay:
    """The rate from the task type's typical minutes per annotation."""
    task_type = REGISTRY.get(project.task_type)
    minutes = getattr(task_type, "typical_minutes", 0) if task_type is not None else 0
    if not minutes:
        return FairPay(
            cents_per_hour=None, median_seconds=None, basis="estimate", below_floor=False
        )
    rate = project.price_per_annotation_cents * 60 // minutes
    return FairPay(
        cents_per_hour=rate,
        median_seconds=None,
        basis="estimate",
        below_floor=rate < settings.FAIR_PAY_FLOOR_CENTS_PER_HOUR,
    )


def _measured(project: Project, median_seconds: int) -> FairPay:
    rate = project.price_per_annotation_cents * SECONDS_PER_HOUR // max(1, median_seconds)
    return FairPay(
        cents_per_hour=rate,
        median_seconds=median_seconds,
        basis="measured",
        below_floor=rate < settings.FAIR_PAY_FLOOR_CENTS_PER_HOUR,
    )


def median_active_seconds(*, project_ids: Iterable[int]) -> dict[int, int]:
    """The median active time of each project's submitted answers, for projects with at
    least ``MIN_MEASURED_ANSWERS`` timed ones: one query, computed in the database.

    Each answer is numbered within its project by active time; the median is the middle row
    (odd count) or the mean of the two middle rows (even count). Window functions work the
    same on PostgreSQL and SQLite, unlike ``percentile_cont``.
    """
    ids = sorted(set(project_ids))
    if not ids:
        return {}
    by_project = [F("project_id")]
    middle = (
        Annotation.objects.filter(
            project_id__in=ids, submitted_at__isnull=False, time_spent_seconds__gt=0
        )
        .annotate(
            position=Window(
                RowNumber(),
                partition_by=by_project,
                order_by=[F("time_spent_seconds").asc(), F("id").asc()],
            ),
            answers=Window(Count("id"), partition_by=by_project),
        )
        .filter(
            Q(answers__gte=MIN_MEASURED_ANSWERS)
            & Q(position__gte=(F("answers") + 1) / 2)
            & Q(position__lte=(F("answers") + 2) / 2)
        )
        .values_list("project_id", "time_spent_seconds")
    )
    values: dict[int, list[int]] = defaultdict(list)
    for project_id, seconds in middle:
        values[project_id].append(seconds)
    return {pk: round(sum(seconds) / len(seconds)) for pk, seconds in values.items()}


def effective_hourly_rates(*, projects: Iterable[Project]) -> dict[int, FairPay]:
    """Each project's rate by primary key, in one query whatever their number."""
    chosen = list(projects)
    medians = median_active_seconds(project_ids=[project.pk for project in chosen])
    return {
        project.pk: (
            _measured(project, medians[project.pk]) if project.pk in medians else _estimate(project)
        )
        for project in chosen
    }


def effective_hourly_rate(*, project: Project) -> FairPay:
    """The project's effective hourly rate, measured once enough answers are timed."""
    return effective_hourly_rates(projects=[project])[project.pk]


__all__ = [
    "MIN_MEASURED_ANSWERS",
    "FairPay",
    "effective_hourly_rate",
    "effective_hourly_rates",
    "median_active_seconds",
]
