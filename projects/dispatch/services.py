"""Every write of the workspace: claiming the next task, keeping drafts and leases alive,
submitting, skipping and editing answers, and returning expired leases to the pool.

Lock order: the expert's seat (claims only), then assignment rows, then task rows; review
locks the annotation first. A claim locks its task with ``SKIP LOCKED``, so claimers never
queue behind one another, and inserts its new assignment. Expired leases are returned by a
beat task, and by a claim that finds nothing with room, in their own short transaction.
"""

from __future__ import annotations

import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput
from marketplace.models import User
from projects.dispatch.models import Assignment
from projects.matching.models import ProjectMember
from projects.models import Annotation, GuidelineAcknowledgement, Project, Task
from projects.quality.services import project_quality_mark_stale
from projects.states import (
    DISPATCH_PROJECT_STATES,
    EDITABLE_ANNOTATION_STATES,
    SUBMIT_PROJECT_STATES,
    AiPolicy,
    AnnotationStatus,
    AssignmentStatus,
    DispatchOrder,
    MemberStatus,
    SkipReason,
    TaskStatus,
    WebhookEvent,
    annotation_can_transition,
)
from projects.task_types import task_type_for

# The task in hand and the one the page prefetched while the expert works on it.
LIVE_LEASES_PER_EXPERT = 2
# Expired leases a claim that found nothing returns to the pool before it looks again (the
# beat task sweeps the rest); bounded so one claim's cost stays flat.
EXPIRED_RETURNED_PER_CLAIM = 20
# Candidates a claim tries when racing claims fill the ones it found.
CLAIM_ATTEMPTS = 3
# How far into the started tasks a depth-first claim looks before it takes a fresh one.
DEPTH_WINDOW = 64
# Heartbeats may not add more active time than this, nor more than the time since the last.
MAX_ACTIVE_SECONDS_PER_SAVE = 600
ACTIVE_TIME_SLACK_SECONDS = 5
MAX_DRAFT_CHARS = 200_000


class GuidelinesNotAcknowledged(Conflict):
    """The project's guidelines changed materially since the expert last acknowledged them."""

    code = "guidelines"


class SubmittedTooLate(Conflict):
    """The lease had expired and the task got all its answers meanwhile; the work was kept
    as a draft."""

    code = "too_late"


class TaskSkipped(Conflict):
    """The expert skipped this task; it can no longer be submitted."""

    code = "skipped"


def refusal_code(error: Conflict) -> str:
    """The kind of refusal, for pages and API clients to act on: ``guidelines`` (read them
    first), ``too_late`` (kept as a draft), ``skipped``, or ``not_available`` (the project or
    the expert's seat does not take work now)."""
    return str(getattr(error, "code", "not_available"))


@dataclass(frozen=True)
class PageSignals:
    """What the annotation page measured since its last save (all deltas, never totals)."""

    active_seconds: int = 0
    pastes: int = 0
    pasted_chars: int = 0
    focus_losses: int = 0

    @classmethod
    def from_mapping(cls, data: Any) -> PageSignals:
        """Read the four counters from a form or JSON body; a missing or bad value is 0."""

        def number(key: str) -> int:
            try:
                value = int(str(data.get(key, 0) or 0))
            except (TypeError, ValueError):
                return 0
            return max(0, min(value, 1_000_000))

        return cls(
            active_seconds=number("active_seconds"),
            pastes=number("pastes"),
            pasted_chars=number("pasted_chars"),
            focus_losses=number("focus_losses"),
        )


# Claiming ----------------------------------------------------------------------------------


def _lease_length(project: Project) -> timedelta:
    return timedelta(minutes=project.lease_minutes)


def _member_refusal(member: tuple[str, str] | None) -> str | None:
    """Why a seat in this state (status, reason) may not take tasks; None when it may."""
    if member is None or member[0] == MemberStatus.REMOVED:
        return "You are not on this project."
    if member[0] == MemberStatus.PAUSED:
        reason = f" {member[1]}" if member[1] else ""
        return f"Your work on this project is paused.{reason}"
    return None


def _project_refusal(project: Project) -> str | None:
    if project.status not in DISPATCH_PROJECT_STATES:
        return f"“{project.title}” is {project.get_status_display().lower()}: no new tasks for now."
    return None


