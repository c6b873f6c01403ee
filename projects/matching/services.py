"""Writes of matching: runs, invitations and their answers, seats, lab exclusions."""

from __future__ import annotations

import math
import time
import uuid
from datetime import datetime, timedelta
from functools import cache

import numpy as np
from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from experts.models import ExpertProfile
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.models import User
from marketplace.services import audit_record, notification_create
from projects.access import LabActor, lab_audit_record
from projects.matching.candidates import Pool, load_pool
from projects.matching.eligibility import failed_rules, seat_hours
from projects.matching.models import (
    LabExclusion,
    MatchingLock,
    MatchingRun,
    ProjectInvitation,
    ProjectMember,
)
from projects.matching.scoring import COMPONENTS
from projects.matching.selectors import invitation_closed_reason, seat_summary
from projects.matching.solver import Problem, cut, solve
from projects.matching.writer import Offer, offers_save
from projects.models import Project
from projects.states import (
    DeclineReason,
    InvitationSource,
    InvitationStatus,
    MemberStatus,
    ProjectStatus,
    RunStatus,
    RunTrigger,
)

RUN_QUEUED_KEY = "matching:run-queued"
# Rules about the expert's own circumstances: a lab is told only that they are unavailable.
PRIVATE_RULES = frozenset({"accepting", "capacity", "conflict", "excluded"})
# Projects whose invitations may still be answered, and that take direct invitations.
LIVE_PROJECT_STATES = frozenset({ProjectStatus.ACTIVE, ProjectStatus.PAUSED})
MAX_SEATS_ADDED = 500


_PLACEHOLDER = uuid.UUID(int=0)


@cache
def _link_template() -> str:
    return reverse("expert_invitation", kwargs={"invitation_id": _PLACEHOLDER})


def invitation_link_for(public_id: str) -> str:
    """The expert's page of the invitation with this id (the URL is reversed once: a run
    links thousands)."""
    return _link_template().replace(str(_PLACEHOLDER), public_id)


def invitation_link(invitation: ProjectInvitation) -> str:
    return invitation_link_for(str(invitation.public_id))


def _expires_at(now: datetime) -> datetime:
    return now + timedelta(hours=settings.MATCHING_INVITATION_HOURS)


def _rounded(components: dict[str, float]) -> dict[str, float]:
    return {name: round(float(value), 4) for name, value in components.items()}


# Runs --------------------------------------------------------------------------------------


def matching_run_request(*, trigger: str, started_by: User | None = None) -> None:
    """Queue a global run once the current transaction commits. Requests made while one is
    already queued join it (the queued run will see their changes)."""
    from projects.tasks import run_matching

    if trigger not in RunTrigger.values:
        raise InvalidInput(f"Unknown matching trigger “{trigger}”.", field="trigger")

    def queue() -> None:
        if django_cache.add(RUN_QUEUED_KEY, trigger, timeout=600):
            run_matching.delay(trigger=trigger, started_by_id=started_by.pk if started_by else None)

    transaction.on_commit(queue, robust=True)


def _invitation_offer_text(project: Project) -> str:
    return (
        f"You are invited to “{project.title}” ({project.domain.name}). Answer within "
        f"{settings.MATCHING_INVITATION_HOURS} hours to keep the seat."
    )


def _chosen_offers(pool: Pool, problem: Problem, chosen: np.ndarray) -> list[Offer]:
    """The solver's chosen pairs as offers, with their stored score breakdown."""
    assert problem.pair_index is not None  # noqa: S101 - set by Pool.problem
    names = [component.name for component in COMPONENTS]
    positions, indices = problem.pair_project[chosen], problem.pair_index[chosen]
    offers = []
    for position in np.unique(positions):
        open_project, candidates = pool.projects[position], pool.candidates[position]
        rows = indices[positions == position]
        experts = pool.expert_ids[candidates.experts[rows]].tolist()
        fits = np.round(candidates.fit[rows], 6).tolist()
        values = np.round(np.stack([candidates.components[n][rows] for n in names]), 4)
        hours = math.ceil(open_project.seat_total_hours)
        for k, expert_id in enumerate(experts):
            offers.append(
                Offer(
                    project=open_project.project,
                    expert_id=expert_id,
                    score=fits[k],
                    components=dict(zip(names, values[:, k].tolist(), strict=True)),
                    estimated_hours=hours,
                )
            )
    return offers


