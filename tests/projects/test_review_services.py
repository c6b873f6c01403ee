"""Lab review: accept, reject, revise, bulk and automatic acceptance, edge cases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import AuditEvent, Notification
from marketplace.states import MembershipRole
from projects.access import LabActor
from projects.dispatch import services as dispatch
from projects.models import Annotation, AnnotationReview, Assignment, Task
from projects.review import selectors, services
from projects.states import AnnotationStatus, ReviewDecision, TaskStatus
from projects.tasks import auto_accept_annotations
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import answer, lab_viewer, submit_next, workspace

pytestmark = pytest.mark.django_db


def _viewer(actor: LabActor) -> LabActor:
    return LabActor(
        organization=actor.organization,
        user=lab_viewer(actor),
        api_key=None,
        role=MembershipRole.VIEWER,
    )


def test_accept_records_one_review_and_is_idempotent():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)

    services.annotation_accept(actor=actor, annotation=annotation)
    services.annotation_accept(actor=actor, annotation=annotation)

    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.ACCEPTED
    assert annotation.reviewed_at is not None
    reviews = AnnotationReview.objects.filter(annotation=annotation)
    assert [(r.decision, r.reviewer_id, r.is_automatic) for r in reviews] == [
        (ReviewDecision.ACCEPT, actor.user.pk, False)
    ]
    assert AuditEvent.objects.filter(action="annotation.accept").count() == 1
    assert not Notification.objects.filter(recipient=expert).exists()


def test_reject_needs_feedback_and_changes_nothing_without_it():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)

    with pytest.raises(InvalidInput) as error:
        services.annotation_reject(actor=actor, annotation=annotation, feedback="  ")

    assert error.value.field == "feedback"
    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.SUBMITTED
    assert not AnnotationReview.objects.exists()
    assert not Notification.objects.exists()


def test_reject_frees_the_slot_and_tells_the_expert(django_capture_on_commit_callbacks):
    actor, project, (expert, other) = workspace(experts=2, task_count=1, overlap=1)
    with django_capture_on_commit_callbacks(execute=True):
        annotation = submit_next(expert, project)
        assert Task.objects.get(project=project).status == TaskStatus.COMPLETED

        services.annotation_reject(
            actor=actor, annotation=annotation, feedback="The rationale ignores the renal risk."
        )

    task = Task.objects.get(project=project)
    assert (task.status, task.annotation_count, task.reserved_count) == (TaskStatus.OPEN, 0, 0)
    assert Assignment.objects.get(annotation=annotation).holds_slot is False
    notification = Notification.objects.get(recipient=expert)
    assert notification.kind == "review.reject"
    assert str(annotation.public_id) in notification.link
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [expert.email]
    # The task goes to another expert, never back to the rejected one.
    assert dispatch.task_claim(expert=expert, project=project) is None
    assert dispatch.task_claim(expert=other, project=project) is not None


def test_revision_goes_back_to_the_queue_after_the_edit():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)

    services.annotation_request_revision(
        actor=actor, annotation=annotation, feedback="Name the interaction you mean."
    )
    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.REVISION
    assert Notification.objects.get(recipient=expert).kind == "review.revise"

    dispatch.annotation_edit(
        expert=expert,
        annotation=annotation,
        result=answer(project, rationale="NSAIDs blunt ACE inhibitors and strain the kidneys."),
    )
    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.SUBMITTED
    assert annotation.edit_count == 1
    services.annotation_accept(actor=actor, annotation=annotation)


def test_a_decided_annotation_cannot_be_decided_otherwise():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    services.annotation_accept(actor=actor, annotation=annotation)

    with pytest.raises(Conflict, match="accepted"):
        services.annotation_reject(actor=actor, annotation=annotation, feedback="Changed my mind")

    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.ACCEPTED
    assert AnnotationReview.objects.count() == 1


def test_viewers_cannot_review():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)

    with pytest.raises(PermissionDenied):
        services.annotation_accept(actor=_viewer(actor), annotation=annotation)

    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.SUBMITTED


def test_another_lab_cannot_review():
    _, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    stranger = project_factories.manager_actor()

    with pytest.raises(Annotation.DoesNotExist):
        services.annotation_accept(actor=stranger, annotation=annotation)
    with pytest.raises(NotFound):
        selectors.annotation_for_lab(
            actor=stranger, project=project, annotation_id=annotation.public_id
        )


def test_bulk_accept_takes_only_waiting_annotations():
    actor, project, experts = workspace(experts=3, task_count=1, overlap=3)
    first, second, third = (submit_next(expert, project) for expert in experts)
    services.annotation_reject(actor=actor, annotation=third, feedback="Off topic.")

    accepted = services.annotations_accept_bulk(
        actor=actor,
        project=project,
        annotation_ids=[first.public_id, second.public_id, third.public_id],
    )

    assert accepted == 2
    statuses = dict(Annotation.objects.values_list("pk", "status"))
    assert statuses == {
        first.pk: AnnotationStatus.ACCEPTED,
        second.pk: AnnotationStatus.ACCEPTED,
        third.pk: AnnotationStatus.REJECTED,
    }
    assert AnnotationReview.objects.filter(decision=ReviewDecision.ACCEPT).count() == 2
    assert AuditEvent.objects.filter(action="annotation.accept_bulk").count() == 1


def test_bulk_accept_refuses_bad_ids_and_other_projects():
    actor, project, (_expert,) = workspace()
    _, other_project, (other_expert,) = workspace()
    theirs = submit_next(other_expert, other_project)

    with pytest.raises(InvalidInput):
        services.annotations_accept_bulk(actor=actor, project=project, annotation_ids=["nope"])
    with pytest.raises(InvalidInput):
        services.annotations_accept_bulk(actor=actor, project=project, annotation_ids=[])
    assert (
        services.annotations_accept_bulk(
            actor=actor, project=project, annotation_ids=[theirs.public_id]
        )
        == 0
    )
    theirs.refresh_from_db()
    assert theirs.status == AnnotationStatus.SUBMITTED


def test_auto_accept_after_the_project_days():
    _, project, experts = workspace(experts=2, task_count=1, auto_accept_days=3)
    old, recent = (submit_next(expert, project) for expert in experts)
    Annotation.objects.filter(pk=old.pk).update(submitted_at=timezone.now() - timedelta(days=4))
    _, never, (other,) = workspace(auto_accept_days=0)
    kept = submit_next(other, never)
    Annotation.objects.filter(pk=kept.pk).update(submitted_at=timezone.now() - timedelta(days=40))

    assert auto_accept_annotations() == 1
    assert auto_accept_annotations() == 0

    statuses = dict(Annotation.objects.values_list("pk", "status"))
    assert statuses[old.pk] == AnnotationStatus.ACCEPTED
    assert statuses[recent.pk] == AnnotationStatus.SUBMITTED
    assert statuses[kept.pk] == AnnotationStatus.SUBMITTED
    review = AnnotationReview.objects.get()
    assert (review.is_automatic, review.reviewer_id) == (True, None)


def test_edge_cases_are_answered_once(django_capture_on_commit_callbacks):
    actor, project, (expert,) = workspace()
    flagged = submit_next(
        expert, project, is_edge_case=True, edge_case_note="Both answers are dangerous."
    )
    assert list(selectors.edge_cases(project=project)) == [flagged]

    services.edge_case_resolve(actor=actor, annotation=flagged, reply="Thanks, removed.")
    services.edge_case_resolve(actor=actor, annotation=flagged, reply="Again")

    flagged.refresh_from_db()
    assert flagged.edge_case_reply == "Thanks, removed."
    assert list(selectors.edge_cases(project=project)) == []
    assert list(selectors.edge_cases(project=project, resolved=True)) == [flagged]
    assert Notification.objects.filter(recipient=expert, kind="review.edge_case").count() == 1


def test_review_queue_filters():
    actor, project, experts = workspace(experts=3, task_count=2, overlap=3, gold=1)
    low = submit_next(experts[0], project, confidence=20, preference="b_better")
    high = submit_next(experts[1], project, confidence=95)
    flagged = submit_next(
        experts[2], project, confidence=60, is_edge_case=True, edge_case_note="Ambiguous"
    )
    hex_id = experts[0].expert_profile.public_id.hex[:8]

    def queue(**params: str) -> list[Annotation]:
        return list(
            selectors.review_queue(project=project, filters=selectors.review_filters_from(params))
        )

    assert queue() == [low, high, flagged]
    assert queue(expert=f"Expert {hex_id}") == [low]
    assert queue(flagged="yes") == [flagged]
    assert queue(min_confidence="50", max_confidence="90") == [flagged]
    assert queue(disagreement="yes") == [low, high, flagged]
    assert queue(gold="yes") == []
    services.annotation_accept(actor=actor, annotation=high)
    assert queue() == [low, flagged]
    assert queue(status="accepted") == [high]
    assert queue(status="all") == [low, high, flagged]
    for bad, field in (
        ({"status": "maybe"}, "status"),
        ({"expert": "Dr Smith"}, "expert"),
        ({"min_confidence": "high"}, "min_confidence"),
        ({"min_confidence": "80", "max_confidence": "20"}, "min_confidence"),
        ({"flagged": "perhaps"}, "flagged"),
    ):
        with pytest.raises(InvalidInput) as error:
            selectors.review_filters_from(bad)
        assert error.value.field == field


def test_review_counts(django_assert_num_queries):
    actor, project, experts = workspace(experts=3, task_count=1, overlap=3)
    annotations = [
        submit_next(expert, project, is_edge_case=n == 0) for n, expert in enumerate(experts)
    ]
    services.annotation_accept(actor=actor, annotation=annotations[1])
    with django_assert_num_queries(1):
        counts = selectors.review_counts(project=project)
    assert counts == {
        "submitted": 2,
        "accepted": 1,
        "rejected": 0,
        "revision": 0,
        "edge_cases": 1,
    }


def test_the_lab_may_decide_without_waiting_for_a_revision():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    services.annotation_request_revision(actor=actor, annotation=annotation, feedback="Cite it.")

    services.annotation_reject(actor=actor, annotation=annotation, feedback="No revision came.")

    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.REJECTED
    assert [r.decision for r in annotation.reviews.all()] == ["revise", "reject"]


def test_a_decision_on_an_answer_changed_since_it_was_read_is_refused():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    seen = annotation.edit_count
    dispatch.annotation_edit(
        expert=expert, annotation=annotation, result=answer(project, preference="tie")
    )

    with pytest.raises(Conflict, match="changed this answer"):
        services.annotation_review(
            actor=actor, annotation=annotation, decision="accept", seen_edit_count=seen
        )

    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.SUBMITTED
    services.annotation_review(
        actor=actor, annotation=annotation, decision="accept", seen_edit_count=seen + 1
    )
    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.ACCEPTED


def test_auto_accept_is_audited_per_batch():
    _, project, (expert,) = workspace(auto_accept_days=1)
    annotation = submit_next(expert, project)
    Annotation.objects.filter(pk=annotation.pk).update(
        submitted_at=timezone.now() - timedelta(days=2)
    )

    auto_accept_annotations()

    event = AuditEvent.objects.get(action="annotation.auto_accept")
    assert event.after["accepted"] == [str(annotation.public_id)]
    assert event.organization_id == project.organization_id
