"""Task imports: upload a file of tasks (or send a batch through the API) into a project.

The rule for bad rows (also on ``TaskImport``): a file with any invalid row is rejected whole,
with a report of every problem (row, dotted field path, problem; at most
``MAX_IMPORT_REPORT_PROBLEMS`` kept, ``error_count`` counts all); nothing of it is imported.
Rows whose external id is already in the project are skipped and counted, never duplicated
and never updated, so importing a file twice adds nothing the second time.

Gold tasks: an import of kind GOLD needs ``gold`` (the known-correct result) on every row.
An import of kind TASKS may mix them: a row with ``gold`` becomes a gold task too.

A file is processed in two passes by a Celery task (``task_import_run``): the first checks
every row, streaming the file, and writes the clean rows to a local spool; only when every
row is valid does the second save them in one transaction. Memory stays flat whatever the
size of the file.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.services import audit_record
from projects.access import LabActor, lab_audit_record
from projects.imports.rows import RowChecker, Spool
from projects.imports.sources import (
    UnreadableFile,
    columns_for,
    count_rows,
    file_rows,
    list_rows,
    row_numbering_note,
)
from projects.imports.writer import WriteOutcome, write_rows
from projects.models import Project, Task, TaskImport
from projects.pricing import format_dollars
from projects.selectors import required_funds_cents
from projects.states import (
    FINISHED_IMPORT_STATES,
    TASK_IMPORT_STATES,
    ImportFormat,
    ImportKind,
    ImportStatus,
    ProjectStatus,
)
from projects.task_types import task_type_for

logger = logging.getLogger(__name__)

# Rows between two progress updates the browser can see.
PROGRESS_EVERY = 2000
FORMAT_BY_EXTENSION = {
    ".jsonl": ImportFormat.JSONL,
    ".ndjson": ImportFormat.JSONL,
    ".csv": ImportFormat.CSV,
    ".json": ImportFormat.LABEL_STUDIO,
}
UNEXPECTED_FAILURE = "The import stopped on an unexpected error; nothing was imported. Try again."
MAX_REASON = 300


class ImportRejected(InvalidInput):
    """Rows of an API batch have problems; nothing was imported.

    ``problems`` lists them as ``{"row", "field", "problem"}`` (rows numbered from 1 in the
    order sent), at most ``MAX_IMPORT_REPORT_PROBLEMS``; ``problem_count`` counts them all.
    """

    def __init__(self, *, problems: list[dict[str, Any]], bad_rows: int, problem_count: int):
        super().__init__(_rows_problem(bad_rows), field="tasks")
        self.problems = problems
        self.bad_rows = bad_rows
        self.problem_count = problem_count


class _Superseded(Exception):
    """Another run of the same import finished it meanwhile."""


class _Refused(Exception):
    """Stop saving and roll back; ``reason`` goes to the lab."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Guards ----------------------------------------------------------------------------------


def _require_project_of(actor: LabActor, project: Project) -> None:
    if project.organization_id != actor.organization.pk:
        raise NotFound()


def _state_problem(project: Project) -> str | None:
    if project.status in TASK_IMPORT_STATES:
        return None
    return f"A {project.get_status_display().lower()} project takes no more tasks."


def _funds_problem(project: Project, outcome: WriteOutcome) -> str | None:
    """Why a live project cannot take the new regular tasks (None when funds cover them)."""
    if project.status not in (ProjectStatus.ACTIVE, ProjectStatus.PAUSED):
        return None
    if not outcome.created_regular:
        return None
    total = Task.objects.filter(project=project, is_gold=False).count()
    needed = required_funds_cents(project=project, task_count=total)
    if needed <= project.funded_cents:
        return None
    return (
        f"The {outcome.created_regular:,} new tasks would bring the project to {total:,} "
        f"tasks, which need {format_dollars(needed)} in funds; "
        f"{format_dollars(project.funded_cents)} is funded. Add funds to the project, then "
        "import again. Nothing was imported."
    )


def _rows_problem(bad_rows: int) -> str:
    noun = "row has" if bad_rows == 1 else "rows have"
    return f"{bad_rows:,} {noun} problems; nothing was imported."