def _hold_matching_lock() -> None:
    """Wait for any run in progress and keep runs out until the transaction ends. Call
    inside the transaction of a write that changes who may be invited (a direct invitation,
    an exclusion), before reading anything: a run reads seats and hours once, then writes."""
    lock, _ = MatchingLock.objects.get_or_create(name="global")
    MatchingLock.objects.select_for_update().get(pk=lock.pk)


def run_problem(pool: Pool) -> Problem:
    """What a run solves: every eligible pair when there are few enough for the solver's
    time budget (the exact optimum), else the capacity-aware cut (``solver.cut``)."""
    problem = pool.problem()
    if len(problem.pair_fit) <= settings.MATCHING_MAX_UNCUT_PAIRS:
        return problem
    return cut(problem, settings.MATCHING_CANDIDATES_PER_SEAT)


def matching_run(*, trigger: str, started_by: User | None = None) -> MatchingRun:
    """Expire due invitations, then fill every open seat of every active project at once.

    Runs are serialised: a run waits for the one in progress (a row lock), then reads the
    state that run left, so re-runs never duplicate an invitation (a unique constraint
    guarantees it besides).
    """
    if trigger not in RunTrigger.values:
        raise InvalidInput(f"Unknown matching trigger “{trigger}”.", field="trigger")
    if started_by is not None and not started_by.is_staff:
        raise NotFound()
    django_cache.delete(RUN_QUEUED_KEY)
    run = MatchingRun.objects.create(
        trigger=trigger, started_by=started_by, started_at=timezone.now()
    )
    started = time.perf_counter()
    try:
        with transaction.atomic():
            _hold_matching_lock()
            now = timezone.now()
            run.invitations_expired = _expire_due(now=now)
            pool = load_pool()
            problem = run_problem(pool)
            read_done = time.perf_counter()
            solution = solve(problem)
            solve_done = time.perf_counter()
            offers = _chosen_offers(pool, problem, solution.chosen)
            offers_save(
                offers,
                run=run,
                now=now,
                expires_at=_expires_at(now),
                weekly_hours=seat_hours(),
                texts={o.project.pk: _invitation_offer_text(o.project)[:500] for o in offers},
                link_for=invitation_link_for,
            )
            run.status = RunStatus.FINISHED
            run.finished_at = timezone.now()
            run.projects_considered = len(pool.projects)
            run.open_seats = int(problem.seats.sum())
            run.experts_considered = len(pool.expert_ids)
            run.candidate_pairs = len(problem.pair_fit)
            run.invitations_created = len(offers)
            run.objective = solution.objective
            run.total_fit = solution.total_fit
            run.read_seconds = read_done - started
            run.solve_seconds = solve_done - read_done
            run.write_seconds = time.perf_counter() - solve_done
            run.total_seconds = time.perf_counter() - started
            run.save()
            if started_by is not None:
                audit_record(
                    actor=started_by,
                    action="matching.run",
                    target=run,
                    after={"invitations": len(offers)},
                )
    except Exception as error:
        MatchingRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            total_seconds=time.perf_counter() - started,
            error=f"{type(error).__name__}: {error}"[:300],
        )
        raise
    return run


def _expire_due(*, now: datetime) -> int:
    return ProjectInvitation.objects.filter(
        status=InvitationStatus.PENDING, expires_at__lte=now
    ).update(status=InvitationStatus.EXPIRED, updated_at=now)


