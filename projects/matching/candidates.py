"""Read every open project and its eligible experts in a few queries, and score the pairs.

The global run cannot afford a query per project, so this module reads the facts the rules
and the score need (one query per kind of fact, whatever the number of projects or experts),
turns them into numpy arrays over the experts, then applies the eligibility rules of
``eligibility.RULES`` and the components of ``scoring`` project by project. What depends only
on the domain (qualification, track record, seniority) is computed once per domain.
``tests/projects/test_matching_engine.py`` checks that this agrees with the database filters
of ``eligibility``, rule by rule.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from django.db.models import Count, OuterRef, Q, QuerySet
from django.utils import timezone

from experts.models import (
    Credential,
    Domain,
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
    SENIORITY_ORDER,
    hours_taking_invitations,
    normalised_name,
    seat_holding_invitations,
    seat_hours,
)
from projects.matching.models import (
    ExpertDomainRecord,
    LabExclusion,
    ProjectInvitation,
    ProjectMember,
)
from projects.models import Project, Task
from projects.selectors import expected_annotations
from projects.states import SEAT_HOLDING_INVITATION_STATES, InvitationStatus
from projects.task_types import task_type_for

if TYPE_CHECKING:
    from projects.matching.solver import Problem

RULE_NAMES = [rule.name for rule in RULES]
LEVEL_VALUES = np.array([scoring.LANGUAGE_VALUE[level] for level in PROFICIENCY_ORDER] + [0.0])
SENIORITY_VALUES = np.array([scoring.SENIORITY_VALUE[level] for level in SENIORITY_ORDER] + [0.0])
PROFICIENCY_INDEX = {level: i for i, level in enumerate(PROFICIENCY_ORDER)}
SENIORITY_INDEX = {level: i for i, level in enumerate(SENIORITY_ORDER)}
EMPTY = np.zeros(0, dtype=np.int64)


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

    def problem(self) -> Problem:
        """The solver's input: every eligible pair, grouped by project, best first."""
        from projects.matching.solver import Problem

        sizes = [len(c.experts) for c in self.candidates]
        return Problem(
            pair_project=np.repeat(np.arange(len(sizes), dtype=np.int64), sizes),
            pair_expert=np.concatenate([c.experts for c in self.candidates] or [EMPTY]).astype(
                np.int64
            ),
            pair_fit=np.concatenate([c.fit for c in self.candidates] or [np.zeros(0)]),
            seats=np.array([p.open_seats for p in self.projects], dtype=np.int64),
            capacity=self.capacity,
            held=self.held,
            pair_index=np.concatenate([np.arange(size) for size in sizes] or [EMPTY]).astype(
                np.int64
            ),
        )


def _utc_offsets(names: list[str], now: dt.datetime) -> np.ndarray:
    """Hours east of UTC for each time zone name (0 for unknown or empty)."""
    cache: dict[str, float] = {}
    for name in set(names):
        try:
            delta = now.astimezone(ZoneInfo(name)).utcoffset() if name else None
        except (ZoneInfoNotFoundError, ValueError):
            delta = None
        cache[name] = delta.total_seconds() / 3600 if delta is not None else 0.0
    return np.array([cache[name] for name in names], dtype=float)


