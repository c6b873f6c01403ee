"""The expert's history: their answers per project, the lab's reviews and feedback, edits
until reviewed, and drafts they could not hand in.

Blind by design: an expert sees only their own answers (other experts' answers to the same
task never appear), and reviews are shown as coming from "the lab", never from a person.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from experts.views.profile import require_expert
from marketplace.errors import Conflict, DomainError, InvalidInput, NotFound
from marketplace.http import AuthenticatedHttpRequest, report
from projects.dispatch import selectors as dispatch_selectors
from projects.dispatch import services as dispatch_services
from projects.dispatch.models import Assignment
from projects.matching import selectors as matching_selectors
from projects.models import Annotation, Project
from projects.review.models import AnnotationReview
from projects.states import (
    DISPATCH_PROJECT_STATES,
    EDITABLE_ANNOTATION_STATES,
    SUBMIT_PROJECT_STATES,
    AiPolicy,
    AnnotationStatus,
    AssignmentStatus,
    ReviewDecision,
    TaskStatus,
)
from projects.task_types import task_type_for
from projects.workspace_views import AI_ANSWERS

ANNOTATIONS_PER_PAGE = 25
KEPT_DRAFTS_SHOWN = 20
FEEDBACK_EXCERPT_CHARS = 120
STATUS_CHOICES = [("", "Any status"), *AnnotationStatus.choices]


def _latest_feedback(annotation: Annotation) -> AnnotationReview | None:
    """The newest review that says something (reviews are prefetched in order)."""
    with_feedback = [review for review in annotation.reviews.all() if review.feedback]
    return with_feedback[-1] if with_feedback else None


def _draft_still_open(draft: Assignment) -> bool:
    """Whether the task of a kept draft still takes this expert's answer: the workspace
    resumes the draft on the expert's next visit (no query: project and task are loaded)."""
    project, task = draft.project, draft.task
    if project.status not in DISPATCH_PROJECT_STATES:
        return False
    return task.is_gold or (
        task.status == TaskStatus.OPEN
        and task.reserved_count < dispatch_services.task_target(task, project)
    )


def _ai_used(value: str | None) -> bool | None:
    return AI_ANSWERS.get((value or "").strip().lower())


