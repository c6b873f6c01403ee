"""Lab review pages: the queue and its filters, one annotation and its decision, bulk accept,
edge cases, the notifications they send, scoping, and the project's workspace settings."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from marketplace.models import Notification
from projects.dispatch import services as dispatch
from projects.models import Annotation, AnnotationReview, Project
from projects.review import services as review_services
from projects.states import AiPolicy, AnnotationStatus, DispatchOrder, ProjectStatus
from projects.views import review as review_views
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import lab_viewer, submit_next, workspace

pytestmark = pytest.mark.django_db

FEEDBACK = "The rationale ignores the renal risk."


def url(name: str, project: Project, *args: Any) -> str:
    return reverse(f"projects:{name}", args=[project.organization.slug, project.public_id, *args])


def listed(page: str, annotations: list[Annotation]) -> list[Annotation]:
    """The given annotations whose rows the page shows, in the page's order."""
    shown = [a for a in annotations if str(a.public_id) in page]
    return sorted(shown, key=lambda a: page.index(str(a.public_id)))


def pseudonym_of(annotation: Annotation) -> str:
    return f"Expert {annotation.expert.expert_profile.public_id.hex[:8]}"


def statuses(*annotations: Annotation) -> list[str]:
    return [Annotation.objects.get(pk=a.pk).status for a in annotations]


# The queue ---------------------------------------------------------------------------------


def test_queue_shows_waiting_annotations_with_their_signals(client):
    actor, project, experts = workspace(experts=2, task_count=2, overlap=2)
    first = submit_next(experts[0], project, confidence=35)
    second = submit_next(
        experts[1], project, preference="b_better", is_edge_case=True, edge_case_note="Odd"
    )
    Annotation.objects.filter(pk=first.pk).update(time_spent_seconds=125, paste_count=2)
    client.force_login(actor.user)

    response = client.get(url("review_queue", project))

    page = response.content.decode()
    assert response.status_code == 200
    assert listed(page, [first, second]) == [first, second]
    assert pseudonym_of(first) in page
    assert pseudonym_of(second) in page
    assert "A is much better" in page
    assert "B is better" in page
    assert "2:05" in page
    assert "2 pastes" in page
    assert "flagged" in page
    assert f'name="annotations" value="{first.public_id}"' in page
    assert 'id="select-all"' in page
    assert ">Accept selected</button>" in page
    assert "js/review.js" in page
    # The counts at the top and in the tab.
    assert re.search(r'data-testid="review-waiting"[^>]*>2<', page)
    assert re.search(r'data-testid="edge-cases-open"[^>]*>1<', page)
    # Labs never see who the experts are.
    assert experts[0].email not in page
    assert experts[0].full_name not in page


def test_each_filter_narrows_the_queue(client):
    actor, project, experts = workspace(experts=3, task_count=2, overlap=2)
    low = submit_next(experts[0], project, confidence=20, preference="b_better")
    high = submit_next(experts[1], project, confidence=95)
    flagged = submit_next(
        experts[2], project, confidence=60, is_edge_case=True, edge_case_note="Ambiguous"
    )
    everyone = [low, high, flagged]
    client.force_login(actor.user)

    def queue(**params: str) -> list[Annotation]:
        response = client.get(url("review_queue", project), params)
        assert response.status_code == 200
        return listed(response.content.decode(), everyone)

    assert queue() == [low, high, flagged]
    assert queue(expert=pseudonym_of(low)) == [low]
    assert queue(flagged="yes") == [flagged]
    assert queue(min_confidence="50") == [high, flagged]
    assert queue(min_confidence="50", max_confidence="90") == [flagged]
    assert queue(max_confidence="30") == [low]
    # low and high disagree on the first task; flagged is alone on the second.
    assert queue(disagreement="yes") == [low, high]
    assert queue(disagreement="no") == [flagged]
    assert queue(gold="yes") == []
    assert queue(gold="no") == [low, high, flagged]
    review_services.annotation_accept(actor=actor, annotation=high)
    assert queue() == [low, flagged]
    assert queue(status="accepted") == [high]
    assert queue(status="all") == [low, high, flagged]


