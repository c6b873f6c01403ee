"""Projects, their versioned guidelines, tasks and gold answers, annotations, imports, webhooks."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from experts.models import Domain
from experts.states import Proficiency, Seniority
from marketplace.models import Organization, TimeStampedModel
from projects.states import (
    AiPolicy,
    AnnotationStatus,
    DeliveryStatus,
    DispatchOrder,
    ImportFormat,
    ImportKind,
    ImportStatus,
    ProjectStatus,
    TaskStatus,
    WebhookEvent,
)
from projects.task_types import TASK_TYPE_CHOICES


class Project(TimeStampedModel):
    """A lab's data project: what experts annotate, who may do it, and what it pays."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="projects"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="created_projects",
    )
    title = models.CharField(max_length=160)
    summary = models.CharField(
        max_length=300, blank=True, help_text="One or two sentences experts see on invitations."
    )
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="projects")
    specialties = models.ManyToManyField(Domain, blank=True, related_name="specialty_projects")
    required_credential_kinds = models.JSONField(default=list, blank=True)
    min_seniority = models.CharField(max_length=16, choices=Seniority.choices, blank=True)
    languages = models.JSONField(default=list, blank=True)
    # The lowest level at which an expert must speak each of ``languages``.
    language_level = models.CharField(
        max_length=8, choices=Proficiency.choices, default=Proficiency.C1
    )
    # ISO country codes experts must live in (empty: anywhere), e.g. for data-residency rules.
    allowed_countries = models.JSONField(default=list, blank=True)
    task_type = models.CharField(max_length=32, choices=TASK_TYPE_CHOICES)
    task_settings = models.JSONField(default=dict, blank=True)
    overlap = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(9)]
    )
    price_per_annotation_cents = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    seats = models.PositiveSmallIntegerField(default=10, validators=[MinValueValidator(1)])
    budget_cents = models.PositiveBigIntegerField(default=0)
    funded_cents = models.PositiveBigIntegerField(default=0)
    deadline = models.DateField(null=True, blank=True)
    gold_rate_percent = models.PositiveSmallIntegerField(
        default=10, validators=[MaxValueValidator(50)]
    )
    min_gold_accuracy_percent = models.PositiveSmallIntegerField(
        default=70, validators=[MaxValueValidator(100)]
    )
    status = models.CharField(
        max_length=16, choices=ProjectStatus.choices, default=ProjectStatus.DRAFT, db_index=True
    )
    # Current guidelines version number (0: none yet), and the newest version the lab marked
    # as material: experts who acknowledged an older one must re-read before their next task.
    # Workspace: how long a task stays with an expert, in which order tasks go out, what the
    # experts may use, and when unreviewed work is accepted without the lab.
    lease_minutes = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(5), MaxValueValidator(240)]
    )
    dispatch_order = models.CharField(
        max_length=8, choices=DispatchOrder.choices, default=DispatchOrder.DEPTH
    )
    ai_policy = models.CharField(
        max_length=10, choices=AiPolicy.choices, default=AiPolicy.FORBIDDEN
    )
    auto_accept_days = models.PositiveSmallIntegerField(
        default=7, validators=[MaxValueValidator(90)]
    )
    # Quality: gold tasks an expert answers before the pause rule may judge them, and
    # adaptive overlap (ask for more answers on unsettled items up to ``max_overlap``; with
    # ``stop_early``, stop asking once an item is settled with confidence).
    min_gold_tasks = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(200)]
    )
    adaptive_overlap = models.BooleanField(default=False)
    max_overlap = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(9)]
    )
    consensus_threshold_percent = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(50), MaxValueValidator(99)]
    )
    stop_early = models.BooleanField(default=False)
    # Set when answers arrived since the last quality run: one run is queued per batch.
    quality_stale_at = models.DateTimeField(null=True, blank=True)
    guidelines_version = models.PositiveIntegerField(default=0)
    material_guidelines_version = models.PositiveIntegerField(default=0)
    activated_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [models.Index(fields=["organization", "status"])]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=ProjectStatus.values), name="project_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(overlap__gte=1, overlap__lte=9), name="project_overlap_1_to_9"
            ),
            models.CheckConstraint(
                condition=Q(gold_rate_percent__lte=50), name="project_gold_rate_at_most_50"
            ),
            models.CheckConstraint(
                condition=Q(min_gold_accuracy_percent__lte=100),
                name="project_min_gold_accuracy_percent",
            ),
            models.CheckConstraint(
                condition=Q(lease_minutes__gte=5, lease_minutes__lte=240),
                name="project_lease_5_to_240_minutes",
            ),
            models.CheckConstraint(
                condition=Q(dispatch_order__in=DispatchOrder.values),
                name="project_dispatch_order_valid",
            ),
            models.CheckConstraint(
                condition=Q(ai_policy__in=AiPolicy.values), name="project_ai_policy_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ProjectFunding(TimeStampedModel):
    """Money a lab put into a project, as the payment provider confirmed it."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="fundings")
    amount_cents = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    provider = models.CharField(max_length=16)
    reference = models.CharField(max_length=120)
    idempotency_key = models.CharField(max_length=80, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.amount_cents} {self.currency} → {self.project}"


class GuidelineVersion(TimeStampedModel):
    """One immutable version of a project's guidelines and rubric (markdown)."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="guideline_versions"
    )
    number = models.PositiveIntegerField()
    guidelines = models.TextField()
    rubric = models.TextField(blank=True)
    changelog = models.CharField(max_length=300)
    is_material = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering: ClassVar = ["project", "-number"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "number"], name="guideline_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.project} v{self.number}"