def work_refusal(*, expert: User, project: Project) -> str | None:
    """Why the expert may not take a new task on the project now (None when they may)."""
    refusal = _project_refusal(project)
    if refusal is not None:
        return refusal
    member = (
        ProjectMember.objects.filter(project=project, expert=expert)
        .values_list("status", "status_reason")
        .first()
    )
    return _member_refusal(member)


def held_task_refusal(*, expert: User, project: Project) -> str | None:
    """Why the expert may not work on a task they already hold (None when they may): a
    paused project still takes answers for the tasks its experts hold, but a paused or
    removed member works on nothing, and a finished project takes nothing."""
    if project.status not in SUBMIT_PROJECT_STATES:
        return _project_refusal(project) or f"“{project.title}” is closed."
    return _member_refusal(
        ProjectMember.objects.filter(project=project, expert=expert)
        .values_list("status", "status_reason")
        .first()
    )


def _lock_seat(*, expert: User, project: Project) -> None:
    """Lock the expert's seat on the project, so one expert's claims (two tabs, a prefetch,
    parallel API calls) run one at a time and the lease cap holds; raise Conflict when the
    expert may not take tasks, GuidelinesNotAcknowledged when the guidelines changed. One
    query: the acknowledged guidelines version comes with the seat."""
    acknowledged = GuidelineAcknowledgement.objects.filter(project=project, expert=expert).values(
        "version"
    )[:1]
    member = (
        ProjectMember.objects.select_for_update(of=("self",))
        .filter(project=project, expert=expert)
        .annotate(acknowledged=Subquery(acknowledged))
        .values_list("status", "status_reason", "acknowledged")
        .first()
    )
    refusal = _member_refusal(member[:2] if member else None)
    if refusal is not None or member is None:
        raise Conflict(refusal or "You are not on this project.")
    seen = member[2]
    if project.guidelines_version and (seen is None or seen < project.material_guidelines_version):
        raise GuidelinesNotAcknowledged(
            "The guidelines changed. Read and acknowledge them before your next task."
        )


def leases_return_expired(*, project: Project | None = None, limit: int = 500) -> int:
    """Mark up to ``limit`` expired leases as expired and give their slots back to their
    tasks. Leases another transaction holds are skipped (it is renewing or submitting them).
    Return how many were returned."""
    now = timezone.now()
    with transaction.atomic():
        expired = Assignment.objects.filter(status=AssignmentStatus.LEASED, expires_at__lt=now)
        if project is not None:
            expired = expired.filter(project=project)
        rows = list(
            expired.select_for_update(skip_locked=True)
            .order_by("expires_at")
            .values_list("pk", "task_id")[:limit]
        )
        by_task: dict[int, list[int]] = defaultdict(list)
        for pk, task_id in rows:
            by_task[task_id].append(pk)
        returned = 0
        for task_id in sorted(by_task):  # tasks in pk order, as every other writer
            # The status is checked again in the write: without row locks (SQLite) a submit
            # may have handed one of them in since the read.
            still_leased = Assignment.objects.filter(
                pk__in=by_task[task_id], status=AssignmentStatus.LEASED
            )
            freed = still_leased.filter(holds_slot=True).update(
                status=AssignmentStatus.EXPIRED, holds_slot=False, updated_at=now
            )
            returned += freed + still_leased.update(status=AssignmentStatus.EXPIRED, updated_at=now)
            if freed:
                Task.objects.filter(pk=task_id).update(reserved_count=F("reserved_count") - freed)
    return returned


def task_target(task: Task, project: Project) -> int:
    """The answers a task needs: the project's overlap, unless adaptive overlap set its own."""
    return task.target_overlap if task.target_overlap is not None else project.overlap


def _has_room(project: Project) -> Q:
    """Tasks below the number of answers they need (their own target, else the overlap)."""
    return Q(target_overlap__isnull=True, reserved_count__lt=project.overlap) | Q(
        target_overlap__isnull=False, reserved_count__lt=F("target_overlap")
    )


def _extra_candidate(*, expert: User, project: Project) -> Task | None:
    """An item adaptive overlap asked more answers for, that the expert never had (these
    come first: the lab waits on them)."""
    return (
        Task.objects.filter(
            project=project,
            is_gold=False,
            status=TaskStatus.OPEN,
            target_overlap__isnull=False,
            reserved_count__lt=F("target_overlap"),
        )
        .exclude(Exists(Assignment.objects.filter(task=OuterRef("pk"), expert=expert)))
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("id")
        .only("id", "reserved_count", "target_overlap", "data", "is_gold", "status")
        .first()
    )


