"""The annotation workspace REST API: experts take, draft, submit and skip tasks and read
their history; labs list, filter and review annotations and answer edge cases. Scope (404),
viewers (403), gold secrecy and query counts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace import services as core_services
from marketplace.models import AuditEvent, Membership, Notification, User
from projects import services
from projects.access import LabActor
from projects.dispatch import services as dispatch
from projects.matching.models import ProjectMember
from projects.matching.selectors import pseudonym
from projects.models import Annotation, Assignment, GoldAnswer, Project, Task
from projects.review import services as review
from projects.review.models import AnnotationReview
from projects.states import AnnotationStatus, AssignmentStatus, MemberStatus
from tests.projects.workspace_factories import answer, lab_viewer, submit_next, workspace

pytestmark = pytest.mark.django_db

EXPERT_NAME = "Zebulon Quartermain"
GOLD_RATIONALE = "SECRET-GOLD-RATIONALE-7f3a"
GOLD_EXPLANATION = "SECRET-GOLD-EXPLANATION-9c1d"

ASSIGNMENT_KEYS = {
    "id",
    "project",
    "task",
    "status",
    "leased_at",
    "expires_at",
    "draft",
    "draft_saved_at",
    "settings",
}
EXPERT_ANNOTATION_KEYS = {
    "id",
    "project",
    "project_title",
    "task",
    "result",
    "confidence",
    "is_edge_case",
    "edge_case_note",
    "edge_case_reply",
    "edge_case_resolved_at",
    "status",
    "editable",
    "guidelines_version",
    "active_seconds",
    "ai_used",
    "ai_disclosure",
    "edit_count",
    "submitted_at",
    "reviewed_at",
    "reviews",
}
LAB_ROW_KEYS = {
    "id",
    "task",
    "is_gold",
    "expert",
    "result",
    "confidence",
    "is_edge_case",
    "edge_case_note",
    "edge_case_reply",
    "edge_case_resolved_at",
    "active_seconds",
    "paste_count",
    "pasted_chars",
    "focus_loss_count",
    "ai_used",
    "ai_disclosure",
    "edit_count",
    "guidelines_version",
    "status",
    "submitted_at",
    "reviewed_at",
    "disagreement",
}


def url(name: str, *args: Any) -> str:
    return reverse(f"api:{name}", args=args)


def key_header(actor: LabActor) -> dict[str, str]:
    """An API key of the actor's organisation, as the Authorization header."""
    membership = Membership.objects.get(organization=actor.organization, user=actor.user)
    issued = core_services.api_key_create(membership=membership, name="ci")
    return {"HTTP_AUTHORIZATION": f"Api-Key {issued.secret}"}


