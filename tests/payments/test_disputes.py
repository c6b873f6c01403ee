"""Disputes: a lab claims an accepted answer should not have been accepted; staff decide.
Upheld, the answer becomes rejected and its earning is reversed; dismissed, nothing moves."""

from __future__ import annotations

import pytest

from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import AuditEvent, Notification
from marketplace.states import MembershipRole
from payments import appeals
from payments.ledger import (
    escrow_account,
    expert_account,
    lab_account,
    ledger_verify,
    platform_account,
)
from payments.models import Dispute, LedgerTransaction
from payments.states import AccountKind, DisputeStatus, TransactionKind
from projects.access import LabActor
from projects.models import Annotation, AnnotationReview, Project, Task
from projects.pricing import platform_fee_cents
from projects.review import services as review
from projects.states import AnnotationStatus, ReviewDecision
from tests.factories import expert as new_expert
from tests.factories import staff_user
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import lab_viewer, submit_next, workspace

pytestmark = pytest.mark.django_db

PRICE = 500
FEE = platform_fee_cents(PRICE)
REASON = "The answer copies the other response's rationale word for word."
NOTE = "The rationale is copied; the answer should not have been accepted."


def _balances(project: Project, expert) -> dict[str, int]:
    return {
        "expert": expert_account(user=expert, currency="USD").balance_cents,
        "escrow": escrow_account(project=project).balance_cents,
        "lab": lab_account(organization=project.organization, currency="USD").balance_cents,
        "revenue": platform_account(kind=AccountKind.REVENUE, currency="USD").balance_cents,
    }


def _accepted(**fields):
    actor, project, experts = workspace(**fields)
    annotation = submit_next(experts[0], project)
    review.annotation_accept(actor=actor, annotation=annotation, feedback="Thorough.")
    annotation.refresh_from_db()
    return actor, project, experts, annotation


def test_a_lab_disputes_an_accepted_answer_and_staff_are_told():
    staff, _ = staff_user()
    actor, project, _, annotation = _accepted()

    dispute = appeals.dispute_open(actor=actor, annotation=annotation, reason=f" {REASON} ")

    assert (dispute.status, dispute.reason, dispute.organization, dispute.opened_by) == (
        DisputeStatus.OPEN,
        REASON,
        actor.organization,
        actor.user,
    )
    told = Notification.objects.get(recipient=staff)
    assert (told.kind, told.link) == ("dispute.opened", "/staff/disputes/")
    assert project.title in told.text
    assert AuditEvent.objects.filter(action="dispute.open", actor=actor.user).count() == 1
    with pytest.raises(Conflict, match="already disputed"):
        appeals.dispute_open(actor=actor, annotation=annotation, reason=REASON)
    assert Dispute.objects.count() == 1


def test_upheld_the_answer_is_rejected_and_its_pay_reversed():
    staff, _ = staff_user()
    actor, project, (expert,), annotation = _accepted()
    dispute = appeals.dispute_open(actor=actor, annotation=annotation, reason=REASON)
    before = _balances(project, expert)
    assert before["expert"] == PRICE

    decided = appeals.dispute_decide(staff=staff, dispute=dispute, uphold=True, note=NOTE)

    assert (decided.status, decided.decided_by, decided.decision_note) == (
        DisputeStatus.UPHELD,
        staff,
        NOTE,
    )
    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.REJECTED
    # The lab's accept stays in the history, followed by the staff's rejection.
    assert [
        (r.decision, r.feedback, r.reviewer)
        for r in AnnotationReview.objects.filter(annotation=annotation)
    ] == [(ReviewDecision.ACCEPT, "Thorough.", actor.user), (ReviewDecision.REJECT, NOTE, staff)]
    after = _balances(project, expert)
    assert before["expert"] - after["expert"] == PRICE
    assert after["escrow"] - before["escrow"] == PRICE + FEE
    assert before["revenue"] - after["revenue"] == FEE
    assert after["lab"] == before["lab"]
    assert (
        LedgerTransaction.objects.filter(
            annotation=annotation, kind=TransactionKind.EARNING_REVERSAL
        ).count()
        == 1
    )
    assert ledger_verify() == []
    # The task asks for another answer.
    task = Task.objects.get(pk=annotation.task_id)
    assert (task.annotation_count, task.reserved_count) == (0, 0)
    told = Notification.objects.get(recipient=expert, kind="dispute.upheld")
    assert NOTE in told.text
    assert told.link == f"/expert/annotations/{annotation.public_id}/"
    assert Notification.objects.filter(recipient=actor.user, kind="dispute.upheld").count() == 1
    assert AuditEvent.objects.filter(action="dispute.uphold", actor=staff).count() == 1
    # Decided once.
    with pytest.raises(Conflict, match="already decided"):
        appeals.dispute_decide(staff=staff, dispute=dispute, uphold=True, note=NOTE)
    assert _balances(project, expert) == after


