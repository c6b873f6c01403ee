"""Dataset exports on real PostgreSQL: rows stream from a server-side (named) cursor.

Committed transactions, as in production: a streamed download reads its rows inside one
snapshot through a cursor that is not holdable (so PostgreSQL sends the first rows before it
has computed the last), and the Celery path reads outside a transaction (a holdable cursor)
so the progress it writes between chunks is visible at once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random

import orjson
import pyarrow.parquet as pq
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from projects.exports import rows as export_rows
from projects.exports import services
from projects.exports.models import DatasetExport
from projects.models import Annotation, AnnotationReview, Project, Task, TaskConsensus
from projects.states import AnnotationStatus, ExportStatus
from tests.projects.workspace_factories import member, workspace

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ANNOTATIONS = 6_500  # four chunks of CHUNK_ROWS


def seed(project: Project, experts: list, count: int) -> None:
    """``count`` annotations on count // len(experts) tasks, half of them accepted."""
    rng = random.Random(7)  # noqa: S311 (test data, not secrets)
    per_task = len(experts)
    tasks = Task.objects.bulk_create(
        Task(
            project=project,
            external_id=f"pg-{n}",
            data={"prompt": f"Prompt {n} 🧪", "response_a": f"A {n}", "response_b": f"B {n}"},
            annotation_count=per_task,
            reserved_count=per_task,
        )
        for n in range(count // per_task)
    )
    now = timezone.now()
    preferences = ["a_much_better", "a_better", "tie", "b_better", "b_much_better"]
    Annotation.objects.bulk_create(
        (
            Annotation(
                task=task,
                project=project,
                expert=expert,
                result={"preference": rng.choice(preferences), "rationale": "Because.",
                        "confidence": 80},
                confidence=80,
                guidelines_version=project.guidelines_version,
                status=AnnotationStatus.ACCEPTED if n % 2 else AnnotationStatus.SUBMITTED,
                submitted_at=now,
            )
            for n, (task, expert) in enumerate(
                (task, expert) for task in tasks for expert in experts
            )
        ),
        batch_size=2000,
    )  # fmt: skip
    accepted = Annotation.objects.filter(project=project, status=AnnotationStatus.ACCEPTED)
    AnnotationReview.objects.bulk_create(
        AnnotationReview(annotation_id=pk, decision="accept", is_automatic=True)
        for pk in accepted.values_list("pk", flat=True)
    )
    TaskConsensus.objects.bulk_create(
        TaskConsensus(task=task, project=project, answers={"preference": -1}, confidence=0.9,
                      agreement=0.5, annotations=per_task)
        for task in tasks
    )  # fmt: skip


@pytest.fixture
def big():
    actor, project, experts = workspace(experts=2, task_count=1, overlap=2)
    experts.append(member(project))
    seed(project, experts, ANNOTATIONS)
    return actor, project


def open_cursors() -> list[tuple[str, bool]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, is_holdable FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        return cursor.fetchall()


def test_a_streamed_download_reads_from_a_server_side_cursor(client, big, settings):
    assert connection.vendor == "postgresql"
    actor, project = big
    settings.EXPORT_STREAM_MAX_ROWS = 10_000
    client.force_login(actor.user)

    response = client.get(
        reverse("projects:export_download", args=[project.organization.slug, project.public_id])
        + "?format=jsonl&shape=training"
    )
    blocks = iter(response.streaming_content)
    first = next(blocks)
    during = open_cursors()
    content = first + b"".join(blocks)

    assert len(during) == 1
    assert during[0][1] is False  # inside the snapshot: streams, not materialised first
    assert open_cursors() == []
    lines = content.splitlines()
    total = Annotation.objects.filter(project=project).count()
    assert len(lines) == total
    assert len(first.splitlines()) == export_rows.CHUNK_ROWS
    ids = [orjson.loads(line)["provenance"]["annotation_id"] for line in lines]
    assert len(set(ids)) == total
    expected = [
        str(public_id)
        for public_id in Annotation.objects.filter(project=project)
        .order_by("id")
        .values_list("public_id", flat=True)
    ]
    assert ids == expected
    export = DatasetExport.objects.get(public_id=response["X-Export-Id"])
    assert (export.status, export.written_rows) == (ExportStatus.READY, total)
    assert export.sha256 == hashlib.sha256(content).hexdigest()
    accepted = [orjson.loads(line) for line in lines if b'"status":"accepted"' in line]
    assert {row["provenance"]["review"]["reviewer"] for row in accepted} == {"auto"}
    assert {row["provenance"]["item_agreement"] for row in accepted} == {0.5}


def test_the_celery_path_writes_the_file_with_progress(big):
    actor, project = big

    export = services.export_create(
        actor=actor,
        project=project,
        format="parquet",
        shape="training",
        filters={"accepted_only": True},
    )  # runs on commit (eager), reading through a holdable cursor

    export.refresh_from_db()
    accepted = Annotation.objects.filter(project=project, status=AnnotationStatus.ACCEPTED).count()
    assert export.status == ExportStatus.READY
    assert (export.total_rows, export.written_rows) == (accepted, accepted)
    content = export.file.read()
    export.file.close()
    assert hashlib.sha256(content).hexdigest() == export.sha256
    table = pq.read_table(io.BytesIO(content))
    assert table.num_rows == accepted
    assert set(table.column("provenance").combine_chunks().field("status").to_pylist()) == {
        "accepted"
    }
    assert open_cursors() == []


def test_consensus_rows_stream_per_item(client, big, settings):
    actor, project = big
    settings.EXPORT_STREAM_MAX_ROWS = 10_000
    client.force_login(actor.user)

    response = client.get(
        reverse("projects:export_download", args=[project.organization.slug, project.public_id])
        + "?format=csv&shape=consensus"
    )
    content = b"".join(response.streaming_content).decode()

    rows = list(csv.DictReader(io.StringIO(content)))
    assert len(rows) == Task.objects.filter(project=project, external_id__startswith="pg-").count()
    assert {row["preference"] for row in rows} == {"a_better"}
    assert {row["annotation_count"] for row in rows} == {"3"}
