"""Dataset exports: stream small ones to the caller, write big ones to private storage.

Options are checked the same way for both paths (``export_options_clean``). A streamed
export still leaves a ``DatasetExport`` row (its id is in every row's provenance, and the
row records what was downloaded, with its checksum, once the last byte is out). A
background export is written by ``export_run`` (Celery) to a temporary file, then saved
through the storage API with its manifest and dataset card; it is downloaded through a
signed link until ``expires_at``, after which ``exports_expire`` deletes the file.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Generator, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from marketplace.errors import Conflict, InvalidInput, NotFound
from projects.access import LabActor, lab_audit_record
from projects.exports import writers
from projects.exports.card import dataset_card
from projects.exports.models import DatasetExport
from projects.exports.provenance import ProvenanceContext
from projects.exports.rows import (
    SCHEMA_VERSION,
    ExportFilters,
    ExportPlan,
    ExportStats,
    annotation_queryset,
    count_rows,
    field_names,
    rows,
)
from projects.models import Project, ProjectQuality
from projects.states import ExportFormat, ExportShape, ExportStatus

logger = logging.getLogger(__name__)

SIGNING_SALT = "projects.exports.download"
# Seconds between two progress writes of a background export.
PROGRESS_EVERY_SECONDS = 0.5
FILTER_KEYS = ("accepted_only", "exclude_gold", "min_agreement", "exclude_ties")
TRUE_TEXTS = frozenset({"1", "true", "on", "yes"})
FALSE_TEXTS = frozenset({"", "0", "false", "off", "no"})
STREAM_INTERRUPTED = "The download stopped before its end (the connection closed)."
UNEXPECTED_FAILURE = "The export failed unexpectedly. Try again; if it fails again, tell us."
STALE_STREAM = timedelta(hours=6)


class ExportExpired(Conflict):
    """The export's download link is past its expiry (answer 410)."""


def stream_max_rows() -> int:
    """Exports up to this many rows may stream to the caller; bigger ones go to Celery."""
    return int(getattr(settings, "EXPORT_STREAM_MAX_ROWS", 20_000))


def link_days() -> int:
    """Days a background export's file and download link live."""
    return int(getattr(settings, "EXPORT_LINK_DAYS", 7))


# Options --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportOptions:
    format: str
    shape: str
    filters: ExportFilters


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in TRUE_TEXTS:
        return True
    if text in FALSE_TEXTS:
        return False
    raise InvalidInput(f"“{value}” is not yes or no.", field=name)


