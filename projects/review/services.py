"""Every write of lab review: accept, reject, send back for revision, bulk and automatic
acceptance, and answers to flagged edge cases.

Accepting pays the answer through the ledger (``payments.ledger.earning_post``) in the same
transaction, with the annotation row locked; an annotation is accepted at most once
(``review_accept_once``) and earns at most once (``ledger_annotation_earned_once``), however
the decision arrives (page, API, bulk, auto-accept).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput
from marketplace.services import audit_record, notification_create
from payments.ledger import (
    CLOSED_PROJECT_STATES,
    InsufficientFunds,
    earning_post,
    escrow_release,
)
from projects.access import LabActor, lab_audit_record
from projects.dispatch.models import Assignment
from projects.dispatch.services import task_counts_refresh
from projects.models import Annotation, Project, Task
from projects.quality.services import project_quality_mark_stale
from projects.review.models import AnnotationReview
from projects.states import (
    AnnotationStatus,
    ReviewDecision,
    annotation_can_transition,
)

MAX_FEEDBACK = 5_000
MAX_BULK = 500
AUTO_ACCEPT_BATCH = 500

_TARGET: dict[str, str] = {
    ReviewDecision.ACCEPT: AnnotationStatus.ACCEPTED,
    ReviewDecision.REJECT: AnnotationStatus.REJECTED,
    ReviewDecision.REVISE: AnnotationStatus.REVISION,
}


def _annotation_link(annotation: Annotation) -> str:
    return reverse("expert_annotation", kwargs={"annotation_id": annotation.public_id})


def _clean_feedback(feedback: str, *, required: bool, what: str) -> str:
    feedback = (feedback or "").strip()
    if required and not feedback:
        raise InvalidInput(f"Say why you {what}: the expert learns from it.", field="feedback")
    if len(feedback) > MAX_FEEDBACK:
        raise InvalidInput("Keep the feedback under 5,000 characters.", field="feedback")
    return feedback


def _lock(actor: LabActor | None, annotation: Annotation) -> Annotation:
    """The annotation row locked, re-read within the actor's organisation."""
    scope = Annotation.objects.select_for_update(of=("self",)).select_related("project")
    if actor is not None:
        scope = scope.filter(project__organization=actor.organization)
    return scope.get(pk=annotation.pk)


def _decide(
    *,
    actor: LabActor | None,
    locked: Annotation,
    decision: str,
    feedback: str,
    now: datetime,
    audit: bool = True,
) -> AnnotationReview:
    """Record the decision on a locked annotation whose status allows it, and notify.
    ``actor`` None is the auto-accept rule."""
    target = _TARGET[decision]
    if not annotation_can_transition(locked.status, target):
        raise Conflict(
            f"This annotation is {locked.get_status_display().lower()}; it cannot be "
            f"{ReviewDecision(decision).label.lower()} now."
        )
    before = locked.status
    locked.status = target
    locked.reviewed_at = now
    locked.save(update_fields=["status", "reviewed_at", "updated_at"])
    review = AnnotationReview.objects.create(
        annotation=locked,
        decision=decision,
        feedback=feedback,
        reviewer=actor.user if actor is not None else None,
        api_key=actor.api_key if actor is not None else None,
        is_automatic=actor is None,
    )
    if decision == ReviewDecision.ACCEPT:
        earning_post(annotation=locked, created_by=actor.user if actor is not None else None)
    if decision == ReviewDecision.REJECT:
        _give_slot_back(locked)
    if locked.project.status in CLOSED_PROJECT_STATES and decision != ReviewDecision.REVISE:
        # A closed project kept escrow for this answer: what it no longer needs goes back.
        escrow_release(project=locked.project)
    project_quality_mark_stale(project=locked.project)
    if actor is not None and audit:
        lab_audit_record(
            actor=actor,
            action=f"annotation.{decision}",
            target=locked,
            before={"status": before},
            after={"status": target, **({"feedback": feedback} if feedback else {})},
        )
    _notify(locked, decision, feedback)
    return review


def _give_slot_back(locked: Annotation) -> None:
    """A rejected answer no longer counts: the task asks another expert for one. Locks the
    assignment, then the task (the order every dispatch writer uses)."""
    assignment = (
        Assignment.objects.select_for_update().filter(annotation=locked, holds_slot=True).first()
    )
    task = Task.objects.select_for_update().get(pk=locked.task_id)
    task_counts_refresh(task=task, project=locked.project)
    if assignment is not None:
        Assignment.objects.filter(pk=assignment.pk).update(holds_slot=False)
        if not task.is_gold:
            Task.objects.filter(pk=task.pk).update(reserved_count=F("reserved_count") - 1)


def _notify(annotation: Annotation, decision: str, feedback: str) -> None:
    project = annotation.project
    if decision == ReviewDecision.ACCEPT:
        if not feedback:
            return
        text = f"The lab accepted your answer on “{project.title}” and left feedback."
    elif decision == ReviewDecision.REJECT:
        text = f"The lab rejected your answer on “{project.title}”. Read their feedback."
    else:
        text = f"The lab asks you to revise your answer on “{project.title}”."
    notification_create(
        recipient=annotation.expert,
        kind=f"review.{decision}",
        text=text,
        link=_annotation_link(annotation),
    )


