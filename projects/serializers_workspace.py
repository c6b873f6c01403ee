"""DRF serializers of the annotation workspace API: the expert's tasks, drafts, answers and
history (never a gold answer, never whether a task is gold, never who reviewed), and the
lab's review of annotations (experts under pseudonyms, never names or e-mails).

Status-like fields are plain strings documented with their values, so the schema keeps one
enum per choice set (see ``ENUM_NAME_OVERRIDES``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from projects.dispatch.models import Assignment
from projects.dispatch.services import MAX_ACTIVE_SECONDS_PER_SAVE
from projects.matching.selectors import pseudonym
from projects.models import Annotation, Task
from projects.review.models import AnnotationReview
from projects.review.services import MAX_BULK, MAX_FEEDBACK
from projects.serializers import StrictInputSerializer
from projects.states import (
    EDITABLE_ANNOTATION_STATES,
    AiPolicy,
    AnnotationStatus,
    AssignmentStatus,
    ReviewDecision,
    SkipReason,
)
from projects.task_types import task_type_for

# Keys of a task's data that stay with the lab: the page never shows them either.
LAB_ONLY_TASK_KEYS = frozenset({"metadata"})
MAX_SIGNAL = 1_000_000


def _one_of(choices: Any) -> str:
    return "One of " + ", ".join(f"`{value}` ({label})" for value, label in choices) + "."


# Expert side --------------------------------------------------------------------------------


class WorkTaskSerializer(serializers.Serializer):
    """The task as the expert sees it: its data only. Never the lab's external id (labs name
    gold rows like "gold-001") and nothing about gold; the assignment's id names it."""

    data = serializers.SerializerMethodField()  # type: ignore[assignment]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_data(self, task: Task) -> dict[str, Any]:
        data = task.data if isinstance(task.data, dict) else {}
        return {key: value for key, value in data.items() if key not in LAB_ONLY_TASK_KEYS}


class WorkSettingsSerializer(serializers.Serializer):
    task_type = serializers.CharField(help_text="A key of `GET /api/v1/task-types/`.")
    task_settings = serializers.DictField(
        help_text="The task type's settings, defaults filled in (labels, criteria, ...)."
    )
    ai_policy = serializers.CharField(help_text=_one_of(AiPolicy.choices))
    guidelines_version = serializers.IntegerField(
        help_text="The guidelines version an answer submitted now is made under."
    )
    lease_minutes = serializers.IntegerField(
        help_text="How long a lease lasts; saving a draft renews it."
    )


class AssignmentSerializer(serializers.Serializer):
    """One expert's lease on one task, with the draft kept so far. Read it from
    ``assignment_for_expert`` (task and project loaded with it)."""

    id = serializers.UUIDField(source="public_id")
    project = serializers.UUIDField(source="project.public_id")
    task = WorkTaskSerializer()
    status = serializers.CharField(help_text=_one_of(AssignmentStatus.choices))
    leased_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    draft = serializers.JSONField(
        allow_null=True, help_text="The unsent answer as last saved (null: none yet)."
    )
    draft_saved_at = serializers.DateTimeField(allow_null=True)
    settings = serializers.SerializerMethodField()

    @extend_schema_field(WorkSettingsSerializer)
    def get_settings(self, assignment: Assignment) -> dict[str, Any]:
        project = assignment.project
        task_type = task_type_for(project.task_type)
        return {
            "task_type": project.task_type,
            "task_settings": task_type.settings_with_defaults(project.task_settings),
            "ai_policy": project.ai_policy,
            "guidelines_version": project.guidelines_version,
            "lease_minutes": project.lease_minutes,
        }


class KeptDraftSerializer(serializers.Serializer):
    """Work the expert could not hand in: the lease ran out and the task filled up."""

    id = serializers.UUIDField(source="public_id", help_text="The assignment's id.")
    project = serializers.UUIDField(source="project.public_id")
    project_title = serializers.CharField(source="project.title")
    task = WorkTaskSerializer()
    status = serializers.CharField(help_text=_one_of(AssignmentStatus.choices))
    draft = serializers.JSONField(allow_null=True)
    draft_saved_at = serializers.DateTimeField(allow_null=True)


