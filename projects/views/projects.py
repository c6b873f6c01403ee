"""The lab's projects: the list, the create and edit form, the project page and its actions."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from experts.models import Domain
from experts.selectors import domain_choices
from experts.states import CredentialKind
from marketplace.errors import DomainError, InvalidInput, NotFound
from marketplace.http import AuthenticatedHttpRequest, report
from marketplace.views import client_ip
from payments.fair_pay import effective_hourly_rate
from payments.ledger import InsufficientFunds, organization_money
from projects import selectors, services
from projects.access import LabActor
from projects.forms import (
    FundForm,
    GuidelinesForm,
    ProjectForm,
    line_setting,
    settings_initial,
    specialty_options,
)
from projects.markdown import render_markdown
from projects.models import Project
from projects.pricing import format_dollars, suggested_price_cents
from projects.services.projects import FINISHED_STATES
from projects.states import (
    FUNDABLE_PROJECT_STATES,
    PROJECT_TRANSITIONS,
    ProjectStatus,
)
from projects.task_types import REGISTRY
from projects.views.common import (
    PROJECTS_PER_PAGE,
    actor_and_project,
    lab_actor,
    lab_context,
    managers_only,
    project_url,
    refused_to_viewer,
)

# The lifecycle actions a project page offers: service, success message, and whether the
# button asks for a second click first (it cannot be undone).
STATE_ACTIONS: dict[str, tuple[Any, str, bool]] = {
    "activate": (services.project_activate, "“{title}” is live: invited experts can start.", False),
    "pause": (services.project_pause, "“{title}” is paused: no new tasks go out.", False),
    "resume": (services.project_resume, "“{title}” is live again.", False),
    "complete": (services.project_complete, "“{title}” is completed.", True),
    "archive": (services.project_archive, "“{title}” is archived.", True),
}
MAX_PREVIEW_CHARS = 200_000
CREDENTIAL_LABELS = dict(CredentialKind.choices)
LANGUAGE_NAMES = {code: str(name) for code, name in settings.LANGUAGES}


# List ------------------------------------------------------------------------------------


@login_required
@require_GET
def project_list(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    actor = lab_actor(request, slug)
    status = request.GET.get("status", "")
    if status not in ProjectStatus.values:
        status = ""
    projects = selectors.projects_for_actor(actor=actor, status=status or None)
    page = Paginator(projects, PROJECTS_PER_PAGE).get_page(request.GET.get("page"))
    for project in page.object_list:
        project.figures = selectors.project_figures(project)  # type: ignore[attr-defined]
    counts = selectors.project_status_counts(actor=actor)
    tabs = [
        {"value": "", "label": "All", "count": sum(counts.values())},
        *(
            {"value": value, "label": label, "count": counts.get(value, 0)}
            for value, label in ProjectStatus.choices
        ),
    ]
    context = lab_context(actor, page=page, status=status, tabs=tabs)
    return render(request, "projects/project_list.html", context)


# Create and edit -------------------------------------------------------------------------


def _form_context(
    actor: LabActor, form: ProjectForm, project: Project | None = None
) -> dict[str, Any]:
    task_type = form.current_task_type
    return lab_context(
        actor,
        form=form,
        project=project,
        task_type_options=form.task_type_options(),
        specialty_options=form.specialty_options(),
        suggested_price_cents=suggested_price_cents(
            task_type=task_type.key, domain=form.current_domain
        ),
        task_type=task_type,
    )


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    actor = lab_actor(request, slug)
    denied = managers_only(request, actor, "create projects", reverse("projects:list", args=[slug]))
    if denied is not None:
        return denied
    form = ProjectForm(request.POST or None, domains=domain_choices())
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(
                actor=actor,
                guidelines=form.cleaned_data["guidelines"],
                rubric=form.cleaned_data["rubric"],
                ip_address=client_ip(request),
                **form.project_values(),
            )
        except NotFound:
            raise Http404() from None
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(
                request, f"“{project.title}” is saved as a draft. Next: import its tasks."
            )
            return redirect(project_url("detail", project))
    status = 400 if form.errors else 200
    return render(request, "projects/project_form.html", _form_context(actor, form), status=status)


@login_required
@require_http_methods(["GET", "POST"])
def project_edit(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    detail = project_url("detail", project)
    denied = managers_only(request, actor, "edit projects", detail)
    if denied is not None:
        return denied
    if project.status in FINISHED_STATES:
        messages.error(request, "A completed or archived project cannot be changed.")
        return redirect(detail)
    has_tasks = selectors.project_tasks(project=project).exists()
    form = ProjectForm(
        request.POST or None, domains=domain_choices(), project=project, has_tasks=has_tasks
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.project_update(
                actor=actor,
                project=project,
                changes=form.project_values(),
                ip_address=client_ip(request),
            )
        except NotFound:
            raise Http404() from None
        except DomainError as error:
            form.add_service_error(error)
        else:
            messages.success(request, "Your changes are saved.")
            return redirect(detail)
    status = 400 if form.errors else 200
    return render(
        request, "projects/project_form.html", _form_context(actor, form, project), status=status
    )


# Form helpers (htmx fragments) -----------------------------------------------------------


def _chosen(request: AuthenticatedHttpRequest, name: str) -> str:
    """The form's value of ``name``; a disabled input is not sent, so the form adds
    ``locked_<name>``."""
    return request.GET.get(name) or request.GET.get(f"locked_{name}") or ""


def _chosen_field(request: AuthenticatedHttpRequest, domains: list[Domain]) -> Domain | None:
    """The top-level field the form names, if it is one of ``domains``."""
    field_id = _chosen(request, "domain")
    return next((d for d in domains if str(d.pk) == field_id and d.parent_id is None), None)


@login_required
@require_GET
def form_type_settings(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """The settings boxes for the task type just chosen, prefilled with its defaults."""
    lab_actor(request, slug)
    key = _chosen(request, "task_type")
    if key not in REGISTRY:
        return HttpResponse("")
    initial = {"task_type": key, **settings_initial(REGISTRY[key], None)}
    form = ProjectForm(domains=[], initial=initial)
    return render(request, "projects/_type_settings.html", {"form": form})


@login_required
@require_GET
def form_specialties(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """The specialty checkboxes of the field just chosen."""
    lab_actor(request, slug)
    domains = domain_choices()
    field = _chosen_field(request, domains)
    options = (
        []
        if field is None
        else specialty_options(
            [d for d in domains if d.parent_id is not None], field_id=field.pk, chosen=set()
        )
    )
    return render(request, "projects/_specialties.html", {"specialty_options": options})


@login_required
@require_GET
def form_suggested_price(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """The suggested price for the chosen task type in the chosen field."""
    lab_actor(request, slug)
    key = _chosen(request, "task_type")
    if key not in REGISTRY:
        return HttpResponse("")
    domain = _chosen_field(request, domain_choices())
    context = {
        "suggested_price_cents": suggested_price_cents(task_type=key, domain=domain),
        "task_type": REGISTRY[key],
        "domain": domain,
    }
    return render(request, "projects/_suggested_price.html", context)


@login_required
@require_POST
def markdown_preview(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Render the markdown being typed, sanitized exactly as the saved text will be."""
    lab_actor(request, slug)
    field = request.GET.get("field", "")
    if field not in ("guidelines", "rubric"):
        raise Http404()
    text = request.POST.get(field, "")[:MAX_PREVIEW_CHARS]
    return render(request, "projects/_markdown_preview.html", {"html": render_markdown(text)})