def _row_checker(project: Project, kind: str) -> RowChecker:
    return RowChecker(
        task_type=task_type_for(project.task_type),
        settings=project.task_settings,
        kind=kind,
        report_limit=settings.MAX_IMPORT_REPORT_PROBLEMS,
    )


def _clean_kind(kind: str) -> str:
    if kind not in ImportKind.values:
        raise InvalidInput(f"Unknown import kind “{kind}”.", field="kind")
    return kind


def _clean_format(format: str | None, name: str) -> str:
    if format:
        if format not in ImportFormat.values:
            raise InvalidInput(f"Unknown file format “{format}”.", field="format")
        return format
    extension = os.path.splitext(name)[1].lower()
    if extension not in FORMAT_BY_EXTENSION:
        raise InvalidInput(
            "Upload a .jsonl (or .ndjson), .csv or .json (Label Studio) file.", field="file"
        )
    return FORMAT_BY_EXTENSION[extension]


# Upload ----------------------------------------------------------------------------------


def task_import_create(
    *,
    actor: LabActor,
    project: Project,
    upload: File[Any],
    kind: str = ImportKind.TASKS,
    format: str | None = None,
    ip_address: str | None = None,
) -> TaskImport:
    """Store an uploaded file of tasks and queue its import (``task_import_run``).

    The format follows the file name (.jsonl/.ndjson, .csv, .json for Label Studio) unless
    given. Refuses empty files and files over ``MAX_TASK_IMPORT_SIZE``.
    """
    actor.require_manager("import tasks")
    _require_project_of(actor, project)
    kind = _clean_kind(kind)
    name = os.path.basename(upload.name or "")
    format = _clean_format(format, name)
    size = upload.size or 0
    if not size:
        raise InvalidInput("The file is empty.", field="file")
    if size > settings.MAX_TASK_IMPORT_SIZE:
        limit = settings.MAX_TASK_IMPORT_SIZE / (1024 * 1024)
        raise InvalidInput(f"The file is larger than {limit:,.0f} MB.", field="file")
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        problem = _state_problem(locked)
        if problem:
            raise Conflict(problem)
        task_import = TaskImport(
            project=locked,
            kind=kind,
            format=format,
            original_name=name[:200],
            size=size,
            created_by=actor.user,
        )
        task_import.file.save(name or "tasks", upload, save=False)
        task_import.save()
        lab_audit_record(
            actor=actor,
            action="project.tasks_upload",
            target=locked,
            after={
                "import": str(task_import.public_id),
                "kind": kind,
                "format": format,
                "name": task_import.original_name,
                "size": size,
            },
            ip_address=ip_address,
        )
        from projects.tasks import run_task_import

        import_id = task_import.pk
        transaction.on_commit(lambda: run_task_import.delay(import_id))
    return task_import


# Processing ------------------------------------------------------------------------------


def _raw_stream(opened: Any) -> IO[bytes]:
    """The innermost file object, read directly (Django's File wrappers iterate slowly)."""
    inner = opened
    while isinstance(inner, File):
        inner = inner.file
    return inner  # type: ignore[no-any-return]


@contextmanager
def _opened(task_import: TaskImport) -> Iterator[IO[bytes]]:
    try:
        task_import.file.open("rb")
    except (OSError, ValueError):
        raise UnreadableFile("The uploaded file is missing; upload it again.") from None
    try:
        yield _raw_stream(task_import.file)
    finally:
        task_import.file.close()


def _update(task_import: TaskImport, **fields: Any) -> None:
    """Write progress at once (outside any transaction), so the lab's page sees it.

    Only an unfinished import changes: when a second run of the same import (a redelivered
    message) finished it meanwhile, raise _Superseded and leave its outcome alone.
    """
    unfinished = TaskImport.objects.filter(pk=task_import.pk).exclude(
        status__in=FINISHED_IMPORT_STATES
    )
    if not unfinished.update(**fields):
        raise _Superseded()
    for name, value in fields.items():
        setattr(task_import, name, value)


