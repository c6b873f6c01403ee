"""The quality run: gold scores, consensus, the pause rule, adaptive overlap, behaviour
signals and the per-domain records, on small projects whose figures are worked out by hand."""

from __future__ import annotations

import pytest

from marketplace.errors import Conflict, InvalidInput, PermissionDenied
from marketplace.models import Notification
from projects.dispatch import services as dispatch
from projects.models import (
    Annotation,
    ExpertDomainRecord,
    Project,
    ProjectMember,
    Task,
    TaskConsensus,
)
from projects.quality import scoring
from projects.quality.services import (
    gold_grade,
    member_pause_lift,
    project_quality_mark_stale,
    project_quality_refresh,
)
from projects.states import MemberStatus, TaskStatus
from tests import factories
from tests.projects.workspace_factories import answer, answer_task, workspace

pytestmark = pytest.mark.django_db


def regular(project: Project) -> list[Task]:
    return list(project.tasks.filter(is_gold=False).order_by("id"))


def gold_tasks(project: Project) -> list[Task]:
    return list(project.tasks.filter(is_gold=True).order_by("id"))


def test_gold_answers_are_scored_by_the_type_and_feed_the_domain_record():
    # Gold is "a_much_better" (-2). "a_better" (-1) scores 1 - 1/4 = 0.75; "b_better" is
    # the other side and scores 0.
    _actor, project, (expert,) = workspace(task_count=1, gold=3)
    golds = gold_tasks(project)
    answer_task(expert, golds[0], project, preference="a_much_better", confidence=90)
    answer_task(expert, golds[1], project, preference="a_better", confidence=80)
    answer_task(expert, golds[2], project, preference="b_better", confidence=70)

    quality = project_quality_refresh(project=project)

    scores = sorted(Annotation.objects.filter(project=project).values_list("gold_score", flat=True))
    assert scores == [0.0, 0.75, 1.0]
    (row,) = quality.figures["experts"]
    assert row["gold_n"] == 3
    assert row["gold_accuracy"] == pytest.approx(1.75 / 3, abs=1e-4)
    # Brier: squared errors .1², .05² and .7² (.01, .0025, .49), averaged.
    assert row["brier"] == pytest.approx(0.5025 / 3, abs=1e-4)
    record = ExpertDomainRecord.objects.get(expert=expert, domain=project.domain)
    assert record.gold_scored == 3
    assert record.gold_score_sum == pytest.approx(1.75)
    assert record.brier == pytest.approx(0.5025 / 3, abs=1e-4)
    # Gold posterior (1.75 + 0.8 × 10) / (3 + 10); the other components sit at their priors
    # except calibration (ECE over the three bins) and behaviour (3 clean answers).
    assert record.components["gold"] == {"value": round(9.75 / 13, 4), "n": 3}
    assert record.components["reviews"] == {"value": 0.9, "n": 0}
    assert record.quality_score == pytest.approx(
        sum(
            component.weight * record.components[component.name]["value"]
            for component in scoring.COMPONENTS
        ),
        abs=1e-3,
    )


def test_consensus_weights_agreement_and_marks_each_answer():
    _actor, project, experts = workspace(experts=3, task_count=2, overlap=3)
    first, second = regular(project)
    for expert in experts:
        answer_task(expert, first, project, preference="a_better")
    answer_task(experts[0], second, project, preference="a_better")
    answer_task(experts[1], second, project, preference="a_better")
    answer_task(experts[2], second, project, preference="b_better")

    quality = project_quality_refresh(project=project)

    consensus = TaskConsensus.objects.get(task=first)
    assert consensus.answers["preference"] == -1
    assert consensus.majority == -1
    assert consensus.agreement == 1.0
    assert consensus.annotations == 3
    split = TaskConsensus.objects.get(task=second)
    assert split.majority == -1
    assert split.agreement == pytest.approx(1 / 3, abs=1e-4)  # one agreeing pair of three
    dissent = Annotation.objects.get(task=second, expert=experts[2])
    assert dissent.consensus_agreement == 0.0
    assert Annotation.objects.get(task=second, expert=experts[0]).consensus_agreement == 1.0
    (question,) = quality.figures["questions"]
    assert question["key"] == "preference"
    assert question["kind"] == "ordinal"
    # Pairs: task 1 three agreeing of three, task 2 one of three → 4 / 6.
    assert question["pairwise"] == pytest.approx(4 / 6, abs=1e-4)
    assert question["items"] == 2


def test_a_second_run_changes_nothing():
    _actor, project, experts = workspace(experts=2, task_count=1, overlap=2)
    (task,) = regular(project)
    answer_task(experts[0], task, project, preference="a_better")
    answer_task(experts[1], task, project, preference="b_better")
    first = project_quality_refresh(project=project).figures
    before = list(Annotation.objects.order_by("id").values("updated_at", "consensus_agreement"))

    second = project_quality_refresh(project=project).figures

    assert (
        list(Annotation.objects.order_by("id").values("updated_at", "consensus_agreement"))
        == before
    )
    strip = ("computed_at", "seconds")
    assert {k: v for k, v in first.items() if k not in strip} == {
        k: v for k, v in second.items() if k not in strip
    }


