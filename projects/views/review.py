"""Lab review: the review queue, one annotation with its decision form, bulk accept, and the
queue of flagged edge cases.

Labs see experts only by pseudonym. The queue's filters travel with the reviewer (in the
query string, and in a hidden ``query`` field on the forms) so that "Accept and next" and
the redirects after a bulk accept return to the same slice of the queue.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from marketplace.errors import Conflict, DomainError, InvalidInput
from marketplace.http import AuthenticatedHttpRequest, report
from projects.access import LabActor
from projects.matching.selectors import pseudonym
from projects.models import Annotation, Project
from projects.quality import services as quality_services
from projects.review import selectors as review_selectors
from projects.review import services as review_services
from projects.review.models import AnnotationReview
from projects.review.selectors import ReviewFilters
from projects.states import AnnotationStatus, BehaviourFlag, ReviewDecision
from projects.task_types import TaskType, task_type_for
from projects.task_types.pairwise import PREFERENCE_LABELS
from projects.views.common import actor_and_project, lab_context, project_url, refused_to_viewer

REVIEW_PER_PAGE = 50
EDGE_CASES_PER_PAGE = 50
SUMMARY_CHARS = 80
# The query parameters that are filters of the queue (the rest, such as ``page``, are not).
FILTER_PARAMS = (
    "status",
    "expert",
    "flagged",
    "min_confidence",
    "max_confidence",
    "disagreement",
    "gold",
)
STATUS_CHOICES = [
    (AnnotationStatus.SUBMITTED.value, "Waiting for review"),
    (AnnotationStatus.ACCEPTED.value, "Accepted"),
    (AnnotationStatus.REJECTED.value, "Rejected"),
    (AnnotationStatus.REVISION.value, "Sent back for revision"),
    ("all", "All"),
]
DECISION_BUTTONS = [
    (ReviewDecision.ACCEPT.value, "Accept"),
    (ReviewDecision.REJECT.value, "Reject"),
    (ReviewDecision.REVISE.value, "Send back for revision"),
]
DECIDABLE_STATES = frozenset({AnnotationStatus.SUBMITTED, AnnotationStatus.REVISION})
DECISION_DONE = {
    ReviewDecision.ACCEPT: "Accepted",
    ReviewDecision.REJECT: "Rejected",
    ReviewDecision.REVISE: "Sent back for revision",
}


# Presenting annotations --------------------------------------------------------------------


def active_time(seconds: int | None) -> str:
    """Active time as m:ss (minutes may pass 59)."""
    seconds = max(0, int(seconds or 0))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set):
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def answer_summary(task_type: TaskType, result: dict[str, Any], settings: dict[str, Any]) -> str:
    """One line saying what the expert answered: the preference for pairwise tasks, the first
    question's answer otherwise."""
    try:
        if task_type.key == "pairwise":
            return PREFERENCE_LABELS.get(str(result.get("preference")), "—")
        first = task_type.questions(settings)[0]
        answer = task_type.answers(result, settings).get(first.key)
    except (KeyError, IndexError, TypeError, ValueError):
        return "—"
    text = _shown(answer)
    if len(text) > SUMMARY_CHARS:
        text = text[: SUMMARY_CHARS - 1] + "…"
    return f"{first.label}: {text}"


def _rationale(result: Any) -> str:
    """The free-text reason of an answer, when its type has one."""
    value = result.get("rationale") if isinstance(result, dict) else None
    return value.strip() if isinstance(value, str) else ""


def _row(annotation: Annotation, task_type: TaskType, settings: dict[str, Any]) -> dict[str, Any]:
    profile = getattr(annotation.expert, "expert_profile", None)
    return {
        "annotation": annotation,
        "pseudonym": pseudonym(profile.public_id if profile else None),
        "summary": answer_summary(task_type, annotation.result, settings),
        "active_time": active_time(annotation.time_spent_seconds),
    }


def _type_and_settings(project: Project) -> tuple[TaskType, dict[str, Any]]:
    task_type = task_type_for(project.task_type)
    return task_type, task_type.settings_with_defaults(project.task_settings)


