"""The quality dashboards: the lab's Quality tab of a project, an expert's own quality page
and the staff overview (the last two are mounted at the site root by quality_urls).

Charts are SVG drawn here on the server (projects.quality.charts); the figures come from the
last quality run and a few counts (projects.quality.selectors), so a page costs the same
number of queries for 2 experts or 200.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST

from experts.console.views import staff_only
from experts.views.profile import require_expert
from marketplace.errors import DomainError
from marketplace.http import AuthenticatedHttpRequest, report
from projects.pricing import format_dollars
from projects.quality import charts
from projects.quality import selectors as quality_selectors
from projects.quality import services as quality_services
from projects.quality.selectors import ProjectDashboard
from projects.states import BehaviourFlag
from projects.task_types import task_type_for
from projects.views.common import actor_and_project, lab_context, project_url, refused_to_viewer

LEVELS = {"nominal": "nominal", "ordinal": "ordinal", "interval": "interval"}
# Krippendorff's rule of thumb: alpha of 0.8 and above is reliable.
RELIABLE_ALPHA = 0.8


def _day(value: Any) -> str:
    return value.strftime("%b %-d") if hasattr(value, "strftime") else str(value)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _project_charts(dashboard: ProjectDashboard) -> dict[str, SafeString]:
    series = dashboard.series
    labels = [_day(day) for day in series.days]
    progress = charts.line_chart(
        chart_id="chart-progress",
        title="Progress over time",
        x_labels=labels,
        series=[
            charts.Series("Answers", series.cumulative(series.annotations)),
            charts.Series("Items completed", series.cumulative(series.completed)),
        ],
        empty="No answers yet: progress shows from the first answer.",
    )
    window, per_day = series.last(quality_selectors.THROUGHPUT_DAYS)
    throughput = charts.bar_chart(
        chart_id="chart-throughput",
        title=f"Answers per day, last {quality_selectors.THROUGHPUT_DAYS} days",
        bars=[(_day(day), n) for day, n in zip(window, per_day, strict=True)],
        value_label="Answers",
        empty=f"No answers in the last {quality_selectors.THROUGHPUT_DAYS} days.",
    )
    figures = dashboard.figures
    agreement = charts.horizontal_bars(
        chart_id="chart-agreement",
        title="Agreement per question (Krippendorff's alpha)",
        bars=[
            charts.Bar(
                label=str(question.get("label") or question.get("key") or "?"),
                value=question.get("alpha"),
                note=(
                    f"{LEVELS.get(str(question.get('kind')), question.get('kind'))} level; "
                    f"pairwise agreement {_percent(question.get('pairwise'))}; "
                    f"{question.get('items', 0)} items, {question.get('answers', 0)} answers"
                ),
            )
            for question in figures.get("questions") or []
        ],
        reference=RELIABLE_ALPHA,
        reference_label="0.8",
        empty="Agreement needs items with at least two answers.",
    )
    gold = charts.histogram(
        chart_id="chart-gold",
        title="Experts' gold accuracy",
        bins=figures.get("gold_histogram") or [],
        unit="experts",
        empty="No gold answers scored yet.",
    )
    calibration = charts.reliability_diagram(
        chart_id="chart-calibration",
        title="Calibration on gold tasks",
        bins=(figures.get("calibration") or {}).get("bins") or [],
    )
    cost = dashboard.cost
    budget = charts.budget_gauge(
        chart_id="chart-budget",
        title="Cost against budget",
        spent=cost.spent_cents,
        committed=cost.committed_cents,
        budget=cost.budget_cents or cost.funded_cents,
        money=format_dollars,
        limit_label="Budget" if cost.budget_cents else "Funded",
    )
    return {
        "progress": progress,
        "throughput": throughput,
        "agreement": agreement,
        "gold": gold,
        "calibration": calibration,
        "budget": budget,
    }


def _questions(dashboard: ProjectDashboard) -> list[dict[str, Any]]:
    return [
        {
            "label": question.get("label") or question.get("key"),
            "kind": question.get("kind"),
            "alpha": question.get("alpha"),
            "pairwise": question.get("pairwise"),
            "items": question.get("items", 0),
            "answers": question.get("answers", 0),
            "reliable": (question.get("alpha") or 0) >= RELIABLE_ALPHA,
        }
        for question in dashboard.figures.get("questions") or []
    ]


@login_required
@require_GET
def project_quality(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The project's Quality tab: KPIs, charts, flagged items and the per-expert table."""
    actor, project = actor_and_project(request, slug, project_id)
    dashboard = quality_selectors.project_dashboard(project=project)
    figures = dashboard.figures
    primary = dashboard.primary_question
    context = lab_context(
        actor,
        project=project,
        tab="quality",
        dashboard=dashboard,
        figures=figures,
        primary=primary,
        charts=_project_charts(dashboard),
        questions=_questions(dashboard),
        calibration=figures.get("calibration") or {},
        consensus=figures.get("consensus") or {},
        adaptive=figures.get("adaptive") or {},
        flag_totals=[
            (flag.label, int((figures.get("flags") or {}).get(flag.value) or 0))
            for flag in BehaviourFlag
        ],
        task_type_label=task_type_for(project.task_type).label,
    )
    return render(request, "projects/quality/project.html", context)