def invitations_expire(*, now: datetime | None = None) -> int:
    """Expire pending invitations past their time; their seats go to the next run."""
    expired = _expire_due(now=now or timezone.now())
    if expired:
        matching_run_request(trigger=RunTrigger.CAPACITY_FREED)
    return expired


# Answers -----------------------------------------------------------------------------------


class _Expired(Exception):
    """The invitation ran out of time: mark it expired (outside the failed transaction)."""


def _lock_pending(*, expert: User, invitation: ProjectInvitation) -> ProjectInvitation:
    """The invitation, row-locked, if it belongs to ``expert`` and may still be answered.
    Call inside a transaction."""
    locked = (
        ProjectInvitation.objects.select_for_update(of=("self",))
        .select_related("project", "project__domain", "project__organization")
        .filter(pk=invitation.pk, expert=expert)
        .first()
    )
    if locked is None:
        raise NotFound()
    if locked.status != InvitationStatus.PENDING:
        raise Conflict(f"This invitation is {locked.get_status_display().lower()} already.")
    now = timezone.now()
    closed = invitation_closed_reason(invitation=locked, now=now)
    if closed and locked.expires_at <= now:
        raise _Expired(closed)
    if closed:
        raise Conflict(closed)
    return locked


def _expire_one(invitation: ProjectInvitation, expired: _Expired) -> None:
    ProjectInvitation.objects.filter(pk=invitation.pk, status=InvitationStatus.PENDING).update(
        status=InvitationStatus.EXPIRED, updated_at=timezone.now()
    )
    matching_run_request(trigger=RunTrigger.CAPACITY_FREED)
    raise Conflict(str(expired))


def invitation_accept(*, expert: User, invitation: ProjectInvitation) -> ProjectMember:
    """Take the seat: the expert becomes a member of the project."""
    try:
        with transaction.atomic():
            locked = _lock_pending(expert=expert, invitation=invitation)
            locked.status = InvitationStatus.ACCEPTED
            locked.responded_at = timezone.now()
            locked.save(update_fields=["status", "responded_at", "updated_at"])
            try:
                with transaction.atomic():
                    member = ProjectMember.objects.create(
                        project=locked.project, expert=expert, invitation=locked
                    )
            except IntegrityError:
                raise Conflict("You are already on this project.") from None
            audit_record(
                actor=expert,
                action="invitation.accept",
                target=locked,
                organization=locked.project.organization,
                after={"project": str(locked.project.public_id)},
            )
    except _Expired as expired:
        _expire_one(invitation, expired)
    invitation.refresh_from_db()
    return member


def invitation_decline(
    *, expert: User, invitation: ProjectInvitation, reason: str, note: str = ""
) -> ProjectInvitation:
    """Turn the seat down (with a reason) so the next run offers it to someone else."""
    if reason not in DeclineReason.values:
        raise InvalidInput("Choose a reason for declining.", field="reason")
    note = " ".join(note.split())
    if len(note) > 500:
        raise InvalidInput("The note is too long (500 characters at most).", field="note")
    try:
        with transaction.atomic():
            locked = _lock_pending(expert=expert, invitation=invitation)
            locked.status = InvitationStatus.DECLINED
            locked.responded_at = timezone.now()
            locked.decline_reason = reason
            locked.decline_note = note
            locked.save(
                update_fields=[
                    "status",
                    "responded_at",
                    "decline_reason",
                    "decline_note",
                    "updated_at",
                ]
            )
            audit_record(
                actor=expert,
                action="invitation.decline",
                target=locked,
                organization=locked.project.organization,
                after={"reason": reason},
            )
            matching_run_request(trigger=RunTrigger.CAPACITY_FREED)
    except _Expired as expired:
        _expire_one(invitation, expired)
    invitation.refresh_from_db()
    return invitation


# Lab actions -------------------------------------------------------------------------------