def test_the_gold_filter_finds_gold_answers(client, monkeypatch):
    actor, project, (expert,) = workspace(task_count=1, gold=1, gold_rate_percent=50)
    monkeypatch.setattr(dispatch.secrets, "randbelow", lambda bound: 0)  # the gold draw wins
    gold = submit_next(expert, project)
    monkeypatch.setattr(dispatch.secrets, "randbelow", lambda bound: bound - 1)  # it loses
    regular = submit_next(expert, project)
    assert (gold.task.is_gold, regular.task.is_gold) == (True, False)
    client.force_login(actor.user)

    gold_page = client.get(url("review_queue", project), {"gold": "yes"}).content.decode()
    regular_page = client.get(url("review_queue", project), {"gold": "no"}).content.decode()

    assert listed(gold_page, [gold, regular]) == [gold]
    assert listed(regular_page, [gold, regular]) == [regular]


def test_a_bad_filter_is_named_and_the_queue_shows_unfiltered(client):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    client.force_login(actor.user)

    for params, named in (
        ({"min_confidence": "high"}, "min_confidence: enter a whole number from 0 to 100."),
        ({"status": "maybe"}, "status: choose one of"),
        ({"expert": "Dr Smith"}, "expert: enter the pseudonym as shown"),
        ({"min_confidence": "80", "max_confidence": "20"}, "must not be above max_confidence"),
        ({"gold": "perhaps"}, "gold: use yes or no."),
    ):
        response = client.get(url("review_queue", project), params)

        page = html.unescape(response.content.decode())
        assert response.status_code == 400
        assert named in page
        assert listed(page, [annotation]) == [annotation]
        assert 'name="min_confidence" min="0" max="100" step="1" value=""' in page


def test_the_queue_pages_keep_the_filters(client, monkeypatch):
    monkeypatch.setattr(review_views, "REVIEW_PER_PAGE", 2)
    actor, project, experts = workspace(experts=3, task_count=1, overlap=3)
    annotations = [submit_next(expert, project) for expert in experts]
    client.force_login(actor.user)

    first = client.get(url("review_queue", project), {"status": "all", "max_confidence": "99"})
    second = client.get(
        url("review_queue", project), {"status": "all", "max_confidence": "99", "page": "2"}
    )

    first_page = first.content.decode()
    assert listed(first_page, annotations) == annotations[:2]
    assert "?status=all&amp;max_confidence=99&amp;page=2" in first_page
    assert listed(second.content.decode(), annotations) == annotations[2:]


def test_queue_query_count_does_not_grow(client, django_assert_num_queries):
    actor, project, experts = workspace(experts=6, task_count=2, overlap=3)
    for expert in experts[:3]:
        submit_next(expert, project, is_edge_case=True, edge_case_note="Hm")
    client.force_login(actor.user)
    address = url("review_queue", project)
    client.get(address)

    # session, user, membership, project, page count, counts, page rows, unread notifications
    with django_assert_num_queries(8):
        assert client.get(address).content.decode().count('data-testid="review-row"') == 3
    for expert in experts[3:]:
        submit_next(expert, project)
    with django_assert_num_queries(8):
        assert client.get(address).content.decode().count('data-testid="review-row"') == 6


# One annotation ----------------------------------------------------------------------------


