"""Export rows, built in constant memory from a server-side cursor.

Three shapes (``ExportShape``):

- ``training``: one row per annotation, the task type's ``export_row`` (pairwise → DPO
  ``prompt``/``chosen``/``rejected``/``margin``, rubric → ``scores``, demonstration →
  ``messages``, …) plus ``provenance``. A pairwise tie has ``chosen`` and ``rejected`` null
  (``margin`` 0); the ``exclude_ties`` filter leaves ties out.
- ``raw``: one row per annotation: the task data, the stored result and ``provenance``.
- ``consensus``: one row per regular item: the consensus the quality engine stored
  (answers, majority, posterior confidence, agreement), for pairwise projects the DPO
  fields of the consensus preference, and the item's annotators as provenance.

The SELECT is built by the ORM (so it is parameterised and right on SQLite and
PostgreSQL) and run through ``connection.chunked_cursor()``: on PostgreSQL a named cursor
fetching ``CHUNK_ROWS`` rows per round trip. Values come back raw (JSON as text, decoded
with orjson), which is several times faster than the ORM's per-field converters. Reviews
and credentials are read once per chunk, expert figures once per export.
"""

from __future__ import annotations

import gc
import queue
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import CharField, Exists, OuterRef, QuerySet
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime

from projects.exports.provenance import (
    ANNOTATION_PROVENANCE,
    CONSENSUS_PROVENANCE,
    Field,
    ProvenanceContext,
)
from projects.models import Annotation, Project, Task
from projects.states import AnnotationStatus, ExportShape
from projects.task_types import TaskType, task_type_for
from projects.task_types.pairwise import PREFERENCE_SCALE

# Rows fetched per round trip and processed (and written) together, and chunks read ahead.
CHUNK_ROWS = 2000
READ_AHEAD_CHUNKS = 2
SCHEMA_VERSION = 1
PREFERENCE_BY_SCORE = {score: name for name, score in PREFERENCE_SCALE.items()}


@dataclass(frozen=True)
class ExportFilters:
    """Which rows an export holds. ``min_agreement`` (0–1) keeps items whose consensus
    agreement is at least that (so items without a consensus, and gold items, drop out)."""

    accepted_only: bool = False
    exclude_gold: bool = False
    min_agreement: float | None = None
    exclude_ties: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted_only": self.accepted_only,
            "exclude_gold": self.exclude_gold,
            "min_agreement": self.min_agreement,
            "exclude_ties": self.exclude_ties,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ExportFilters:
        data = data or {}
        agreement = data.get("min_agreement")
        return cls(
            accepted_only=bool(data.get("accepted_only")),
            exclude_gold=bool(data.get("exclude_gold")),
            min_agreement=float(agreement) if agreement is not None else None,
            exclude_ties=bool(data.get("exclude_ties")),
        )


@dataclass
class ExportStats:
    """What the manifest and the dataset card count, gathered while rows are written."""

    rows: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    gold_rows: int = 0
    ties: int = 0
    guidelines_versions: Counter[int] = field(default_factory=Counter)
    experts: set[int] = field(default_factory=set)


@dataclass
class ExportPlan:
    """One export's options and what its rows need, fixed before the first row."""

    project: Project
    shape: str
    filters: ExportFilters
    export_public_id: str
    task_type: TaskType = field(init=False)
    settings: dict[str, Any] = field(init=False)
    columns: list[Field] = field(init=False)

    def __post_init__(self) -> None:
        self.task_type = task_type_for(self.project.task_type)
        self.settings = self.task_type.settings_with_defaults(self.project.task_settings)
        self.columns = columns_for(self.project, self.shape)

    @property
    def is_pairwise(self) -> bool:
        return self.task_type.key == "pairwise"


# Columns --------------------------------------------------------------------------------