def _gold_candidate(*, expert: User, project: Project) -> Task | None:
    """A gold task the expert has not had, starting from a random point so experts do not
    meet the gold tasks in the same order."""
    bounds = Task.objects.filter(project=project, is_gold=True).aggregate(
        low=Min("id"), high=Max("id")
    )
    if bounds["low"] is None:
        return None
    pivot = bounds["low"] + secrets.randbelow(bounds["high"] - bounds["low"] + 1)
    unseen = Task.objects.filter(project=project, is_gold=True).exclude(
        Exists(Assignment.objects.filter(task=OuterRef("pk"), expert=expert))
    )
    return (
        unseen.filter(id__gte=pivot).order_by("id").first()
        or unseen.filter(id__lt=pivot).order_by("id").first()
    )


def _regular_candidate(*, expert: User, project: Project) -> Task | None:
    """Lock the first task that still has room, that the expert never had, in the project's
    order. Tasks other claimers hold locked are skipped, not waited for.

    Depth first looks at started tasks only in the front window of the queue: the expert's
    own answers waiting for other experts sit there, and walking past all of them would make
    a busy expert's every claim longer. Past the window come tasks nobody has started.
    """
    with_room = Task.objects.filter(
        project=project,
        is_gold=False,
        status=TaskStatus.OPEN,
        reserved_count__lt=project.overlap,
        target_overlap__isnull=True,
    )
    unseen = ~Exists(Assignment.objects.filter(task=OuterRef("pk"), expert=expert))

    def first(rows: QuerySet[Task], order: tuple[str, ...]) -> Task | None:
        return (
            rows.filter(unseen)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by(*order)
            .only("id", "reserved_count", "data", "is_gold", "status")
            .first()
        )

    if project.dispatch_order == DispatchOrder.BREADTH:
        return first(with_room, ("reserved_count", "-priority", "id"))
    order = ("-reserved_count", "-priority", "id")
    front = with_room.filter(reserved_count__gt=0).order_by(*order).values("pk")[:DEPTH_WINDOW]
    return (
        # The room condition again outside the window: PostgreSQL re-checks a locked row's
        # conditions against its newest version, but not the subquery's.
        first(with_room.filter(pk__in=front), order)
        or first(with_room.filter(reserved_count=0), ("-priority", "id"))
        or first(with_room, order)
    )


def _own_leases(*, expert: User, project: Project) -> list[Assignment]:
    """The expert's leases on the project (live or not yet swept: the slot is still theirs),
    oldest first, locked. Call inside the claim's transaction, with the seat locked."""
    return list(
        Assignment.objects.select_for_update(of=("self",))
        .select_related("task")
        .filter(expert=expert, project=project, status=AssignmentStatus.LEASED)
        .order_by("leased_at", "id")[:LIVE_LEASES_PER_EXPERT]
    )


def _kept_draft(*, expert: User, project: Project) -> Assignment | None:
    """The expert's newest draft whose lease ran out, on a task that still has room, locked."""
    return (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("task")
        .filter(
            expert=expert,
            project=project,
            status=AssignmentStatus.EXPIRED,
            draft__isnull=False,
            task__status=TaskStatus.OPEN,
        )
        .filter(
            Q(task__is_gold=True)
            | Q(task__target_overlap__isnull=True, task__reserved_count__lt=project.overlap)
            | Q(
                task__target_overlap__isnull=False,
                task__reserved_count__lt=F("task__target_overlap"),
            )
        )
        .order_by("-draft_saved_at", "-id")
        .first()
    )


def _lease_again(assignment: Assignment, project: Project, now: datetime) -> Assignment | None:
    """Lease a kept draft's task to its expert again, if the task still has room. Call with
    the assignment row locked."""
    if not _take_slot_again(assignment, project):
        return None
    assignment.status = AssignmentStatus.LEASED
    assignment.leased_at = now
    assignment.expires_at = now + _lease_length(project)
    assignment.save(update_fields=["status", "holds_slot", "leased_at", "expires_at", "updated_at"])
    return assignment


