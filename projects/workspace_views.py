"""The expert's annotation workspace: next task, the annotation page, drafts, submit, skip.

The page is server-rendered; static/js/workspace.js adds autosave, the lease heartbeat, the
page signals (active time, pastes, focus losses), keyboard shortcuts and the instant swap to
the prefetched next task. Every route also works without JavaScript (plain form posts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from experts.views.profile import require_expert
from marketplace.errors import Conflict, DomainError, InvalidInput
from marketplace.http import AuthenticatedHttpRequest
from projects import selectors
from projects.dispatch import selectors as dispatch_selectors
from projects.dispatch import services as dispatch
from projects.dispatch.models import Assignment
from projects.states import (
    AiPolicy,
    AssignmentStatus,
    SkipReason,
)
from projects.task_types import task_type_for

# Keys the page sends beside the answer form: never part of the draft.
NOT_DRAFT_KEYS = frozenset(
    {"csrfmiddlewaretoken", "active_seconds", "pastes", "pasted_chars", "focus_losses"}
)
AI_ANSWERS = {"yes": True, "no": False}


def _wants_json(request: AuthenticatedHttpRequest) -> bool:
    """The page's script (fetch or htmx) asks for JSON; a plain form post gets HTML."""
    return bool(request.htmx) or "application/json" in request.headers.get("Accept", "")


def _wants_fragment(request: AuthenticatedHttpRequest) -> bool:
    return bool(request.htmx) or request.GET.get("fragment") == "1"


def _form_fields(data: Any) -> dict[str, list[str]]:
    """The answer form as sent (field name → values), without the token and the signals."""
    return {key: data.getlist(key) for key in data if key not in NOT_DRAFT_KEYS}


def _ai_used(value: str | None) -> bool | None:
    return AI_ANSWERS.get((value or "").strip().lower())


def _first(data: Mapping[str, Any] | None, key: str) -> str:
    """The last value of a draft or form field ('' when absent)."""
    if not data:
        return ""
    getlist = getattr(data, "getlist", None)
    values = getlist(key) if getlist is not None else data.get(key)
    if isinstance(values, list | tuple):
        return str(values[-1]) if values else ""
    return "" if values is None else str(values)


def _workspace_context(
    request: AuthenticatedHttpRequest,
    assignment: Assignment,
    *,
    form_data: Mapping[str, Any] | None = None,
    error: DomainError | None = None,
) -> dict[str, Any]:
    """What the workspace fragment shows: the task, the guidelines, the form prefilled from
    ``form_data`` (a re-rendered post) or the saved draft, and the expert's progress.

    Only the task's own data is rendered: gold answers live in another table and other
    experts' answers are never loaded.
    """
    project, task = assignment.project, assignment.task
    task_type = task_type_for(project.task_type)
    settings = task_type.settings_with_defaults(project.task_settings)
    filled = form_data if form_data is not None else assignment.draft
    result = task_type.result_from_form(filled, settings) if filled else None
    now = timezone.now()
    error_field = (error.field or "") if isinstance(error, InvalidInput) else ""
    return {
        "assignment": assignment,
        "project": project,
        "task_html": task_type.render_task(task=task.data, settings=settings),
        "form_html": task_type.render_form(task=task.data, settings=settings, result=result),
        "task_type_key": task_type.key,
        "guidelines": selectors.project_guidelines(project=project),
        "progress": dispatch_selectors.expert_project_progress(
            expert=request.user, project=project
        ),
        "ai_policy": project.ai_policy,
        "AiPolicy": AiPolicy,
        "ai_used": _first(filled, "ai_used"),
        "ai_disclosure": _first(filled, "ai_disclosure"),
        "confidence_set": bool(result and result.get("confidence") is not None),
        "skip_reasons": SkipReason.choices,
        "still_needed": dispatch.assignment_submittable(assignment),
        "expired": assignment.status == AssignmentStatus.EXPIRED or assignment.expires_at <= now,
        "error": error,
        "error_field": error_field,
        "conflict": isinstance(error, Conflict),
        "skip_error": error_field in {"reason", "note"},
    }


