"""A real Celery worker runs the quality engine after answers commit, and writes a big export.

The worker is the same kind of process as in ``test_celery_worker`` (its own queue, the test
database). The batch wait is set to zero here, so the run starts as soon as the answers
commit; only the first answer of a batch queues a run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from marketplace.models import Notification
from projects.exports import services as export_services
from projects.models import DatasetExport, Project, ProjectMember, ProjectQuality
from projects.quality import services as quality_services
from projects.states import ExportStatus, MemberStatus
from tests.integration.test_celery_worker import (  # noqa: F401 - fixtures
    DELIVERY_TIMEOUT,
    Worker,
    _wait_until,
    celery_worker,
    worker,
)
from tests.projects.workspace_factories import answer_task, workspace

pytestmark = [pytest.mark.postgres, pytest.mark.celery]


@pytest.fixture(scope="module", autouse=True)
def worker_files(tmp_path_factory) -> Iterator[Path]:
    """Where the worker keeps private files: set in the environment it inherits (autouse
    fixtures of a scope run before the others, so this is set before the worker starts)."""
    root = tmp_path_factory.mktemp("worker-private")
    saved = os.environ.get("PRIVATE_MEDIA_ROOT")
    os.environ["PRIVATE_MEDIA_ROOT"] = str(root)
    yield root
    if saved is None:
        os.environ.pop("PRIVATE_MEDIA_ROOT", None)
    else:
        os.environ["PRIVATE_MEDIA_ROOT"] = saved


def test_committed_answers_are_scored_by_the_worker_and_a_clicker_is_paused(
    worker: Worker,  # noqa: F811 - the fixture imported above
    monkeypatch,
):
    monkeypatch.setattr(quality_services, "QUALITY_BATCH_SECONDS", 0)
    _actor, project, (clicker, other) = workspace(
        experts=2, task_count=1, gold=3, min_gold_tasks=3, overlap=2
    )
    for task in project.tasks.filter(is_gold=True):
        answer_task(clicker, task, project, preference="b_much_better")
    task = project.tasks.get(is_gold=False)
    answer_task(clicker, task, project, preference="a_better")
    answer_task(other, task, project, preference="a_better")

    def computed() -> bool:
        quality = ProjectQuality.objects.filter(project=project).first()
        return quality is not None and quality.annotations == 5

    _wait_until(computed, timeout=DELIVERY_TIMEOUT, worker=worker, what="the quality run")
    member = ProjectMember.objects.get(project=project, expert=clicker)
    assert member.status == MemberStatus.PAUSED
    assert Notification.objects.filter(recipient=clicker, kind="quality.paused").count() == 1
    assert Project.objects.get(pk=project.pk).quality_stale_at is None
    figures = ProjectQuality.objects.get(project=project).figures
    assert figures["questions"][0]["pairwise"] == 1.0


def test_a_queued_export_is_written_by_the_worker(
    worker: Worker,  # noqa: F811 - the fixture imported above
    worker_files: Path,
):
    actor, project, experts = workspace(experts=2, task_count=2, overlap=2)
    for task in project.tasks.all():
        for expert in experts:
            answer_task(expert, task, project)

    export = export_services.export_create(
        actor=actor, project=project, format="jsonl", shape="training"
    )

    def ready() -> bool:
        return DatasetExport.objects.get(pk=export.pk).status == ExportStatus.READY

    _wait_until(ready, timeout=DELIVERY_TIMEOUT, worker=worker, what="the export")
    export.refresh_from_db()
    written = (worker_files / export.file.name).read_bytes()
    rows = [orjson.loads(line) for line in written.splitlines()]
    assert len(rows) == export.total_rows == 4
    assert {row["provenance"]["export_id"] for row in rows} == {str(export.public_id)}
    assert all(row["chosen"] == row["response_a"] for row in rows)
