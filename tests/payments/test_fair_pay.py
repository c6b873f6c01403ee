"""Fair pay: the effective hourly rate (price ÷ median active time, or the task type's
estimate), the warning before activating a project below the floor, and the estimate on
experts' invitations."""

from __future__ import annotations

import pytest
from django.urls import reverse

from payments.fair_pay import FairPay, effective_hourly_rate, effective_hourly_rates
from projects import services
from projects.matching import services as matching
from projects.models import Annotation, Project
from projects.selectors import required_funds_cents
from projects.states import ProjectStatus
from tests.payments.factories import fund_lab
from tests.projects import factories as project_factories
from tests.projects.matching_factories import vetted_expert
from tests.projects.workspace_factories import submit_next, workspace

pytestmark = pytest.mark.django_db


def _answers_with_times(seconds: list[int], **fields) -> Project:
    """A project whose experts submitted one answer each, taking ``seconds`` of active time.
    The time is the page's measurement, written as the workspace leaves it (the page cannot
    report more than the wall time since the lease, so a test cannot wait it out)."""
    _, project, experts = workspace(experts=len(seconds), task_count=len(seconds), **fields)
    for person, spent in zip(experts, seconds, strict=True):
        annotation = submit_next(person, project)
        Annotation.objects.filter(pk=annotation.pk).update(time_spent_seconds=spent)
    return project


def test_before_enough_answers_the_rate_is_the_task_types_estimate(settings):
    settings.FAIR_PAY_FLOOR_CENTS_PER_HOUR = 2000
    # Pairwise preferences usually take 6 minutes: $5.00 each is $50.00 an hour.
    project = _answers_with_times([60, 120, 300, 600], overlap=1)

    assert effective_hourly_rate(project=project) == FairPay(
        cents_per_hour=5000, median_seconds=None, basis="estimate", below_floor=False
    )


def test_the_measured_rate_uses_the_median_active_time_of_submitted_answers():
    # Odd count: the middle answer, 300 s; $5.00 per 5 minutes is $60.00 an hour. An answer
    # without measured time (0) does not count.
    project = _answers_with_times([900, 60, 300, 120, 600, 0], overlap=1)

    assert effective_hourly_rate(project=project) == FairPay(
        cents_per_hour=6000, median_seconds=300, basis="measured", below_floor=False
    )


def test_with_an_even_count_the_median_is_the_mean_of_the_middle_two():
    project = _answers_with_times([60, 120, 300, 600, 900, 1200], overlap=1)

    pay = effective_hourly_rate(project=project)

    assert (pay.median_seconds, pay.cents_per_hour, pay.basis) == (450, 4000, "measured")


def test_below_the_floor_is_flagged(settings):
    settings.FAIR_PAY_FLOOR_CENTS_PER_HOUR = 2000
    project = _answers_with_times([1800] * 5, overlap=1)

    # $5.00 for 30 minutes of work is $10.00 an hour.
    assert effective_hourly_rate(project=project) == FairPay(
        cents_per_hour=1000, median_seconds=1800, basis="measured", below_floor=True
    )


def test_many_projects_in_one_query(django_assert_num_queries):
    measured = _answers_with_times([100] * 5, overlap=1)
    few = _answers_with_times([100] * 2, overlap=1)
    draft = project_factories.project(task_type="classification", price_per_annotation_cents=50)

    with django_assert_num_queries(1):
        rates = effective_hourly_rates(projects=[measured, few, draft])

    assert {pk: (pay.cents_per_hour, pay.basis) for pk, pay in rates.items()} == {
        measured.pk: (18000, "measured"),
        few.pk: (5000, "estimate"),
        # Classification: 2 minutes each, so $0.50 is $15.00 an hour.
        draft.pk: (1500, "estimate"),
    }


# The project page ----------------------------------------------------------------------------


def _ready_draft(price: int) -> tuple:
    """A funded project with tasks and guidelines, ready to activate."""
    actor = project_factories.manager_actor()
    project = project_factories.project(actor, price_per_annotation_cents=price)
    project_factories.tasks(project, 3)
    needed = required_funds_cents(project=project, task_count=3)
    fund_lab(actor.organization, needed)
    services.project_fund(actor=actor, project=project, amount_cents=needed)
    project.refresh_from_db()
    return actor, project


def test_the_project_page_warns_before_activating_below_the_floor_but_does_not_refuse(
    client, settings, django_assert_num_queries
):
    settings.FAIR_PAY_FLOOR_CENTS_PER_HOUR = 2000
    actor, project = _ready_draft(price=150)  # 6 minutes each: $15.00 an hour
    address = reverse("projects:detail", args=[actor.organization.slug, project.public_id])
    client.force_login(actor.user)
    client.get(address)

    page = client.get(address).content.decode()

    assert 'data-testid="fair-pay-warning"' in page
    assert "Below the fair-pay floor." in page
    assert "about $15.00 an hour (estimated)" in page
    assert "floor of $20.00 an hour" in page
    assert "You may still activate it" in page
    assert "estimate from the task type" in page

    response = client.post(
        reverse("projects:state", args=[actor.organization.slug, project.public_id, "activate"])
    )

    assert response.status_code == 302
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert 'data-testid="fair-pay-warning"' not in client.get(address).content.decode()


def test_a_project_above_the_floor_shows_its_rate_without_a_warning(client, settings):
    settings.FAIR_PAY_FLOOR_CENTS_PER_HOUR = 2000
    actor, project = _ready_draft(price=500)
    client.force_login(actor.user)

    page = client.get(
        reverse("projects:detail", args=[actor.organization.slug, project.public_id])
    ).content.decode()

    assert "$50.00" in page
    assert 'data-testid="fair-pay"' in page
    assert 'data-testid="fair-pay-warning"' not in page


def test_the_project_page_shows_the_measured_rate(client):
    project = _answers_with_times([300] * 5, overlap=1)
    owner = project.created_by
    client.force_login(owner)

    page = client.get(
        reverse("projects:detail", args=[project.organization.slug, project.public_id])
    ).content.decode()

    assert "$60.00" in page
    assert "measured: median active time 300 s per answer" in page


# Invitations ---------------------------------------------------------------------------------


def _invite(person, price: int, title: str):
    """An active project (pairwise: 6 minutes each) inviting ``person``."""
    actor = project_factories.manager_actor()
    project = project_factories.active_project(actor, title=title, price_per_annotation_cents=price)
    return matching.invitation_direct_create(
        actor=actor, project=project, expert_public_id=str(person.expert_profile.public_id)
    )


def test_invitations_show_the_estimated_hourly_pay_with_bounded_queries(
    client, django_assert_num_queries
):
    person = vetted_expert("medicine")
    first = _invite(person, 600, "Chest CT triage")
    client.force_login(person)
    address = reverse("expert_invitations")
    client.get(address)

    # session, user, pending invitations, their hourly rates, history count (empty: no
    # page query), unread count
    with django_assert_num_queries(6):
        page = client.get(address).content.decode()
    assert page.count('data-testid="hourly-estimate"') == 1
    assert "$60.00/h" in page

    _invite(person, 300, "Fracture review")
    _invite(person, 900, "MRI protocols")
    with django_assert_num_queries(6):
        page = client.get(address).content.decode()

    assert page.count('data-testid="hourly-estimate"') == 3
    assert "$30.00/h" in page
    assert "$90.00/h" in page

    detail = client.get(reverse("expert_invitation", args=[first.public_id])).content.decode()
    assert "$60.00 an hour" in detail
    assert "from the usual time this kind of task takes" in detail
