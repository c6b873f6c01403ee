"""The staff matching console: every run, its invitations, and any project's ranked
candidates with the score breakdown and why each excluded expert was excluded.

Every path lives under /staff/, where StaffMFARequiredMiddleware answers 404 to non-staff and
demands a TOTP-proven session; each view checks ``is_staff`` again through ``staff_only``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from experts.console.views import staff_only
from marketplace.http import AuthenticatedHttpRequest
from projects.matching import selectors as matching_selectors
from projects.matching import services as matching_services
from projects.states import RunTrigger

RUN_INVITATIONS_PER_PAGE = 50
CANDIDATES_PER_PAGE = 50


@staff_only
@require_GET
def run_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The latest runs, newest first."""
    context = {
        "tab": "runs",
        "heading": "Matching runs",
        "runs": matching_selectors.matching_runs(),
    }
    return render(request, "projects/staff_runs.html", context)


@staff_only
@require_POST
def run_request(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Queue a run now; runs never overlap, so a run already queued or running absorbs it."""
    matching_services.matching_run_request(trigger=RunTrigger.STAFF, started_by=request.user)
    messages.success(request, "A matching run is queued. Reload this page in a moment.")
    return redirect("matching:runs")


@staff_only
@require_GET
def run_detail(request: AuthenticatedHttpRequest, run_id: int) -> HttpResponse:
    """One run and the invitations it made, by project, best fit first."""
    run = matching_selectors.matching_run_for_staff(staff=request.user, run_id=run_id)
    # The page names each project's organisation too.
    invitations = matching_selectors.run_invitations(run=run).select_related(
        "project__organization"
    )
    page = Paginator(invitations, RUN_INVITATIONS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"tab": "runs", "heading": f"Matching run {run.pk}", "run": run, "page": page}
    return render(request, "projects/staff_run.html", context)


@staff_only
@require_GET
def candidates(request: AuthenticatedHttpRequest, project_id: Any) -> HttpResponse:
    """Who the next run could invite to the project, ranked, and who it could not, and why."""
    project = matching_selectors.project_for_staff(staff=request.user, project_id=project_id)
    report = matching_selectors.candidate_report(project=project)
    eligible = Paginator(report.eligible, CANDIDATES_PER_PAGE).get_page(request.GET.get("page"))
    excluded = Paginator(report.excluded, CANDIDATES_PER_PAGE).get_page(
        request.GET.get("excluded_page")
    )
    context = {
        "tab": "runs",
        "heading": f"Candidates for {project.title}",
        "project": project,
        "report": report,
        "eligible": eligible,
        "excluded": excluded,
    }
    return render(request, "projects/staff_candidates.html", context)
