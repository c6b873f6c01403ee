"""One export of a project's data: its options, its progress and the file it produced."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.models import TimeStampedModel
from projects.states import ExportFormat, ExportShape, ExportStatus


def _export_path(instance: DatasetExport, filename: str) -> str:
    return f"exports/{instance.public_id.hex}/{filename}"


class DatasetExport(TimeStampedModel):
    """An export a lab asked for. Small ones stream straight to the browser; big ones are
    written by a Celery task to private storage and downloaded through a signed link that
    expires."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="exports"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    shape = models.CharField(max_length=10, choices=ExportShape.choices)
    # The row filters: accepted_only, exclude_gold, exclude_ties (yes/no) and min_agreement
    # (a share from 0 to 1, or null); see projects.exports.rows.ExportFilters.
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=8, choices=ExportStatus.choices, default=ExportStatus.PENDING
    )
    total_rows = models.PositiveIntegerField(default=0)
    written_rows = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=_export_path, max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    dataset_card = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [models.Index(fields=["status", "expires_at"])]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=ExportStatus.values), name="dataset_export_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(format__in=ExportFormat.values), name="dataset_export_format_valid"
            ),
            models.CheckConstraint(
                condition=Q(shape__in=ExportShape.values), name="dataset_export_shape_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_shape_display()} {self.format} export of {self.project}"
