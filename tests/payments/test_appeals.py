"""Appeals of rejections: opened once by the expert, answered by the lab by a deadline or
escalated to staff; upheld, the answer is accepted and paid exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import AuditEvent, Notification
from marketplace.states import MembershipRole
from payments import appeals
from payments.appeals import DEADLINE_PASSED
from payments.ledger import (
    escrow_account,
    expert_account,
    lab_account,
    ledger_verify,
    platform_account,
)
from payments.models import Appeal, LedgerTransaction
from payments.states import AccountKind, AppealStatus, TransactionKind
from payments.tasks import escalate_overdue_appeals
from projects.access import LabActor
from projects.models import Annotation, AnnotationReview, Project, Task
from projects.pricing import platform_fee_cents
from projects.review import services as review
from projects.states import AnnotationStatus, ReviewDecision
from tests.factories import expert as new_expert
from tests.factories import staff_user
from tests.payments.factories import fund_lab
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import lab_viewer, submit_next, workspace

pytestmark = pytest.mark.django_db

PRICE = 500
FEE = platform_fee_cents(PRICE)
FEEDBACK = "The rationale ignores the renal risk."
NOTE = "The guidelines say renal risk only matters above 65; the patient is 40."


def _balances(project: Project, expert) -> dict[str, int]:
    """Every balance an appeal may move, read fresh."""
    return {
        "expert": expert_account(user=expert, currency="USD").balance_cents,
        "escrow": escrow_account(project=project).balance_cents,
        "lab": lab_account(organization=project.organization, currency="USD").balance_cents,
        "revenue": platform_account(kind=AccountKind.REVENUE, currency="USD").balance_cents,
    }


def _rejected(**fields):
    """A workspace whose expert's first answer the lab rejected."""
    actor, project, experts = workspace(**fields)
    annotation = submit_next(experts[0], project)
    review.annotation_reject(actor=actor, annotation=annotation, feedback=FEEDBACK)
    annotation.refresh_from_db()
    return actor, project, experts, annotation


def _viewer(actor: LabActor) -> LabActor:
    return LabActor(
        organization=actor.organization,
        user=lab_viewer(actor),
        api_key=None,
        role=MembershipRole.VIEWER,
    )


# Opening ---------------------------------------------------------------------------------


def test_an_expert_appeals_a_rejection_once_and_the_lab_managers_are_told(settings):
    actor, project, (expert,), annotation = _rejected()
    before = timezone.now()

    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=f"  {NOTE}  ")

    assert (appeal.status, appeal.note, appeal.expert_id) == (AppealStatus.OPEN, NOTE, expert.pk)
    deadline = timedelta(days=settings.APPEAL_RESPONSE_DAYS)
    assert before + deadline <= appeal.respond_by <= timezone.now() + deadline
    notification = Notification.objects.get(kind="appeal.opened")
    assert notification.recipient == actor.user
    assert notification.link == f"/labs/{actor.organization.slug}/appeals/"
    assert project.title in notification.text
    event = AuditEvent.objects.get(action="appeal.open")
    assert (event.actor, event.organization, event.target_id) == (
        expert,
        actor.organization,
        str(appeal.pk),
    )

    with pytest.raises(Conflict, match="You already appealed this rejection"):
        appeals.appeal_open(expert=expert, annotation=annotation, note="Again, please.")

    assert Appeal.objects.count() == 1
    assert Notification.objects.filter(kind="appeal.opened").count() == 1


def test_another_expert_cannot_appeal_and_nothing_is_recorded():
    _, _, _, annotation = _rejected()

    with pytest.raises(NotFound):
        appeals.appeal_open(expert=new_expert(), annotation=annotation, note=NOTE)

    assert not Appeal.objects.exists()
    assert not Notification.objects.filter(kind="appeal.opened").exists()


def test_an_appeal_needs_a_note_of_at_most_two_thousand_characters():
    _, _, (expert,), annotation = _rejected()

    with pytest.raises(InvalidInput) as empty:
        appeals.appeal_open(expert=expert, annotation=annotation, note="   ")
    with pytest.raises(InvalidInput) as long:
        appeals.appeal_open(expert=expert, annotation=annotation, note="x" * 2001)

    assert (empty.value.field, long.value.field) == ("note", "note")
    assert not Appeal.objects.exists()