@login_required
@require_POST
def project_quality_recompute(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """Run the project's quality computation now (owners and managers)."""
    actor, project = actor_and_project(request, slug, project_id)
    back = project_url("quality", project)
    if refused_to_viewer(request, actor, "recompute the quality figures"):
        return redirect(back)
    quality = quality_services.project_quality_recompute(project=project)
    if quality is None:
        messages.info(
            request,
            "The figures are being recomputed in the background; reload this page in a "
            "minute or two.",
        )
    else:
        messages.success(
            request,
            f"Quality figures recomputed from {quality.annotations} "
            f"answer{'s' if quality.annotations != 1 else ''}.",
        )
    return redirect(back)


# The expert's own page ----------------------------------------------------------------------


@login_required
@require_GET
def expert_quality(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The expert's quality per domain, calibration, pauses and the labs' feedback."""
    require_expert(request)
    quality = quality_selectors.expert_quality(expert=request.user)
    context = {
        "quality": quality,
        "reliability": charts.reliability_diagram(
            chart_id="chart-my-calibration",
            title="Your calibration on gold tasks",
            bins=quality.calibration.bins,
            empty="No scored gold answers yet: labs mix known items into the work.",
        ),
    }
    return render(request, "projects/quality/expert.html", context)


# The staff overview -------------------------------------------------------------------------


@staff_only
@require_GET
def staff_quality(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Platform-wide counts, the vetting queue's age, active projects and quality pauses."""
    context = {
        "tab": "quality",
        "counts": quality_selectors.platform_counts(),
        "queue": quality_selectors.vetting_queue_age(),
        "projects": quality_selectors.active_project_rows(),
        "paused": list(quality_selectors.quality_paused_members()),
    }
    return render(request, "projects/quality/staff.html", context)


@staff_only
@require_POST
def staff_quality_lift(request: AuthenticatedHttpRequest, member_id: int) -> HttpResponse:
    """Lift a quality pause, with the staff member's note (audited by the service)."""
    member = quality_selectors.paused_member_for_staff(staff=request.user, member_id=member_id)
    try:
        quality_services.member_pause_lift(
            actor=request.user, member=member, note=request.POST.get("note", "")
        )
    except DomainError as error:
        report(request, error)
    else:
        messages.success(
            request,
            f"{member.expert.display_name or member.expert.email} can work on "
            f"{member.project.title} again.",
        )
    return redirect("staff_quality")


urlpatterns = [
    path("<uuid:project_id>/quality/", project_quality, name="quality"),
    path(
        "<uuid:project_id>/quality/recompute/",
        project_quality_recompute,
        name="quality_recompute",
    ),
]
