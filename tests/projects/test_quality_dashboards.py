"""The quality dashboards: the lab's Quality tab, the expert's own page and the staff
overview; their SVG charts, empty states, scope and query bounds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from marketplace.models import AuditEvent
from projects.exports.provenance import lab_pseudonym
from projects.models import (
    Annotation,
    ExpertDomainRecord,
    Project,
    ProjectMember,
    TaskConsensus,
)
from projects.quality import charts
from projects.quality import selectors as quality_selectors
from projects.quality.models import ProjectQuality
from projects.quality.scoring import COMPONENTS
from projects.quality.services import project_quality_refresh
from projects.review import services as review
from projects.states import MemberStatus
from tests import factories
from tests.factories import log_in_staff, staff_user
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import answer_task, lab_viewer, workspace

pytestmark = pytest.mark.django_db

STAFF_QUALITY = reverse("staff_quality")
EXPERT_QUALITY = reverse("expert_quality")
# session, user, membership, project, quality row, answer counts, task counts, low-confidence
# items, flagged answers, the per-day series, unread notifications
PROJECT_PAGE_QUERIES = 11
# session, user, domain records, gold answers, pauses, feedback, unread notifications
EXPERT_PAGE_QUERIES = 7
# session, user, authenticator, active projects, expert counts, answer counts, labs, active
# project count, accepted answers, vetting queue, paused members, unread notifications
STAFF_PAGE_QUERIES = 12


def quality_url(project: Project) -> str:
    return reverse("projects:quality", args=[project.organization.slug, project.public_id])


def recompute_url(project: Project) -> str:
    return reverse(
        "projects:quality_recompute", args=[project.organization.slug, project.public_id]
    )


def busy_project(experts: int, **fields: Any):
    """A pairwise project where every expert answers both items and both gold tasks."""
    fields.setdefault("overlap", min(experts, 9))
    actor, project, members = workspace(experts=experts, task_count=2, gold=2, **fields)
    for number, expert in enumerate(members):
        for task in project.tasks.order_by("id"):
            preference = "a_better" if number % 3 == 2 else "a_much_better"
            answer_task(expert, task, project, preference=preference, confidence=80)
    project_quality_refresh(project=project)
    return actor, project, members


def page_text(response) -> str:
    return response.content.decode()


# The lab's Quality tab ------------------------------------------------------------------------


def test_the_quality_tab_shows_kpis_charts_and_pseudonymous_experts(client):
    actor, project, experts = busy_project(3)
    client.force_login(actor.user)

    response = client.get(quality_url(project))

    assert response.status_code == 200
    html = page_text(response)
    dashboard = response.context["dashboard"]
    assert dashboard.counts.annotations == 12
    assert dashboard.counts.items == 2
    assert dashboard.counts.items_completed == 2
    assert re.search(r'data-testid="kpi-annotations">.*?<span class="kpi-value">12<', html, re.S)
    assert re.search(r'data-testid="kpi-items">.*?kpi-value">2<span class="kpi-of">/2<', html, re.S)
    # Gold: two of the three experts answer the gold example exactly (1.0), the third one
    # step off (0.75): (4 × 1 + 2 × 0.75) / 6.
    assert dashboard.mean_gold_accuracy == pytest.approx(5.5 / 6)
    assert re.search(r'data-testid="kpi-gold">.*?kpi-value">92%<', html, re.S)
    for kind in ("line", "bars", "hbars", "histogram", "reliability", "gauge"):
        assert f'data-chart="{kind}"' in html, kind
    assert html.count('role="img"') == 6
    assert "Last computed" in html
    assert 'action="' + recompute_url(project) + '"' in html
    rows = re.findall(
        r'<tr data-testid="expert-row">\s*<th scope="row"><code>(ex_\w+)</code>', html
    )
    assert sorted(rows) == sorted(lab_pseudonym(project.organization_id, e.pk) for e in experts)
    for expert in experts:
        assert expert.email not in html
        assert expert.full_name not in html
    assert 'aria-current="page">Quality</a>' in html


@pytest.mark.parametrize("count", [2, 10])
def test_the_quality_tab_costs_the_same_queries_for_2_and_10_experts(
    client, django_assert_num_queries, count
):
    actor, project, _experts = busy_project(count)
    client.force_login(actor.user)
    url = quality_url(project)

    with django_assert_num_queries(PROJECT_PAGE_QUERIES):
        response = client.get(url)

    assert response.status_code == 200
    assert len(response.context["dashboard"].experts) == count
    assert response.context["dashboard"].counts.annotations == count * 4


def test_before_any_run_the_tab_shows_empty_states(client, django_assert_num_queries):
    actor, project, _ = workspace(task_count=2)
    client.force_login(actor.user)
    url = quality_url(project)

    with django_assert_num_queries(PROJECT_PAGE_QUERIES):
        response = client.get(url)

    html = page_text(response)
    assert response.status_code == 200
    assert 'data-testid="quality-empty"' in html
    assert "Quality figures have not been computed yet." in html
    assert "No answers yet: progress shows from the first answer." in html
    assert "Agreement needs items with at least two answers." in html
    assert "No gold answers scored yet." in html
    assert "No expert figures yet." in html
    # The budget gauge needs no run: nothing spent of a funded budget.
    assert 'data-chart="gauge"' in html
    assert html.count('role="img"') == 1


def test_a_project_of_another_lab_is_404_and_cannot_be_recomputed(client):
    _actor, project, _ = workspace(task_count=1)
    stranger = project_factories.manager_actor()
    client.force_login(stranger.user)

    assert client.get(quality_url(project)).status_code == 404
    assert client.post(recompute_url(project)).status_code == 404
    assert not ProjectQuality.objects.filter(project=project).exists()


def test_a_manager_recomputes_the_figures_and_a_viewer_cannot(client):
    actor, project, (expert,) = workspace(task_count=2)
    answer_task(expert, project.tasks.first(), project)
    viewer = lab_viewer(actor)

    client.force_login(viewer)
    response = client.post(recompute_url(project))
    assert response.status_code == 302
    assert not ProjectQuality.objects.filter(project=project).exists()
    page = page_text(client.get(quality_url(project)))
    assert "Recompute now" not in page
    assert "Only owners and managers can recompute the quality figures." in page

    client.force_login(actor.user)
    response = client.post(recompute_url(project), follow=True)
    quality = ProjectQuality.objects.get(project=project)
    assert quality.computed_at is not None
    assert quality.annotations == 1
    assert "Quality figures recomputed from 1 answer." in page_text(response)


def test_spent_and_committed_follow_the_review_decisions(client):
    actor, project, (expert,) = workspace(task_count=3, overlap=1, price_per_annotation_cents=250)
    answers = [answer_task(expert, task, project) for task in project.tasks.order_by("id")]
    review.annotation_review(actor=actor, annotation=answers[0], decision="accept")
    review.annotation_review(
        actor=actor, annotation=answers[1], decision="reject", feedback="Wrong side."
    )
    client.force_login(actor.user)

    response = client.get(quality_url(project))

    cost = response.context["dashboard"].cost
    assert (cost.spent_cents, cost.committed_cents) == (250, 250)
    assert cost.budget_cents == project.budget_cents
    html = page_text(response)
    assert re.search(r'data-testid="kpi-cost">.*?kpi-value">\$2\.50<', html, re.S)
    assert "Spent $2.50, committed $2.50" in html


def test_flagged_items_list_low_consensus_edge_cases_and_behaviour_signals(client):
    actor, project, (first, second) = workspace(experts=2, task_count=2, overlap=2)
    tasks = list(project.tasks.order_by("id"))
    flagged = answer_task(first, tasks[0], project, preference="a_better")
    answer_task(second, tasks[0], project, preference="b_better")
    edge = answer_task(
        second, tasks[1], project, is_edge_case=True, edge_case_note="Ambiguous report."
    )
    project_quality_refresh(project=project)
    # The run's own outputs, set to known values: a split item and a fast answer.
    TaskConsensus.objects.filter(project=project).update(confidence=0.95)
    TaskConsensus.objects.filter(task=tasks[0]).update(confidence=0.55)
    Annotation.objects.filter(pk=flagged.pk).update(behaviour_flags=["fast"])
    client.force_login(actor.user)

    response = client.get(quality_url(project))

    html = page_text(response)
    low = response.context["dashboard"].low_confidence
    assert [row.task_id for row in low] == [tasks[0].pk]
    assert "55%" in html
    task_link = reverse(
        "projects:task", args=[project.organization.slug, project.public_id, tasks[0].pk]
    )
    assert f'href="{task_link}"' in html
    assert re.search(r'data-testid="open-edge-cases">1<', html)
    assert (
        reverse("projects:edge_cases", args=[project.organization.slug, project.public_id]) in html
    )
    review_link = reverse(
        "projects:annotation_review",
        args=[project.organization.slug, project.public_id, flagged.public_id],
    )
    assert review_link in html
    assert "Much faster than the project&#x27;s median" in html
    assert lab_pseudonym(project.organization_id, first.pk) in html
    assert str(edge.public_id) not in html.split('data-testid="flagged-answers"')[1]


def test_question_labels_are_escaped_in_the_charts(client):
    actor, project, _ = workspace(task_count=1)
    evil = '<script>alert("x")</script>'
    ProjectQuality.objects.create(
        project=project,
        computed_at=timezone.now(),
        annotations=4,
        figures={
            "questions": [
                {"key": "q", "label": evil, "kind": "nominal", "alpha": 0.5, "pairwise": 0.7}
            ],
            "primary": "q",
            "experts": [],
        },
    )
    client.force_login(actor.user)

    html = page_text(client.get(quality_url(project)))

    assert evil not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert 'data-chart="hbars"' in html


def test_the_per_day_series_counts_answers_and_completed_items_by_day():
    _actor, project, (first, second) = workspace(experts=2, task_count=2, overlap=2)
    tasks = list(project.tasks.order_by("id"))
    early = answer_task(first, tasks[0], project)
    answer_task(second, tasks[0], project)
    answer_task(first, tasks[1], project)
    today = timezone.now()
    Annotation.objects.filter(pk=early.pk).update(submitted_at=today - timedelta(days=2))

    series = quality_selectors.project_daily_series(project=project)

    local_today = timezone.localdate()
    assert series.days == [local_today - timedelta(days=n) for n in (3, 2, 1, 0)]
    assert series.annotations == [0, 1, 0, 2]
    # The first item is complete with its second answer (today); the second is not.
    assert series.completed == [0, 0, 0, 1]
    assert series.cumulative(series.annotations) == [0, 1, 1, 3]
    window, per_day = series.last(30)
    assert len(window) == 30
    assert window[-1] == local_today
    assert per_day[-3:] == [1, 0, 2]
    assert sum(per_day) == 3


# Charts ---------------------------------------------------------------------------------------


def test_chart_builders_escape_labels_and_describe_their_data():
    svg = charts.horizontal_bars(
        chart_id="c1",
        title="Agreement <b>",
        bars=[charts.Bar("<img src=x onerror=alert(1)>", 0.42, "nominal")],
    )
    assert "<img" not in svg
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg
    assert 'role="img"' in svg
    assert '<title id="c1-title">Agreement &lt;b&gt;</title>' in svg
    assert 'class="visually-hidden" id="c1-table"' in svg
    assert "<td>0.42</td>" in svg

    diagram = charts.reliability_diagram(
        chart_id="c2",
        title="Calibration",
        bins=[
            {"low": 0.8, "high": 0.9, "n": 4, "confidence": 0.85, "accuracy": 0.5},
            {"low": 0.9, "high": 1.0, "n": 1, "confidence": 0.95, "accuracy": 1.0},
        ],
    )
    assert 'class="chart-diagonal"' in diagram
    widths = [
        float(w)
        for w in re.findall(r'class="chart-bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', diagram)
    ]
    # Bar widths follow the counts: 4 answers draw four times as wide as 1.
    assert widths[0] == pytest.approx(4 * widths[1], rel=0.02)


def test_chart_builders_return_the_empty_state_without_data():
    assert 'class="chart-empty' in charts.line_chart(
        chart_id="a", title="t", x_labels=[], series=[], empty="Nothing."
    )
    assert 'class="chart-empty' in charts.bar_chart(chart_id="b", title="t", bars=[("d", 0)])
    assert 'class="chart-empty' in charts.histogram(
        chart_id="h", title="t", bins=[{"low": 0, "high": 0.1, "n": 0}]
    )
    assert 'class="chart-empty' in charts.reliability_diagram(chart_id="r", title="t", bins=[])


def test_the_budget_gauge_marks_the_budget_and_money_in_dollars():
    gauge = charts.budget_gauge(
        chart_id="g",
        title="Cost",
        spent=12_345,
        committed=655,
        budget=20_000,
        money=lambda cents: f"${cents / 100:,.2f}",
    )
    assert "Spent $123.45, committed $6.55, 65% of the budget." in gauge
    assert 'class="chart-budget"' in gauge


# The expert's own page -------------------------------------------------------------------------


def _paused_expert_with_feedback():
    """An expert paused on one project after three wrong gold answers, with lab feedback on
    a regular answer; a second expert on the same project with their own figures."""
    actor, project, (expert, other) = workspace(
        experts=2, task_count=2, gold=3, min_gold_tasks=3, min_gold_accuracy_percent=70
    )
    regular = list(project.tasks.filter(is_gold=False).order_by("id"))
    mine = answer_task(expert, regular[0], project, confidence=90)
    for task in project.tasks.filter(is_gold=True).order_by("id"):
        answer_task(expert, task, project, preference="b_much_better", confidence=95)
        answer_task(other, task, project, confidence=60)
    review.annotation_review(
        actor=actor,
        annotation=mine,
        decision="reject",
        feedback="Name the misreading <b>in B</b>.",
    )
    project_quality_refresh(project=project)
    return actor, project, expert, other


def test_the_expert_sees_their_own_score_calibration_pauses_and_feedback(
    client, django_assert_num_queries
):
    _actor, project, expert, other = _paused_expert_with_feedback()
    client.force_login(expert)

    with django_assert_num_queries(EXPERT_PAGE_QUERIES):
        response = client.get(EXPERT_QUALITY)

    assert response.status_code == 200
    html = page_text(response)
    quality = response.context["quality"]
    assert quality.gold_accuracy == 0.0
    assert quality.calibration.n == 3
    assert quality.calibration.brier == pytest.approx(0.95**2)
    assert re.search(r'data-testid="my-gold-accuracy">.*?kpi-value">0%<', html, re.S)
    assert re.search(r'data-testid="my-brier">.*?kpi-value">0\.90\d<', html, re.S)
    assert 'data-chart="reliability"' in html
    (domain,) = quality.domains
    record = ExpertDomainRecord.objects.get(expert=expert, domain=project.domain)
    assert domain.record == record
    for component in COMPONENTS:
        assert escape(component.label) in html
        assert escape(component.explanation) in html
    gold_part = next(c for c in domain.components if c.name == "gold")
    assert gold_part.n == 3
    assert gold_part.weak
    assert 'data-testid="how-to-improve"' in html
    assert escape(next(c.tip for c in COMPONENTS if c.name == "gold")) in html
    member = ProjectMember.objects.get(project=project, expert=expert)
    assert member.status == MemberStatus.PAUSED
    assert escape(member.status_reason) in html
    assert project.title in html
    assert "Name the misreading &lt;b&gt;in B&lt;/b&gt;." in html
    assert "Rejected" in html
    # Nobody else's figures, and never a gold answer.
    assert other.email not in html
    assert other.full_name not in html
    assert "a_much_better" not in html
    assert "b_much_better" not in html


def test_the_expert_page_costs_the_same_queries_without_any_record(
    client, django_assert_num_queries
):
    newcomer = factories.expert()
    client.force_login(newcomer)

    with django_assert_num_queries(EXPERT_PAGE_QUERIES):
        response = client.get(EXPERT_QUALITY)

    html = page_text(response)
    assert 'data-testid="no-domains"' in html
    assert "No scored gold answers yet" in html
    assert "No written feedback yet." in html
    assert 'data-testid="paused-projects"' not in html


def test_the_expert_page_is_for_experts_only_and_linked_from_their_dashboard(client):
    expert = factories.expert()
    client.force_login(expert)
    assert f'href="{EXPERT_QUALITY}"' in page_text(client.get(reverse("experts:dashboard")))

    client.force_login(factories.lab_user())
    assert client.get(EXPERT_QUALITY).status_code == 404


# The staff overview ----------------------------------------------------------------------------


@pytest.fixture
def staff(client):
    person, secret = staff_user(with_totp=True)
    assert secret is not None
    log_in_staff(client, person, secret)
    return person


def test_staff_see_platform_counts_projects_and_quality_pauses(
    client, staff, django_assert_num_queries
):
    _actor, project, expert, _other = _paused_expert_with_feedback()

    with django_assert_num_queries(STAFF_PAGE_QUERIES):
        response = client.get(STAFF_QUALITY)

    assert response.status_code == 200
    html = page_text(response)
    counts = response.context["counts"]
    assert counts.experts == 2
    assert counts.active_projects == 1
    assert counts.annotations_today == counts.annotations_week == 7
    assert counts.annotations_accepted == 0
    assert re.search(r'data-testid="count-today">.*?kpi-value">7<', html, re.S)
    (row,) = response.context["projects"]
    assert row.project == project
    assert (row.items, row.items_completed, row.progress) == (2, 0, 0.0)
    assert project.title in html
    member = ProjectMember.objects.get(project=project, expert=expert)
    assert reverse("staff_quality_lift", args=[member.pk]) in html
    assert escape(member.status_reason) in html
    assert f'href="{STAFF_QUALITY}"' in page_text(client.get(reverse("staff_dashboard")))


def test_the_staff_page_costs_the_same_queries_with_more_projects_and_pauses(
    client, staff, django_assert_num_queries
):
    for _ in range(3):
        _paused_expert_with_feedback()

    with django_assert_num_queries(STAFF_PAGE_QUERIES):
        response = client.get(STAFF_QUALITY)

    assert len(response.context["projects"]) == 3
    assert len(response.context["paused"]) == 3


def test_the_vetting_queue_age_reports_oldest_and_median_wait():
    from experts.models import Credential
    from experts.states import CredentialStatus
    from tests.experts import factories as expert_factories

    now = timezone.now()
    person = factories.expert()
    for days in (1, 3, 10):
        credential = expert_factories.credential(person)
        Credential.objects.filter(pk=credential.pk).update(
            status=CredentialStatus.SUBMITTED, submitted_at=now - timedelta(days=days)
        )

    queue = quality_selectors.vetting_queue_age()

    assert queue.waiting == 3
    assert queue.oldest == pytest.approx(now - timedelta(days=10), abs=timedelta(seconds=5))
    assert queue.median_seconds == pytest.approx(3 * 86400, abs=5)


def test_staff_lift_a_pause_from_the_page_with_a_note(client, staff):
    _actor, project, expert, _other = _paused_expert_with_feedback()
    member = ProjectMember.objects.get(project=project, expert=expert)

    response = client.post(
        reverse("staff_quality_lift", args=[member.pk]), {"note": "Talked it through."}, follow=True
    )

    member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE
    assert member.quality_paused is False
    assert member.pause_lifted_by == staff
    event = AuditEvent.objects.get(action="project_member.pause_lift")
    assert event.actor == staff
    assert event.after["note"] == "Talked it through."
    html = page_text(response)
    assert "can work on" in html
    assert 'data-testid="no-paused"' in html


def test_lifting_a_pause_that_is_not_there_reports_it(client, staff):
    _actor, project, expert, _other = _paused_expert_with_feedback()
    member = ProjectMember.objects.get(project=project, expert=expert)
    url = reverse("staff_quality_lift", args=[member.pk])
    client.post(url)

    response = client.post(url, follow=True)

    assert "This expert is not paused on this project." in page_text(response)
    assert AuditEvent.objects.filter(action="project_member.pause_lift").count() == 1


@pytest.mark.parametrize("make_user", [factories.expert, factories.lab_user], ids=["expert", "lab"])
def test_non_staff_get_404_and_change_nothing(client, make_user):
    _actor, project, expert, _other = _paused_expert_with_feedback()
    member = ProjectMember.objects.get(project=project, expert=expert)
    client.force_login(make_user())

    assert client.get(STAFF_QUALITY).status_code == 404
    assert client.post(reverse("staff_quality_lift", args=[member.pk])).status_code == 404

    member.refresh_from_db()
    assert member.status == MemberStatus.PAUSED
    assert member.quality_paused is True
    assert not AuditEvent.objects.filter(action="project_member.pause_lift").exists()
