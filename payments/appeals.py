"""Appeals and disputes: the two ways a final review decision is looked at again.

An expert appeals a rejection once, with a note; the lab answers by a deadline
(``settings.APPEAL_RESPONSE_DAYS``) or the appeal escalates to staff. Upheld, the answer
becomes accepted and is paid. A lab disputes an answer it accepted; staff decide, and upheld,
the answer becomes rejected and its earning is reversed.

Accepted and rejected are final in ``projects.states.ANNOTATION_TRANSITIONS`` on purpose: no
review path (page, API, bulk, auto-accept) may flip a decision. These services change the
status directly instead, because an appeal or a dispute is a second decision by someone
other than the reviewer (the lab's managers on appeal, staff otherwise), recorded as its own
AnnotationReview next to the first one, with the money moved in the same transaction. Each
answer is appealed at most once and disputed at most once (one-to-one rows), and a decision
reached this way cannot be reopened by the other route, so an answer changes state at most
once after its review.

Locks are taken in the order review uses: the annotation, then the appeal or dispute, then
the assignment and the task.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.models import Membership, Notification, User
from marketplace.services import audit_record, notification_create, notifications_create_bulk
from payments.ledger import InsufficientFunds, earning_post, earning_reverse
from payments.models import Appeal, Dispute
from payments.states import APPEAL_OPEN_STATES, AppealStatus, DisputeStatus
from projects.access import ROLES_THAT_MANAGE_PROJECTS, LabActor, lab_audit_record
from projects.dispatch.models import Assignment
from projects.dispatch.services import task_counts_refresh
from projects.models import Annotation, Task
from projects.quality.services import project_quality_mark_stale
from projects.review.models import AnnotationReview
from projects.states import AnnotationStatus, ReviewDecision

MAX_NOTE = 2_000
MAX_RESPONSE = 5_000
ESCALATION_BATCH = 500
DEADLINE_PASSED = "The deadline to answer passed; staff decide this appeal now."


# Helpers -----------------------------------------------------------------------------------


def _clean(text: str, *, field: str, required: bool, limit: int, why: str) -> str:
    text = (text or "").strip()
    if required and not text:
        raise InvalidInput(why, field=field)
    if len(text) > limit:
        raise InvalidInput(f"Keep it under {limit:,} characters.", field=field)
    return text


def _annotation_link(annotation: Annotation) -> str:
    return reverse("expert_annotation", kwargs={"annotation_id": annotation.public_id})


def _lab_appeals_link(annotation: Annotation) -> str:
    return reverse("payments:lab_appeals", kwargs={"slug": annotation.project.organization.slug})


def _staff_link() -> str:
    return reverse("payments:staff_disputes")


def _notify_lab_managers(annotation: Annotation, *, kind: str, text: str, link: str) -> None:
    managers = User.objects.filter(
        pk__in=Membership.objects.filter(
            organization_id=annotation.project.organization_id,
            role__in=ROLES_THAT_MANAGE_PROJECTS,
        ).values("user_id"),
        is_active=True,
    ).order_by("pk")
    notifications_create_bulk(
        [Notification(recipient=user, kind=kind, text=text, link=link) for user in managers]
    )


def _notify_staff(*, kind: str, text: str) -> None:
    staff = User.objects.filter(is_staff=True, is_active=True).order_by("pk")
    notifications_create_bulk(
        [Notification(recipient=user, kind=kind, text=text, link=_staff_link()) for user in staff]
    )


def _lock_annotation(pk: int, *, organization_id: int | None = None) -> Annotation:
    """The annotation row locked (with its project), optionally within one organisation."""
    scope = Annotation.objects.select_for_update(of=("self",)).select_related(
        "project__organization"
    )
    if organization_id is not None:
        scope = scope.filter(project__organization_id=organization_id)
    try:
        return scope.get(pk=pk)
    except Annotation.DoesNotExist:
        raise NotFound() from None


def _count_again(locked: Annotation) -> None:
    """A rejected answer accepted after all counts toward its task again: its assignment
    holds a slot once more (the task may end up with an answer beyond its overlap, which the
    lab pays for). Locks the assignment, then the task, as dispatch does."""
    assignment = (
        Assignment.objects.select_for_update().filter(annotation=locked, holds_slot=False).first()
    )
    task = Task.objects.select_for_update().get(pk=locked.task_id)
    if assignment is not None and not task.is_gold:
        Assignment.objects.filter(pk=assignment.pk).update(holds_slot=True)
        Task.objects.filter(pk=task.pk).update(reserved_count=F("reserved_count") + 1)
        task.refresh_from_db(fields=["reserved_count"])
    task_counts_refresh(task=task, project=locked.project)


def _stop_counting(locked: Annotation) -> None:
    """An accepted answer rejected after all no longer counts: the task asks another expert
    (the same steps as a rejection in review)."""
    assignment = (
        Assignment.objects.select_for_update().filter(annotation=locked, holds_slot=True).first()
    )
    task = Task.objects.select_for_update().get(pk=locked.task_id)
    task_counts_refresh(task=task, project=locked.project)
    if assignment is not None:
        Assignment.objects.filter(pk=assignment.pk).update(holds_slot=False)
        if not task.is_gold:
            Task.objects.filter(pk=task.pk).update(reserved_count=F("reserved_count") - 1)


def _decided_elsewhere(locked: Annotation) -> str:
    """Why the answer's current decision may not be looked at again ('' when it may)."""
    if Dispute.objects.filter(annotation=locked, status=DisputeStatus.UPHELD).exists():
        return "Staff rejected this answer after the lab's dispute; that decision is final."
    if Appeal.objects.filter(annotation=locked, status=AppealStatus.UPHELD).exists():
        return "This answer was accepted on appeal; that decision is final."
    return ""