def test_annotation_page_shows_the_task_the_answer_and_the_others(
    client, django_assert_num_queries
):
    actor, project, experts = workspace(experts=3, task_count=1, overlap=3)
    mine = submit_next(experts[0], project, rationale="Interaction is real.")
    others = [submit_next(expert, project, preference="tie") for expert in experts[1:]]
    Annotation.objects.filter(pk=mine.pk).update(
        ai_used=True, ai_disclosure="Checked a drug database summary", focus_loss_count=3
    )
    review_services.annotation_request_revision(actor=actor, annotation=others[0], feedback="Why?")
    client.force_login(actor.user)
    address = url("annotation_review", project, mine.public_id)
    client.get(address)

    # session, user, membership, project, annotation, its reviews, the other annotations,
    # unread notifications
    with django_assert_num_queries(8):
        response = client.get(address)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Is it safe to take ibuprofen with lisinopril?" in page  # the task, rendered
    assert "Interaction is real." in page  # the answer, read-only
    assert re.search(r'<fieldset class="answer-fields"\s+disabled>', page)
    assert "3 focus losses" in page
    assert "Checked a drug database summary" in page
    for other in others:
        assert pseudonym_of(other) in page
    assert "About the same" in page
    assert ">Accept and next</button>" in page
    # The review history names the lab's own member.
    other_page = client.get(url("annotation_review", project, others[0].public_id))
    assert html.escape(actor.user.display_name) in other_page.content.decode()


def test_accept_goes_to_the_next_waiting_annotation_then_back_to_the_queue(client):
    actor, project, experts = workspace(experts=2, task_count=1, overlap=2)
    first, second = (submit_next(expert, project) for expert in experts)
    client.force_login(actor.user)

    response = client.post(
        url("annotation_decide", project, first.public_id),
        {"decision": "accept", "query": "status=all"},
    )

    assert response.status_code == 302
    assert response.url == url("annotation_review", project, second.public_id) + "?status=all"
    assert statuses(first, second) == [AnnotationStatus.ACCEPTED, AnnotationStatus.SUBMITTED]
    review = AnnotationReview.objects.get(annotation=first)
    assert (review.decision, review.reviewer_id) == ("accept", actor.user.pk)

    response = client.post(
        url("annotation_decide", project, second.public_id), {"decision": "accept"}
    )

    assert response.url == url("review_queue", project)
    assert statuses(second) == [AnnotationStatus.ACCEPTED]
    assert not Notification.objects.filter(recipient__in=experts).exists()


def test_reject_needs_feedback_and_changes_nothing_without_it(
    client, django_capture_on_commit_callbacks
):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    client.force_login(actor.user)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("annotation_decide", project, annotation.public_id),
            {"decision": "reject", "feedback": "   "},
        )

    assert response.status_code == 400
    assert "Say why you reject it" in html.unescape(response.content.decode())
    assert statuses(annotation) == [AnnotationStatus.SUBMITTED]
    assert not AnnotationReview.objects.exists()
    assert not Notification.objects.filter(recipient=expert).exists()
    assert mail.outbox == []


def test_reject_with_feedback_tells_the_expert(client, django_capture_on_commit_callbacks):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    client.force_login(actor.user)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("annotation_decide", project, annotation.public_id),
            {"decision": "reject", "feedback": FEEDBACK},
        )

    assert response.status_code == 302
    assert statuses(annotation) == [AnnotationStatus.REJECTED]
    assert AnnotationReview.objects.get(annotation=annotation).feedback == FEEDBACK
    notification = Notification.objects.get(recipient=expert)
    assert notification.kind == "review.reject"
    assert notification.link == reverse("expert_annotation", args=[annotation.public_id])
    assert [message.to for message in mail.outbox] == [[expert.email]]
    assert "rejected your answer" in mail.outbox[0].body


def test_revise_needs_feedback_and_tells_the_expert(client, django_capture_on_commit_callbacks):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    client.force_login(actor.user)
    mail.outbox.clear()

    missing = client.post(
        url("annotation_decide", project, annotation.public_id), {"decision": "revise"}
    )
    assert missing.status_code == 400
    assert statuses(annotation) == [AnnotationStatus.SUBMITTED]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url("annotation_decide", project, annotation.public_id),
            {"decision": "revise", "feedback": "Name the interaction."},
        )

    assert statuses(annotation) == [AnnotationStatus.REVISION]
    assert Notification.objects.get(recipient=expert).kind == "review.revise"
    assert [message.to for message in mail.outbox] == [[expert.email]]


