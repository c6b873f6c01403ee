"""Read every open project and its eligible experts in a few queries, and score the pairs.

The global run cannot afford a query per project, so this module reads the facts the rules
and the score need (one query per kind of fact, whatever the number of projects), then
applies the eligibility rules of ``eligibility.RULES`` and the components of ``scoring`` to
numpy arrays, project by project. ``tests/projects/test_matching_engine.py`` checks that it
agrees with the database filters of ``eligibility`` rule by rule.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from django.db.models import Count, OuterRef, Q
from django.utils import timezone

from experts.models import (
    Credential,
    DomainQualification,
    ExpertDomain,
    ExpertLanguage,
    ExpertProfile,
)
from experts.selectors import vetted_for_domain_condition
from experts.states import CredentialKind, CredentialStatus
from marketplace.states import UserRole
from projects.matching import scoring
from projects.matching.eligibility import (
    MATCHABLE_PROJECT_STATES,
    PROFICIENCY_ORDER,
    RULES,
    SEAT_HOLDING_PROJECT_STATES,
    SENIORITY_ORDER,
    seat_hours,
)
from projects.matching.models import (
    ExpertDomainRecord,
    LabExclusion,
    ProjectInvitation,
    ProjectMember,
)
from projects.models import Project
from projects.selectors import expected_annotations
from projects.states import SEAT_HOLDING_INVITATION_STATES, InvitationStatus, MemberStatus
from projects.task_types import task_type_for

RULE_NAMES = [rule.name for rule in RULES]
LEVEL_VALUES = np.array([scoring.LANGUAGE_VALUE[level] for level in PROFICIENCY_ORDER] + [0.0])
SENIORITY_VALUES = np.array([scoring.SENIORITY_VALUE[level] for level in SENIORITY_ORDER] + [0.0])


@dataclass
class OpenProject:
    """A project with open seats, as the run sees it."""

    project: Project
    open_seats: int
    related_domain_ids: tuple[int, ...]
    specialty_ids: list[int]
    hourly_cents: float
    seat_total_hours: float
    deadline_end: dt.datetime | None


@dataclass
class ProjectCandidates:
    """The eligible experts of one project (indices into ``Pool.expert_ids``) and their
    scores, best first; ``failed`` maps excluded experts to the first rule they fail."""

    experts: np.ndarray
    fit: np.ndarray
    components: dict[str, np.ndarray]
    failed: dict[int, str] = field(default_factory=dict)


@dataclass
class Pool:
    expert_ids: np.ndarray
    held: np.ndarray
    capacity: np.ndarray
    projects: list[OpenProject]
    candidates: list[ProjectCandidates]

    def problem(self, per_seat: int | None = None):  # -> solver.Problem
        """The solver's input: every project's best ``per_seat`` × open seats candidates
        (all of them when ``per_seat`` is None)."""
        from projects.matching.solver import Problem

        pair_project, pair_expert, pair_fit, seats = [], [], [], []
        for position, (open_project, candidates) in enumerate(
            zip(self.projects, self.candidates, strict=True)
        ):
            keep = len(candidates.experts)
            if per_seat is not None:
                open_seats = open_project.open_seats
                keep = min(keep, max(per_seat * open_seats, open_seats + 5))
            pair_project.append(np.full(keep, position, dtype=np.int64))
            pair_expert.append(candidates.experts[:keep])
            pair_fit.append(candidates.fit[:keep])
            seats.append(open_project.open_seats)
        empty = np.zeros(0, dtype=np.int64)
        return Problem(
            pair_project=np.concatenate(pair_project) if pair_project else empty,
            pair_expert=np.concatenate(pair_expert).astype(np.int64) if pair_expert else empty,
            pair_fit=np.concatenate(pair_fit) if pair_fit else np.zeros(0),
            seats=np.array(seats, dtype=np.int64),
            capacity=self.capacity,
            held=self.held,
        )


def _utc_offsets(names: list[str], now: dt.datetime) -> np.ndarray:
    """Hours east of UTC for each time zone name (0 for unknown or empty)."""
    cache: dict[str, float] = {}
    offsets = np.zeros(len(names))
    for i, name in enumerate(names):
        if name not in cache:
            try:
                delta = now.astimezone(ZoneInfo(name)).utcoffset() if name else None
            except (ZoneInfoNotFoundError, ValueError):
                delta = None
            cache[name] = delta.total_seconds() / 3600 if delta is not None else 0.0
        offsets[i] = cache[name]
    return offsets


def _open_projects(project_ids: list[int] | None, *, only_open: bool) -> list[OpenProject]:
    projects = (
        Project.objects.select_related("domain", "organization")
        .prefetch_related("specialties")
        .annotate(
            seats_held=Count(
                "invitations",
                filter=Q(invitations__status__in=SEAT_HOLDING_INVITATION_STATES)
                & ~Q(invitations__member__status=MemberStatus.REMOVED),
                distinct=True,
            ),
            regular_tasks=Count("tasks", filter=Q(tasks__is_gold=False), distinct=True),
        )
        .order_by("pk")
    )
    if project_ids is not None:
        projects = projects.filter(pk__in=project_ids)
    else:
        projects = projects.filter(status__in=MATCHABLE_PROJECT_STATES)
    children: dict[int, list[int]] = defaultdict(list)
    from experts.models import Domain

    for pk, parent_id in Domain.objects.filter(parent__isnull=False).values_list("pk", "parent_id"):
        children[parent_id].append(pk)
    result = []
    for project in projects:
        open_seats = max(0, project.seats - project.seats_held)
        if only_open and not open_seats:
            continue
        domain = project.domain
        related = [domain.pk, *([domain.parent_id] if domain.parent_id else [])]
        related += children.get(domain.pk, [])
        minutes = task_type_for(project.task_type).typical_minutes
        annotations = expected_annotations(project=project, task_count=project.regular_tasks)
        deadline_end = None
        if project.deadline is not None:
            deadline_end = dt.datetime.combine(project.deadline, dt.time(23, 59, 59), tzinfo=dt.UTC)
        result.append(
            OpenProject(
                project=project,
                open_seats=open_seats,
                related_domain_ids=tuple(related),
                specialty_ids=[s.pk for s in project.specialties.all()],
                hourly_cents=project.price_per_annotation_cents * 60 / minutes,
                seat_total_hours=annotations * minutes / 60 / max(1, project.seats),
                deadline_end=deadline_end,
            )
        )
    return result


class _Facts:
    """Per-expert facts as arrays over ``expert_ids``, and the lookups built from them."""

    def __init__(
        self,
        domain_ids: set[int],
        today: dt.date,
        now: dt.datetime,
        only_experts: list[int] | None = None,
    ) -> None:
        vetted = (
            DomainQualification.objects.filter(
                vetted_for_domain_condition(
                    expert=OuterRef("expert_id"),
                    domain=OuterRef("domain_id"),
                    domain_parent=OuterRef("domain__parent_id"),
                    today=today,
                ),
                passed=True,
                domain_id__in=domain_ids,
                expert__role=UserRole.EXPERT,
                expert__is_active=True,
            )
            .order_by()
            .values_list("expert_id", "domain_id", "best_score_percent")
        )
        if only_experts is not None:
            vetted = vetted.filter(expert_id__in=only_experts)
        rows = np.array(list(vetted), dtype=np.int64).reshape(-1, 3)
        self.expert_ids = np.unique(rows[:, 0])
        n = len(self.expert_ids)
        self.index = {int(pk): i for i, pk in enumerate(self.expert_ids)}
        ids = self.expert_ids.tolist()
        # Domain → (expert indices, qualification in [0, 1]).
        self.vetted: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        positions = np.searchsorted(self.expert_ids, rows[:, 0])
        for domain_id in np.unique(rows[:, 1]):
            mask = rows[:, 1] == domain_id
            order = np.argsort(positions[mask], kind="stable")
            self.vetted[int(domain_id)] = (
                positions[mask][order],
                rows[mask, 2][order] / 100.0,
            )

        self.accepting = np.zeros(n, dtype=bool)
        self.weekly_hours = np.zeros(n)
        self.rate = np.full(n, np.nan)
        self.country = np.full(n, "", dtype=object)
        self.employer = np.full(n, "", dtype=object)
        zones = [""] * n
        for user_id, accepting, hours, rate, country, employer, zone in (
            ExpertProfile.objects.filter(user_id__in=ids)
            .order_by()
            .values_list(
                "user_id",
                "accepting_invitations",
                "weekly_availability_hours",
                "expected_hourly_rate_cents",
                "country",
                "employer",
                "timezone",
            )
        ):
            i = self.index[user_id]
            self.accepting[i] = accepting
            self.weekly_hours[i] = hours or 0
            self.rate[i] = rate if rate is not None else np.nan
            self.country[i] = country or ""
            self.employer[i] = (employer or "").strip().lower()
            zones[i] = zone or ""
        self.utc_offset = _utc_offsets(zones, now)

        self.held = np.zeros(n, dtype=np.int64)
        for expert_id, count in (
            ProjectInvitation.objects.filter(
                expert_id__in=ids,
                status__in=SEAT_HOLDING_INVITATION_STATES,
                project__status__in=SEAT_HOLDING_PROJECT_STATES,
            )
            .exclude(member__status=MemberStatus.REMOVED)
            .order_by()
            .values("expert_id")
            .annotate(n=Count("pk"))
            .values_list("expert_id", "n")
        ):
            self.held[self.index[expert_id]] = count
        hours = seat_hours()
        self.capacity = np.maximum(0, (self.weekly_hours // hours).astype(np.int64) - self.held)

        self.languages: dict[str, np.ndarray] = {}
        for user_id, language, proficiency in (
            ExpertLanguage.objects.filter(profile__user_id__in=ids)
            .order_by()
            .values_list("profile__user_id", "language", "proficiency")
        ):
            levels = self.languages.setdefault(language, np.full(n, -1, dtype=np.int8))
            levels[self.index[user_id]] = PROFICIENCY_ORDER.index(proficiency)

        # (expert, domain) → seniority rank; specialties claimed.
        self.claims: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for user_id, domain_id, seniority in (
            ExpertDomain.objects.filter(profile__user_id__in=ids)
            .order_by()
            .values_list("profile__user_id", "domain_id", "seniority")
        ):
            self.claims[domain_id].append((self.index[user_id], SENIORITY_ORDER.index(seniority)))

        # Verified, unexpired credentials: kind → domain → experts; employers by issuer.
        self.credentials: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.employers: dict[str, list[int]] = defaultdict(list)
        for user_id, kind, domain_id, issuer in (
            Credential.objects.filter(
                Q(expires_on__isnull=True) | Q(expires_on__gte=today),
                expert_id__in=ids,
                status=CredentialStatus.VERIFIED,
            )
            .order_by()
            .values_list("expert_id", "kind", "domains__id", "issuer")
        ):
            i = self.index[user_id]
            if domain_id is not None:
                self.credentials[kind][domain_id].append(i)
            if kind == CredentialKind.EMPLOYMENT:
                self.employers[issuer.strip().lower()].append(i)

        self.records: dict[int, list[tuple[int, int, int, float, float | None]]] = defaultdict(list)
        self.annotations = np.zeros(n)
        for user_id, domain_id, delivered, scored, score_sum, quality in (
            ExpertDomainRecord.objects.filter(expert_id__in=ids)
            .order_by()
            .values_list(
                "expert_id",
                "domain_id",
                "annotations",
                "gold_scored",
                "gold_score_sum",
                "quality_score",
            )
        ):
            i = self.index[user_id]
            self.records[domain_id].append((i, delivered, scored, score_sum, quality))
            self.annotations[i] += delivered
        self._cache: dict[tuple, np.ndarray] = {}

    def has_credential(self, kind: str, domain_ids: tuple[int, ...]) -> np.ndarray:
        key = ("credential", kind, domain_ids)
        if key not in self._cache:
            mask = np.zeros(len(self.expert_ids), dtype=bool)
            for domain_id in domain_ids:
                mask[self.credentials.get(kind, {}).get(domain_id, [])] = True
            self._cache[key] = mask
        return self._cache[key]

    def seniority(self, domain_ids: tuple[int, ...]) -> np.ndarray:
        key = ("seniority", domain_ids)
        if key not in self._cache:
            rank = np.full(len(self.expert_ids), -1, dtype=np.int8)
            for domain_id in domain_ids:
                for i, value in self.claims.get(domain_id, []):
                    rank[i] = max(rank[i], value)
            self._cache[key] = rank
        return self._cache[key]

    def claims_domain(self, domain_id: int) -> np.ndarray:
        key = ("claim", domain_id)
        if key not in self._cache:
            mask = np.zeros(len(self.expert_ids), dtype=bool)
            mask[[i for i, _ in self.claims.get(domain_id, [])]] = True
            self._cache[key] = mask
        return self._cache[key]

    def record(self, domain_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gold scored, gold score sum and quality (nan: unknown) in ``domain_id``."""
        key = ("record", domain_id)
        if key not in self._cache:
            n = len(self.expert_ids)
            scored, score_sum, quality = np.zeros(n), np.zeros(n), np.full(n, np.nan)
            for i, _, gold_scored, gold_sum, quality_score in self.records.get(domain_id, []):
                scored[i], score_sum[i] = gold_scored, gold_sum
                quality[i] = np.nan if quality_score is None else quality_score
            self._cache[key] = np.stack([scored, score_sum, quality])
        values = self._cache[key]
        return values[0], values[1], values[2]


