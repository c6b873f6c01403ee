"""A synthetic marketplace with known truth, worked through the real services.

Experts of mixed reliability (and a share of random clickers) claim tasks with
``task_claim`` and answer them with ``annotation_submit``, in a random interleaving, while
``project_quality_refresh`` runs after every batch of answers as the batched Celery run
does in production. Because every item's true label is known, the outcome says how accurate
the plain majority vote and the reliability-weighted consensus are, and whom the pause rule
caught and when.

Used by ``benchmarks/quality.py marketplace`` (full size) and by
``tests/projects/test_quality_benchmark.py`` (a tiny size, so this code cannot rot). Import it
after Django is set up.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any
from unittest import mock

import numpy as np
from django.db.models import Count, Q
from django.utils import timezone

from marketplace.errors import Conflict

# Variant classification in clinical genetics: five labels, most variants benign.
LABELS = ["benign", "likely_benign", "uncertain", "likely_pathogenic", "pathogenic"]
TRUTH_PRIOR = [0.35, 0.25, 0.20, 0.12, 0.08]
# Clickers stand out on the limits: paused within this many gold answers, and at
# most this share of reliable experts paused.
CLICKER_GOLD_LIMIT = 30
RELIABLE_PAUSED_LIMIT = 0.02


@dataclass(frozen=True)
class MarketplaceConfig:
    """The simulated marketplace and its project's quality settings."""

    experts: int = 150
    clicker_share: float = 0.10
    accuracy_low: float = 0.72  # reliable experts' accuracy, uniform in [low, high]
    accuracy_high: float = 0.97
    items: int = 5_000  # regular items
    gold_items: int = 400
    overlap: int = 3
    gold_rate_percent: int = 10
    min_gold_accuracy_percent: int = 65
    min_gold_tasks: int = 10
    batch: int = 200  # answers between two quality runs
    seed: int = 7

    @property
    def clickers(self) -> int:
        return round(self.experts * self.clicker_share)


@dataclass
class SimExpert:
    user: Any
    clicker: bool
    accuracy: float  # chance of the true label (clickers: 1 / labels)
    weight: float  # how often this expert comes back for work, relative to the others
    paused_after_gold: int | None = None  # gold answers given when the pause came
    paused_at_run: int | None = None


@dataclass
class MarketplaceOutcome:
    config: dict[str, Any]
    experts: int
    clickers: int
    reliable: int
    regular_answers: int
    gold_answers: int
    refreshes: int
    refresh_seconds_total: float
    refresh_seconds_max: float
    seconds: float
    items_scored: int  # items with at least two answers
    majority_correct: int
    weighted_correct: int
    majority_accuracy: float | None
    weighted_accuracy: float | None
    items_differ: int  # items where the two disagree
    clickers_paused: int
    clicker_pause_gold: list[int]  # gold answers each paused clicker had given
    clicker_pause_gold_max: int | None
    clicker_pause_gold_median: float | None
    clickers_unpaused_gold: list[int]  # gold answers of clickers never paused
    reliable_paused: int
    reliable_paused_share: float
    reliable_paused_detail: list[dict[str, Any]]  # accuracy, gold answers, gold accuracy
    gold_per_reliable_median: float | None
    gold_per_reliable_min: int | None
    items_open: int  # regular items left with fewer answers than the overlap
    claims: int
    claim_ms: float  # mean time of a task_claim call
    submit_ms: float  # mean time of an annotation_submit call
    requirements: dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def add_members(project: Any, count: int, tag: str) -> list[Any]:
    """``count`` new experts on the project in the shape ``invitation_accept`` leaves, with
    the current guidelines acknowledged (as benchmarks/dispatch.py writes them)."""
    from experts.models import ExpertProfile
    from marketplace.models import User
    from projects.matching.models import ProjectInvitation, ProjectMember
    from projects.models import GuidelineAcknowledgement
    from projects.states import InvitationSource, InvitationStatus

    users = [
        User.objects.create_user(f"expert{n:04d}-{tag}@quality-bench.example", None, role="expert")
        for n in range(count)
    ]
    ExpertProfile.objects.bulk_create(
        ExpertProfile(user=user, headline="Physician", country="US") for user in users
    )
    later = timezone.now() + timedelta(days=2)
    invitations = ProjectInvitation.objects.bulk_create(
        ProjectInvitation(
            project=project,
            expert=user,
            source=InvitationSource.DIRECT,
            status=InvitationStatus.ACCEPTED,
            score=0.8,
            weekly_hours=20,
            expires_at=later,
            responded_at=timezone.now(),
        )
        for user in users
    )
    ProjectMember.objects.bulk_create(
        ProjectMember(project=project, expert=invitation.expert, invitation=invitation)
        for invitation in invitations
    )
    GuidelineAcknowledgement.objects.bulk_create(
        GuidelineAcknowledgement(project=project, expert=user, version=project.guidelines_version)
        for user in users
    )
    return users


