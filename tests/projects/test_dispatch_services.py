"""Dispatch: claims, leases, gold mixing, drafts, submissions, skips and edits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput
from projects import services as project_services
from projects.dispatch import services as dispatch
from projects.dispatch.services import PageSignals, SubmittedTooLate
from projects.models import Annotation, Assignment, ProjectMember, Task
from projects.states import AnnotationStatus, AssignmentStatus, MemberStatus, TaskStatus
from projects.tasks import return_expired_leases
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import answer, member, submit_next, workspace

pytestmark = pytest.mark.django_db


def _expire(assignment: Assignment) -> None:
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def _task(task_id: int) -> Task:
    return Task.objects.get(pk=task_id)


# Claiming ----------------------------------------------------------------------------------


def test_claim_leases_a_task_for_the_project_lease_length():
    _, project, (expert,) = workspace(lease_minutes=45)

    assignment = dispatch.task_claim(expert=expert, project=project)

    assert assignment is not None
    assert assignment.status == AssignmentStatus.LEASED
    assert assignment.holds_slot is True
    length = assignment.expires_at - assignment.leased_at
    assert length == timedelta(minutes=45)
    assert _task(assignment.task_id).reserved_count == 1


def test_claim_returns_the_live_lease_again_instead_of_a_new_task():
    _, project, (expert,) = workspace()
    first = dispatch.task_claim(expert=expert, project=project)
    assert first is not None

    again = dispatch.task_claim(expert=expert, project=project)

    assert again is not None
    assert again.pk == first.pk
    assert Assignment.objects.filter(expert=expert).count() == 1


def test_depth_first_finishes_started_tasks_before_new_ones():
    _, project, experts = workspace(experts=3, task_count=3, overlap=3)
    tasks = [submit_next(expert, project).task_id for expert in experts]

    assert len(set(tasks)) == 1
    assert _task(tasks[0]).status == TaskStatus.COMPLETED


def test_breadth_first_spreads_answers_across_tasks():
    _, project, experts = workspace(experts=3, task_count=3, overlap=3, dispatch_order="breadth")
    tasks = [submit_next(expert, project).task_id for expert in experts]

    assert len(set(tasks)) == 3


def test_priority_comes_before_import_order():
    _, project, (expert,) = workspace(task_count=3)
    last = Task.objects.filter(project=project).order_by("-id").first()
    assert last is not None
    Task.objects.filter(pk=last.pk).update(priority=5)

    assignment = dispatch.task_claim(expert=expert, project=project)

    assert assignment is not None
    assert assignment.task_id == last.pk


def test_an_expert_never_gets_a_task_they_annotated_or_skipped():
    _, project, (expert,) = workspace(task_count=2, overlap=3)
    done = submit_next(expert, project)
    second = dispatch.task_claim(expert=expert, project=project)
    assert second is not None
    dispatch.assignment_skip(expert=expert, assignment=second, reason="unclear")

    assert second.task_id != done.task_id
    assert dispatch.task_claim(expert=expert, project=project) is None


def test_overlap_is_never_exceeded_by_live_leases():
    _, project, experts = workspace(experts=4, task_count=1, overlap=3)

    claims = [dispatch.task_claim(expert=expert, project=project) for expert in experts]

    assert [claim is not None for claim in claims] == [True, True, True, False]
    task = Task.objects.get(project=project)
    assert task.reserved_count == 3


def test_prefetch_holds_at_most_two_leases():
    _, project, (expert,) = workspace(task_count=5)
    current = dispatch.task_claim(expert=expert, project=project)
    assert current is not None

    following = dispatch.task_prefetch(expert=expert, project=project, current=current)
    again = dispatch.task_prefetch(expert=expert, project=project, current=current)

    assert following is not None
    assert again is not None
    assert following.pk == again.pk != current.pk
    live = Assignment.objects.filter(expert=expert, status=AssignmentStatus.LEASED)
    assert live.count() == 2


def test_a_paused_project_or_member_gets_no_new_task():
    actor, project, (expert, other) = workspace(experts=2)
    ProjectMember.objects.filter(expert=other).update(
        status=MemberStatus.PAUSED, status_reason="Gold accuracy below the project's bar."
    )
    with pytest.raises(Conflict, match="Gold accuracy below"):
        dispatch.task_claim(expert=other, project=project)

    project_services.project_pause(actor=actor, project=project)
    project.refresh_from_db()
    with pytest.raises(Conflict, match="paused"):
        dispatch.task_claim(expert=expert, project=project)
    assert not Assignment.objects.exists()


def test_experts_must_acknowledge_material_guideline_changes_first():
    actor, project, (expert,) = workspace()
    project_services.guidelines_publish(
        actor=actor,
        project=project,
        guidelines="# New rules\n\nCite a source.",
        rubric="",
        changelog="Sources now required",
        is_material=True,
    )
    project.refresh_from_db()

    with pytest.raises(dispatch.GuidelinesNotAcknowledged):
        dispatch.task_claim(expert=expert, project=project)
    project_services.guidelines_acknowledge(expert=expert, project=project)
    assert dispatch.task_claim(expert=expert, project=project) is not None


def test_a_non_member_cannot_claim():
    _, project, _ = workspace()
    stranger = member(project_factories.active_project(), None)

    with pytest.raises(Conflict, match="not on this project"):
        dispatch.task_claim(expert=stranger, project=project)


def test_claim_runs_a_constant_number_of_queries(django_assert_num_queries):
    _, small, (expert,) = workspace(task_count=3)
    _, large, (other,) = workspace(task_count=60)
    for project, who in ((small, expert), (large, other)):
        for _ in range(2):  # answered tasks in front of the scan do not add queries
            submit_next(who, project)
    with django_assert_num_queries(9):
        assert dispatch.task_claim(expert=expert, project=small) is not None
    with django_assert_num_queries(9):
        assert dispatch.task_claim(expert=other, project=large) is not None


# Gold --------------------------------------------------------------------------------------


def test_gold_tasks_are_mixed_in_and_go_to_every_expert_once():
    _, project, experts = workspace(experts=2, task_count=40, gold=3, gold_rate_percent=50)
    served = {expert.pk: [] for expert in experts}
    for expert in experts:
        while (assignment := dispatch.task_claim(expert=expert, project=project)) is not None:
            dispatch.annotation_submit(expert=expert, assignment=assignment, result=answer(project))
            served[expert.pk].append(assignment.task)
            if len(served[expert.pk]) == 30:
                break
    for tasks in served.values():
        gold = [task for task in tasks if task.is_gold]
        assert 1 <= len(gold) <= 3
        assert len({task.pk for task in gold}) == len(gold)
    gold_rows = Task.objects.filter(project=project, is_gold=True)
    assert all(task.reserved_count == 0 for task in gold_rows)
    assert all(task.status == TaskStatus.OPEN for task in gold_rows)


def test_no_gold_is_served_when_the_rate_is_zero():
    _, project, (expert,) = workspace(task_count=5, gold=5, gold_rate_percent=0)
    tasks = [submit_next(expert, project).task for _ in range(5)]

    assert not any(task.is_gold for task in tasks)


# Leases ------------------------------------------------------------------------------------


def test_expired_leases_return_their_slot_to_the_pool():
    _, project, (first, second) = workspace(experts=2, task_count=1, overlap=1)
    lease = dispatch.task_claim(expert=first, project=project)
    assert lease is not None
    assert dispatch.task_claim(expert=second, project=project) is None
    _expire(lease)

    taken = dispatch.task_claim(expert=second, project=project)

    assert taken is not None
    assert taken.task_id == lease.task_id
    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.EXPIRED
    assert lease.holds_slot is False
    assert _task(lease.task_id).reserved_count == 1


def test_the_beat_task_returns_every_expired_lease():
    _, project, experts = workspace(experts=3, task_count=1, overlap=3)
    leases = [dispatch.task_claim(expert=expert, project=project) for expert in experts]
    for lease in leases:
        assert lease is not None
        _expire(lease)

    assert return_expired_leases() == 3
    assert return_expired_leases() == 0
    assert Task.objects.get(project=project).reserved_count == 0


def test_a_draft_save_renews_the_lease_and_keeps_the_draft():
    _, project, (expert,) = workspace(lease_minutes=10)
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() + timedelta(minutes=1))

    saved = dispatch.assignment_draft_save(
        expert=expert, assignment=lease, draft={"rationale": ["Half a thought"]}
    )

    lease.refresh_from_db()
    assert saved.still_needed is True
    assert lease.draft == {"rationale": ["Half a thought"]}
    assert lease.expires_at > timezone.now() + timedelta(minutes=9)


def test_a_draft_save_after_expiry_takes_the_slot_again_when_there_is_room():
    _, project, (expert,) = workspace(task_count=1, overlap=1)
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None
    _expire(lease)
    return_expired_leases()

    saved = dispatch.assignment_draft_save(expert=expert, assignment=lease, draft={"a": ["b"]})

    assert saved.still_needed is True
    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.LEASED
    assert lease.holds_slot is True
    assert _task(lease.task_id).reserved_count == 1


def test_active_time_is_capped_by_the_wall_time_since_the_last_save():
    _, project, (expert,) = workspace()
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None

    dispatch.assignment_draft_save(
        expert=expert,
        assignment=lease,
        draft=None,
        signals=PageSignals(active_seconds=5000, pastes=2, pasted_chars=300, focus_losses=1),
    )

    lease.refresh_from_db()
    assert lease.active_seconds <= dispatch.ACTIVE_TIME_SLACK_SECONDS + 1
    assert (lease.paste_count, lease.pasted_chars, lease.focus_loss_count) == (2, 300, 1)


# Submitting --------------------------------------------------------------------------------


def test_submit_records_the_answer_and_the_page_signals():
    _, project, (expert,) = workspace(overlap=1)
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None
    Assignment.objects.filter(pk=lease.pk).update(leased_at=timezone.now() - timedelta(minutes=5))
    lease.refresh_from_db()

    annotation = dispatch.annotation_submit(
        expert=expert,
        assignment=lease,
        result=answer(project, confidence=70),
        signals=PageSignals(active_seconds=120, pastes=1, pasted_chars=40, focus_losses=3),
    )

    assert annotation.confidence == 70
    assert annotation.time_spent_seconds == 120
    assert (annotation.paste_count, annotation.pasted_chars, annotation.focus_loss_count) == (
        1,
        40,
        3,
    )
    assert annotation.status == AnnotationStatus.SUBMITTED
    assert annotation.guidelines_version == project.guidelines_version
    task = _task(lease.task_id)
    assert (task.annotation_count, task.reserved_count, task.status) == (1, 1, "completed")
    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.SUBMITTED
    assert lease.annotation_id == annotation.pk


def test_submit_is_idempotent():
    _, project, (expert,) = workspace()
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None

    first = dispatch.annotation_submit(expert=expert, assignment=lease, result=answer(project))
    second = dispatch.annotation_submit(
        expert=expert, assignment=lease, result=answer(project, preference="tie")
    )

    assert first.pk == second.pk
    assert second.result["preference"] == first.result["preference"]
    assert Annotation.objects.count() == 1
    assert _task(lease.task_id).annotation_count == 1


def test_an_invalid_answer_changes_nothing():
    _, project, (expert,) = workspace()
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None

    with pytest.raises(InvalidInput) as error:
        dispatch.annotation_submit(
            expert=expert, assignment=lease, result=answer(project, preference="maybe")
        )

    assert error.value.field == "preference"
    assert not Annotation.objects.exists()
    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.LEASED


def test_a_late_submit_is_accepted_while_the_task_has_room():
    _, project, (expert,) = workspace(task_count=1, overlap=2)
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None
    _expire(lease)
    return_expired_leases()

    annotation = dispatch.annotation_submit(expert=expert, assignment=lease, result=answer(project))

    assert annotation.pk is not None
    task = _task(lease.task_id)
    assert (task.annotation_count, task.reserved_count) == (1, 1)


def test_a_late_submit_on_a_filled_task_is_kept_as_a_draft():
    _, project, (late, other) = workspace(experts=2, task_count=1, overlap=1)
    lease = dispatch.task_claim(expert=late, project=project)
    assert lease is not None
    _expire(lease)
    submit_next(other, project)

    with pytest.raises(SubmittedTooLate, match="kept as a draft"):
        dispatch.annotation_submit(
            expert=late,
            assignment=lease,
            result=answer(project),
            draft={"preference": ["a_better"]},
        )

    lease.refresh_from_db()
    assert lease.status == AssignmentStatus.EXPIRED
    assert lease.draft == {"preference": ["a_better"]}
    assert Annotation.objects.filter(expert=late).count() == 0
    task = _task(lease.task_id)
    assert (task.annotation_count, task.reserved_count) == (1, 1)


def test_disclosure_is_required_when_the_policy_asks_for_it():
    _, project, (expert,) = workspace(ai_policy="disclosed")
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None

    with pytest.raises(InvalidInput) as missing:
        dispatch.annotation_submit(expert=expert, assignment=lease, result=answer(project))
    with pytest.raises(InvalidInput) as unexplained:
        dispatch.annotation_submit(
            expert=expert, assignment=lease, result=answer(project), ai_used=True
        )
    annotation = dispatch.annotation_submit(
        expert=expert,
        assignment=lease,
        result=answer(project),
        ai_used=True,
        ai_disclosure="Used a model to check the drug interaction table.",
    )

    assert (missing.value.field, unexplained.value.field) == ("ai_used", "ai_disclosure")
    assert annotation.ai_used is True
    assert annotation.ai_disclosure.startswith("Used a model")


def test_disagreement_is_the_share_outside_the_most_common_answer():
    _, project, experts = workspace(experts=3, task_count=1, overlap=3)
    for expert, preference in zip(experts, ("a_better", "a_better", "b_better"), strict=True):
        submit_next(expert, project, preference=preference)

    task = Task.objects.get(project=project)
    assert task.disagreement == pytest.approx(0.3333, abs=1e-4)


def test_submitting_emits_the_webhooks(django_capture_on_commit_callbacks):
    from projects.models import WebhookDelivery
    from projects.services.webhooks import webhook_endpoint_create

    actor, project, (expert,) = workspace(task_count=1, overlap=1)
    webhook_endpoint_create(
        actor=actor,
        url="https://hooks.example.com/in",
        events=["annotation.submitted", "task.completed"],
    )

    annotation = submit_next(expert, project)

    events = sorted(WebhookDelivery.objects.values_list("event", flat=True))
    assert events == ["annotation.submitted", "task.completed"]
    payload = WebhookDelivery.objects.get(event="annotation.submitted").payload["data"]
    assert payload["annotation"] == str(annotation.public_id)
    assert "result" not in payload


# Skipping and editing ----------------------------------------------------------------------


def test_skip_needs_a_reason_and_frees_the_slot():
    _, project, (expert,) = workspace(task_count=1)
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None

    with pytest.raises(InvalidInput):
        dispatch.assignment_skip(expert=expert, assignment=lease, reason="")
    with pytest.raises(InvalidInput):
        dispatch.assignment_skip(expert=expert, assignment=lease, reason="other")
    assert _task(lease.task_id).reserved_count == 1

    skipped = dispatch.assignment_skip(
        expert=expert, assignment=lease, reason="outside_expertise", note="Paediatric dosing."
    )

    assert skipped.status == AssignmentStatus.SKIPPED
    assert skipped.skip_note == "Paediatric dosing."
    assert _task(lease.task_id).reserved_count == 0


def test_a_skipped_task_cannot_be_submitted():
    _, project, (expert,) = workspace()
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None
    dispatch.assignment_skip(expert=expert, assignment=lease, reason="unclear")

    with pytest.raises(Conflict, match="skipped"):
        dispatch.annotation_submit(expert=expert, assignment=lease, result=answer(project))
    assert not Annotation.objects.exists()


def test_an_answer_can_be_edited_until_it_is_reviewed():
    from projects.review.services import annotation_accept

    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)

    edited = dispatch.annotation_edit(
        expert=expert, annotation=annotation, result=answer(project, preference="tie")
    )
    assert (edited.result["preference"], edited.edit_count) == ("tie", 1)

    annotation_accept(actor=actor, annotation=annotation)
    with pytest.raises(Conflict, match="accepted"):
        dispatch.annotation_edit(
            expert=expert, annotation=annotation, result=answer(project, preference="b_better")
        )
    annotation.refresh_from_db()
    assert annotation.result["preference"] == "tie"


# Coming back, idling, and busy experts -------------------------------------------------------


def test_a_draft_whose_lease_ran_out_comes_back_at_the_next_claim():
    _, project, (expert,) = workspace(task_count=3, overlap=1)
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None
    dispatch.assignment_draft_save(
        expert=expert, assignment=lease, draft={"rationale": ["Half written"]}
    )
    _expire(lease)
    return_expired_leases()

    again = dispatch.task_claim(expert=expert, project=project)

    assert again is not None
    assert again.pk == lease.pk
    assert again.draft == {"rationale": ["Half written"]}
    assert again.status == AssignmentStatus.LEASED
    assert again.holds_slot
    assert _task(lease.task_id).reserved_count == 1


def test_a_draft_on_a_task_filled_meanwhile_does_not_come_back():
    _, project, (expert, other) = workspace(experts=2, task_count=2, overlap=1)
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None
    dispatch.assignment_draft_save(expert=expert, assignment=lease, draft={"a": ["b"]})
    _expire(lease)
    return_expired_leases()
    taken = dispatch.task_claim(expert=other, project=project)
    assert taken is not None
    assert taken.task_id == lease.task_id

    fresh = dispatch.task_claim(expert=expert, project=project)

    assert fresh is not None
    assert fresh.task_id != lease.task_id


def test_an_idle_tab_does_not_keep_its_lease_alive():
    _, project, (expert,) = workspace(lease_minutes=10)
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None
    soon = timezone.now() + timedelta(minutes=1)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=soon)

    dispatch.assignment_draft_save(expert=expert, assignment=lease, draft=None)
    lease.refresh_from_db()
    assert lease.expires_at == soon

    dispatch.assignment_draft_save(
        expert=expert, assignment=lease, draft=None, signals=PageSignals(active_seconds=3)
    )
    lease.refresh_from_db()
    assert lease.expires_at > timezone.now() + timedelta(minutes=9)


def test_a_busy_expert_still_gets_the_next_task_past_their_own_waiting_answers():
    _, project, (busy, other) = workspace(experts=2, task_count=80, overlap=3)
    for _ in range(70):  # all wait for two more experts, in front of the depth-first queue
        submit_next(busy, project)
    submit_next(other, project)

    following = dispatch.task_claim(expert=busy, project=project)

    assert following is not None
    assert not Annotation.objects.filter(expert=busy, task_id=following.task_id).exists()


def test_claims_by_one_expert_respect_the_lease_cap():
    _, project, (expert,) = workspace(task_count=6)
    first = dispatch.task_claim(expert=expert, project=project)
    assert first is not None
    second = dispatch.task_prefetch(expert=expert, project=project, current=first)
    assert second is not None

    third = dispatch.task_prefetch(expert=expert, project=project, current=second)

    assert third is not None
    assert third.pk == first.pk
    assert Assignment.objects.filter(expert=expert, status=AssignmentStatus.LEASED).count() == 2


def test_edits_are_refused_once_the_project_is_finished_or_the_expert_removed():
    actor, project, (expert, other) = workspace(experts=2, task_count=2)
    mine = submit_next(expert, project)
    theirs = submit_next(other, project)
    ProjectMember.objects.filter(expert=other).update(status=MemberStatus.REMOVED)

    with pytest.raises(Conflict, match="no longer on this project"):
        dispatch.annotation_edit(expert=other, annotation=theirs, result=answer(project))
    project_services.project_complete(actor=actor, project=project)
    mine.project.refresh_from_db()
    with pytest.raises(Conflict, match="completed"):
        dispatch.annotation_edit(expert=expert, annotation=mine, result=answer(project))
    assert Annotation.objects.filter(edit_count__gt=0).count() == 0


def test_an_edit_counts_as_a_new_hand_in_with_its_signals():
    _, project, (expert,) = workspace(ai_policy="disclosed")
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None
    annotation = dispatch.annotation_submit(
        expert=expert, assignment=lease, result=answer(project), ai_used=False
    )
    Annotation.objects.filter(pk=annotation.pk).update(
        submitted_at=timezone.now() - timedelta(days=6)
    )
    annotation.refresh_from_db()

    with pytest.raises(InvalidInput):
        dispatch.annotation_edit(expert=expert, annotation=annotation, result=answer(project))
    edited = dispatch.annotation_edit(
        expert=expert,
        annotation=annotation,
        result=answer(project),
        signals=PageSignals(active_seconds=30, pastes=2, pasted_chars=900),
        ai_used=True,
        ai_disclosure="Pasted a model's draft and rewrote it.",
    )

    assert edited.submitted_at > timezone.now() - timedelta(minutes=1)
    assert (edited.paste_count, edited.pasted_chars, edited.ai_used) == (2, 900, True)


def test_the_workspace_stays_open_when_another_member_is_removed():
    from projects.dispatch.selectors import assignment_for_expert

    _, project, (expert, removed) = workspace(experts=2)
    lease = dispatch.task_claim(expert=expert, project=project)
    assert lease is not None
    ProjectMember.objects.filter(expert=removed).update(status=MemberStatus.REMOVED)

    assert assignment_for_expert(expert=expert, assignment_id=lease.public_id).pk == lease.pk