def as_user(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def call(client: APIClient, method: str, path: str, body: Any = None, **headers: str):
    if body is None:
        return getattr(client, method)(path, **headers)
    return getattr(client, method)(path, body, format="json", **headers)


def claim(client: APIClient, project: Project) -> dict[str, Any]:
    response = client.post(url("work-next", project.public_id))
    assert response.status_code == 200, response.content
    return response.json()


def submit(client: APIClient, assignment_id: Any, **body: Any):
    return client.post(url("work-assignment-submit", assignment_id), body, format="json")


def pid(expert: User) -> uuid.UUID:
    return expert.expert_profile.public_id


# Next ---------------------------------------------------------------------------------------


def test_next_leases_a_task_and_returns_it():
    _, project, (expert,) = workspace(task_count=2, lease_minutes=45, ai_policy="disclosed")
    client = as_user(expert)

    response = client.post(url("work-next", project.public_id))

    assert response.status_code == 200
    body = response.json()
    assignment = Assignment.objects.get()
    assert set(body) == ASSIGNMENT_KEYS
    assert body["id"] == str(assignment.public_id)
    assert body["project"] == str(project.public_id)
    assert body["task"] == {"data": assignment.task.data}
    assert body["status"] == "leased"
    assert body["draft"] is None
    assert body["draft_saved_at"] is None
    assert body["settings"] == {
        "task_type": "pairwise",
        "task_settings": {"criteria": [], "require_rationale": True},
        "ai_policy": "disclosed",
        "guidelines_version": 1,
        "lease_minutes": 45,
    }
    assert assignment.expert == expert
    assert assignment.status == AssignmentStatus.LEASED
    assert assignment.expires_at - assignment.leased_at == timedelta(minutes=45)
    assert assignment.task.reserved_count == 1


def test_next_again_gives_back_the_lease_held():
    _, project, (expert,) = workspace(task_count=3)
    client = as_user(expert)
    first = claim(client, project)

    again = claim(client, project)

    assert again["id"] == first["id"]
    assert Assignment.objects.count() == 1


def test_next_with_nothing_left_answers_204():
    _, project, (first, second) = workspace(experts=2, task_count=1, overlap=1)
    submit_next(first, project)

    response = as_user(second).post(url("work-next", project.public_id))

    assert response.status_code == 204
    assert response.content == b""
    assert not Assignment.objects.filter(expert=second).exists()


def test_next_on_a_paused_project_is_409_with_the_reason():
    actor, project, (expert,) = workspace()
    services.project_pause(actor=actor, project=project)

    response = as_user(expert).post(url("work-next", project.public_id))

    assert response.status_code == 409
    assert response.json() == {
        "code": "not_available",
        "detail": "“Medication safety preferences” is paused: no new tasks for now.",
    }
    assert not Assignment.objects.exists()


def test_next_for_a_paused_member_is_409_with_the_labs_reason():
    _, project, (expert,) = workspace()
    ProjectMember.objects.filter(expert=expert).update(
        status=MemberStatus.PAUSED, status_reason="Gold accuracy is low."
    )

    response = as_user(expert).post(url("work-next", project.public_id))

    assert response.status_code == 409
    assert response.json() == {
        "code": "not_available",
        "detail": "Your work on this project is paused. Gold accuracy is low.",
    }
    assert not Assignment.objects.exists()


def test_next_after_a_material_guidelines_change_sends_the_expert_to_read_them():
    actor, project, (expert,) = workspace()
    services.guidelines_publish(
        actor=actor, project=project, guidelines="# New rules", changelog="x", is_material=True
    )

    response = as_user(expert).post(url("work-next", project.public_id))

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "guidelines"
    assert body["detail"] == (
        "The guidelines changed. Read and acknowledge them before your next task."
    )
    assert body["guidelines_url"] == "http://testserver" + reverse(
        "project_guidelines", args=[project.public_id]
    )
    assert not Assignment.objects.exists()


def test_a_gold_task_is_served_without_anything_about_gold(monkeypatch):
    _, project, (expert,) = workspace(task_count=1, gold=1)
    Project.objects.filter(pk=project.pk).update(gold_rate_percent=50)
    gold_task = Task.objects.get(is_gold=True)
    GoldAnswer.objects.filter(task=gold_task).update(
        answer=answer(project, rationale=GOLD_RATIONALE), explanation=GOLD_EXPLANATION
    )
    monkeypatch.setattr(dispatch.secrets, "randbelow", lambda n: 0)  # always draw gold
    client = as_user(expert)

    served = client.post(url("work-next", project.public_id))
    assignment_id = served.json()["id"]
    shown = client.get(url("work-assignment", assignment_id))
    sent = submit(client, assignment_id, result=answer(project))
    history = client.get(url("work-annotation-list"))
    one = client.get(url("work-annotation-detail", sent.json()["annotation"]["id"]))

    assert Assignment.objects.get().task == gold_task
    for response in (served, shown, sent, history, one):
        assert response.status_code in (200, 201)
        assert GOLD_RATIONALE.encode() not in response.content
        assert GOLD_EXPLANATION.encode() not in response.content
        assert b"is_gold" not in response.content
        assert b"gold" not in response.content.lower()


# Session and user, the project, the member and the acknowledgement, the live leases, the
# expired-lease sweep (savepoint, select, release), the claim (savepoint, lock, counter,
# insert, release) and the assignment read back with its task and project.
NEXT_QUERIES = 12


def test_the_next_view_takes_as_many_queries_whatever_the_project_size(
    django_assert_num_queries,
):
    counts = []
    for size in (3, 40):
        _, project, (expert,) = workspace(task_count=size)
        client = as_user(expert)
        with django_assert_num_queries(NEXT_QUERIES) as captured:
            response = client.post(url("work-next", project.public_id))
        assert response.status_code == 200
        counts.append(len(captured.captured_queries))

    assert counts == [NEXT_QUERIES, NEXT_QUERIES]


def test_next_on_another_project_is_404():
    _, project, _ = workspace()
    _, _, (outsider,) = workspace()

    response = as_user(outsider).post(url("work-next", project.public_id))

    assert response.status_code == 404
    assert not Assignment.objects.exists()


# Drafts -------------------------------------------------------------------------------------


def test_a_draft_is_saved_with_the_signals_and_restored():
    _, project, (expert,) = workspace()
    client = as_user(expert)
    taken = claim(client, project)
    draft = {"preference": "a_better", "rationale": "Half written"}
    signals = {"active_seconds": 3, "pastes": 2, "pasted_chars": 40, "focus_losses": 1}

    saved = client.put(
        url("work-assignment-draft", taken["id"]),
        {"draft": draft, "signals": signals},
        format="json",
    )

    assert saved.status_code == 200
    assignment = Assignment.objects.get()
    assert saved.json() == {
        "saved_at": assignment.draft_saved_at.isoformat().replace("+00:00", "Z"),
        "expires_at": assignment.expires_at.isoformat().replace("+00:00", "Z"),
        "still_needed": True,
    }
    assert assignment.draft == draft
    assert (assignment.active_seconds, assignment.paste_count) == (3, 2)
    assert (assignment.pasted_chars, assignment.focus_loss_count) == (40, 1)
    restored = client.get(url("work-assignment", taken["id"])).json()
    assert restored["draft"] == draft
    assert claim(client, project)["draft"] == draft


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"draft": ["not", "an", "object"]}, "draft"),
        ({"signals": {"pastes": -1}}, "signals"),
        ({"draft": {}, "typo": 1}, "typo"),
    ],
)
def test_a_bad_draft_names_the_field_and_keeps_nothing(body, field):
    _, project, (expert,) = workspace()
    client = as_user(expert)
    taken = claim(client, project)

    response = client.put(url("work-assignment-draft", taken["id"]), body, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body.get("field") == field or field in body
    assignment = Assignment.objects.get()
    assert assignment.draft is None
    assert assignment.draft_saved_at is None


# Submit -------------------------------------------------------------------------------------


def test_submit_creates_the_annotation_and_returns_it():
    _, project, (expert,) = workspace()
    client = as_user(expert)
    taken = claim(client, project)
    result = answer(project, confidence=70, is_edge_case=True, edge_case_note="Odd dosage")

    response = submit(
        client,
        taken["id"],
        result=result,
        signals={"active_seconds": 4, "pastes": 1, "pasted_chars": 12, "focus_losses": 2},
    )

    assert response.status_code == 201
    body = response.json()
    annotation = Annotation.objects.get()
    assert set(body) == {"annotation", "next", "next_refusal"}
    assert body["next"] is None
    assert body["next_refusal"] is None
    shown = body["annotation"]
    assert set(shown) == EXPERT_ANNOTATION_KEYS
    assert shown["id"] == str(annotation.public_id)
    assert shown["task"]["data"] == Assignment.objects.get().task.data
    assert shown["result"] == {
        "preference": "a_much_better",
        "criteria": {},
        "rationale": "B misses a well-documented interaction.",
        "confidence": 70,
        "is_edge_case": True,
        "edge_case_note": "Odd dosage",
    }
    assert (shown["status"], shown["editable"], shown["reviews"]) == ("submitted", True, [])
    assert (shown["confidence"], shown["is_edge_case"], shown["active_seconds"]) == (70, True, 4)
    assert annotation.expert == expert
    assert (annotation.paste_count, annotation.pasted_chars, annotation.focus_loss_count) == (
        1,
        12,
        2,
    )
    assert Assignment.objects.get().status == AssignmentStatus.SUBMITTED


def test_submitting_twice_returns_the_same_annotation_once():
    _, project, (expert,) = workspace()
    client = as_user(expert)
    taken = claim(client, project)
    first = submit(client, taken["id"], result=answer(project))

    second = submit(client, taken["id"], result=answer(project))

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["annotation"] == first.json()["annotation"]
    assert Annotation.objects.count() == 1
    assert Task.objects.get(pk=Assignment.objects.get().task_id).annotation_count == 1


def test_submit_with_next_returns_the_next_lease():
    _, project, (expert,) = workspace(task_count=3)
    client = as_user(expert)
    taken = claim(client, project)

    response = submit(client, taken["id"], result=answer(project), next=True)

    assert response.status_code == 201
    following = response.json()["next"]
    assert set(following) == ASSIGNMENT_KEYS
    assert following["id"] != taken["id"]
    assert following["status"] == "leased"
    live = Assignment.objects.get(status=AssignmentStatus.LEASED)
    assert following["id"] == str(live.public_id)
    assert following["task"]["data"] == live.task.data
    assert Assignment.objects.count() == 2


def test_submit_with_next_when_nothing_is_left_has_no_next():
    _, project, (expert,) = workspace(task_count=1)
    client = as_user(expert)
    taken = claim(client, project)

    response = submit(client, taken["id"], result=answer(project), next=True)

    assert response.status_code == 201
    assert response.json()["next"] is None
    assert response.json()["next_refusal"] is None


def test_submit_with_next_on_a_paused_project_says_why_there_is_no_next():
    actor, project, (expert,) = workspace(task_count=3)
    client = as_user(expert)
    taken = claim(client, project)
    services.project_pause(actor=actor, project=project)

    response = submit(client, taken["id"], result=answer(project), next=True)

    assert response.status_code == 201
    assert response.json()["next"] is None
    assert response.json()["next_refusal"] == {
        "code": "not_available",
        "detail": "“Medication safety preferences” is paused: no new tasks for now.",
    }
    assert Annotation.objects.count() == 1


def test_a_late_submit_on_a_full_task_is_409_and_the_work_is_kept_as_a_draft():
    _, project, (late, prompt) = workspace(experts=2, task_count=1, overlap=1)
    client = as_user(late)
    taken = claim(client, project)
    Assignment.objects.filter(expert=late).update(expires_at=timezone.now() - timedelta(minutes=1))
    submit_next(prompt, project)  # the sweep returns the slot; the other expert fills the task
    result = answer(project, rationale="My careful late answer")

    response = submit(client, taken["id"], result=result)

    assert response.status_code == 409
    assert response.json() == {
        "code": "too_late",
        "detail": "Thank you, but this task already has all the answers it needs: your lease "
        "had run out. Your answer is kept as a draft in your history.",
    }
    assert not Annotation.objects.filter(expert=late).exists()
    kept = Assignment.objects.get(expert=late)
    assert kept.status == AssignmentStatus.EXPIRED
    assert kept.draft == result
    drafts = client.get(url("work-draft-list")).json()
    assert drafts["count"] == 1
    assert drafts["results"][0]["id"] == str(kept.public_id)
    assert drafts["results"][0]["draft"] == result
    assert drafts["results"][0]["status"] == "expired"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"result": {"preference": "a_better"}}, "confidence"),
        ({"result": {"preference": "nonsense", "confidence": 50, "rationale": "x"}}, "preference"),
        ({"result": "not an object"}, "(result)"),
        ({}, "result"),
        ({"result": {}, "signals": {"pastes": "many"}}, "signals"),
        ({"result": {}, "extra": True}, "extra"),
    ],
)
def test_a_bad_submit_names_the_field_and_changes_nothing(body, field):
    _, project, (expert,) = workspace()
    client = as_user(expert)
    taken = claim(client, project)

    response = client.post(url("work-assignment-submit", taken["id"]), body, format="json")

    assert response.status_code == 400
    errors = response.json()
    assert errors.get("field") == field or field in errors, errors
    assert not Annotation.objects.exists()
    assert Assignment.objects.get().status == AssignmentStatus.LEASED