class SignalsSerializer(StrictInputSerializer):
    """What the client measured since its last save: deltas, never totals."""

    active_seconds = serializers.IntegerField(
        min_value=0,
        max_value=MAX_SIGNAL,
        required=False,
        default=0,
        help_text="Seconds the expert actively worked (page visible and in use). At most "
        f"{MAX_ACTIVE_SECONDS_PER_SAVE} and the wall time since the last save count.",
    )
    pastes = serializers.IntegerField(min_value=0, max_value=MAX_SIGNAL, required=False, default=0)
    pasted_chars = serializers.IntegerField(
        min_value=0, max_value=MAX_SIGNAL, required=False, default=0
    )
    focus_losses = serializers.IntegerField(
        min_value=0, max_value=MAX_SIGNAL, required=False, default=0
    )


class DraftSaveSerializer(StrictInputSerializer):
    draft = serializers.JSONField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The unsent answer, any JSON object; null or left out keeps the saved one.",
    )
    signals = SignalsSerializer(required=False)


class DraftSavedSerializer(serializers.Serializer):
    saved_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(help_text="The lease, renewed by the save.")
    still_needed = serializers.BooleanField(
        help_text="False when the lease had run out and the task got all its answers "
        "meanwhile: the draft is kept, but a submit will be refused."
    )


class SubmitSerializer(StrictInputSerializer):
    result = serializers.JSONField(
        help_text="The answer: the task type's `result_schema` (see `GET /api/v1/task-types/`)"
        ", including `confidence` (0–100) and optionally `is_edge_case` and `edge_case_note`."
    )
    signals = SignalsSerializer(required=False)
    ai_used = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Whether AI tools helped; required when the project's `ai_policy` is "
        "`disclosed`.",
    )
    ai_disclosure = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        trim_whitespace=False,
        help_text="Which AI tools, and for what (required when `ai_used` under `disclosed`).",
    )
    next = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also lease the next task and return it as `next` (one request per task).",
    )


class SkipSerializer(StrictInputSerializer):
    reason = serializers.CharField(help_text=_one_of(SkipReason.choices))
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=500,
        help_text="Required with `other`.",
    )


class ExpertReviewSerializer(serializers.ModelSerializer):
    """A decision on the expert's answer: never who made it."""

    decision = serializers.CharField(help_text=_one_of(ReviewDecision.choices))

    class Meta:
        model = AnnotationReview
        fields = ["decision", "feedback", "is_automatic", "created_at"]
        read_only_fields = fields


class ExpertAnnotationSerializer(serializers.Serializer):
    """An answer of the expert's, with the lab's decisions and feedback. Read it from
    ``annotations_of_expert`` / ``annotation_for_expert`` (task, project, reviews loaded)."""

    id = serializers.UUIDField(source="public_id")
    project = serializers.UUIDField(source="project.public_id")
    project_title = serializers.CharField(source="project.title")
    task = WorkTaskSerializer()
    result = serializers.JSONField()
    confidence = serializers.IntegerField()
    is_edge_case = serializers.BooleanField()
    edge_case_note = serializers.CharField()
    edge_case_reply = serializers.CharField(help_text="The lab's answer to the flagged case.")
    edge_case_resolved_at = serializers.DateTimeField(allow_null=True)
    status = serializers.CharField(help_text=_one_of(AnnotationStatus.choices))
    editable = serializers.SerializerMethodField()
    guidelines_version = serializers.IntegerField()
    active_seconds = serializers.IntegerField(source="time_spent_seconds")
    ai_used = serializers.BooleanField(allow_null=True)
    ai_disclosure = serializers.CharField()
    edit_count = serializers.IntegerField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    reviews = ExpertReviewSerializer(many=True, source="reviews.all")

    def get_editable(self, annotation: Annotation) -> bool:
        """True until the lab decides (and again when it asks for a revision)."""
        return annotation.status in EDITABLE_ANNOTATION_STATES


class AnnotationEditSerializer(StrictInputSerializer):
    result = serializers.JSONField(help_text="The whole new answer, as for a submit.")


class SubmittedSerializer(serializers.Serializer):
    annotation = ExpertAnnotationSerializer()
    next = AssignmentSerializer(
        allow_null=True, help_text="With `next: true`: the next leased task, null when none."
    )
    next_refusal = serializers.DictField(
        allow_null=True,
        help_text="With `next: true` and no next task because the expert may not take one "
        "now: `{code, detail}` as a 409 of `next/` would say. Null otherwise.",
    )


