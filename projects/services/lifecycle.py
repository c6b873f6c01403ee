"""Project lifecycle: funding and the state machine (DESIGN.md, flow 2)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput
from payments.ledger import escrow_deposit, escrow_release
from projects.access import LabActor, lab_audit_record
from projects.models import Project, ProjectFunding
from projects.pricing import format_dollars
from projects.selectors import required_funds_cents
from projects.services.projects import MAX_BUDGET_CENTS
from projects.states import (
    FUNDABLE_PROJECT_STATES,
    ProjectStatus,
    WebhookEvent,
    project_can_transition,
)

# Funding ---------------------------------------------------------------------------------


def project_fund(
    *,
    actor: LabActor,
    project: Project,
    amount_cents: int,
    idempotency_key: str | None = None,
    ip_address: str | None = None,
) -> ProjectFunding:
    """Move ``amount_cents`` of the lab's balance into the project's escrow; a draft becomes
    funded. A balance short of the amount refuses it (InsufficientFunds: add funds first).
    Repeating a call with the same idempotency key returns the first funding."""
    actor.require_manager("fund projects")
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidInput("The amount must be a positive number of cents.", field="amount_cents")
    if amount_cents > MAX_BUDGET_CENTS:
        raise InvalidInput("The amount is too large.", field="amount_cents")
    key = idempotency_key or uuid.uuid4().hex
    if len(key) > 80:
        raise InvalidInput(
            "The idempotency key is too long (80 characters).", field="idempotency_key"
        )
    scoped_key = f"{actor.organization.pk}:{key}"
    existing = ProjectFunding.objects.filter(idempotency_key=scoped_key).first()
    if existing is not None:
        return _the_same_funding(existing, project=project, amount_cents=amount_cents)
    try:
        with transaction.atomic():
            locked = Project.objects.select_for_update().get(pk=project.pk)
            # A concurrent call with the same key waited for the lock: it finds the first
            # funding here and charges nothing.
            existing = ProjectFunding.objects.filter(idempotency_key=scoped_key).first()
            if existing is not None:
                return _the_same_funding(existing, project=project, amount_cents=amount_cents)
            if locked.status not in FUNDABLE_PROJECT_STATES:
                raise Conflict(
                    f"A {locked.get_status_display().lower()} project cannot take more funds."
                )
            deposit = escrow_deposit(
                project=locked,
                amount_cents=amount_cents,
                key=f"escrow:{scoped_key}",
                created_by=actor.user,
            )
            funding = ProjectFunding.objects.create(
                project=locked,
                amount_cents=amount_cents,
                currency=locked.currency,
                provider="balance",
                reference=deposit.key,
                idempotency_key=scoped_key,
                created_by=actor.user,
            )
            before = locked.status
            Project.objects.filter(pk=locked.pk).update(
                funded_cents=F("funded_cents") + amount_cents
            )
            if locked.status == ProjectStatus.DRAFT:
                Project.objects.filter(pk=locked.pk).update(status=ProjectStatus.FUNDED)
            lab_audit_record(
                actor=actor,
                action="project.fund",
                target=locked,
                before={"status": before, "funded_cents": locked.funded_cents},
                after={
                    "amount_cents": amount_cents,
                    "reference": deposit.key,
                },
                ip_address=ip_address,
            )
    except IntegrityError:
        # The same key for another project of the organisation, committed meanwhile.
        existing = ProjectFunding.objects.filter(idempotency_key=scoped_key).first()
        if existing is None:
            raise
        return _the_same_funding(existing, project=project, amount_cents=amount_cents)
    project.refresh_from_db()
    return funding


def _the_same_funding(
    existing: ProjectFunding, *, project: Project, amount_cents: int
) -> ProjectFunding:
    if existing.project_id != project.pk or existing.amount_cents != amount_cents:
        raise Conflict("This idempotency key was used for a different funding.")
    return existing


# States ----------------------------------------------------------------------------------

# The past participle used in refusals ("A draft project cannot be paused.").
_DONE = {
    "activate": "activated",
    "pause": "paused",
    "resume": "resumed",
    "complete": "completed",
    "archive": "archived",
}


def _transition(
    *,
    actor: LabActor,
    project: Project,
    target: str,
    verb: str,
    ip_address: str | None,
    guard: Callable[[Project], None] | None = None,
    from_states: frozenset[str] | None = None,
) -> Project:
    actor.require_manager(f"{verb} projects")
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if not project_can_transition(locked.status, target) or (
            from_states is not None and locked.status not in from_states
        ):
            raise Conflict(
                f"A {locked.get_status_display().lower()} project cannot be {_DONE[verb]}."
            )
        if guard is not None:
            guard(locked)
        before = locked.status
        locked.status = target
        now = timezone.now()
        if target == ProjectStatus.ACTIVE and locked.activated_at is None:
            locked.activated_at = now
        if target == ProjectStatus.COMPLETED:
            locked.completed_at = now
        locked.save(update_fields=["status", "activated_at", "completed_at", "updated_at"])
        lab_audit_record(
            actor=actor,
            action=f"project.{verb}",
            target=locked,
            before={"status": before},
            after={"status": target},
            ip_address=ip_address,
        )
        from projects.matching.services import matching_run_request

        if target == ProjectStatus.ACTIVE:
            matching_run_request(trigger="project_activated")
        elif target == ProjectStatus.COMPLETED:
            # The experts' seats on it free their hours for other projects.
            matching_run_request(trigger="capacity_freed")
        if target in (ProjectStatus.COMPLETED, ProjectStatus.ARCHIVED):
            # Unused budget goes back to the lab; answers still waiting for review stay
            # covered, and what they free is returned as they are decided.
            escrow_release(project=locked, created_by=actor.user)
        if target == ProjectStatus.COMPLETED:
            from projects.services.webhooks import webhook_event_emit

            webhook_event_emit(
                organization=actor.organization,
                event=WebhookEvent.PROJECT_COMPLETED,
                data={
                    "project": str(locked.public_id),
                    "title": locked.title,
                    "completed_at": now.isoformat(),
                },
            )
    project.refresh_from_db()
    return project


def activation_problems(*, project: Project) -> list[str]:
    """What stands between the project and going live (empty when it may go live)."""
    problems = []
    task_count = project.tasks.filter(is_gold=False).count()
    if not task_count:
        problems.append("Import at least one task.")
    if not project.guidelines_version:
        problems.append("Write the guidelines.")
    needed = required_funds_cents(project=project, task_count=task_count)
    if project.funded_cents < needed:
        problems.append(
            f"Funds must cover {task_count:,} tasks × {project.overlap} annotations, the gold "
            f"answers mixed in, and the fee: {format_dollars(needed)} needed, "
            f"{format_dollars(project.funded_cents)} funded."
        )
    return problems


def _require_ready(project: Project) -> None:
    problems = activation_problems(project=project)
    if problems:
        raise Conflict(" ".join(problems))


def project_activate(
    *, actor: LabActor, project: Project, ip_address: str | None = None
) -> Project:
    """Go live: needs tasks, guidelines, and funds covering tasks × overlap × price + fee."""
    if project.status == ProjectStatus.PAUSED:
        return project_resume(actor=actor, project=project, ip_address=ip_address)
    return _transition(
        actor=actor,
        project=project,
        target=ProjectStatus.ACTIVE,
        verb="activate",
        ip_address=ip_address,
        guard=_require_ready,
    )


def project_pause(*, actor: LabActor, project: Project, ip_address: str | None = None) -> Project:
    """Stop handing out new tasks; work already leased may still be submitted."""
    return _transition(
        actor=actor,
        project=project,
        target=ProjectStatus.PAUSED,
        verb="pause",
        ip_address=ip_address,
    )


def project_resume(*, actor: LabActor, project: Project, ip_address: str | None = None) -> Project:
    """Back to active, under the same guards as the first activation (tasks may have grown)."""
    return _transition(
        actor=actor,
        project=project,
        target=ProjectStatus.ACTIVE,
        verb="resume",
        ip_address=ip_address,
        guard=_require_ready,
        from_states=frozenset({ProjectStatus.PAUSED}),
    )


def project_complete(
    *, actor: LabActor, project: Project, ip_address: str | None = None
) -> Project:
    """Close the project to new work and tell the lab's webhooks."""
    return _transition(
        actor=actor,
        project=project,
        target=ProjectStatus.COMPLETED,
        verb="complete",
        ip_address=ip_address,
    )


def project_archive(*, actor: LabActor, project: Project, ip_address: str | None = None) -> Project:
    """Hide a completed project (or an abandoned draft) from the working lists."""
    return _transition(
        actor=actor,
        project=project,
        target=ProjectStatus.ARCHIVED,
        verb="archive",
        ip_address=ip_address,
    )