def test_a_disclosed_policy_asks_whether_ai_was_used():
    _, project, (expert,) = workspace(ai_policy="disclosed")
    client = as_user(expert)
    taken = claim(client, project)

    missing = submit(client, taken["id"], result=answer(project))
    declared = submit(
        client,
        taken["id"],
        result=answer(project),
        ai_used=True,
        ai_disclosure="Checked a drug database summary.",
    )

    assert missing.status_code == 400
    assert missing.json()["field"] == "ai_used"
    assert declared.status_code == 201
    annotation = Annotation.objects.get()
    assert annotation.ai_used is True
    assert annotation.ai_disclosure == "Checked a drug database summary."


# Skip ---------------------------------------------------------------------------------------


def test_skip_hands_the_task_back():
    _, project, (expert,) = workspace(task_count=2)
    client = as_user(expert)
    taken = claim(client, project)

    response = client.post(
        url("work-assignment-skip", taken["id"]),
        {"reason": "outside_expertise", "note": "Paediatric dosing"},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "skipped"
    assignment = Assignment.objects.get()
    assert (assignment.status, assignment.skip_reason, assignment.skip_note) == (
        AssignmentStatus.SKIPPED,
        "outside_expertise",
        "Paediatric dosing",
    )
    assert assignment.task.reserved_count == 0
    assert claim(client, project)["task"]["data"] != taken["task"]["data"]


@pytest.mark.parametrize(
    ("body", "field"), [({"reason": "bored"}, "reason"), ({"reason": "other"}, "note")]
)
def test_a_bad_skip_names_the_field(body, field):
    _, project, (expert,) = workspace()
    client = as_user(expert)
    taken = claim(client, project)

    response = client.post(url("work-assignment-skip", taken["id"]), body, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert Assignment.objects.get().status == AssignmentStatus.LEASED


# History ------------------------------------------------------------------------------------


def test_the_history_shows_decisions_and_feedback_but_not_the_reviewer():
    actor, project, (expert,) = workspace(task_count=3)
    actor.user.full_name = EXPERT_NAME  # the reviewer's name must not reach the expert
    actor.user.save()
    accepted = submit_next(expert, project)
    rejected = submit_next(expert, project)
    waiting = submit_next(expert, project)
    review.annotation_accept(actor=actor, annotation=accepted, feedback="Clear rationale.")
    review.annotation_reject(actor=actor, annotation=rejected, feedback="Wrong preference.")
    client = as_user(expert)

    everything = client.get(url("work-annotation-list"))
    only_rejected = client.get(url("work-annotation-list"), {"status": "rejected"})
    on_project = client.get(url("work-annotation-list"), {"project": str(project.public_id)})

    assert everything.status_code == 200
    rows = everything.json()["results"]
    assert [row["id"] for row in rows] == [str(a.public_id) for a in (waiting, rejected, accepted)]
    by_id = {row["id"]: row for row in rows}
    assert by_id[str(rejected.public_id)]["status"] == "rejected"
    assert by_id[str(rejected.public_id)]["editable"] is False
    assert [
        (r["decision"], r["feedback"], r["is_automatic"])
        for r in by_id[str(rejected.public_id)]["reviews"]
    ] == [("reject", "Wrong preference.", False)]
    assert by_id[str(accepted.public_id)]["reviews"][0]["feedback"] == "Clear rationale."
    assert set(by_id[str(accepted.public_id)]["reviews"][0]) == {
        "decision",
        "feedback",
        "is_automatic",
        "created_at",
    }
    assert EXPERT_NAME.encode() not in everything.content
    assert actor.user.email.encode() not in everything.content
    assert [row["id"] for row in only_rejected.json()["results"]] == [str(rejected.public_id)]
    assert on_project.json()["count"] == 3
    detail = client.get(url("work-annotation-detail", accepted.public_id))
    assert detail.status_code == 200
    assert detail.json() == by_id[str(accepted.public_id)]


def test_a_bad_history_filter_names_the_field():
    _, _, (expert,) = workspace()

    response = as_user(expert).get(url("work-annotation-list"), {"status": "lost"})

    assert response.status_code == 400
    assert response.json()["field"] == "status"


def test_an_answer_can_be_edited_until_the_lab_decides():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    client = as_user(expert)
    path = url("work-annotation-detail", annotation.public_id)

    edited = client.patch(path, {"result": answer(project, preference="tie")}, format="json")
    review.annotation_accept(actor=actor, annotation=annotation)
    refused = client.patch(path, {"result": answer(project, preference="b_better")}, format="json")

    assert edited.status_code == 200
    assert edited.json()["result"]["preference"] == "tie"
    assert edited.json()["edit_count"] == 1
    assert refused.status_code == 409
    annotation.refresh_from_db()
    assert (annotation.result["preference"], annotation.edit_count) == ("tie", 1)
    assert annotation.status == AnnotationStatus.ACCEPTED


def test_the_history_takes_a_fixed_number_of_queries(django_assert_num_queries):
    actor, project, (expert,) = workspace(task_count=6)
    client = as_user(expert)
    for count in (2, 6):
        while Annotation.objects.filter(expert=expert).count() < count:
            made = submit_next(expert, project)
            review.annotation_accept(actor=actor, annotation=made, feedback="Good.")
        # Session, user, the page's count, the page, and the reviews of its rows.
        with django_assert_num_queries(5):
            response = client.get(url("work-annotation-list"))
        assert response.json()["count"] == count
        assert all(len(row["reviews"]) == 1 for row in response.json()["results"])


# Expert scope -------------------------------------------------------------------------------


def expert_routes(assignment: Assignment, annotation: Annotation, project: Project):
    a, n = assignment.public_id, annotation.public_id
    return [
        ("post", url("work-next", project.public_id), None),
        ("get", url("work-assignment", a), None),
        ("put", url("work-assignment-draft", a), {"draft": {"x": 1}}),
        ("post", url("work-assignment-submit", a), {"result": answer(project)}),
        ("post", url("work-assignment-skip", a), {"reason": "unclear"}),
        ("get", url("work-annotation-detail", n), None),
        ("patch", url("work-annotation-detail", n), {"result": answer(project)}),
        ("get", url("work-annotation-list") + f"?project={project.public_id}", None),
        ("get", url("work-draft-list") + f"?project={project.public_id}", None),
    ]


def expert_state() -> tuple[Any, ...]:
    return (
        sorted(Assignment.objects.values_list("pk", "status", "draft", "expires_at")),
        sorted(Annotation.objects.values_list("pk", "result", "edit_count")),
    )


def test_another_experts_work_is_404_on_every_route():
    actor, project, (owner, other) = workspace(experts=2, task_count=3)
    annotation = submit_next(owner, project)
    held = dispatch.task_claim(expert=owner, project=project)
    _, elsewhere, (stranger,) = workspace(actor=actor)
    before = expert_state()

    for intruder in (other, stranger):
        client = as_user(intruder)
        routes = expert_routes(held, annotation, project if intruder == stranger else elsewhere)
        if intruder == other:
            routes = routes[1:]  # ``other`` is on the project: next is theirs to call
        answers = {(m, p): call(client, m, p, b).status_code for m, p, b in routes}
        assert set(answers.values()) == {404}, answers

    assert expert_state() == before


def test_lab_members_and_api_keys_are_not_experts():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    held = dispatch.task_claim(expert=expert, project=project)
    before = expert_state()
    member_client = as_user(actor.user)
    key_client = APIClient()
    header = key_header(actor)

    member_answers = {
        call(member_client, m, p, b).status_code
        for m, p, b in expert_routes(held, annotation, project)
    }
    key_answers = {
        call(key_client, m, p, b, **header).status_code
        for m, p, b in expert_routes(held, annotation, project)
    }
    anonymous = {
        call(APIClient(), m, p, b).status_code
        for m, p, b in expert_routes(held, annotation, project)
    }

    assert member_answers == {404}
    assert key_answers == {403}
    assert anonymous == {401}
    assert expert_state() == before


def test_a_removed_member_loses_access_to_the_task():
    _, project, (expert,) = workspace()
    held = dispatch.task_claim(expert=expert, project=project)
    ProjectMember.objects.filter(expert=expert).update(status=MemberStatus.REMOVED)
    client = as_user(expert)

    assert client.get(url("work-assignment", held.public_id)).status_code == 404
    assert client.post(url("work-next", project.public_id)).status_code == 404


# Lab review -----------------------------------------------------------------------------------


def reviewed_scene(**fields: Any):
    """Two experts (one named, to check names never leak) answering the same first task
    differently, then the second expert flagging an edge case with low confidence on the
    next one, and a gold task answered."""
    actor, project, (first, second) = workspace(experts=2, task_count=3, overlap=2, **fields)
    first.full_name = EXPERT_NAME
    first.save()
    a = submit_next(first, project, preference="a_much_better", confidence=90)
    b = submit_next(second, project, preference="b_much_better", confidence=40)
    c = submit_next(
        second, project, confidence=20, is_edge_case=True, edge_case_note="Ambiguous prompt"
    )
    return actor, project, (first, second), (a, b, c)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_the_lab_lists_annotations_with_signals_under_pseudonyms():
    actor, project, (first, second), (a, _b, _c) = reviewed_scene()
    Annotation.objects.filter(pk=a.pk).update(
        paste_count=2, pasted_chars=300, focus_loss_count=4, time_spent_seconds=95
    )
    header = key_header(actor)

    response = APIClient().get(url("project-annotation-list", project.public_id), **header)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    row = body["results"][0]
    assert set(row) == LAB_ROW_KEYS
    a.refresh_from_db()
    assert row == {
        "id": str(a.public_id),
        "task": a.task.external_id,
        "is_gold": False,
        "expert": pseudonym(pid(first)),
        "result": a.result,
        "confidence": 90,
        "is_edge_case": False,
        "edge_case_note": "",
        "edge_case_reply": "",
        "edge_case_resolved_at": None,
        "active_seconds": 95,
        "paste_count": 2,
        "pasted_chars": 300,
        "focus_loss_count": 4,
        "ai_used": None,
        "ai_disclosure": "",
        "edit_count": 0,
        "guidelines_version": 1,
        "status": "submitted",
        "submitted_at": a.submitted_at.isoformat().replace("+00:00", "Z"),
        "reviewed_at": None,
        "disagreement": 0.5,
    }
    assert EXPERT_NAME.encode() not in response.content
    for expert in (first, second):
        assert expert.email.encode() not in response.content


def test_each_lab_filter_narrows_the_list():
    actor, project, (first, second), (a, b, c) = reviewed_scene()
    gold_task = Task.objects.create(
        project=project, external_id="g-1", data=Task.objects.first().data, is_gold=True
    )
    gold = Annotation.objects.create(
        task=gold_task,
        project=project,
        expert=first,
        result=answer(project),
        confidence=95,
        guidelines_version=1,
        submitted_at=timezone.now(),
    )
    review.annotation_accept(actor=actor, annotation=a)
    client = APIClient()
    header = key_header(actor)
    path = url("project-annotation-list", project.public_id)

    def listed(**params: str) -> set[str]:
        return set(ids(client.get(path, params, **header)))

    every = {str(x.public_id) for x in (a, b, c, gold)}
    assert listed() == {str(x.public_id) for x in (b, c, gold)}
    assert listed(status="all") == every
    assert listed(status="accepted") == {str(a.public_id)}
    assert listed(status="all", expert=pseudonym(pid(second))) == {
        str(b.public_id),
        str(c.public_id),
    }
    assert listed(status="all", expert=pid(first).hex[:8]) == {
        str(a.public_id),
        str(gold.public_id),
    }
    assert listed(status="all", flagged="yes") == {str(c.public_id)}
    assert listed(status="all", flagged="no") == every - {str(c.public_id)}
    assert listed(status="all", min_confidence="90") == {str(a.public_id), str(gold.public_id)}
    assert listed(status="all", max_confidence="40") == {str(b.public_id), str(c.public_id)}
    assert listed(status="all", min_confidence="30", max_confidence="50") == {str(b.public_id)}
    assert listed(status="all", disagreement="yes") == {str(a.public_id), str(b.public_id)}
    assert listed(status="all", disagreement="no") == {str(c.public_id), str(gold.public_id)}
    assert listed(status="all", gold="yes") == {str(gold.public_id)}
    assert listed(status="all", gold="no") == every - {str(gold.public_id)}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"expert": "Dr Smith"}, "expert"),
        ({"flagged": "maybe"}, "flagged"),
        ({"min_confidence": "high"}, "min_confidence"),
        ({"max_confidence": "101"}, "max_confidence"),
        ({"min_confidence": "80", "max_confidence": "20"}, "min_confidence"),
        ({"disagreement": "lots"}, "disagreement"),
        ({"gold": "2"}, "gold"),
    ],
)
def test_a_bad_lab_filter_names_the_field(params, field):
    actor, project, _ = workspace()

    response = APIClient().get(
        url("project-annotation-list", project.public_id), params, **key_header(actor)
    )

    assert response.status_code == 400
    assert response.json()["field"] == field


