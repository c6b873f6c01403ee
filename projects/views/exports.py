"""The lab's dataset exports: the Exports tab (options, history, progress), streamed
downloads, background exports with their manifest and dataset card, and the signed,
expiring link their files are downloaded through.

Every lab member may export (the data is the lab's). The signed file link is a capability:
it works without a session (for ``curl`` on a training machine) until the export expires,
so the page says so next to it.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods

from marketplace.errors import Conflict, DomainError, InvalidInput, NotFound
from marketplace.http import AuthenticatedHttpRequest, report
from marketplace.views import client_ip
from projects.access import LabActor
from projects.exports import selectors, services
from projects.exports.models import DatasetExport
from projects.exports.services import ExportExpired
from projects.exports.writers import CONTENT_TYPES
from projects.models import Project
from projects.states import ExportFormat, ExportShape, ExportStatus
from projects.views.common import actor_and_project, lab_context, project_url

EXPORTS_PER_PAGE = 20
FILTER_FIELDS = ("accepted_only", "exclude_gold", "min_agreement", "exclude_ties")
LIVE_STATES = frozenset({ExportStatus.PENDING, ExportStatus.RUNNING})
# Exports whose manifest and card exist (an expired one keeps them, not its file).
FINISHED_STATES = frozenset({ExportStatus.READY, ExportStatus.EXPIRED})
PRIVATE_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}


def _options(data: QueryDict) -> dict[str, Any]:
    """The export options a form or query string sends (checkboxes absent when off)."""
    filters: dict[str, Any] = {}
    for name in ("accepted_only", "exclude_gold", "exclude_ties"):
        if name in data:
            filters[name] = data.get(name)
    if (data.get("min_agreement") or "").strip():
        filters["min_agreement"] = data.get("min_agreement", "").strip()
    return {
        "format": data.get("format") or ExportFormat.JSONL,
        "shape": data.get("shape") or ExportShape.TRAINING,
        "filters": filters,
    }


def _query(format: str, shape: str, filters: dict[str, Any]) -> str:
    """The query string of a streamed download with these (clean) options."""
    params: dict[str, Any] = {"format": format, "shape": shape}
    for name in ("accepted_only", "exclude_gold", "exclude_ties"):
        if filters.get(name):
            params[name] = "1"
    if filters.get("min_agreement") is not None:
        params["min_agreement"] = filters["min_agreement"]
    return urlencode(params)


def export_links(export: DatasetExport, project: Project) -> dict[str, Any]:
    """Where the list shows an export's file, manifest and card (no queries)."""
    links: dict[str, Any] = {
        "streamed": export.manifest.get("delivery") == "stream",
        "percent": selectors.export_progress_percent(export),
        "live": export.status in LIVE_STATES,
        "file": None,
        "again": (
            f"{project_url('export_download', project)}?"
            f"{_query(export.format, export.shape, export.filters)}"
        ),
    }
    if export.status in FINISHED_STATES:
        links["manifest"] = project_url("export_manifest", project, export.public_id)
        links["card"] = project_url("export_card", project, export.public_id)
        if export.file and export.status == ExportStatus.READY:
            links["file"] = project_url(
                "export_file", project, export.public_id, services.export_download_token(export)
            )
    return links