def _setup(config: MarketplaceConfig, rng: np.random.Generator) -> tuple[Any, list[SimExpert]]:
    """The project (active, funded, classification over LABELS), its tasks with known truth
    (kept in each task's metadata, which the engine never reads), gold answers, and members."""
    from experts.models import Domain
    from marketplace import services as marketplace_services
    from marketplace.models import User
    from payments.demo import ensure_balance
    from projects import services
    from projects.access import lab_actor_for_member
    from projects.models import GoldAnswer, Project, Task
    from projects.selectors import required_funds_cents

    owner = User.objects.create_user(f"owner-{config.seed}@quality-bench.example", None, role="lab")
    organization = marketplace_services.organization_create(user=owner, name="Quality Bench")
    actor = lab_actor_for_member(user=owner, organization_slug=organization.slug)
    project = services.project_create(
        actor=actor,
        title="Variant classification (synthetic)",
        domain=Domain.objects.get(slug="medicine"),
        task_type="classification",
        task_settings={"labels": LABELS},
        price_per_annotation_cents=300,
        overlap=config.overlap,
        gold_rate_percent=config.gold_rate_percent,
        min_gold_accuracy_percent=config.min_gold_accuracy_percent,
        min_gold_tasks=config.min_gold_tasks,
        seats=config.experts,
        guidelines="# Guidelines\n\nClassify the variant by the ACMG criteria.",
    )
    truth = rng.choice(len(LABELS), size=config.items + config.gold_items, p=TRUTH_PRIOR)
    rows = []
    for n, label in enumerate(truth.tolist()):
        gold = n >= config.items
        rows.append(
            Task(
                project=project,
                external_id=f"{'g' if gold else 't'}-{n}",
                data={
                    "text": f"NM_000{n % 997:03d}.4:c.{100 + n}G>A in a patient with "
                    f"cardiomyopathy (case {n}).",
                    "metadata": {"truth": LABELS[label]},
                },
                is_gold=gold,
            )
        )
    Task.objects.bulk_create(rows, batch_size=2000)
    GoldAnswer.objects.bulk_create(
        (
            GoldAnswer(task=task, answer={"labels": [task.data["metadata"]["truth"]]})
            for task in Task.objects.filter(project=project, is_gold=True).only("id", "data")
        ),
        batch_size=2000,
    )
    needed = required_funds_cents(project=project, task_count=config.items)
    ensure_balance(actor=actor, cents=needed)
    services.project_fund(actor=actor, project=project, amount_cents=needed)
    services.project_activate(actor=actor, project=project)
    project = Project.objects.get(pk=project.pk)

    users = add_members(project, config.experts, str(config.seed))
    clickers = set(rng.choice(config.experts, size=config.clickers, replace=False).tolist())
    experts = [
        SimExpert(
            user=user,
            clicker=n in clickers,
            accuracy=1 / len(LABELS)
            if n in clickers
            else float(rng.uniform(config.accuracy_low, config.accuracy_high)),
            weight=float(rng.uniform(0.75, 1.25)),
        )
        for n, user in enumerate(users)
    ]
    return project, experts