@login_required
@require_GET
def expert_annotations(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The expert's answers, newest first, filtered by project and status, and the work they
    could not hand in."""
    require_expert(request)
    expert = request.user
    projects: list[Project] = []
    for membership in matching_selectors.memberships_of_expert(expert=expert):
        if membership.project not in projects:
            projects.append(membership.project)
    chosen_id = (request.GET.get("project") or "").strip()
    project = next((p for p in projects if str(p.public_id) == chosen_id), None)
    status = (request.GET.get("status") or "").strip()
    if status not in AnnotationStatus.values:
        status = ""
    rows = dispatch_selectors.annotations_of_expert(expert=expert, project=project, status=status)
    page = Paginator(rows, ANNOTATIONS_PER_PAGE).get_page(request.GET.get("page"))
    query = urlencode(
        {
            name: value
            for name, value in (
                ("project", str(project.public_id) if project else ""),
                ("status", status),
            )
            if value
        }
    )
    context = {
        "projects": projects,
        "chosen_project": project,
        "status": status,
        "status_choices": STATUS_CHOICES,
        "page": page,
        "rows": [
            {"annotation": annotation, "feedback": _latest_feedback(annotation)}
            for annotation in page
        ],
        "kept_drafts": [
            {"draft": draft, "open": _draft_still_open(draft)}
            for draft in dispatch_selectors.kept_drafts(expert=expert, project=project)[
                :KEPT_DRAFTS_SHOWN
            ]
        ],
        "query": query,
        "filtered": bool(query),
        "excerpt_chars": FEEDBACK_EXCERPT_CHARS,
    }
    return render(request, "projects/history/annotations.html", context)


def _render_annotation(
    request: AuthenticatedHttpRequest,
    annotation: Annotation,
    *,
    result: dict[str, Any] | None = None,
    error: str = "",
    posted: Any = None,
    status: int = 200,
) -> HttpResponse:
    project = annotation.project
    task_type = task_type_for(project.task_type)
    editable = (
        annotation.status in EDITABLE_ANNOTATION_STATES and project.status in SUBMIT_PROJECT_STATES
    )
    reviews = list(annotation.reviews.all())
    revision_feedback = (
        next(
            (review for review in reversed(reviews) if review.decision == ReviewDecision.REVISE),
            None,
        )
        if annotation.status == AnnotationStatus.REVISION
        else None
    )
    context = {
        "annotation": annotation,
        "project": project,
        "task_type": task_type,
        "task_html": task_type.render_task(
            task=annotation.task.data, settings=project.task_settings
        ),
        "answer_html": task_type.render_form(
            task=annotation.task.data,
            settings=project.task_settings,
            result=result if result is not None else annotation.result,
            disabled=not editable,
        ),
        "editable": editable,
        "reviews": reviews,
        "revision_feedback": revision_feedback,
        "edit_error": error,
        "ai_policy": project.ai_policy,
        "AiPolicy": AiPolicy,
        # Asked again with every edit; a re-rendered post keeps what was sent.
        "ai_used": (posted.get("ai_used") or "") if posted is not None else "",
        "ai_disclosure": (
            posted.get("ai_disclosure", "") if posted is not None else annotation.ai_disclosure
        ),
    }
    return render(request, "projects/history/annotation.html", context, status=status)


@login_required
@require_GET
def expert_annotation(request: AuthenticatedHttpRequest, annotation_id: Any) -> HttpResponse:
    """One of the expert's answers with the lab's reviews; editable until decided."""
    require_expert(request)
    annotation = dispatch_selectors.annotation_for_expert(
        expert=request.user, annotation_id=annotation_id
    )
    return _render_annotation(request, annotation)


@login_required
@require_POST
def expert_annotation_edit(request: AuthenticatedHttpRequest, annotation_id: Any) -> HttpResponse:
    require_expert(request)
    annotation = dispatch_selectors.annotation_for_expert(
        expert=request.user, annotation_id=annotation_id
    )
    here = redirect("expert_annotation", annotation_id=annotation.public_id)
    project = annotation.project
    task_type = task_type_for(project.task_type)
    settings = task_type.settings_with_defaults(project.task_settings)
    result = task_type.result_from_form(request.POST, settings)
    was_revision = annotation.status == AnnotationStatus.REVISION
    try:
        dispatch_services.annotation_edit(
            expert=request.user,
            annotation=annotation,
            result=result,
            signals=dispatch_services.PageSignals.from_mapping(request.POST),
            ai_used=_ai_used(request.POST.get("ai_used")),
            ai_disclosure=request.POST.get("ai_disclosure", ""),
        )
    except InvalidInput as error:
        messages.error(request, f"Your answer was not changed. {error.message}")
        return _render_annotation(
            request,
            annotation,
            result=result,
            error=error.message,
            posted=request.POST,
            status=400,
        )
    except Conflict as error:
        messages.error(request, error.message)
        return here
    except DomainError as error:
        report(request, error)
        return here
    messages.success(
        request,
        "Your revised answer is saved and back in the lab's review queue."
        if was_revision
        else "Your answer is saved.",
    )
    return here


@login_required
@require_GET
def expert_kept_draft(request: AuthenticatedHttpRequest, assignment_id: Any) -> HttpResponse:
    """Work the expert could not hand in, read-only, with the way back to it while its task
    still takes an answer."""
    require_expert(request)
    draft = dispatch_selectors.assignment_for_expert(
        expert=request.user, assignment_id=assignment_id
    )
    if draft.status != AssignmentStatus.EXPIRED or draft.draft is None:
        raise NotFound()
    project = draft.project
    task_type = task_type_for(project.task_type)
    settings = task_type.settings_with_defaults(project.task_settings)
    context = {
        "draft": draft,
        "project": project,
        "open": _draft_still_open(draft),
        "task_html": task_type.render_task(task=draft.task.data, settings=settings),
        "answer_html": task_type.render_form(
            task=draft.task.data,
            settings=settings,
            result=task_type.result_from_form(draft.draft, settings),
            disabled=True,
        ),
    }
    return render(request, "projects/history/kept_draft.html", context)


urlpatterns = [
    path("expert/drafts/<uuid:assignment_id>/", expert_kept_draft, name="expert_kept_draft"),
    path("expert/annotations/", expert_annotations, name="expert_annotations"),
    path("expert/annotations/<uuid:annotation_id>/", expert_annotation, name="expert_annotation"),
    path(
        "expert/annotations/<uuid:annotation_id>/edit/",
        expert_annotation_edit,
        name="expert_annotation_edit",
    ),
]
