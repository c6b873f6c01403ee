"""Export N pairwise annotations (default 1,000,000) to JSON Lines from PostgreSQL through
the real streaming download view, and measure time to first byte, total time, rows/s, peak
memory and file size.

Targets (issue 7): 1,000,000 annotations in under 60 s, under 250 MB peak memory, first
bytes within a second. With the throwaway server of scripts/services.sh:

    mkdir -p /tmp/bench-pg && scripts/services.sh start /tmp/bench-pg
    set -a; . /tmp/bench-pg/env; set +a
    .venv/bin/python benchmarks/export.py            # 1,000,000 annotations
    .venv/bin/python benchmarks/export.py 200000     # fewer
    scripts/services.sh stop /tmp/bench-pg

A ``bench_export`` database is created (migrated) on the server DATABASE_URL names and
dropped at the end (``--keep`` leaves it). The data is written untimed with INSERT … SELECT
over ``generate_series``: one active pairwise project, N / 3 tasks with 3 annotations each
from 300 experts holding verified credentials and a quality record, half of the annotations
accepted with a review, and a consensus row per task. The download runs in a fresh child
process (``GET /labs/<slug>/projects/<id>/exports/download/?format=jsonl&shape=training``
through Django's test client, DEBUG off), so the peak resident memory printed is that of
the export alone plus the framework (the baseline after start-up is printed beside it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("EMAIL_URL", "dummymail://")
# The child runs with DEBUG off, which needs a key; both processes share it.
os.environ.setdefault("SECRET_KEY", "bench-export-" + secrets.token_hex(16))

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

DATABASE = "bench_export"
EXPERTS = 300
TARGET_SECONDS = 60.0
TARGET_MB = 250.0
TARGET_FIRST_BYTE = 1.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("annotations", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench_export database")
    parser.add_argument("--child", nargs=2, metavar=("PROJECT", "USER"), help=argparse.SUPPRESS)
    return parser.parse_args()


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Child: one download ----------------------------------------------------------------------


def child(project_id: str, user_id: int) -> None:
    """Download the export through the view; print one JSON line of figures."""
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from marketplace.models import User
    from projects.models import Project

    settings.EXPORT_STREAM_MAX_ROWS = 10**9
    project = Project.objects.select_related("organization").get(public_id=project_id)
    client = Client()
    client.force_login(User.objects.get(pk=user_id))
    url = reverse("projects:export_download", args=[project.organization.slug, project.public_id])
    baseline = rss_mb()
    cpu = time.process_time()
    start = time.perf_counter()
    response = client.get(url + "?format=jsonl&shape=training")
    blocks = iter(response.streaming_content)
    first = next(blocks)
    first_byte = time.perf_counter() - start
    digest = hashlib.sha256(first)
    size = len(first)
    lines = first.count(b"\n")
    for block in blocks:
        digest.update(block)
        size += len(block)
        lines += block.count(b"\n")
    total = time.perf_counter() - start
    print(
        json.dumps(
            {
                "status": response.status_code,
                "first_byte": first_byte,
                "total": total,
                "cpu": time.process_time() - cpu,
                "rows": lines,
                "bytes": size,
                "sha256": digest.hexdigest(),
                "export_id": response["X-Export-Id"],
                "baseline_mb": baseline,
                "peak_mb": rss_mb(),
            }
        )
    )


# Parent: data -----------------------------------------------------------------------------


def build(annotations: int) -> tuple[object, object]:
    """The project with its tasks, annotations, reviews and consensus; its owner."""
    from django.utils import timezone

    from experts.models import Credential, Domain
    from experts.states import CredentialKind, CredentialStatus
    from marketplace import services as marketplace_services
    from marketplace.models import User
    from projects import services
    from projects.access import lab_actor_for_member
    from projects.models import ExpertDomainRecord

    owner = User.objects.create_user("owner@bench.example", None, role="lab")
    organization = marketplace_services.organization_create(user=owner, name="Export Bench")
    actor = lab_actor_for_member(user=owner, organization_slug=organization.slug)
    medicine = Domain.objects.get(slug="medicine")
    project = services.project_create(
        actor=actor,
        title="Export benchmark",
        domain=medicine,
        task_type="pairwise",
        price_per_annotation_cents=500,
        overlap=3,
        guidelines="# Guidelines\n\nPrefer the answer that is safer for the patient.",
    )
    experts = User.objects.bulk_create(
        User(email=f"expert{n:04d}@bench.example", role="expert", password="!")
        for n in range(EXPERTS)
    )
    now = timezone.now()
    kinds = [CredentialKind.DEGREE, CredentialKind.LICENCE, CredentialKind.BOARD_CERTIFICATION]
    credentials = Credential.objects.bulk_create(
        Credential(
            expert=expert,
            kind=kinds[n % len(kinds)],
            title="MD",
            issuer="State Medical Board",
            status=CredentialStatus.VERIFIED,
            submitted_at=now,
            decided_at=now,
            verified_at=now,
        )
        for n, expert in enumerate(experts)
    )
    Credential.domains.through.objects.bulk_create(
        Credential.domains.through(credential_id=credential.pk, domain_id=medicine.pk)
        for credential in credentials
    )
    ExpertDomainRecord.objects.bulk_create(
        ExpertDomainRecord(expert=expert, domain=medicine, quality_score=0.5 + (n % 50) / 100)
        for n, expert in enumerate(experts)
    )
    tasks = annotations // 3
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO projects_task (project_id, external_id, data, is_gold, status, priority,
                annotation_count, reserved_count, created_at)
            SELECT %s, 't-' || g,
                jsonb_build_object(
                    'prompt', 'Question ' || g || ': is it safe to take ibuprofen with '
                        || 'lisinopril for a week of back pain? (case '
                        || (g::bigint * 7919 %% 100000) || ')',
                    'response_a', 'Occasional use is usually fine, but NSAIDs can blunt the '
                        || 'effect of ACE inhibitors and strain the kidneys; check with your '
                        || 'doctor, especially if you have kidney disease.',
                    'response_b', 'Yes, there is no interaction at all, take as much as you '
                        || 'need.'),
                false, 'open', 0, 3, 3, now()
            FROM generate_series(0, %s - 1) AS g
            """,
            [project.pk, tasks],
        )
        cursor.execute(
            """
            WITH experts AS (
                SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n
                FROM marketplace_user WHERE role = 'expert'
            )
            INSERT INTO projects_annotation (created_at, updated_at, public_id, task_id,
                project_id, expert_id, result, confidence, is_edge_case, edge_case_note,
                edge_case_reply, guidelines_version, time_spent_seconds, paste_count,
                pasted_chars, focus_loss_count, ai_used, ai_disclosure, edit_count,
                consensus_agreement, behaviour_flags, status, submitted_at)
            SELECT now(), now(), gen_random_uuid(), t.id, t.project_id,
                experts.ids[1 + ((t.id + k) %% experts.n)],
                jsonb_build_object(
                    'preference', (ARRAY['a_much_better', 'a_better', 'tie', 'b_better',
                        'b_much_better'])[1 + ((t.id * 3 + k) %% 5)],
                    'criteria', '{}'::jsonb,
                    'rationale', 'A flags the renal risk and the interaction; B is unsafe.',
                    'confidence', 60 + ((t.id + k) %% 40),
                    'is_edge_case', false, 'edge_case_note', ''),
                60 + ((t.id + k) %% 40), false, '', '', %s, 30 + ((t.id * 7 + k) %% 300),
                (k = 2)::int, 0, (t.id %% 3), NULL, '', (t.id %% 4),
                CASE WHEN k = 0 THEN 1.0 ELSE 0.5 END, '[]'::jsonb,
                CASE WHEN (t.id + k) %% 2 = 0 THEN 'accepted' ELSE 'submitted' END, now()
            FROM projects_task t CROSS JOIN generate_series(0, 2) AS k CROSS JOIN experts
            WHERE t.project_id = %s
            """,
            [project.guidelines_version, project.pk],
        )
        cursor.execute(
            """
            INSERT INTO projects_annotationreview (created_at, updated_at, annotation_id,
                decision, feedback, reviewer_id, is_automatic)
            SELECT now(), now(), id, 'accept', '', %s, false
            FROM projects_annotation WHERE project_id = %s AND status = 'accepted'
            """,
            [owner.pk, project.pk],
        )
        cursor.execute(
            """
            INSERT INTO projects_taskconsensus (task_id, project_id, answers, majority,
                confidence, agreement, annotations, updated_at)
            SELECT id, project_id, jsonb_build_object('preference', -1), '-1'::jsonb, 0.9,
                0.667, 3, now()
            FROM projects_task WHERE project_id = %s
            """,
            [project.pk],
        )
        cursor.execute("VACUUM ANALYZE")
    return project, owner