class GuidelineAcknowledgement(TimeStampedModel):
    """An expert read the project's guidelines up to ``version``."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="guideline_acknowledgements"
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="guideline_acknowledgements",
    )
    version = models.PositiveIntegerField()

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["project", "expert"], name="guideline_acknowledgement_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.expert} read {self.project} v{self.version}"


def _import_path(instance: TaskImport, filename: str) -> str:
    # Server-generated: the uploaded name is kept in ``original_name`` only.
    return f"task-imports/{uuid.uuid4().hex}"


class TaskImport(TimeStampedModel):
    """One uploaded file (or API batch) of tasks, processed by a Celery task.

    The rule for bad rows: a file with any invalid row is rejected whole, with a report of
    every problem (row, field, problem); nothing of it is imported. Rows whose external id is
    already in the project are skipped, so re-importing a file never duplicates tasks.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    kind = models.CharField(max_length=8, choices=ImportKind.choices, default=ImportKind.TASKS)
    format = models.CharField(max_length=16, choices=ImportFormat.choices)
    file = models.FileField(upload_to=_import_path, max_length=200, blank=True)
    original_name = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    # [{"row": 3, "field": "response_b", "problem": "This field is required."}, ...], capped.
    errors = models.JSONField(default=list, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values), name="task_import_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.original_name or 'batch'} → {self.project}"


class Task(models.Model):
    """One item to annotate. ``data`` follows the project's task-type input schema.

    ``reserved_count`` is the dispatch counter: annotations that count plus live leases. It
    changes only in the same transaction as the lease or annotation it counts, and a claim
    raises it only while it is below the project's overlap, so a regular task never has more
    answers in flight than the lab pays for. Gold tasks go to every expert once and keep it
    at zero.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    external_id = models.CharField(max_length=200)
    data = models.JSONField()
    is_gold = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    priority = models.SmallIntegerField(default=0)
    annotation_count = models.PositiveSmallIntegerField(default=0)
    reserved_count = models.PositiveSmallIntegerField(default=0)
    # Adaptive overlap: the answers this task needs when the quality engine asked for more
    # (or settled it early); None: the project's overlap.
    target_overlap = models.PositiveSmallIntegerField(null=True, blank=True)
    # 1 − the share of the most common overall answer; None until two answers exist.
    disagreement = models.FloatField(null=True, blank=True)
    source_import = models.ForeignKey(
        TaskImport, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["id"]
        indexes: ClassVar = [
            models.Index(fields=["project", "is_gold", "status", "id"]),
            # The claim's two orders, each read from the boundary ``reserved < overlap`` on:
            # the cost of a claim does not depend on how many tasks the project holds.
            models.Index(
                fields=["project", "is_gold", "-reserved_count", "-priority", "id"],
                condition=Q(status="open"),
                name="task_dispatch_depth",
            ),
            models.Index(
                fields=["project", "is_gold", "reserved_count", "-priority", "id"],
                condition=Q(status="open"),
                name="task_dispatch_breadth",
            ),
            # Items adaptive overlap asked more answers for: few, and claimed first.
            models.Index(
                fields=["project", "id"],
                condition=Q(status="open", target_overlap__isnull=False),
                name="task_dispatch_extra",
            ),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["project", "external_id"], name="task_unique_external_id"
            ),
            models.CheckConstraint(
                condition=Q(status__in=TaskStatus.values), name="task_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(reserved_count__gte=models.F("annotation_count")) | Q(is_gold=True),
                name="task_reserved_covers_annotations",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class GoldAnswer(TimeStampedModel):
    """The known-correct result of a gold task. Kept apart so it never travels with the task."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="gold_answer")
    answer = models.JSONField()
    explanation = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"gold for {self.task}"