def _wrong_gold(expert, project: Project, tasks: list[Task]) -> None:
    for task in tasks:
        answer_task(expert, task, project, preference="b_much_better", confidence=95)


def test_an_expert_clearly_below_the_minimum_is_paused_told_why_and_gets_no_task():
    _actor, project, (expert,) = workspace(
        task_count=2, gold=3, min_gold_tasks=3, min_gold_accuracy_percent=70
    )
    _wrong_gold(expert, project, gold_tasks(project))

    quality = project_quality_refresh(project=project)

    member = ProjectMember.objects.get(project=project, expert=expert)
    assert member.status == MemberStatus.PAUSED
    assert member.quality_paused is True
    assert member.status_reason == (
        "Your gold accuracy on this project is 0% over 3 gold tasks, below the project's "
        "minimum of 70%."
    )
    note = Notification.objects.get(recipient=expert, kind="quality.paused")
    assert "paused" in note.text
    assert "0% over 3 gold tasks" in note.text
    assert quality.figures["experts"][0]["paused"] is True
    assert dispatch.work_refusal(expert=expert, project=project) is not None


def test_no_pause_before_the_minimum_number_of_gold_answers():
    _actor, project, (expert,) = workspace(task_count=1, gold=3, min_gold_tasks=4)
    _wrong_gold(expert, project, gold_tasks(project))

    project_quality_refresh(project=project)

    assert ProjectMember.objects.get(project=project, expert=expert).status == MemberStatus.ACTIVE


def test_no_pause_while_a_low_accuracy_is_not_yet_certain():
    # 2 right of 3 (67% < 70%), but P(accuracy < 0.7 | 2 of 3) is about 0.35, far from 95%.
    _actor, project, (expert,) = workspace(task_count=1, gold=3, min_gold_tasks=3)
    golds = gold_tasks(project)
    answer_task(expert, golds[0], project, preference="a_much_better")
    answer_task(expert, golds[1], project, preference="a_much_better")
    answer_task(expert, golds[2], project, preference="b_much_better")

    project_quality_refresh(project=project)

    assert scoring.probability_below(0.7, 2, 3) < scoring.PAUSE_CONFIDENCE
    assert ProjectMember.objects.get(project=project, expert=expert).status == MemberStatus.ACTIVE


def test_staff_lift_a_pause_and_only_new_gold_answers_count_after_it():
    _actor, project, (expert,) = workspace(task_count=1, gold=6, min_gold_tasks=3)
    golds = gold_tasks(project)
    _wrong_gold(expert, project, golds[:3])
    project_quality_refresh(project=project)
    member = ProjectMember.objects.get(project=project, expert=expert)
    staff, _ = factories.staff_user()

    lifted = member_pause_lift(actor=staff, member=member, note="Reviewed with the expert.")

    assert lifted.status == MemberStatus.ACTIVE
    assert lifted.pause_lifted_by == staff
    assert Notification.objects.filter(recipient=expert, kind="quality.resumed").exists()
    project_quality_refresh(project=project)
    assert ProjectMember.objects.get(pk=member.pk).status == MemberStatus.ACTIVE
    _wrong_gold(expert, project, golds[3:])
    project_quality_refresh(project=project)
    assert ProjectMember.objects.get(pk=member.pk).status == MemberStatus.PAUSED


def test_only_staff_lift_a_pause_and_only_a_paused_member():
    _actor, project, (expert,) = workspace(task_count=1)
    member = ProjectMember.objects.get(project=project, expert=expert)
    with pytest.raises(PermissionDenied):
        member_pause_lift(actor=expert, member=member)
    with pytest.raises(Conflict):
        member_pause_lift(actor=factories.staff_user()[0], member=member)
    assert ProjectMember.objects.get(pk=member.pk).pause_lifted_at is None


def test_adaptive_overlap_asks_one_more_answer_on_an_unsettled_item():
    _actor, project, experts = workspace(
        experts=3, task_count=1, overlap=2, adaptive_overlap=True, max_overlap=3
    )
    (task,) = regular(project)
    answer_task(experts[0], task, project, preference="a_better")
    answer_task(experts[1], task, project, preference="b_better")
    assert Task.objects.get(pk=task.pk).status == TaskStatus.COMPLETED

    quality = project_quality_refresh(project=project)

    task.refresh_from_db()
    assert (task.status, task.target_overlap) == (TaskStatus.OPEN, 3)
    assignment = dispatch.task_claim(expert=experts[2], project=project)
    assert assignment is not None
    assert assignment.task_id == task.pk
    dispatch.annotation_submit(expert=experts[2], assignment=assignment, result=answer(project))
    task.refresh_from_db()
    assert (task.status, task.annotation_count) == (TaskStatus.COMPLETED, 3)
    assert quality.figures["adaptive"]["extra_requested"] == 1
    assert project_quality_refresh(project=project).figures["adaptive"]["annotations_added"] == 1