def _invited(project_ids: list[int]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Per project: experts holding or having held an open seat (on the project), and experts
    who declined or let an invitation expire (turned down)."""
    on_project: dict[int, list[int]] = defaultdict(list)
    turned_down: dict[int, list[int]] = defaultdict(list)
    for project_id, expert_id, status in (
        ProjectInvitation.objects.filter(project_id__in=project_ids)
        .order_by()
        .values_list("project_id", "expert_id", "status")
    ):
        if status in SEAT_HOLDING_INVITATION_STATES:
            on_project[project_id].append(expert_id)
        elif status in (InvitationStatus.DECLINED, InvitationStatus.EXPIRED):
            turned_down[project_id].append(expert_id)
    for project_id, expert_id in (
        ProjectMember.objects.filter(project_id__in=project_ids)
        .order_by()
        .values_list("project_id", "expert_id")
    ):
        on_project[project_id].append(expert_id)
    return on_project, turned_down


def _evaluate(
    facts: _Facts,
    open_project: OpenProject,
    *,
    on_project: list[int],
    turned_down: list[int],
    excluded: list[int],
    now: dt.datetime,
    explain: bool,
) -> ProjectCandidates:
    project = open_project.project
    members, qualification = facts.vetted.get(
        project.domain_id, (np.zeros(0, dtype=np.int64), np.zeros(0))
    )
    member_ids = facts.expert_ids[members]
    related = open_project.related_domain_ids
    masks: dict[str, np.ndarray | bool] = {"vetted": True}
    masks["accepting"] = facts.accepting[members]
    masks["capacity"] = facts.capacity[members] > 0
    credentials = np.ones(len(members), dtype=bool)
    for kind in project.required_credential_kinds:
        credentials &= facts.has_credential(kind, related)[members]
    masks["credentials"] = credentials
    seniority = facts.seniority(related)[members]
    masks["seniority"] = (
        seniority >= SENIORITY_ORDER.index(project.min_seniority) if project.min_seniority else True
    )
    level = PROFICIENCY_ORDER.index(project.language_level)
    languages = np.ones(len(members), dtype=bool)
    language_value = np.zeros(len(members))
    for language in project.languages:
        levels = facts.languages.get(language, np.full(len(facts.expert_ids), -1, dtype=np.int8))
        languages &= levels[members] >= level
        # Index -1 (does not speak it) reads the trailing 0.
        language_value += LEVEL_VALUES[levels[members]]
    masks["languages"] = languages
    masks["country"] = (
        np.isin(facts.country[members], project.allowed_countries)
        if project.allowed_countries
        else True
    )
    masks["excluded"] = ~np.isin(member_ids, excluded)
    name = project.organization.name.strip().lower()
    conflicted = facts.employer[members] == name
    conflicted |= np.isin(members, facts.employers.get(name, []))
    masks["conflict"] = ~conflicted
    masks["on_project"] = ~np.isin(member_ids, on_project)
    masks["turned_down"] = ~np.isin(member_ids, turned_down)

    eligible = np.ones(len(members), dtype=bool)
    failed: dict[int, str] = {}
    for rule_name in RULE_NAMES:
        mask = masks[rule_name]
        if mask is True:
            continue
        if explain:
            for position in np.flatnonzero(eligible & ~mask):
                failed[int(member_ids[position])] = rule_name
        eligible &= mask

    chosen = members[eligible]
    scored, score_sum, quality = facts.record(project.domain_id)
    specialty = np.ones(len(chosen))
    if open_project.specialty_ids:
        specialty = np.mean(
            [facts.claims_domain(s)[chosen] for s in open_project.specialty_ids], axis=0
        )
    hours_to_deadline = None
    if open_project.deadline_end is not None:
        hours_to_deadline = (
            open_project.deadline_end - now
        ).total_seconds() / 3600 - facts.utc_offset[chosen]
    components = {
        "qualification": qualification[eligible],
        "gold_accuracy": scoring.gold_accuracy(scored[chosen], score_sum[chosen]),
        "quality": np.where(np.isnan(quality[chosen]), scoring.QUALITY_PRIOR, quality[chosen]),
        "specialty": specialty,
        "seniority": SENIORITY_VALUES[seniority[eligible]],
        "experience": scoring.experience(facts.annotations[chosen]),
        "language": (
            language_value[eligible] / len(project.languages)
            if project.languages
            else np.ones(len(chosen))
        ),
        "rate": scoring.rate_fit(facts.rate[chosen], open_project.hourly_cents),
        "deadline": np.broadcast_to(
            scoring.deadline_fit(
                hours_to_deadline, float(seat_hours()), open_project.seat_total_hours
            ),
            (len(chosen),),
        ).astype(float),
    }
    fit = scoring.total(components)
    order = np.lexsort((facts.expert_ids[chosen], -fit))
    return ProjectCandidates(
        experts=chosen[order],
        fit=fit[order],
        components={name: values[order] for name, values in components.items()},
        failed=failed,
    )


def load_pool(
    *,
    project_ids: list[int] | None = None,
    only_experts: list[int] | None = None,
    explain: bool = False,
) -> Pool:
    """Every open project (or ``project_ids``, open or not) with its eligible experts (or
    only those of ``only_experts``), scored.

    ``explain`` also records, for each vetted expert left out, the first rule they fail.
    """
    now = timezone.now()
    projects = _open_projects(project_ids, only_open=project_ids is None)
    domain_ids = {open_project.project.domain_id for open_project in projects}
    facts = _Facts(domain_ids, timezone.localdate(), now, only_experts)
    ids = [open_project.project.pk for open_project in projects]
    on_project, turned_down = _invited(ids)
    excluded: dict[int, list[int]] = defaultdict(list)
    for organization_id, expert_id in LabExclusion.objects.filter(
        organization_id__in={open_project.project.organization_id for open_project in projects}
    ).values_list("organization_id", "expert_id"):
        excluded[organization_id].append(expert_id)
    candidates = [
        _evaluate(
            facts,
            open_project,
            on_project=on_project.get(open_project.project.pk, []),
            turned_down=turned_down.get(open_project.project.pk, []),
            excluded=excluded.get(open_project.project.organization_id, []),
            now=now,
            explain=explain,
        )
        for open_project in projects
    ]
    return Pool(
        expert_ids=facts.expert_ids,
        held=facts.held,
        capacity=facts.capacity,
        projects=projects,
        candidates=candidates,
    )