TURNS = (Field("role", "string"), Field("content", "string"))
# Fields of training rows whose type an example cannot show (often empty lists).
KNOWN_FIELDS = {
    "history": Field("history", "records", TURNS),
    "messages": Field("messages", "records", TURNS),
    "labels": Field("labels", "strings"),
    "label_set": Field("label_set", "strings"),
    "harm_categories": Field("harm_categories", "strings"),
}
PAIRWISE_CONSENSUS = (
    Field("prompt", "string"),
    Field("chosen", "string"),
    Field("rejected", "string"),
    Field("preference", "string"),
    Field("margin", "int"),
)


def _field_for(name: str, value: Any) -> Field:
    known = KNOWN_FIELDS.get(name)
    if known is not None:
        return known
    if isinstance(value, bool):
        return Field(name, "bool")
    if isinstance(value, int):
        return Field(name, "int")
    if isinstance(value, float):
        return Field(name, "float")
    if isinstance(value, str) or value is None:
        return Field(name, "string")
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return Field(name, "strings")
    return Field(name, "json")


def columns_for(project: Project, shape: str) -> list[Field]:
    """The fields of every row of this shape, in order (the CSV header, the Parquet schema).

    Training rows have the keys the task type's ``export_row`` gives its own example.
    """
    task_type = task_type_for(project.task_type)
    if shape == ExportShape.TRAINING:
        example = task_type.export_row(
            task_type.example_input(),
            task_type.example_result(),
            task_type.settings_with_defaults({}),
        )
        return [
            *(_field_for(name, value) for name, value in example.items()),
            ANNOTATION_PROVENANCE,
        ]
    if shape == ExportShape.RAW:
        return [
            Field("external_id", "string"),
            Field("annotation_id", "string"),
            Field("status", "string"),
            Field("task", "json"),
            Field("result", "json"),
            ANNOTATION_PROVENANCE,
        ]
    pairwise = PAIRWISE_CONSENSUS if task_type.key == "pairwise" else ()
    return [
        Field("external_id", "string"),
        Field("data", "json"),
        *pairwise,
        Field("answers", "json"),
        Field("majority", "json"),
        Field("confidence", "float"),
        Field("agreement", "float"),
        Field("annotation_count", "int"),
        CONSENSUS_PROVENANCE,
    ]


def field_names(columns: list[Field], prefix: str = "") -> list[str]:
    """Dotted names of every leaf column (structs flattened), as in the CSV header."""
    names: list[str] = []
    for column in columns:
        name = f"{prefix}{column.name}"
        if column.kind == "struct":
            names.extend(field_names(list(column.children), f"{name}."))
        else:
            names.append(name)
    return names


# Querysets ------------------------------------------------------------------------------


def annotation_queryset(project: Project, filters: ExportFilters) -> QuerySet[Annotation]:
    """The annotations an export of the training or raw shape holds, in submission order."""
    queryset = Annotation.objects.filter(project=project)
    if filters.accepted_only:
        queryset = queryset.filter(status=AnnotationStatus.ACCEPTED)
    if filters.exclude_gold:
        queryset = queryset.filter(task__is_gold=False)
    if filters.min_agreement is not None:
        queryset = queryset.filter(task__consensus__agreement__gte=filters.min_agreement)
    if filters.exclude_ties and project.task_type == "pairwise":
        queryset = queryset.exclude(result__preference="tie")
    return queryset.order_by("id")


def item_queryset(project: Project, filters: ExportFilters) -> QuerySet[Task]:
    """The regular items (with at least one annotation the filters keep) of a consensus
    export, in task order."""
    answered = Annotation.objects.filter(task=OuterRef("pk"))
    if filters.accepted_only:
        answered = answered.filter(status=AnnotationStatus.ACCEPTED)
    queryset = Task.objects.filter(project=project, is_gold=False).filter(Exists(answered))
    if filters.min_agreement is not None:
        queryset = queryset.filter(consensus__agreement__gte=filters.min_agreement)
    return queryset.order_by("id")


def count_rows(project: Project, shape: str, filters: ExportFilters) -> int:
    """How many rows an export with these options holds (one query)."""
    if shape == ExportShape.CONSENSUS:
        return item_queryset(project, filters).count()
    return annotation_queryset(project, filters).count()