def _open_projects(project_ids: list[int] | None, *, only_open: bool) -> list[OpenProject]:
    projects = (
        Project.objects.select_related("domain", "organization")
        .prefetch_related("specialties")
        .order_by("pk")
    )
    if project_ids is not None:
        projects = projects.filter(pk__in=project_ids)
    else:
        projects = projects.filter(status__in=MATCHABLE_PROJECT_STATES)
    rows = list(projects)
    ids = [project.pk for project in rows]
    # Two grouped counts rather than joins on the project query (invitations × tasks).
    held = dict(
        seat_holding_invitations()
        .filter(project_id__in=ids)
        .order_by()
        .values("project_id")
        .annotate(n=Count("pk"))
        .values_list("project_id", "n")
    )
    regular = dict(
        Task.objects.filter(project_id__in=ids, is_gold=False)
        .order_by()
        .values("project_id")
        .annotate(n=Count("pk"))
        .values_list("project_id", "n")
    )
    children: dict[int, list[int]] = defaultdict(list)
    for pk, parent_id in Domain.objects.filter(parent__isnull=False).values_list("pk", "parent_id"):
        children[parent_id].append(pk)
    result = []
    for project in rows:
        open_seats = max(0, project.seats - held.get(project.pk, 0))
        if only_open and not open_seats:
            continue
        domain = project.domain
        related = [domain.pk, *([domain.parent_id] if domain.parent_id else [])]
        related += children.get(domain.pk, [])
        minutes = task_type_for(project.task_type).typical_minutes
        annotations = expected_annotations(project=project, task_count=regular.get(project.pk, 0))
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


def _columns(queryset: QuerySet[Any], *fields: str) -> list[tuple[Any, ...]]:
    """The rows of ``queryset`` as one tuple per field (empty tuples when there are none)."""
    rows = list(queryset.order_by().values_list(*fields))
    if not rows:
        return [() for _ in fields]
    return list(zip(*rows, strict=True))


@dataclass
class _Domain:
    """What the score and the rules need for the experts vetted for one domain."""

    members: np.ndarray  # indices into the expert arrays
    member_ids: np.ndarray
    qualification: np.ndarray
    seniority: np.ndarray  # rank in the domain, its field or its specialties; -1: none
    base: dict[str, np.ndarray]  # components that depend only on expert and domain
    # The members' own facts, gathered once for every project of the domain.
    accepting: np.ndarray
    has_capacity: np.ndarray
    country: np.ndarray
    employer: np.ndarray
    rate: np.ndarray
    utc_offset: np.ndarray


