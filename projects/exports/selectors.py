"""Reads of a project's exports. The project comes from a scoped fetch
(``projects.selectors.project_for_actor``), so these never cross a lab's boundary."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from marketplace.errors import NotFound
from projects.exports.models import DatasetExport
from projects.models import Annotation, Project, Task
from projects.states import ExportStatus


def _as_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound() from None


def project_exports(*, project: Project) -> QuerySet[DatasetExport]:
    """The project's exports, newest first."""
    return DatasetExport.objects.filter(project=project).order_by("-created_at", "-id")


def export_for_project(*, project: Project, export_id: Any) -> DatasetExport:
    """One export of the project; NotFound for any other id."""
    try:
        export = DatasetExport.objects.get(project=project, public_id=_as_uuid(export_id))
    except DatasetExport.DoesNotExist:
        raise NotFound() from None
    export.project = project
    return export


def export_progress_percent(export: DatasetExport) -> int:
    if export.status == ExportStatus.READY:
        return 100
    if not export.total_rows:
        return 0
    return min(99, export.written_rows * 100 // export.total_rows)


def project_export_sizes(*, project: Project) -> dict[str, int]:
    """Annotations and regular items with answers: what the export form shows (two queries)."""
    return {
        "annotations": Annotation.objects.filter(project=project).count(),
        "items": Task.objects.filter(
            project=project, is_gold=False, annotation_count__gt=0
        ).count(),
    }