def test_adaptive_overlap_stops_early_on_a_settled_item():
    _actor, project, experts = workspace(
        experts=3, task_count=1, overlap=3, adaptive_overlap=True, stop_early=True
    )
    (task,) = regular(project)
    answer_task(experts[0], task, project, preference="a_better")
    answer_task(experts[1], task, project, preference="a_better")

    quality = project_quality_refresh(project=project)

    task.refresh_from_db()
    assert (task.status, task.target_overlap) == (TaskStatus.COMPLETED, 2)
    assert dispatch.task_claim(expert=experts[2], project=project) is None
    assert quality.figures["adaptive"]["stopped_early"] == 1
    assert quality.figures["adaptive"]["annotations_saved"] == 1


def test_without_adaptive_overlap_nothing_is_asked_again():
    _actor, project, experts = workspace(experts=2, task_count=1, overlap=2)
    (task,) = regular(project)
    answer_task(experts[0], task, project, preference="a_better")
    answer_task(experts[1], task, project, preference="b_better")

    project_quality_refresh(project=project)

    task.refresh_from_db()
    assert (task.status, task.target_overlap) == (TaskStatus.COMPLETED, None)


def test_behaviour_signals_fast_repeated_and_pasted():
    _actor, project, experts = workspace(experts=2, task_count=12, overlap=2)
    tasks = regular(project)
    for task in tasks:
        answer_task(experts[0], task, project, preference="a_better")
    for index, task in enumerate(tasks[:4]):
        answer_task(experts[1], task, project, preference="b_better" if index % 2 else "tie")
    Annotation.objects.filter(expert=experts[1]).update(time_spent_seconds=120)
    Annotation.objects.filter(expert=experts[0]).update(time_spent_seconds=5)

    quality = project_quality_refresh(project=project)

    rows = list(Annotation.objects.filter(expert=experts[0]).order_by("submitted_at", "id"))
    # Ten equal answers in a row: the tenth, eleventh and twelfth carry "repeat".
    assert ["repeat" in row.behaviour_flags for row in rows] == [False] * 9 + [True] * 3
    # The median of 16 times (12 × 5 s, 4 × 120 s) is 5 s: below the floor, no speed flag.
    assert all("fast" not in row.behaviour_flags for row in rows)
    assert quality.figures["flags"]["repeat"] == 3


def test_fast_answers_are_flagged_against_the_projects_median():
    _actor, project, experts = workspace(experts=3, task_count=2, overlap=3)
    for expert in experts:
        for task in regular(project):
            answer_task(expert, task, project)
    Annotation.objects.update(time_spent_seconds=100)
    quick = Annotation.objects.filter(expert=experts[0]).order_by("id").first()
    Annotation.objects.filter(pk=quick.pk).update(time_spent_seconds=10)

    project_quality_refresh(project=project)

    flagged = list(
        Annotation.objects.exclude(behaviour_flags=[]).values_list("pk", "behaviour_flags")
    )
    assert flagged == [(quick.pk, ["fast"])]


def test_a_pasted_demonstration_is_flagged_and_free_text_gold_is_graded_by_the_lab():
    actor, project, (expert,) = workspace(task_count=1, gold=1, task_type="demonstration")
    (gold,) = gold_tasks(project)
    annotation = answer_task(expert, gold, project)
    Annotation.objects.filter(pk=annotation.pk).update(
        pasted_chars=len(annotation.result["answer"])
    )

    project_quality_refresh(project=project)

    annotation.refresh_from_db()
    assert annotation.behaviour_flags == ["pasted"]
    assert annotation.gold_score is None  # free text waits for the lab's grade
    graded = gold_grade(actor=actor, annotation=annotation, score_percent="85")
    assert graded.gold_score == 0.85
    assert graded.gold_graded_by == actor.user
    with pytest.raises(InvalidInput, match="between 0 and 100"):
        gold_grade(actor=actor, annotation=annotation, score_percent=120)
    assert Annotation.objects.get(pk=annotation.pk).gold_score == 0.85


def test_answers_queue_one_run_per_batch(django_capture_on_commit_callbacks):
    _actor, project, experts = workspace(experts=2, task_count=2, overlap=2)
    (task, _other) = regular(project)
    with django_capture_on_commit_callbacks() as callbacks:
        answer_task(experts[0], task, project)
        answer_task(experts[1], task, project)
        project_quality_mark_stale(project=project)
    queued = [c for c in callbacks if c.__code__.co_filename.endswith("quality/services.py")]
    assert len(queued) == 1
    assert Project.objects.get(pk=project.pk).quality_stale_at is not None
    project_quality_refresh(project=project)
    assert Project.objects.get(pk=project.pk).quality_stale_at is None
