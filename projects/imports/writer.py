"""Save the spooled rows of an import: new tasks are inserted, known external ids skipped.

Call ``write_rows`` inside the import's transaction with the project row locked: every
writer of tasks takes that lock, so the external ids found here cannot appear meanwhile.

PostgreSQL (the production path):

1. COPY the external ids (only) into a temporary table and look up those the project
   already has;
2. COPY the other rows straight into the task table, in file order, skipping the known ones
   as the spool streams by (so each task's JSON is parsed and stored once);
3. add the gold answers of the gold tasks this import created with one INSERT ... SELECT.

Measured on 100,000 tasks of 2 KB (benchmarks/import_tasks.py, PostgreSQL 15, 2 cores):
saving takes about 7 s with LZ4 TOAST compression (migration 0002; 8.5 to 11 s with
pglz), against about 10.5 s for COPY of whole rows into a temporary
table followed by ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING`` (each task's JSON
parsed and compressed twice) and about 38 s for executemany; re-importing the same file
writes nothing but the ids (about 1 s, against about 8.5 s).

Other databases (SQLite): batches of ``INSERT ... ON CONFLICT DO NOTHING`` through
executemany. Either way the number of queries does not grow with the rows of a batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from projects.imports.rows import CleanRow, Spool
from projects.models import GoldAnswer, Task, TaskImport
from projects.states import TaskStatus

# Rows per executemany on databases without COPY (one API batch is at most 1,000 rows).
BATCH_ROWS = 1000
# Bytes handed to COPY at a time.
COPY_CHUNK_BYTES = 1024 * 1024
# Known external ids fetched at a time.
FETCH_ROWS = 10_000
# Set to False to use the executemany path on PostgreSQL too (the benchmark compares them).
POSTGRES_COPY = True
IDS_TABLE = "task_import_ids"
GOLD_FLAG = ord("t")
GOLD_TABLE = "task_import_gold"


@dataclass(frozen=True)
class WriteOutcome:
    created: int
    created_regular: int
    created_gold: int


def _column(model: Any, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def write_rows(*, task_import: TaskImport, spool: Spool) -> WriteOutcome:
    """Insert the spool's rows as tasks of the import's project; return what was created."""
    spool.rewind()
    if connection.vendor == "postgresql" and POSTGRES_COPY:
        return _copy_rows(task_import=task_import, spool=spool)
    return _insert_rows(task_import=task_import, spool=spool)


# PostgreSQL ------------------------------------------------------------------------------


class _NewTasks:
    """The spool's task lines that are not known yet, each prefixed with the columns every
    task of the import shares; read by COPY in chunks."""

    def __init__(self, spool: Spool, known: bytearray, prefix: bytes) -> None:
        self._lines = iter(spool.tasks)
        self._known = known
        self._prefix = prefix
        self._index = -1
        self.count = 0
        self.gold = 0

    def read(self, size: int = COPY_CHUNK_BYTES) -> bytes:
        chunk: list[bytes] = []
        length = 0
        for line in self._lines:
            self._index += 1
            if self._known[self._index]:
                continue
            chunk += (self._prefix, line)
            length += len(self._prefix) + len(line)
            self.count += 1
            if line[line.index(b"\t") + 1] == GOLD_FLAG:
                self.gold += 1
            if length >= size:
                break
        return b"".join(chunk)

    def readline(self, size: int = -1) -> bytes:  # COPY FROM reads with read() only
        raise NotImplementedError


def _known_rows(cursor: Any, task_import: TaskImport, spool: Spool) -> bytearray:
    """One byte per spooled row: 1 when the project already has its external id."""
    ids = IDS_TABLE
    cursor.execute(
        f"CREATE TEMPORARY TABLE {ids} (idx integer NOT NULL, external_id text NOT NULL) "
        "ON COMMIT DROP"
    )
    cursor.cursor.copy_expert(f"COPY {ids} (idx, external_id) FROM STDIN", spool.ids)
    known = bytearray(spool.count)
    task = _table(Task)
    project, external_id = _column(Task, "project"), _column(Task, "external_id")
    # A server-side cursor keeps the client's memory flat however many ids are known.
    if connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        lookup = connection.cursor()
    else:
        lookup = connection.chunked_cursor()
    try:
        lookup.execute(
            f"SELECT r.idx FROM {ids} r JOIN {task} t "  # noqa: S608 - names from model metadata
            f"ON t.{project} = %s AND t.{external_id} = r.external_id",
            [task_import.project_id],
        )
        while rows := lookup.fetchmany(FETCH_ROWS):
            for (index,) in rows:
                known[index] = 1
    finally:
        lookup.close()
    cursor.execute(f"DROP TABLE {ids}")
    return known


def _copy_rows(*, task_import: TaskImport, spool: Spool) -> WriteOutcome:
    task = _table(Task)
    with connection.cursor() as cursor:
        # The statements are simple; compiling them (JIT) would cost more than it saves.
        cursor.execute("SET LOCAL jit = off")
        known = _known_rows(cursor, task_import, spool)
        if all(known):
            return WriteOutcome(created=0, created_regular=0, created_gold=0)
        shared = (
            "project",
            "status",
            "annotation_count",
            "reserved_count",
            "source_import",
            "created_at",
        )
        columns = ", ".join(_column(Task, name) for name in (*shared, *Spool.TASK_COLUMNS))
        now = timezone.now().isoformat()
        prefix = f"{task_import.project_id}\t{TaskStatus.OPEN}\t0\t0\t{task_import.pk}\t{now}\t"
        new_tasks = _NewTasks(spool, known, prefix.encode())
        cursor.cursor.copy_expert(
            f"COPY {task} ({columns}) FROM STDIN", new_tasks, size=COPY_CHUNK_BYTES
        )
        if new_tasks.gold:
            _copy_gold(cursor, task_import, spool)
    return WriteOutcome(
        created=new_tasks.count,
        created_regular=new_tasks.count - new_tasks.gold,
        created_gold=new_tasks.gold,
    )


def _copy_gold(cursor: Any, task_import: TaskImport, spool: Spool) -> None:
    """Add the answers of the gold tasks this import created (known tasks keep theirs)."""
    gold = GOLD_TABLE
    cursor.execute(
        f"CREATE TEMPORARY TABLE {gold} (external_id text NOT NULL, answer jsonb NOT NULL, "
        "explanation text NOT NULL) ON COMMIT DROP"
    )
    cursor.cursor.copy_expert(
        f"COPY {gold} (external_id, answer, explanation) FROM STDIN",
        spool.gold,
        size=COPY_CHUNK_BYTES,
    )
    task, answers = _table(Task), _table(GoldAnswer)
    t = {name: _column(Task, name) for name in ("id", "project", "external_id", "source_import")}
    a = [
        _column(GoldAnswer, name)
        for name in ("task", "answer", "explanation", "created_at", "updated_at")
    ]
    now = timezone.now()
    cursor.execute(
        f"INSERT INTO {answers} ({', '.join(a)}) "  # noqa: S608 - names from model metadata
        f"SELECT t.{t['id']}, g.answer, g.explanation, %s, %s FROM {gold} g "
        f"JOIN {task} t ON t.{t['project']} = %s AND t.{t['external_id']} = g.external_id "
        f"WHERE t.{t['source_import']} = %s",
        [now, now, task_import.project_id, task_import.pk],
    )
    cursor.execute(f"DROP TABLE {gold}")


# Other databases -------------------------------------------------------------------------


def _batches(rows: Iterator[CleanRow], size: int) -> Iterator[list[CleanRow]]:
    while batch := list(islice(rows, size)):
        yield batch


def _insert_rows(*, task_import: TaskImport, spool: Spool) -> WriteOutcome:
    task, gold = _table(Task), _table(GoldAnswer)
    names = (
        "project",
        "external_id",
        "data",
        "is_gold",
        "priority",
        "status",
        "annotation_count",
        "reserved_count",
    )
    columns = [_column(Task, name) for name in (*names, "source_import", "created_at")]
    project_column, external_id_column = columns[0], columns[1]
    source_column = _column(Task, "source_import")
    insert_task = (
        f"INSERT INTO {task} ({', '.join(columns)}) "  # noqa: S608 - names from model metadata
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({project_column}, {external_id_column}) DO NOTHING"
    )
    gold_columns = [
        _column(GoldAnswer, name)
        for name in ("task", "answer", "explanation", "created_at", "updated_at")
    ]
    # Only tasks this import created carry its id, so known external ids get no answer.
    insert_gold = (
        f"INSERT INTO {gold} ({', '.join(gold_columns)}) "  # noqa: S608
        f"SELECT {_column(Task, 'id')}, %s, %s, %s, %s FROM {task} "
        f"WHERE {project_column} = %s AND {external_id_column} = %s AND {source_column} = %s"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    project_id, import_id, status = task_import.project_id, task_import.pk, str(TaskStatus.OPEN)
    with connection.cursor() as cursor:
        for batch in _batches(spool.rows(), BATCH_ROWS):
            cursor.executemany(
                insert_task,
                [
                    (
                        project_id,
                        row.external_id,
                        row.data_json,
                        row.is_gold,
                        row.priority,
                        status,
                        0,
                        0,
                        import_id,
                        now,
                    )
                    for row in batch
                ],
            )
            answers = [
                (row.gold_json, row.explanation, now, now, project_id, row.external_id, import_id)
                for row in batch
                if row.is_gold
            ]
            if answers:
                cursor.executemany(insert_gold, answers)
    counts = Task.objects.filter(source_import=task_import).aggregate(
        created=Count("id"),
        regular=Count("id", filter=Q(is_gold=False)),
        gold=Count("id", filter=Q(is_gold=True)),
    )
    return WriteOutcome(
        created=counts["created"], created_regular=counts["regular"], created_gold=counts["gold"]
    )