def _answer(expert: SimExpert, truth: str, rng: np.random.Generator) -> tuple[dict, int]:
    """The expert's result and active seconds: a clicker picks any label and a high
    confidence; a reliable expert is right with its accuracy (wrong: any other label) and
    states a confidence near it."""
    if expert.clicker:
        label = LABELS[int(rng.integers(len(LABELS)))]
        return {"labels": [label], "confidence": int(rng.integers(70, 100))}, int(
            rng.integers(1, 3)
        )
    if rng.random() < expert.accuracy:
        label = truth
    else:
        label = rng.choice([other for other in LABELS if other != truth])
    confidence = int(np.clip(round(expert.accuracy * 100 + rng.normal(0, 8)), 30, 100))
    return {"labels": [str(label)], "confidence": confidence}, int(rng.integers(3, 6))


def run_marketplace(
    config: MarketplaceConfig, *, progress: Callable[[str], None] | None = None
) -> MarketplaceOutcome:
    """Build the marketplace, work every task through the services, evaluate."""
    from projects.dispatch import services as dispatch
    from projects.models import Annotation, Task
    from projects.quality.models import TaskConsensus
    from projects.quality.services import project_quality_refresh
    from projects.states import SkipReason
    from projects.tasks import refresh_project_quality

    rng = np.random.default_rng(config.seed)
    project, experts = _setup(config, rng)
    truth_of: dict[int, str] = {
        task_id: data["metadata"]["truth"]
        for task_id, data in Task.objects.filter(project=project).values_list("id", "data")
    }
    by_user = {expert.user.pk: expert for expert in experts}
    held: dict[int, Any] = {}  # expert index → the assignment in hand
    done: set[int] = set()  # experts who found nothing left to claim
    gold_given = Counter()  # expert index → gold answers submitted
    refreshes = 0
    refresh_seconds: list[float] = []
    since_refresh = 0
    answers = 0
    calls: dict[str, list[float]] = {"claim": [], "submit": []}
    started = time.perf_counter()

    def refresh() -> None:
        nonlocal refreshes, since_refresh
        began = time.perf_counter()
        project_quality_refresh(project=project)
        refresh_seconds.append(time.perf_counter() - began)
        refreshes += 1
        since_refresh = 0
        paused = set(
            project.members.filter(quality_paused=True).values_list("expert_id", flat=True)
        )
        for user_id in paused:
            expert = by_user[user_id]
            if expert.paused_after_gold is not None:
                continue
            index = experts.index(expert)
            expert.paused_after_gold = gold_given[index]
            expert.paused_at_run = refreshes
            assignment = held.pop(index, None)
            if assignment is not None:
                # The page refuses a paused expert's answer; the lease would run out. Handing
                # it back frees the slot at once instead of waiting for the sweep.
                dispatch.assignment_skip(
                    expert=expert.user,
                    assignment=assignment,
                    reason=SkipReason.OTHER,
                    note="Paused for quality.",
                )
                done.clear()  # a slot came free: those who found nothing may look again
        if progress is not None:
            progress(
                f"run {refreshes}: {answers:,} answers, {len(paused)} paused, "
                f"{refresh_seconds[-1]:.2f} s"
            )

    # The production batch is driven here: the queued Celery run is not sent.
    with mock.patch.object(refresh_project_quality, "apply_async"):
        while True:
            working = [
                index
                for index, expert in enumerate(experts)
                if expert.paused_after_gold is None and index not in done
            ]
            if not working:
                # The last run; it may pause someone whose hand-back frees a slot.
                refresh()
                if all(e.paused_after_gold is not None or i in done for i, e in enumerate(experts)):
                    break
                continue
            weights = np.asarray([experts[i].weight for i in working])
            index = int(rng.choice(working, p=weights / weights.sum()))
            expert = experts[index]
            if index not in held:
                if not _claim(dispatch, expert, project, held, index, calls):
                    done.add(index)  # nothing left for this expert: they stop
                continue
            assignment = held.pop(index)
            result, seconds = _answer(expert, truth_of[assignment.task_id], rng)
            began = time.perf_counter()
            dispatch.annotation_submit(
                expert=expert.user,
                assignment=assignment,
                result=result,
                signals=dispatch.PageSignals(active_seconds=seconds),
            )
            calls["submit"].append(time.perf_counter() - began)
            answers += 1
            if assignment.task.is_gold:
                gold_given[index] += 1
            since_refresh += 1
            if since_refresh >= config.batch:
                refresh()
    seconds = time.perf_counter() - started
    return _evaluate(
        config,
        project,
        experts,
        truth_of,
        gold_given,
        refreshes=refreshes,
        refresh_seconds=refresh_seconds,
        seconds=seconds,
        calls=calls,
        annotation_model=Annotation,
        consensus_model=TaskConsensus,
        task_model=Task,
    )