def test_the_lab_reviews_one_annotation():
    actor, project, (_first, second), (a, b, c) = reviewed_scene()
    client = APIClient()
    header = key_header(actor)

    def decide(annotation: Annotation, **body: str):
        return client.post(
            url("project-annotation-review", project.public_id, annotation.public_id),
            body,
            format="json",
            **header,
        )

    accepted = decide(a, decision="accept", feedback="Spot on.")
    no_feedback = decide(b, decision="reject")
    rejected = decide(b, decision="reject", feedback="B is unsafe; read section 2.")
    revise = decide(c, decision="revise", feedback="Explain the ambiguity.")
    bad = decide(c, decision="approve")
    again = decide(b, decision="accept")

    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert [
        (r["decision"], r["feedback"], r["by_api_key"], r["reviewer"])
        for r in accepted.json()["reviews"]
    ] == [("accept", "Spot on.", True, None)]
    assert (no_feedback.status_code, no_feedback.json()["field"]) == (400, "feedback")
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert revise.json()["status"] == "revision"
    assert (bad.status_code, bad.json()["field"]) == (400, "decision")
    assert again.status_code == 409
    statuses = dict(Annotation.objects.values_list("public_id", "status"))
    assert statuses == {
        a.public_id: AnnotationStatus.ACCEPTED,
        b.public_id: AnnotationStatus.REJECTED,
        c.public_id: AnnotationStatus.REVISION,
    }
    assert AnnotationReview.objects.count() == 3
    assert Notification.objects.filter(recipient=second, kind="review.reject").count() == 1
    assert Notification.objects.filter(recipient=second, kind="review.revise").count() == 1
    detail = client.get(url("project-annotation-detail", project.public_id, b.public_id), **header)
    assert detail.status_code == 200
    assert [r["feedback"] for r in detail.json()["reviews"]] == ["B is unsafe; read section 2."]
    assert EXPERT_NAME.encode() not in detail.content


