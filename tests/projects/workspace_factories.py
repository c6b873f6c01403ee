"""Projects with experts on them, ready for the workspace: dispatch, submission, review.

Members are written directly in the shape ``invitation_accept`` leaves (the matching tests
cover that path), with the current guidelines acknowledged so dispatch serves them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import F
from django.utils import timezone

from marketplace.models import User
from projects.access import LabActor
from projects.dispatch import services as dispatch
from projects.models import (
    Annotation,
    Assignment,
    GuidelineAcknowledgement,
    Project,
    ProjectInvitation,
    ProjectMember,
    Task,
)
from projects.states import InvitationSource, InvitationStatus
from projects.task_types import task_type_for
from tests import factories
from tests.projects import factories as project_factories
from tests.projects.matching_factories import vetted_expert


def member(project: Project, expert: User | None = None, *, acknowledge: bool = True) -> User:
    """Put ``expert`` (a new vetted one by default) on the project as an active member."""
    expert = expert or vetted_expert(project.domain.slug)
    invitation = ProjectInvitation.objects.create(
        project=project,
        expert=expert,
        source=InvitationSource.DIRECT,
        status=InvitationStatus.ACCEPTED,
        score=0.8,
        weekly_hours=5,
        expires_at=timezone.now() + timedelta(days=2),
        responded_at=timezone.now(),
    )
    ProjectMember.objects.create(project=project, expert=expert, invitation=invitation)
    if acknowledge:
        GuidelineAcknowledgement.objects.update_or_create(
            project=project, expert=expert, defaults={"version": project.guidelines_version}
        )
    return expert


def workspace(
    *,
    experts: int = 1,
    task_count: int = 3,
    gold: int = 0,
    actor: LabActor | None = None,
    **fields: Any,
) -> tuple[LabActor, Project, list[User]]:
    """An active project (pairwise by default) with tasks, ``gold`` gold tasks, and
    ``experts`` members. ``fields`` go to project creation (overlap, task_type, ...)."""
    actor = actor or project_factories.manager_actor()
    fields.setdefault("gold_rate_percent", 0)
    project = project_factories.active_project(actor, task_count=task_count, **fields)
    if gold:
        project_factories.tasks(project, gold, gold=True)
    return actor, project, [member(project) for _ in range(experts)]


def answer(project: Project, **overrides: Any) -> dict[str, Any]:
    """A valid result for the project's type (its example), with ``overrides`` applied."""
    result = dict(task_type_for(project.task_type).example_result())
    result.update(overrides)
    return result


def submit_next(expert: User, project: Project, **overrides: Any) -> Annotation:
    """Claim the expert's next task and submit the example answer on it."""
    assignment = dispatch.task_claim(expert=expert, project=project)
    assert assignment is not None, "no task left to claim"
    return dispatch.annotation_submit(
        expert=expert, assignment=assignment, result=answer(project, **overrides)
    )


def answer_task(expert: User, task: Task, project: Project, **overrides: Any) -> Annotation:
    """Lease ``task`` to the expert (as a claim would) and submit the example answer with
    ``overrides``: for tests that need a given expert on a given task."""
    now = timezone.now()
    assignment = Assignment.objects.create(
        task=task,
        project=project,
        expert=expert,
        holds_slot=not task.is_gold,
        leased_at=now,
        expires_at=now + timedelta(minutes=30),
    )
    if not task.is_gold:
        Task.objects.filter(pk=task.pk).update(reserved_count=F("reserved_count") + 1)
    assignment = Assignment.objects.select_related("task", "project").get(pk=assignment.pk)
    return dispatch.annotation_submit(
        expert=expert, assignment=assignment, result=answer(project, **overrides)
    )


def lab_viewer(actor: LabActor) -> User:
    """A viewer of the actor's organisation (may look, may not review)."""
    user = factories.lab_user()
    factories.add_member(actor.organization, user)
    return user


__all__ = [
    "Assignment",
    "answer",
    "answer_task",
    "lab_viewer",
    "member",
    "submit_next",
    "workspace",
]