def _render(
    request: AuthenticatedHttpRequest,
    actor: LabActor,
    project: Project,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    page = Paginator(selectors.project_exports(project=project), EXPORTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    exports = [(export, export_links(export, project)) for export in page.object_list]
    sizes = selectors.project_export_sizes(project=project)
    context = lab_context(
        actor,
        project=project,
        tab="exports",
        page=page,
        exports=exports,
        sizes=sizes,
        can_stream=sizes["annotations"] <= services.stream_max_rows(),
        stream_max_rows=services.stream_max_rows(),
        link_days=services.link_days(),
        formats=ExportFormat.choices,
        shapes=ExportShape.choices,
        values=values,
        errors=errors or {},
        is_pairwise=project.task_type == "pairwise",
        dpo_url=(
            f"{project_url('export_download', project)}?format=jsonl&shape=training&exclude_ties=1"
        ),
    )
    return render(request, "projects/exports/list.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def export_list(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The Exports tab. POST ``action=download`` sends the browser to a streamed download
    with the chosen options; ``action=prepare`` queues a background export."""
    actor, project = actor_and_project(request, slug, project_id)
    if request.method != "POST":
        return _render(request, actor, project, _options(request.GET))
    options = _options(request.POST)
    try:
        cleaned = services.export_options_clean(project=project, **options)
        if request.POST.get("action") == "download":
            query = _query(cleaned.format, cleaned.shape, cleaned.filters.as_dict())
            return redirect(f"{project_url('export_download', project)}?{query}")
        export = services.export_create(
            actor=actor, project=project, ip_address=client_ip(request), **options
        )
    except InvalidInput as error:
        return _render(request, actor, project, options, {error.field or "": error.message}, 400)
    except DomainError as error:
        report(request, error)
        return redirect(project_url("exports", project))
    messages.success(
        request,
        f"Preparing the export of {export.total_rows:,} row{'s' if export.total_rows != 1 else ''}"
        ". Its download link appears below when it is ready.",
    )
    return redirect(project_url("exports", project))


@login_required
@require_GET
def export_download(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponseBase:
    """Stream an export with the options in the query string (first bytes at once)."""
    actor, project = actor_and_project(request, slug, project_id)
    try:
        streamed = services.export_stream(
            actor=actor, project=project, ip_address=client_ip(request), **_options(request.GET)
        )
    except DomainError as error:
        report(request, error)
        return redirect(f"{project_url('exports', project)}?{request.GET.urlencode()}")
    return streaming_response(streamed)


def streaming_response(streamed: services.StreamedExport) -> StreamingHttpResponse:
    response = StreamingHttpResponse(streamed.content, content_type=streamed.content_type)
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=True, filename=streamed.filename) or "attachment"
    )
    response["X-Export-Id"] = str(streamed.export.public_id)
    for header, value in PRIVATE_HEADERS.items():
        response[header] = value
    return response


@login_required
@require_GET
def export_status(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID, export_id: uuid.UUID
) -> HttpResponse:
    """One export's row of the list, which the page polls while the export runs."""
    actor, project = actor_and_project(request, slug, project_id)
    export = selectors.export_for_project(project=project, export_id=export_id)
    context = lab_context(
        actor, project=project, export=export, links=export_links(export, project)
    )
    response = render(request, "projects/exports/_row.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _finished(
    request: AuthenticatedHttpRequest, slug: str, project_id: Any, export_id: Any
) -> DatasetExport:
    """A finished export of the caller's project (404 for others and unfinished ones)."""
    _, project = actor_and_project(request, slug, project_id)
    export = selectors.export_for_project(project=project, export_id=export_id)
    if export.status not in FINISHED_STATES:
        raise Http404()
    return export


@login_required
@require_GET
def export_manifest(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID, export_id: uuid.UUID
) -> JsonResponse:
    """The export's manifest as JSON: counts, filters, fields, checksums."""
    export = _finished(request, slug, project_id, export_id)
    response = JsonResponse(export.manifest, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = (
        content_disposition_header(
            as_attachment=False, filename=f"manifest-{export.public_id}.json"
        )
        or "inline"
    )
    return response


@login_required
@require_GET
def export_card(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID, export_id: uuid.UUID
) -> HttpResponse:
    """The export's dataset card, as markdown text."""
    export = _finished(request, slug, project_id, export_id)
    response = HttpResponse(export.dataset_card, content_type="text/markdown; charset=utf-8")
    name = (export.manifest.get("dataset_card") or {}).get("name") or "dataset-card.md"
    response["Content-Disposition"] = (
        content_disposition_header(as_attachment=False, filename=name) or "inline"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def export_file(
    request: HttpRequest, slug: str, project_id: uuid.UUID, export_id: uuid.UUID, token: str
) -> HttpResponseBase:
    """The file of a background export, through its signed link (no session needed)."""
    try:
        export = services.export_for_download(
            organization_slug=slug, project_id=project_id, export_id=export_id, token=token
        )
    except ExportExpired as error:
        return render(
            request, "projects/exports/expired.html", {"message": error.message}, status=410
        )
    except (NotFound, Conflict):
        raise Http404() from None
    filename = (export.manifest.get("file") or {}).get("name") or export.file.name.rsplit("/")[-1]
    accel_prefix = getattr(settings, "PRIVATE_FILES_X_ACCEL_PREFIX", "")
    response: HttpResponseBase
    if accel_prefix:
        response = HttpResponse(content_type=_content_type(export))
        response["X-Accel-Redirect"] = f"{accel_prefix}{export.file.name}"
        response["Content-Disposition"] = (
            content_disposition_header(as_attachment=True, filename=filename) or "attachment"
        )
    else:
        response = FileResponse(
            export.file.storage.open(export.file.name, "rb"),
            as_attachment=True,
            filename=filename,
            content_type=_content_type(export),
        )
    for header, value in PRIVATE_HEADERS.items():
        response[header] = value
    response["X-Export-Sha256"] = export.sha256
    return response


def _content_type(export: DatasetExport) -> str:
    return CONTENT_TYPES[ExportFormat(export.format)]


def download_url(request: HttpRequest, export: DatasetExport) -> str | None:
    """The absolute signed link of a ready background export (for the API)."""
    if export.status != ExportStatus.READY or not export.file:
        return None
    return request.build_absolute_uri(
        reverse(
            "projects:export_file",
            args=[
                export.project.organization.slug,
                export.project.public_id,
                export.public_id,
                services.export_download_token(export),
            ],
        )
    )


urlpatterns = [
    path("<uuid:project_id>/exports/", export_list, name="exports"),
    path("<uuid:project_id>/exports/download/", export_download, name="export_download"),
    path("<uuid:project_id>/exports/<uuid:export_id>/status/", export_status, name="export_status"),
    path(
        "<uuid:project_id>/exports/<uuid:export_id>/manifest.json",
        export_manifest,
        name="export_manifest",
    ),
    path("<uuid:project_id>/exports/<uuid:export_id>/card.md", export_card, name="export_card"),
    path(
        "<uuid:project_id>/exports/<uuid:export_id>/download/<str:token>/",
        export_file,
        name="export_file",
    ),
]
