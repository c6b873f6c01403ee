"""Appeals and disputes in the browser: the expert's appeal form, the lab's appeals page and
dispute form, and the staff queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Notification
from payments import appeals
from payments.appeals import DEADLINE_PASSED
from payments.ledger import escrow_account, expert_account
from payments.models import Appeal, Dispute
from payments.states import AppealStatus, DisputeStatus
from projects.exports.provenance import lab_pseudonym
from projects.models import Annotation
from projects.review import services as review
from projects.states import AnnotationStatus
from tests.factories import expert as new_expert
from tests.factories import lab_user, log_in_staff, staff_user
from tests.projects.workspace_factories import lab_viewer, submit_next, workspace

pytestmark = pytest.mark.django_db

FEEDBACK = "The rationale ignores the renal risk."
NOTE = "The guidelines say renal risk only matters above 65; the patient is <b>40</b>."


def _rejected_answers(count: int = 1):
    """A project whose ``count`` experts each had one answer rejected."""
    actor, project, experts = workspace(experts=count, task_count=count, overlap=1)
    answers = []
    for person in experts:
        annotation = submit_next(person, project)
        review.annotation_reject(actor=actor, annotation=annotation, feedback=FEEDBACK)
        answers.append(annotation)
    return actor, project, experts, answers


def _expert_page(annotation: Annotation) -> str:
    return reverse("expert_annotation", args=[annotation.public_id])


def _appeal_url(annotation: Annotation) -> str:
    return reverse("payments:appeal_open", args=[annotation.public_id])


def _review_page(actor, project, annotation: Annotation) -> str:
    return reverse(
        "projects:annotation_review",
        args=[actor.organization.slug, project.public_id, annotation.public_id],
    )


def _dispute_url(actor, project, annotation: Annotation) -> str:
    return reverse(
        "payments:dispute_open",
        args=[actor.organization.slug, project.public_id, annotation.public_id],
    )


# The expert ----------------------------------------------------------------------------------


def test_the_expert_appeals_from_the_answer_page_once(client):
    actor, _, (expert,), (annotation,) = _rejected_answers()
    client.force_login(expert)

    page = client.get(_expert_page(annotation)).content.decode()
    assert 'data-testid="appeal-form"' in page
    assert _appeal_url(annotation) in page

    response = client.post(_appeal_url(annotation), {"note": NOTE}, follow=True)

    assert response.redirect_chain == [(_expert_page(annotation), 302)]
    page = response.content.decode()
    assert "Your appeal is sent." in page
    assert 'data-testid="appeal-form"' not in page
    assert "Waiting for the lab" in page
    # The note is shown escaped.
    assert "&lt;b&gt;40&lt;/b&gt;" in page
    appeal = Appeal.objects.get()
    assert (appeal.annotation_id, appeal.note) == (annotation.pk, NOTE)
    assert Notification.objects.filter(recipient=actor.user, kind="appeal.opened").count() == 1

    again = client.post(_appeal_url(annotation), {"note": "Once more"}, follow=True)

    assert "You already appealed this rejection." in again.content.decode()
    assert Appeal.objects.count() == 1


def test_an_empty_note_sends_nothing(client):
    _, _, (expert,), (annotation,) = _rejected_answers()
    client.force_login(expert)

    response = client.post(_appeal_url(annotation), {"note": "  "}, follow=True)

    assert "Your appeal was not sent." in response.content.decode()
    assert not Appeal.objects.exists()


def test_another_expert_gets_a_404(client):
    _, _, _, (annotation,) = _rejected_answers()
    client.force_login(new_expert())

    assert client.post(_appeal_url(annotation), {"note": NOTE}).status_code == 404
    assert not Appeal.objects.exists()


# The lab's appeals page ----------------------------------------------------------------------


def test_the_lab_sees_its_appeals_with_bounded_queries(client, django_assert_num_queries):
    actor, project, experts, answers = _rejected_answers(4)
    for person, annotation in list(zip(experts, answers, strict=True))[:2]:
        appeals.appeal_open(expert=person, annotation=annotation, note=NOTE)
    address = reverse("payments:lab_appeals", args=[actor.organization.slug])
    client.force_login(actor.user)
    client.get(address)

    # session, user, membership, waiting appeals, their reviews, decided count, unread
    with django_assert_num_queries(7):
        page = client.get(address).content.decode()

    assert page.count('data-testid="waiting-appeal"') == 2
    assert page.count(FEEDBACK) == 2
    assert page.count("&lt;b&gt;40&lt;/b&gt;") == 2
    assert page.count('data-testid="appeal-decide-form"') == 2
    assert project.title in page

    for person, annotation in list(zip(experts, answers, strict=True))[2:]:
        appeals.appeal_open(expert=person, annotation=annotation, note=NOTE)
    first = Appeal.objects.order_by("pk").first()
    appeals.appeal_decide(actor=actor, appeal=first, uphold=False, response="Age is irrelevant.")

    # More appeals, one decided: the decided page adds its rows and their reviews.
    with django_assert_num_queries(9):
        page = client.get(address).content.decode()

    assert page.count('data-testid="waiting-appeal"') == 3
    assert page.count('data-testid="decided-appeal"') == 1
    assert "Age is irrelevant." in page


def test_the_lab_upholds_from_its_appeals_page_and_the_expert_is_paid(client):
    actor, project, (expert,), (annotation,) = _rejected_answers()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    escrow_before = escrow_account(project=project).balance_cents
    client.force_login(actor.user)

    response = client.post(
        reverse("payments:appeal_decide", args=[actor.organization.slug, appeal.public_id]),
        {"decision": "uphold", "response": "Fair point."},
        follow=True,
    )

    assert "Appeal upheld: the answer is accepted and paid." in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.UPHELD
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.ACCEPTED
    assert expert_account(user=expert, currency="USD").balance_cents == 500
    assert escrow_account(project=project).balance_cents < escrow_before


def test_denying_without_a_reason_changes_nothing(client):
    actor, _, (expert,), (annotation,) = _rejected_answers()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    client.force_login(actor.user)

    response = client.post(
        reverse("payments:appeal_decide", args=[actor.organization.slug, appeal.public_id]),
        {"decision": "deny", "response": ""},
        follow=True,
    )

    assert "Nothing was decided." in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.OPEN


def test_a_viewer_cannot_decide_and_another_lab_gets_a_404(client):
    actor, _, (expert,), (annotation,) = _rejected_answers()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    decide = reverse("payments:appeal_decide", args=[actor.organization.slug, appeal.public_id])

    client.force_login(lab_viewer(actor))
    response = client.post(decide, {"decision": "uphold"}, follow=True)
    assert "Only owners and managers can answer appeals." in response.content.decode()

    client.force_login(lab_user())
    assert (
        client.get(reverse("payments:lab_appeals", args=[actor.organization.slug])).status_code
        == 404
    )
    assert client.post(decide, {"decision": "uphold"}).status_code == 404

    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.OPEN
    assert expert_account(user=expert, currency="USD").balance_cents == 0


def test_an_escalated_appeal_shows_as_with_staff_without_a_form(client):
    actor, _, (expert,), (annotation,) = _rejected_answers()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    appeals.appeals_escalate_overdue(now=appeal.respond_by + timedelta(seconds=1))
    client.force_login(actor.user)

    page = client.get(
        reverse("payments:lab_appeals", args=[actor.organization.slug])
    ).content.decode()

    assert "With staff" in page
    assert 'data-testid="appeal-decide-form"' not in page


def test_the_lab_sees_the_expert_under_its_pseudonym_for_bonuses(client):
    actor, _, (expert,), (annotation,) = _rejected_answers()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    appeals.appeal_decide(actor=actor, appeal=appeal, uphold=True, response="Fair point.")
    client.force_login(actor.user)

    page = client.get(
        reverse("payments:lab_appeals", args=[actor.organization.slug])
    ).content.decode()

    known_as = lab_pseudonym(actor.organization.pk, expert.pk)
    assert page.count(known_as) == 1  # the decided appeal's row
    assert f"Expert {expert.expert_profile.public_id.hex[:8]}" not in page
    assert reverse("payments:billing", args=[actor.organization.slug]) in page


def test_past_the_deadline_the_lab_has_no_form_and_a_late_answer_changes_nothing(client):
    actor, _, (expert,), (annotation,) = _rejected_answers()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    Appeal.objects.filter(pk=appeal.pk).update(respond_by=timezone.now() - timedelta(seconds=1))
    client.force_login(actor.user)
    address = reverse("payments:lab_appeals", args=[actor.organization.slug])

    page = client.get(address).content.decode()

    assert page.count('data-testid="waiting-appeal"') == 1
    assert "With staff" in page
    assert 'data-testid="appeal-past-deadline"' in page
    assert 'data-testid="appeal-decide-form"' not in page

    # A form loaded before the deadline, sent after it.
    response = client.post(
        reverse("payments:appeal_decide", args=[actor.organization.slug, appeal.public_id]),
        {"decision": "uphold", "response": "Fair point."},
        follow=True,
    )

    assert response.redirect_chain == [(address, 302)]
    assert DEADLINE_PASSED in response.content.decode()
    appeal.refresh_from_db()
    assert (appeal.status, appeal.response, appeal.decided_by) == (AppealStatus.OPEN, "", None)
    assert Annotation.objects.get(pk=annotation.pk).status == AnnotationStatus.REJECTED
    assert expert_account(user=expert, currency="USD").balance_cents == 0


# Disputes ------------------------------------------------------------------------------------


def test_the_lab_disputes_an_accepted_answer_from_its_review_page(client):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    review.annotation_accept(actor=actor, annotation=annotation)
    client.force_login(actor.user)

    page = client.get(_review_page(actor, project, annotation)).content.decode()
    assert 'data-testid="dispute-form"' in page

    response = client.post(
        _dispute_url(actor, project, annotation), {"reason": "Copied rationale."}, follow=True
    )

    assert response.redirect_chain == [(_review_page(actor, project, annotation), 302)]
    page = response.content.decode()
    assert "Dispute sent" in page
    assert 'data-testid="dispute-status"' in page
    assert 'data-testid="dispute-form"' not in page
    dispute = Dispute.objects.get()
    assert (dispute.annotation_id, dispute.reason) == (annotation.pk, "Copied rationale.")


def test_a_waiting_answer_has_no_dispute_form_and_another_lab_gets_a_404(client):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    client.force_login(actor.user)

    assert (
        'data-testid="dispute-form"'
        not in client.get(_review_page(actor, project, annotation)).content.decode()
    )
    refused = client.post(_dispute_url(actor, project, annotation), {"reason": "x"}, follow=True)
    assert "Only an accepted answer can be disputed." in refused.content.decode()

    client.force_login(lab_user())
    response = client.post(_dispute_url(actor, project, annotation), {"reason": "x"})
    assert response.status_code == 404
    assert not Dispute.objects.exists()


# Staff ---------------------------------------------------------------------------------------


def _disputed(count: int):
    actor, project, experts = workspace(experts=count, task_count=count, overlap=1)
    disputes = []
    for person in experts:
        annotation = submit_next(person, project)
        review.annotation_accept(actor=actor, annotation=annotation)
        disputes.append(
            appeals.dispute_open(actor=actor, annotation=annotation, reason="Copied rationale.")
        )
    return actor, project, experts, disputes


def test_staff_see_open_disputes_and_escalated_appeals_with_bounded_queries(
    client, django_assert_num_queries
):
    person, secret = staff_user(with_totp=True)
    _disputed(1)
    _, _, (expert,), (annotation,) = _rejected_answers()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    appeals.appeals_escalate_overdue(now=appeal.respond_by + timedelta(seconds=1))
    log_in_staff(client, person, secret)
    address = reverse("payments:staff_disputes")
    client.get(address)

    with django_assert_num_queries(8) as first:
        page = client.get(address).content.decode()

    assert page.count('data-testid="open-dispute"') == 1
    assert page.count('data-testid="escalated-appeal"') == 1
    assert "Copied rationale." in page
    assert "&lt;b&gt;40&lt;/b&gt;" in page

    _disputed(2)
    with django_assert_num_queries(len(first.captured_queries)):
        page = client.get(address).content.decode()
    assert page.count('data-testid="open-dispute"') == 3


def test_staff_uphold_a_dispute_from_the_queue(client):
    person, secret = staff_user(with_totp=True)
    _, project, (expert,), (dispute,) = _disputed(1)
    log_in_staff(client, person, secret)
    escrow_before = escrow_account(project=project).balance_cents

    response = client.post(
        reverse("payments:staff_dispute_decide", args=[dispute.public_id]),
        {"decision": "uphold", "note": "Copied word for word."},
        follow=True,
    )

    assert "Decision recorded" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.UPHELD
    assert Annotation.objects.get(pk=dispute.annotation_id).status == AnnotationStatus.REJECTED
    assert expert_account(user=expert, currency="USD").balance_cents == 0
    assert escrow_account(project=project).balance_cents > escrow_before


def test_staff_uphold_an_escalated_appeal_from_the_queue(client):
    person, secret = staff_user(with_totp=True)
    _, _, (expert,), (annotation,) = _rejected_answers()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    appeals.appeals_escalate_overdue(now=appeal.respond_by + timedelta(seconds=1))
    log_in_staff(client, person, secret)

    client.post(
        reverse("payments:staff_appeal_decide", args=[appeal.public_id]),
        {"decision": "uphold", "note": ""},
    )

    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.UPHELD
    assert expert_account(user=expert, currency="USD").balance_cents == 500


def test_staff_see_the_expert_as_the_lab_does_and_decide_an_overdue_open_appeal(client):
    person, secret = staff_user(with_totp=True)
    actor, _, (expert,), (annotation,) = _rejected_answers()
    appeal = appeals.appeal_open(expert=expert, annotation=annotation, note=NOTE)
    Appeal.objects.filter(pk=appeal.pk).update(respond_by=timezone.now() - timedelta(seconds=1))
    log_in_staff(client, person, secret)

    page = client.get(reverse("payments:staff_disputes")).content.decode()

    # Not escalated yet (the task runs hourly), but the lab can no longer answer it.
    assert page.count('data-testid="escalated-appeal"') == 1
    assert lab_pseudonym(actor.organization.pk, expert.pk) in page

    response = client.post(
        reverse("payments:staff_appeal_decide", args=[appeal.public_id]),
        {"decision": "uphold", "note": ""},
        follow=True,
    )

    assert "Decision recorded" in response.content.decode()
    appeal.refresh_from_db()
    assert (appeal.status, appeal.decided_by) == (AppealStatus.UPHELD, person)
    assert expert_account(user=expert, currency="USD").balance_cents == 500
    assert 'data-testid="escalated-appeal"' not in response.content.decode()


def test_non_staff_get_a_404_and_decide_nothing(client):
    actor, _, _, (dispute,) = _disputed(1)
    client.force_login(actor.user)

    assert client.get(reverse("payments:staff_disputes")).status_code == 404
    response = client.post(
        reverse("payments:staff_dispute_decide", args=[dispute.public_id]),
        {"decision": "uphold", "note": "Mine now."},
    )

    assert response.status_code == 404
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OPEN
