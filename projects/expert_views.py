"""What experts see of a project outside the workspace: its guidelines, to read and acknowledge."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from marketplace.http import AuthenticatedHttpRequest
from projects import selectors, services


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