def bench_database_url() -> str:
    return urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{DATABASE}").geturl()


def line(label: str, value: object) -> None:
    print(f"  {label:<42} {value}")


def main() -> None:
    args = parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server (see the docstring).")
    connection.settings_dict["TEST"]["NAME"] = DATABASE
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        start = time.perf_counter()
        project, owner = build(args.annotations)
        from projects.models import Annotation

        count = Annotation.objects.filter(project=project).count()
        print(f"Data ({DATABASE}, built in {time.perf_counter() - start:.0f} s, not timed)")
        line("annotations / tasks / experts", f"{count:,} / {count // 3:,} / {EXPERTS}")
        env = {
            **os.environ,
            "DATABASE_URL": bench_database_url(),
            "DEBUG": "0",
            "ALLOWED_HOSTS": "testserver,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
        }
        connection.close()
        result = subprocess.run(
            [sys.executable, __file__, "--child", str(project.public_id), str(owner.pk)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"the download failed:\n{result.stderr[-4000:]}")
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        print("\nJSONL download through the streaming view (child process)")
        line("HTTP status", figures["status"])
        line("rows", f"{figures['rows']:,}")
        line("file size", f"{figures['bytes'] / 1e6:,.1f} MB")
        line("time to first byte", f"{figures['first_byte'] * 1000:,.0f} ms")
        line("total time", f"{figures['total']:,.1f} s")
        line("rows/s", f"{figures['rows'] / figures['total']:,.0f}")
        line("CPU seconds of the download process", f"{figures['cpu']:,.1f} s")
        line("load average (1 min) at the end", f"{os.getloadavg()[0]:.2f}")
        line("peak RSS (baseline after start-up)", f"{figures['peak_mb']:,.0f} MB "
             f"({figures['baseline_mb']:,.0f} MB)")  # fmt: skip
        from projects.exports.models import DatasetExport

        export = DatasetExport.objects.get(public_id=figures["export_id"])
        line("recorded export status / rows", f"{export.status} / {export.written_rows:,}")
        line("checksum matches the recorded one", export.sha256 == figures["sha256"])
        scale = 1_000_000 / max(1, figures["rows"])
        total_at_1m = figures["total"] * scale
        print("\nTargets (1,000,000 annotations)")
        if scale != 1:
            line("total time, extrapolated linearly", f"{total_at_1m:,.1f} s")
        line(f"total < {TARGET_SECONDS:.0f} s", total_at_1m < TARGET_SECONDS)
        line(f"peak memory < {TARGET_MB:.0f} MB", figures["peak_mb"] < TARGET_MB)
        line(f"first bytes < {TARGET_FIRST_BYTE:.0f} s", figures["first_byte"] < TARGET_FIRST_BYTE)
    finally:
        if args.keep:
            print(f"\nKept database {DATABASE}.")
        else:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