class Annotation(TimeStampedModel):
    """An expert's result for one task, made under one guidelines version.

    ``time_spent_seconds`` is active time (the page visible and in use), not wall time. The
    AI-assistance signals are what the page saw: pastes into answer fields, times the page
    lost focus, and the expert's disclosure when the project asks for one.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="annotations")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="annotations")
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="annotations"
    )
    result = models.JSONField()
    confidence = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    is_edge_case = models.BooleanField(default=False)
    edge_case_note = models.TextField(blank=True)
    edge_case_resolved_at = models.DateTimeField(null=True, blank=True)
    edge_case_reply = models.TextField(blank=True)
    guidelines_version = models.PositiveIntegerField()
    time_spent_seconds = models.PositiveIntegerField(default=0)
    paste_count = models.PositiveIntegerField(default=0)
    pasted_chars = models.PositiveIntegerField(default=0)
    focus_loss_count = models.PositiveIntegerField(default=0)
    ai_used = models.BooleanField(null=True, blank=True)
    ai_disclosure = models.TextField(blank=True)
    edit_count = models.PositiveIntegerField(default=0)
    # Quality: the score against the gold answer (gold tasks; free text once graded), the
    # agreement with the item's consensus, and behaviour signals (BehaviourFlag values).
    gold_score = models.FloatField(null=True, blank=True)
    gold_graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    consensus_agreement = models.FloatField(null=True, blank=True)
    behaviour_flags = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=AnnotationStatus.choices, default=AnnotationStatus.SUBMITTED
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["id"]
        indexes: ClassVar = [
            models.Index(fields=["project", "expert"]),
            models.Index(fields=["project", "status", "submitted_at"]),
            models.Index(
                fields=["project", "submitted_at"],
                condition=Q(is_edge_case=True),
                name="annotation_edge_cases",
            ),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["task", "expert"], name="annotation_one_per_expert"),
            models.CheckConstraint(
                condition=Q(status__in=AnnotationStatus.values), name="annotation_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(confidence__lte=100), name="annotation_confidence_0_100"
            ),
            models.CheckConstraint(
                condition=Q(gold_score__isnull=True) | Q(gold_score__gte=0, gold_score__lte=1),
                name="annotation_gold_score_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.expert} on {self.task}"


class WebhookEndpoint(TimeStampedModel):
    """A lab's URL that receives signed event deliveries."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=120, blank=True)
    events = models.JSONField(default=list)
    # Shown to the lab so it can check signatures; the signing key, so stored as is.
    secret = models.CharField(max_length=80)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering: ClassVar = ["created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(TimeStampedModel):
    """One event sent (or being sent) to one endpoint, with its attempts' outcome."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


# Matching models live in their own module; importing them here registers them with the app.
from projects.matching.models import (  # noqa: E402
    ExpertDomainRecord,
    LabExclusion,
    MatchingLock,
    MatchingRun,
    ProjectInvitation,
    ProjectMember,
)

__all__ = [
    "Annotation",
    "AnnotationReview",
    "Assignment",
    "DatasetExport",
    "ExpertDomainRecord",
    "GoldAnswer",
    "GuidelineAcknowledgement",
    "GuidelineVersion",
    "LabExclusion",
    "MatchingLock",
    "MatchingRun",
    "Project",
    "ProjectFunding",
    "ProjectInvitation",
    "ProjectMember",
    "ProjectQuality",
    "Task",
    "TaskConsensus",
    "TaskImport",
    "WebhookDelivery",
    "WebhookEndpoint",
]
from projects.dispatch.models import Assignment  # noqa: E402
from projects.exports.models import DatasetExport  # noqa: E402
from projects.quality.models import ProjectQuality, TaskConsensus  # noqa: E402
from projects.review.models import AnnotationReview  # noqa: E402