def _expert_by_public_id(public_id: str) -> User:
    try:
        value = uuid.UUID(str(public_id).strip())
    except ValueError:
        raise InvalidInput("That is not an expert id.", field="expert_id") from None
    profile = ExpertProfile.objects.select_related("user").filter(public_id=value).first()
    if profile is None:
        raise InvalidInput("No expert has this id.", field="expert_id")
    return profile.user


def invitation_direct_create(
    *, actor: LabActor, project: Project, expert_public_id: str, ip_address: str | None = None
) -> ProjectInvitation:
    """Offer a seat to one expert the lab chose, under the same eligibility rules (except
    that an expert who declined before may be asked again)."""
    actor.require_manager("invite experts")
    expert = _expert_by_public_id(expert_public_id)
    with transaction.atomic():
        _hold_matching_lock()
        locked = (
            Project.objects.select_for_update(of=("self",))
            .select_related("domain", "organization")
            .get(pk=project.pk, organization=actor.organization)
        )
        if locked.status not in LIVE_PROJECT_STATES:
            raise Conflict("Experts can be invited once the project is live.")
        if seat_summary(project=locked).open <= 0:
            raise Conflict("Every seat is taken or offered: ask for more seats first.")
        failed = failed_rules(project=locked, expert=expert, direct=True)
        # The project's own requirements are named; the expert's private circumstances
        # (paused, no hours left, employer) are not told to the lab.
        named = [rule.reason.lower() for rule in failed if rule.name not in PRIVATE_RULES]
        if failed:
            raise InvalidInput(
                "This expert cannot be invited: "
                + ("; ".join(named) if named else "they are not available for this project")
                + ".",
                field="expert_id",
            )
        pool = load_pool(project_ids=[locked.pk], only_experts=[expert.pk], direct=True)
        candidates, open_project = pool.candidates[0], pool.projects[0]
        if not len(candidates.experts):
            raise InvalidInput("This expert cannot be invited now.", field="expert_id")
        now = timezone.now()
        try:
            with transaction.atomic():
                invitation = ProjectInvitation.objects.create(
                    project=locked,
                    expert=expert,
                    source=InvitationSource.DIRECT,
                    invited_by=actor.user,
                    score=round(float(candidates.fit[0]), 6),
                    components=_rounded(
                        {name: values[0] for name, values in candidates.components.items()}
                    ),
                    weekly_hours=seat_hours(),
                    estimated_hours=math.ceil(open_project.seat_total_hours),
                    expires_at=_expires_at(now),
                )
        except IntegrityError:
            raise Conflict("This expert already has a seat on the project.") from None
        lab_audit_record(
            actor=actor,
            action="invitation.direct",
            target=invitation,
            after={"project": str(locked.public_id)},
            ip_address=ip_address,
        )
        notification_create(
            recipient=expert,
            kind="matching.invited",
            text=f"{locked.organization.name} invites you: " + _invitation_offer_text(locked),
            link=invitation_link(invitation),
        )
    return invitation


def invitation_withdraw(
    *, actor: LabActor, invitation: ProjectInvitation, ip_address: str | None = None
) -> ProjectInvitation:
    """Take back a pending invitation; its seat goes to the next run."""
    actor.require_manager("withdraw invitations")
    with transaction.atomic():
        locked = (
            ProjectInvitation.objects.select_for_update(of=("self",))
            .select_related("project")
            .filter(pk=invitation.pk, project__organization=actor.organization)
            .first()
        )
        if locked is None:
            raise NotFound()
        if locked.status != InvitationStatus.PENDING:
            raise Conflict(
                f"Only a pending invitation can be withdrawn; this one is "
                f"{locked.get_status_display().lower()}."
            )
        locked.status = InvitationStatus.WITHDRAWN
        locked.responded_at = timezone.now()
        locked.save(update_fields=["status", "responded_at", "updated_at"])
        lab_audit_record(
            actor=actor, action="invitation.withdraw", target=locked, ip_address=ip_address
        )
        notification_create(
            recipient=locked.expert,
            kind="matching.withdrawn",
            text=f"The invitation to “{locked.project.title}” was withdrawn by the lab.",
            send_email=False,
        )
        matching_run_request(trigger=RunTrigger.CAPACITY_FREED)
    invitation.refresh_from_db()
    return invitation


