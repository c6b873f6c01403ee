"""Experts on the lab's projects: seats and invitations with why each expert was invited,
asking for more seats, inviting an expert directly, withdrawing an invitation, and the
experts the lab has excluded from all its projects."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from marketplace.errors import DomainError, InvalidInput
from marketplace.http import AuthenticatedHttpRequest, report
from marketplace.views import client_ip
from projects.access import LabActor
from projects.forms import DirectInviteForm, ExclusionForm, SeatsAddForm
from projects.matching import selectors as matching_selectors
from projects.matching import services as matching_services
from projects.models import Project
from projects.views.common import (
    actor_and_project,
    lab_actor,
    lab_context,
    project_url,
    refused_to_viewer,
)


def _experts_url(project: Project) -> str:
    return project_url("experts", project)


def _exclusions_url(actor: LabActor) -> str:
    return reverse("projects:exclusions", args=[actor.organization.slug])


# The experts page ------------------------------------------------------------------------


def _render_experts(
    request: AuthenticatedHttpRequest,
    actor: LabActor,
    project: Project,
    *,
    seats_form: SeatsAddForm | None = None,
    invite_form: DirectInviteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = lab_context(
        actor,
        project=project,
        summary=matching_selectors.seat_summary(project=project),
        rows=matching_selectors.seat_rows(project=project),
        # Only the invite form reads them: viewers do not get the list.
        known_experts=(
            matching_selectors.experts_known_to_lab(organization=actor.organization)
            if actor.can_manage
            else []
        ),
        seats_form=seats_form or SeatsAddForm(),
        invite_form=invite_form or DirectInviteForm(),
        tab="experts",
    )
    return render(request, "projects/experts.html", context, status=status)


@login_required
@require_GET
def project_experts(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    return _render_experts(request, actor, project)


@login_required
@require_GET
def seat_summary(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The seat counts, as the project page loads them (htmx)."""
    actor, project = actor_and_project(request, slug, project_id)
    context = lab_context(
        actor, project=project, summary=matching_selectors.seat_summary(project=project)
    )
    return render(request, "projects/_seat_summary.html", context)


