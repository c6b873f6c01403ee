"""Reads of matching, scoped to the caller: seats for labs, invitations for experts, runs and
candidate reports for staff."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Case, Count, Exists, OuterRef, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.safestring import SafeString

from experts.models import Credential
from experts.states import CredentialKind, CredentialStatus
from marketplace.errors import NotFound
from marketplace.models import Organization, User
from projects.access import LabActor
from projects.markdown import render_markdown
from projects.matching.candidates import load_pool
from projects.matching.eligibility import RULE_REASONS, seat_holding_invitations
from projects.matching.models import LabExclusion, MatchingRun, ProjectInvitation, ProjectMember
from projects.matching.scoring import COMPONENTS, LABELS, WEIGHTS
from projects.models import Assignment, GuidelineVersion, Project
from projects.states import AssignmentStatus, InvitationStatus, ProjectStatus
from projects.task_types import task_type_for

GUIDELINES_SUMMARY_CHARACTERS = 1200


def _as_uuid(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound() from None


def pseudonym(profile_public_id: uuid.UUID | None) -> str:
    """How labs see an expert: a stable, meaningless short id."""
    return f"Expert {profile_public_id.hex[:8]}" if profile_public_id else "Expert"


@dataclass(frozen=True)
class ComponentValue:
    label: str
    value: float
    weight: float

    @property
    def contribution(self) -> float:
        return self.value * self.weight


def breakdown(components: dict[str, float]) -> list[ComponentValue]:
    """The stored components in the scoring order, with labels and weights."""
    return [
        ComponentValue(c.label, float(components.get(c.name, 0.0)), c.weight) for c in COMPONENTS
    ]


# Seats (labs) ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeatSummary:
    seats: int
    pending: int
    accepted: int

    @property
    def open(self) -> int:
        return max(0, self.seats - self.pending - self.accepted)


def seat_summary(*, project: Project) -> SeatSummary:
    counts = (
        seat_holding_invitations()
        .filter(project=project)
        .aggregate(
            pending=Count("pk", filter=Q(status=InvitationStatus.PENDING)),
            accepted=Count("pk", filter=Q(status=InvitationStatus.ACCEPTED)),
        )
    )
    return SeatSummary(seats=project.seats, pending=counts["pending"], accepted=counts["accepted"])


@dataclass(frozen=True)
class CredentialSummary:
    kind_label: str
    title: str
    domains: str
    verified_on: date | None


@dataclass
class SeatRow:
    invitation: ProjectInvitation
    pseudonym: str
    expert_id: str
    components: list[ComponentValue]
    credentials: list[CredentialSummary] = field(default_factory=list)
    seniority_label: str = ""
    languages: str = ""
    country_name: str = ""

    @property
    def status(self) -> str:
        return self.invitation.status

    @property
    def source(self) -> str:
        return self.invitation.source

    @property
    def score(self) -> float:
        return self.invitation.score


def _verified_credentials() -> Prefetch[str, QuerySet[Credential], str]:
    """Verified, unexpired credentials, except employment (it names the employer, which
    stays private)."""
    return Prefetch(
        "expert__credentials",
        queryset=Credential.objects.filter(
            Q(expires_on__isnull=True) | Q(expires_on__gte=timezone.localdate()),
            status=CredentialStatus.VERIFIED,
        )
        .exclude(kind=CredentialKind.EMPLOYMENT)
        .prefetch_related("domains")
        .order_by("-verified_at"),
        to_attr="verified_credentials",
    )


def seat_invitations(*, project: Project, status: str | None = None) -> QuerySet[ProjectInvitation]:
    """The project's invitations, newest first, with what a seat row shows."""
    invitations = (
        project.invitations.select_related("expert__expert_profile", "member")
        .prefetch_related(
            _verified_credentials(),
            "expert__expert_profile__languages",
            "expert__expert_profile__domains__domain",
        )
        .order_by("-created_at", "-pk")
    )
    if status:
        invitations = invitations.filter(status=status)
    return invitations


