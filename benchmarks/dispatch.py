"""Task dispatch under load: simulated experts asking for next tasks and submitting against
gunicorn + PostgreSQL on loopback, then a check in the database that no task was handed to
more experts than its overlap.

Needs PostgreSQL (and Redis for the cache the API throttle uses, as in production). With the
throwaway servers of scripts/services.sh:

    mkdir -p /tmp/bench-pg && scripts/services.sh start /tmp/bench-pg
    set -a; . /tmp/bench-pg/env; set +a
    .venv/bin/python benchmarks/dispatch.py                  # 100,000 tasks, 200 experts, 60 s
    .venv/bin/python benchmarks/dispatch.py --quick          # 5,000 tasks, 20 experts, 10 s
    scripts/services.sh stop /tmp/bench-pg

A ``bench_dispatch`` database is created (migrated) on the server DATABASE_URL names and
dropped at the end (``--keep`` leaves it). Untimed setup: one active pairwise project with
``--tasks`` regular tasks (COPY) and ``--gold`` gold tasks with their answers, overlap 3,
gold rate 5%; ``--experts`` experts written as accepted members with the guidelines
acknowledged, each with a server-side session and a CSRF cookie + header pair.

Then, for each ``--servers`` entry (``sync:4`` = 4 sync workers, ``gthread:3x4`` = 3 workers
of 4 threads), gunicorn is started on 127.0.0.1 with DEBUG off and the experts run
concurrently for ``--seconds`` (or until ``--max-claims``): ``POST .../next/``, think,
``POST .../submit/`` with ``next: true`` (the response carries the following task), think,
submit, ... A claim is a next call that returned a task or a submit whose response carried
one. Think time is uniform in [0.5, 1.5] × ``--think-ms`` (0: closed loop, i.e. the
server's saturation throughput). The first ``--warmup`` seconds are not measured.

Printed per run: claims and claims/s, latency p50/p95/p99 of the next calls and of the
submit+next calls (the expert's wait between sending an answer and seeing the next task),
errors by status, CPU used by the machine and by the load generator; then the database
check (annotations + live leases ≤ overlap on every task, no (task, expert) twice, counters
exact). At the end: the queries of one next call and one submit+next call, and with
``--profile`` a run under cProfile (sync workers) with SQL vs Python time per call.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import http.client
import io
import json
import os
import pstats
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("EMAIL_URL", "dummymail://")
os.environ.setdefault("PRIVATE_MEDIA_ROOT", tempfile.gettempdir())
# The sessions are signed here and read by gunicorn: both must share the key.
os.environ.setdefault("SECRET_KEY", "bench-dispatch-" + secrets.token_hex(16))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from benchmarks._dispatch_client import HttpConnection, Reply  # noqa: E402

DATABASE = "bench_dispatch"
TARGET_P99_MS = 50.0
TARGET_CLAIMS_PER_SECOND = 300.0
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
PREFERENCES = ["a_much_better", "a_better", "tie", "b_better", "b_much_better"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=100_000, help="regular tasks")
    parser.add_argument("--gold", type=int, default=500, help="gold tasks")
    parser.add_argument("--gold-rate", type=int, default=5, help="gold rate, percent")
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--experts", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured time per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument("--max-claims", type=int, default=1_000_000, help="stop after N claims")
    parser.add_argument(
        "--think-ms", type=float, default=500.0, help="mean think time between calls (0: none)"
    )
    parser.add_argument(
        "--servers",
        default="sync:4",
        help="comma-separated gunicorn setups, each sync:WORKERS or gthread:WORKERSxTHREADS",
    )
    parser.add_argument("--conn-max-age", type=int, default=60, help="CONN_MAX_AGE of gunicorn")
    parser.add_argument(
        "--profile", action="store_true", help="then a run under cProfile (sync workers)"
    )
    parser.add_argument("--quick", action="store_true", help="5,000 tasks, 20 experts, 10 s")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the bench_dispatch database")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.gold, args.experts, args.seconds = 5_000, 50, 20, 10.0
    return args


# Data -------------------------------------------------------------------------------------


def _copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def build(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """The project, its tasks and gold answers, and its experts as members."""

    from experts.models import Domain
    from marketplace import services as marketplace_services
    from marketplace.models import User
    from payments.demo import ensure_balance
    from projects import services
    from projects.access import lab_actor_for_member
    from projects.models import Project, Task
    from projects.selectors import required_funds_cents

    owner = User.objects.create_user("owner@bench.example", None, role="lab")
    organization = marketplace_services.organization_create(user=owner, name="Dispatch Bench")
    actor = lab_actor_for_member(user=owner, organization_slug=organization.slug)
    project = services.project_create(
        actor=actor,
        title="Dispatch benchmark",
        domain=Domain.objects.get(slug="medicine"),
        task_type="pairwise",
        price_per_annotation_cents=500,
        overlap=args.overlap,
        gold_rate_percent=args.gold_rate,
        seats=args.experts,
        guidelines="# Guidelines\n\nPrefer the answer that is safer for the patient.",
    )

    now = timezone.now().isoformat()
    rng = random.Random(args.seed)
    buffer = io.StringIO()
    for n in range(args.tasks + args.gold):
        gold = n >= args.tasks
        data = {
            "prompt": f"Question {n}: is it safe to take ibuprofen with lisinopril? "
            f"(case {rng.randint(1, 10**6)})",
            "response_a": "Occasional use is usually fine, but NSAIDs can blunt the effect "
            "of ACE inhibitors and strain the kidneys; check with your doctor.",
            "response_b": "Yes, there is no interaction at all.",
        }
        external_id = f"{'g' if gold else 't'}-{n}"
        buffer.write(
            f"{project.pk}\t{external_id}\t{_copy_text(json.dumps(data))}\t"
            f"{'t' if gold else 'f'}\topen\t{rng.choice((0, 0, 0, 1))}\t0\t0\t{now}\n"
        )
    buffer.seek(0)
    table = Task._meta.db_table
    with connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {table} (project_id, external_id, data, is_gold, status, priority, "
            "annotation_count, reserved_count, created_at) FROM STDIN",
            buffer,
        )
        cursor.execute(
            "INSERT INTO projects_goldanswer (task_id, answer, explanation, created_at, "
            "updated_at) SELECT id, %s::jsonb, '', now(), now() FROM projects_task "
            "WHERE project_id = %s AND is_gold",
            [
                json.dumps({"preference": "a_much_better", "rationale": "Gold.", "confidence": 90}),
                project.pk,
            ],
        )
    needed = required_funds_cents(project=project, task_count=args.tasks)
    ensure_balance(actor=actor, cents=needed)
    services.project_fund(actor=actor, project=project, amount_cents=needed)
    project = services.project_activate(actor=actor, project=project)
    project = Project.objects.get(pk=project.pk)

    experts = add_members(project, [f"expert{n:04d}@bench.example" for n in range(args.experts)])
    return project, experts


def add_members(project: Any, emails: list[str]) -> list[Any]:
    """Experts on the project in the shape ``invitation_accept`` leaves, with the current
    guidelines acknowledged (as tests/projects/workspace_factories.py writes them)."""
    from datetime import timedelta

    from experts.models import ExpertProfile
    from marketplace.models import User
    from projects.matching.models import ProjectInvitation, ProjectMember
    from projects.models import GuidelineAcknowledgement
    from projects.states import InvitationSource, InvitationStatus

    experts = [User.objects.create_user(email, None, role="expert") for email in emails]
    ExpertProfile.objects.bulk_create(
        ExpertProfile(user=expert, headline="Physician", country="US") for expert in experts
    )
    later = timezone.now() + timedelta(days=2)
    invitations = ProjectInvitation.objects.bulk_create(
        ProjectInvitation(
            project=project,
            expert=expert,
            source=InvitationSource.DIRECT,
            status=InvitationStatus.ACCEPTED,
            score=0.8,
            weekly_hours=20,
            expires_at=later,
            responded_at=timezone.now(),
        )
        for expert in experts
    )
    ProjectMember.objects.bulk_create(
        ProjectMember(project=project, expert=invitation.expert, invitation=invitation)
        for invitation in invitations
    )
    GuidelineAcknowledgement.objects.bulk_create(
        GuidelineAcknowledgement(project=project, expert=expert, version=project.guidelines_version)
        for expert in experts
    )
    return experts


def sessions_for(experts: list[Any]) -> list[dict[str, str]]:
    """A logged-in session per expert, created server-side, and the headers that carry it
    with a CSRF cookie and the matching header (as the browser's fetch calls do)."""
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.crypto import get_random_string

    engine = import_module(settings.SESSION_ENGINE)
    header = settings.CSRF_HEADER_NAME.removeprefix("HTTP_").replace("_", "-")
    result = []
    for expert in experts:
        session = engine.SessionStore()
        session[SESSION_KEY] = str(expert.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = expert.get_session_auth_hash()
        session.create()
        token = get_random_string(32)
        result.append(
            {
                "Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}; "
                f"{settings.CSRF_COOKIE_NAME}={token}",
                header: token,
                "Accept": "application/json",
            }
        )
    return result


# gunicorn ---------------------------------------------------------------------------------


@dataclass
class Server:
    kind: str
    workers: int
    threads: int = 1

    @classmethod
    def parse(cls, text: str) -> Server:
        kind, _, size = text.strip().partition(":")
        if kind == "sync":
            return cls("sync", int(size))
        if kind == "gthread":
            workers, _, threads = size.partition("x")
            return cls("gthread", int(workers), int(threads or 4))
        raise SystemExit(f"unknown server setup {text!r}: use sync:N or gthread:NxT")

    def __str__(self) -> str:
        if self.kind == "sync":
            return f"{self.workers} sync workers"
        return f"{self.workers} gthread workers × {self.threads} threads"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bench_database_url() -> str:
    return urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{DATABASE}").geturl()


def start_gunicorn(
    server: Server, port: int, log_path: Path, conn_max_age: int, profile_dir: Path | None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": bench_database_url(),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "CONN_MAX_AGE": str(conn_max_age),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "LOG_LEVEL": "WARNING",
    }
    command = [
        str(GUNICORN),
        "marketplace.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(server.workers),
        "--worker-class",
        server.kind,
        "--backlog",
        "2048",
        "--timeout",
        "120",
    ]
    if server.kind == "gthread":
        command += ["--threads", str(server.threads), "--keep-alive", "30"]
    if profile_dir is not None:
        env["BENCH_PROFILE_DIR"] = str(profile_dir)
        command += ["--config", str(ROOT / "benchmarks" / "_dispatch_gunicorn.py")]
    log = log_path.open("wb")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log_path}:\n{log_path.read_text()[-3000:]}")
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/healthz")
            if probe.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    stop_gunicorn(process)
    raise SystemExit(f"gunicorn did not answer /healthz within 60 s; see {log_path}")


def stop_gunicorn(process: subprocess.Popen[bytes]) -> None:
    """Stop the gunicorn this script started (its master, by pid; it stops its workers)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# The load ---------------------------------------------------------------------------------


@dataclass
class Stats:
    started: float
    measure_from: float
    deadline: float
    max_claims: int
    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    claims: int = 0
    measured_claims: int = 0
    nothing_left: int = 0
    gold_leaks: int = 0
    connects: int = 0
    measure_end: float = 0.0

    def done(self) -> bool:
        return time.perf_counter() >= self.deadline or self.claims >= self.max_claims

    def record(self, kind: str, began: float, reply: Reply) -> None:
        self.statuses[f"{kind} {reply.status}"] += 1
        if reply.status >= 300 and reply.status != 204:
            self.errors[f"{kind} {reply.status}"] += 1
        if b'"is_gold"' in reply.body or b'"gold_answer"' in reply.body:
            self.gold_leaks += 1
        if began >= self.measure_from:
            (self.next_ms if kind == "next" else self.submit_ms).append(reply.seconds * 1000)

    def claimed(self, began: float) -> None:
        self.claims += 1
        if began >= self.measure_from:
            self.measured_claims += 1
            self.measure_end = max(self.measure_end, time.perf_counter())


async def expert_works(
    index: int,
    headers: dict[str, str],
    port: int,
    project_id: str,
    stats: Stats,
    think_ms: float,
) -> None:
    rng = random.Random(index)
    connection_ = HttpConnection("127.0.0.1", port, headers)
    next_path = f"/api/v1/work/projects/{project_id}/next/"

    async def think() -> None:
        if think_ms > 0:
            await asyncio.sleep(think_ms * rng.uniform(0.5, 1.5) / 1000)

    if think_ms > 0:  # start spread out, as people do
        await asyncio.sleep(think_ms * rng.random() / 1000)
    assignment: dict[str, Any] | None = None
    try:
        while not stats.done():
            began = time.perf_counter()
            try:
                if assignment is None:
                    reply = await connection_.post(next_path)
                    stats.record("next", began, reply)
                    if reply.status == 200:
                        assignment = reply.json()
                        stats.claimed(began)
                    elif reply.status == 204:
                        stats.nothing_left += 1
                        return
                    else:
                        await asyncio.sleep(0.2)
                        continue
                await think()
                if stats.done():
                    return
                began = time.perf_counter()
                payload = {
                    "result": {
                        "preference": rng.choice(PREFERENCES),
                        "rationale": "Response A names the interaction; B denies it.",
                        "confidence": rng.randint(50, 100),
                    },
                    "signals": {"active_seconds": 30},
                    "next": True,
                }
                reply = await connection_.post(
                    f"/api/v1/work/assignments/{assignment['id']}/submit/", payload
                )
                stats.record("submit", began, reply)
                if reply.status in (200, 201):
                    assignment = reply.json()["next"]
                    if assignment is not None:
                        stats.claimed(began)
                else:
                    # A refused submit leaves the lease; the next call hands it back.
                    assignment = None
                await think()
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as error:
                stats.errors[type(error).__name__] += 1
                assignment = None
                await asyncio.sleep(0.2)
    finally:
        stats.connects += connection_.connects
        connection_.close()


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


async def run_load(
    args: argparse.Namespace, port: int, project_id: str, sessions: list[dict[str, str]]
) -> tuple[Stats, dict[str, float]]:
    now = time.perf_counter()
    stats = Stats(
        started=now,
        measure_from=now + args.warmup,
        deadline=now + args.warmup + args.seconds,
        max_claims=args.max_claims,
    )
    busy0, total0 = cpu_ticks()
    own0 = time.process_time()
    await asyncio.gather(
        *[
            expert_works(i, headers, port, project_id, stats, args.think_ms)
            for i, headers in enumerate(sessions)
        ]
    )
    wall = time.perf_counter() - now
    busy1, total1 = cpu_ticks()
    cpu = {
        "machine_busy_percent": 100 * (busy1 - busy0) / max(1, total1 - total0),
        "generator_percent_of_a_core": 100 * (time.process_time() - own0) / wall,
    }
    if not stats.measure_end:
        stats.measure_end = time.perf_counter()
    return stats, cpu


# Figures ----------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def line(label: str, value: Any, note: str = "") -> None:
    if isinstance(value, float):
        text = f"{value:,.1f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    print(f"  {label:<40}{text:>14}{'  ' + note if note else ''}")


def print_run(stats: Stats, cpu: dict[str, float]) -> dict[str, float]:
    window = max(1e-9, min(stats.measure_end, stats.deadline) - stats.measure_from)
    rate = stats.measured_claims / window
    line("claims (all / measured)", f"{stats.claims:,} / {stats.measured_claims:,}")
    line("measured window s", window)
    line("claims/s", rate, f"target ≥ {TARGET_CLAIMS_PER_SECOND:.0f}: {met(rate >= 300)}")
    line("next calls measured", len(stats.next_ms))
    for label, values in (("next call", stats.next_ms), ("submit+next call", stats.submit_ms)):
        line(
            f"{label} ms p50 / p95 / p99",
            f"{percentile(values, 0.5):.1f} / {percentile(values, 0.95):.1f} / "
            f"{percentile(values, 0.99):.1f}",
        )
    every = stats.next_ms + stats.submit_ms
    p99 = percentile(every, 0.99)
    line(
        "next-task p99 ms, both kinds",
        p99,
        f"target < {TARGET_P99_MS:.0f}: {met(p99 < TARGET_P99_MS)}",
    )
    line(
        "submit (with next) ms p50 / p99",
        f"{percentile(stats.submit_ms, 0.5):.1f} / {percentile(stats.submit_ms, 0.99):.1f}",
    )
    line("responses by status", ", ".join(f"{k}: {v:,}" for k, v in sorted(stats.statuses.items())))
    line("errors", ", ".join(f"{k}: {v:,}" for k, v in sorted(stats.errors.items())) or "none")
    line("experts told nothing is left (204)", stats.nothing_left)
    line("responses naming gold", stats.gold_leaks)
    line("TCP connections opened", stats.connects)
    line("machine CPU busy % (2 cores)", cpu["machine_busy_percent"])
    line("load generator % of one core", cpu["generator_percent_of_a_core"])
    return {"rate": rate, "p99": p99}


def check_database(project: Any) -> bool:
    """Over-assignment and counter checks, straight from the rows."""
    from projects.dispatch.models import Assignment

    assignments = Assignment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH ann AS (
                SELECT task_id, count(*) FILTER (WHERE status <> 'rejected') AS n
                  FROM projects_annotation WHERE project_id = %(p)s GROUP BY task_id),
            lease AS (
                SELECT task_id,
                       count(*) FILTER (WHERE status = 'leased' AND expires_at > now()) AS live,
                       count(*) FILTER (WHERE holds_slot) AS held
                  FROM {assignments} WHERE project_id = %(p)s GROUP BY task_id)
            SELECT count(*),
                   count(*) FILTER (WHERE coalesce(ann.n, 0) + coalesce(lease.live, 0) > %(o)s),
                   count(*) FILTER (WHERE coalesce(ann.n, 0) > %(o)s),
                   count(*) FILTER (WHERE t.reserved_count <> coalesce(lease.held, 0)),
                   count(*) FILTER (WHERE t.annotation_count <> coalesce(ann.n, 0)),
                   count(*) FILTER (WHERE coalesce(ann.n, 0) >= %(o)s),
                   count(*) FILTER (WHERE coalesce(ann.n, 0) BETWEEN 1 AND %(o)s - 1),
                   coalesce(sum(ann.n), 0),
                   coalesce(sum(lease.live), 0)
              FROM projects_task t
              LEFT JOIN ann ON ann.task_id = t.id
              LEFT JOIN lease ON lease.task_id = t.id
             WHERE t.project_id = %(p)s AND NOT t.is_gold
               AND (ann.task_id IS NOT NULL OR lease.task_id IS NOT NULL)
            """,
            {"p": project.pk, "o": project.overlap},
        )
        touched, over, over_annotations, counter_off, count_off, full, partial, total, live = (
            cursor.fetchone()
        )
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM projects_annotation WHERE project_id = %s "
            "GROUP BY task_id, expert_id HAVING count(*) > 1) d",
            [project.pk],
        )
        duplicate_annotations = cursor.fetchone()[0]
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {assignments} WHERE project_id = %s "
            "GROUP BY task_id, expert_id HAVING count(*) > 1) d",
            [project.pk],
        )
        duplicate_assignments = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM projects_annotation a JOIN projects_task t ON t.id = a.task_id "
            "WHERE a.project_id = %s AND t.is_gold",
            [project.pk],
        )
        gold_annotations = cursor.fetchone()[0]
    ok = over == over_annotations == counter_off == count_off == 0
    ok = ok and duplicate_annotations == duplicate_assignments == 0
    print("Database check")
    line("regular tasks touched", touched)
    line("annotations on regular tasks / on gold", f"{total:,} / {gold_annotations:,}")
    line("live leases", live)
    line("tasks complete / started, not complete", f"{full:,} / {partial:,}")
    line("tasks with annotations + live leases > overlap", over)
    line("tasks with annotations > overlap", over_annotations)
    line("tasks whose reserved_count is off", counter_off)
    line("tasks whose annotation_count is off", count_off)
    line("(task, expert) annotated twice", duplicate_annotations)
    line("(task, expert) assigned twice", duplicate_assignments)
    print(f"  zero over-assignments and exact counters: {met(ok)}")
    return ok