def test_a_decided_annotation_cannot_be_decided_again(client):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    review_services.annotation_accept(actor=actor, annotation=annotation)
    client.force_login(actor.user)

    response = client.post(
        url("annotation_decide", project, annotation.public_id),
        {"decision": "reject", "feedback": FEEDBACK},
        follow=True,
    )

    assert "it cannot be rejected now" in response.content.decode()
    assert statuses(annotation) == [AnnotationStatus.ACCEPTED]
    assert AnnotationReview.objects.filter(annotation=annotation).count() == 1


# Bulk accept -------------------------------------------------------------------------------


def test_bulk_accept_takes_only_waiting_annotations(client):
    actor, project, experts = workspace(experts=4, task_count=2, overlap=2)
    waiting, also_waiting, rejected, untouched = (
        submit_next(expert, project) for expert in experts
    )
    review_services.annotation_reject(actor=actor, annotation=rejected, feedback=FEEDBACK)
    client.force_login(actor.user)

    response = client.post(
        url("review_accept_bulk", project),
        {
            "annotations": [waiting.public_id, also_waiting.public_id, rejected.public_id],
            "query": "status=all&flagged=no",
        },
        follow=True,
    )

    assert response.redirect_chain == [
        (url("review_queue", project) + "?status=all&flagged=no", 302)
    ]
    assert "Accepted 2 annotations." in response.content.decode()
    assert statuses(waiting, also_waiting, rejected, untouched) == [
        AnnotationStatus.ACCEPTED,
        AnnotationStatus.ACCEPTED,
        AnnotationStatus.REJECTED,
        AnnotationStatus.SUBMITTED,
    ]


def test_bulk_accept_with_nothing_chosen_says_so(client):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    client.force_login(actor.user)

    response = client.post(url("review_accept_bulk", project), {}, follow=True)

    assert "Choose at least one annotation." in response.content.decode()
    assert statuses(annotation) == [AnnotationStatus.SUBMITTED]


# Edge cases --------------------------------------------------------------------------------


def test_edge_cases_list_open_ones_and_resolving_with_a_reply_tells_the_expert(
    client, django_capture_on_commit_callbacks, django_assert_num_queries
):
    actor, project, experts = workspace(experts=3, task_count=1, overlap=3)
    flagged = [
        submit_next(expert, project, is_edge_case=True, edge_case_note=f"Unclear dosage {n}")
        for n, expert in enumerate(experts[:2])
    ]
    plain = submit_next(experts[2], project)
    client.force_login(actor.user)
    address = url("edge_cases", project)
    client.get(address)

    # session, user, membership, project, page count, counts, page rows, unread notifications
    with django_assert_num_queries(8):
        page = client.get(address).content.decode()

    assert listed(page, [*flagged, plain]) == [flagged[1], flagged[0]]  # newest first
    assert "Unclear dosage 0" in page
    assert "Unclear dosage 1" in page
    assert pseudonym_of(flagged[0]) in page
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url("edge_case_resolve", project, flagged[0].public_id),
            {"reply": "Assume the standard adult dose."},
        )

    assert response.status_code == 302
    resolved = Annotation.objects.get(pk=flagged[0].pk)
    assert resolved.edge_case_resolved_at is not None
    assert resolved.edge_case_reply == "Assume the standard adult dose."
    assert Notification.objects.get(recipient=experts[0]).kind == "review.edge_case"
    assert [message.to for message in mail.outbox] == [[experts[0].email]]
    open_page = client.get(address).content.decode()
    assert listed(open_page, flagged) == [flagged[1]]
    resolved_page = client.get(address, {"resolved": "1"}).content.decode()
    assert listed(resolved_page, flagged) == [flagged[0]]
    assert "Assume the standard adult dose." in resolved_page