def seat_rows(
    *,
    project: Project,
    status: str | None = None,
    invitations: Iterable[ProjectInvitation] | None = None,
) -> list[SeatRow]:
    """The project's invitations (or ``invitations``, e.g. one page of
    ``seat_invitations``) as a lab sees them: pseudonyms and credential summaries, never
    names, e-mails or documents."""
    if invitations is None:
        invitations = seat_invitations(project=project, status=status)
    rows = []
    for invitation in invitations:
        profile = getattr(invitation.expert, "expert_profile", None)
        claims = profile.domains.all() if profile else []
        seniority = [c for c in claims if c.domain_id == project.domain_id]
        rows.append(
            SeatRow(
                invitation=invitation,
                pseudonym=pseudonym(profile.public_id if profile else None),
                expert_id=str(profile.public_id) if profile else "",
                components=breakdown(invitation.components),
                credentials=[
                    CredentialSummary(
                        kind_label=credential.get_kind_display(),
                        title=credential.title,
                        domains=", ".join(d.name for d in credential.domains.all()),
                        verified_on=(
                            credential.verified_at.date() if credential.verified_at else None
                        ),
                    )
                    for credential in invitation.expert.verified_credentials  # type: ignore[attr-defined]
                ],
                seniority_label=seniority[0].get_seniority_display() if seniority else "",
                languages=", ".join(
                    f"{language.get_language_display()} ({language.proficiency})"
                    for language in profile.languages.all()
                )
                if profile
                else "",
                country_name=profile.country.name if profile and profile.country else "",
            )
        )
    return rows


def invitation_for_lab(
    *, actor: LabActor, public_id: Any, project: Project | None = None
) -> ProjectInvitation:
    """The lab's invitation (on ``project``, when given); NotFound for any other."""
    invitations = ProjectInvitation.objects.select_related("project", "expert__expert_profile")
    if project is not None:
        invitations = invitations.filter(project=project)
    try:
        return invitations.get(
            public_id=_as_uuid(public_id), project__organization=actor.organization
        )
    except ProjectInvitation.DoesNotExist:
        raise NotFound() from None


def lab_exclusions(*, organization: Organization) -> QuerySet[LabExclusion]:
    return (
        LabExclusion.objects.filter(organization=organization)
        .select_related("expert__expert_profile", "created_by")
        .order_by("-created_at")
    )


