"""The expert's home: the road to being vetted, what is vetted already, and the latest news."""

from __future__ import annotations

from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET

from experts import selectors
from experts.states import CredentialStatus
from experts.views.profile import require_expert
from marketplace import selectors as core_selectors
from marketplace.http import AuthenticatedHttpRequest
from projects.matching import selectors as matching_selectors
from projects.states import InvitationStatus, ProjectStatus

LATEST_NOTIFICATIONS = 5


@login_required
@require_GET
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_expert(request)
    user = request.user
    onboarding = selectors.onboarding_for_expert(expert=user, mfa_enabled=is_mfa_enabled(user))
    counts = selectors.credential_status_counts(expert=user)
    credential_summary = [
        (status.value, status.label, counts[status])
        for status in CredentialStatus
        if counts.get(status)
    ]
    context = {
        "onboarding": onboarding,
        "next_step": next((step for step in onboarding.steps if not step.done), None),
        "vetted_domains": list(selectors.vetted_domains_of_expert(expert=user)),
        "credential_summary": credential_summary,
        "credential_total": sum(counts.values()),
        "needs_attention": counts.get(CredentialStatus.NEEDS_INFO, 0)
        + counts.get(CredentialStatus.REJECTED, 0),
        "qualifications": list(selectors.qualifications_of_expert(expert=user)),
        "open_invitations": matching_selectors.invitations_for_expert(expert=user)
        .filter(
            status=InvitationStatus.PENDING,
            expires_at__gt=timezone.now(),
            project__status=ProjectStatus.ACTIVE,
        )
        .count(),
        "notifications": list(
            core_selectors.notifications_for_user(user=user)[:LATEST_NOTIFICATIONS]
        ),
    }
    return render(request, "experts/dashboard.html", context)


urlpatterns = [path("", dashboard, name="dashboard")]