def reviewer_label(review: AnnotationReview) -> str:
    """Who decided: the lab's own member by name, else the API key or the auto-accept rule."""
    if review.is_automatic:
        return "Automatic"
    if review.reviewer is not None:
        return review.reviewer.display_name or review.reviewer.email
    if review.api_key_id is not None:
        return "API key"
    return "A former member"


# Filters in the query string ---------------------------------------------------------------


def _filter_query(params: Any) -> str:
    """The filter parameters of ``params`` (a QueryDict or a query string) as a query string;
    anything else (the page, stray keys) is dropped."""
    source = QueryDict(params) if isinstance(params, str) else params
    kept = QueryDict(mutable=True)
    for name in FILTER_PARAMS:
        value = source.get(name)
        if value:
            kept[name] = value
    return kept.urlencode()


def _with_query(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


def _queue_filters(query: str) -> ReviewFilters:
    """The queue's filters from a query string carried by a form; the defaults when bad."""
    try:
        return review_selectors.review_filters_from(QueryDict(query))
    except InvalidInput:
        return ReviewFilters()


def _form_values(params: Any) -> dict[str, str]:
    values = {name: (params.get(name) or "").strip() for name in FILTER_PARAMS}
    values["status"] = values["status"] or AnnotationStatus.SUBMITTED.value
    return values


# The queue -------------------------------------------------------------------------------


@login_required
@require_GET
def review_queue(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The project's annotations to review, filtered; bad filters show the default queue
    with the problem named (400)."""
    actor, project = actor_and_project(request, slug, project_id)
    status = 200
    error = ""
    try:
        filters = review_selectors.review_filters_from(request.GET)
    except InvalidInput as problem:
        filters, error, status = ReviewFilters(), problem.message, 400
    query = "" if error else _filter_query(request.GET)
    task_type, settings = _type_and_settings(project)
    page = Paginator(
        review_selectors.review_queue(project=project, filters=filters), REVIEW_PER_PAGE
    ).get_page(request.GET.get("page"))
    context = lab_context(
        actor,
        project=project,
        tab="review",
        review_counts=review_selectors.review_counts(project=project),
        page=page,
        rows=[_row(annotation, task_type, settings) for annotation in page],
        values=_form_values(QueryDict() if error else request.GET),
        status_choices=STATUS_CHOICES,
        filter_error=error,
        query=query,
        filtered=bool(query),
        waiting_only=filters.status == AnnotationStatus.SUBMITTED,
    )
    return render(request, "projects/review/queue.html", context, status=status)


@login_required
@require_POST
def review_accept_bulk(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    back = _with_query(
        project_url("review_queue", project), _filter_query(request.POST.get("query", ""))
    )
    if refused_to_viewer(request, actor, "review annotations"):
        return redirect(back)
    chosen = request.POST.getlist("annotations")
    try:
        accepted = review_services.annotations_accept_bulk(
            actor=actor, project=project, annotation_ids=chosen
        )
    except DomainError as error:
        report(request, error)
        return redirect(back)
    skipped = len(set(chosen)) - accepted
    note = f" {skipped} no longer waiting for review left as they were." if skipped > 0 else ""
    messages.success(
        request, f"Accepted {accepted} annotation{'s' if accepted != 1 else ''}.{note}"
    )
    return redirect(back)


@login_required
@require_GET
def review_badges(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The counts on the project tabs, for pages that do not compute them (htmx)."""
    actor, project = actor_and_project(request, slug, project_id)
    context = lab_context(
        actor, project=project, review_counts=review_selectors.review_counts(project=project)
    )
    return render(request, "projects/review/_badges.html", context)


# One annotation ------------------------------------------------------------------------------


def _render_annotation(
    request: AuthenticatedHttpRequest,
    actor: LabActor,
    project: Project,
    annotation: Annotation,
    *,
    query: str,
    feedback: str = "",
    decision: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    task_type, settings = _type_and_settings(project)
    task = annotation.task
    # Other answers as a compact summary: full read-only forms would repeat the answer
    # form's element ids on the page.
    others = [
        {**_row(other, task_type, settings), "rationale": _rationale(other.result)}
        for other in review_selectors.review_queue(
            project=project, filters=ReviewFilters(status="")
        )
        .filter(task_id=task.pk)
        .exclude(pk=annotation.pk)
    ]
    reviews = [
        {"review": review, "by": reviewer_label(review)} for review in annotation.reviews.all()
    ]
    context = lab_context(
        actor,
        project=project,
        tab="review",
        annotation=annotation,
        row=_row(annotation, task_type, settings),
        task_html=task_type.render_task(task=task.data, settings=project.task_settings),
        answer_html=task_type.render_form(
            task=task.data,
            settings=project.task_settings,
            result=annotation.result,
            disabled=True,
        ),
        reviews=reviews,
        others=others,
        decisions=DECISION_BUTTONS,
        gold_graded=task.is_gold and task_type.gold_grading == "graded",
        behaviour_flags=[BehaviourFlag(flag).label for flag in annotation.behaviour_flags],
        # An answer sent back for revision may still be accepted or rejected as it is.
        can_decide=annotation.status in DECIDABLE_STATES,
        feedback=feedback,
        decision=decision,
        decision_error=error,
        query=query,
        queue_url=_with_query(project_url("review_queue", project), query),
    )
    return render(request, "projects/review/annotation.html", context, status=status)


@login_required
@require_GET
def annotation_review(
    request: AuthenticatedHttpRequest,
    slug: str,
    project_id: uuid.UUID,
    annotation_id: uuid.UUID,
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    annotation = review_selectors.annotation_for_lab(
        actor=actor, project=project, annotation_id=annotation_id
    )
    return _render_annotation(request, actor, project, annotation, query=_filter_query(request.GET))


def _next_waiting(project: Project, query: str, after: Annotation) -> uuid.UUID | None:
    """The id of the next annotation waiting for review in the reviewer's slice of the
    queue."""
    filters = dataclasses.replace(_queue_filters(query), status=AnnotationStatus.SUBMITTED)
    return (
        review_selectors.review_queue(project=project, filters=filters)
        .exclude(pk=after.pk)
        .values_list("public_id", flat=True)
        .first()
    )


def _seen_edit_count(value: str | None) -> int | None:
    """The edit count of the answer the reviewer read (None when the form did not say)."""
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


@login_required
@require_POST
def annotation_decide(
    request: AuthenticatedHttpRequest,
    slug: str,
    project_id: uuid.UUID,
    annotation_id: uuid.UUID,
) -> HttpResponse:
    """Accept, reject or send back one annotation, then show the next one waiting."""
    actor, project = actor_and_project(request, slug, project_id)
    annotation = review_selectors.annotation_for_lab(
        actor=actor, project=project, annotation_id=annotation_id
    )
    query = _filter_query(request.POST.get("query", ""))
    here = _with_query(project_url("annotation_review", project, annotation.public_id), query)
    if refused_to_viewer(request, actor, "review annotations"):
        return redirect(here)
    decision = request.POST.get("decision", "")
    feedback = request.POST.get("feedback", "")
    try:
        review_services.annotation_review(
            actor=actor,
            annotation=annotation,
            decision=decision,
            feedback=feedback,
            seen_edit_count=_seen_edit_count(request.POST.get("seen_edit_count")),
        )
    except InvalidInput as error:
        messages.error(request, f"Nothing was decided. {error.message}")
        return _render_annotation(
            request,
            actor,
            project,
            annotation,
            query=query,
            feedback=feedback,
            decision=decision,
            error=error.message,
            status=400,
        )
    except Conflict as error:
        # Changed by the expert or decided meanwhile: show the answer as it is now.
        fresh = review_selectors.annotation_for_lab(
            actor=actor, project=project, annotation_id=annotation_id
        )
        return _render_annotation(
            request,
            actor,
            project,
            fresh,
            query=query,
            feedback=feedback,
            decision=decision,
            error=error.message,
            status=409,
        )
    except DomainError as error:
        report(request, error)
        return redirect(here)
    done = DECISION_DONE[ReviewDecision(decision)]
    following = _next_waiting(project, query, annotation)
    if following is None:
        messages.success(request, f"{done}. Nothing else is waiting for review here.")
        return redirect(_with_query(project_url("review_queue", project), query))
    messages.success(request, f"{done}. Here is the next annotation waiting for review.")
    return redirect(_with_query(project_url("annotation_review", project, following), query))


# Edge cases --------------------------------------------------------------------------------


@login_required
@require_GET
def edge_cases(request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID) -> HttpResponse:
    """Flagged annotations with the expert's note: open ones, or the resolved ones."""
    actor, project = actor_and_project(request, slug, project_id)
    try:  # the page toggles between open and resolved ones; anything else shows the open
        resolved = bool(review_selectors.resolved_filter_from(request.GET.get("resolved")))
    except InvalidInput:
        resolved = False
    task_type, settings = _type_and_settings(project)
    page = Paginator(
        review_selectors.edge_cases(project=project, resolved=resolved), EDGE_CASES_PER_PAGE
    ).get_page(request.GET.get("page"))
    context = lab_context(
        actor,
        project=project,
        tab="edge_cases",
        review_counts=review_selectors.review_counts(project=project),
        page=page,
        rows=[_row(annotation, task_type, settings) for annotation in page],
        resolved=resolved,
        query="resolved=1" if resolved else "",
    )
    return render(request, "projects/review/edge_cases.html", context)


@login_required
@require_POST
def edge_case_resolve(
    request: AuthenticatedHttpRequest,
    slug: str,
    project_id: uuid.UUID,
    annotation_id: uuid.UUID,
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    back = project_url("edge_cases", project)
    if refused_to_viewer(request, actor, "answer edge cases"):
        return redirect(back)
    annotation = review_selectors.annotation_for_lab(
        actor=actor, project=project, annotation_id=annotation_id
    )
    reply = request.POST.get("reply", "")
    try:
        review_services.edge_case_resolve(actor=actor, annotation=annotation, reply=reply)
    except DomainError as error:
        report(request, error)
        return redirect(back)
    messages.success(
        request,
        "The edge case is resolved" + (" and the expert has your reply." if reply.strip() else "."),
    )
    return redirect(back)


@login_required
@require_POST
def annotation_gold_grade(
    request: AuthenticatedHttpRequest,
    slug: str,
    project_id: uuid.UUID,
    annotation_id: uuid.UUID,
) -> HttpResponse:
    """Grade an answer to a free-text gold task (0–100%)."""
    actor, project = actor_and_project(request, slug, project_id)
    annotation = review_selectors.annotation_for_lab(
        actor=actor, project=project, annotation_id=annotation_id
    )
    here = project_url("annotation_review", project, annotation.public_id)
    if refused_to_viewer(request, actor, "grade gold answers"):
        return redirect(here)
    try:
        graded = quality_services.gold_grade(
            actor=actor, annotation=annotation, score_percent=request.POST.get("score", "")
        )
    except (InvalidInput, Conflict) as error:
        messages.error(request, f"Not graded. {error.message}")
    else:
        messages.success(request, f"Graded {round((graded.gold_score or 0) * 100)}%.")
    return redirect(here)


urlpatterns = [
    path(
        "<uuid:project_id>/review/<uuid:annotation_id>/gold-grade/",
        annotation_gold_grade,
        name="annotation_gold_grade",
    ),
    path("<uuid:project_id>/review/", review_queue, name="review_queue"),
    path("<uuid:project_id>/review/accept/", review_accept_bulk, name="review_accept_bulk"),
    path("<uuid:project_id>/review/badges/", review_badges, name="review_badges"),
    path(
        "<uuid:project_id>/review/<uuid:annotation_id>/",
        annotation_review,
        name="annotation_review",
    ),
    path(
        "<uuid:project_id>/review/<uuid:annotation_id>/decide/",
        annotation_decide,
        name="annotation_decide",
    ),
    path("<uuid:project_id>/edge-cases/", edge_cases, name="edge_cases"),
    path(
        "<uuid:project_id>/edge-cases/<uuid:annotation_id>/resolve/",
        edge_case_resolve,
        name="edge_case_resolve",
    ),
]