# Appeals -----------------------------------------------------------------------------------


def appeal_open(*, expert: User, annotation: Annotation, note: str) -> Appeal:
    """Appeal the rejection of one of the expert's own answers, once, with a note. The lab's
    managers are told and have ``APPEAL_RESPONSE_DAYS`` to answer."""
    if not expert.is_authenticated:
        raise NotFound()
    with transaction.atomic():
        try:
            locked = (
                Annotation.objects.select_for_update(of=("self",))
                .select_related("project__organization")
                .get(pk=annotation.pk, expert=expert)
            )
        except Annotation.DoesNotExist:
            raise NotFound() from None
        if Appeal.objects.filter(annotation=locked).exists():
            raise Conflict("You already appealed this rejection.")
        if locked.status != AnnotationStatus.REJECTED:
            raise Conflict("Only a rejected answer can be appealed.")
        final = _decided_elsewhere(locked)
        if final:
            raise Conflict(final)
        clean = _clean(
            note,
            field="note",
            required=True,
            limit=MAX_NOTE,
            why="Say why the rejection is wrong: the lab reads your note.",
        )
        now = timezone.now()
        try:
            with transaction.atomic():
                appeal = Appeal.objects.create(
                    annotation=locked,
                    expert=expert,
                    note=clean,
                    respond_by=now + timedelta(days=settings.APPEAL_RESPONSE_DAYS),
                )
        except IntegrityError:
            raise Conflict("You already appealed this rejection.") from None
        audit_record(
            actor=expert,
            action="appeal.open",
            target=appeal,
            organization=locked.project.organization,
            after={
                "annotation": str(locked.public_id),
                "respond_by": appeal.respond_by.isoformat(),
            },
        )
        _notify_lab_managers(
            locked,
            kind="appeal.opened",
            text=(
                f"An expert appealed a rejected answer on “{locked.project.title}”. "
                f"Answer by {appeal.respond_by:%Y-%m-%d}, or staff decide."
            ),
            link=_lab_appeals_link(locked),
        )
    return appeal


def _lock_appeal(
    appeal: Appeal, *, organization_id: int | None = None
) -> tuple[Annotation, Appeal]:
    locked_annotation = _lock_annotation(appeal.annotation_id, organization_id=organization_id)
    locked = Appeal.objects.select_for_update().get(pk=appeal.pk)
    locked.annotation = locked_annotation
    return locked_annotation, locked


# An appeal turns a rejection into an acceptance; a dispute, an acceptance into a rejection.
_OVERTURNS: dict[str, tuple[str, str, str]] = {
    ReviewDecision.ACCEPT: (
        AnnotationStatus.REJECTED,
        AnnotationStatus.ACCEPTED,
        "This answer is no longer rejected; the appeal cannot change it.",
    ),
    ReviewDecision.REJECT: (
        AnnotationStatus.ACCEPTED,
        AnnotationStatus.REJECTED,
        "This answer is no longer accepted; the dispute cannot change it.",
    ),
}