ANNOTATION_COLUMNS = (
    "id",
    "public_text",
    "expert_id",
    "result",
    "confidence",
    "guidelines_version",
    "time_spent_seconds",
    "paste_count",
    "pasted_chars",
    "focus_loss_count",
    "ai_used",
    "ai_disclosure",
    "edit_count",
    "behaviour_flags",
    "status",
    "submitted_text",
    "gold_score",
    "consensus_agreement",
    "is_edge_case",
    "task__external_id",
    "task__data",
    "task__is_gold",
    "task__consensus__agreement",
)
ITEM_COLUMNS = (
    "id",
    "external_id",
    "data",
    "consensus__answers",
    "consensus__majority",
    "consensus__confidence",
    "consensus__agreement",
)


def _fetch(
    queryset: QuerySet[Any], *, snapshot: bool
) -> Generator[list[tuple[Any, ...]], None, None]:
    """Run the queryset's SQL on a chunked (server-side on PostgreSQL) cursor, raw.

    With ``snapshot`` the rows are read in one transaction, so the named cursor streams
    from the first row (outside a transaction PostgreSQL's WITH HOLD cursor would compute
    the whole result before the first fetch); without it the caller may commit (progress)
    between chunks.
    """
    sql, params = queryset.query.sql_with_params()
    with transaction.atomic() if snapshot else nullcontext():
        cursor = connection.chunked_cursor()
        try:
            cursor.execute(sql, params)
            if connection.vendor == "postgresql":
                yield from _read_ahead(cursor.cursor)
                return
            while True:
                with collector_paused():
                    batch = cursor.fetchmany(CHUNK_ROWS)
                if not batch:
                    break
                yield batch
        finally:
            cursor.close()


