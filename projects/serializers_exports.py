"""DRF serializers of the dataset export API.

Choice-like fields are plain strings documented with their values, so the schema keeps one
enum per choice set elsewhere (see ``ENUM_NAME_OVERRIDES``).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from projects.exports.models import DatasetExport
from projects.exports.selectors import export_progress_percent
from projects.serializers import StrictInputSerializer
from projects.states import ExportFormat, ExportShape, ExportStatus


def _one_of(choices: Any) -> str:
    return "One of " + ", ".join(f"`{value}` ({label})" for value, label in choices) + "."


class ExportFiltersSerializer(StrictInputSerializer):
    accepted_only = serializers.BooleanField(
        required=False, default=False, help_text="Only annotations the lab accepted."
    )
    exclude_gold = serializers.BooleanField(
        required=False, default=False, help_text="Leave out gold items."
    )
    min_agreement = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=1,
        help_text="Keep items whose consensus agreement is at least this (0–1); items "
        "without a consensus (and gold items) drop out.",
    )
    exclude_ties = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Pairwise only, annotation rows: leave out 'about the same' answers (DPO).",
    )


class ExportCreateSerializer(StrictInputSerializer):
    format = serializers.CharField(help_text=_one_of(ExportFormat.choices))
    shape = serializers.CharField(help_text=_one_of(ExportShape.choices))
    filters = ExportFiltersSerializer(required=False)


class DatasetExportSerializer(serializers.Serializer):
    """An export with its progress and, once ready, its links. ``download_url`` is a signed
    link that works without credentials until ``expires_at``."""

    id = serializers.UUIDField(source="public_id")
    format = serializers.CharField(help_text=_one_of(ExportFormat.choices))
    shape = serializers.CharField(help_text=_one_of(ExportShape.choices))
    filters = serializers.DictField()
    delivery = serializers.SerializerMethodField(
        help_text="`file` (prepared in the background) or `stream` (downloaded at once)."
    )
    status = serializers.CharField(help_text=_one_of(ExportStatus.choices))
    total_rows = serializers.IntegerField()
    written_rows = serializers.IntegerField()
    progress_percent = serializers.SerializerMethodField()
    size = serializers.IntegerField(help_text="Bytes of the file.")
    sha256 = serializers.CharField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    download_url = serializers.SerializerMethodField()
    manifest_url = serializers.SerializerMethodField()
    card_url = serializers.SerializerMethodField()

    def get_delivery(self, export: DatasetExport) -> str:
        return str(export.manifest.get("delivery") or "file")

    def get_progress_percent(self, export: DatasetExport) -> int:
        return export_progress_percent(export)

    def get_download_url(self, export: DatasetExport) -> str | None:
        return self.context["links"](export)["download"]

    def get_manifest_url(self, export: DatasetExport) -> str | None:
        return self.context["links"](export)["manifest"]

    def get_card_url(self, export: DatasetExport) -> str | None:
        return self.context["links"](export)["card"]
