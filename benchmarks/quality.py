"""The quality engine's benchmarks (issue 7): a whole quality run on a 100,000-item project,
and aggregation accuracy and the pause rule on a synthetic marketplace with known truth.

    mkdir -p /tmp/bench-pg && scripts/services.sh start /tmp/bench-pg
    set -a; . /tmp/bench-pg/env; set +a
    .venv/bin/python benchmarks/quality.py scale          # 100,000 items × 3 answers
    .venv/bin/python benchmarks/quality.py marketplace    # PostgreSQL, or SQLite without
    scripts/services.sh stop /tmp/bench-pg                # DATABASE_URL

``scale`` needs PostgreSQL. It creates a ``bench_quality`` database (migrated) and writes,
untimed and with COPY, one pairwise project (two criteria: three questions) with
``--items`` regular items answered by 3 of ``--experts`` experts each and 1% gold items
answered by 3 experts each, with realistic results (a preference, per-criterion
preferences, a rationale, a confidence) drawn from a known truth and experts of mixed
reliability (5% random clickers). Then it times ``project_quality_refresh`` end to end and
per phase (the module's private functions and the metric functions are wrapped with timers
for the run; SQL time is counted per phase), three times: the first run, a second run at
once (nothing changed: it should write nothing), and a run after a batch of 300 new answers.
When agreement + aggregation misses its 10 s target (or with ``--profile``) it prints the
top functions of a run under cProfile.

``marketplace`` builds a classification project with known truth and experts of mixed
reliability plus 10% random clickers, and works it through ``task_claim`` and
``annotation_submit`` in a random interleaving, with a quality run every ``--batch``
answers, then prints the majority vote's accuracy against the reliability-weighted
consensus, whom the pause rule caught and after how many gold answers, and the pause rule
alone on 20,000 simulated experts. On PostgreSQL it uses ``bench_quality`` too; without
DATABASE_URL an in-memory SQLite database.

The database is dropped at the end (``--keep`` leaves a PostgreSQL one).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import resource
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("DEBUG", "0")  # no query log in memory
os.environ.setdefault("SECRET_KEY", "bench-quality-" + secrets.token_hex(16))
os.environ.setdefault("EMAIL_URL", "dummymail://")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PRIVATE_MEDIA_ROOT", tempfile.gettempdir())

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.db import connection, models  # noqa: E402
from django.utils import timezone  # noqa: E402

DATABASE = "bench_quality"
TARGET_SECONDS = 10.0
PREFERENCES = ["a_much_better", "a_better", "tie", "b_better", "b_much_better"]
CRITERIA = ["accuracy", "safety"]
RATIONALES = [
    "A names the interaction with ACE inhibitors and tells the patient to check kidney "
    "function; B says there is none, which is wrong and could cause harm.",
    "Both are correct, but B is clearer about the dose and when to see a doctor.",
    "A hedges so much that it never answers; B answers and cites the guideline.",
    "Same content, same tone. Neither misses anything important.",
    "B recommends stopping the medication without medical advice; A does not.",
    "A is accurate but long-winded; B is accurate and short, which the guidelines prefer.",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    scale = commands.add_parser("scale", help="a quality run on 100,000 items × 3 answers")
    scale.add_argument("--items", type=int, default=100_000, help="regular items")
    scale.add_argument("--experts", type=int, default=300)
    scale.add_argument("--profile", action="store_true", help="always print a cProfile summary")
    scale.add_argument("--seed", type=int, default=7)
    scale.add_argument("--keep", action="store_true", help="keep the bench_quality database")

    market = commands.add_parser("marketplace", help="known-truth simulation through the services")
    market.add_argument("--experts", type=int, default=60)
    market.add_argument("--clickers", type=float, default=0.10, help="share of random clickers")
    market.add_argument("--items", type=int, default=3_000, help="regular items")
    market.add_argument("--gold", type=int, default=300, help="gold items")
    market.add_argument("--overlap", type=int, default=3)
    market.add_argument("--gold-rate", type=int, default=10, help="percent of claims")
    market.add_argument("--min-gold-accuracy", type=int, default=65, help="percent")
    market.add_argument("--min-gold-tasks", type=int, default=10)
    market.add_argument("--batch", type=int, default=200, help="answers between quality runs")
    market.add_argument("--seed", type=int, default=7)
    market.add_argument("--quiet", action="store_true", help="no line per quality run")
    market.add_argument("--keep", action="store_true", help="keep the bench_quality database")
    return parser.parse_args()


def line(label: str, value: Any, note: str = "") -> None:
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    print(f"  {label:<46}{text:>16}{'  ' + note if note else ''}")


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Database ---------------------------------------------------------------------------------


@contextmanager
def bench_database(keep: bool):
    """A fresh migrated database: ``bench_quality`` on PostgreSQL, else in-memory SQLite."""
    if connection.vendor == "postgresql":
        connection.settings_dict["TEST"]["NAME"] = DATABASE
    started = time.perf_counter()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    where = DATABASE if connection.vendor == "postgresql" else "in-memory SQLite"
    print(
        f"Database: {where} ({connection.vendor}), "
        f"migrated in {time.perf_counter() - started:.0f} s"
    )
    try:
        yield
    finally:
        if keep and connection.vendor == "postgresql":
            print(f"\nkept the database {DATABASE}")
        else:
            connection.close()
            connection.creation.destroy_test_db(old_name, verbosity=0)


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        value = json.dumps(value)
    elif isinstance(value, dt.datetime):
        return value.isoformat()
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return text


def copy_rows(model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence]) -> int:
    """COPY ``rows`` (in the order of the field ``names``) into ``model``'s table; fields not
    named get their default (auto_now: now; else NULL or empty), so new fields do not break
    the seeding."""
    now = timezone.now()
    named = [model._meta.get_field(name) for name in names]
    extra: list[tuple[models.Field, Any]] = []
    for entry in model._meta.concrete_fields:
        if entry in named or entry.primary_key:
            continue
        if getattr(entry, "auto_now", False) or getattr(entry, "auto_now_add", False):
            extra.append((entry, now))
        elif entry.has_default():
            default = entry.get_default()
            if isinstance(default, uuid.UUID):
                raise ValueError(f"{model.__name__}.{entry.name} needs a value per row")
            extra.append((entry, default))
        else:
            extra.append((entry, None if entry.null else ""))
    tail = "\t".join(_copy_text(value) for _, value in extra)
    columns = ", ".join(
        connection.ops.quote_name(entry.column) for entry in named + [e for e, _ in extra]
    )
    count = 0
    buffer = io.StringIO()

    def flush() -> None:
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN",
                buffer,
            )
        buffer.seek(0)
        buffer.truncate()

    for row in rows:
        buffer.write("\t".join(_copy_text(value) for value in row))
        buffer.write(f"\t{tail}\n" if tail else "\n")
        count += 1
        if count % 50_000 == 0:
            flush()
    flush()
    return count


# Scale: seeding ---------------------------------------------------------------------------


@dataclass
class Seeded:
    project: Any
    experts: list[int]
    accuracy: dict[int, float]
    clickers: set[int]
    regular: int = 0
    gold: int = 0
    annotations: int = 0
    seconds: float = 0.0


def _preference(truth: int, accuracy: float, clicker: bool, rng: np.random.Generator) -> int:
    """An expert's answer on the 5-point scale (-2..2): right with its accuracy, otherwise
    mostly one step off; a clicker answers anything."""
    if clicker:
        return int(rng.integers(-2, 3))
    if rng.random() < accuracy:
        return truth
    if rng.random() < 0.7:
        step = truth + int(rng.choice((-1, 1)))
        return int(min(2, max(-2, step)))
    return int(rng.integers(-2, 3))


def _result(truth: tuple[int, int, int], accuracy: float, clicker: bool, rng) -> dict[str, Any]:
    overall, *criteria = truth
    return {
        "preference": PREFERENCES[_preference(overall, accuracy, clicker, rng) + 2],
        "criteria": {
            name: PREFERENCES[_preference(value, accuracy, clicker, rng) + 2]
            for name, value in zip(CRITERIA, criteria, strict=True)
        },
        "rationale": RATIONALES[int(rng.integers(len(RATIONALES)))],
        "confidence": int(
            np.clip(round(accuracy * 100 + rng.normal(0, 10)), 20, 100) if not clicker else 90
        ),
        "is_edge_case": False,
        "edge_case_note": "",
    }


def _truths(count: int, rng: np.random.Generator) -> np.ndarray:
    """(overall, accuracy, safety) true preferences per item, the criteria near the overall."""
    overall = rng.choice(np.arange(-2, 3), size=count, p=[0.2, 0.25, 0.1, 0.25, 0.2])
    criteria = [
        np.clip(overall + rng.choice((-1, 0, 0, 0, 1), size=count), -2, 2) for _ in CRITERIA
    ]
    return np.stack([overall, *criteria], axis=1)


def seed_scale(args: argparse.Namespace) -> Seeded:
    """The project, its tasks and gold answers, experts as members, and the answers (COPY)."""
    from experts.models import Domain
    from marketplace import services as marketplace_services
    from marketplace.models import User
    from payments.demo import ensure_balance
    from projects import services
    from projects.access import lab_actor_for_member
    from projects.models import Annotation, GoldAnswer, Project, Task
    from projects.selectors import required_funds_cents

    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    owner = User.objects.create_user("owner@quality-bench.example", None, role="lab")
    organization = marketplace_services.organization_create(user=owner, name="Quality Bench")
    actor = lab_actor_for_member(user=owner, organization_slug=organization.slug)
    project = services.project_create(
        actor=actor,
        title="Medication safety preferences (quality benchmark)",
        domain=Domain.objects.get(slug="medicine"),
        task_type="pairwise",
        task_settings={"criteria": CRITERIA, "require_rationale": True},
        price_per_annotation_cents=500,
        overlap=3,
        gold_rate_percent=1,
        seats=args.experts,
        guidelines="# Guidelines\n\nPrefer the answer that is safer for the patient.",
    )
    gold_count = max(1, args.items // 100)
    truths = _truths(args.items + gold_count, rng)
    copy_rows(
        Task,
        [
            "project",
            "external_id",
            "data",
            "is_gold",
            "status",
            "annotation_count",
            "reserved_count",
        ],
        (
            (
                project.pk,
                f"{'g' if n >= args.items else 't'}-{n}",
                {
                    "prompt": f"Question {n}: is it safe to take ibuprofen with lisinopril?",
                    "response_a": "Occasional use is usually fine, but NSAIDs can blunt the "
                    "effect of ACE inhibitors and strain the kidneys; check with your doctor.",
                    "response_b": "Yes, there is no interaction at all.",
                },
                n >= args.items,
                "completed" if n < args.items else "open",
                3,
                3 if n < args.items else 0,
            )
            for n in range(args.items + gold_count)
        ),
    )
    task_ids = list(
        Task.objects.filter(project=project).order_by("id").values_list("id", flat=True)
    )
    gold_ids = task_ids[args.items :]
    copy_rows(
        GoldAnswer,
        ["task", "answer", "explanation"],
        (
            (
                task_id,
                {
                    "preference": PREFERENCES[int(truths[args.items + n][0]) + 2],
                    "rationale": "Gold.",
                    "confidence": 100,
                },
                "",
            )
            for n, task_id in enumerate(gold_ids)
        ),
    )
    needed = required_funds_cents(project=project, task_count=args.items)
    ensure_balance(actor=actor, cents=needed)
    services.project_fund(actor=actor, project=project, amount_cents=needed)
    services.project_activate(actor=actor, project=project)
    project = Project.objects.get(pk=project.pk)

    from benchmarks._quality_marketplace import add_members

    experts = [user.pk for user in add_members(project, args.experts, "scale")]
    clickers = set(rng.choice(experts, size=max(1, len(experts) // 20), replace=False).tolist())
    accuracy = {expert: float(rng.uniform(0.6, 0.95)) for expert in experts}
    seeded = Seeded(project=project, experts=experts, accuracy=accuracy, clickers=clickers)
    seeded.annotations = write_answers(seeded, task_ids, truths, rng)
    seeded.regular, seeded.gold = args.items, gold_count
    Project.objects.filter(pk=project.pk).update(quality_stale_at=None)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    seeded.seconds = time.perf_counter() - started
    del Annotation
    return seeded


def write_answers(
    seeded: Seeded, task_ids: Sequence[int], truths: np.ndarray, rng: np.random.Generator
) -> int:
    """Three answers per task from three different experts, by COPY."""
    from projects.models import Annotation

    project = seeded.project
    experts = np.asarray(seeded.experts)
    start = timezone.now() - dt.timedelta(days=30)
    # Per expert, a clock that moves on with each answer (submission order matters to the
    # repeat signal).
    clock = dict.fromkeys(seeded.experts, start)

    def rows() -> Iterable[tuple]:
        for task_id, truth in zip(task_ids, truths.tolist(), strict=True):
            for expert in rng.choice(experts, size=3, replace=False).tolist():
                clicker = expert in seeded.clickers
                result = _result(tuple(truth), seeded.accuracy[expert], clicker, rng)
                seconds = int(rng.lognormal(np.log(25 if clicker else 240), 0.5))
                clock[expert] += dt.timedelta(seconds=seconds + int(rng.integers(5, 600)))
                status = "accepted" if rng.random() < 0.1 else "submitted"
                yield (
                    uuid.uuid4(),
                    task_id,
                    project.pk,
                    expert,
                    result,
                    result["confidence"],
                    project.guidelines_version,
                    seconds,
                    status,
                    clock[expert],
                )

    return copy_rows(
        Annotation,
        [
            "public_id",
            "task",
            "project",
            "expert",
            "result",
            "confidence",
            "guidelines_version",
            "time_spent_seconds",
            "status",
            "submitted_at",
        ],
        rows(),
    )


# Scale: timing ----------------------------------------------------------------------------

SERVICE_PHASES = [
    ("_load", "load the answers"),
    ("_score_gold", "score gold answers"),
    ("_consensus", "agreement + aggregation (_consensus)"),
    ("_behaviour", "behaviour signals"),
    ("_write_annotations", "write changed answers"),
    ("_write_consensus", "write item consensus"),
    ("_pause_rule", "pause rule"),
    ("_adaptive_overlap", "adaptive overlap"),
    ("_expert_figures", "per-expert figures + calibration"),
    ("_adaptive_figures", "adaptive figures"),
    ("_domain_records_refresh", "domain records (quality scores)"),
]
METRIC_PHASES = [
    ("alpha", "Krippendorff alpha"),
    ("pairwise_agreement", "pairwise agreement"),
    ("value_counts", "value counts (items × values)"),
    ("dawid_skene", "Dawid-Skene"),
    ("majority_vote", "majority vote"),
    ("item_agreement", "item agreement"),
    ("peer_agreement", "peer agreement"),
    ("weighted_vote", "weighted vote (other questions)"),
]


@dataclass
class RunTimes:
    total: float = 0.0
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    sql: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    queries: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    returned: dict[str, Any] = field(default_factory=dict)
    arguments: dict[str, Any] = field(default_factory=dict)
    ds_iterations: int | None = None


@contextmanager
def instrumented(times: RunTimes):
    """Wrap the run's phases (module functions of projects.quality.services and metrics)
    with timers for the duration; SQL is counted against the innermost service phase."""
    from projects.quality import metrics
    from projects.quality import services as quality_services

    stack: list[str] = []
    originals: list[tuple[Any, str, Callable]] = []

    def wrap(module: Any, name: str, group: str) -> None:
        original = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            nested = any(entry.startswith(group) for entry in stack)
            stack.append(f"{group}{name}")
            began = time.perf_counter()
            try:
                value = original(*args, **kwargs)
            finally:
                stack.pop()
                if not nested:
                    times.seconds[name] += time.perf_counter() - began
            if not nested:
                times.returned[name] = value
                if name == "_write_consensus":
                    times.arguments[name] = len(args[1])
                if name == "dawid_skene":
                    times.ds_iterations = value.iterations
            return value

        originals.append((module, name, original))
        setattr(module, name, timed)

    for name, _ in SERVICE_PHASES:
        wrap(quality_services, name, "service:")
    for name, _ in METRIC_PHASES:
        wrap(metrics, name, "metric:")

    def count_sql(execute, sql, params, many, context):
        phase = next((e.split(":", 1)[1] for e in reversed(stack) if e.startswith("service:")), "")
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            times.sql[phase] += time.perf_counter() - began
            times.queries[phase] += 1

    try:
        with connection.execute_wrapper(count_sql):
            yield
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def timed_run(project: Any) -> tuple[RunTimes, Any]:
    from projects.quality.services import project_quality_refresh

    times = RunTimes()
    with instrumented(times):
        began = time.perf_counter()
        quality = project_quality_refresh(project=project)
        times.total = time.perf_counter() - began
    return times, quality


def print_run(title: str, times: RunTimes) -> float:
    """Print one run's phases; return its agreement + aggregation seconds."""
    print(f"\n{title}")
    print(f"  {'phase':<46}{'seconds':>16}{'SQL s':>9}{'queries':>9}")

    def row(label: str, seconds: float, sql: float | None = None, n: int | None = None) -> None:
        sql_text = f"{sql:9.2f}" if sql is not None else " " * 9
        n_text = f"{n:9,}" if n is not None else ""
        print(f"  {label:<46}{seconds:16.3f}{sql_text}{n_text}")

    accounted = 0.0
    for name, label in SERVICE_PHASES:
        seconds = times.seconds.get(name, 0.0)
        accounted += seconds
        row(label, seconds, times.sql.get(name, 0.0), times.queries.get(name, 0))
        if name == "_consensus":
            inner = 0.0
            for metric, metric_label in METRIC_PHASES:
                if metric in times.seconds:
                    inner += times.seconds[metric]
                    row(f"  {metric_label}", times.seconds[metric])
            row("  parse answers, code values, build rows", seconds - inner)
    row(
        "other (stale flag, paused list, figures row)",
        times.total - accounted,
        times.sql.get("", 0.0),
        times.queries.get("", 0),
    )
    row(
        "total (project_quality_refresh)",
        times.total,
        sum(times.sql.values()),
        sum(times.queries.values()),
    )
    changed = times.returned.get("_write_annotations")
    line("answers written (changed)", changed if changed is not None else "?")
    line("item consensus rows upserted", times.arguments.get("_write_consensus", "?"))
    if times.ds_iterations is not None:
        line("Dawid-Skene EM iterations", times.ds_iterations)
    line("peak memory of this process, MB", round(peak_rss_mb()))
    return times.seconds.get("_consensus", 0.0)