# The project page ------------------------------------------------------------------------


def _state_actions(project: Project) -> list[dict[str, Any]]:
    """The lifecycle buttons the project's state allows (funding has its own form)."""
    allowed = PROJECT_TRANSITIONS.get(project.status, frozenset())
    actions = []
    if ProjectStatus.ACTIVE in allowed:
        verb = "resume" if project.status == ProjectStatus.PAUSED else "activate"
        actions.append(verb)
    if ProjectStatus.PAUSED in allowed:
        actions.append("pause")
    if ProjectStatus.COMPLETED in allowed:
        actions.append("complete")
    if ProjectStatus.ARCHIVED in allowed:
        actions.append("archive")
    return [
        {"name": name, "label": name.capitalize(), "confirm": STATE_ACTIONS[name][2]}
        for name in actions
    ]


def _render_detail(
    request: AuthenticatedHttpRequest,
    actor: LabActor,
    project: Project,
    *,
    fund_form: FundForm | None = None,
    guidelines_form: GuidelinesForm | None = None,
    status: int = 200,
) -> HttpResponse:
    progress = selectors.project_progress(project=project)
    guidelines = selectors.project_guidelines(project=project)
    # What stands between the project and going live, while it may still get there.
    shows_checklist = project.status in (
        ProjectStatus.DRAFT,
        ProjectStatus.FUNDED,
        ProjectStatus.PAUSED,
    )
    task_type = REGISTRY[project.task_type]
    entry = line_setting(task_type)
    shown = settings_initial(task_type, project.task_settings)
    if guidelines_form is None:
        guidelines_form = GuidelinesForm(
            initial={
                "guidelines": guidelines.guidelines if guidelines else "",
                "rubric": guidelines.rubric if guidelines else "",
            }
        )
    context = lab_context(
        actor,
        project=project,
        task_type=task_type,
        type_lines=shown["settings_lines"].splitlines() if entry else [],
        type_lines_label=entry[1] if entry else "",
        type_json=json.dumps(
            task_type.settings_with_defaults(project.task_settings), indent=2, ensure_ascii=False
        ),
        credential_labels=[
            CREDENTIAL_LABELS.get(kind, kind) for kind in project.required_credential_kinds
        ],
        language_names=[LANGUAGE_NAMES.get(code, code) for code in project.languages],
        progress=progress,
        progress_max=progress.annotations_needed or 1,
        fundings=list(selectors.project_fundings(project=project)[:20]),
        guidelines=guidelines,
        versions=list(selectors.project_guideline_versions(project=project)),
        imports=list(selectors.project_imports(project=project)[:5]),
        activation_problems=(
            services.activation_problems(project=project) if shows_checklist else []
        ),
        shows_checklist=shows_checklist,
        state_actions=_state_actions(project),
        can_fund=project.status in FUNDABLE_PROJECT_STATES,
        lab_money=(
            organization_money(organization=actor.organization, currency=project.currency)
            if project.status in FUNDABLE_PROJECT_STATES
            else None
        ),
        can_edit=project.status not in FINISHED_STATES,
        fund_form=fund_form or FundForm.for_shortfall(progress.shortfall_cents),
        guidelines_form=guidelines_form,
        specialties=list(project.specialties.all()),
        fair_pay=effective_hourly_rate(project=project),
        tab="overview",
    )
    return render(request, "projects/project_detail.html", context, status=status)