def _overturn(
    annotation: Annotation,
    *,
    decision: str,
    feedback: str,
    reviewer: User | None,
    now: datetime,
    api_key: Any = None,
) -> None:
    """Reverse a locked annotation's review decision and record the new one next to the
    first (each decision at most once per answer: a unique constraint)."""
    current, target, moved_on = _OVERTURNS[decision]
    if annotation.status != current:
        raise Conflict(moved_on)
    annotation.status = target
    annotation.reviewed_at = now
    annotation.save(update_fields=["status", "reviewed_at", "updated_at"])
    try:
        with transaction.atomic():
            AnnotationReview.objects.create(
                annotation=annotation,
                decision=decision,
                feedback=feedback,
                reviewer=reviewer,
                api_key=api_key,
            )
    except IntegrityError:
        raise Conflict(f"This answer was {target} before; it cannot be {target} again.") from None


def _appeal_settle(
    *,
    locked: Appeal,
    annotation: Annotation,
    uphold: bool,
    response: str,
    decided_by: User | None,
    api_key: Any = None,
    short_of_funds: str,
) -> str:
    """Record the decision on a locked open appeal; upheld, accept and pay the answer.
    Return the annotation's status before."""
    now = timezone.now()
    before = annotation.status
    if uphold:
        _overturn(
            annotation,
            decision=ReviewDecision.ACCEPT,
            feedback=response,
            reviewer=decided_by,
            api_key=api_key,
            now=now,
        )
        try:
            earning_post(annotation=annotation, created_by=decided_by)
        except InsufficientFunds as error:
            raise Conflict(short_of_funds) from error
        _count_again(annotation)
        project_quality_mark_stale(project=annotation.project)
    locked.status = AppealStatus.UPHELD if uphold else AppealStatus.DENIED
    locked.response = response
    locked.decided_by = decided_by
    locked.decided_at = now
    locked.save(update_fields=["status", "response", "decided_by", "decided_at", "updated_at"])
    title = annotation.project.title
    notification_create(
        recipient=annotation.expert,
        kind=f"appeal.{'upheld' if uphold else 'denied'}",
        text=(
            f"Your appeal on “{title}” was upheld: the answer is accepted and paid."
            if uphold
            else f"Your appeal on “{title}” was denied. Read the answer to it."
        ),
        link=_annotation_link(annotation),
    )
    return before


def appeal_decide(*, actor: LabActor, appeal: Appeal, uphold: bool, response: str) -> Appeal:
    """The lab's answer to an open appeal on one of its answers: upheld, the answer is
    accepted and paid (from the project's escrow, else the lab's balance); denied, the
    rejection is final. A denial says why. After the deadline, staff decide instead."""
    actor.require_manager("answer appeals")
    clean = _clean(
        response,
        field="response",
        required=not uphold,
        limit=MAX_RESPONSE,
        why="Say why you keep the rejection: the expert reads it.",
    )
    with transaction.atomic():
        annotation, locked = _lock_appeal(appeal, organization_id=actor.organization.pk)
        if locked.status not in APPEAL_OPEN_STATES:
            raise Conflict("This appeal is already decided.")
        # Escalated, or past the deadline before the escalation task ran: staff decide.
        if locked.status == AppealStatus.ESCALATED or locked.respond_by <= timezone.now():
            raise Conflict(DEADLINE_PASSED)
        before = _appeal_settle(
            locked=locked,
            annotation=annotation,
            uphold=uphold,
            response=clean,
            decided_by=actor.user,
            api_key=actor.api_key,
            short_of_funds=(
                "The project's escrow and your balance do not cover this answer. "
                "Add funds, then uphold the appeal again."
            ),
        )
        lab_audit_record(
            actor=actor,
            action=f"appeal.{'uphold' if uphold else 'deny'}",
            target=locked,
            before={"status": AppealStatus.OPEN, "annotation_status": before},
            after={
                "status": locked.status,
                "annotation_status": annotation.status,
                **({"response": clean} if clean else {}),
            },
        )
    return locked


def appeal_decide_staff(*, staff: User, appeal: Appeal, uphold: bool, note: str) -> Appeal:
    """Staff decide an appeal (escalated after the lab's deadline, or still open). A denial
    says why. The lab's managers are told the outcome."""
    if not staff.is_authenticated or not staff.is_staff:
        raise NotFound()
    clean = _clean(
        note,
        field="note",
        required=not uphold,
        limit=MAX_RESPONSE,
        why="Say why the rejection stands: the expert reads it.",
    )
    with transaction.atomic():
        annotation, locked = _lock_appeal(appeal)
        if locked.status not in APPEAL_OPEN_STATES:
            raise Conflict("This appeal is already decided.")
        status_before = locked.status
        before = _appeal_settle(
            locked=locked,
            annotation=annotation,
            uphold=uphold,
            response=clean,
            decided_by=staff,
            short_of_funds=(
                "The project's escrow and the lab's balance do not cover this answer. "
                "Ask the lab to add funds, then uphold the appeal again."
            ),
        )
        audit_record(
            actor=staff,
            action=f"appeal.staff_{'uphold' if uphold else 'deny'}",
            target=locked,
            organization=annotation.project.organization,
            before={"status": status_before, "annotation_status": before},
            after={
                "status": locked.status,
                "annotation_status": annotation.status,
                **({"note": clean} if clean else {}),
            },
        )
        _notify_lab_managers(
            annotation,
            kind="appeal.staff_decided",
            text=(
                f"Staff {'upheld' if uphold else 'denied'} an expert's appeal on "
                f"“{annotation.project.title}”"
                + (": the answer is accepted and paid." if uphold else ".")
            ),
            link=_lab_appeals_link(annotation),
        )
    return locked