def test_resolving_without_a_reply_sends_nothing(client, django_capture_on_commit_callbacks):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project, is_edge_case=True, edge_case_note="Broken")
    client.force_login(actor.user)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("edge_case_resolve", project, annotation.public_id), {"reply": ""})

    assert Annotation.objects.get(pk=annotation.pk).edge_case_resolved_at is not None
    assert not Notification.objects.filter(recipient=expert).exists()
    assert mail.outbox == []


# Who may do what ---------------------------------------------------------------------------


def test_viewers_see_the_queue_but_cannot_act(client):
    actor, project, experts = workspace(experts=2, task_count=1, overlap=2)
    annotation = submit_next(experts[0], project, is_edge_case=True, edge_case_note="Odd")
    other = submit_next(experts[1], project)
    client.force_login(lab_viewer(actor))

    queue = client.get(url("review_queue", project)).content.decode()
    assert listed(queue, [annotation, other]) == [annotation, other]
    assert "Accept selected" not in queue
    assert 'name="annotations"' not in queue
    detail = client.get(url("annotation_review", project, annotation.public_id)).content.decode()
    assert "Accept and next" not in detail
    assert ">Resolve</button>" not in client.get(url("edge_cases", project)).content.decode()

    posts = [
        (url("review_accept_bulk", project), {"annotations": [annotation.public_id]}),
        (url("annotation_decide", project, annotation.public_id), {"decision": "accept"}),
        (
            url("annotation_decide", project, other.public_id),
            {"decision": "reject", "feedback": FEEDBACK},
        ),
        (url("edge_case_resolve", project, annotation.public_id), {"reply": "Fine"}),
    ]
    for address, data in posts:
        response = client.post(address, data, follow=True)
        assert "Only owners and managers can" in response.content.decode()

    assert statuses(annotation, other) == [AnnotationStatus.SUBMITTED, AnnotationStatus.SUBMITTED]
    assert Annotation.objects.get(pk=annotation.pk).edge_case_resolved_at is None
    assert not AnnotationReview.objects.exists()


def test_another_labs_project_and_annotations_are_not_found(client):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project, is_edge_case=True, edge_case_note="Odd")
    _, other_project, (other_expert,) = workspace()
    foreign = submit_next(other_expert, other_project)
    outsider = project_factories.manager_actor()
    client.force_login(outsider.user)

    own_slug = [
        reverse(f"projects:{name}", args=[outsider.organization.slug, project.public_id, *args])
        for name, args in (
            ("review_queue", []),
            ("edge_cases", []),
            ("annotation_review", [annotation.public_id]),
        )
    ]
    for address in [
        url("review_queue", project),
        url("edge_cases", project),
        url("annotation_review", project, annotation.public_id),
        *own_slug,
    ]:
        assert client.get(address).status_code == 404, address
    for address, data in (
        (url("review_accept_bulk", project), {"annotations": [annotation.public_id]}),
        (url("annotation_decide", project, annotation.public_id), {"decision": "accept"}),
        (url("edge_case_resolve", project, annotation.public_id), {"reply": "x"}),
    ):
        assert client.post(address, data).status_code == 404, address

    # The lab's own member cannot reach another project's annotation through its project.
    client.force_login(actor.user)
    for address in (
        url("annotation_review", project, foreign.public_id),
        url("annotation_review", other_project, foreign.public_id),
    ):
        assert client.get(address).status_code == 404
    for name, data in (
        ("annotation_decide", {"decision": "accept"}),
        ("edge_case_resolve", {"reply": "x"}),
    ):
        assert client.post(url(name, project, foreign.public_id), data).status_code == 404
    assert statuses(annotation, foreign) == [AnnotationStatus.SUBMITTED] * 2
    # A bulk accept of another project's annotation accepts nothing.
    response = client.post(
        url("review_accept_bulk", project), {"annotations": [foreign.public_id]}, follow=True
    )
    assert "Accepted 0 annotations." in response.content.decode()
    assert statuses(foreign) == [AnnotationStatus.SUBMITTED]


# The project's pages and form --------------------------------------------------------------