def _claim(
    dispatch: Any,
    expert: SimExpert,
    project: Any,
    held: dict,
    index: int,
    calls: dict[str, list[float]],
) -> bool:
    began = time.perf_counter()
    try:
        assignment = dispatch.task_claim(expert=expert.user, project=project)
    except Conflict:
        return False  # paused between two runs' bookkeeping: the next run records it
    finally:
        calls["claim"].append(time.perf_counter() - began)
    if assignment is None:
        return False
    held[index] = assignment
    return True


def _evaluate(
    config: MarketplaceConfig,
    project: Any,
    experts: list[SimExpert],
    truth_of: dict[int, str],
    gold_given: Counter,
    *,
    refreshes: int,
    refresh_seconds: list[float],
    seconds: float,
    calls: dict[str, list[float]],
    annotation_model: Any,
    consensus_model: Any,
    task_model: Any,
) -> MarketplaceOutcome:
    scored = majority_right = weighted_right = differ = 0
    for task_id, answers, majority, count in consensus_model.objects.filter(
        project=project
    ).values_list("task_id", "answers", "majority", "annotations"):
        if count < 2:
            continue
        truth = truth_of[task_id]
        scored += 1
        majority_right += majority == truth
        weighted_right += answers.get("label") == truth
        differ += answers.get("label") != majority
    gold_rows = annotation_model.objects.filter(project=project, task__is_gold=True)
    gold_stats = {
        row["expert_id"]: row
        for row in gold_rows.values("expert_id").annotate(
            n=Count("id"), right=Count("id", filter=Q(gold_score=1.0))
        )
    }
    clickers = [e for e in experts if e.clicker]
    reliable = [e for e in experts if not e.clicker]
    pause_gold = sorted(e.paused_after_gold for e in clickers if e.paused_after_gold is not None)
    unpaused = sorted(gold_given[experts.index(e)] for e in clickers if e.paused_after_gold is None)
    reliable_paused = [e for e in reliable if e.paused_after_gold is not None]
    detail = []
    for expert in reliable_paused:
        stats = gold_stats.get(expert.user.pk, {"n": 0, "right": 0})
        detail.append(
            {
                "expert_id": expert.user.pk,
                "accuracy": round(expert.accuracy, 3),
                "gold_answers": stats["n"],
                "gold_right": stats["right"],
            }
        )
    reliable_gold = [gold_given[experts.index(e)] for e in reliable]
    share = len(reliable_paused) / len(reliable) if reliable else 0.0
    majority_accuracy = majority_right / scored if scored else None
    weighted_accuracy = weighted_right / scored if scored else None
    items_open = (
        task_model.objects.filter(project=project, is_gold=False)
        .filter(annotation_count__lt=config.overlap)
        .count()
    )
    outcome = MarketplaceOutcome(
        config=asdict(config),
        experts=len(experts),
        clickers=len(clickers),
        reliable=len(reliable),
        regular_answers=annotation_model.objects.filter(
            project=project, task__is_gold=False
        ).count(),
        gold_answers=gold_rows.count(),
        refreshes=refreshes,
        refresh_seconds_total=round(sum(refresh_seconds), 2),
        refresh_seconds_max=round(max(refresh_seconds, default=0.0), 3),
        seconds=round(seconds, 1),
        items_scored=scored,
        majority_correct=majority_right,
        weighted_correct=weighted_right,
        majority_accuracy=majority_accuracy,
        weighted_accuracy=weighted_accuracy,
        items_differ=differ,
        clickers_paused=len(pause_gold),
        clicker_pause_gold=pause_gold,
        clicker_pause_gold_max=max(pause_gold, default=None),
        clicker_pause_gold_median=statistics.median(pause_gold) if pause_gold else None,
        clickers_unpaused_gold=unpaused,
        reliable_paused=len(reliable_paused),
        reliable_paused_share=share,
        reliable_paused_detail=detail,
        gold_per_reliable_median=statistics.median(reliable_gold) if reliable_gold else None,
        gold_per_reliable_min=min(reliable_gold, default=None),
        items_open=items_open,
        claims=len(calls["claim"]),
        claim_ms=round(1000 * statistics.fmean(calls["claim"]), 1) if calls["claim"] else 0.0,
        submit_ms=round(1000 * statistics.fmean(calls["submit"]), 1) if calls["submit"] else 0.0,
    )
    outcome.requirements = {
        "weighted consensus more accurate than majority": (
            weighted_accuracy is not None
            and majority_accuracy is not None
            and weighted_accuracy > majority_accuracy
        ),
        # A clicker who never reached the limit unpaused has not broken it (the run ended
        # first); the unpaused ones are printed with their gold answers.
        f"every clicker paused within its first {CLICKER_GOLD_LIMIT} gold answers": (
            all(n <= CLICKER_GOLD_LIMIT for n in pause_gold)
            and all(n < CLICKER_GOLD_LIMIT for n in unpaused)
        ),
        f"at most {RELIABLE_PAUSED_LIMIT:.0%} of reliable experts paused": (
            share <= RELIABLE_PAUSED_LIMIT
        ),
    }
    return outcome


