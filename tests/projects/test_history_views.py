"""The expert's history: their answers and the lab's feedback, edits until reviewed, drafts
kept after a late submit, and nothing of other experts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from projects.dispatch import services as dispatch
from projects.dispatch.services import SubmittedTooLate
from projects.models import Annotation, Assignment
from projects.review import services as review_services
from projects.states import AnnotationStatus
from tests import factories
from tests.projects.workspace_factories import answer, member, submit_next, workspace

pytestmark = pytest.mark.django_db

LIST = reverse("expert_annotations")


def detail(annotation: Annotation) -> str:
    return reverse("expert_annotation", args=[annotation.public_id])


def edit(annotation: Annotation) -> str:
    return reverse("expert_annotation_edit", args=[annotation.public_id])


def edit_form(**overrides: str) -> dict[str, str]:
    data = {
        "preference": "a_better",
        "rationale": "B misses the interaction; A could say more about kidneys.",
        "confidence": "70",
        "edge_case_note": "",
    }
    data.update(overrides)
    return data


def test_history_lists_the_experts_answers_with_the_latest_feedback(
    client, django_assert_num_queries
):
    actor, project, (expert, other) = workspace(experts=2, task_count=5, overlap=2)
    first = submit_next(expert, project)
    second = submit_next(expert, project)
    theirs = submit_next(other, project, rationale="Someone else's reasoning")
    review_services.annotation_reject(
        actor=actor, annotation=first, feedback="You missed the renal risk entirely."
    )
    client.force_login(expert)
    client.get(LIST)

    # session, user, projects for the filter, unread notifications, page count, page rows,
    # their reviews, kept drafts
    with django_assert_num_queries(8):
        page = client.get(LIST).content.decode()

    assert page.count('data-testid="annotation-row"') == 2
    assert str(first.public_id) in page
    assert str(second.public_id) in page
    assert str(theirs.public_id) not in page
    assert "You missed the renal risk entirely." in page
    assert "Rejected" in page
    assert project.title in page
    # More rows, the same queries.
    for _ in range(2):
        submit_next(expert, project)
    review_services.annotation_request_revision(actor=actor, annotation=second, feedback="More")
    with django_assert_num_queries(8):
        assert client.get(LIST).content.decode().count('data-testid="annotation-row"') == 4


def test_history_filters_by_project_and_status(client):
    actor, project, (expert,) = workspace(task_count=2)
    _, other_project, _ = workspace(actor=actor, title="Second project")
    member(other_project, expert)
    here = submit_next(expert, project)
    accepted = submit_next(expert, project)
    there = submit_next(expert, other_project)
    review_services.annotation_accept(actor=actor, annotation=accepted)
    client.force_login(expert)

    def shown(**params: str) -> set[Annotation]:
        page = client.get(LIST, params).content.decode()
        return {a for a in (here, accepted, there) if str(a.public_id) in page}

    assert shown() == {here, accepted, there}
    assert shown(project=str(other_project.public_id)) == {there}
    assert shown(project=str(project.public_id)) == {here, accepted}
    assert shown(status="accepted") == {accepted}
    assert shown(project=str(project.public_id), status="submitted") == {here}
    page = client.get(LIST).content.decode()
    assert f'<option value="{other_project.public_id}">Second project</option>' in page


def test_work_kept_after_a_late_submit_is_listed(client):
    _, project, (late, quick) = workspace(experts=2, task_count=1, overlap=1)
    assignment = dispatch.task_claim(expert=late, project=project)
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    dispatch.leases_return_expired(project=project)
    submit_next(quick, project)
    with pytest.raises(SubmittedTooLate):
        dispatch.annotation_submit(
            expert=late,
            assignment=Assignment.objects.get(pk=assignment.pk),
            result=answer(project),
            draft={"rationale": "My careful reasoning"},
        )
    client.force_login(late)

    page = client.get(LIST).content.decode()

    assert page.count('data-testid="kept-draft"') == 1
    assert assignment.task.external_id in page
    assert 'data-testid="annotation-row"' not in page


def test_annotation_page_shows_the_answer_and_the_lab_feedback_without_the_reviewer(client):
    actor, project, (expert, other) = workspace(experts=2, task_count=1, overlap=2)
    mine = submit_next(expert, project, rationale="My own reasoning")
    submit_next(other, project, rationale="The other expert's reasoning")
    review_services.annotation_accept(actor=actor, annotation=mine, feedback="Clear and right.")
    client.force_login(expert)

    page = client.get(detail(mine)).content.decode()

    assert "Is it safe to take ibuprofen with lisinopril?" in page
    assert "My own reasoning" in page
    assert "Clear and right." in page
    assert "by the lab" in page
    assert actor.user.email not in page
    assert actor.user.full_name not in page
    # Blind: never another expert's answer.
    assert "The other expert" not in page
    # Accepted: read-only, no edit form.
    assert re.search(r'<fieldset class="answer-fields"\s+disabled>', page)
    assert 'data-testid="edit-form"' not in page


def test_an_answer_can_be_edited_until_it_is_reviewed(client):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    client.force_login(expert)
    page = client.get(detail(annotation)).content.decode()
    assert 'data-testid="edit-form"' in page
    assert edit(annotation) in page

    response = client.post(edit(annotation), edit_form())

    assert response.status_code == 302
    assert response.url == detail(annotation)
    annotation.refresh_from_db()
    assert annotation.result["preference"] == "a_better"
    assert (annotation.confidence, annotation.edit_count) == (70, 1)
    assert annotation.status == AnnotationStatus.SUBMITTED

    review_services.annotation_accept(actor=actor, annotation=annotation)
    response = client.post(edit(annotation), edit_form(preference="tie"), follow=True)

    assert "it can no longer be changed" in response.content.decode()
    annotation.refresh_from_db()
    assert annotation.result["preference"] == "a_better"
    assert annotation.edit_count == 1
    assert annotation.status == AnnotationStatus.ACCEPTED


def test_an_invalid_edit_is_refused_and_changes_nothing(client):
    _, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    before = dict(annotation.result)
    client.force_login(expert)

    response = client.post(edit(annotation), edit_form(confidence="150"))

    assert response.status_code == 400
    assert "confidence" in response.content.decode()
    annotation.refresh_from_db()
    assert annotation.result == before
    assert annotation.edit_count == 0


def test_a_revision_shows_the_feedback_and_goes_back_to_review_after_the_edit(client):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    review_services.annotation_request_revision(
        actor=actor, annotation=annotation, feedback="Name the interaction you mean."
    )
    client.force_login(expert)

    page = client.get(detail(annotation)).content.decode()
    assert re.search(
        r'data-testid="revision-feedback".*Name the interaction you mean\.', page, re.S
    )
    assert 'data-testid="edit-form"' in page

    response = client.post(edit(annotation), edit_form(), follow=True)

    assert "back in the lab&#x27;s review queue" in response.content.decode()
    annotation.refresh_from_db()
    assert annotation.status == AnnotationStatus.SUBMITTED
    assert annotation.edit_count == 1


def test_other_experts_and_lab_members_cannot_reach_an_answer(client):
    actor, project, (expert, other) = workspace(experts=2)
    annotation = submit_next(expert, project)
    before = dict(annotation.result)

    for user in (other, actor.user):
        client.force_login(user)
        assert client.get(detail(annotation)).status_code == 404
        assert client.post(edit(annotation), edit_form()).status_code == 404
    client.force_login(factories.lab_user())
    assert client.get(LIST).status_code == 404

    annotation.refresh_from_db()
    assert annotation.result == before
    assert annotation.edit_count == 0
