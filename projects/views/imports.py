"""Task imports: upload a file, watch it being checked and saved, read its report."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_http_methods

from marketplace.errors import DomainError, InvalidInput
from marketplace.http import AuthenticatedHttpRequest, report
from marketplace.views import client_ip
from projects import selectors
from projects.access import LabActor
from projects.forms import ImportForm
from projects.imports import import_progress_percent
from projects.models import Project, TaskImport
from projects.services.imports import task_import_create
from projects.states import FINISHED_IMPORT_STATES, TASK_IMPORT_STATES, ImportStatus
from projects.task_types import REGISTRY
from projects.views.common import (
    IMPORTS_PER_PAGE,
    actor_and_project,
    lab_context,
    project_url,
)

MEGABYTE = 1024 * 1024
# Where the import service's refusals show on the upload form.
IMPORT_FORM_FIELDS = {"upload": "file", "file": "file", "kind": "kind", "format": "format"}


def _render_imports(
    request: AuthenticatedHttpRequest,
    actor: LabActor,
    project: Project,
    form: ImportForm,
    status: int = 200,
) -> HttpResponse:
    imports = selectors.project_imports(project=project)
    page = Paginator(imports, IMPORTS_PER_PAGE).get_page(request.GET.get("page"))
    context = lab_context(
        actor, project=project, page=page, tab="imports", **_upload_context(project, form)
    )
    return render(request, "projects/import_list.html", context, status=status)


def _upload_context(project: Project, form: ImportForm) -> dict[str, Any]:
    """The upload form and its help: the type's example task as one JSON line."""
    task_type = REGISTRY[project.task_type]
    return {
        "form": form,
        "task_type": task_type,
        "example_line": json.dumps(task_type.example_input(), ensure_ascii=False),
        "max_upload_mb": settings.MAX_TASK_IMPORT_SIZE // MEGABYTE,
        "can_import": project.status in TASK_IMPORT_STATES,
    }


@login_required
@require_http_methods(["GET", "POST"])
def import_list(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The project's imports, and the upload form (this path takes files up to 200 MB)."""
    actor, project = actor_and_project(request, slug, project_id)
    if request.method != "POST":
        return _render_imports(request, actor, project, ImportForm())
    form = ImportForm(request.POST, request.FILES)
    if getattr(request, "upload_too_large", False):
        form = ImportForm(request.POST)
        form.is_valid()
        form.errors.pop("file", None)
        form.add_error(
            None,
            f"The file is larger than {settings.MAX_TASK_IMPORT_SIZE // MEGABYTE} MB, the most "
            "one upload may hold. Split it into several files, or send it through the API.",
        )
        return _render_imports(request, actor, project, form, status=413)
    if form.is_valid():
        try:
            task_import = task_import_create(
                actor=actor,
                project=project,
                upload=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
                format=form.cleaned_data["format"] or None,
                ip_address=client_ip(request),
            )
        except InvalidInput as error:
            form.add_error(IMPORT_FORM_FIELDS.get(error.field or ""), error.message)
        except DomainError as error:
            report(request, error)
            return redirect(project_url("imports", project))
        else:
            messages.success(request, f"Uploaded {task_import.original_name}.")
            return redirect(project_url("import", project, task_import.public_id))
    return _render_imports(request, actor, project, form, status=400)


def _status_context(project: Project, task_import: TaskImport) -> dict[str, Any]:
    finished = task_import.status in FINISHED_IMPORT_STATES
    return {
        "project": project,
        "task_import": task_import,
        "finished": finished,
        "failed": task_import.status == ImportStatus.FAILED,
        "percent": import_progress_percent(task_import),
        "unreported": max(0, task_import.error_count - len(task_import.errors or [])),
    }


@login_required
@require_GET
def import_detail(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID, import_id: uuid.UUID
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    task_import = selectors.import_for_project(project=project, import_id=import_id)
    context = lab_context(
        actor,
        **_status_context(project, task_import),
        **_upload_context(project, ImportForm(initial={"kind": task_import.kind})),
        tab="imports",
    )
    return render(request, "projects/import_detail.html", context)


@login_required
@require_GET
def import_status(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID, import_id: uuid.UUID
) -> HttpResponse:
    """The status fragment the import page polls; without the poll once the import ends."""
    actor, project = actor_and_project(request, slug, project_id)
    task_import = selectors.import_for_project(project=project, import_id=import_id)
    context = lab_context(actor, **_status_context(project, task_import))
    response = render(request, "projects/_import_status.html", context)
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [
    path("<uuid:project_id>/imports/", import_list, name="imports"),
    path("<uuid:project_id>/imports/<uuid:import_id>/", import_detail, name="import"),
    path("<uuid:project_id>/imports/<uuid:import_id>/status/", import_status, name="import_status"),
]