def _fail(task_import: TaskImport, reason: str, checker: RowChecker | None = None) -> TaskImport:
    fields: dict[str, Any] = {
        "status": ImportStatus.FAILED,
        "failure_reason": reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…",
        "finished_at": timezone.now(),
        "created_count": 0,
        "skipped_count": 0,
    }
    if checker is not None:
        fields |= {
            "errors": checker.problems,
            "error_count": checker.problem_count,
            "processed_rows": checker.rows,
        }
    _update(task_import, **fields)
    logger.info("Task import %s rejected: %s", task_import.pk, reason)
    return task_import


def _rows_reason(checker: RowChecker, format: str) -> str:
    return f"{_rows_problem(checker.bad_rows)} {row_numbering_note(format)}"


def _check_file(task_import: TaskImport, checker: RowChecker, spool: Spool) -> str | None:
    """Read every row, spooling the clean ones while all are clean; return why the file as
    a whole cannot be read, if it cannot."""
    columns = columns_for(checker.task_type, task_import.kind)
    try:
        with _opened(task_import) as stream:
            total = count_rows(task_import.format, stream)
        _update(task_import, total_rows=total)
        with _opened(task_import) as stream:
            for row in file_rows(task_import.format, stream, columns):
                checker.check_into(row, spool)
                if checker.rows % PROGRESS_EVERY == 0:
                    _update(
                        task_import,
                        processed_rows=checker.rows,
                        total_rows=max(total, checker.rows),
                    )
    except UnreadableFile as error:
        return error.reason
    return None


def _save(task_import: TaskImport, spool: Spool, rows: int) -> TaskImport:
    """Insert the spooled rows in one transaction; all or nothing."""
    try:
        with transaction.atomic():
            project = Project.objects.select_for_update().get(pk=task_import.project_id)
            current = TaskImport.objects.select_for_update().get(pk=task_import.pk)
            if current.status in FINISHED_IMPORT_STATES:
                return current  # a second run of the same import finished it meanwhile
            problem = _state_problem(project)
            if problem:
                raise _Refused(problem)
            outcome = write_rows(task_import=current, spool=spool)
            problem = _funds_problem(project, outcome)
            if problem:
                raise _Refused(problem)
            _update(
                task_import,
                status=ImportStatus.SUCCEEDED,
                created_count=outcome.created,
                skipped_count=rows - outcome.created,
                finished_at=timezone.now(),
            )
            audit_record(
                actor=task_import.created_by,
                action="project.tasks_import",
                target=project,
                organization=project.organization,
                after={
                    "import": str(task_import.public_id),
                    "kind": task_import.kind,
                    "format": task_import.format,
                    "rows": rows,
                    "created": outcome.created,
                    "gold": outcome.created_gold,
                    "skipped": rows - outcome.created,
                },
            )
    except _Refused as refusal:
        return _fail(task_import, refusal.reason)
    return task_import


def _run(task_import: TaskImport) -> TaskImport:
    project = task_import.project
    _update(
        task_import,
        status=ImportStatus.VALIDATING,
        started_at=timezone.now(),
        processed_rows=0,
        error_count=0,
        errors=[],
        failure_reason="",
    )
    problem = _state_problem(project)
    if problem:
        return _fail(task_import, problem)
    checker = _row_checker(project, task_import.kind)
    with Spool() as spool:
        started = time.monotonic()
        unreadable = _check_file(task_import, checker, spool)
        checked = time.monotonic()
        logger.info(
            "Task import %s: checked %d rows in %.2f s",
            task_import.pk,
            checker.rows,
            checked - started,
            extra={"phase": "validation", "seconds": checked - started, "rows": checker.rows},
        )
        if unreadable:
            return _fail(task_import, unreadable, checker)
        if checker.problem_count:
            return _fail(task_import, _rows_reason(checker, task_import.format), checker)
        if not checker.rows:
            return _fail(task_import, "The file holds no tasks.", checker)
        _update(
            task_import,
            status=ImportStatus.SAVING,
            processed_rows=checker.rows,
            total_rows=checker.rows,
        )
        saved = _save(task_import, spool, checker.rows)
        finished = time.monotonic()
        logger.info(
            "Task import %s: saved in %.2f s (%s, %d created)",
            task_import.pk,
            finished - checked,
            saved.status,
            saved.created_count,
            extra={"phase": "saving", "seconds": finished - checked, "rows": checker.rows},
        )
        return saved