def test_only_a_rejected_answer_can_be_appealed():
    actor, project, (expert,) = workspace()
    waiting = submit_next(expert, project)
    accepted = submit_next(expert, project)
    review.annotation_accept(actor=actor, annotation=accepted)

    for annotation in (waiting, accepted):
        with pytest.raises(Conflict, match="Only a rejected answer"):
            appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)

    assert not Appeal.objects.exists()


# The lab decides -------------------------------------------------------------------------


def test_the_lab_upholds_and_the_answer_is_accepted_and_paid_exactly_its_price():
    actor, project, (expert,), annotation = _rejected()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    before = _balances(project, expert)

    decided = appeals.appeal_decide(
        actor=actor, appeal=appeal, uphold=True, response="You are right, our mistake."
    )

    assert decided.status == AppealStatus.UPHELD
    assert (decided.decided_by, decided.response) == (actor.user, "You are right, our mistake.")
    assert decided.decided_at is not None
    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.ACCEPTED
    assert [
        (r.decision, r.feedback) for r in AnnotationReview.objects.filter(annotation=annotation)
    ] == [
        (ReviewDecision.REJECT, FEEDBACK),
        (ReviewDecision.ACCEPT, "You are right, our mistake."),
    ]
    after = _balances(project, expert)
    assert after["expert"] - before["expert"] == PRICE
    assert after["revenue"] - before["revenue"] == FEE
    assert before["escrow"] - after["escrow"] == PRICE + FEE
    assert after["lab"] == before["lab"]
    assert (
        LedgerTransaction.objects.filter(
            annotation=annotation, kind=TransactionKind.EARNING
        ).count()
        == 1
    )
    assert ledger_verify() == []
    # The answer counts toward its task again.
    task = Task.objects.get(pk=annotation.task_id)
    assert (task.annotation_count, task.reserved_count) == (1, 1)
    told = Notification.objects.get(recipient=expert, kind="appeal.upheld")
    assert "accepted and paid" in told.text
    assert AuditEvent.objects.filter(action="appeal.uphold", actor=actor.user).count() == 1


def test_the_lab_denies_with_a_reason_and_nothing_is_paid():
    actor, project, (expert,), annotation = _rejected()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    before = _balances(project, expert)

    with pytest.raises(InvalidInput) as no_reason:
        appeals.appeal_decide(actor=actor, appeal=appeal, uphold=False, response=" ")
    assert no_reason.value.field == "response"
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.OPEN

    appeals.appeal_decide(actor=actor, appeal=appeal, uphold=False, response="Age is irrelevant.")

    appeal.refresh_from_db()
    assert (appeal.status, appeal.response) == (AppealStatus.DENIED, "Age is irrelevant.")
    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.REJECTED
    assert _balances(project, expert) == before
    assert not LedgerTransaction.objects.filter(annotation=annotation).exists()
    assert Notification.objects.get(recipient=expert, kind="appeal.denied")
    # Denied is final.
    with pytest.raises(Conflict, match="already decided"):
        appeals.appeal_decide(actor=actor, appeal=appeal, uphold=True, response="")
    assert _balances(project, expert) == before


def test_a_viewer_or_another_lab_cannot_decide():
    actor, _, (expert,), annotation = _rejected()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    stranger = project_factories.manager_actor()

    with pytest.raises(PermissionDenied):
        appeals.appeal_decide(actor=_viewer(actor), appeal=appeal, uphold=True, response="")
    with pytest.raises(NotFound):
        appeals.appeal_decide(actor=stranger, appeal=appeal, uphold=True, response="")

    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.OPEN
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.REJECTED
    assert expert_account(user=expert, currency="USD").balance_cents == 0


def test_upholding_without_the_money_asks_the_lab_to_add_funds_and_changes_nothing():
    # One task, one answer paid for: the second expert's accepted answer uses the escrow up.
    actor, project, (first, second) = workspace(experts=2, task_count=1, overlap=1)
    rejected = submit_next(first, project)
    review.annotation_reject(actor=actor, annotation=rejected, feedback=FEEDBACK)
    review.annotation_accept(actor=actor, annotation=submit_next(second, project))
    appeal = appeals.appeal_open(expert=first, annotation=rejected, note=NOTE)
    before = _balances(project, first)
    assert (before["escrow"], before["lab"]) == (0, 0)

    with pytest.raises(Conflict, match="Add funds"):
        appeals.appeal_decide(actor=actor, appeal=appeal, uphold=True, response="")

    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.OPEN
    rejected.refresh_from_db()
    assert rejected.status == AnnotationStatus.REJECTED
    assert AnnotationReview.objects.filter(annotation=rejected).count() == 1
    assert _balances(project, first) == before
    assert not Notification.objects.filter(kind="appeal.upheld").exists()

    # With funds added, the same decision pays from the lab's balance.
    fund_lab(actor.organization, 1_000)
    appeals.appeal_decide(actor=actor, appeal=appeal, uphold=True, response="")

    after = _balances(project, first)
    assert after["expert"] == PRICE
    assert after["lab"] == 1_000 - PRICE - FEE
    assert after["escrow"] == 0
    assert ledger_verify() == []