def test_project_pages_link_the_review_and_show_the_workspace_settings(client):
    actor, project, (expert,) = workspace(
        lease_minutes=45, dispatch_order=DispatchOrder.BREADTH, auto_accept_days=0
    )
    submit_next(expert, project, is_edge_case=True, edge_case_note="Odd")
    client.force_login(actor.user)

    page = client.get(url("detail", project)).content.decode()

    assert url("review_queue", project) in page
    assert url("edge_cases", project) in page
    assert url("review_badges", project) in page
    assert "45 minutes" in page
    assert "Spread answers across tasks first" in page
    assert "AI tools are not allowed" in page
    assert "never" in page
    badges = client.get(url("review_badges", project)).content.decode()
    assert re.search(r'data-testid="review-waiting"[^>]*>1<', badges)
    assert re.search(r'data-testid="edge-cases-open"[^>]*>1<', badges)


def test_project_page_query_count_with_the_review_links(client, django_assert_num_queries):
    actor = project_factories.manager_actor()
    project = project_factories.project(actor)
    project_factories.tasks(project, 2)
    client.force_login(actor.user)
    client.get(url("detail", project))

    # The counts load separately (htmx), so the page costs what it did.
    with django_assert_num_queries(15):
        client.get(url("detail", project))


def _form_data(project: Project, **overrides: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": project.title,
        "summary": project.summary,
        "domain": str(project.domain_id),
        "task_type": project.task_type,
        "settings_lines": "",
        "task_settings_json": "",
        "overlap": str(project.overlap),
        "price": "5.00",
        "seats": str(project.seats),
        "budget": "",
        "gold_rate_percent": str(project.gold_rate_percent),
        "min_gold_accuracy_percent": str(project.min_gold_accuracy_percent),
        "language_level": project.language_level,
    }
    data.update(overrides)
    return data


def test_project_form_saves_the_workspace_settings(client):
    actor = project_factories.manager_actor()
    project = project_factories.project(actor)
    client.force_login(actor.user)
    form = client.get(reverse("projects:edit", args=[actor.organization.slug, project.public_id]))
    assert 'name="lease_minutes"' in form.content.decode()

    response = client.post(
        reverse("projects:edit", args=[actor.organization.slug, project.public_id]),
        _form_data(
            project,
            lease_minutes="90",
            dispatch_order=DispatchOrder.BREADTH,
            ai_policy=AiPolicy.DISCLOSED,
            auto_accept_days="0",
        ),
    )

    assert response.status_code == 302
    project.refresh_from_db()
    assert (
        project.lease_minutes,
        project.dispatch_order,
        project.ai_policy,
        project.auto_accept_days,
    ) == (90, DispatchOrder.BREADTH, AiPolicy.DISCLOSED, 0)


def test_project_form_refuses_settings_out_of_range(client):
    actor = project_factories.manager_actor()
    project = project_factories.project(actor)
    client.force_login(actor.user)
    address = reverse("projects:edit", args=[actor.organization.slug, project.public_id])

    for field, value in (
        ("lease_minutes", "4"),
        ("lease_minutes", "241"),
        ("auto_accept_days", "91"),
        ("dispatch_order", "random"),
        ("ai_policy", "sometimes"),
    ):
        response = client.post(address, _form_data(project, **{field: value}))
        assert response.status_code == 400, field

    project.refresh_from_db()
    assert (project.lease_minutes, project.auto_accept_days) == (30, 7)
    assert (project.dispatch_order, project.ai_policy) == (DispatchOrder.DEPTH, AiPolicy.FORBIDDEN)


