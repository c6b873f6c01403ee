"""What every lab project page shares: who is acting, the project, and how refusals show."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from marketplace.errors import DomainError
from marketplace.http import AuthenticatedHttpRequest, report
from marketplace.states import MembershipRole
from projects.access import LabActor, lab_actor_for_member
from projects.models import Project
from projects.selectors import project_for_actor

# Pages that list rows show this many at a time.
PROJECTS_PER_PAGE = 25
TASKS_PER_PAGE = 50
IMPORTS_PER_PAGE = 20
DELIVERIES_PER_PAGE = 25


def lab_actor(request: AuthenticatedHttpRequest, slug: str) -> LabActor:
    """The member acting in the organisation; a 404 (via NotFound) for anyone else."""
    return lab_actor_for_member(user=request.user, organization_slug=slug)


def actor_and_project(
    request: AuthenticatedHttpRequest, slug: str, project_id: Any
) -> tuple[LabActor, Project]:
    actor = lab_actor(request, slug)
    return actor, project_for_actor(actor=actor, project_id=project_id)


def lab_context(actor: LabActor, **extra: Any) -> dict[str, Any]:
    """What the lab navigation and every project page read."""
    return {
        "organization": actor.organization,
        "actor": actor,
        "can_manage": actor.can_manage,
        "role_label": MembershipRole(actor.role).label,
        **extra,
    }


def forbidden(request: HttpRequest, message: str, back: str) -> HttpResponse:
    """A member whose role does not allow the page (the organisation itself is theirs)."""
    return render(
        request, "marketplace/forbidden.html", {"message": message, "back": back}, status=403
    )


def refused_to_viewer(request: HttpRequest, actor: LabActor, what: str) -> bool:
    """For a form only managers may send: True (with the refusal as a message) for a
    viewer, before the form is read; False for managers."""
    try:
        actor.require_manager(what)
    except DomainError as error:
        report(request, error)
        return True
    return False


def managers_only(
    request: HttpRequest, actor: LabActor, what: str, back: str
) -> HttpResponse | None:
    """A 403 page for viewers on a page that only changes things; None for managers."""
    if actor.can_manage:
        return None
    return forbidden(request, f"Only owners and managers can {what}.", back)


def project_url(name: str, project: Project, *args: Any) -> str:
    return reverse(f"projects:{name}", args=[project.organization.slug, project.public_id, *args])
