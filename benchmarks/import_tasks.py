"""Import 100,000 pairwise tasks (about 200 MB of JSON Lines) and measure time and memory.

Needs PostgreSQL (the production path: COPY + INSERT ... ON CONFLICT). With the throwaway
server of scripts/services.sh:

    mkdir -p /tmp/bench-pg && scripts/services.sh start /tmp/bench-pg
    set -a; . /tmp/bench-pg/env; set +a
    .venv/bin/python benchmarks/import_tasks.py
    scripts/services.sh stop /tmp/bench-pg

A `bench_import_tasks` database is created on the server DATABASE_URL names and dropped at
the end;
uploaded files go to a temporary folder. The import itself (``task_import_run``) runs in a
fresh child process, so the peak memory printed is that of the import alone (the child's
own maximum resident set size, cross-checked by sampling it from here).

Settings through the environment: BENCH_ROWS (100000), BENCH_TASK_BYTES (2000),
BENCH_WRITER (``copy``, or ``executemany`` to time the path used on SQLite on PostgreSQL too),
BENCH_PROFILE (a path: the first import's cProfile statistics are written there).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
if "PRIVATE_MEDIA_ROOT" not in os.environ:
    os.environ["PRIVATE_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="bench-private-")
    os.environ["BENCH_OWN_MEDIA_ROOT"] = "1"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
TASK_BYTES = int(os.environ.get("BENCH_TASK_BYTES", "2000"))
WRITER = os.environ.get("BENCH_WRITER", "copy")
PAGE_SIZE = 50
WORDS = [
    "the",
    "patient",
    "reports",
    "chest",
    "pain",
    "after",
    "exercise",
    "and",
    "takes",
    "lisinopril",
    "daily",
    "while",
    "the",
    "physician",
    "considers",
    "ibuprofen",
    "naproxen",
    "kidney",
    "function",
    "blood",
    "pressure",
    "interaction",
    "dose",
    "risk",
    "evidence",
    "guideline",
    "trial",
    "outcome",
    "adverse",
    "event",
    "monitoring",
    "follow-up",
    "referral",
]


# Child: run one import and report ------------------------------------------------------


def child(import_id: int) -> None:
    """Run the import in this fresh process; print one JSON line of figures."""
    import logging

    from projects.imports import writer
    from projects.services.imports import task_import_run

    writer.POSTGRES_COPY = WRITER == "copy"
    phases: dict[str, float] = {}

    class PhaseTimes(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            phase = getattr(record, "phase", None)
            if phase:
                phases[phase] = record.seconds  # type: ignore[attr-defined]

    logger = logging.getLogger("projects.services.imports")
    logger.addHandler(PhaseTimes())
    logger.setLevel(logging.INFO)
    logger.propagate = False
    start = time.perf_counter()
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        with cProfile.Profile() as profile:
            task_import = task_import_run(import_id=import_id)
        profile.dump_stats(os.environ["BENCH_PROFILE"])
    else:
        task_import = task_import_run(import_id=import_id)
    total = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "status": task_import.status,
                "failure": task_import.failure_reason,
                "rows": task_import.total_rows,
                "created": task_import.created_count,
                "skipped": task_import.skipped_count,
                "validation": phases.get("validation", 0.0),
                "saving": phases.get("saving", 0.0),
                "total": total,
                "peak_mb": peak_kb / 1024,
            }
        )
    )


# Parent: build, run children, print ------------------------------------------------------


def database_url(settings_dict: dict) -> str:
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = quote(settings_dict.get("HOST") or "localhost", safe="")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(settings_dict['NAME'], safe='')}"


def write_tasks(path: Path) -> float:
    """Write ROWS pairwise tasks of about TASK_BYTES each; return the seconds it took."""
    import random

    start = time.perf_counter()
    rng = random.Random(7)
    pool = [" ".join(rng.choice(WORDS) for _ in range(TASK_BYTES // 4)) for _ in range(500)]
    prompt_len, response_len = TASK_BYTES // 5, TASK_BYTES * 2 // 5 - 40
    with path.open("w", encoding="utf-8") as out:
        for n in range(ROWS):
            task = {
                "external_id": f"bench-{n:07d}",
                "prompt": f"Case {n}: {pool[n % 500][:prompt_len]}?",
                "response_a": f"A{n} {pool[(n * 7 + 1) % 500][:response_len]}",
                "response_b": f"B{n} {pool[(n * 13 + 2) % 500][:response_len]}",
                "metadata": {"batch": n // 1000, "source": "benchmark"},
            }
            out.write(json.dumps(task, ensure_ascii=False) + "\n")
    return time.perf_counter() - start


def run_child(import_id: int, env: dict[str, str]) -> dict:
    """Run the import in a child process, sampling its resident memory meanwhile."""
    import psutil

    process = subprocess.Popen(
        [sys.executable, __file__, "--child", str(import_id)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    sampled = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal sampled
        watched = psutil.Process(process.pid)
        while not done.is_set():
            try:
                sampled = max(sampled, watched.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"the import process failed ({process.returncode})")
    figures = json.loads(out.strip().splitlines()[-1])
    figures["sampled_mb"] = sampled / (1024 * 1024)
    return figures


def build_project() -> tuple[Any, Any]:
    from allauth.account.models import EmailAddress

    from experts.models import Domain
    from marketplace import services as core
    from marketplace.models import User
    from marketplace.states import MembershipRole, UserRole
    from projects import services
    from projects.access import LabActor

    owner = User.objects.create_user("owner@bench.example", "bench-password-1", role=UserRole.LAB)
    EmailAddress.objects.create(user=owner, email=owner.email, verified=True, primary=True)
    org = core.organization_create(user=owner, name="Bench Lab")
    actor = LabActor(organization=org, user=owner, api_key=None, role=MembershipRole.OWNER)
    project = services.project_create(
        actor=actor,
        title="Import benchmark",
        domain=Domain.objects.get(slug="medicine"),
        task_type="pairwise",
        price_per_annotation_cents=500,
        guidelines="# Guidelines",
    )
    return actor, project


def upload(actor: Any, project: Any, path: Path) -> int:
    """Store the file as the upload form would, without queueing the import."""
    from unittest import mock

    from django.core.files import File

    from projects.services.imports import task_import_create
    from projects.tasks import run_task_import

    with path.open("rb") as handle, mock.patch.object(run_task_import, "delay"):
        task_import = task_import_create(
            actor=actor, project=project, upload=File(handle, name="bench.jsonl")
        )
    return task_import.pk


def task_list_page(project: Any) -> tuple[int, float]:
    from django.core.paginator import Paginator

    from projects.selectors import project_tasks

    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        page = Paginator(project_tasks(project=project), PAGE_SIZE).page(1)
        assert len(list(page)) == PAGE_SIZE
        assert page.paginator.count == ROWS
    return len(queries), (time.perf_counter() - start) * 1000


def main() -> None:
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (see the docstring).")
    connection.settings_dict["TEST"]["NAME"] = "bench_import_tasks"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict)}
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        path = work / "tasks.jsonl"
        generated = write_tasks(path)
        size_mb = path.stat().st_size / (1024 * 1024)
        actor, project = build_project()
        print(f"database: {connection.vendor}, writer: {WRITER}")
        print(f"file: {ROWS:,} rows, {size_mb:,.1f} MB (written in {generated:.1f} s)")

        first = run_child(upload(actor, project, path), env)
        assert first["status"] == "succeeded", first
        print(f"{'rows':<28}{first['rows']:>12,}")
        print(f"{'file MB':<28}{size_mb:>12,.1f}")
        print(f"{'validation s':<28}{first['validation']:>12.2f}")
        print(f"{'saving s':<28}{first['saving']:>12.2f}")
        print(f"{'total s':<28}{first['total']:>12.2f}")
        print(f"{'rows/s':<28}{first['rows'] / first['total']:>12,.0f}")
        print(f"{'peak RSS MB (maxrss)':<28}{first['peak_mb']:>12,.1f}")
        print(f"{'peak RSS MB (sampled)':<28}{first['sampled_mb']:>12,.1f}")
        print(f"{'created':<28}{first['created']:>12,}")

        again = run_child(upload(actor, project, path), env)
        assert again["status"] == "succeeded", again
        print(f"{'re-import total s':<28}{again['total']:>12.2f}")
        print(f"{'re-import peak RSS MB':<28}{again['peak_mb']:>12,.1f}")
        print(f"{'re-import created':<28}{again['created']:>12,}")
        print(f"{'re-import skipped':<28}{again['skipped']:>12,}")

        queries, cold = task_list_page(project)
        _, warm = task_list_page(project)
        print(f"{'task list page 1 queries':<28}{queries:>12}")
        print(f"{'task list page 1 ms (cold)':<28}{cold:>12.1f}")
        print(f"{'task list page 1 ms (warm)':<28}{warm:>12.1f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(work, ignore_errors=True)
        if os.environ.get("BENCH_OWN_MEDIA_ROOT"):
            shutil.rmtree(os.environ["PRIVATE_MEDIA_ROOT"], ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]))
    else:
        main()