def lab_exclusion_create(
    *, actor: LabActor, expert_public_id: str, reason: str = "", ip_address: str | None = None
) -> LabExclusion:
    """Keep an expert off all the lab's projects: pending invitations are withdrawn and the
    expert leaves the lab's live projects."""
    actor.require_manager("exclude experts")
    expert = _expert_by_public_id(expert_public_id)
    reason = " ".join(reason.split())
    if len(reason) > 300:
        raise InvalidInput("The reason is too long (300 characters at most).", field="reason")
    with transaction.atomic():
        _hold_matching_lock()
        exclusion, created = LabExclusion.objects.get_or_create(
            organization=actor.organization,
            expert=expert,
            defaults={"reason": reason, "created_by": actor.user},
        )
        if not created:
            return exclusion
        now = timezone.now()
        withdrawn = ProjectInvitation.objects.filter(
            expert=expert,
            project__organization=actor.organization,
            status=InvitationStatus.PENDING,
        ).update(status=InvitationStatus.WITHDRAWN, responded_at=now, updated_at=now)
        removed = ProjectMember.objects.filter(
            expert=expert,
            project__organization=actor.organization,
            project__status__in=LIVE_PROJECT_STATES,
            status__in=[MemberStatus.ACTIVE, MemberStatus.PAUSED],
        ).update(status=MemberStatus.REMOVED, status_reason="Removed by the lab.", updated_at=now)
        lab_audit_record(
            actor=actor,
            action="expert.exclude",
            target=exclusion,
            after={"withdrawn": withdrawn, "removed": removed},
            ip_address=ip_address,
        )
        if withdrawn or removed:
            matching_run_request(trigger=RunTrigger.CAPACITY_FREED)
    return exclusion


def lab_exclusion_remove(
    *, actor: LabActor, exclusion: LabExclusion, ip_address: str | None = None
) -> None:
    actor.require_manager("change excluded experts")
    if exclusion.organization_id != actor.organization.pk:
        raise NotFound()
    with transaction.atomic():
        lab_audit_record(
            actor=actor, action="expert.include", target=exclusion, ip_address=ip_address
        )
        exclusion.delete()


def project_seats_add(
    *, actor: LabActor, project: Project, seats: int, ip_address: str | None = None
) -> Project:
    """Ask for more experts on a live project; the next run fills the new seats."""
    actor.require_manager("add seats")
    if isinstance(seats, bool) or not isinstance(seats, int) or not 1 <= seats <= MAX_SEATS_ADDED:
        raise InvalidInput(f"Add between 1 and {MAX_SEATS_ADDED} seats at a time.", field="seats")
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(
            pk=project.pk, organization=actor.organization
        )
        if locked.status not in LIVE_PROJECT_STATES:
            raise Conflict(
                "Seats can be added while the project is live; edit the project "
                "before it goes live instead."
            )
        if locked.seats + seats > 32767:
            raise InvalidInput("That is more seats than a project can have.", field="seats")
        before = locked.seats
        Project.objects.filter(pk=locked.pk).update(seats=F("seats") + seats)
        locked.refresh_from_db(fields=["seats"])
        lab_audit_record(
            actor=actor,
            action="project.seats_add",
            target=locked,
            before={"seats": before},
            after={"seats": locked.seats},
            ip_address=ip_address,
        )
        matching_run_request(trigger=RunTrigger.SEATS_ADDED)
    project.refresh_from_db()
    return project


__all__ = [
    "invitation_accept",
    "invitation_decline",
    "invitation_direct_create",
    "invitation_withdraw",
    "invitations_expire",
    "lab_exclusion_create",
    "lab_exclusion_remove",
    "matching_run",
    "matching_run_request",
    "project_seats_add",
]
