"""Reads for the quality dashboards: the lab's project page, an expert's own page and the
staff overview.

Each page is a fixed number of queries whatever the project's size: the per-day series come
from one aggregate over the answers, the per-question and per-expert figures from the last
quality run (``ProjectQuality.figures``), and the rest from a few counts and short lists.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from experts.models import Credential, DomainQualification
from experts.states import QUEUED_CREDENTIAL_STATES, CredentialStatus
from marketplace.models import Organization, User
from marketplace.states import UserRole
from projects.exports.provenance import lab_pseudonym
from projects.matching.models import ExpertDomainRecord, ProjectMember
from projects.models import Annotation, Project, Task
from projects.quality import metrics
from projects.quality.models import ProjectQuality, TaskConsensus
from projects.quality.scoring import COMPONENTS
from projects.review.models import AnnotationReview
from projects.states import AnnotationStatus, BehaviourFlag, MemberStatus, ProjectStatus, TaskStatus

THROUGHPUT_DAYS = 30
FLAGGED_LIMIT = 20
LOW_CONFIDENCE_LIMIT = 10
FEEDBACK_LIMIT = 20
ACTIVE_PROJECTS_LIMIT = 50
# A component of an expert's score below this shows its tip under "How to improve".
WEAK_COMPONENT = 0.8
UNDECIDED = (AnnotationStatus.SUBMITTED, AnnotationStatus.REVISION)


def _empty_figures() -> dict[str, Any]:
    return {
        "annotations": 0,
        "items": 0,
        "median_seconds": None,
        "questions": [],
        "primary": None,
        "consensus": {},
        "calibration": {"n": 0, "brier": None, "ece": None, "bins": []},
        "gold_histogram": [],
        "experts": [],
        "flags": {"fast": 0, "repeat": 0, "pasted": 0},
        "adaptive": {},
    }


# The lab's project dashboard -----------------------------------------------------------------


@dataclass(frozen=True)
class DailySeries:
    """Per-day counts from the day before the first answer to today, without gaps."""

    days: list[date]
    annotations: list[int]
    completed: list[int]

    def cumulative(self, values: list[int]) -> list[int]:
        return [int(v) for v in np.cumsum(values)] if values else []

    def last(self, count: int) -> tuple[list[date], list[int]]:
        """The last ``count`` days up to today (zeros before the first answer)."""
        today = timezone.localdate()
        window = [today - timedelta(days=offset) for offset in range(count - 1, -1, -1)]
        by_day = dict(zip(self.days, self.annotations, strict=True))
        return window, [by_day.get(day, 0) for day in window]


def project_daily_series(*, project: Project) -> DailySeries:
    """Answers submitted per day and items completed per day (the day an item's last answer
    arrived), in one aggregate query."""
    later = Annotation.objects.filter(task=OuterRef("task"), submitted_at__isnull=False).filter(
        Q(submitted_at__gt=OuterRef("submitted_at"))
        | Q(submitted_at=OuterRef("submitted_at"), pk__gt=OuterRef("pk"))
    )
    rows = (
        Annotation.objects.filter(project=project, submitted_at__isnull=False)
        .annotate(day=TruncDate("submitted_at"))
        .values("day")
        .annotate(
            answers=Count("pk"),
            completed=Count(
                "pk",
                filter=Q(task__status=TaskStatus.COMPLETED, task__is_gold=False) & ~Exists(later),
            ),
        )
        .order_by("day")
    )
    counted = {row["day"]: (row["answers"], row["completed"]) for row in rows}
    if not counted:
        return DailySeries(days=[], annotations=[], completed=[])
    # From the day before the first answer, so the cumulative lines rise from zero.
    first = min(counted) - timedelta(days=1)
    today = max(timezone.localdate(), max(counted))
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    return DailySeries(
        days=days,
        annotations=[counted.get(day, (0, 0))[0] for day in days],
        completed=[counted.get(day, (0, 0))[1] for day in days],
    )


@dataclass(frozen=True)
class ProjectCounts:
    annotations: int
    accepted: int
    undecided: int
    rejected: int
    open_edge_cases: int
    items: int
    items_completed: int
    gold_tasks: int


def project_counts(*, project: Project) -> ProjectCounts:
    """Answers by outcome and items by state: two aggregate queries."""
    answers = Annotation.objects.filter(project=project).aggregate(
        annotations=Count("pk"),
        accepted=Count("pk", filter=Q(status=AnnotationStatus.ACCEPTED)),
        undecided=Count("pk", filter=Q(status__in=UNDECIDED)),
        rejected=Count("pk", filter=Q(status=AnnotationStatus.REJECTED)),
        open_edge_cases=Count(
            "pk", filter=Q(is_edge_case=True, edge_case_resolved_at__isnull=True)
        ),
    )
    tasks = Task.objects.filter(project=project).aggregate(
        items=Count("pk", filter=Q(is_gold=False)),
        items_completed=Count("pk", filter=Q(is_gold=False, status=TaskStatus.COMPLETED)),
        gold_tasks=Count("pk", filter=Q(is_gold=True)),
    )
    return ProjectCounts(**answers, **tasks)


@dataclass(frozen=True)
class Cost:
    spent_cents: int
    committed_cents: int
    budget_cents: int
    funded_cents: int

    @property
    def remaining_cents(self) -> int:
        return self.budget_cents - self.spent_cents - self.committed_cents


def project_cost(*, project: Project, counts: ProjectCounts) -> Cost:
    """Spent: accepted answers; committed: answers still waiting for a decision."""
    price = project.price_per_annotation_cents
    return Cost(
        spent_cents=counts.accepted * price,
        committed_cents=counts.undecided * price,
        budget_cents=project.budget_cents,
        funded_cents=project.funded_cents,
    )


@dataclass(frozen=True)
class ExpertRow:
    pseudonym: str
    annotations: int
    gold_n: int
    gold_accuracy: float | None
    peer_agreement: float | None
    consensus_agreement: float | None
    brier: float | None
    ece: float | None
    median_seconds: float | None
    flags: int
    paused: bool


@dataclass
class ProjectDashboard:
    project: Project
    quality: ProjectQuality | None
    figures: dict[str, Any]
    counts: ProjectCounts
    cost: Cost
    series: DailySeries
    low_confidence: list[TaskConsensus]
    flagged: list[dict[str, Any]]
    experts: list[ExpertRow] = field(default_factory=list)

    @property
    def computed(self) -> bool:
        return self.quality is not None and self.quality.computed_at is not None

    @property
    def primary_question(self) -> dict[str, Any] | None:
        primary = self.figures.get("primary")
        questions = self.figures.get("questions") or []
        chosen = next((q for q in questions if q.get("key") == primary), None)
        return chosen or (questions[0] if questions else None)

    @property
    def mean_gold_accuracy(self) -> float | None:
        """Gold accuracy over every scored gold answer (experts weighted by their count)."""
        scored = [
            (e.get("gold_n") or 0, e.get("gold_accuracy"))
            for e in self.figures.get("experts") or []
            if e.get("gold_accuracy") is not None and e.get("gold_n")
        ]
        total = sum(n for n, _ in scored)
        return sum(n * accuracy for n, accuracy in scored) / total if total else None

    @property
    def consensus_threshold(self) -> float:
        return self.project.consensus_threshold_percent / 100


def _flag_label(value: str) -> str:
    try:
        return str(BehaviourFlag(value).label)
    except ValueError:
        return value


def _flagged_annotations(project: Project) -> list[Annotation]:
    return list(
        Annotation.objects.filter(project=project)
        .exclude(behaviour_flags=[])
        .select_related("task")
        .order_by("-submitted_at", "-pk")[:FLAGGED_LIMIT]
    )


def project_dashboard(*, project: Project) -> ProjectDashboard:
    """Everything the Quality tab shows, in six queries. Call with a project the caller may
    see (``project_for_actor``)."""
    quality = ProjectQuality.objects.filter(project=project).first()
    figures = _empty_figures() | (quality.figures if quality is not None else {})
    counts = project_counts(project=project)
    threshold = project.consensus_threshold_percent / 100
    low_confidence = list(
        TaskConsensus.objects.filter(project=project, confidence__lt=threshold)
        .select_related("task")
        .order_by("confidence", "task_id")[:LOW_CONFIDENCE_LIMIT]
    )
    organization_id = project.organization_id
    flagged = [
        {
            "annotation": annotation,
            "pseudonym": lab_pseudonym(organization_id, annotation.expert_id),
            "flags": [_flag_label(flag) for flag in annotation.behaviour_flags],
        }
        for annotation in _flagged_annotations(project)
    ]
    experts = sorted(
        (
            ExpertRow(
                pseudonym=lab_pseudonym(organization_id, int(row["expert_id"])),
                annotations=int(row.get("annotations") or 0),
                gold_n=int(row.get("gold_n") or 0),
                gold_accuracy=row.get("gold_accuracy"),
                peer_agreement=row.get("peer_agreement"),
                consensus_agreement=row.get("consensus_agreement"),
                brier=row.get("brier"),
                ece=row.get("ece"),
                median_seconds=row.get("median_seconds"),
                flags=sum(int(v or 0) for v in (row.get("flags") or {}).values()),
                paused=bool(row.get("paused")),
            )
            for row in figures.get("experts") or []
            if row.get("expert_id") is not None
        ),
        key=lambda row: (-row.annotations, row.pseudonym),
    )
    return ProjectDashboard(
        project=project,
        quality=quality,
        figures=figures,
        counts=counts,
        cost=project_cost(project=project, counts=counts),
        series=project_daily_series(project=project),
        low_confidence=low_confidence,
        flagged=flagged,
        experts=experts,
    )


# The expert's own page -------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentView:
    name: str
    label: str
    explanation: str
    tip: str
    value: float | None
    n: int

    @property
    def weak(self) -> bool:
        return self.n > 0 and self.value is not None and self.value < WEAK_COMPONENT


@dataclass(frozen=True)
class DomainQuality:
    record: ExpertDomainRecord
    components: list[ComponentView]

    @property
    def gold_accuracy(self) -> float | None:
        record = self.record
        return record.gold_score_sum / record.gold_scored if record.gold_scored else None

    @property
    def weak(self) -> list[ComponentView]:
        return [component for component in self.components if component.weak]


@dataclass(frozen=True)
class ExpertQuality:
    domains: list[DomainQuality]
    calibration: metrics.Calibration
    gold_accuracy: float | None
    paused: list[ProjectMember]
    feedback: list[AnnotationReview]


def _components(record: ExpertDomainRecord) -> list[ComponentView]:
    stored = record.components or {}
    views = []
    for component in COMPONENTS:
        part = stored.get(component.name) or {}
        value = part.get("value")
        views.append(
            ComponentView(
                name=component.name,
                label=component.label,
                explanation=component.explanation,
                tip=component.tip,
                value=None if value is None else float(value),
                n=int(part.get("n") or 0),
            )
        )
    return views


def expert_quality(*, expert: User) -> ExpertQuality:
    """The expert's own quality: records per domain, calibration on their gold answers,
    projects that paused them and the labs' latest feedback. Only their own rows, and never
    a gold answer itself. Four queries."""
    records = ExpertDomainRecord.objects.filter(expert=expert).select_related("domain")
    gold = list(
        Annotation.objects.filter(
            expert=expert, task__is_gold=True, gold_score__isnull=False
        ).values_list("confidence", "gold_score")
    )
    confidence = np.array([c / 100 for c, _ in gold], dtype=float)
    outcome = np.array([score for _, score in gold], dtype=float)
    paused = ProjectMember.objects.filter(expert=expert, status=MemberStatus.PAUSED).select_related(
        "project"
    )
    feedback = (
        AnnotationReview.objects.filter(annotation__expert=expert)
        .exclude(feedback="")
        .select_related("annotation__project", "annotation__task")
        .order_by("-created_at", "-pk")[:FEEDBACK_LIMIT]
    )
    return ExpertQuality(
        domains=[
            DomainQuality(record=record, components=_components(record))
            for record in records.order_by("domain__name")
        ],
        calibration=metrics.calibration(confidence, outcome),
        gold_accuracy=float(outcome.mean()) if len(outcome) else None,
        paused=list(paused.order_by("-paused_at", "-pk")),
        feedback=list(feedback),
    )


# The staff overview --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformCounts:
    experts: int
    vetted_experts: int
    labs: int
    active_projects: int
    annotations_today: int
    annotations_week: int
    annotations_accepted: int


@dataclass(frozen=True)
class QueueAge:
    waiting: int
    oldest: datetime | None
    median_seconds: float | None
    # The moment the median credential was submitted, for "waiting for …" wording.
    median_since: datetime | None


def _vetted_expert_condition(today: date) -> Exists:
    """An expert vetted for at least one domain: a passed qualification in a domain that a
    verified, unexpired credential supports (the domain or its field)."""
    supporting = Credential.objects.filter(
        Q(domains=OuterRef("domain")) | Q(domains=OuterRef("domain__parent")),
        expert=OuterRef("expert"),
        status=CredentialStatus.VERIFIED,
    ).filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today))
    return Exists(
        DomainQualification.objects.filter(expert=OuterRef("pk"), passed=True).filter(
            Exists(supporting)
        )
    )


def platform_counts() -> PlatformCounts:
    """Platform-wide counts for staff: four aggregate queries."""
    now = timezone.now()
    start_of_today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    experts = User.objects.filter(role=UserRole.EXPERT, is_active=True).aggregate(
        experts=Count("pk"),
        vetted_experts=Count("pk", filter=Q(_vetted_expert_condition(timezone.localdate()))),
    )
    answers = Annotation.objects.filter(submitted_at__gte=now - timedelta(days=7)).aggregate(
        annotations_today=Count("pk", filter=Q(submitted_at__gte=start_of_today)),
        annotations_week=Count("pk"),
    )
    return PlatformCounts(
        **experts,
        **answers,
        labs=Organization.objects.count(),
        active_projects=Project.objects.filter(status=ProjectStatus.ACTIVE).count(),
        annotations_accepted=Annotation.objects.filter(status=AnnotationStatus.ACCEPTED).count(),
    )


def vetting_queue_age() -> QueueAge:
    """How long the credentials waiting for a decision have waited (one query)."""
    now = timezone.now()
    submitted: list[datetime] = [
        moment
        for moment in Credential.objects.filter(
            status__in=QUEUED_CREDENTIAL_STATES, submitted_at__isnull=False
        ).values_list("submitted_at", flat=True)
        if moment is not None
    ]
    if not submitted:
        return QueueAge(waiting=0, oldest=None, median_seconds=None, median_since=None)
    median = statistics.median((now - moment).total_seconds() for moment in submitted)
    return QueueAge(
        waiting=len(submitted),
        oldest=min(submitted),
        median_seconds=median,
        median_since=now - timedelta(seconds=median),
    )


def active_projects() -> QuerySet[Project]:
    """Active projects with their item counts and last quality run, newest first."""
    return (
        Project.objects.filter(status=ProjectStatus.ACTIVE)
        .select_related("organization", "quality")
        .annotate(
            items=Count("tasks", filter=Q(tasks__is_gold=False)),
            items_completed=Count(
                "tasks", filter=Q(tasks__is_gold=False, tasks__status=TaskStatus.COMPLETED)
            ),
        )
        .order_by(F("activated_at").desc(nulls_last=True), "-pk")
    )


@dataclass(frozen=True)
class ActiveProjectRow:
    project: Project
    items: int
    items_completed: int
    alpha: float | None
    computed_at: datetime | None

    @property
    def progress(self) -> float | None:
        return self.items_completed / self.items if self.items else None


def active_project_rows(*, limit: int = ACTIVE_PROJECTS_LIMIT) -> list[ActiveProjectRow]:
    """The newest active projects with progress and the primary question's alpha (one
    query)."""
    rows = []
    for project in active_projects()[:limit]:
        quality: ProjectQuality | None = getattr(project, "quality", None)
        rows.append(
            ActiveProjectRow(
                project=project,
                items=int(getattr(project, "items", 0)),
                items_completed=int(getattr(project, "items_completed", 0)),
                alpha=primary_alpha(quality.figures if quality is not None else None),
                computed_at=quality.computed_at if quality is not None else None,
            )
        )
    return rows


def primary_alpha(figures: dict[str, Any] | None) -> float | None:
    """Krippendorff's alpha of the figures' primary question (None before any run)."""
    if not figures:
        return None
    questions = figures.get("questions") or []
    primary = figures.get("primary")
    chosen = next((q for q in questions if q.get("key") == primary), None)
    chosen = chosen or (questions[0] if questions else None)
    return None if chosen is None else chosen.get("alpha")


def quality_paused_members() -> QuerySet[ProjectMember]:
    """Members paused by the quality rule, latest first."""
    return (
        ProjectMember.objects.filter(status=MemberStatus.PAUSED, quality_paused=True)
        .select_related("expert", "project__organization")
        .order_by("-paused_at", "-pk")
    )


def paused_member_for_staff(*, staff: User, member_id: int) -> ProjectMember:
    """A project member, for staff only (NotFound for anyone else or a missing member)."""
    from marketplace.errors import NotFound

    if not staff.is_staff:
        raise NotFound()
    try:
        return ProjectMember.objects.select_related("project", "expert").get(pk=member_id)
    except ProjectMember.DoesNotExist:
        raise NotFound() from None