class WorkConflictSerializer(serializers.Serializer):
    """Why the expert may not do this now."""

    code = serializers.CharField(
        help_text="`guidelines` (acknowledge the guidelines first, at `guidelines_url`), "
        "`too_late` (the lease ran out and the task filled up: the answer is kept as a "
        "draft), `skipped` (you skipped this task), or `not_available` (the project or "
        "your work on it is paused)."
    )
    detail = serializers.CharField()
    guidelines_url = serializers.URLField(required=False)


# Lab side ------------------------------------------------------------------------------------


class LabAnnotationSerializer(serializers.Serializer):
    """An annotation as the lab reviews it. Read it from ``review_queue`` / ``edge_cases`` /
    ``annotation_for_lab``: only the fields they load are used."""

    id = serializers.UUIDField(source="public_id")
    task = serializers.CharField(source="task.external_id", help_text="The task's external id.")
    is_gold = serializers.BooleanField(source="task.is_gold")
    expert = serializers.SerializerMethodField()
    result = serializers.JSONField()
    confidence = serializers.IntegerField()
    is_edge_case = serializers.BooleanField()
    edge_case_note = serializers.CharField()
    edge_case_reply = serializers.CharField()
    edge_case_resolved_at = serializers.DateTimeField(allow_null=True)
    active_seconds = serializers.IntegerField(
        source="time_spent_seconds", help_text="Active time on the task (page visible, in use)."
    )
    paste_count = serializers.IntegerField(help_text="Pastes into answer fields.")
    pasted_chars = serializers.IntegerField()
    focus_loss_count = serializers.IntegerField(help_text="Times the page lost focus.")
    ai_used = serializers.BooleanField(allow_null=True, help_text="As the expert declared it.")
    ai_disclosure = serializers.CharField()
    edit_count = serializers.IntegerField()
    guidelines_version = serializers.IntegerField()
    status = serializers.CharField(help_text=_one_of(AnnotationStatus.choices))
    submitted_at = serializers.DateTimeField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    disagreement = serializers.FloatField(
        source="task.disagreement",
        allow_null=True,
        help_text="On the task: 1 − the share of the most common answer (null: fewer than "
        "two answers).",
    )

    def get_expert(self, annotation: Annotation) -> str:
        """The expert's pseudonym, e.g. “Expert 1a2b3c4d” (filter the list with it)."""
        profile = getattr(annotation.expert, "expert_profile", None)
        return pseudonym(profile.public_id if profile else None)


class LabReviewSerializer(serializers.ModelSerializer):
    decision = serializers.CharField(help_text=_one_of(ReviewDecision.choices))
    reviewer = serializers.SerializerMethodField()
    by_api_key = serializers.SerializerMethodField()

    class Meta:
        model = AnnotationReview
        fields = ["decision", "feedback", "reviewer", "by_api_key", "is_automatic", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_reviewer(self, review: AnnotationReview) -> str | None:
        """The lab member who decided (null for an API key or the auto-accept rule)."""
        return review.reviewer.email if review.reviewer else None

    def get_by_api_key(self, review: AnnotationReview) -> bool:
        return review.api_key_id is not None


class LabAnnotationDetailSerializer(LabAnnotationSerializer):
    reviews = LabReviewSerializer(many=True, source="reviews.all")


class ReviewSerializer(StrictInputSerializer):
    decision = serializers.CharField(help_text=_one_of(ReviewDecision.choices))
    feedback = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_FEEDBACK,
        trim_whitespace=False,
        help_text="Required to reject or send back; the expert reads it.",
    )
    seen_edit_count = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        help_text="The `edit_count` of the answer you read. When the expert changed it since, "
        "the decision is refused (409) so you never decide on an answer you have not seen.",
    )


class BulkAcceptSerializer(StrictInputSerializer):
    annotations = serializers.ListField(
        child=serializers.UUIDField(),
        allow_empty=False,
        max_length=MAX_BULK,
        help_text="Ids of annotations to accept; those not waiting for review are left as "
        "they are.",
    )


class BulkAcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="How many were accepted now.")


class EdgeCaseResolveSerializer(StrictInputSerializer):
    reply = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=MAX_FEEDBACK,
        trim_whitespace=False,
        help_text="An answer to the expert (they are notified); may be empty.",
    )