def appeals_escalate_overdue(*, now: datetime | None = None) -> int:
    """Hand open appeals past their deadline to staff. Idempotent (an escalated appeal is
    not open any more); appeals another run holds are left to it. Return how many."""
    now = now or timezone.now()
    escalated = 0
    while True:
        with transaction.atomic():
            rows = list(
                Appeal.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("annotation__project__organization")
                .filter(status=AppealStatus.OPEN, respond_by__lte=now)
                .order_by("pk")[:ESCALATION_BATCH]
            )
            if not rows:
                break
            Appeal.objects.filter(pk__in=[row.pk for row in rows]).update(
                status=AppealStatus.ESCALATED, escalated_at=now, updated_at=now
            )
            for row in rows:
                audit_record(
                    actor=None,
                    action="appeal.escalate",
                    target=row,
                    organization=row.annotation.project.organization,
                    before={"status": AppealStatus.OPEN},
                    after={
                        "status": AppealStatus.ESCALATED,
                        "respond_by": row.respond_by.isoformat(),
                    },
                )
            _notify_staff(
                kind="appeal.escalated",
                text=(
                    f"Labs did not answer {len(rows)} appeal{'s' if len(rows) != 1 else ''} "
                    "by the deadline: staff decide now."
                ),
            )
            escalated += len(rows)
        if len(rows) < ESCALATION_BATCH:
            break
    return escalated


# Disputes ----------------------------------------------------------------------------------


def dispute_open(*, actor: LabActor, annotation: Annotation, reason: str) -> Dispute:
    """A lab's claim that an answer it accepted should not have been; staff decide. Once
    per answer, for accepted answers of the lab's own projects."""
    actor.require_manager("dispute answers")
    with transaction.atomic():
        locked = _lock_annotation(annotation.pk, organization_id=actor.organization.pk)
        if Dispute.objects.filter(annotation=locked).exists():
            raise Conflict("This answer is already disputed.")
        if locked.status != AnnotationStatus.ACCEPTED:
            raise Conflict("Only an accepted answer can be disputed.")
        final = _decided_elsewhere(locked)
        if final:
            raise Conflict(final)
        clean = _clean(
            reason,
            field="reason",
            required=True,
            limit=MAX_RESPONSE,
            why="Say why the answer should not have been accepted: staff read it.",
        )
        try:
            with transaction.atomic():
                dispute = Dispute.objects.create(
                    annotation=locked,
                    organization=actor.organization,
                    reason=clean,
                    opened_by=actor.user,
                )
        except IntegrityError:
            raise Conflict("This answer is already disputed.") from None
        lab_audit_record(
            actor=actor,
            action="dispute.open",
            target=dispute,
            after={"annotation": str(locked.public_id), "reason": clean},
        )
        _notify_staff(
            kind="dispute.opened",
            text=(
                f"{actor.organization.name} disputes an accepted answer on "
                f"“{locked.project.title}”."
            ),
        )
    return dispute