def _claim_new(*, expert: User, project: Project, now: datetime) -> Assignment | None:
    """Lease a task the expert never had: a gold one at the project's gold rate, otherwise
    the first regular task with room in the project's order. Call inside the claim's
    transaction, with the expert's seat locked."""

    def lease(task: Task, *, holds_slot: bool) -> Assignment:
        return Assignment.objects.create(
            task=task,
            project=project,
            expert=expert,
            holds_slot=holds_slot,
            leased_at=now,
            expires_at=now + _lease_length(project),
        )

    if secrets.randbelow(100) < project.gold_rate_percent:
        gold = _gold_candidate(expert=expert, project=project)
        if gold is not None:
            return lease(gold, holds_slot=False)
    for _ in range(CLAIM_ATTEMPTS):
        task = (
            project.adaptive_overlap and _extra_candidate(expert=expert, project=project)
        ) or _regular_candidate(expert=expert, project=project)
        if task is None:
            return None
        # The row is locked on PostgreSQL; the condition still guards databases without
        # row locks, where a racing claim may have filled the task since the read.
        if Task.objects.filter(_has_room(project), pk=task.pk).update(
            reserved_count=F("reserved_count") + 1
        ):
            return lease(task, holds_slot=True)
    return None


def _next(*, expert: User, project: Project, current: Assignment | None) -> Assignment | None:
    refusal = _project_refusal(project)
    if refusal is not None:
        raise Conflict(refusal)
    for attempt in range(2):
        now = timezone.now()
        with transaction.atomic():
            _lock_seat(expert=expert, project=project)
            leases = _own_leases(expert=expert, project=project)
            others = [lease for lease in leases if current is None or lease.pk != current.pk]
            if others:
                return assignment_renew(assignment=others[0])
            if len(leases) >= LIVE_LEASES_PER_EXPERT:
                return None
            kept = _kept_draft(expert=expert, project=project)
            found = (kept and _lease_again(kept, project, now)) or _claim_new(
                expert=expert, project=project, now=now
            )
        if found is not None or attempt:
            return found
        # Nothing with room: expired leases are returned lazily, here, then one more look.
        if not leases_return_expired(project=project, limit=EXPIRED_RETURNED_PER_CLAIM):
            return None
    return None


def task_claim(*, expert: User, project: Project) -> Assignment | None:
    """The expert's next task on the project, leased to them; None when nothing is left.

    An expert who already holds a live lease gets it back (renewed) rather than a new task,
    so a reload finds the same task and its draft; a draft whose lease ran out comes back
    while its task still has room. Raise Conflict when the expert may not work on the
    project now (GuidelinesNotAcknowledged when the guidelines changed).
    """
    return _next(expert=expert, project=project, current=None)


def task_prefetch(*, expert: User, project: Project, current: Assignment) -> Assignment | None:
    """The task after ``current``, leased now so the page can show it the moment ``current``
    is submitted: another live lease if the expert has one, else a new claim. At most
    LIVE_LEASES_PER_EXPERT leases are live per expert."""
    return _next(expert=expert, project=project, current=current)


def _take_slot_again(assignment: Assignment, project: Project) -> bool:
    """Re-reserve a slot for an assignment whose lease expired, if the task still needs an
    answer. Call with the assignment row locked."""
    if assignment.task.is_gold:
        return True
    taken = Task.objects.filter(
        _has_room(project), pk=assignment.task_id, status=TaskStatus.OPEN
    ).update(reserved_count=F("reserved_count") + 1)
    if taken:
        assignment.holds_slot = True
    return bool(taken)


def assignment_renew(*, assignment: Assignment) -> Assignment:
    """Extend a live lease to the project's lease length from now."""
    project = assignment.project
    expires_at = timezone.now() + _lease_length(project)
    Assignment.objects.filter(pk=assignment.pk, status=AssignmentStatus.LEASED).update(
        expires_at=expires_at
    )
    assignment.expires_at = expires_at
    return assignment


def _add_signals(assignment: Assignment, signals: PageSignals, now: datetime) -> None:
    """Add the page's counters to the assignment. Active time may not exceed the wall time
    since the last save (plus slack), so a tampered page cannot inflate it."""
    last = assignment.draft_saved_at or assignment.leased_at
    ceiling = int((now - last).total_seconds()) + ACTIVE_TIME_SLACK_SECONDS
    assignment.active_seconds += max(
        0, min(signals.active_seconds, ceiling, MAX_ACTIVE_SECONDS_PER_SAVE)
    )
    assignment.paste_count += signals.pastes
    assignment.pasted_chars += signals.pasted_chars
    assignment.focus_loss_count += signals.focus_losses


