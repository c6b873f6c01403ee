"""Statuses, choices and allowed transitions for projects, tasks, imports and webhooks."""

from django.db import models


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    FUNDED = "funded", "Funded"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    ARCHIVED = "archived", "Archived"


# DESIGN.md, flow 2: draft → funded → active ⇄ paused → completed → archived. A draft that
# was never funded may be archived directly (the lab abandons it; no money is involved).
PROJECT_TRANSITIONS: dict[str, frozenset[str]] = {
    ProjectStatus.DRAFT: frozenset({ProjectStatus.FUNDED, ProjectStatus.ARCHIVED}),
    ProjectStatus.FUNDED: frozenset({ProjectStatus.ACTIVE}),
    ProjectStatus.ACTIVE: frozenset({ProjectStatus.PAUSED, ProjectStatus.COMPLETED}),
    ProjectStatus.PAUSED: frozenset({ProjectStatus.ACTIVE, ProjectStatus.COMPLETED}),
    ProjectStatus.COMPLETED: frozenset({ProjectStatus.ARCHIVED}),
    ProjectStatus.ARCHIVED: frozenset(),
}

# A project's settings (requirements, pricing, overlap) may change only before it goes live.
EDITABLE_PROJECT_STATES = frozenset({ProjectStatus.DRAFT, ProjectStatus.FUNDED})
# Tasks may be added while the project is not finished; live projects take more tasks only
# when the funds cover them (checked by the import).
TASK_IMPORT_STATES = frozenset(
    {ProjectStatus.DRAFT, ProjectStatus.FUNDED, ProjectStatus.ACTIVE, ProjectStatus.PAUSED}
)
# More money may be added until the project is finished.
FUNDABLE_PROJECT_STATES = frozenset(
    {ProjectStatus.DRAFT, ProjectStatus.FUNDED, ProjectStatus.ACTIVE, ProjectStatus.PAUSED}
)


def project_can_transition(current: str, target: str) -> bool:
    return target in PROJECT_TRANSITIONS.get(current, frozenset())


class TaskStatus(models.TextChoices):
    OPEN = "open", "Needs annotations"
    COMPLETED = "completed", "Completed"


class AnnotationStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    REVISION = "revision", "Sent back for revision"


class ImportKind(models.TextChoices):
    TASKS = "tasks", "Tasks"
    GOLD = "gold", "Gold tasks"


class ImportFormat(models.TextChoices):
    JSONL = "jsonl", "JSON Lines"
    CSV = "csv", "CSV"
    LABEL_STUDIO = "label_studio", "Label Studio JSON"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    VALIDATING = "validating", "Validating"
    SAVING = "saving", "Saving"
    SUCCEEDED = "succeeded", "Imported"
    FAILED = "failed", "Rejected"


FINISHED_IMPORT_STATES = frozenset({ImportStatus.SUCCEEDED, ImportStatus.FAILED})


class WebhookEvent(models.TextChoices):
    ANNOTATION_SUBMITTED = "annotation.submitted", "Annotation submitted"
    TASK_COMPLETED = "task.completed", "Task completed"
    PROJECT_COMPLETED = "project.completed", "Project completed"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


# Matching (DESIGN.md, flow 4) ------------------------------------------------------------


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Waiting for an answer"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


# An invitation in one of these states holds a seat; the others gave it back.
SEAT_HOLDING_INVITATION_STATES = frozenset({InvitationStatus.PENDING, InvitationStatus.ACCEPTED})


class InvitationSource(models.TextChoices):
    MATCHING = "matching", "Matching run"
    DIRECT = "direct", "Invited by the lab"


class DeclineReason(models.TextChoices):
    NO_TIME = "no_time", "I don't have the time right now"
    NOT_MY_EXPERTISE = "not_my_expertise", "It is outside my expertise"
    RATE_TOO_LOW = "rate_too_low", "The pay is too low for the work"
    NOT_INTERESTED = "not_interested", "The work doesn't interest me"
    CONFLICT = "conflict", "I have a conflict of interest"
    OTHER = "other", "Another reason"


class MemberStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    REMOVED = "removed", "Removed"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