@login_required
@require_POST
def seats_add(request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    back = _experts_url(project)
    if refused_to_viewer(request, actor, "ask for more seats"):
        return redirect(back)
    form = SeatsAddForm(request.POST)
    if form.is_valid():
        added = form.cleaned_data["seats"]
        try:
            updated = matching_services.project_seats_add(
                actor=actor, project=project, seats=added, ip_address=client_ip(request)
            )
        except InvalidInput as error:
            form.add_error("seats", error.message)
        except DomainError as error:
            report(request, error)
            return redirect(back)
        else:
            messages.success(
                request,
                f"{added} more seat{'s' if added != 1 else ''}: “{updated.title}” now has "
                f"{updated.seats}. Matching invites experts for them shortly.",
            )
            return redirect(back)
    messages.error(request, "No seats were added. See the form below.")
    return _render_experts(request, actor, project, seats_form=form, status=400)


@login_required
@require_POST
def invite_direct(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    back = _experts_url(project)
    if refused_to_viewer(request, actor, "invite experts"):
        return redirect(back)
    form = DirectInviteForm(request.POST)
    if form.is_valid():
        expert_id = form.cleaned_data["expert_id"]
        try:
            matching_services.invitation_direct_create(
                actor=actor,
                project=project,
                expert_public_id=str(expert_id),
                ip_address=client_ip(request),
            )
        except InvalidInput as error:
            form.add_error("expert_id", error.message)
        except DomainError as error:
            report(request, error)
            return redirect(back)
        else:
            messages.success(
                request,
                f"{matching_selectors.pseudonym(expert_id)} is invited to “{project.title}”. "
                "They have until the invitation expires to answer.",
            )
            return redirect(back)
    messages.error(request, "No invitation was sent. See the form below.")
    return _render_experts(request, actor, project, invite_form=form, status=400)


@login_required
@require_POST
def invitation_withdraw(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID, invitation_id: uuid.UUID
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    invitation = matching_selectors.invitation_for_lab(
        actor=actor, public_id=invitation_id, project=project
    )
    try:
        matching_services.invitation_withdraw(
            actor=actor, invitation=invitation, ip_address=client_ip(request)
        )
    except DomainError as error:
        report(request, error)
    else:
        messages.success(request, "The invitation is withdrawn; its seat goes to the next run.")
    return redirect(_experts_url(project))


def _exclusion_create(
    request: AuthenticatedHttpRequest, actor: LabActor, form: ExclusionForm
) -> None:
    """Exclude the expert a valid form names from all the lab's projects; a refusal the
    form can show is added to it, any other is reported as a message."""
    expert_id = form.cleaned_data["expert_id"]
    try:
        matching_services.lab_exclusion_create(
            actor=actor,
            expert_public_id=str(expert_id),
            reason=form.cleaned_data["reason"],
            ip_address=client_ip(request),
        )
    except InvalidInput as error:
        form.add_error("reason" if error.field == "reason" else "expert_id", error.message)
    except DomainError as error:
        report(request, error)
    else:
        messages.success(
            request,
            f"{matching_selectors.pseudonym(expert_id)} is excluded from your organisation's "
            "projects: their pending invitations are withdrawn and they leave your live projects.",
        )


@login_required
@require_POST
def project_exclusion_create(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """Exclude an expert listed on the project's page from all the lab's projects."""
    actor, project = actor_and_project(request, slug, project_id)
    if refused_to_viewer(request, actor, "exclude experts"):
        return redirect(_experts_url(project))
    form = ExclusionForm(request.POST)
    if form.is_valid():
        _exclusion_create(request, actor, form)
    for errors in form.errors.values():
        for message in errors:
            messages.error(request, str(message))
    return redirect(_experts_url(project))


# Excluded experts ------------------------------------------------------------------------


def _render_exclusions(
    request: AuthenticatedHttpRequest,
    actor: LabActor,
    form: ExclusionForm,
    *,
    status: int = 200,
) -> HttpResponse:
    exclusions = list(matching_selectors.lab_exclusions(organization=actor.organization))
    context = lab_context(actor, exclusions=exclusions, form=form, tab="exclusions")
    return render(request, "projects/exclusions.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def exclusion_list(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    actor = lab_actor(request, slug)
    if request.method != "POST":
        return _render_exclusions(request, actor, ExclusionForm())
    if refused_to_viewer(request, actor, "exclude experts"):
        return redirect(_exclusions_url(actor))
    form = ExclusionForm(request.POST)
    if form.is_valid():
        _exclusion_create(request, actor, form)
        if not form.errors:
            return redirect(_exclusions_url(actor))
    return _render_exclusions(request, actor, form, status=400)


@login_required
@require_POST
def exclusion_remove(
    request: AuthenticatedHttpRequest, slug: str, exclusion_id: int
) -> HttpResponse:
    actor = lab_actor(request, slug)
    exclusion = matching_selectors.exclusion_for_lab(actor=actor, exclusion_id=exclusion_id)
    profile = getattr(exclusion.expert, "expert_profile", None)
    pseudonym = matching_selectors.pseudonym(profile.public_id if profile else None)
    try:
        matching_services.lab_exclusion_remove(
            actor=actor, exclusion=exclusion, ip_address=client_ip(request)
        )
    except DomainError as error:
        report(request, error)
    else:
        messages.success(request, f"{pseudonym} may be invited to your projects again.")
    return redirect(_exclusions_url(actor))


urlpatterns = [
    path("exclusions/", exclusion_list, name="exclusions"),
    path("exclusions/<int:exclusion_id>/remove/", exclusion_remove, name="exclusion_remove"),
    path("<uuid:project_id>/experts/", project_experts, name="experts"),
    path("<uuid:project_id>/experts/summary/", seat_summary, name="seat_summary"),
    path("<uuid:project_id>/experts/seats/", seats_add, name="seats_add"),
    path("<uuid:project_id>/experts/invite/", invite_direct, name="invite_direct"),
    path("<uuid:project_id>/experts/exclude/", project_exclusion_create, name="expert_exclude"),
    path(
        "<uuid:project_id>/experts/<uuid:invitation_id>/withdraw/",
        invitation_withdraw,
        name="invitation_withdraw",
    ),
]