def _check_draft(draft: Any) -> dict[str, Any] | None:
    if draft is None:
        return None
    if not isinstance(draft, dict):
        raise InvalidInput("A draft must be a JSON object.", field="draft")
    if len(str(draft)) > MAX_DRAFT_CHARS:
        raise InvalidInput("The draft is too long to keep.", field="draft")
    return draft


def assignment_submittable(assignment: Assignment) -> bool:
    """Whether a submit would be accepted now, judged from the rows loaded with the
    assignment (no query): a lease keeps its slot until it is swept; an expired one needs a
    project that still takes answers and a task that still has room."""
    if assignment.status == AssignmentStatus.LEASED:
        return True
    if assignment.status != AssignmentStatus.EXPIRED:
        return False
    project, task = assignment.project, assignment.task
    return project.status in SUBMIT_PROJECT_STATES and (
        task.is_gold
        or (task.status == TaskStatus.OPEN and task.reserved_count < task_target(task, project))
    )


@dataclass(frozen=True)
class DraftSaved:
    assignment: Assignment
    # False when the lease had expired and the task no longer needs this expert's answer:
    # the draft is kept, but a submit will be refused.
    still_needed: bool


def assignment_draft_save(
    *,
    expert: User,
    assignment: Assignment,
    draft: Any,
    signals: PageSignals | None = None,
) -> DraftSaved:
    """Keep the unsent answer and the page's counters; renew the lease while the expert is
    at work (a new draft or active time), not for a tab left open with nobody at it.

    A lease that expired meanwhile is taken again, on the next sign of work, when the task
    still has room. Saving a draft on a task already submitted or skipped is refused
    (Conflict).
    """
    clean = _check_draft(draft)
    signals = signals or PageSignals()
    working = clean is not None or signals.active_seconds > 0 or signals.pastes > 0
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("task", "project")
            .get(pk=assignment.pk, expert=expert)
        )
        project = locked.project
        if locked.status in (AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED):
            raise Conflict(f"This task was already {locked.get_status_display().lower()}.")
        if locked.status == AssignmentStatus.LEASED:
            still_needed = True  # expired or not, the slot stays ours until it is swept
        elif working and project.status in SUBMIT_PROJECT_STATES:
            still_needed = _take_slot_again(locked, project)
            if still_needed:
                locked.status = AssignmentStatus.LEASED
        else:
            still_needed = assignment_submittable(locked)
        if working and locked.status == AssignmentStatus.LEASED:
            locked.expires_at = now + _lease_length(project)
        if clean is not None:
            locked.draft = clean
        _add_signals(locked, signals, now)
        locked.draft_saved_at = now
        locked.save(
            update_fields=[
                "status",
                "holds_slot",
                "expires_at",
                "draft",
                "draft_saved_at",
                "active_seconds",
                "paste_count",
                "pasted_chars",
                "focus_loss_count",
                "updated_at",
            ]
        )
    return DraftSaved(assignment=locked, still_needed=still_needed)


def assignment_skip(
    *, expert: User, assignment: Assignment, reason: str, note: str = ""
) -> Assignment:
    """Hand the task back with a reason; the expert is not offered it again."""
    if reason not in SkipReason.values:
        raise InvalidInput("Choose why you are skipping this task.", field="reason")
    note = note.strip()
    if reason == SkipReason.OTHER and not note:
        raise InvalidInput("Say why you are skipping this task.", field="note")
    if len(note) > 500:
        raise InvalidInput("Keep the note under 500 characters.", field="note")
    now = timezone.now()
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk, expert=expert)
        if locked.status == AssignmentStatus.SKIPPED:
            return locked
        if locked.status == AssignmentStatus.SUBMITTED:
            raise Conflict("You already submitted this task.")
        if locked.holds_slot:
            Task.objects.filter(pk=locked.task_id).update(reserved_count=F("reserved_count") - 1)
        locked.status = AssignmentStatus.SKIPPED
        locked.holds_slot = False
        locked.skip_reason = reason
        locked.skip_note = note
        locked.finished_at = now
        locked.draft = None
        locked.save()
    return locked


# Submitting --------------------------------------------------------------------------------