def _render_workspace(
    request: AuthenticatedHttpRequest,
    assignment: Assignment,
    *,
    status: int = 200,
    fragment: bool = False,
    **context: Any,
) -> HttpResponse:
    template = "projects/workspace/_workspace.html" if fragment else "projects/workspace/task.html"
    return render(
        request, template, _workspace_context(request, assignment, **context), status=status
    )


def _refusal(request: AuthenticatedHttpRequest, project: Any, reason: str) -> HttpResponse:
    return render(
        request,
        "projects/workspace/refusal.html",
        {"project": project, "reason": reason},
        status=409,
    )


def _own_assignment(request: AuthenticatedHttpRequest, assignment_id: Any) -> Assignment:
    require_expert(request)
    return dispatch_selectors.assignment_for_expert(
        expert=request.user, assignment_id=assignment_id
    )


def _history_url() -> str:
    return reverse("expert_annotations")


@login_required
@require_GET
def workspace_start(request: AuthenticatedHttpRequest, project_id: Any) -> HttpResponse:
    """Send the expert to their next task (the one they hold, else a new claim)."""
    require_expert(request)
    project = selectors.project_for_expert(expert=request.user, project_id=project_id)
    try:
        assignment = dispatch.task_claim(expert=request.user, project=project)
    except dispatch.GuidelinesNotAcknowledged as error:
        messages.info(request, error.message)
        return redirect("project_guidelines", project_id=project.public_id)
    except Conflict as error:
        return _refusal(request, project, error.message)
    if assignment is None:
        progress = dispatch_selectors.expert_project_progress(expert=request.user, project=project)
        return render(
            request, "projects/workspace/done.html", {"project": project, "progress": progress}
        )
    return redirect("workspace_task", assignment_id=assignment.public_id)


@login_required
@require_GET
def workspace_task(request: AuthenticatedHttpRequest, assignment_id: Any) -> HttpResponse:
    """The annotation page (or just its fragment, for htmx and the prefetch)."""
    assignment = _own_assignment(request, assignment_id)
    if assignment.status in (AssignmentStatus.SUBMITTED, AssignmentStatus.SKIPPED):
        messages.info(request, f"You already {assignment.get_status_display().lower()} that task.")
        return redirect("workspace_start", project_id=assignment.project.public_id)
    refusal = dispatch.held_task_refusal(expert=request.user, project=assignment.project)
    if refusal is not None:
        return _refusal(request, assignment.project, refusal)
    return _render_workspace(request, assignment, fragment=_wants_fragment(request))


@login_required
@require_POST
def workspace_draft(request: AuthenticatedHttpRequest, assignment_id: Any) -> HttpResponse:
    """Autosave and heartbeat: keep the form as a draft, add the page's signals, renew the
    lease. A body without answer fields (a bare heartbeat) keeps the saved draft."""
    assignment = _own_assignment(request, assignment_id)
    fields = _form_fields(request.POST)
    try:
        saved = dispatch.assignment_draft_save(
            expert=request.user,
            assignment=assignment,
            draft=fields or None,
            signals=dispatch.PageSignals.from_mapping(request.POST),
        )
    except InvalidInput as error:
        return JsonResponse({"field": error.field, "message": error.message}, status=400)
    except Conflict as error:
        return JsonResponse({"message": error.message}, status=409)
    return JsonResponse(
        {
            "saved_at": saved.assignment.draft_saved_at.isoformat()
            if saved.assignment.draft_saved_at
            else None,
            "expires_at": saved.assignment.expires_at.isoformat(),
            "still_needed": saved.still_needed,
        }
    )