def dispute_decide(*, staff: User, dispute: Dispute, uphold: bool, note: str) -> Dispute:
    """Staff decide a dispute, saying why. Upheld, the answer becomes rejected (the lab's
    accept stays in its history) and its earning is reversed; dismissed, nothing moves."""
    if not staff.is_authenticated or not staff.is_staff:
        raise NotFound()
    clean = _clean(
        note,
        field="note",
        required=True,
        limit=MAX_RESPONSE,
        why="Say why: the expert and the lab read it.",
    )
    with transaction.atomic():
        annotation = _lock_annotation(dispute.annotation_id)
        locked = Dispute.objects.select_for_update().get(pk=dispute.pk)
        if locked.status != DisputeStatus.OPEN:
            raise Conflict("This dispute is already decided.")
        before = annotation.status
        now = timezone.now()
        title = annotation.project.title
        if uphold:
            _overturn(
                annotation, decision=ReviewDecision.REJECT, feedback=clean, reviewer=staff, now=now
            )
            earning_reverse(
                annotation=annotation,
                created_by=staff,
                memo=f"Dispute upheld: answer on “{title}”",
            )
            _stop_counting(annotation)
            project_quality_mark_stale(project=annotation.project)
        locked.status = DisputeStatus.UPHELD if uphold else DisputeStatus.DISMISSED
        locked.decision_note = clean
        locked.decided_by = staff
        locked.decided_at = now
        locked.save(
            update_fields=["status", "decision_note", "decided_by", "decided_at", "updated_at"]
        )
        audit_record(
            actor=staff,
            action=f"dispute.{'uphold' if uphold else 'dismiss'}",
            target=locked,
            organization=annotation.project.organization,
            before={"status": DisputeStatus.OPEN, "annotation_status": before},
            after={"status": locked.status, "annotation_status": annotation.status, "note": clean},
        )
        if uphold:
            notification_create(
                recipient=annotation.expert,
                kind="dispute.upheld",
                text=(
                    f"Staff found that your accepted answer on “{title}” should not have been "
                    f"accepted; its pay is reversed. {clean}"
                ),
                link=_annotation_link(annotation),
            )
        _notify_lab_managers(
            annotation,
            kind=f"dispute.{'upheld' if uphold else 'dismissed'}",
            text=(
                f"Staff {'upheld' if uphold else 'dismissed'} your dispute of an answer on "
                f"“{title}”"
                + (": the answer is rejected and its pay returned. " if uphold else ". ")
                + clean
            ),
            link=reverse(
                "projects:annotation_review",
                args=[
                    annotation.project.organization.slug,
                    annotation.project.public_id,
                    annotation.public_id,
                ],
            ),
        )
    return locked


# Reads -------------------------------------------------------------------------------------


def _with_answer(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Appeals or disputes with their answer, project, task and the answer's reviews."""
    return queryset.select_related(
        "annotation__project__organization",
        "annotation__task",
    ).prefetch_related(
        Prefetch(
            "annotation__reviews",
            queryset=AnnotationReview.objects.order_by("created_at", "id"),
        )
    )


def appeals_for_lab(*, actor: LabActor) -> QuerySet[Appeal]:
    """Every appeal on the lab's answers: waiting ones by deadline, then decided, newest
    first."""
    return _with_answer(
        Appeal.objects.filter(annotation__project__organization=actor.organization)
    ).select_related("decided_by")


def appeal_for_lab(*, actor: LabActor, appeal_id: Any) -> Appeal:
    try:
        return Appeal.objects.select_related("annotation__project").get(
            public_id=appeal_id, annotation__project__organization=actor.organization
        )
    except (Appeal.DoesNotExist, ValueError):
        raise NotFound() from None


def appeals_escalated(*, now: datetime | None = None) -> QuerySet[Appeal]:
    """Appeals staff decide: escalated ones, and open ones past the lab's deadline that the
    hourly escalation has not reached yet (the lab can no longer answer them), oldest
    deadline first."""
    overdue = Q(status=AppealStatus.OPEN, respond_by__lte=now or timezone.now())
    return _with_answer(Appeal.objects.filter(Q(status=AppealStatus.ESCALATED) | overdue)).order_by(
        "respond_by", "pk"
    )


def disputes_open() -> QuerySet[Dispute]:
    return _with_answer(
        Dispute.objects.filter(status=DisputeStatus.OPEN).select_related("organization")
    ).order_by("created_at", "pk")


def appeal_for_staff(*, staff: User, appeal_id: Any) -> Appeal:
    if not staff.is_staff:
        raise NotFound()
    try:
        return Appeal.objects.get(public_id=appeal_id)
    except (Appeal.DoesNotExist, ValueError):
        raise NotFound() from None


def dispute_for_staff(*, staff: User, dispute_id: Any) -> Dispute:
    if not staff.is_staff:
        raise NotFound()
    try:
        return Dispute.objects.get(public_id=dispute_id)
    except (Dispute.DoesNotExist, ValueError):
        raise NotFound() from None


__all__ = [
    "DEADLINE_PASSED",
    "appeal_decide",
    "appeal_decide_staff",
    "appeal_for_lab",
    "appeal_for_staff",
    "appeal_open",
    "appeals_escalate_overdue",
    "appeals_escalated",
    "appeals_for_lab",
    "dispute_decide",
    "dispute_for_staff",
    "dispute_open",
    "disputes_open",
]