def _check_disclosure(project: Project, ai_used: bool | None, disclosure: str) -> str:
    disclosure = (disclosure or "").strip()
    if len(disclosure) > 2000:
        raise InvalidInput("Keep the AI disclosure under 2,000 characters.", field="ai_disclosure")
    if project.ai_policy == AiPolicy.DISCLOSED:
        if ai_used is None:
            raise InvalidInput("Say whether you used AI tools on this task.", field="ai_used")
        if ai_used and not disclosure:
            raise InvalidInput("Say which AI tools you used and for what.", field="ai_disclosure")
    return disclosure


def _disagreement(task: Task, project: Project, results: list[dict[str, Any]]) -> float | None:
    """1 − the share of the most common overall answer (the type's first question)."""
    if len(results) < 2:
        return None
    task_type = task_type_for(project.task_type)
    clean = task_type.settings_with_defaults(project.task_settings)
    first = task_type.questions(clean)[0].key
    values = Counter(repr(task_type.answers(result, clean).get(first)) for result in results)
    return round(1 - values.most_common(1)[0][1] / len(results), 4)


def task_counts_refresh(*, task: Task, project: Project) -> Task:
    """Recount the task's annotations that count (not rejected), its status and its
    disagreement from the rows. Call with the task row locked."""
    results = list(
        Annotation.objects.filter(task=task)
        .exclude(status=AnnotationStatus.REJECTED)
        .values_list("result", flat=True)
    )
    task.annotation_count = len(results)
    if not task.is_gold:
        done = len(results) >= task_target(task, project)
        task.status = TaskStatus.COMPLETED if done else TaskStatus.OPEN
    task.disagreement = None if task.is_gold else _disagreement(task, project, results)
    task.save(update_fields=["annotation_count", "status", "disagreement"])
    return task


def annotation_submit(
    *,
    expert: User,
    assignment: Assignment,
    result: Any,
    signals: PageSignals | None = None,
    ai_used: bool | None = None,
    ai_disclosure: str = "",
    draft: Any = None,
) -> Annotation:
    """Turn the expert's answer into an annotation, exactly once per assignment.

    A second submit of the same assignment (a double click, a retry, another tab) returns
    the first annotation unchanged. A submit after the lease expired is accepted while the
    task still needs an answer; otherwise ``draft`` (the form as sent) is kept on the
    assignment and SubmittedTooLate is raised. Invalid answers raise InvalidInput naming the
    field, and nothing changes.
    """
    if assignment.annotation_id is not None:  # a repeat: answer as the first time
        return Annotation.objects.get(pk=assignment.annotation_id)
    project = assignment.project
    task_type = task_type_for(project.task_type)
    clean = task_type.validate_result(
        result,
        task=assignment.task.data,
        settings=task_type.settings_with_defaults(project.task_settings),
    )
    disclosure = _check_disclosure(project, ai_used, ai_disclosure)
    kept = _check_draft(draft)
    now = timezone.now()
    too_late = False
    with transaction.atomic():
        # No joins in the locking read: after waiting for another tab's submit, PostgreSQL
        # re-reads the locked row but not the rows joined to it.
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk, expert=expert)
        if locked.annotation_id is not None:
            return Annotation.objects.get(pk=locked.annotation_id)
        if locked.status == AssignmentStatus.SKIPPED:
            raise TaskSkipped("You skipped this task; it can no longer be submitted.")
        if project.status not in SUBMIT_PROJECT_STATES:
            raise Conflict(f"“{project.title}” is {project.get_status_display().lower()}.")
        task = Task.objects.select_for_update().get(pk=locked.task_id)
        locked.task = task
        if not locked.holds_slot and not task.is_gold:
            too_late = not _take_slot_again(locked, project)
        _add_signals(locked, signals or PageSignals(), now)
        changed = ["status", "holds_slot", "draft", "draft_saved_at", "updated_at"]
        changed += ["active_seconds", "paste_count", "pasted_chars", "focus_loss_count"]
        if too_late:
            locked.status = AssignmentStatus.EXPIRED
            locked.draft = kept if kept is not None else locked.draft
            locked.draft_saved_at = now
            locked.save(update_fields=changed)
        else:
            annotation = Annotation.objects.create(
                task=task,
                project=project,
                expert=expert,
                result=clean,
                confidence=clean["confidence"],
                is_edge_case=clean.get("is_edge_case", False),
                edge_case_note=clean.get("edge_case_note", ""),
                guidelines_version=project.guidelines_version,
                time_spent_seconds=locked.active_seconds,
                paste_count=locked.paste_count,
                pasted_chars=locked.pasted_chars,
                focus_loss_count=locked.focus_loss_count,
                ai_used=ai_used,
                ai_disclosure=disclosure,
                submitted_at=now,
            )
            locked.status = AssignmentStatus.SUBMITTED
            locked.annotation = annotation
            locked.finished_at = now
            locked.draft = None
            locked.save(update_fields=[*changed, "annotation", "finished_at"])
            was_completed = task.status == TaskStatus.COMPLETED
            task_counts_refresh(task=task, project=project)
            project_quality_mark_stale(project=project)
            _emit_submitted(
                project,
                annotation,
                task,
                completed=(task.status == TaskStatus.COMPLETED and not was_completed),
            )
    if too_late:
        raise SubmittedTooLate(
            "Thank you, but this task already has all the answers it needs: your lease had "
            "run out. Your answer is kept as a draft in your history."
        )
    return annotation