def _agreement(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidInput("Give a number from 0 to 1.", field="min_agreement")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput("Give a number from 0 to 1.", field="min_agreement") from None
    if not 0 <= number <= 1:
        raise InvalidInput(
            "The minimum agreement is a share from 0 to 1 (e.g. 0.8).", field="min_agreement"
        )
    return number


def export_options_clean(
    *, project: Project, format: Any, shape: Any, filters: Mapping[str, Any] | None
) -> ExportOptions:
    """Check an export's options; raise InvalidInput naming the first wrong field."""
    if format not in ExportFormat.values:
        choices = ", ".join(ExportFormat.values)
        raise InvalidInput(f"Choose a format: {choices}.", field="format")
    if shape not in ExportShape.values:
        choices = ", ".join(ExportShape.values)
        raise InvalidInput(f"Choose a shape: {choices}.", field="shape")
    filters = dict(filters or {})
    for key in filters:
        if key not in FILTER_KEYS:
            raise InvalidInput(f"Unknown filter “{key}”.", field=str(key))
    exclude_ties = _flag("exclude_ties", filters.get("exclude_ties"))
    if exclude_ties and project.task_type != "pairwise":
        raise InvalidInput("Only pairwise projects have ties.", field="exclude_ties")
    if exclude_ties and shape == ExportShape.CONSENSUS:
        raise InvalidInput(
            "Ties are left out of annotation rows; a consensus row shows its item's tie.",
            field="exclude_ties",
        )
    return ExportOptions(
        format=str(format),
        shape=str(shape),
        filters=ExportFilters(
            accepted_only=_flag("accepted_only", filters.get("accepted_only")),
            exclude_gold=_flag("exclude_gold", filters.get("exclude_gold")),
            min_agreement=_agreement(filters.get("min_agreement")),
            exclude_ties=exclude_ties,
        ),
    )


def _require_project_of(actor: LabActor, project: Project) -> None:
    if project.organization_id != actor.organization.pk:
        raise NotFound()


def export_filename(project: Project, options_shape: str, format: str, day: datetime) -> str:
    """``<project slug>-<shape>-<date>.<ext>``, e.g. ``drug-safety-training-2025-03-01.jsonl``."""
    slug = slugify(project.title)[:60].strip("-") or "project"
    return f"{slug}-{options_shape}-{day.date().isoformat()}.{writers.EXTENSIONS[format]}"


# Creating -------------------------------------------------------------------------------


def export_create(
    *,
    actor: LabActor,
    project: Project,
    format: Any,
    shape: Any,
    filters: Mapping[str, Any] | None = None,
    ip_address: str | None = None,
) -> DatasetExport:
    """Queue an export to be written to private storage by ``export_run`` (any lab member:
    the data is the lab's). Raises InvalidInput naming a wrong option."""
    _require_project_of(actor, project)
    options = export_options_clean(project=project, format=format, shape=shape, filters=filters)
    total = count_rows(project, options.shape, options.filters)
    with transaction.atomic():
        export = DatasetExport.objects.create(
            project=project,
            created_by=actor.user,
            format=options.format,
            shape=options.shape,
            filters=options.filters.as_dict(),
            total_rows=total,
            manifest={"delivery": "file"},
        )
        _audit(actor, export, ip_address)
        from projects.exports.tasks import run_dataset_export

        export_id = export.pk
        transaction.on_commit(lambda: run_dataset_export.delay(export_id))
    return export


def _audit(actor: LabActor, export: DatasetExport, ip_address: str | None) -> None:
    lab_audit_record(
        actor=actor,
        action="project.export",
        target=export.project,
        after={
            "export": str(export.public_id),
            "format": export.format,
            "shape": export.shape,
            "filters": export.filters,
            "rows": export.total_rows,
            "delivery": export.manifest.get("delivery"),
        },
        ip_address=ip_address,
    )


# Manifest -------------------------------------------------------------------------------


def _items(plan: ExportPlan, stats: ExportStats) -> int:
    if plan.shape == ExportShape.CONSENSUS:
        return stats.rows
    queryset = annotation_queryset(plan.project, plan.filters)
    return queryset.order_by().values("task_id").distinct().count()


def _figures(project: Project) -> dict[str, Any]:
    figures = ProjectQuality.objects.filter(project=project).values_list("figures", flat=True)
    return next(iter(figures), None) or {}


@dataclass(frozen=True)
class Finished:
    manifest: dict[str, Any]
    card: str


def _finish(
    *,
    export: DatasetExport,
    plan: ExportPlan,
    stats: ExportStats,
    context: ProvenanceContext | None,
    filename: str,
    size: int,
    sha256: str,
    delivery: str,
    finished_at: datetime,
) -> Finished:
    """The manifest and the dataset card of a finished file (two queries)."""
    items = _items(plan, stats)
    figures = _figures(plan.project)
    created_at = export.created_at.isoformat()
    card = dataset_card(
        project=plan.project,
        plan=plan,
        format=export.format,
        stats=stats,
        context=context,
        figures=figures,
        items=items,
        created_at=created_at,
        sha256=sha256,
        size=size,
    )
    regular = stats.rows - stats.gold_rows if plan.shape != ExportShape.CONSENSUS else stats.rows
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "export_id": str(export.public_id),
        "project_id": str(plan.project.public_id),
        "project_title": plan.project.title,
        "task_type": plan.project.task_type,
        "format": export.format,
        "shape": export.shape,
        "delivery": delivery,
        "filters": plan.filters.as_dict(),
        "created_at": created_at,
        "finished_at": finished_at.isoformat(),
        "guidelines_version": plan.project.guidelines_version,
        "rows": stats.rows,
        "counts": {
            "items": items,
            "experts": len(stats.experts),
            "gold_rows": stats.gold_rows if plan.shape != ExportShape.CONSENSUS else 0,
            "regular_rows": regular,
            "annotations_by_status": dict(sorted(stats.by_status.items())),
            "annotations_by_guidelines_version": {
                str(version): count for version, count in sorted(stats.guidelines_versions.items())
            },
            "ties": stats.ties,
        },
        "fields": field_names(plan.columns),
        "file": {"name": filename, "bytes": size, "sha256": sha256},
        "dataset_card": {
            "name": filename.rsplit(".", 1)[0] + ".md",
            "sha256": hashlib.sha256(card.encode()).hexdigest(),
        },
        "quality_computed_at": figures.get("computed_at"),
    }
    return Finished(manifest=manifest, card=card)


class _Tracked:
    """Rows that keep the provenance context they were built with, for the card."""

    def __init__(self, plan: ExportPlan, stats: ExportStats, *, snapshot: bool) -> None:
        self.context: ProvenanceContext | None = None
        self._rows = rows(plan, stats, snapshot=snapshot, on_context=self._keep)

    def _keep(self, context: ProvenanceContext) -> None:
        self.context = context

    def __iter__(self) -> Generator[list[dict[str, Any]], None, None]:
        return self._rows

    def close(self) -> None:
        self._rows.close()