def test_the_lab_accepts_in_bulk():
    actor, project, _, (a, b, c) = reviewed_scene()
    review.annotation_reject(actor=actor, annotation=c, feedback="No.")
    client = APIClient()

    response = client.post(
        url("project-annotation-accept", project.public_id),
        {"annotations": [str(a.public_id), str(b.public_id), str(c.public_id)]},
        format="json",
        **key_header(actor),
    )
    empty = client.post(
        url("project-annotation-accept", project.public_id),
        {"annotations": []},
        format="json",
        **key_header(actor),
    )

    assert response.status_code == 200
    assert response.json() == {"accepted": 2}
    assert sorted(Annotation.objects.values_list("status", flat=True)) == [
        AnnotationStatus.ACCEPTED,
        AnnotationStatus.ACCEPTED,
        AnnotationStatus.REJECTED,
    ]
    assert empty.status_code == 400
    assert "annotations" in empty.json()


def test_edge_cases_are_listed_and_resolved():
    actor, project, (_, second), (a, _b, c) = reviewed_scene()
    client = APIClient()
    header = key_header(actor)
    path = url("project-edge-case-list", project.public_id)

    open_before = client.get(path, **header)
    resolved = client.post(
        url("project-edge-case-resolve", project.public_id, c.public_id),
        {"reply": "Treat it as adult dosing."},
        format="json",
        **header,
    )
    not_flagged = client.post(
        url("project-edge-case-resolve", project.public_id, a.public_id),
        {},
        format="json",
        **header,
    )

    assert ids(open_before) == [str(c.public_id)]
    assert open_before.json()["results"][0]["edge_case_note"] == "Ambiguous prompt"
    assert resolved.status_code == 200
    assert resolved.json()["edge_case_reply"] == "Treat it as adult dosing."
    assert resolved.json()["edge_case_resolved_at"] is not None
    assert not_flagged.status_code == 409
    assert ids(client.get(path, **header)) == []
    assert ids(client.get(path, {"resolved": "yes"}, **header)) == [str(c.public_id)]
    assert ids(client.get(path, {"resolved": "all"}, **header)) == [str(c.public_id)]
    bad = client.get(path, {"resolved": "perhaps"}, **header)
    assert (bad.status_code, bad.json()["field"]) == (400, "resolved")
    assert Notification.objects.filter(recipient=second, kind="review.edge_case").count() == 1


