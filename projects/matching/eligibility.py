"""Who may be invited to a project: named rules, each a database filter over experts.

An expert is eligible when every rule holds. The rules are listed in the order staff read
them: the first that fails is the reason shown for an excluded expert. ``candidates`` applies
the same rules to arrays for the global run; a test keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Lower, Trim
from django.utils import timezone

from experts.models import Credential, Domain, ExpertDomain, ExpertLanguage, ExpertProfile
from experts.selectors import vetted_for_domain_condition
from experts.states import CredentialKind, CredentialStatus, Proficiency, Seniority
from marketplace.models import User
from marketplace.states import UserRole
from projects.matching.models import LabExclusion, ProjectInvitation, ProjectMember
from projects.models import Project
from projects.states import (
    SEAT_HOLDING_INVITATION_STATES,
    InvitationStatus,
    MemberStatus,
    ProjectStatus,
)

# Seats on projects in these states count against an expert's weekly hours.
SEAT_HOLDING_PROJECT_STATES = frozenset({ProjectStatus.ACTIVE, ProjectStatus.PAUSED})
# Projects whose open seats matching fills.
MATCHABLE_PROJECT_STATES = frozenset({ProjectStatus.ACTIVE})

PROFICIENCY_ORDER: list[str] = list(Proficiency.values)
SENIORITY_ORDER: list[str] = list(Seniority.values)


def at_least(order: list[str], level: str) -> list[str]:
    """The levels of ``order`` at or above ``level``."""
    return order[order.index(level) :]


def seat_hours() -> int:
    """Weekly hours one seat asks of an expert."""
    return int(settings.MATCHING_SEAT_WEEKLY_HOURS)


def related_domain_ids(domain: Domain) -> list[int]:
    """The project's domain, the field above it and the specialties below it: a credential or
    a claimed seniority in any of them speaks for the project's domain."""
    ids = [domain.pk]
    if domain.parent_id is not None:
        ids.append(domain.parent_id)
    ids.extend(Domain.objects.filter(parent=domain).values_list("pk", flat=True))
    return ids


def seat_holding_invitations() -> QuerySet[ProjectInvitation]:
    """Invitations that hold a seat: pending or accepted, unless the lab removed the member."""
    return ProjectInvitation.objects.filter(status__in=SEAT_HOLDING_INVITATION_STATES).exclude(
        member__status=MemberStatus.REMOVED
    )


def hours_taking_invitations() -> QuerySet[ProjectInvitation]:
    """Seat-holding invitations on live projects: what counts against an expert's hours."""
    return seat_holding_invitations().filter(project__status__in=SEAT_HOLDING_PROJECT_STATES)


def held_seats(expert: Any) -> Subquery:
    """How many seats the expert holds now (``hours_taking_invitations``). ``expert`` is a
    value or an OuterRef."""
    return Subquery(
        hours_taking_invitations()
        .filter(expert=expert)
        .order_by()
        .values("expert")
        .annotate(n=Count("pk"))
        .values("n"),
        output_field=IntegerField(),
    )


@dataclass(frozen=True)
class ProjectFacts:
    """What the rules need to know about a project, read once."""

    project: Project
    domain_ids: list[int]
    today: date

    @classmethod
    def of(cls, project: Project) -> ProjectFacts:
        return cls(
            project=project,
            domain_ids=related_domain_ids(project.domain),
            today=timezone.localdate(),
        )


def _unexpired(today: date) -> Q:
    return Q(expires_on__isnull=True) | Q(expires_on__gte=today)


def _vetted(facts: ProjectFacts) -> Q:
    domain = facts.project.domain
    return vetted_for_domain_condition(
        expert=OuterRef("pk"), domain=domain.pk, domain_parent=domain.parent_id, today=facts.today
    )


def _accepting(facts: ProjectFacts) -> Q:
    return Q(expert_profile__accepting_invitations=True)


def _capacity(facts: ProjectFacts) -> Q:
    hours = seat_hours()
    needed = ExpressionWrapper(
        (Coalesce(held_seats(OuterRef("pk")), Value(0)) + 1) * hours, output_field=IntegerField()
    )
    return Q(expert_profile__weekly_availability_hours__gte=needed)


def _credentials(facts: ProjectFacts) -> Q:
    condition = Q()
    for kind in facts.project.required_credential_kinds:
        condition &= Q(
            Exists(
                Credential.objects.filter(
                    _unexpired(facts.today),
                    expert=OuterRef("pk"),
                    kind=kind,
                    status=CredentialStatus.VERIFIED,
                    domains__in=facts.domain_ids,
                )
            )
        )
    return condition


def _seniority(facts: ProjectFacts) -> Q:
    if not facts.project.min_seniority:
        return Q()
    return Q(
        Exists(
            ExpertDomain.objects.filter(
                profile__user=OuterRef("pk"),
                domain__in=facts.domain_ids,
                seniority__in=at_least(SENIORITY_ORDER, facts.project.min_seniority),
            )
        )
    )