def test_dismissed_nothing_moves_and_the_lab_is_told():
    staff, _ = staff_user()
    actor, project, (expert,), annotation = _accepted()
    dispute = appeals.dispute_open(actor=actor, annotation=annotation, reason=REASON)
    before = _balances(project, expert)

    appeals.dispute_decide(staff=staff, dispute=dispute, uphold=False, note="The answer is fine.")

    dispute.refresh_from_db()
    assert (dispute.status, dispute.decision_note) == (
        DisputeStatus.DISMISSED,
        "The answer is fine.",
    )
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.ACCEPTED
    assert AnnotationReview.objects.filter(annotation=annotation).count() == 1
    assert _balances(project, expert) == before
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.EARNING_REVERSAL).exists()
    lab_told = Notification.objects.get(recipient=actor.user, kind="dispute.dismissed")
    assert "The answer is fine." in lab_told.text
    assert not Notification.objects.filter(recipient=expert, kind__startswith="dispute").exists()


def test_only_accepted_answers_can_be_disputed():
    actor, project, (expert,) = workspace()
    waiting = submit_next(expert, project)
    rejected = submit_next(expert, project)
    review.annotation_reject(actor=actor, annotation=rejected, feedback="Wrong.")

    for annotation in (waiting, rejected):
        with pytest.raises(Conflict, match="Only an accepted answer"):
            appeals.dispute_open(actor=actor, annotation=annotation, reason=REASON)

    assert not Dispute.objects.exists()


def test_another_lab_or_a_viewer_cannot_dispute_and_a_reason_is_required():
    actor, _, _, annotation = _accepted()
    viewer = LabActor(
        organization=actor.organization,
        user=lab_viewer(actor),
        api_key=None,
        role=MembershipRole.VIEWER,
    )

    with pytest.raises(NotFound):
        appeals.dispute_open(
            actor=project_factories.manager_actor(), annotation=annotation, reason=REASON
        )
    with pytest.raises(PermissionDenied):
        appeals.dispute_open(actor=viewer, annotation=annotation, reason=REASON)
    with pytest.raises(InvalidInput) as empty:
        appeals.dispute_open(actor=actor, annotation=annotation, reason="  ")

    assert empty.value.field == "reason"
    assert not Dispute.objects.exists()


def test_only_staff_decide_and_a_note_is_required():
    staff, _ = staff_user()
    actor, project, (expert,), annotation = _accepted()
    dispute = appeals.dispute_open(actor=actor, annotation=annotation, reason=REASON)
    before = _balances(project, expert)

    with pytest.raises(NotFound):
        appeals.dispute_decide(staff=actor.user, dispute=dispute, uphold=True, note=NOTE)
    with pytest.raises(NotFound):
        appeals.dispute_decide(staff=new_expert(), dispute=dispute, uphold=True, note=NOTE)
    with pytest.raises(InvalidInput):
        appeals.dispute_decide(staff=staff, dispute=dispute, uphold=True, note=" ")

    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.ACCEPTED
    assert _balances(project, expert) == before


def test_an_answer_rejected_on_dispute_cannot_be_appealed():
    staff, _ = staff_user()
    actor, _, (expert,), annotation = _accepted()
    dispute = appeals.dispute_open(actor=actor, annotation=annotation, reason=REASON)
    appeals.dispute_decide(staff=staff, dispute=dispute, uphold=True, note=NOTE)

    with pytest.raises(Conflict, match="that decision is final"):
        appeals.appeal_open(expert=expert, annotation=annotation, note="Please look again.")


def test_an_answer_accepted_on_appeal_cannot_be_disputed():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    review.annotation_reject(actor=actor, annotation=annotation, feedback="Wrong.")
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note="It is right.")
    appeals.appeal_decide(actor=actor, appeal=appeal, uphold=True, response="Agreed.")

    with pytest.raises(Conflict, match="accepted on appeal"):
        appeals.dispute_open(actor=actor, annotation=annotation, reason=REASON)

    assert not Dispute.objects.exists()
