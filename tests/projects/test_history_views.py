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
from projects.states import AiPolicy, AnnotationStatus, ProjectStatus
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
    assert assignment.task.external_id not in page
    assert re.search(r'data-testid="kept-draft-state">Closed<', page)
    assert "other experts completed them meanwhile" not in page
    draft_url = reverse("expert_kept_draft", args=[assignment.public_id])
    assert f'href="{draft_url}"' in page
    assert 'data-testid="annotation-row"' not in page
    # The closed draft, read-only: the type's form disabled and filled from the draft.
    draft_page = client.get(draft_url).content.decode()
    assert "My careful reasoning</textarea>" in draft_page
    assert re.search(r'<fieldset class="answer-fields"\s+disabled>', draft_page)
    assert "Continue" not in draft_page
    assert assignment.task.external_id not in draft_page


def test_a_kept_draft_on_a_task_with_room_is_open_and_continues_in_the_workspace(client):
    _, project, (late, quick) = workspace(experts=2, task_count=1, overlap=2)
    assignment = dispatch.task_claim(expert=late, project=project)
    dispatch.assignment_draft_save(
        expert=late, assignment=assignment, draft={"rationale": ["Resumable reasoning"]}
    )
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    dispatch.leases_return_expired(project=project)
    submit_next(quick, project)
    client.force_login(late)

    page = client.get(LIST).content.decode()

    assert re.search(r'data-testid="kept-draft-state">Open<', page)
    start = reverse("workspace_start", kwargs={"project_id": project.public_id})
    assert f'href="{start}">Continue</a>' in page
    assert assignment.task.external_id not in page
    resumed = client.get(start)
    assert resumed.url == reverse("workspace_task", kwargs={"assignment_id": assignment.public_id})
    assert "Resumable reasoning</textarea>" in client.get(resumed.url).content.decode()


def test_a_kept_draft_page_is_only_the_experts_own(client):
    _, project, (late, other) = workspace(experts=2)
    assignment = dispatch.task_claim(expert=late, project=project)
    draft_url = reverse("expert_kept_draft", args=[assignment.public_id])
    client.force_login(late)
    assert client.get(draft_url).status_code == 404  # a live lease is not a kept draft
    dispatch.assignment_draft_save(
        expert=late, assignment=assignment, draft={"rationale": ["Mine"]}
    )
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    dispatch.leases_return_expired(project=project)
    assert client.get(draft_url).status_code == 200

    client.force_login(other)
    assert client.get(draft_url).status_code == 404


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


def test_an_edit_adds_the_pages_signals_to_the_annotation(client):
    _, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    Annotation.objects.filter(pk=annotation.pk).update(
        paste_count=1, pasted_chars=10, focus_loss_count=2, time_spent_seconds=40
    )
    client.force_login(expert)
    page = client.get(detail(annotation)).content.decode()
    assert "data-signals-form" in page
    assert 'src="/static/js/workspace.js"' in page

    response = client.post(
        edit(annotation),
        edit_form(active_seconds="30", pastes="2", pasted_chars="150", focus_losses="1"),
    )

    assert response.status_code == 302
    annotation.refresh_from_db()
    assert (
        annotation.paste_count,
        annotation.pasted_chars,
        annotation.focus_loss_count,
        annotation.time_spent_seconds,
        annotation.edit_count,
    ) == (3, 160, 3, 70, 1)


def test_the_disclosed_policy_asks_again_on_edit(client):
    _, project, (expert,) = workspace(ai_policy=AiPolicy.DISCLOSED)
    annotation = dispatch.annotation_submit(
        expert=expert,
        assignment=dispatch.task_claim(expert=expert, project=project),
        result=answer(project),
        ai_used=False,
    )
    client.force_login(expert)
    page = client.get(detail(annotation)).content.decode()
    assert "Did you use AI tools?" in page
    assert 'name="ai_used" value="yes" required>' in page  # asked again, not prefilled

    missing = client.post(edit(annotation), edit_form())
    unexplained = client.post(edit(annotation), edit_form(ai_used="yes", ai_disclosure=" "))

    assert missing.status_code == 400
    assert "Say whether you used AI tools on this task." in missing.content.decode()
    assert unexplained.status_code == 400
    assert 'value="yes" required checked' in unexplained.content.decode()
    annotation.refresh_from_db()
    assert (annotation.edit_count, annotation.ai_used) == (0, False)

    saved = client.post(
        edit(annotation), edit_form(ai_used="yes", ai_disclosure="Checked a dosage table.")
    )

    assert saved.status_code == 302
    annotation.refresh_from_db()
    assert (annotation.edit_count, annotation.ai_used, annotation.ai_disclosure) == (
        1,
        True,
        "Checked a dosage table.",
    )


def test_an_answer_on_a_completed_project_can_no_longer_be_edited(client):
    _, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    project.status = ProjectStatus.COMPLETED
    project.save(update_fields=["status"])
    client.force_login(expert)

    page = client.get(detail(annotation)).content.decode()
    response = client.post(edit(annotation), edit_form(preference="tie"), follow=True)

    assert 'data-testid="edit-form"' not in page
    assert "answers can no longer change" in page
    assert "is completed" in response.content.decode()
    annotation.refresh_from_db()
    assert annotation.edit_count == 0