def _emit_submitted(
    project: Project, annotation: Annotation, task: Task, *, completed: bool
) -> None:
    from projects.services.webhooks import webhook_event_emit

    webhook_event_emit(
        organization=project.organization,  # loaded with the assignment
        event=WebhookEvent.ANNOTATION_SUBMITTED,
        data={
            "project": str(project.public_id),
            "task": task.external_id,
            "annotation": str(annotation.public_id),
            "submitted_at": annotation.submitted_at,
        },
    )
    if completed:
        webhook_event_emit(
            organization=project.organization,
            event=WebhookEvent.TASK_COMPLETED,
            data={
                "project": str(project.public_id),
                "task": task.external_id,
                "annotations": task.annotation_count,
            },
        )


def annotation_edit(
    *,
    expert: User,
    annotation: Annotation,
    result: Any,
    signals: PageSignals | None = None,
    ai_used: bool | None = None,
    ai_disclosure: str = "",
) -> Annotation:
    """Change an answer the lab has not decided on yet (or sent back for revision); the
    edit counts as a new hand-in (review and auto-accept start from it), and a revision goes
    back to the review queue as submitted. The page's signals add to the annotation's, and a
    project that asks for disclosure asks again."""
    project = annotation.project
    if project.status not in SUBMIT_PROJECT_STATES:
        raise Conflict(f"“{project.title}” is {project.get_status_display().lower()}.")
    if (
        _member_refusal(
            ProjectMember.objects.filter(project=project, expert=expert)
            .values_list("status", "status_reason")
            .first()
        )
        == "You are not on this project."
    ):
        raise Conflict("You are no longer on this project.")
    task_type = task_type_for(project.task_type)
    clean = task_type.validate_result(
        result,
        task=annotation.task.data,
        settings=task_type.settings_with_defaults(project.task_settings),
    )
    disclosure = _check_disclosure(project, ai_used, ai_disclosure)
    signals = signals or PageSignals()
    with transaction.atomic():
        locked = Annotation.objects.select_for_update().get(pk=annotation.pk, expert=expert)
        if locked.status not in EDITABLE_ANNOTATION_STATES:
            raise Conflict(
                f"This answer was {locked.get_status_display().lower()}; it can no longer "
                "be changed."
            )
        if annotation_can_transition(locked.status, AnnotationStatus.SUBMITTED):
            locked.status = AnnotationStatus.SUBMITTED
        locked.submitted_at = timezone.now()
        locked.result = clean
        locked.confidence = clean["confidence"]
        locked.is_edge_case = clean.get("is_edge_case", False)
        locked.edge_case_note = clean.get("edge_case_note", "")
        locked.edit_count += 1
        locked.time_spent_seconds += min(signals.active_seconds, MAX_ACTIVE_SECONDS_PER_SAVE)
        locked.paste_count += signals.pastes
        locked.pasted_chars += signals.pasted_chars
        locked.focus_loss_count += signals.focus_losses
        if project.ai_policy == AiPolicy.DISCLOSED or ai_used is not None:
            locked.ai_used = ai_used
            locked.ai_disclosure = disclosure
        locked.save()
        project_quality_mark_stale(project=project)
        task = Task.objects.select_for_update().get(pk=locked.task_id)
        task_counts_refresh(task=task, project=project)
    return locked