@login_required
@require_POST
def workspace_submit(request: AuthenticatedHttpRequest, assignment_id: Any) -> HttpResponse:
    """Hand in the answer (idempotent: a repeat returns the same annotation)."""
    assignment = _own_assignment(request, assignment_id)
    project = assignment.project
    task_type = task_type_for(project.task_type)
    settings = task_type.settings_with_defaults(project.task_settings)
    next_url = reverse("workspace_start", kwargs={"project_id": project.public_id})
    as_json = _wants_json(request)
    try:
        annotation = dispatch.annotation_submit(
            expert=request.user,
            assignment=assignment,
            result=task_type.result_from_form(request.POST, settings),
            signals=dispatch.PageSignals.from_mapping(request.POST),
            ai_used=_ai_used(request.POST.get("ai_used")),
            ai_disclosure=request.POST.get("ai_disclosure", ""),
            draft=_form_fields(request.POST),
        )
    except InvalidInput as error:
        if as_json:
            return JsonResponse({"field": error.field, "message": error.message}, status=400)
        return _render_workspace(
            request, assignment, status=400, form_data=request.POST, error=error
        )
    except Conflict as error:
        assignment = _own_assignment(request, assignment_id)
        code = dispatch.refusal_code(error)
        guidelines_url = reverse("project_guidelines", kwargs={"project_id": project.public_id})
        if as_json:
            body = {"code": code, "message": error.message, "history_url": _history_url()}
            if code == "guidelines":
                body["guidelines_url"] = guidelines_url
            return JsonResponse(body, status=409)
        if code == "guidelines":
            messages.info(request, error.message)
            return redirect(guidelines_url)
        return _render_workspace(
            request, assignment, status=409, form_data=request.POST, error=error
        )
    if as_json:
        return JsonResponse({"annotation_id": str(annotation.public_id), "next_url": next_url})
    messages.success(request, "Thank you: your answer was submitted.")
    return redirect(next_url)


@login_required
@require_POST
def workspace_skip(request: AuthenticatedHttpRequest, assignment_id: Any) -> HttpResponse:
    """Hand the task back with a reason and go on to the next one."""
    assignment = _own_assignment(request, assignment_id)
    next_url = reverse("workspace_start", kwargs={"project_id": assignment.project.public_id})
    as_json = _wants_json(request)
    try:
        dispatch.assignment_skip(
            expert=request.user,
            assignment=assignment,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
        )
    except InvalidInput as error:
        if as_json:
            return JsonResponse({"field": error.field, "message": error.message}, status=400)
        return _render_workspace(request, assignment, status=400, error=error)
    except Conflict as error:
        if as_json:
            return JsonResponse({"message": error.message}, status=409)
        messages.error(request, error.message)
        return redirect(next_url)
    if as_json:
        return JsonResponse({"next_url": next_url})
    messages.info(request, "Task skipped.")
    return redirect(next_url)


@login_required
@require_GET
def workspace_prefetch(request: AuthenticatedHttpRequest, assignment_id: Any) -> HttpResponse:
    """Lease the task after this one now and answer its workspace fragment (its page URL in
    X-Workspace-Url), so the page can show it the moment the current one is submitted; 204
    when nothing is left or the expert may not take more."""
    current = _own_assignment(request, assignment_id)
    try:
        upcoming = dispatch.task_prefetch(
            expert=request.user, project=current.project, current=current
        )
    except Conflict:
        return HttpResponse(status=204)
    if upcoming is None:
        return HttpResponse(status=204)
    # Leased on the same project, with its task's data: nothing needs reading again.
    upcoming.project = current.project
    html = render_to_string(
        "projects/workspace/_workspace.html",
        _workspace_context(request, upcoming),
        request=request,
    )
    response = HttpResponse(html)
    response["X-Workspace-Url"] = reverse(
        "workspace_task", kwargs={"assignment_id": upcoming.public_id}
    )
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [
    path("expert/projects/<uuid:project_id>/work/", workspace_start, name="workspace_start"),
    path("expert/work/<uuid:assignment_id>/", workspace_task, name="workspace_task"),
    path("expert/work/<uuid:assignment_id>/draft/", workspace_draft, name="workspace_draft"),
    path("expert/work/<uuid:assignment_id>/submit/", workspace_submit, name="workspace_submit"),
    path("expert/work/<uuid:assignment_id>/skip/", workspace_skip, name="workspace_skip"),
    path("expert/work/<uuid:assignment_id>/next/", workspace_prefetch, name="workspace_prefetch"),
]