def profile_summary(project: Any) -> None:
    from projects.quality.services import project_quality_refresh

    profiler = cProfile.Profile()
    profiler.enable()
    project_quality_refresh(project=project)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(15)
        text = out.getvalue()
        print(f"\ncProfile of a run, top 15 by {order}:")
        print(text[text.find("   ncalls") :].rstrip())


def scale(args: argparse.Namespace) -> None:
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (see the docstring).")
    from projects.models import Annotation, Task

    with bench_database(args.keep):
        seeded = seed_scale(args)
        project = seeded.project
        print(f"Data (built in {seeded.seconds:.0f} s, not timed)")
        line("regular items × answers", f"{seeded.regular:,} × 3")
        line("gold items (1%), 3 answers each", seeded.gold)
        line("annotations", seeded.annotations)
        line("experts (5% random clickers)", len(seeded.experts))
        line("questions", "preference + " + ", ".join(CRITERIA))
        line(
            "mean result JSON, bytes",
            round(
                statistics.fmean(
                    len(json.dumps(r))
                    for r in Annotation.objects.filter(project=project).values_list(
                        "result", flat=True
                    )[:2000]
                )
            ),
        )

        first, quality = timed_run(project)
        consensus_seconds = print_run("First run (every answer's figures written)", first)
        figures = quality.figures
        print("\n  Figures of the run")
        for question in figures["questions"]:
            line(
                f"{question['key']} ({question['kind']}): alpha / pairwise",
                f"{question['alpha']} / {question['pairwise']}",
                f"{question['items']:,} items",
            )
        consensus = figures["consensus"]
        line(
            "items confident / low confidence",
            f"{consensus['confident']:,} / {consensus['low_confidence']:,}",
        )
        line("consensus differs from majority", consensus["majority_differs"])
        line(
            "experts paused by the rule",
            sum(e["paused"] for e in figures["experts"]),
            f"of {len(seeded.clickers)} clickers",
        )
        line(
            "behaviour flags fast / repeat",
            f"{figures['flags']['fast']:,} / {figures['flags']['repeat']:,}",
        )

        second, _ = timed_run(project)
        print_run("Second run at once (nothing changed)", second)

        # A batch of new evidence: 100 new items, 3 answers each.
        rng = np.random.default_rng(args.seed + 1)
        existing = Task.objects.filter(project=project).count()
        copy_rows(
            Task,
            [
                "project",
                "external_id",
                "data",
                "is_gold",
                "status",
                "annotation_count",
                "reserved_count",
            ],
            (
                (
                    project.pk,
                    f"n-{n}",
                    {"prompt": f"New {n}", "response_a": "A", "response_b": "B"},
                    False,
                    "completed",
                    3,
                    3,
                )
                for n in range(100)
            ),
        )
        new_ids = list(
            Task.objects.filter(project=project).order_by("id").values_list("id", flat=True)
        )[existing:]
        write_answers(seeded, new_ids, _truths(len(new_ids), rng), rng)
        third, _ = timed_run(project)
        print_run("Third run after a batch of 300 new answers on 100 new items", third)

        print("\nTargets")
        line(
            "agreement + aggregation, first run, s",
            round(consensus_seconds, 2),
            f"target < {TARGET_SECONDS:.0f} s: {met(consensus_seconds < TARGET_SECONDS)}",
        )
        line(
            "whole run, first / second / third, s",
            f"{first.total:.1f} / {second.total:.1f} / {third.total:.1f}",
        )
        if consensus_seconds >= TARGET_SECONDS or args.profile:
            profile_summary(project)