# The deadline ------------------------------------------------------------------------------


def test_an_overdue_appeal_escalates_to_staff_once_and_the_lab_can_no_longer_decide():
    staff, _ = staff_user()
    actor, project, (expert,), annotation = _rejected()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)

    assert appeals.appeals_escalate_overdue(now=appeal.respond_by - timedelta(seconds=1)) == 0
    appeal.refresh_from_db()
    assert (appeal.status, appeal.escalated_at) == (AppealStatus.OPEN, None)
    assert not Notification.objects.filter(recipient=staff).exists()

    later = appeal.respond_by + timedelta(minutes=1)
    assert appeals.appeals_escalate_overdue(now=later) == 1
    assert appeals.appeals_escalate_overdue(now=later + timedelta(hours=1)) == 0

    appeal.refresh_from_db()
    assert (appeal.status, appeal.escalated_at) == (AppealStatus.ESCALATED, later)
    told = Notification.objects.get(recipient=staff)
    assert (told.kind, told.link) == ("appeal.escalated", "/staff/disputes/")
    assert AuditEvent.objects.filter(action="appeal.escalate").count() == 1
    with pytest.raises(Conflict) as refused:
        appeals.appeal_decide(actor=actor, appeal=appeal, uphold=True, response="")
    assert refused.value.message == DEADLINE_PASSED
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.REJECTED

    before = _balances(project, expert)
    appeals.appeal_decide_staff(staff=staff, appeal=appeal, uphold=True, note="")

    appeal.refresh_from_db()
    assert (appeal.status, appeal.decided_by) == (AppealStatus.UPHELD, staff)
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.ACCEPTED
    after = _balances(project, expert)
    assert after["expert"] - before["expert"] == PRICE
    assert after["revenue"] - before["revenue"] == FEE
    assert before["escrow"] - after["escrow"] == PRICE + FEE
    assert Notification.objects.filter(recipient=actor.user, kind="appeal.staff_decided").count()
    assert ledger_verify() == []


def _overdue(appeal: Appeal) -> Appeal:
    """The appeal past its deadline, before the hourly escalation reached it (still open)."""
    Appeal.objects.filter(pk=appeal.pk).update(respond_by=timezone.now() - timedelta(seconds=1))
    appeal.refresh_from_db()
    return appeal


def _appeal_state(appeal: Appeal) -> tuple:
    appeal.refresh_from_db()
    return (appeal.status, appeal.response, appeal.decided_by, appeal.decided_at)


def test_past_the_deadline_the_lab_is_refused_before_escalation_and_nothing_changes():
    actor, project, (expert,), annotation = _rejected()
    appeal = _overdue(appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE))
    assert appeal.status == AppealStatus.OPEN
    before = _balances(project, expert)
    audits = AuditEvent.objects.count()
    notifications = Notification.objects.count()

    with pytest.raises(Conflict) as upheld:
        appeals.appeal_decide(actor=actor, appeal=appeal, uphold=True, response="Fair point.")
    with pytest.raises(Conflict) as denied:
        appeals.appeal_decide(actor=actor, appeal=appeal, uphold=False, response="No.")

    assert upheld.value.message == denied.value.message == DEADLINE_PASSED
    assert _appeal_state(appeal) == (AppealStatus.OPEN, "", None, None)
    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.REJECTED
    assert [r.decision for r in AnnotationReview.objects.filter(annotation=annotation)] == [
        ReviewDecision.REJECT
    ]
    assert _balances(project, expert) == before
    assert not LedgerTransaction.objects.filter(annotation=annotation).exists()
    assert AuditEvent.objects.count() == audits
    assert Notification.objects.count() == notifications


def test_just_before_the_deadline_the_lab_still_decides():
    actor, _, (expert,), annotation = _rejected()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    Appeal.objects.filter(pk=appeal.pk).update(respond_by=timezone.now() + timedelta(minutes=1))

    appeals.appeal_decide(actor=actor, appeal=appeal, uphold=False, response="Age is irrelevant.")

    assert _appeal_state(appeal)[:3] == (AppealStatus.DENIED, "Age is irrelevant.", actor.user)


