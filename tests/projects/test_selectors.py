"""Scoped reads: other labs' projects are not found; progress and money add up."""

from __future__ import annotations

import uuid

import pytest

from experts.models import ExpertProfile
from marketplace.errors import NotFound
from marketplace.states import MembershipRole
from projects import selectors
from projects.access import lab_actor_for_member
from projects.models import Annotation
from projects.pricing import cost_with_fee_cents, platform_fee_cents, suggested_price_cents
from projects.states import AnnotationStatus
from tests import factories
from tests.projects import factories as pf

pytestmark = pytest.mark.django_db


def test_project_for_actor_is_scoped_to_the_organisation():
    mine, theirs = pf.manager_actor(), pf.manager_actor()
    project = pf.project(mine)
    assert selectors.project_for_actor(actor=mine, project_id=project.public_id) == project
    for project_id in (project.public_id, str(project.public_id), uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(NotFound):
            selectors.project_for_actor(actor=theirs, project_id=project_id)


def test_project_for_user_needs_membership_of_the_projects_lab():
    actor = pf.manager_actor()
    project = pf.project(actor)
    viewer = factories.lab_user()
    factories.add_member(actor.organization, viewer, MembershipRole.VIEWER)
    found, viewer_actor = selectors.project_for_user(user=viewer, project_id=project.public_id)
    assert found == project
    assert (viewer_actor.role, viewer_actor.can_manage) == (MembershipRole.VIEWER, False)
    for outsider in (factories.lab_user(), factories.expert()):
        with pytest.raises(NotFound):
            selectors.project_for_user(user=outsider, project_id=project.public_id)


def test_lab_actor_for_member_is_not_found_for_outsiders():
    actor = pf.manager_actor()
    with pytest.raises(NotFound):
        lab_actor_for_member(user=factories.expert(), organization_slug=actor.organization.slug)


def test_projects_list_counts_tasks_in_fixed_queries(django_assert_num_queries):
    actor = pf.manager_actor()
    for n in range(3):
        project = pf.project(actor, title=f"P{n}")
        pf.tasks(project, n + 1)
        pf.tasks(project, 1, gold=True)
    with django_assert_num_queries(1):
        rows = [
            (p.title, p.task_count, p.gold_count, p.domain.parent)
            for p in selectors.projects_for_actor(actor=actor)
        ]
    assert rows == [("P2", 3, 1, None), ("P1", 2, 1, None), ("P0", 1, 1, None)]


def test_progress_adds_up_in_fixed_queries(django_assert_num_queries):
    actor = pf.manager_actor()
    project = pf.active_project(actor, task_count=4, overlap=2, price_per_annotation_cents=1000)
    pf.tasks(project, 2, gold=True)
    experts = [factories.expert(full_name=f"Dr {n}") for n in range(2)]
    pseudonyms = [ExpertProfile.objects.create(user=expert).public_id for expert in experts]
    tasks = list(project.tasks.filter(is_gold=False))
    for task, expert, status in [
        (tasks[0], experts[0], AnnotationStatus.ACCEPTED),
        (tasks[0], experts[1], AnnotationStatus.SUBMITTED),
        (tasks[1], experts[0], AnnotationStatus.REJECTED),
    ]:
        Annotation.objects.create(
            task=task,
            project=project,
            expert=expert,
            result={},
            confidence=80,
            guidelines_version=1,
            status=status,
        )
        task.annotation_count += 1
        task.reserved_count += 1
        task.save()
    with django_assert_num_queries(2):
        progress = selectors.project_progress(project=project)
    assert (progress.task_count, progress.gold_count) == (4, 2)
    assert (progress.annotations_done, progress.annotations_needed) == (3, 8)
    assert progress.percent_done == 37
    assert progress.cost_so_far_cents == 2 * 1000 * 120 // 100  # rejected work is not paid
    # 8 regular annotations and, at the 10% gold rate, 1 gold one (8 / 9, rounded up).
    assert progress.required_funds_cents == 9 * 1000 * 120 // 100
    assert progress.funded_cents == progress.required_funds_cents
    assert progress.remaining_budget_cents == progress.funded_cents - progress.cost_so_far_cents
    # Labs see the pseudonymous profile id, never a name or an e-mail.
    assert [(e.expert, e.annotations) for e in progress.experts] == [
        (pseudonyms[0], 2),
        (pseudonyms[1], 1),
    ]


def test_task_list_never_joins_gold_answers_and_filters():
    actor = pf.manager_actor()
    project = pf.project(actor)
    pf.tasks(project, 3)
    pf.tasks(project, 2, gold=True)
    assert selectors.project_tasks(project=project).count() == 5
    assert selectors.project_tasks(project=project, is_gold=True).count() == 2
    assert selectors.project_tasks(project=project, external_id="tg-").count() == 2
    assert "gold" not in str(selectors.project_tasks(project=project).query).lower().replace(
        "is_gold", ""
    )


def test_pricing_suggests_dearer_rates_for_medicine_and_rounds_the_fee_up():
    medicine, languages = pf.domain("medicine"), pf.domain("languages")
    assert suggested_price_cents(task_type="pairwise", domain=medicine) == 1000
    assert suggested_price_cents(task_type="pairwise", domain=languages) == 400
    assert (
        suggested_price_cents(task_type="pairwise", domain=pf.domain("medicine-cardiology")) == 1000
    )
    assert platform_fee_cents(1) == 1
    assert platform_fee_cents(1000) == 200
    assert cost_with_fee_cents(annotations=3, price_cents=333) == 999 + 200


@pytest.mark.parametrize(("gold_rate", "expected"), [(0, 30), (10, 34), (20, 38), (50, 60)])
def test_expected_annotations_include_the_gold_ones_mixed_in(gold_rate, expected):
    project = pf.project(overlap=3, gold_rate_percent=gold_rate)
    assert selectors.expected_annotations(project=project, task_count=10) == expected