# Lab scope ------------------------------------------------------------------------------------


def lab_routes(project: Project, annotation: Annotation):
    p, n = project.public_id, annotation.public_id
    return [
        ("get", url("project-annotation-list", p), None),
        ("get", url("project-annotation-detail", p, n), None),
        ("post", url("project-annotation-review", p, n), {"decision": "accept"}),
        ("post", url("project-annotation-accept", p), {"annotations": [str(n)]}),
        ("get", url("project-edge-case-list", p), None),
        ("post", url("project-edge-case-resolve", p, n), {"reply": "Fine"}),
    ]


def lab_state() -> tuple[Any, ...]:
    return (
        sorted(
            Annotation.objects.values_list("pk", "status", "edge_case_resolved_at", "reviewed_at")
        ),
        AnnotationReview.objects.count(),
        AuditEvent.objects.count(),
    )


def test_another_lab_gets_404_on_every_route():
    _, project, _, (_a, _, c) = reviewed_scene()
    other_actor, other_project, _ = workspace()
    key = key_header(other_actor)
    member_client = as_user(other_actor.user)
    before = lab_state()

    by_key = {
        (m, p): call(APIClient(), m, p, b, **key).status_code for m, p, b in lab_routes(project, c)
    }
    by_member = {
        (m, p): call(member_client, m, p, b).status_code for m, p, b in lab_routes(project, c)
    }
    # Their own project, someone else's annotation.
    crossed = {
        (m, p): call(APIClient(), m, p, b, **key).status_code
        for m, p, b in lab_routes(other_project, c)
        if f"{c.public_id}" in p
    }

    assert set(by_key.values()) == {404}, by_key
    assert set(by_member.values()) == {404}, by_member
    assert set(crossed.values()) == {404}, crossed
    assert lab_state() == before