class _Facts:
    """Per-expert facts as arrays over ``expert_ids``, and the lookups built from them."""

    def __init__(
        self,
        domain_ids: set[int],
        today: dt.date,
        now: dt.datetime,
        only_experts: list[int] | None = None,
    ) -> None:
        vetted = DomainQualification.objects.filter(
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
        if only_experts is not None:
            vetted = vetted.filter(expert_id__in=only_experts)
        # The experts other queries read: a cheap superset of the vetted ones (a passed test
        # in one of the domains), as a subquery rather than a list of 100,000 ids.
        readable: Any = (
            only_experts
            if only_experts is not None
            else DomainQualification.objects.filter(passed=True, domain_id__in=domain_ids).values(
                "expert_id"
            )
        )
        expert_col, domain_col, score_col = _columns(
            vetted, "expert_id", "domain_id", "best_score_percent"
        )
        vetted_experts = np.array(expert_col, dtype=np.int64)
        vetted_domains = np.array(domain_col, dtype=np.int64)
        vetted_scores = np.array(score_col, dtype=float) / 100.0
        self.expert_ids = np.unique(vetted_experts)
        n = len(self.expert_ids)
        positions = np.searchsorted(self.expert_ids, vetted_experts)
        self.vetted: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for domain_id in np.unique(vetted_domains):
            mask = vetted_domains == domain_id
            order = np.argsort(positions[mask], kind="stable")
            self.vetted[int(domain_id)] = (positions[mask][order], vetted_scores[mask][order])

        users, accepting, hours, rates, countries, employers, zones = _columns(
            ExpertProfile.objects.filter(user_id__in=readable),
            "user_id",
            "accepting_invitations",
            "weekly_availability_hours",
            "expected_hourly_rate_cents",
            "country",
            "employer",
            "timezone",
        )
        at, ok = self._positions(users)
        self.accepting = np.zeros(n, dtype=bool)
        self.accepting[at] = np.array(accepting, dtype=bool)[ok]
        self.weekly_hours = np.zeros(n)
        self.weekly_hours[at] = np.array([h or 0 for h in hours], dtype=float)[ok]
        self.rate = np.full(n, np.nan)
        self.rate[at] = np.array([np.nan if r is None else r for r in rates], dtype=float)[ok]
        self.country = np.full(n, "", dtype=object)
        self.country[at] = np.array([c or "" for c in countries], dtype=object)[ok]
        self.employer = np.full(n, "", dtype=object)
        self.employer[at] = np.array([normalised_name(e) for e in employers], dtype=object)[ok]
        self.utc_offset = np.zeros(n)
        self.utc_offset[at] = _utc_offsets([z or "" for z in zones], now)[ok]

        self.held = np.zeros(n, dtype=np.int64)
        users, counts = _columns(
            hours_taking_invitations()
            .filter(expert_id__in=readable)
            .values("expert_id")
            .annotate(n=Count("pk")),
            "expert_id",
            "n",
        )
        at, ok = self._positions(users)
        self.held[at] = np.array(counts, dtype=np.int64)[ok]
        self.capacity = np.maximum(
            0, (self.weekly_hours // seat_hours()).astype(np.int64) - self.held
        )

        self.languages: dict[str, np.ndarray] = {}
        users, codes, levels = _columns(
            ExpertLanguage.objects.filter(profile__user_id__in=readable),
            "profile__user_id",
            "language",
            "proficiency",
        )
        at, ok = self._positions(users)
        codes_array = np.array(codes, dtype=object)[ok]
        level_array = np.array([PROFICIENCY_INDEX[level] for level in levels], dtype=np.int8)[ok]
        for code in set(codes_array.tolist()):
            mask = codes_array == code
            values = np.full(n, -1, dtype=np.int8)
            values[at[mask]] = level_array[mask]
            self.languages[code] = values

        users, domains, seniorities = _columns(
            ExpertDomain.objects.filter(profile__user_id__in=readable),
            "profile__user_id",
            "domain_id",
            "seniority",
        )
        at, ok = self._positions(users)
        self.claim_expert = at
        self.claim_domain = np.array(domains, dtype=np.int64)[ok]
        self.claim_rank = np.array([SENIORITY_INDEX[s] for s in seniorities], dtype=np.int8)[ok]

        users, kinds, domains = _columns(
            Credential.objects.filter(
                Q(expires_on__isnull=True) | Q(expires_on__gte=today),
                expert_id__in=readable,
                status=CredentialStatus.VERIFIED,
                domains__isnull=False,
            ),
            "expert_id",
            "kind",
            "domains__id",
        )
        at, ok = self._positions(users)
        self.credential_expert = at
        self.credential_kind = np.array(kinds, dtype=object)[ok]
        self.credential_domain = np.array(domains, dtype=np.int64)[ok]
        self.employers: dict[str, np.ndarray] = {}
        users, issuers = _columns(
            Credential.objects.filter(
                Q(expires_on__isnull=True) | Q(expires_on__gte=today),
                expert_id__in=readable,
                status=CredentialStatus.VERIFIED,
                kind=CredentialKind.EMPLOYMENT,
            ),
            "expert_id",
            "issuer",
        )
        at, ok = self._positions(users)
        by_name: dict[str, list[int]] = defaultdict(list)
        for i, issuer in zip(at.tolist(), np.array(issuers, dtype=object)[ok], strict=True):
            by_name[normalised_name(issuer)].append(i)
        self.employers = {name: np.array(rows, dtype=np.int64) for name, rows in by_name.items()}

        users, domains, delivered, scored, sums, quality = _columns(
            ExpertDomainRecord.objects.filter(expert_id__in=readable),
            "expert_id",
            "domain_id",
            "annotations",
            "gold_scored",
            "gold_score_sum",
            "quality_score",
        )
        at, ok = self._positions(users)
        self.record_expert = at
        self.record_domain = np.array(domains, dtype=np.int64)[ok]
        self.record_scored = np.array(scored, dtype=float)[ok]
        self.record_sum = np.array(sums, dtype=float)[ok]
        self.record_quality = np.array([np.nan if q is None else q for q in quality], dtype=float)[
            ok
        ]
        self.annotations = np.zeros(n)
        np.add.at(self.annotations, at, np.array(delivered, dtype=float)[ok])
        self._domains: dict[tuple[int, tuple[int, ...]], _Domain] = {}
        self._credential_groups: dict[tuple[str, int], np.ndarray] = {}
        self._cache: dict[tuple[Any, ...], np.ndarray] = {}

    def _positions(self, user_ids: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Where each user id sits in ``expert_ids`` (``at``), for the rows whose user is one
        of them (``ok``: a mask over the rows)."""
        ids = np.array(user_ids, dtype=np.int64)
        if not len(self.expert_ids) or not len(ids):
            return EMPTY, np.zeros(len(ids), dtype=bool)
        at = np.searchsorted(self.expert_ids, ids).clip(max=len(self.expert_ids) - 1)
        ok = self.expert_ids[at] == ids
        return at[ok], ok

    def domain(self, domain_id: int, related: tuple[int, ...]) -> _Domain:
        key = (domain_id, related)
        if key not in self._domains:
            members, qualification = self.vetted.get(domain_id, (EMPTY, np.zeros(0)))
            rank = np.full(len(self.expert_ids), -1, dtype=np.int8)
            claims = np.isin(self.claim_domain, related)
            np.maximum.at(rank, self.claim_expert[claims], self.claim_rank[claims])
            mine = self.record_domain == domain_id
            scored, score_sum = np.zeros(len(self.expert_ids)), np.zeros(len(self.expert_ids))
            quality = np.full(len(self.expert_ids), np.nan)
            scored[self.record_expert[mine]] = self.record_scored[mine]
            score_sum[self.record_expert[mine]] = self.record_sum[mine]
            quality[self.record_expert[mine]] = self.record_quality[mine]
            seniority = rank[members]
            self._domains[key] = _Domain(
                members=members,
                member_ids=self.expert_ids[members],
                qualification=qualification,
                seniority=seniority,
                accepting=self.accepting[members],
                has_capacity=self.capacity[members] > 0,
                country=self.country[members],
                employer=self.employer[members],
                rate=self.rate[members],
                utc_offset=self.utc_offset[members],
                base={
                    "qualification": qualification,
                    "gold_accuracy": scoring.gold_accuracy(scored[members], score_sum[members]),
                    "quality": np.where(
                        np.isnan(quality[members]), scoring.QUALITY_PRIOR, quality[members]
                    ),
                    "seniority": SENIORITY_VALUES[seniority],
                    "experience": scoring.experience(self.annotations[members]),
                },
            )
        return self._domains[key]

    def has_credential(self, kind: str, related: tuple[int, ...]) -> np.ndarray:
        key = ("credential", kind, related)
        if key not in self._cache:
            if not self._credential_groups:
                for group_kind in set(self.credential_kind.tolist()):
                    rows = self.credential_kind == group_kind
                    experts, domains = self.credential_expert[rows], self.credential_domain[rows]
                    for domain_id in np.unique(domains):
                        self._credential_groups[(group_kind, int(domain_id))] = experts[
                            domains == domain_id
                        ]
            mask = np.zeros(len(self.expert_ids), dtype=bool)
            for domain_id in related:
                mask[self._credential_groups.get((kind, domain_id), EMPTY)] = True
            self._cache[key] = mask
        return self._cache[key]

    def claims_domain(self, domain_id: int) -> np.ndarray:
        key = ("claim", domain_id)
        if key not in self._cache:
            mask = np.zeros(len(self.expert_ids), dtype=bool)
            mask[self.claim_expert[self.claim_domain == domain_id]] = True
            self._cache[key] = mask
        return self._cache[key]


def _invited(project_ids: list[int]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Per project: experts holding a seat on it or members, and experts who declined or let
    an invitation expire (turned down)."""
    on_project: dict[int, list[int]] = defaultdict(list)
    turned_down: dict[int, list[int]] = defaultdict(list)
    for project_id, expert_id, status in (
        ProjectInvitation.objects.filter(project_id__in=project_ids)
        .exclude(status=InvitationStatus.WITHDRAWN)
        .order_by()
        .values_list("project_id", "expert_id", "status")
    ):
        if status in SEAT_HOLDING_INVITATION_STATES:
            on_project[project_id].append(expert_id)
        else:
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
    related = open_project.related_domain_ids
    domain = facts.domain(project.domain_id, related)
    members, member_ids = domain.members, domain.member_ids
    masks: dict[str, np.ndarray | bool] = {"vetted": True}
    masks["accepting"] = domain.accepting
    masks["capacity"] = domain.has_capacity
    credentials: np.ndarray | bool = True
    for kind in project.required_credential_kinds:
        credentials = credentials & facts.has_credential(kind, related)[members]
    masks["credentials"] = credentials
    masks["seniority"] = (
        domain.seniority >= SENIORITY_INDEX[project.min_seniority]
        if project.min_seniority
        else True
    )
    level = PROFICIENCY_INDEX[project.language_level]
    languages: np.ndarray | bool = True
    language_value = np.zeros(len(members))
    for language in project.languages:
        levels = facts.languages.get(language)
        spoken = levels[members] if levels is not None else np.full(len(members), -1, np.int8)
        languages = languages & (spoken >= level)
        # Index -1 (does not speak it) reads the trailing 0.
        language_value += LEVEL_VALUES[spoken]
    masks["languages"] = languages
    masks["country"] = (
        np.isin(domain.country, project.allowed_countries) if project.allowed_countries else True
    )
    masks["excluded"] = ~np.isin(member_ids, excluded) if excluded else True
    name = normalised_name(project.organization.name)
    conflicted = domain.employer == name
    if name in facts.employers:
        conflicted |= np.isin(members, facts.employers[name])
    masks["conflict"] = ~conflicted
    masks["on_project"] = ~np.isin(member_ids, on_project) if on_project else True
    masks["turned_down"] = ~np.isin(member_ids, turned_down) if turned_down else True

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
    specialty = np.ones(len(chosen))
    if open_project.specialty_ids:
        specialty = np.mean(
            [facts.claims_domain(s)[chosen] for s in open_project.specialty_ids], axis=0
        )
    hours_to_deadline = None
    if open_project.deadline_end is not None:
        hours_to_deadline = (
            open_project.deadline_end - now
        ).total_seconds() / 3600 - domain.utc_offset[eligible]
    components = {name: values[eligible] for name, values in domain.base.items()}
    components["specialty"] = specialty
    components["language"] = (
        language_value[eligible] / len(project.languages)
        if project.languages
        else np.ones(len(chosen))
    )
    components["rate"] = scoring.rate_fit(domain.rate[eligible], open_project.hourly_cents)
    components["deadline"] = np.broadcast_to(
        scoring.deadline_fit(hours_to_deadline, float(seat_hours()), open_project.seat_total_hours),
        (len(chosen),),
    ).astype(float)
    components = {c.name: components[c.name] for c in scoring.COMPONENTS}
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
    direct: bool = False,
) -> Pool:
    """Every open project (or ``project_ids``, open or not) with its eligible experts (or
    only those of ``only_experts``), scored.

    ``explain`` also records, for each vetted expert left out, the first rule they fail;
    ``direct`` applies the rules of a lab's direct invitation (which may re-ask an expert
    who turned the project down).
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
            turned_down=[] if direct else turned_down.get(open_project.project.pk, []),
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