class RunTrigger(models.TextChoices):
    PROJECT_ACTIVATED = "project_activated", "A project went live"
    SEATS_ADDED = "seats_added", "A project asked for more seats"
    EXPERT_VETTED = "expert_vetted", "An expert became vetted"
    CAPACITY_FREED = "capacity_freed", "An expert or a seat became free"
    SCHEDULE = "schedule", "Schedule"
    STAFF = "staff", "Started by staff"


# Workspace (DESIGN.md, flows 3 and 5) ------------------------------------------------------


class DispatchOrder(models.TextChoices):
    DEPTH = "depth", "Finish started tasks first"
    BREADTH = "breadth", "Spread answers across tasks first"


class AiPolicy(models.TextChoices):
    FORBIDDEN = "forbidden", "AI tools are not allowed"
    ALLOWED = "allowed", "AI tools are allowed"
    DISCLOSED = "disclosed", "AI tools are allowed if disclosed"


class AssignmentStatus(models.TextChoices):
    LEASED = "leased", "Leased"
    SUBMITTED = "submitted", "Submitted"
    SKIPPED = "skipped", "Skipped"
    EXPIRED = "expired", "Lease expired"


class SkipReason(models.TextChoices):
    OUTSIDE_EXPERTISE = "outside_expertise", "Outside my expertise"
    UNCLEAR = "unclear", "The task is unclear or broken"
    CONFLICT = "conflict", "I have a conflict of interest"
    TOO_LONG = "too_long", "Too long for me right now"
    OTHER = "other", "Another reason"


class ReviewDecision(models.TextChoices):
    ACCEPT = "accept", "Accepted"
    REJECT = "reject", "Rejected"
    REVISE = "revise", "Sent back for revision"


# DESIGN.md, flow 5: submitted → accepted | rejected | revision requested; a revision comes
# back as submitted, or the lab decides without waiting for it (the expert may never revise).
# Accepted and rejected are final here (disputes belong to payments).
ANNOTATION_TRANSITIONS: dict[str, frozenset[str]] = {
    AnnotationStatus.SUBMITTED: frozenset(
        {AnnotationStatus.ACCEPTED, AnnotationStatus.REJECTED, AnnotationStatus.REVISION}
    ),
    AnnotationStatus.REVISION: frozenset(
        {AnnotationStatus.SUBMITTED, AnnotationStatus.ACCEPTED, AnnotationStatus.REJECTED}
    ),
    AnnotationStatus.ACCEPTED: frozenset(),
    AnnotationStatus.REJECTED: frozenset(),
}
# The expert may still change their answer while it waits for (or was sent back by) review.
EDITABLE_ANNOTATION_STATES = frozenset({AnnotationStatus.SUBMITTED, AnnotationStatus.REVISION})
# Projects whose experts may take new tasks.
DISPATCH_PROJECT_STATES = frozenset({ProjectStatus.ACTIVE})
# Projects whose experts may still hand in what they hold (a pause stops new leases only).
SUBMIT_PROJECT_STATES = frozenset({ProjectStatus.ACTIVE, ProjectStatus.PAUSED})


def annotation_can_transition(current: str, target: str) -> bool:
    return target in ANNOTATION_TRANSITIONS.get(current, frozenset())


class ExportFormat(models.TextChoices):
    JSONL = "jsonl", "JSON Lines"
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"


class ExportShape(models.TextChoices):
    # The row shape training code reads for the project's task type (DPO rows for
    # pairwise, scores for ratings, messages for demonstrations), one per annotation.
    TRAINING = "training", "Training rows (one per annotation)"
    RAW = "raw", "Raw annotations (the stored result)"
    CONSENSUS = "consensus", "Consensus (one row per item)"


class ExportStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    RUNNING = "running", "Running"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class BehaviourFlag(models.TextChoices):
    # Active time far below the project's median.
    FAST = "fast", "Much faster than the project's median"
    # The same answer as the expert's previous answers, many in a row.
    REPEAT = "repeat", "Same answer many times in a row"
    # Most of a written answer was pasted in.
    PASTED = "pasted", "Answer mostly pasted in"