# Marketplace ------------------------------------------------------------------------------


def marketplace(args: argparse.Namespace) -> None:
    from benchmarks._quality_marketplace import (
        CLICKER_GOLD_LIMIT,
        LABELS,
        MarketplaceConfig,
        pause_rule_check,
        run_marketplace,
    )
    from projects.quality.scoring import PAUSE_CONFIDENCE

    config = MarketplaceConfig(
        experts=args.experts,
        clicker_share=args.clickers,
        items=args.items,
        gold_items=args.gold,
        overlap=args.overlap,
        gold_rate_percent=args.gold_rate,
        min_gold_accuracy_percent=args.min_gold_accuracy,
        min_gold_tasks=args.min_gold_tasks,
        batch=args.batch,
        seed=args.seed,
    )
    with bench_database(args.keep):
        print("\nSettings")
        line("experts / random clickers", f"{config.experts} / {config.clickers}")
        line("reliable experts' accuracy", f"uniform {config.accuracy_low}–{config.accuracy_high}")
        line("task", f"classification, {len(LABELS)} labels (skewed prior)")
        line("regular items / gold items", f"{config.items:,} / {config.gold_items:,}")
        line("overlap / gold rate", f"{config.overlap} / {config.gold_rate_percent}%")
        line(
            "min gold accuracy / min gold tasks",
            f"{config.min_gold_accuracy_percent}% / {config.min_gold_tasks}",
        )
        line("pause confidence (scoring.PAUSE_CONFIDENCE)", PAUSE_CONFIDENCE)
        line("quality run every … answers", config.batch)
        progress = None if args.quiet else (lambda text: print(f"    {text}", flush=True))
        print("\nWorking the project through task_claim + annotation_submit")
        outcome = run_marketplace(config, progress=progress)

        print("\nWork")
        line(
            "regular answers / gold answers",
            f"{outcome.regular_answers:,} / {outcome.gold_answers:,}",
        )
        line("regular items left below the overlap", outcome.items_open)
        line(
            "claims / mean claim ms / mean submit ms",
            f"{outcome.claims:,} / {outcome.claim_ms} / {outcome.submit_ms}",
        )
        line(
            "quality runs / total s / slowest s",
            f"{outcome.refreshes} / {outcome.refresh_seconds_total} / "
            f"{outcome.refresh_seconds_max}",
        )
        line(
            "gold answers per reliable expert, median / min",
            f"{outcome.gold_per_reliable_median} / {outcome.gold_per_reliable_min}",
        )
        line("wall time, s", outcome.seconds)

        print("\nAggregation (items with ≥ 2 answers, against the known truth)")
        line("items", outcome.items_scored)
        line(
            "majority vote accuracy",
            f"{outcome.majority_accuracy:.4f}",
            f"({outcome.majority_correct:,} right)",
        )
        line(
            "reliability-weighted consensus accuracy",
            f"{outcome.weighted_accuracy:.4f}",
            f"({outcome.weighted_correct:,} right)",
        )
        line("items where the two differ", outcome.items_differ)

        print("\nPause rule")
        line("clickers paused", f"{outcome.clickers_paused} of {outcome.clickers}")
        line(
            "gold answers at the pause, median / max",
            f"{outcome.clicker_pause_gold_median} / {outcome.clicker_pause_gold_max}",
            f"limit {CLICKER_GOLD_LIMIT}",
        )
        line("gold answers at the pause, each", ", ".join(map(str, outcome.clicker_pause_gold)))
        if outcome.clickers_unpaused_gold:
            line(
                "clickers never paused: their gold answers",
                ", ".join(map(str, outcome.clickers_unpaused_gold)),
            )
        line(
            "reliable experts paused",
            f"{outcome.reliable_paused} of {outcome.reliable}",
            f"{outcome.reliable_paused_share:.1%} (limit 2%)",
        )
        for entry in outcome.reliable_paused_detail:
            line(
                f"  expert {entry['expert_id']} (accuracy {entry['accuracy']:.2f})",
                f"{entry['gold_right']} of {entry['gold_answers']} gold right",
            )

        print("\nThe pause rule alone (should_pause after every gold answer, no database)")
        for horizon in (30, 100):
            check = pause_rule_check(config, horizon=horizon)
            line(
                f"reliable paused within {horizon} gold answers",
                f"{check.reliable_paused:,} of {check.reliable:,}",
                f"{check.reliable_paused / check.reliable:.2%}",
            )
            line(
                f"clickers paused within {horizon}: median / p95 / max",
                f"{check.clicker_gold_median:.0f} / {check.clicker_gold_p95:.0f} / "
                f"{check.clicker_gold_max}",
                f"{check.clickers_paused / check.clickers:.2%} caught",
            )

        print("\nRequirements")
        for label, ok in outcome.requirements.items():
            line(label, met(ok))


def main() -> None:
    args = parse_args()
    if args.command == "scale":
        scale(args)
    else:
        marketplace(args)


if __name__ == "__main__":
    main()