def exclusion_for_lab(*, actor: LabActor, exclusion_id: Any) -> LabExclusion:
    try:
        return LabExclusion.objects.select_related("expert__expert_profile").get(
            pk=int(exclusion_id), organization=actor.organization
        )
    except (LabExclusion.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None


def experts_known_to_lab(*, organization: Organization) -> list[tuple[str, str]]:
    """(pseudonym, expert id) of experts who held a seat on one of the lab's projects."""
    public_ids = (
        ProjectMember.objects.filter(project__organization=organization)
        .order_by()
        .values_list("expert__expert_profile__public_id", flat=True)
        .distinct()
    )
    return sorted((pseudonym(value), str(value)) for value in public_ids if value is not None)


# Experts -----------------------------------------------------------------------------------


def invitations_for_expert(*, expert: User) -> QuerySet[ProjectInvitation]:
    """The expert's invitations: pending ones first, each group newest first."""
    return (
        ProjectInvitation.objects.filter(expert=expert)
        .select_related("project__domain__parent", "project__organization")
        .alias(is_pending=Case(When(status="pending", then=Value(0)), default=Value(1)))
        .order_by("is_pending", "-created_at")
    )


def invitation_closed_reason(*, invitation: ProjectInvitation, now: datetime) -> str:
    """Why a pending invitation can no longer be answered (expired, project paused or
    closed); empty when it still can, or when it is not pending. Pages show it instead of the
    buttons; the answering services refuse with it."""
    if invitation.status != InvitationStatus.PENDING:
        return ""
    if invitation.expires_at <= now:
        return "This invitation has expired: the seat goes back to the next matching run."
    status = invitation.project.status
    if status == ProjectStatus.PAUSED:
        return "The lab has paused this project, so it takes no new experts for now."
    if status != ProjectStatus.ACTIVE:
        return "This project is no longer taking experts."
    return ""


def invitation_for_expert(*, expert: User, public_id: Any) -> ProjectInvitation:
    if not expert.is_authenticated:
        raise NotFound()
    try:
        return ProjectInvitation.objects.select_related(
            "project__domain__parent", "project__organization"
        ).get(public_id=_as_uuid(public_id), expert=expert)
    except ProjectInvitation.DoesNotExist:
        raise NotFound() from None


@dataclass(frozen=True)
class InvitationOffer:
    title: str
    summary: str
    organization: str
    domain: str
    task_type_label: str
    guidelines_html: SafeString
    guidelines_truncated: bool
    price_cents: int
    currency: str
    hourly_estimate_cents: int
    weekly_hours: int
    estimated_hours: int
    deadline: date | None
    expires_at: datetime


def invitation_offer(*, invitation: ProjectInvitation) -> InvitationOffer:
    """What the expert may know before accepting: the project, not its tasks."""
    project = invitation.project
    task_type = task_type_for(project.task_type)
    version = (
        GuidelineVersion.objects.filter(project=project, number=project.guidelines_version)
        .only("guidelines")
        .first()
    )
    text = version.guidelines if version else ""
    truncated = len(text) > GUIDELINES_SUMMARY_CHARACTERS
    if truncated:
        text = text[:GUIDELINES_SUMMARY_CHARACTERS].rsplit("\n", 1)[0] + "\n\n…"
    return InvitationOffer(
        title=project.title,
        summary=project.summary,
        organization=project.organization.name,
        domain=str(project.domain),
        task_type_label=task_type.label,
        guidelines_html=render_markdown(text),
        guidelines_truncated=truncated,
        price_cents=project.price_per_annotation_cents,
        currency=project.currency,
        hourly_estimate_cents=project.price_per_annotation_cents * 60 // task_type.typical_minutes,
        weekly_hours=invitation.weekly_hours,
        estimated_hours=invitation.estimated_hours,
        deadline=project.deadline,
        expires_at=invitation.expires_at,
    )


def memberships_of_expert(*, expert: User) -> QuerySet[ProjectMember]:
    """The expert's seats, newest first; ``has_work`` says they hold a task in hand there."""
    return (
        ProjectMember.objects.filter(expert=expert)
        .select_related("project__organization", "project__domain__parent")
        .annotate(
            has_work=Exists(
                Assignment.objects.filter(
                    project=OuterRef("project"), expert=expert, status=AssignmentStatus.LEASED
                )
            )
        )
        .order_by("-created_at")
    )


# Staff -------------------------------------------------------------------------------------


def matching_runs(*, limit: int = 50) -> list[MatchingRun]:
    return list(MatchingRun.objects.select_related("started_by").order_by("-started_at")[:limit])


def matching_run_for_staff(*, staff: User, run_id: Any) -> MatchingRun:
    if not staff.is_staff:
        raise NotFound()
    try:
        return MatchingRun.objects.select_related("started_by").get(pk=int(run_id))
    except (MatchingRun.DoesNotExist, ValueError, TypeError):
        raise NotFound() from None


def run_invitations(*, run: MatchingRun) -> QuerySet[ProjectInvitation]:
    return run.invitations.select_related("project__organization", "expert").order_by(
        "project_id", "-score"
    )


def project_for_staff(*, staff: User, project_id: Any) -> Project:
    if not staff.is_staff:
        raise NotFound()
    try:
        return Project.objects.select_related("organization", "domain__parent").get(
            public_id=_as_uuid(project_id)
        )
    except Project.DoesNotExist:
        raise NotFound() from None


@dataclass
class CandidateRow:
    rank: int
    expert: User
    pseudonym: str
    score: float
    components: list[ComponentValue]


@dataclass
class ExcludedRow:
    expert: User
    pseudonym: str
    rule: str
    reason: str


@dataclass
class CandidateReport:
    eligible: list[CandidateRow]
    excluded: list[ExcludedRow]
    weights: dict[str, float]
    labels: dict[str, str]


def candidate_report(*, project: Project, limit: int = 200) -> CandidateReport:
    """The project's vetted experts as the engine sees them now: eligible ones ranked with
    their score breakdown, the others with the first rule they fail. Staff only."""
    pool = load_pool(project_ids=[project.pk], explain=True)
    candidates = pool.candidates[0]
    shown = [int(pool.expert_ids[i]) for i in candidates.experts[:limit]]
    excluded_ids = list(candidates.failed)[:limit]
    users = User.objects.select_related("expert_profile").in_bulk(shown + excluded_ids)
    names = list(candidates.components)
    eligible = []
    for rank, expert_id in enumerate(shown):
        user = users[expert_id]
        profile = getattr(user, "expert_profile", None)
        eligible.append(
            CandidateRow(
                rank=rank + 1,
                expert=user,
                pseudonym=pseudonym(profile.public_id if profile else None),
                score=float(candidates.fit[rank]),
                components=breakdown(
                    {name: float(candidates.components[name][rank]) for name in names}
                ),
            )
        )
    excluded = []
    for expert_id in excluded_ids:
        user = users[expert_id]
        profile = getattr(user, "expert_profile", None)
        rule = candidates.failed[expert_id]
        excluded.append(
            ExcludedRow(
                expert=user,
                pseudonym=pseudonym(profile.public_id if profile else None),
                rule=rule,
                reason=RULE_REASONS[rule],
            )
        )
    return CandidateReport(eligible=eligible, excluded=excluded, weights=WEIGHTS, labels=LABELS)
