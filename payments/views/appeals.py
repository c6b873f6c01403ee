"""Appeals and disputes on the web: the expert's appeal of a rejection, the lab's appeals
page and its dispute of an acceptance, and the staff queue of disputes and escalated
appeals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from experts.console.views import staff_only
from experts.views.profile import require_expert
from marketplace.errors import DomainError
from marketplace.http import AuthenticatedHttpRequest, report
from payments import appeals as services
from payments.models import Appeal, Dispute
from payments.states import APPEAL_OPEN_STATES, AppealStatus
from projects.dispatch import selectors as dispatch_selectors
from projects.exports.provenance import lab_pseudonym
from projects.review import selectors as review_selectors
from projects.states import ReviewDecision
from projects.task_types import task_type_for
from projects.views.common import actor_and_project, lab_actor, lab_context, refused_to_viewer
from projects.views.review import answer_summary

DECIDED_PER_PAGE = 25
STAFF_ROWS = 100


def _uphold(request: AuthenticatedHttpRequest) -> bool | None:
    """The decision a form sent: True to uphold, False to deny or dismiss, None for
    anything else."""
    return {"uphold": True, "deny": False, "dismiss": False}.get(request.POST.get("decision", ""))


def _row(item: Appeal | Dispute, *, now: datetime | None = None) -> dict[str, Any]:
    """What the pages show of one appeal or dispute: the answer in short, the expert under
    the pseudonym the lab knows them by everywhere (exports, quality, bonuses), the decisions
    on it, and whether an appeal's deadline for the lab has passed."""
    annotation = item.annotation
    project = annotation.project
    task_type = task_type_for(project.task_type)
    reviews = list(annotation.reviews.all())
    rejection = next((r for r in reviews if r.decision == ReviewDecision.REJECT), None)
    acceptance = next((r for r in reviews if r.decision == ReviewDecision.ACCEPT), None)
    past_deadline = isinstance(item, Appeal) and (
        item.status == AppealStatus.ESCALATED
        or (item.status == AppealStatus.OPEN and item.respond_by <= (now or timezone.now()))
    )
    return {
        "item": item,
        "annotation": annotation,
        "project": project,
        "pseudonym": lab_pseudonym(project.organization_id, annotation.expert_id),
        "past_deadline": past_deadline,
        "summary": answer_summary(
            task_type, annotation.result, task_type.settings_with_defaults(project.task_settings)
        ),
        "rejection": rejection,
        "acceptance": acceptance,
    }


# Expert ------------------------------------------------------------------------------------


@login_required
@require_POST
def appeal_open(request: AuthenticatedHttpRequest, annotation_id: uuid.UUID) -> HttpResponse:
    """The expert appeals the rejection of one of their answers."""
    require_expert(request)
    annotation = dispatch_selectors.annotation_for_expert(
        expert=request.user, annotation_id=annotation_id
    )
    here = redirect("expert_annotation", annotation_id=annotation.public_id)
    try:
        appeal = services.appeal_open(
            expert=request.user, annotation=annotation, note=request.POST.get("note", "")
        )
    except DomainError as error:
        if error.field:
            messages.error(request, f"Your appeal was not sent. {error.message}")
        else:
            report(request, error)
        return here
    messages.success(
        request,
        f"Your appeal is sent. The lab answers by {appeal.respond_by:%Y-%m-%d}; "
        "after that, staff decide.",
    )
    return here


# Lab ---------------------------------------------------------------------------------------


