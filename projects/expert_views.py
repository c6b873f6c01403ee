"""What experts see of projects outside the workspace: invitations to seats, the projects they
joined, and each project's guidelines, to read and acknowledge."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from experts.views.profile import require_expert
from marketplace.errors import DomainError
from marketplace.http import AuthenticatedHttpRequest, report
from payments.fair_pay import effective_hourly_rate, effective_hourly_rates
from projects import selectors, services
from projects.matching import selectors as matching_selectors
from projects.matching import services as matching_services
from projects.matching.models import ProjectInvitation
from projects.states import DeclineReason, InvitationStatus

HISTORY_PER_PAGE = 25
MEMBERSHIPS_PER_PAGE = 25


class DeclineForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[("", "Choose a reason"), *DeclineReason.choices], label="Why not?"
    )
    note = forms.CharField(
        max_length=500,
        required=False,
        label="Anything the lab should know (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@login_required
@require_GET
def invitation_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Invitations waiting for an answer (soonest to expire first), then the history."""
    require_expert(request)
    invitations = matching_selectors.invitations_for_expert(expert=request.user)
    now = timezone.now()
    pending = list(invitations.filter(status=InvitationStatus.PENDING).order_by("expires_at"))
    history = Paginator(
        invitations.exclude(status=InvitationStatus.PENDING).order_by("-created_at"),
        HISTORY_PER_PAGE,
    ).get_page(request.GET.get("page"))
    hourly = effective_hourly_rates(projects=[invitation.project for invitation in pending])
    context = {
        "pending": [
            (
                invitation,
                matching_selectors.invitation_closed_reason(invitation=invitation, now=now),
                hourly[invitation.project.pk],
            )
            for invitation in pending
        ],
        "page": history,
        "now": now,
    }
    return render(request, "projects/expert_invitations.html", context)


def _render_invitation(
    request: AuthenticatedHttpRequest,
    invitation: ProjectInvitation,
    form: DeclineForm | None = None,
    status: int = 200,
) -> HttpResponse:
    closed = matching_selectors.invitation_closed_reason(invitation=invitation, now=timezone.now())
    context = {
        "invitation": invitation,
        "offer": matching_selectors.invitation_offer(invitation=invitation),
        "fair_pay": effective_hourly_rate(project=invitation.project),
        "closed_reason": closed,
        "can_respond": invitation.status == InvitationStatus.PENDING and not closed,
        "form": form or DeclineForm(),
    }
    return render(request, "projects/expert_invitation.html", context, status=status)


@login_required
@require_GET
def invitation_detail(request: AuthenticatedHttpRequest, invitation_id: Any) -> HttpResponse:
    """The offer: the project, its pay and hours, never its tasks."""
    require_expert(request)
    invitation = matching_selectors.invitation_for_expert(
        expert=request.user, public_id=invitation_id
    )
    return _render_invitation(request, invitation)


@login_required
@require_POST
def invitation_accept(request: AuthenticatedHttpRequest, invitation_id: Any) -> HttpResponse:
    require_expert(request)
    invitation = matching_selectors.invitation_for_expert(
        expert=request.user, public_id=invitation_id
    )
    try:
        member = matching_services.invitation_accept(expert=request.user, invitation=invitation)
    except DomainError as error:
        report(request, error)
        return redirect("expert_invitation", invitation_id=invitation.public_id)
    messages.success(
        request,
        f"Welcome to {invitation.project.title}. Read the guidelines before your first task.",
    )
    return redirect("project_guidelines", project_id=member.project.public_id)


@login_required
@require_POST
def invitation_decline(request: AuthenticatedHttpRequest, invitation_id: Any) -> HttpResponse:
    require_expert(request)
    invitation = matching_selectors.invitation_for_expert(
        expert=request.user, public_id=invitation_id
    )
    form = DeclineForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was sent. Choose a reason to decline.")
        return _render_invitation(request, invitation, form=form, status=400)
    try:
        matching_services.invitation_decline(
            expert=request.user,
            invitation=invitation,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
    except DomainError as error:
        report(request, error)
        return redirect("expert_invitation", invitation_id=invitation.public_id)
    messages.success(request, f"You declined the invitation to {invitation.project.title}.")
    return redirect("expert_invitations")


@login_required
@require_GET
def project_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The projects the expert accepted a seat on."""
    require_expert(request)
    memberships = matching_selectors.memberships_of_expert(expert=request.user)
    page = Paginator(memberships, MEMBERSHIPS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "projects/expert_projects.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def guidelines(request: AuthenticatedHttpRequest, project_id: str) -> HttpResponse:
    project = selectors.project_for_expert(expert=request.user, project_id=project_id)
    if request.method == "POST":
        services.guidelines_acknowledge(expert=request.user, project=project)
        messages.success(request, "Thanks: you have read the current guidelines.")
        return redirect("project_guidelines", project_id=project.public_id)
    context = {
        "project": project,
        "current": selectors.project_guidelines(project=project),
        "changes": selectors.guideline_changes_since(expert=request.user, project=project),
        "must_acknowledge": selectors.guidelines_acknowledgement_required(
            expert=request.user, project=project
        ),
    }
    return render(request, "projects/expert_guidelines.html", context)