def _read_ahead(cursor: Any) -> Generator[list[tuple[Any, ...]], None, None]:
    """The cursor's chunks, the next one read by a thread while the caller builds rows from
    this one: psycopg2 lets go of the GIL while it waits for the server, so the database's
    work and ours overlap instead of taking turns. The thread only fetches; it is stopped
    and joined before the caller closes the cursor."""
    chunks: queue.Queue[Any] = queue.Queue(maxsize=READ_AHEAD_CHUNKS)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def read() -> None:
        try:
            while True:
                batch = cursor.fetchmany(CHUNK_ROWS)
                if not put(batch) or not batch:
                    return
        except Exception as error:  # handed to the caller, raised there
            put(error)

    reader = threading.Thread(target=read, name="export-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = chunks.get()
            if isinstance(item, Exception):
                raise item
            if not item:
                return
            yield item
    finally:
        stop.set()
        reader.join()


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while one chunk of rows is built (a few milliseconds):
    the chunk's thousands of fresh dicts would otherwise set off collections that walk every
    object of the process, about a quarter of an export's time. Rows make no cycles."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


# Raw values -----------------------------------------------------------------------------


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def _uuid(value: Any) -> str:
    if isinstance(value, str) and len(value) == 36:
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(uuid.UUID(hex=str(value)))


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite keeps UTC datetimes as text
        parsed = parse_datetime(value)
        if parsed is None:
            return value
        value = parsed
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def _iso_text(value: str | None) -> str | None:
    """A UTC timestamp the database wrote as text, in ISO 8601 like ``datetime.isoformat``:
    PostgreSQL writes ``2025-03-01 10:00:00.5+00``, SQLite ``2025-03-01 10:00:00.500000``."""
    if value is None:
        return None
    if value.endswith("+00") and len(value) > 19 and value[10] == " ":
        stamp = value[:-3]
        if "." in stamp:
            whole, fraction = stamp.split(".", 1)
            stamp = f"{whole}.{fraction.ljust(6, '0')}"
        return f"{stamp[:10]}T{stamp[11:]}+00:00"
    return _iso(value)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# Rows -----------------------------------------------------------------------------------


def rows(
    plan: ExportPlan,
    stats: ExportStats,
    *,
    snapshot: bool = True,
    on_context: Callable[[ProvenanceContext], None] | None = None,
) -> Generator[list[dict[str, Any]], None, None]:
    """The export's rows, a chunk at a time, counting them into ``stats``.

    ``on_context`` receives the provenance context once it is loaded (the dataset card
    counts credentials from it).
    """
    context = ProvenanceContext.load(project=plan.project, export_public_id=plan.export_public_id)
    if on_context is not None:
        on_context(context)
    if plan.shape == ExportShape.CONSENSUS:
        items = item_queryset(plan.project, plan.filters).values_list(*ITEM_COLUMNS)
        with closing(_fetch(items, snapshot=snapshot)) as batches:
            for batch in batches:
                with collector_paused():
                    built = _consensus_rows(plan, context, stats, batch)
                yield built
        return
    # The public id as text: psycopg2 would build a UUID object per row only to print it.
    annotations = (
        annotation_queryset(plan.project, plan.filters)
        .annotate(
            public_text=Cast("public_id", output_field=CharField()),
            submitted_text=Cast("submitted_at", output_field=CharField()),
        )
        .values_list(*ANNOTATION_COLUMNS)
    )
    with closing(_fetch(annotations, snapshot=snapshot)) as batches:
        for batch in batches:
            with collector_paused():
                built = _annotation_rows(plan, context, stats, batch)
            yield built


def _annotation_rows(
    plan: ExportPlan,
    context: ProvenanceContext,
    stats: ExportStats,
    batch: list[tuple[Any, ...]],
) -> list[dict[str, Any]]:
    reviews = context.reviews_for([row[0] for row in batch])
    training = plan.shape == ExportShape.TRAINING
    export_row = plan.task_type.export_row
    settings = plan.settings
    pairwise = plan.is_pairwise
    experts = context.experts_of({row[2] for row in batch})
    loads = orjson.loads
    project_id = context.project_public_id
    export_id = context.export_public_id
    no_reviews: list[dict[str, Any]] = []
    built = []
    for (
        annotation_id,
        public_id,
        expert_id,
        result,
        confidence,
        guidelines_version,
        active_seconds,
        paste_count,
        pasted_chars,
        focus_loss_count,
        ai_used,
        ai_disclosure,
        edit_count,
        behaviour_flags,
        status,
        submitted_at,
        gold_score,
        answer_agreement,
        is_edge_case,
        external_id,
        data,
        is_gold,
        item_agreement,
    ) in batch:
        # PostgreSQL hands JSON over as text (Django's loader); SQLite too.
        result = loads(result) if isinstance(result, str) else result
        data = loads(data) if isinstance(data, str) else data
        is_gold = bool(is_gold)
        public = _uuid(public_id)
        decisions = reviews.get(annotation_id, no_reviews)
        pseudonym, credentials, gold_accuracy, gold_tasks, quality_score = experts[expert_id]
        provenance = {
            "project_id": project_id,
            "export_id": export_id,
            "annotation_id": public,
            "external_id": external_id,
            "is_gold": is_gold,
            "status": status,
            "expert": pseudonym,
            "credentials": credentials,
            "guidelines_version": guidelines_version,
            "confidence": confidence,
            "active_seconds": active_seconds,
            "ai": {
                "paste_count": paste_count,
                "pasted_chars": pasted_chars,
                "focus_loss_count": focus_loss_count,
                "ai_used": _bool(ai_used),
                "ai_disclosure": ai_disclosure,
            },
            "behaviour_flags": [] if behaviour_flags == "[]" else (_json(behaviour_flags) or []),
            "edit_count": edit_count,
            "is_edge_case": bool(is_edge_case),
            "review": decisions[-1] if decisions else None,
            "reviews": decisions,
            # Stored rounded to four places by the quality engine.
            "gold_score": gold_score,
            "answer_agreement": answer_agreement,
            "item_agreement": item_agreement,
            "gold_accuracy": gold_accuracy,
            "gold_tasks": gold_tasks,
            "quality_score": quality_score,
            "submitted_at": _iso_text(submitted_at),
        }
        if training:
            row = export_row(data, result, settings)
            row["provenance"] = provenance
        else:
            row = {
                "external_id": external_id,
                "annotation_id": public,
                "status": status,
                "task": data,
                "result": result,
                "provenance": provenance,
            }
        if pairwise and result.get("preference") == "tie":
            stats.ties += 1
        stats.by_status[status] += 1
        stats.gold_rows += is_gold
        stats.guidelines_versions[guidelines_version] += 1
        stats.experts.add(expert_id)
        built.append(row)
    stats.rows += len(built)
    return built


def _consensus_rows(
    plan: ExportPlan,
    context: ProvenanceContext,
    stats: ExportStats,
    batch: list[tuple[Any, ...]],
) -> list[dict[str, Any]]:
    task_ids = [row[0] for row in batch]
    answered = Annotation.objects.filter(task_id__in=task_ids)
    if plan.filters.accepted_only:
        answered = answered.filter(status=AnnotationStatus.ACCEPTED)
    annotators: dict[int, list[tuple[Any, ...]]] = {}
    for answer in answered.order_by("task_id", "id").values_list(
        "task_id", "public_id", "expert_id", "status", "confidence", "guidelines_version"
    ):
        annotators.setdefault(answer[0], []).append(answer)
    experts = context.experts_of({a[2] for answers in annotators.values() for a in answers})
    built = []
    for task_id, external_id, data, answers, majority, confidence, agreement in batch:
        data = _json(data)
        answers = _json(answers)
        majority = _json(majority)
        people = annotators.get(task_id, [])
        row: dict[str, Any] = {"external_id": external_id, "data": data}
        if plan.is_pairwise:
            row.update(_consensus_preference(data, (answers or {}).get("preference")))
            if row["preference"] == "tie":
                stats.ties += 1
        row.update(
            {
                "answers": answers,
                "majority": majority,
                "confidence": _round(confidence),
                "agreement": _round(agreement),
                "annotation_count": len(people),
            }
        )
        listed = []
        versions = set()
        for _, public_id, expert_id, status, stated, version in people:
            pseudonym, credentials, gold_accuracy, _, quality_score = experts[expert_id]
            listed.append(
                {
                    "expert": pseudonym,
                    "annotation_id": _uuid(public_id),
                    "status": status,
                    "confidence": stated,
                    "guidelines_version": version,
                    "gold_accuracy": gold_accuracy,
                    "quality_score": quality_score,
                    "credentials": credentials,
                }
            )
            versions.add(version)
            stats.by_status[status] += 1
            stats.guidelines_versions[version] += 1
            stats.experts.add(expert_id)
        row["provenance"] = {
            "project_id": context.project_public_id,
            "export_id": context.export_public_id,
            "external_id": external_id,
            "is_gold": False,
            "item_agreement": _round(agreement),
            "consensus_confidence": _round(confidence),
            "annotation_count": len(people),
            "guidelines_versions": sorted(versions),
            "annotators": listed,
        }
        built.append(row)
    stats.rows += len(built)
    return built


def _consensus_preference(data: dict[str, Any], value: Any) -> dict[str, Any]:
    """The DPO fields of an item's consensus preference (a score from −2, A much better,
    to 2, B much better); all null when no consensus exists yet."""
    if value is None:
        return {
            "prompt": data.get("prompt"),
            "chosen": None,
            "rejected": None,
            "preference": None,
            "margin": None,
        }
    score = max(-2, min(2, round(float(value))))
    if score < 0:
        chosen, rejected = data.get("response_a"), data.get("response_b")
    elif score > 0:
        chosen, rejected = data.get("response_b"), data.get("response_a")
    else:
        chosen = rejected = None
    return {
        "prompt": data.get("prompt"),
        "chosen": chosen,
        "rejected": rejected,
        "preference": PREFERENCE_BY_SCORE[score],
        "margin": abs(score),
    }