def test_the_ai_policy_is_locked_once_the_project_is_live(client):
    actor, project, _ = workspace()
    assert project.status == ProjectStatus.ACTIVE
    client.force_login(actor.user)
    address = reverse("projects:edit", args=[actor.organization.slug, project.public_id])
    form = client.get(address).content.decode()
    assert re.search(r'<select[^>]*name="ai_policy"[^>]*disabled', form)

    response = client.post(
        address,
        _form_data(
            project,
            lease_minutes="15",
            dispatch_order=DispatchOrder.BREADTH,
            ai_policy=AiPolicy.ALLOWED,
            auto_accept_days="3",
        ),
    )

    assert response.status_code == 302
    project.refresh_from_db()
    assert (
        project.lease_minutes,
        project.dispatch_order,
        project.ai_policy,
        project.auto_accept_days,
    ) == (15, DispatchOrder.BREADTH, AiPolicy.FORBIDDEN, 3)


def test_a_decision_on_an_answer_changed_since_it_was_read_is_refused(client):
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project, rationale="First reasoning.")
    client.force_login(actor.user)
    page = client.get(url("annotation_review", project, annotation.public_id)).content.decode()
    assert '<input type="hidden" name="seen_edit_count" value="0">' in page
    # The expert changes the answer while the reviewer reads it.
    task_type_result = {**annotation.result, "rationale": "Revised reasoning, now complete."}
    dispatch.annotation_edit(expert=expert, annotation=annotation, result=task_type_result)

    response = client.post(
        url("annotation_decide", project, annotation.public_id),
        {"decision": "accept", "seen_edit_count": "0"},
    )

    assert response.status_code == 409
    body = response.content.decode()
    assert "The expert changed this answer after you opened it." in body
    assert "Revised reasoning, now complete." in body  # the fresh answer
    assert '<input type="hidden" name="seen_edit_count" value="1">' in body
    assert statuses(annotation) == [AnnotationStatus.SUBMITTED]
    assert not AnnotationReview.objects.filter(annotation=annotation).exists()

    accepted = client.post(
        url("annotation_decide", project, annotation.public_id),
        {"decision": "accept", "seen_edit_count": "1"},
    )

    assert accepted.status_code == 302
    assert statuses(annotation) == [AnnotationStatus.ACCEPTED]


def test_an_answer_sent_back_for_revision_may_still_be_accepted_or_rejected(client):
    actor, project, experts = workspace(experts=2, task_count=1, overlap=2)
    kept, dropped = (submit_next(expert, project) for expert in experts)
    for annotation in (kept, dropped):
        review_services.annotation_request_revision(
            actor=actor, annotation=annotation, feedback="Say more."
        )
    client.force_login(actor.user)

    page = client.get(url("annotation_review", project, kept.public_id)).content.decode()
    assert ">Accept and next</button>" in page
    assert 'value="reject" class="danger">Reject</button>' in page
    assert 'value="revise"' not in page
    assert 'name="seen_edit_count" value="0"' in page

    accepted = client.post(
        url("annotation_decide", project, kept.public_id),
        {"decision": "accept", "seen_edit_count": "0"},
    )
    rejected = client.post(
        url("annotation_decide", project, dropped.public_id),
        {"decision": "reject", "feedback": FEEDBACK, "seen_edit_count": "0"},
    )

    assert accepted.status_code == rejected.status_code == 302
    assert statuses(kept, dropped) == [AnnotationStatus.ACCEPTED, AnnotationStatus.REJECTED]
    assert AnnotationReview.objects.filter(annotation__in=[kept, dropped]).count() == 4


def test_other_answers_are_a_compact_summary_without_duplicate_ids(client):
    actor, project, experts = workspace(experts=3, task_count=1, overlap=3)
    mine = submit_next(experts[0], project)
    submit_next(experts[1], project, preference="tie", rationale="Both miss the renal risk.")
    submit_next(experts[2], project, preference="b_better", rationale="B is safer.")
    client.force_login(actor.user)

    page = client.get(url("annotation_review", project, mine.public_id)).content.decode()

    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert page.count('data-testid="other-annotation"') == 2
    assert "Both miss the renal risk." in page
    assert "B is safer." in page
    assert "About the same" in page
    assert page.count('<fieldset class="answer-fields"') == 1  # only the answer under review