def test_experts_get_404_on_the_lab_routes():
    _, project, (first, _), (_a, _, c) = reviewed_scene()
    before = lab_state()
    client = as_user(first)

    answers = {(m, p): call(client, m, p, b).status_code for m, p, b in lab_routes(project, c)}

    assert set(answers.values()) == {404}, answers
    assert lab_state() == before


def test_a_viewer_may_read_but_not_review():
    actor, project, _, (_a, _, c) = reviewed_scene()
    client = as_user(lab_viewer(actor))
    before = lab_state()

    answers = {(m, p): call(client, m, p, b).status_code for m, p, b in lab_routes(project, c)}
    bad_input = client.post(
        url("project-annotation-review", project.public_id, c.public_id),
        {"decision": "nonsense"},
        format="json",
    )

    reads = {key: code for key, code in answers.items() if key[0] == "get"}
    writes = {key: code for key, code in answers.items() if key[0] != "get"}
    assert set(reads.values()) == {200}, reads
    assert set(writes.values()) == {403}, writes
    assert bad_input.status_code == 403
    assert lab_state() == before


def test_unknown_and_malformed_annotation_ids_are_404():
    actor, project, _ = workspace()
    header = key_header(actor)
    client = APIClient()

    missing = client.get(
        url("project-annotation-detail", project.public_id, uuid.uuid4()), **header
    )
    malformed = client.get(f"/api/v1/projects/{project.public_id}/annotations/nope/", **header)

    assert (missing.status_code, malformed.status_code) == (404, 404)


