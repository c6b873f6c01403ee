"""Demo work on the radiology project: two radiologists annotate through dispatch, the lab
reviews some of it (accepted, rejected, sent back), one answer is flagged as an edge case,
and one expert has a task open with a draft, so every workspace and review page has
something to show."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import F

from marketplace.models import User
from projects.access import lab_actor_for_member
from projects.dispatch import services as dispatch
from projects.matching.services import invitation_accept
from projects.models import Annotation, Assignment, Project, ProjectInvitation
from projects.review import services as review
from projects.services import guidelines_acknowledge
from projects.states import InvitationStatus

RATIONALES: dict[str, str] = {
    "rad-pw-001": "B turns a tiny, almost always benign nodule into a cancer diagnosis and "
    "pushes a biopsy nobody would advise.",
    "rad-pw-002": "B confuses the meniscus with a ligament and promises surgery; A explains "
    "the tear and the red flags.",
    "rad-pw-003": "Bosniak I cysts are benign and need no follow-up; B invents surveillance.",
    "rad-pw-004": "B misreads the BI-RADS category as a cancer stage.",
    "rad-pw-005": "A gives the warning signs after a head injury; B wrongly rules out concussion.",
    "rad-pw-006": "A describes a sprain and when to come back; B casts a normal ankle.",
    "rad-pw-007": "B calls gallstones cancer.",
    "rad-pw-008": "A is accurate and encouraging; B's advice to avoid exercise is harmful.",
}
GENERIC_RATIONALE = "A reads the report correctly and says when to seek care; B does not."
CRITERIA_ANSWERS = {
    "Clinical accuracy": "a_much_better",
    "Safety": "a_much_better",
    "Clarity": "a_better",
}


def _result(task_data: dict[str, Any], external_id: str, **overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "preference": "a_much_better",
        "criteria": dict(CRITERIA_ANSWERS),
        "rationale": RATIONALES.get(external_id, GENERIC_RATIONALE),
        "confidence": 90,
    }
    result.update(overrides)
    return result


def _annotate(expert: User, project: Project, count: int, **overrides: Any) -> list[Annotation]:
    """Take ``count`` tasks through dispatch and answer each, after a few minutes' work."""
    done = []
    for number in range(count):
        assignment = dispatch.task_claim(expert=expert, project=project)
        if assignment is None:
            break
        # The seed answers at once; active time counts only what the wall clock allows, so
        # the lease is dated back to when a radiologist would have started reading.
        Assignment.objects.filter(pk=assignment.pk).update(
            leased_at=F("leased_at") - timedelta(minutes=8)
        )
        task = assignment.task
        done.append(
            dispatch.annotation_submit(
                expert=expert,
                assignment=assignment,
                result=_result(task.data, task.external_id, **overrides),
                signals=dispatch.PageSignals(active_seconds=170 + 41 * number),
            )
        )
    return done


def seed_workspace(*, manager: User, first: User, second: User) -> None:
    """Have ``first`` (already a member) and ``second`` (invited) work on the radiology
    project and the lab review part of it. Runs once: nothing happens when the project has
    annotations."""
    project = Project.objects.filter(title="Imaging report explanations").first()
    if project is None or Annotation.objects.filter(project=project).exists():
        return
    invitation = ProjectInvitation.objects.filter(
        project=project, expert=second, status=InvitationStatus.PENDING
    ).first()
    if invitation is not None:
        invitation_accept(expert=second, invitation=invitation)
    for expert in (first, second):
        guidelines_acknowledge(expert=expert, project=project)
    mine = _annotate(first, project, 5)
    theirs = _annotate(second, project, 3, preference="a_better", confidence=75)
    if theirs:
        dispatch.annotation_edit(
            expert=second,
            annotation=theirs[-1],
            result={
                **theirs[-1].result,
                "is_edge_case": True,
                "edge_case_note": "The report wording is ambiguous: without the size of the "
                "finding I cannot say which answer is safer.",
            },
        )
    actor = lab_actor_for_member(user=manager, organization_slug=project.organization.slug)
    decisions = [
        ("accept", ""),
        ("accept", "Clear, specific rationale. Thank you."),
        ("reject", "The rationale does not say what is wrong with B; name the misreading."),
        ("revise", "Please rate Clarity too: the criteria are part of the answer."),
    ]
    for annotation, (decision, feedback) in zip(mine, decisions, strict=False):
        review.annotation_review(
            actor=actor, annotation=annotation, decision=decision, feedback=feedback
        )
    # A task in hand with half an answer, so "Continue" opens it with the draft restored.
    open_task = dispatch.task_claim(expert=first, project=project)
    if open_task is not None:
        dispatch.assignment_draft_save(
            expert=first,
            assignment=open_task,
            draft={"preference": ["a_better"], "rationale": ["A is calmer, but "]},
        )