@login_required
@require_GET
def project_detail(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    return _render_detail(request, actor, project)


@login_required
@require_POST
def project_state(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID, action: str
) -> HttpResponse:
    if action not in STATE_ACTIONS:
        raise Http404()
    actor, project = actor_and_project(request, slug, project_id)
    service, success, _ = STATE_ACTIONS[action]
    try:
        service(actor=actor, project=project, ip_address=client_ip(request))
    except DomainError as error:
        report(request, error)
    else:
        messages.success(request, success.format(title=project.title))
    return redirect(project_url("detail", project))


@login_required
@require_POST
def project_fund(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    detail = project_url("detail", project)
    if refused_to_viewer(request, actor, "fund projects"):
        return redirect(detail)
    form = FundForm(request.POST)
    if form.is_valid():
        try:
            funding = services.project_fund(
                actor=actor,
                project=project,
                amount_cents=form.cleaned_data["amount"],
                idempotency_key=form.cleaned_data["idempotency_key"],
                ip_address=client_ip(request),
            )
        except InvalidInput as error:
            form.add_error("amount" if error.field == "amount_cents" else None, error.message)
        except InsufficientFunds as error:
            form.add_error(
                "amount", f"{error.message} Add money to the lab's balance on the Billing page."
            )
        except DomainError as error:
            report(request, error)
            return redirect(detail)
        else:
            messages.success(
                request,
                f"{format_dollars(funding.amount_cents)} moved from the lab's balance into "
                f"“{project.title}”'s escrow.",
            )
            return redirect(detail)
    messages.error(request, "No funds were added. See the funding form below.")
    return _render_detail(request, actor, project, fund_form=form, status=400)


@login_required
@require_POST
def guidelines_publish(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    if refused_to_viewer(request, actor, "change guidelines"):
        return redirect(project_url("detail", project))
    form = GuidelinesForm(request.POST)
    if form.is_valid():
        try:
            version = services.guidelines_publish(
                actor=actor,
                project=project,
                guidelines=form.cleaned_data["guidelines"],
                rubric=form.cleaned_data["rubric"],
                changelog=form.cleaned_data["changelog"],
                is_material=form.cleaned_data["is_material"],
                ip_address=client_ip(request),
            )
        except InvalidInput as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        except DomainError as error:
            report(request, error)
            return redirect(project_url("detail", project))
        else:
            note = (
                " Experts will re-read them before their next task." if version.is_material else ""
            )
            messages.success(request, f"Guidelines version {version.number} is published.{note}")
            return redirect(project_url("detail", project) + "#guidelines")
    messages.error(request, "The guidelines were not published. See the form below.")
    return _render_detail(request, actor, project, guidelines_form=form, status=400)


urlpatterns = [
    path("", project_list, name="list"),
    path("new/", project_create, name="create"),
    path("form/type-settings/", form_type_settings, name="form_type_settings"),
    path("form/specialties/", form_specialties, name="form_specialties"),
    path("form/suggested-price/", form_suggested_price, name="form_suggested_price"),
    path("form/markdown-preview/", markdown_preview, name="markdown_preview"),
    path("<uuid:project_id>/", project_detail, name="detail"),
    path("<uuid:project_id>/edit/", project_edit, name="edit"),
    path("<uuid:project_id>/fund/", project_fund, name="fund"),
    path("<uuid:project_id>/guidelines/", guidelines_publish, name="guidelines_publish"),
    path("<uuid:project_id>/state/<slug:action>/", project_state, name="state"),
]