@pytest.mark.parametrize("name", ["project-annotation-list", "project-edge-case-list"])
def test_lab_lists_take_a_fixed_number_of_queries(django_assert_num_queries, name):
    actor, project, experts = workspace(experts=8, task_count=8, overlap=8)
    header = key_header(actor)
    client = APIClient()
    path = url(name, project.public_id)
    client.get(path, {"status": "all"}, **header)  # the key's last use is recorded
    for count in (3, 8):
        for expert in experts[Annotation.objects.count() : count]:
            submit_next(expert, project, is_edge_case=True, edge_case_note="Hmm")
        # The API key, the project, the page's count and the page (task and profile joined).
        with django_assert_num_queries(4):
            response = client.get(path, {"status": "all"}, **header)
        assert response.json()["count"] == count


# Project settings ---------------------------------------------------------------------------


def test_the_workspace_settings_are_set_shown_and_fixed_where_they_should_be():
    actor, project, _ = workspace()
    header = key_header(actor)
    client = APIClient()
    path = reverse("api:project-detail", args=[project.public_id])

    shown = client.get(path, **header).json()
    changed = client.patch(
        path,
        {"lease_minutes": 60, "dispatch_order": "breadth", "auto_accept_days": 0},
        format="json",
        **header,
    )
    locked = client.patch(path, {"ai_policy": "allowed"}, format="json", **header)
    out_of_range = client.patch(path, {"lease_minutes": 2}, format="json", **header)

    assert {
        k: shown[k] for k in ("lease_minutes", "dispatch_order", "ai_policy", "auto_accept_days")
    } == {
        "lease_minutes": 30,
        "dispatch_order": "depth",
        "ai_policy": "forbidden",
        "auto_accept_days": 7,
    }
    assert changed.status_code == 200
    assert (changed.json()["lease_minutes"], changed.json()["dispatch_order"]) == (60, "breadth")
    assert changed.json()["auto_accept_days"] == 0
    assert locked.status_code == 409
    assert out_of_range.status_code == 400
    assert "lease_minutes" in out_of_range.json()
    project.refresh_from_db()
    assert (project.lease_minutes, project.dispatch_order, project.ai_policy) == (
        60,
        "breadth",
        "forbidden",
    )


def test_a_new_project_takes_the_workspace_settings():
    actor, _, _ = workspace()
    body = {
        "title": "Dosing preferences",
        "domain": "medicine",
        "task_type": "pairwise",
        "price_per_annotation_cents": 500,
        "lease_minutes": 20,
        "dispatch_order": "breadth",
        "ai_policy": "disclosed",
        "auto_accept_days": 14,
    }

    response = APIClient().post(
        reverse("api:project-list"), body, format="json", **key_header(actor)
    )

    assert response.status_code == 201, response.content
    created = Project.objects.get(public_id=response.json()["id"])
    assert (created.lease_minutes, created.dispatch_order) == (20, "breadth")
    assert (created.ai_policy, created.auto_accept_days) == ("disclosed", 14)
    assert response.json()["ai_policy"] == "disclosed"


def test_the_schema_documents_the_workspace_endpoints(client):
    body = client.get(reverse("api_schema")).content.decode()

    for path in (
        "/api/v1/work/projects/{project_id}/next/",
        "/api/v1/work/assignments/{assignment_id}/submit/",
        "/api/v1/work/assignments/{assignment_id}/draft/",
        "/api/v1/work/annotations/{annotation_id}/",
        "/api/v1/work/drafts/",
        "/api/v1/projects/{project_id}/annotations/",
        "/api/v1/projects/{project_id}/annotations/accept/",
        "/api/v1/projects/{project_id}/edge-cases/{annotation_id}/resolve/",
    ):
        assert path in body


def test_a_review_of_an_answer_changed_since_it_was_read_is_refused():
    actor, project, (expert,) = workspace()
    annotation = submit_next(expert, project)
    dispatch.annotation_edit(
        expert=expert, annotation=annotation, result=answer(project, preference="tie")
    )
    client = APIClient()
    path = url("project-annotation-review", project.public_id, annotation.public_id)

    stale = client.post(
        path, {"decision": "accept", "seen_edit_count": 0}, format="json", **key_header(actor)
    )
    fresh = client.post(
        path, {"decision": "accept", "seen_edit_count": 1}, format="json", **key_header(actor)
    )

    assert stale.status_code == 409
    assert "changed this answer" in stale.json()["detail"]
    assert fresh.status_code == 200
    assert fresh.json()["status"] == "accepted"
