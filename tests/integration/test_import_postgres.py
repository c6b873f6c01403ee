"""Task imports on real PostgreSQL: COPY into a temporary table, then one INSERT ... ON CONFLICT.

Committed transactions, as in production: the import's Celery task runs (eagerly) when the
upload commits, and a rejected or refused import must leave no row behind after a real
rollback.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.models import AuditEvent
from projects.imports import writer
from projects.models import GoldAnswer, Task, TaskImport
from projects.services.imports import task_import_create, task_import_run, tasks_create_batch
from projects.states import ImportStatus
from projects.tasks import run_task_import
from tests.projects import factories

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GOLD = {"preference": "b_better", "rationale": "B cites the label."}


def row(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": f"pg-{n}",
        "prompt": f"Prompt {n}",
        "response_a": f"A {n}",
        "response_b": f"B {n}",
        **extra,
    }


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture
def lab():
    actor = factories.manager_actor()
    return actor, factories.project(actor)


def upload(actor, project, content: bytes, name: str = "tasks.jsonl", **kwargs) -> TaskImport:
    """Upload and commit; the import runs on commit, like a worker picking it up."""
    task_import = task_import_create(
        actor=actor, project=project, upload=SimpleUploadedFile(name, content), **kwargs
    )
    task_import.refresh_from_db()
    return task_import


def temp_table_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass(%s), to_regclass(%s)",
            [f"pg_temp.{writer.IDS_TABLE}", f"pg_temp.{writer.GOLD_TABLE}"],
        )
        return cursor.fetchone() != (None, None)


def test_copy_imports_tasks_and_gold_answers_in_file_order(lab):
    assert connection.vendor == "postgresql"
    actor, project = lab
    rows = [row(n, gold=GOLD) if n % 10 == 0 else row(n) for n in range(1, 501)]

    task_import = upload(actor, project, jsonl(rows))

    assert task_import.status == ImportStatus.SUCCEEDED, task_import.failure_reason
    assert (task_import.created_count, task_import.skipped_count) == (500, 0)
    ids = list(Task.objects.filter(project=project).order_by("id").values_list("external_id"))
    assert [i for (i,) in ids] == [f"pg-{n}" for n in range(1, 501)]
    assert Task.objects.filter(project=project, is_gold=True).count() == 50
    assert GoldAnswer.objects.filter(task__project=project).count() == 50
    answer = GoldAnswer.objects.get(task__external_id="pg-10")
    assert answer.answer["preference"] == "b_better"
    assert answer.answer["confidence"] == 100
    assert set(Task.objects.values_list("source_import_id", flat=True)) == {task_import.pk}
    assert not temp_table_exists()


def test_text_survives_copy_byte_for_byte(lab):
    actor, project = lab
    tricky = "tab\there\nnew line\r\\N back\\slash \\. \\u0000 “quotes” 😀 <script>x</script>"
    rows = [
        row(1, prompt=tricky, metadata={"k\\t": "\\", "n": None}),
        row(2, external_id="slash\\id 2", gold=GOLD, gold_explanation=tricky),
    ]

    task_import = upload(actor, project, jsonl(rows))

    assert task_import.status == ImportStatus.SUCCEEDED, task_import.failure_reason
    first = Task.objects.get(project=project, external_id="pg-1")
    assert first.data["prompt"] == tricky
    assert first.data["metadata"] == {"k\\t": "\\", "n": None}
    second = Task.objects.get(project=project, external_id="slash\\id 2")
    assert second.gold_answer.explanation == tricky.strip()


def test_importing_again_skips_known_ids_and_changes_nothing(lab):
    actor, project = lab
    first = upload(actor, project, jsonl([row(n) for n in range(1, 101)]))
    before = list(Task.objects.filter(project=project).order_by("id").values_list("id", "data"))

    again = upload(actor, project, jsonl([row(n, prompt="changed") for n in range(1, 101)]))
    more = upload(actor, project, jsonl([row(n) for n in range(51, 151)]))

    assert (first.created_count, first.skipped_count) == (100, 0)
    assert (again.status, again.created_count, again.skipped_count) == (
        ImportStatus.SUCCEEDED,
        0,
        100,
    )
    assert (more.created_count, more.skipped_count) == (50, 50)
    after = list(Task.objects.filter(project=project).order_by("id").values_list("id", "data"))
    assert after[:100] == before
    assert len(after) == 150


def test_a_rejected_file_leaves_nothing(lab):
    actor, project = lab
    rows = [row(n) for n in range(1, 300)]
    rows[150] = {"external_id": "bad", "prompt": "only a prompt"}

    task_import = upload(actor, project, jsonl(rows))

    assert task_import.status == ImportStatus.FAILED
    assert [e["row"] for e in task_import.errors] == [151, 151]
    assert Task.objects.filter(project=project).count() == 0
    assert not AuditEvent.objects.filter(action="project.tasks_import").exists()


def test_a_refusal_after_copy_rolls_everything_back():
    actor = factories.manager_actor()
    project = factories.active_project(actor, task_count=3)
    rows = [row(n, gold=GOLD) if n == 1 else row(n) for n in range(1, 20)]

    task_import = upload(actor, project, jsonl(rows))

    assert task_import.status == ImportStatus.FAILED
    assert "Add funds" in task_import.failure_reason
    assert Task.objects.filter(project=project).count() == 3
    assert GoldAnswer.objects.count() == 0
    assert not temp_table_exists()


def test_the_executemany_path_gives_the_same_result(lab, monkeypatch):
    monkeypatch.setattr(writer, "POSTGRES_COPY", False)
    actor, project = lab
    rows = [row(n, gold=GOLD) if n % 3 == 0 else row(n) for n in range(1, 31)]

    first = upload(actor, project, jsonl(rows))
    again = upload(actor, project, jsonl(rows))

    assert (first.created_count, again.created_count, again.skipped_count) == (30, 0, 30)
    assert GoldAnswer.objects.count() == 10


def test_batches_use_copy_with_the_same_queries_whatever_their_size(lab):
    actor, project = lab

    def queries_for(rows: list[dict[str, Any]]) -> int:
        with CaptureQueriesContext(connection) as captured:
            tasks_create_batch(actor=actor, project=project, rows=rows)
        return len(captured)

    small = queries_for([row(n, gold=GOLD) if n % 4 == 0 else row(n) for n in range(20)])
    large = queries_for([row(n, gold=GOLD) if n % 4 == 0 else row(n) for n in range(20, 220)])

    assert small == large
    assert Task.objects.filter(project=project).count() == 220
    assert GoldAnswer.objects.count() == 55


def test_two_workers_running_one_import_save_it_once(lab):
    actor, project = lab
    with mock.patch.object(run_task_import, "delay"):
        task_import = upload(actor, project, jsonl([row(n) for n in range(1, 2001)]))
    assert task_import.status == ImportStatus.PENDING
    barrier = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def work(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = task_import_run(import_id=task_import.pk).status
        except Exception as error:  # the outcome under test
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcomes == [ImportStatus.SUCCEEDED, ImportStatus.SUCCEEDED]
    task_import.refresh_from_db()
    assert (task_import.created_count, task_import.skipped_count) == (2000, 0)
    assert Task.objects.filter(project=project).count() == 2000
    assert AuditEvent.objects.filter(action="project.tasks_import").count() == 1