@login_required
@require_GET
def lab_appeals(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Appeals on the lab's answers: waiting ones with the forms to answer, then decided."""
    actor = lab_actor(request, slug)
    appeals = services.appeals_for_lab(actor=actor)
    now = timezone.now()
    waiting = [
        _row(appeal, now=now)
        for appeal in appeals.filter(status__in=APPEAL_OPEN_STATES).order_by("respond_by", "pk")
    ]
    page = Paginator(
        appeals.exclude(status__in=APPEAL_OPEN_STATES).order_by("-decided_at", "-pk"),
        DECIDED_PER_PAGE,
    ).get_page(request.GET.get("page"))
    context = lab_context(
        actor,
        tab="appeals",
        waiting=waiting,
        page=page,
        decided=[_row(appeal) for appeal in page.object_list],
        AppealStatus=AppealStatus,
    )
    return render(request, "payments/appeals/lab_appeals.html", context)


@login_required
@require_POST
def appeal_decide(
    request: AuthenticatedHttpRequest, slug: str, appeal_id: uuid.UUID
) -> HttpResponse:
    actor = lab_actor(request, slug)
    appeal = services.appeal_for_lab(actor=actor, appeal_id=appeal_id)
    back = redirect("payments:lab_appeals", slug=actor.organization.slug)
    if refused_to_viewer(request, actor, "answer appeals"):
        return back
    uphold = _uphold(request)
    if uphold is None:
        messages.error(request, "Nothing was decided. Choose to uphold or deny the appeal.")
        return back
    try:
        services.appeal_decide(
            actor=actor, appeal=appeal, uphold=uphold, response=request.POST.get("response", "")
        )
    except DomainError as error:
        if error.field:
            messages.error(request, f"Nothing was decided. {error.message}")
        else:
            report(request, error)
        return back
    messages.success(
        request,
        "Appeal upheld: the answer is accepted and paid."
        if uphold
        else "Appeal denied: the rejection stands.",
    )
    return back


@login_required
@require_POST
def dispute_open(
    request: AuthenticatedHttpRequest,
    slug: str,
    project_id: uuid.UUID,
    annotation_id: uuid.UUID,
) -> HttpResponse:
    """The lab disputes an answer it accepted; staff decide."""
    actor, project = actor_and_project(request, slug, project_id)
    annotation = review_selectors.annotation_for_lab(
        actor=actor, project=project, annotation_id=annotation_id
    )
    here = redirect("projects:annotation_review", slug, project.public_id, annotation.public_id)
    if refused_to_viewer(request, actor, "dispute answers"):
        return here
    try:
        services.dispute_open(
            actor=actor, annotation=annotation, reason=request.POST.get("reason", "")
        )
    except DomainError as error:
        if error.field:
            messages.error(request, f"The dispute was not sent. {error.message}")
        else:
            report(request, error)
        return here
    messages.success(request, "Dispute sent: staff decide and you are told the outcome.")
    return here


# Staff -------------------------------------------------------------------------------------


@staff_only
@require_GET
def staff_disputes(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Open disputes and escalated appeals, oldest first, with the forms to decide."""
    context = {
        "disputes": [_row(dispute) for dispute in services.disputes_open()[:STAFF_ROWS]],
        "appeals": [_row(appeal) for appeal in services.appeals_escalated()[:STAFF_ROWS]],
    }
    return render(request, "payments/appeals/staff_disputes.html", context)


def _staff_decision(request: AuthenticatedHttpRequest, decide: Any, **target: Any) -> HttpResponse:
    back = redirect("payments:staff_disputes")
    uphold = _uphold(request)
    if uphold is None:
        messages.error(request, "Nothing was decided. Choose a decision.")
        return back
    try:
        decide(staff=request.user, uphold=uphold, note=request.POST.get("note", ""), **target)
    except DomainError as error:
        if error.field:
            messages.error(request, f"Nothing was decided. {error.message}")
        else:
            report(request, error)
        return back
    messages.success(request, "Decision recorded; the expert and the lab are told.")
    return back


@staff_only
@require_POST
def staff_dispute_decide(request: AuthenticatedHttpRequest, dispute_id: uuid.UUID) -> HttpResponse:
    dispute = services.dispute_for_staff(staff=request.user, dispute_id=dispute_id)
    return _staff_decision(request, services.dispute_decide, dispute=dispute)


@staff_only
@require_POST
def staff_appeal_decide(request: AuthenticatedHttpRequest, appeal_id: uuid.UUID) -> HttpResponse:
    appeal = services.appeal_for_staff(staff=request.user, appeal_id=appeal_id)
    return _staff_decision(request, services.appeal_decide_staff, appeal=appeal)


urlpatterns: list[URLPattern] = [
    path(
        "expert/annotations/<uuid:annotation_id>/appeal/",
        appeal_open,
        name="appeal_open",
    ),
    path("labs/<slug:slug>/appeals/", lab_appeals, name="lab_appeals"),
    path(
        "labs/<slug:slug>/appeals/<uuid:appeal_id>/decide/",
        appeal_decide,
        name="appeal_decide",
    ),
    path(
        "labs/<slug:slug>/projects/<uuid:project_id>/annotations/<uuid:annotation_id>/dispute/",
        dispute_open,
        name="dispute_open",
    ),
    path("staff/disputes/", staff_disputes, name="staff_disputes"),
    path(
        "staff/disputes/<uuid:dispute_id>/decide/",
        staff_dispute_decide,
        name="staff_dispute_decide",
    ),
    path(
        "staff/appeals/<uuid:appeal_id>/decide/",
        staff_appeal_decide,
        name="staff_appeal_decide",
    ),
]
