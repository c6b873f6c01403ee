"""Grading free-text gold answers on the review page, and the quality facts it shows."""

from __future__ import annotations

import pytest

from projects.models import Annotation
from projects.quality.services import project_quality_refresh
from tests.projects.test_quality_services import gold_tasks, regular
from tests.projects.test_review_views import url
from tests.projects.workspace_factories import answer_task, lab_viewer, workspace

pytestmark = pytest.mark.django_db


def _demonstration_gold():
    actor, project, (expert,) = workspace(task_count=1, gold=1, task_type="demonstration")
    (gold,) = gold_tasks(project)
    return actor, project, answer_task(expert, gold, project)


def test_a_manager_grades_a_free_text_gold_answer_on_the_review_page(client):
    actor, project, annotation = _demonstration_gold()
    client.force_login(actor.user)
    page = client.get(url("annotation_review", project, annotation.public_id)).content.decode()
    assert 'data-testid="gold-grade-form"' in page
    assert "not graded yet" in page

    response = client.post(
        url("annotation_gold_grade", project, annotation.public_id), {"score": "85"}, follow=True
    )

    assert Annotation.objects.get(pk=annotation.pk).gold_score == 0.85
    page = response.content.decode()
    assert "Graded 85%." in page
    assert 'data-testid="gold-score">85%<' in page


def test_a_bad_grade_or_a_viewer_changes_nothing(client):
    actor, project, annotation = _demonstration_gold()
    client.force_login(actor.user)
    response = client.post(
        url("annotation_gold_grade", project, annotation.public_id), {"score": "high"}, follow=True
    )
    assert (
        "Not graded. Give the grade as a whole number from 0 to 100." in response.content.decode()
    )
    client.force_login(lab_viewer(actor))
    client.post(url("annotation_gold_grade", project, annotation.public_id), {"score": "40"})
    assert Annotation.objects.get(pk=annotation.pk).gold_score is None


def test_answers_to_regular_tasks_are_not_graded(client):
    actor, project, (expert,) = workspace(task_count=1, task_type="demonstration")
    annotation = answer_task(expert, regular(project)[0], project)
    client.force_login(actor.user)
    page = client.get(url("annotation_review", project, annotation.public_id)).content.decode()
    assert 'data-testid="gold-grade-form"' not in page

    response = client.post(
        url("annotation_gold_grade", project, annotation.public_id), {"score": "50"}, follow=True
    )

    assert "Only answers to gold tasks are graded." in response.content.decode()
    assert Annotation.objects.get(pk=annotation.pk).gold_score is None


def test_another_labs_annotation_cannot_be_graded(client):
    _actor, project, annotation = _demonstration_gold()
    other, _other_project, _ = workspace(task_count=1)
    client.force_login(other.user)
    address = url("annotation_gold_grade", project, annotation.public_id).replace(
        project.organization.slug, other.organization.slug
    )

    assert client.post(address, {"score": "90"}).status_code == 404
    assert Annotation.objects.get(pk=annotation.pk).gold_score is None


def test_the_review_page_shows_the_consensus_and_warning_signs(client):
    actor, project, experts = workspace(experts=3, task_count=1, overlap=3)
    (task,) = regular(project)
    answers = [
        answer_task(expert, task, project, preference=choice)
        for expert, choice in zip(experts, ["a_better", "a_better", "b_better"], strict=True)
    ]
    Annotation.objects.update(time_spent_seconds=100)
    Annotation.objects.filter(pk=answers[2].pk).update(time_spent_seconds=5)
    project_quality_refresh(project=project)
    client.force_login(actor.user)

    page = client.get(url("annotation_review", project, answers[2].public_id)).content.decode()

    assert "differs from the item's consensus" in page
    assert "Much faster than the project&#x27;s median" in page