@dataclass
class RuleCheck:
    """The pause rule alone (``scoring.should_pause``), on many simulated gold sequences."""

    horizon: int  # gold answers each expert gives
    reliable: int
    reliable_paused: int
    clickers: int
    clickers_paused: int
    clicker_gold_median: float | None
    clicker_gold_p95: float | None
    clicker_gold_max: int | None


def pause_rule_check(
    config: MarketplaceConfig, *, horizon: int, experts: int = 20_000, seed: int = 11
) -> RuleCheck:
    """Apply the engine's pause rule after every gold answer (the most often a batched run
    could look) to ``experts`` reliable experts (accuracy uniform in the config's range) and
    as many clickers, each giving ``horizon`` gold answers; no database."""
    from projects.quality.scoring import should_pause

    rng = np.random.default_rng(seed)
    threshold = config.min_gold_accuracy_percent / 100

    @functools.cache
    def pauses(right: int, n: int) -> bool:
        return should_pause(
            score_sum=float(right), n=n, threshold=threshold, min_gold=config.min_gold_tasks
        )

    def first_pause(outcomes: np.ndarray) -> int | None:
        sums = np.cumsum(outcomes).tolist()
        for n in range(config.min_gold_tasks, len(outcomes) + 1):
            if pauses(int(sums[n - 1]), n):
                return n
        return None

    accuracy = rng.uniform(config.accuracy_low, config.accuracy_high, size=experts)
    reliable = [first_pause(rng.random(horizon) < p) for p in accuracy.tolist()]
    clickers = [first_pause(rng.random(horizon) < 1 / len(LABELS)) for _ in range(experts)]
    caught = [n for n in clickers if n is not None]
    return RuleCheck(
        horizon=horizon,
        reliable=experts,
        reliable_paused=sum(n is not None for n in reliable),
        clickers=experts,
        clickers_paused=len(caught),
        clicker_gold_median=float(np.median(caught)) if caught else None,
        clicker_gold_p95=float(np.percentile(caught, 95)) if caught else None,
        clicker_gold_max=max(caught, default=None),
    )