def annotation_review(
    *,
    actor: LabActor,
    annotation: Annotation,
    decision: str,
    feedback: str = "",
    seen_edit_count: int | None = None,
) -> Annotation:
    """Accept, reject or send back one annotation. Rejections and revisions need feedback.

    Repeating the decision an annotation already has returns it unchanged (a retried
    request), so it is recorded once. ``seen_edit_count`` is the edit count of the answer the
    reviewer read: when the expert changed it since, the decision is refused (Conflict), so
    a lab never accepts an answer it has not seen.
    """
    actor.require_manager("review annotations")
    if decision not in ReviewDecision.values:
        raise InvalidInput("Choose accept, reject or revise.", field="decision")
    clean = _clean_feedback(
        feedback,
        required=decision != ReviewDecision.ACCEPT,
        what="reject it" if decision == ReviewDecision.REJECT else "send it back",
    )
    with transaction.atomic():
        locked = _lock(actor, annotation)
        if locked.status == _TARGET[decision]:
            return locked
        if seen_edit_count is not None and seen_edit_count != locked.edit_count:
            raise Conflict(
                "The expert changed this answer after you opened it. Read it again before "
                "you decide."
            )
        _decide(actor=actor, locked=locked, decision=decision, feedback=clean, now=timezone.now())
    return locked


def annotation_accept(*, actor: LabActor, annotation: Annotation, feedback: str = "") -> Annotation:
    return annotation_review(
        actor=actor, annotation=annotation, decision=ReviewDecision.ACCEPT, feedback=feedback
    )


def annotation_reject(*, actor: LabActor, annotation: Annotation, feedback: str) -> Annotation:
    return annotation_review(
        actor=actor, annotation=annotation, decision=ReviewDecision.REJECT, feedback=feedback
    )


def annotation_request_revision(
    *, actor: LabActor, annotation: Annotation, feedback: str
) -> Annotation:
    return annotation_review(
        actor=actor, annotation=annotation, decision=ReviewDecision.REVISE, feedback=feedback
    )


def annotations_accept_bulk(
    *, actor: LabActor, project: Project, annotation_ids: Iterable[object]
) -> int:
    """Accept every listed annotation of the project that waits for review, in one
    transaction (rows locked in pk order). Others are left as they are. Return how many were
    accepted."""
    actor.require_manager("review annotations")
    try:
        ids = [uuid.UUID(str(value)) for value in annotation_ids]
    except ValueError:
        raise InvalidInput("One of the annotation ids is not valid.", field="annotations") from None
    if not ids:
        raise InvalidInput("Choose at least one annotation.", field="annotations")
    if len(ids) > MAX_BULK:
        raise InvalidInput(f"Accept at most {MAX_BULK} annotations at once.", field="annotations")
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Annotation.objects.select_for_update(of=("self",))
            .select_related("project")
            .filter(
                project=project,
                project__organization=actor.organization,
                public_id__in=ids,
                status=AnnotationStatus.SUBMITTED,
            )
            .order_by("pk")
        )
        for locked in rows:
            _decide(
                actor=actor,
                locked=locked,
                decision=ReviewDecision.ACCEPT,
                feedback="",
                now=now,
                audit=False,
            )
        if rows:
            lab_audit_record(
                actor=actor,
                action="annotation.accept_bulk",
                target=project,
                after={"accepted": [str(row.public_id) for row in rows]},
            )
    return len(rows)


def annotations_auto_accept(*, now: datetime | None = None, limit: int = AUTO_ACCEPT_BATCH) -> int:
    """Accept annotations left unreviewed longer than their project's auto-accept days
    (0 turns it off). Idempotent: each run takes the next batch. Return how many."""
    now = now or timezone.now()
    accepted = 0
    projects = Project.objects.filter(auto_accept_days__gt=0).values_list("pk", "auto_accept_days")
    for project_id, days in projects:
        if accepted >= limit:
            break
        with transaction.atomic():
            rows = list(
                Annotation.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("project__organization")
                .filter(
                    project_id=project_id,
                    status=AnnotationStatus.SUBMITTED,
                    submitted_at__lt=now - timedelta(days=days),
                )
                .order_by("pk")[: limit - accepted]
            )
            paid = []
            for locked in rows:
                try:
                    with transaction.atomic():
                        _decide(
                            actor=None,
                            locked=locked,
                            decision=ReviewDecision.ACCEPT,
                            feedback="",
                            now=now,
                        )
                except InsufficientFunds:
                    # The project's money ran out: the rest waits for the lab to add funds.
                    break
                paid.append(locked)
            rows = paid
            if rows:
                audit_record(
                    actor=None,
                    action="annotation.auto_accept",
                    target=rows[0].project,
                    organization=rows[0].project.organization,
                    after={
                        "accepted": [str(row.public_id) for row in rows],
                        "after_days": days,
                    },
                )
            accepted += len(rows)
    return accepted


def edge_case_resolve(*, actor: LabActor, annotation: Annotation, reply: str = "") -> Annotation:
    """Mark a flagged edge case as handled, optionally answering the expert."""
    actor.require_manager("answer edge cases")
    clean = _clean_feedback(reply, required=False, what="")
    with transaction.atomic():
        locked = _lock(actor, annotation)
        if not locked.is_edge_case:
            raise Conflict("This annotation is not flagged as an edge case.")
        if locked.edge_case_resolved_at is not None:
            return locked
        locked.edge_case_resolved_at = timezone.now()
        locked.edge_case_reply = clean
        locked.save(update_fields=["edge_case_resolved_at", "edge_case_reply", "updated_at"])
        lab_audit_record(
            actor=actor,
            action="annotation.edge_case_resolve",
            target=locked,
            after={"reply": clean} if clean else {},
        )
        if clean:
            notification_create(
                recipient=locked.expert,
                kind="review.edge_case",
                text=f"The lab answered the edge case you flagged on “{locked.project.title}”.",
                link=_annotation_link(locked),
            )
    return locked


__all__ = [
    "annotation_accept",
    "annotation_reject",
    "annotation_request_revision",
    "annotation_review",
    "annotations_accept_bulk",
    "annotations_auto_accept",
    "edge_case_resolve",
]