def task_import_run(*, import_id: int) -> TaskImport:
    """Check and save an uploaded file of tasks. A finished import is returned unchanged;
    an unfinished one (e.g. its worker died) starts again from the beginning."""
    try:
        task_import = TaskImport.objects.select_related(
            "project", "project__organization", "created_by"
        ).get(pk=import_id)
    except TaskImport.DoesNotExist:
        raise NotFound() from None
    if task_import.status in FINISHED_IMPORT_STATES:
        return task_import
    try:
        return _run(task_import)
    except _Superseded:
        return TaskImport.objects.get(pk=import_id)
    except Exception:
        logger.exception("Task import %s failed", import_id)
        with suppress(_Superseded):
            _fail(task_import, UNEXPECTED_FAILURE)
        raise


# API batches -----------------------------------------------------------------------------


def tasks_create_batch(
    *,
    actor: LabActor,
    project: Project,
    rows: list[Any],
    kind: str = ImportKind.TASKS,
    ip_address: str | None = None,
) -> TaskImport:
    """Import up to ``MAX_TASKS_PER_API_BATCH`` tasks sent in a request, synchronously.

    Same rules as a file. Any bad row raises ``ImportRejected`` and leaves nothing behind
    (no tasks, no TaskImport); a batch the project's funds cannot cover raises Conflict.
    Sending the same rows again creates nothing (they are skipped).
    """
    actor.require_manager("import tasks")
    _require_project_of(actor, project)
    kind = _clean_kind(kind)
    if not isinstance(rows, list) or not rows:
        raise InvalidInput("Send a list of at least one task.", field="tasks")
    if len(rows) > settings.MAX_TASKS_PER_API_BATCH:
        raise InvalidInput(
            f"Send at most {settings.MAX_TASKS_PER_API_BATCH:,} tasks per request; "
            "upload a file or send several requests for more.",
            field="tasks",
        )
    problem = _state_problem(project)
    if problem:
        raise Conflict(problem)
    checker = _row_checker(project, kind)
    with Spool(in_memory=True) as spool:
        for row in list_rows(rows):
            checker.check_into(row, spool)
        if checker.problem_count:
            raise ImportRejected(
                problems=checker.problems,
                bad_rows=checker.bad_rows,
                problem_count=checker.problem_count,
            )
        with transaction.atomic():
            locked = Project.objects.select_for_update().get(pk=project.pk)
            problem = _state_problem(locked)
            if problem:
                raise Conflict(problem)
            now = timezone.now()
            task_import = TaskImport.objects.create(
                project=locked,
                kind=kind,
                format=ImportFormat.JSONL,
                status=ImportStatus.SAVING,
                total_rows=checker.rows,
                processed_rows=checker.rows,
                created_by=actor.user,
                started_at=now,
            )
            outcome = write_rows(task_import=task_import, spool=spool)
            problem = _funds_problem(locked, outcome)
            if problem:
                raise Conflict(problem)
            task_import.status = ImportStatus.SUCCEEDED
            task_import.created_count = outcome.created
            task_import.skipped_count = checker.rows - outcome.created
            task_import.finished_at = timezone.now()
            task_import.save(
                update_fields=[
                    "status",
                    "created_count",
                    "skipped_count",
                    "finished_at",
                    "updated_at",
                ]
            )
            lab_audit_record(
                actor=actor,
                action="project.tasks_import",
                target=locked,
                after={
                    "import": str(task_import.public_id),
                    "kind": kind,
                    "format": "api",
                    "rows": checker.rows,
                    "created": outcome.created,
                    "gold": outcome.created_gold,
                    "skipped": task_import.skipped_count,
                },
                ip_address=ip_address,
            )
    return task_import