def test_staff_decide_an_overdue_appeal_before_the_escalation_reaches_it():
    staff, _ = staff_user()
    actor, project, (expert,), annotation = _rejected()
    appeal = _overdue(appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE))
    with pytest.raises(Conflict):
        appeals.appeal_decide(actor=actor, appeal=appeal, uphold=True, response="")
    before = _balances(project, expert)

    appeals.appeal_decide_staff(staff=staff, appeal=appeal, uphold=True, note="")

    status, _, decided_by, decided_at = _appeal_state(appeal)
    assert (status, decided_by) == (AppealStatus.UPHELD, staff)
    assert decided_at is not None
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.ACCEPTED
    after = _balances(project, expert)
    assert after["expert"] - before["expert"] == PRICE
    assert before["escrow"] - after["escrow"] == PRICE + FEE
    assert AuditEvent.objects.filter(action="appeal.staff_uphold", actor=staff).count() == 1
    # Decided, the escalation leaves it alone.
    assert appeals.appeals_escalate_overdue() == 0
    assert _appeal_state(appeal)[0] == AppealStatus.UPHELD
    assert ledger_verify() == []


def test_staff_may_decide_an_appeal_still_within_the_labs_deadline():
    staff, _ = staff_user()
    actor, _, (expert,), annotation = _rejected()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)

    appeals.appeal_decide_staff(staff=staff, appeal=appeal, uphold=False, note="It stands.")

    assert _appeal_state(appeal)[:3] == (AppealStatus.DENIED, "It stands.", staff)
    with pytest.raises(Conflict, match="already decided"):
        appeals.appeal_decide(actor=actor, appeal=appeal, uphold=True, response="")
    assert expert_account(user=expert, currency="USD").balance_cents == 0
    assert Notification.objects.filter(recipient=actor.user, kind="appeal.staff_decided").count()


def test_the_staff_queue_holds_escalated_and_overdue_open_appeals_oldest_deadline_first():
    _, _, (first,), first_answer = _rejected()
    _, _, (second,), second_answer = _rejected()
    _, _, (third,), third_answer = _rejected()
    escalated = appeals.appeal_open(expert=first, annotation=first_answer, note=NOTE)
    overdue = _overdue(appeals.appeal_open(expert=second, annotation=second_answer, note=NOTE))
    appeals.appeal_open(expert=third, annotation=third_answer, note=NOTE)  # not due yet
    Appeal.objects.filter(pk=escalated.pk).update(
        status=AppealStatus.ESCALATED,
        respond_by=timezone.now() - timedelta(days=1),
        escalated_at=timezone.now(),
    )

    assert list(appeals.appeals_escalated()) == [escalated, overdue]


def test_the_beat_task_escalates_overdue_appeals_only():
    staff, _ = staff_user()
    _, _, (expert,), annotation = _rejected(task_count=3)
    overdue = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    Appeal.objects.filter(pk=overdue.pk).update(respond_by=timezone.now() - timedelta(hours=1))
    _, _, (other,), other_annotation = _rejected()
    waiting = appeals.appeal_open(expert=other, annotation=other_annotation, note=NOTE)

    assert escalate_overdue_appeals() == 1

    overdue.refresh_from_db()
    waiting.refresh_from_db()
    assert (overdue.status, waiting.status) == (AppealStatus.ESCALATED, AppealStatus.OPEN)
    assert Notification.objects.filter(recipient=staff, kind="appeal.escalated").count() == 1


def test_only_staff_decide_an_escalated_appeal_and_a_denial_needs_a_note():
    staff, _ = staff_user()
    _, _, (expert,), annotation = _rejected()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    appeals.appeals_escalate_overdue(now=appeal.respond_by + timedelta(seconds=1))

    with pytest.raises(NotFound):
        appeals.appeal_decide_staff(staff=new_expert(), appeal=appeal, uphold=True, note="")
    with pytest.raises(InvalidInput):
        appeals.appeal_decide_staff(staff=staff, appeal=appeal, uphold=False, note="")
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.ESCALATED

    appeals.appeal_decide_staff(staff=staff, appeal=appeal, uphold=False, note="The lab is right.")

    appeal.refresh_from_db()
    assert (appeal.status, appeal.response) == (AppealStatus.DENIED, "The lab is right.")
    assert expert_account(user=expert, currency="USD").balance_cents == 0
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.REJECTED