# Streaming ------------------------------------------------------------------------------


@dataclass
class StreamedExport:
    export: DatasetExport
    filename: str
    content_type: str
    content: Iterator[bytes]


def export_stream(
    *,
    actor: LabActor,
    project: Project,
    format: Any,
    shape: Any,
    filters: Mapping[str, Any] | None = None,
    ip_address: str | None = None,
) -> StreamedExport:
    """An export streamed to the caller as it is read (first bytes at once, memory flat).

    Refuses (Conflict) exports of more than ``stream_max_rows()`` rows: those are created
    with ``export_create``. The rows are read in one snapshot; the export's row is marked
    ready with its size and checksum after the last byte, or failed if the reader left.
    """
    _require_project_of(actor, project)
    options = export_options_clean(project=project, format=format, shape=shape, filters=filters)
    total = count_rows(project, options.shape, options.filters)
    if total > stream_max_rows():
        raise Conflict(
            f"This export holds {total:,} rows; downloads of up to {stream_max_rows():,} rows "
            "start at once. Prepare it in the background instead: you get a link when it "
            "is ready."
        )
    now = timezone.now()
    with transaction.atomic():
        export = DatasetExport.objects.create(
            project=project,
            created_by=actor.user,
            format=options.format,
            shape=options.shape,
            filters=options.filters.as_dict(),
            total_rows=total,
            status=ExportStatus.RUNNING,
            started_at=now,
            manifest={"delivery": "stream"},
        )
        _audit(actor, export, ip_address)
    export.project = project
    filename = export_filename(project, options.shape, options.format, now)
    return StreamedExport(
        export=export,
        filename=filename,
        content_type=writers.CONTENT_TYPES[options.format],
        content=_streamed(export, options, filename),
    )


def _streamed(
    export: DatasetExport, options: ExportOptions, filename: str
) -> Generator[bytes, None, None]:
    plan = ExportPlan(
        project=export.project,
        shape=options.shape,
        filters=options.filters,
        export_public_id=str(export.public_id),
    )
    stats = ExportStats()
    tracked = _Tracked(plan, stats, snapshot=True)
    blocks = writers.write(options.format, plan.columns, tracked)
    digest = hashlib.sha256()
    size = 0
    finished = False
    try:
        for block in blocks:
            digest.update(block)
            size += len(block)
            yield block
        finished = True
    finally:
        # Close the reading side first: its snapshot transaction must end before the
        # export's row is written.
        blocks.close()
        tracked.close()
        if finished:
            now = timezone.now()
            done = _finish(
                export=export,
                plan=plan,
                stats=stats,
                context=tracked.context,
                filename=filename,
                size=size,
                sha256=digest.hexdigest(),
                delivery="stream",
                finished_at=now,
            )
            DatasetExport.objects.filter(pk=export.pk).update(
                status=ExportStatus.READY,
                written_rows=stats.rows,
                size=size,
                sha256=digest.hexdigest(),
                manifest=done.manifest,
                dataset_card=done.card,
                finished_at=now,
                updated_at=now,
            )
        else:
            DatasetExport.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(
                status=ExportStatus.FAILED,
                written_rows=stats.rows,
                error=STREAM_INTERRUPTED,
                finished_at=timezone.now(),
                updated_at=timezone.now(),
            )


# Background -----------------------------------------------------------------------------


def _storage() -> Storage:
    return DatasetExport._meta.get_field("file").storage  # type: ignore[attr-defined,no-any-return]