def _languages(facts: ProjectFacts) -> Q:
    levels = at_least(PROFICIENCY_ORDER, facts.project.language_level)
    condition = Q()
    for language in facts.project.languages:
        condition &= Q(
            Exists(
                ExpertLanguage.objects.filter(
                    profile__user=OuterRef("pk"), language=language, proficiency__in=levels
                )
            )
        )
    return condition


def _country(facts: ProjectFacts) -> Q:
    if not facts.project.allowed_countries:
        return Q()
    return Q(expert_profile__country__in=facts.project.allowed_countries)


def _not_excluded(facts: ProjectFacts) -> Q:
    return ~Q(
        Exists(
            LabExclusion.objects.filter(
                expert=OuterRef("pk"), organization_id=facts.project.organization_id
            )
        )
    )


def normalised_name(name: str | None) -> str:
    """An organisation or employer name as the conflict rule compares them: trimmed and
    lower-cased (what the database's TRIM and LOWER do; inner spaces are kept)."""
    return (name or "").strip().lower()


def _no_conflict(facts: ProjectFacts) -> Q:
    name = normalised_name(facts.project.organization.name)
    employed = Credential.objects.annotate(normalised=Lower(Trim("issuer"))).filter(
        _unexpired(facts.today),
        expert=OuterRef("pk"),
        kind=CredentialKind.EMPLOYMENT,
        status=CredentialStatus.VERIFIED,
        normalised=name,
    )
    works_there = ExpertProfile.objects.annotate(normalised=Lower(Trim("employer"))).filter(
        user=OuterRef("pk"), normalised=name
    )
    return ~Q(Exists(works_there)) & ~Q(Exists(employed))


def _not_on_project(facts: ProjectFacts) -> Q:
    return ~Q(
        Exists(
            ProjectInvitation.objects.filter(
                expert=OuterRef("pk"),
                project=facts.project,
                status__in=SEAT_HOLDING_INVITATION_STATES,
            )
        )
    ) & ~Q(Exists(ProjectMember.objects.filter(expert=OuterRef("pk"), project=facts.project)))


def _not_turned_down(facts: ProjectFacts) -> Q:
    return ~Q(
        Exists(
            ProjectInvitation.objects.filter(
                expert=OuterRef("pk"),
                project=facts.project,
                status__in=[InvitationStatus.DECLINED, InvitationStatus.EXPIRED],
            )
        )
    )


@dataclass(frozen=True)
class Rule:
    name: str
    # Why an expert failing the rule is not invited (staff and lab read this).
    reason: str
    condition: Callable[[ProjectFacts], Q]
    # False: a lab's direct invitation may override it (the lab asks again on purpose).
    applies_to_direct: bool = True


RULES: list[Rule] = [
    Rule("vetted", "Not vetted for the project's domain", _vetted),
    Rule("accepting", "Has paused new invitations", _accepting),
    Rule("capacity", "No weekly hours left for another seat", _capacity),
    Rule("credentials", "Lacks a required verified credential", _credentials),
    Rule("seniority", "Below the project's minimum seniority", _seniority),
    Rule("languages", "Does not speak a required language at the required level", _languages),
    Rule("country", "Lives outside the project's allowed countries", _country),
    Rule("excluded", "Excluded by the lab", _not_excluded),
    Rule("conflict", "Conflict of interest: works for the lab", _no_conflict),
    Rule("on_project", "Already invited to or on the project", _not_on_project),
    Rule(
        "turned_down",
        "Declined or let expire an earlier invitation to the project",
        _not_turned_down,
        applies_to_direct=False,
    ),
]
RULE_REASONS: dict[str, str] = {rule.name: rule.reason for rule in RULES}


def _experts() -> QuerySet[User]:
    return User.objects.filter(role=UserRole.EXPERT, is_active=True)


def eligible_experts(*, project: Project, direct: bool = False) -> QuerySet[User]:
    """Every expert who may be invited to ``project`` now (``direct``: by the lab itself)."""
    facts = ProjectFacts.of(project)
    experts = _experts()
    for rule in RULES:
        if direct and not rule.applies_to_direct:
            continue
        experts = experts.filter(rule.condition(facts))
    return experts


def failed_rules(*, project: Project, expert: User, direct: bool = False) -> list[Rule]:
    """The rules ``expert`` fails for ``project``, in order (one query). Not an expert at
    all fails "vetted"."""
    facts = ProjectFacts.of(project)
    rules = [rule for rule in RULES if not (direct and not rule.applies_to_direct)]
    row = (
        _experts()
        .filter(pk=expert.pk)
        .annotate(
            **{
                f"passes_{rule.name}": ExpressionWrapper(
                    rule.condition(facts) or Q(pk__isnull=False), output_field=BooleanField()
                )
                for rule in rules
            }
        )
        .values(*[f"passes_{rule.name}" for rule in rules])
        .first()
    )
    if row is None:
        return [RULES[0]]
    return [rule for rule in rules if not row[f"passes_{rule.name}"]]