def queries_per_call(project: Any, expert: Any) -> None:
    """The SQL of one next call and one submit+next call, in-process (test client)."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(expert)
    next_path = f"/api/v1/work/projects/{project.public_id}/next/"
    with CaptureQueriesContext(connection) as next_queries:
        response = client.post(next_path, content_type="application/json")
    assert response.status_code == 200, response.content
    assignment = response.json()
    body = {
        "result": {"preference": "a_better", "rationale": "Names the risk.", "confidence": 80},
        "signals": {"active_seconds": 30},
        "next": True,
    }
    with CaptureQueriesContext(connection) as submit_queries:
        response = client.post(
            f"/api/v1/work/assignments/{assignment['id']}/submit/",
            body,
            content_type="application/json",
        )
    assert response.status_code == 201, response.content
    for label, queries in (("next", next_queries), ("submit+next", submit_queries)):
        print(f"\nQueries of one {label} call: {len(queries)}")
        for query in queries:
            sql = " ".join(query["sql"].split())
            print(f"  {float(query['time']) * 1000:6.2f} ms  {sql[:150]}")


def profile_report(folder: Path) -> None:
    rows: dict[str, dict[str, float]] = {}
    for path in glob.glob(str(folder / "worker-*.json")):
        for kind, row in json.loads(Path(path).read_text()).items():
            total = rows.setdefault(kind, Counter())
            for key, value in row.items():
                total[key] += value
    print("\nPer call in the workers (under cProfile, which inflates Python time ~1.5–2×)")
    for kind, row in sorted(rows.items()):
        n = max(1, row["requests"])
        print(
            f"  {kind:<8} {int(row['requests']):>7,} calls: {row['queries'] / n:5.1f} queries, "
            f"SQL {row['sql_seconds'] / n * 1000:6.2f} ms, "
            f"Python {(row['seconds'] - row['sql_seconds']) / n * 1000:6.2f} ms, "
            f"in the worker {row['seconds'] / n * 1000:6.2f} ms"
        )
    files = glob.glob(str(folder / "worker-*.prof"))
    if not files:
        print("  (no profile written)")
        return
    out = io.StringIO()
    stats = pstats.Stats(*files, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(30)
    print("\nTop functions by own time, all workers:")
    print("\n".join(out.getvalue().splitlines()[-38:]))
    out = io.StringIO()
    stats = pstats.Stats(*files, stream=out)
    stats.sort_stats("cumulative").print_stats(r"(marketplace|projects|rest_framework|django)/", 45)
    print("\nBy cumulative time (project, DRF and Django frames):")
    print("\n".join(line_ for line_ in out.getvalue().splitlines()[-52:] if line_.strip()))


def main() -> None:
    args = parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (see the docstring).")
    from projects.models import Task

    connection.settings_dict["TEST"]["NAME"] = DATABASE
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    logs = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    try:
        start = time.perf_counter()
        project, experts = build(args)
        sessions = sessions_for(experts)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        built = time.perf_counter() - start
        print(f"Data ({DATABASE}, built in {built:.0f} s, not timed)")
        line("regular tasks / gold tasks", f"{args.tasks:,} / {args.gold:,}")
        line("overlap / gold rate %", f"{project.overlap} / {project.gold_rate_percent}")
        line("experts (members, sessions)", len(experts))
        line("think time ms (uniform 0.5–1.5 ×)", args.think_ms)
        line("CONN_MAX_AGE of the workers", args.conn_max_age)
        summary = []
        for text in args.servers.split(","):
            server = Server.parse(text)
            port = free_port()
            process = start_gunicorn(
                server, port, logs / f"gunicorn-{port}.log", args.conn_max_age, None
            )
            try:
                load = os.getloadavg()[0]
                stats, cpu = asyncio.run(run_load(args, port, str(project.public_id), sessions))
            finally:
                stop_gunicorn(process)
            print(f"\nRun: {server}, {len(sessions)} experts, load average before {load:.2f}")
            figures = print_run(stats, cpu)
            summary.append((str(server), figures))
            check_database(project)
        if len(summary) > 1:
            print("\nSummary")
            for name, figures in summary:
                print(
                    f"  {name:<36} {figures['rate']:8.1f} claims/s   p99 {figures['p99']:7.1f} ms"
                )
        if args.profile:
            folder = logs / "profile"
            folder.mkdir()
            server = Server("sync", Server.parse(args.servers.split(",")[0]).workers)
            port = free_port()
            process = start_gunicorn(
                server, port, logs / "gunicorn-profile.log", args.conn_max_age, folder
            )
            try:
                stats, cpu = asyncio.run(run_load(args, port, str(project.public_id), sessions))
            finally:
                stop_gunicorn(process)
            print(f"\nProfiled run: {server} under cProfile")
            print_run(stats, cpu)
            profile_report(folder)
        queries_per_call(project, add_members(project, ["measured@bench.example"])[0])
        line(
            "\ntasks in the project",
            Task.objects.filter(project=project).count(),
            "(the query counts above do not depend on it)",
        )
        print(f"gunicorn logs: {logs}")
    finally:
        if args.keep:
            print(f"\nkept the database {DATABASE}")
        else:
            connection.close()
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