def export_run(*, export_id: int) -> DatasetExport:
    """Write a queued export to private storage. Safe to run twice: a finished export is
    returned unchanged, and of two runs of one export only the last one started keeps its
    file."""
    try:
        export = DatasetExport.objects.select_related(
            "project", "project__organization", "project__domain", "project__domain__parent"
        ).get(pk=export_id)
    except DatasetExport.DoesNotExist:
        raise NotFound() from None
    if export.status not in (ExportStatus.PENDING, ExportStatus.RUNNING):
        return export
    started = timezone.now()
    claimed = DatasetExport.objects.filter(
        pk=export.pk, status__in=(ExportStatus.PENDING, ExportStatus.RUNNING)
    ).update(
        status=ExportStatus.RUNNING,
        started_at=started,
        written_rows=0,
        error="",
        updated_at=started,
    )
    if not claimed:
        return DatasetExport.objects.get(pk=export.pk)
    export.status, export.started_at = ExportStatus.RUNNING, started
    try:
        _write_file(export, started)
    except Exception:
        logger.exception("Dataset export %s failed", export_id)
        DatasetExport.objects.filter(
            pk=export.pk, status=ExportStatus.RUNNING, started_at=started
        ).update(
            status=ExportStatus.FAILED,
            error=UNEXPECTED_FAILURE,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        raise
    return DatasetExport.objects.select_related("project").get(pk=export.pk)


def _write_file(export: DatasetExport, started: datetime) -> None:
    filters = ExportFilters.from_dict(export.filters)
    plan = ExportPlan(
        project=export.project,
        shape=export.shape,
        filters=filters,
        export_public_id=str(export.public_id),
    )
    stats = ExportStats()
    # Outside a snapshot, so the progress written between chunks is seen at once.
    tracked = _Tracked(plan, stats, snapshot=False)
    mine = DatasetExport.objects.filter(
        pk=export.pk, status=ExportStatus.RUNNING, started_at=started
    )

    def with_progress() -> Iterator[list[dict[str, Any]]]:
        last = time.monotonic()
        for chunk in tracked:
            yield chunk
            if time.monotonic() - last >= PROGRESS_EVERY_SECONDS:
                mine.update(written_rows=stats.rows, updated_at=timezone.now())
                last = time.monotonic()

    digest = hashlib.sha256()
    size = 0
    filename = export_filename(export.project, export.shape, export.format, started)
    with tempfile.TemporaryFile() as spool, closing(tracked):
        for block in writers.write(export.format, plan.columns, with_progress()):
            spool.write(block)
            digest.update(block)
            size += len(block)
        spool.seek(0)
        now = timezone.now()
        done = _finish(
            export=export,
            plan=plan,
            stats=stats,
            context=tracked.context,
            filename=filename,
            size=size,
            sha256=digest.hexdigest(),
            delivery="file",
            finished_at=now,
        )
        storage = _storage()
        name = storage.save(f"exports/{export.public_id.hex}/{filename}", File(spool, filename))
    updated = mine.update(
        status=ExportStatus.READY,
        file=name,
        size=size,
        sha256=digest.hexdigest(),
        total_rows=stats.rows,
        written_rows=stats.rows,
        manifest=done.manifest,
        dataset_card=done.card,
        finished_at=now,
        expires_at=now + timedelta(days=link_days()),
        updated_at=now,
    )
    if not updated:  # another run of the same export started after this one
        storage.delete(name)


# Download links -------------------------------------------------------------------------


def export_download_token(export: DatasetExport) -> str:
    """The signed part of an export's download link (checked with ``export_for_download``)."""
    return signing.TimestampSigner(salt=SIGNING_SALT).sign(export.public_id.hex)


def export_for_download(
    *, organization_slug: str, project_id: Any, export_id: Any, token: str
) -> DatasetExport:
    """The ready export a signed link names. A tampered link, or one whose ids do not match,
    raises NotFound; a link past the export's expiry raises ExportExpired."""
    try:
        signed = signing.TimestampSigner(salt=SIGNING_SALT).unsign(token)
    except signing.BadSignature:
        raise NotFound() from None
    try:
        export = DatasetExport.objects.select_related("project", "project__organization").get(
            public_id=signed
        )
    except (DatasetExport.DoesNotExist, ValueError):
        raise NotFound() from None
    project = export.project
    if (
        str(export.public_id) != str(export_id)
        or str(project.public_id) != str(project_id)
        or project.organization.slug != organization_slug
    ):
        raise NotFound()
    expired = export.expires_at is not None and export.expires_at <= timezone.now()
    if export.status == ExportStatus.EXPIRED or expired:
        raise ExportExpired(
            "This download link has expired and its file was deleted. Create the export "
            "again from the project's Exports tab."
        )
    if export.status != ExportStatus.READY or not export.file:
        raise NotFound()
    return export


# Expiry ---------------------------------------------------------------------------------


def exports_expire(*, now: datetime | None = None, limit: int = 500) -> int:
    """Delete the files of exports past their expiry and mark them expired; mark streamed
    exports whose process died mid-download as failed. Run by beat; returns files deleted."""
    now = now or timezone.now()
    storage = _storage()
    due = list(
        DatasetExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", "file")[:limit]
    )
    expired = 0
    for pk, name in due:
        if name:
            storage.delete(name)
        expired += DatasetExport.objects.filter(pk=pk, status=ExportStatus.READY).update(
            status=ExportStatus.EXPIRED, file="", updated_at=now
        )
    DatasetExport.objects.filter(
        status=ExportStatus.RUNNING,
        manifest__delivery="stream",
        started_at__lt=now - STALE_STREAM,
    ).update(status=ExportStatus.FAILED, error=STREAM_INTERRUPTED, finished_at=now, updated_at=now)
    return expired
