"""Lab API for dataset exports, mounted under /api/v1/projects/<id>/exports/.

Callers are an organisation's API key or a logged-in member (any role: the data is the
lab's). Another lab's project or export answers 404. Small exports stream from
``exports/download/``; bigger ones are created with POST, written by a Celery task, and
downloaded from the signed ``download_url`` of their detail until ``expires_at``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.errors import NotFound
from marketplace.views import client_ip
from projects.api import BAD_INPUT, CONFLICT, NOT_FOUND, LabApiView, project_and_actor
from projects.exports import selectors, services
from projects.exports.models import DatasetExport
from projects.models import Project
from projects.serializers_exports import DatasetExportSerializer, ExportCreateSerializer
from projects.states import ExportFormat, ExportShape, ExportStatus
from projects.views.exports import FINISHED_STATES, download_url, streaming_response

project = "projects/<uuid:project_id>"
YES_NO = "`1`/`true` or `0`/`false` (default false)."


def _context(request: Request, project: Project) -> dict[str, Any]:
    def links(export: DatasetExport) -> dict[str, str | None]:
        export.project = project
        finished = export.status in FINISHED_STATES
        args = [project.public_id, export.public_id]
        return {
            "download": download_url(request, export),
            "manifest": request.build_absolute_uri(
                reverse("api:project-export-manifest", args=args)
            )
            if finished
            else None,
            "card": request.build_absolute_uri(reverse("api:project-export-card", args=args))
            if finished
            else None,
        }

    return {"request": request, "links": links}


class ProjectExportListView(LabApiView):
    serializer_class = DatasetExportSerializer

    @extend_schema(
        summary="List a project's exports",
        description="Newest first: background exports and streamed downloads.",
        responses={200: DatasetExportSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        page = self.paginate_queryset(selectors.project_exports(project=project))
        data = DatasetExportSerializer(page, many=True, context=_context(request, project)).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Create an export (written in the background)",
        description=(
            "Queues the export; poll its detail for `status` and `progress_percent`. When "
            "`ready`, `download_url` is a signed link valid until `expires_at` (7 days), "
            "with its `manifest_url` and `card_url`. 400 names a wrong option."
        ),
        request=ExportCreateSerializer,
        responses={201: DatasetExportSerializer, 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def post(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        serializer = ExportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        export = services.export_create(
            actor=actor,
            project=project,
            format=values["format"],
            shape=values["shape"],
            filters=dict(values.get("filters") or {}),
            ip_address=client_ip(request._request),
        )
        export.refresh_from_db()
        data = DatasetExportSerializer(export, context=_context(request, project)).data
        return Response(data, status=status.HTTP_201_CREATED)


class ProjectExportDownloadView(LabApiView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # ``format`` here is the export's format, not a renderer (DRF's URL override).
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        summary="Download an export now (streamed)",
        description=(
            "Streams the rows as they are read, first bytes at once. Exports of more than "
            "20,000 rows answer 409: create them with POST instead. The `X-Export-Id` "
            "header names the export (in every row's provenance)."
        ),
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=ExportFormat.values),
            OpenApiParameter("shape", OpenApiTypes.STR, enum=ExportShape.values),
            OpenApiParameter("accepted_only", OpenApiTypes.STR, description=YES_NO),
            OpenApiParameter("exclude_gold", OpenApiTypes.STR, description=YES_NO),
            OpenApiParameter("exclude_ties", OpenApiTypes.STR, description=YES_NO),
            OpenApiParameter("min_agreement", OpenApiTypes.FLOAT, description="0 to 1."),
        ],
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.BINARY),
            400: BAD_INPUT,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def get(self, request: Request, project_id: UUID) -> StreamingHttpResponse:
        project, actor = project_and_actor(request, project_id)
        params = request.query_params
        filters = {
            name: params[name]
            for name in ("accepted_only", "exclude_gold", "exclude_ties", "min_agreement")
            if name in params
        }
        streamed = services.export_stream(
            actor=actor,
            project=project,
            format=params.get("format") or ExportFormat.JSONL,
            shape=params.get("shape") or ExportShape.TRAINING,
            filters=filters,
            ip_address=client_ip(request._request),
        )
        return streaming_response(streamed)


class ProjectExportDetailView(LabApiView):
    serializer_class = DatasetExportSerializer

    @extend_schema(
        summary="An export: status, progress and links",
        responses={200: DatasetExportSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID, export_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        export = selectors.export_for_project(project=project, export_id=export_id)
        return Response(DatasetExportSerializer(export, context=_context(request, project)).data)


def _finished(request: Request, project_id: UUID, export_id: UUID) -> DatasetExport:
    project, _ = project_and_actor(request, project_id)
    export = selectors.export_for_project(project=project, export_id=export_id)
    if export.status not in (ExportStatus.READY, ExportStatus.EXPIRED):
        raise NotFound("The export is not finished yet.")
    return export


class ProjectExportManifestView(LabApiView):
    @extend_schema(
        summary="An export's manifest",
        description=(
            "Schema version, counts (by review status, gold, experts, guidelines version), "
            "filters, field list and the SHA-256 of the file and of the dataset card. 404 "
            "until the export is ready."
        ),
        responses={200: OpenApiTypes.OBJECT, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID, export_id: UUID) -> Response:
        return Response(_finished(request, project_id, export_id).manifest)


class ProjectExportCardView(LabApiView):
    @extend_schema(
        summary="An export's dataset card (markdown)",
        responses={(200, "text/markdown"): OpenApiTypes.STR, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID, export_id: UUID) -> HttpResponse:
        export = _finished(request, project_id, export_id)
        return HttpResponse(export.dataset_card, content_type="text/markdown; charset=utf-8")


urlpatterns = [
    path(f"{project}/exports/", ProjectExportListView.as_view(), name="project-export-list"),
    path(
        f"{project}/exports/download/",
        ProjectExportDownloadView.as_view(),
        name="project-export-download",
    ),
    path(
        f"{project}/exports/<uuid:export_id>/",
        ProjectExportDetailView.as_view(),
        name="project-export-detail",
    ),
    path(
        f"{project}/exports/<uuid:export_id>/manifest/",
        ProjectExportManifestView.as_view(),
        name="project-export-manifest",
    ),
    path(
        f"{project}/exports/<uuid:export_id>/card/",
        ProjectExportCardView.as_view(),
        name="project-export-card",
    ),
]
