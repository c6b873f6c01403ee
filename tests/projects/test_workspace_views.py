"""The expert's workspace pages: next task, the annotation page and its fragment, autosave,
submit (idempotent, late, invalid), skip, prefetch, and what the page must never show."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from projects import services as project_services
from projects.dispatch import services as dispatch
from projects.models import Annotation, Assignment, GoldAnswer, ProjectMember, Task
from projects.states import AiPolicy, AssignmentStatus, MemberStatus, ProjectStatus
from projects.task_types import REGISTRY, task_type_for
from tests import factories
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import answer, member, submit_next, workspace

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}
# The session, the user, the project, the claim's savepoint, the seat (with the acknowledged
# guidelines), the expert's leases, their newest kept draft, the started tasks in the depth
# window, a fresh task, taking its slot, the new assignment, releasing the savepoint.
QUERIES_OF_START = 12
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_LINK = "[click me](javascript:alert(1))"


# Helpers -----------------------------------------------------------------------------------


def _claim(expert, project) -> Assignment:
    assignment = dispatch.task_claim(expert=expert, project=project)
    assert assignment is not None
    return assignment


def _url(name: str, assignment: Assignment) -> str:
    return reverse(name, kwargs={"assignment_id": assignment.public_id})


def _start(project) -> str:
    return reverse("workspace_start", kwargs={"project_id": project.public_id})


def _expire(assignment: Assignment) -> None:
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def _pairwise_post(**fields: Any) -> dict[str, Any]:
    data = {
        "preference": "a_better",
        "rationale": "A names the interaction.",
        "confidence": "80",
    }
    data.update(fields)
    return data


class AnswerFormReader(HTMLParser):
    """What a browser submits from the page's answer form (id="answer-form"), no JS."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text: list[str] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.inside = values.get("id") == "answer-form"
            return
        name = values.get("name")
        if not self.inside or not name:
            if tag == "option" and self._select:
                self._options.append((values.get("value") or "", "selected" in values))
            return
        if tag == "input":
            kind = values.get("type", "text")
            if kind in {"radio", "checkbox"}:
                if "checked" in values:
                    self.fields.append((name, values.get("value") or "on"))
            else:
                self.fields.append((name, values.get("value") or ""))
        elif tag == "textarea":
            self._textarea, self._text = name, []
        elif tag == "select":
            self._select, self._options = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text).replace("\n", "\r\n")))
            self._textarea = None
        elif tag == "select" and self._select is not None:
            chosen = [value for value, selected in self._options if selected]
            self.fields.append((self._select, (chosen or [self._options[0][0]])[0]))
            self._select = None


def _answer_form(html: str) -> dict[str, list[str]]:
    reader = AnswerFormReader()
    reader.feed(html)
    fields: dict[str, list[str]] = {}
    for name, value in reader.fields:
        fields.setdefault(name, []).append(value)
    return fields


class ActiveContent(HTMLParser):
    """Anything in the task panel that would run or load."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"img", "iframe", "object", "embed"}:
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{tag}[{name}]")


# Start -------------------------------------------------------------------------------------


def test_start_leases_the_next_task_and_redirects_to_its_page(client):
    _, project, (expert,) = workspace()
    client.force_login(expert)

    response = client.get(_start(project))

    assignment = Assignment.objects.get(expert=expert)
    assert assignment.status == AssignmentStatus.LEASED
    assert response.status_code == 302
    assert response.url == _url("workspace_task", assignment)
    page = client.get(response.url)
    assert page.status_code == 200
    assert assignment.task.data["prompt"] in page.content.decode()


def test_start_sends_an_expert_behind_on_the_guidelines_to_read_them(client):
    _, project, _ = workspace()
    late = member(project, acknowledge=False)
    client.force_login(late)

    response = client.get(_start(project), follow=True)

    assert response.redirect_chain == [
        (reverse("project_guidelines", kwargs={"project_id": project.public_id}), 302)
    ]
    assert "acknowledge them before your next task" in response.content.decode()
    assert not Assignment.objects.filter(expert=late).exists()


def test_start_with_nothing_left_shows_all_caught_up_with_the_history_link(client):
    _, project, (expert,) = workspace(task_count=1, overlap=1)
    submit_next(expert, project)
    client.force_login(expert)

    response = client.get(_start(project))

    assert response.status_code == 200
    body = response.content.decode()
    assert "All caught up" in body
    assert reverse("expert_annotations") in body
    assert Assignment.objects.filter(expert=expert).count() == 1


def test_a_paused_member_gets_the_refusal_page_on_start_and_on_a_task_they_hold(client):
    _, project, (expert,) = workspace()
    held = _claim(expert, project)
    ProjectMember.objects.filter(project=project, expert=expert).update(
        status=MemberStatus.PAUSED, status_reason="Gold accuracy below the project's bar."
    )
    client.force_login(expert)

    for url in (_start(project), _url("workspace_task", held)):
        response = client.get(url)
        assert response.status_code == 409
        body = response.content.decode()
        assert "Your work on this project is paused. Gold accuracy below the project" in body
        assert held.task.data["prompt"] not in body
    assert Assignment.objects.filter(expert=expert).count() == 1


def test_a_paused_project_refuses_new_claims_but_keeps_held_tasks_workable(client):
    actor, project, (expert, idle) = workspace(experts=2)
    held = _claim(expert, project)
    project_services.project_pause(actor=actor, project=project)
    client.force_login(expert)

    refused = client.get(_start(project))
    page = client.get(_url("workspace_task", held))
    submitted = client.post(_url("workspace_submit", held), _pairwise_post(), **JSON)

    assert refused.status_code == 409
    assert "paused: no new tasks for now" in refused.content.decode()
    assert page.status_code == 200
    assert held.task.data["prompt"] in page.content.decode()
    assert submitted.status_code == 200
    assert Annotation.objects.get(expert=expert).task_id == held.task_id
    assert Assignment.objects.filter(expert=expert).count() == 1
    client.force_login(idle)
    assert client.get(_start(project)).status_code == 409
    assert not Assignment.objects.filter(expert=idle).exists()


def test_a_paused_member_on_a_paused_project_still_gets_the_refusal_page(client):
    actor, project, (expert,) = workspace()
    held = _claim(expert, project)
    project_services.project_pause(actor=actor, project=project)
    ProjectMember.objects.filter(project=project, expert=expert).update(
        status=MemberStatus.PAUSED, status_reason="Too many rejections."
    )
    client.force_login(expert)

    response = client.get(_url("workspace_task", held))

    assert response.status_code == 409
    assert "Your work on this project is paused. Too many rejections." in response.content.decode()
    assert held.task.data["prompt"] not in response.content.decode()


def test_a_completed_project_shows_no_held_task(client):
    _, project, (expert,) = workspace()
    held = _claim(expert, project)
    project.status = ProjectStatus.COMPLETED
    project.save(update_fields=["status"])
    client.force_login(expert)

    response = client.get(_url("workspace_task", held))

    assert response.status_code == 409
    assert "completed: no new tasks for now" in response.content.decode()
    assert held.task.data["prompt"] not in response.content.decode()


def test_my_projects_links_each_active_membership_to_the_workspace(client):
    _, project, (expert,) = workspace()
    client.force_login(expert)

    body = client.get(reverse("expert_projects")).content.decode()

    assert f'href="{_start(project)}"' in body
    assert "Start working" in body
    assert reverse("expert_annotations") in body

    dispatch.task_claim(expert=expert, project=project)
    body = client.get(reverse("expert_projects")).content.decode()
    assert "Continue" in body
    assert "Start working" not in body


# The page ----------------------------------------------------------------------------------


def test_the_page_shows_task_guidelines_form_skip_lease_progress_and_shortcuts(client):
    _, project, (expert,) = workspace(ai_policy=AiPolicy.FORBIDDEN)
    submit_next(expert, project)
    assignment = _claim(expert, project)
    client.force_login(expert)

    body = client.get(_url("workspace_task", assignment)).content.decode()

    assert assignment.task.data["response_b"] in body
    assert "Prefer the response a careful clinician would give." in body  # the guidelines
    assert 'name="preference"' in body
    # A plain number input, empty until set (the script turns it into a slider).
    assert (
        '<input type="number" id="answer-confidence" name="confidence" min="0" max="100" '
        'step="1" inputmode="numeric" required value=""' in body
    )
    assert 'name="is_edge_case"' in body
    assert 'name="reason"' in body
    assert "Outside my expertise" in body
    assert f'datetime="{assignment.expires_at.isoformat()}"' in body
    assert "1 handed in" in body
    assert "AI tools are not allowed on this project" in body
    assert "Keyboard shortcuts" in body
    assert 'name="ai_used"' not in body
    assert "<script>" not in body  # CSP: external scripts only
    assert 'src="/static/js/workspace.js"' in body


def test_the_fragment_is_the_workspace_without_the_site_chrome(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)

    for extra in ({"data": {"fragment": "1"}}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(_url("workspace_task", assignment), **extra)
        body = response.content.decode()
        assert response.status_code == 200
        assert body.startswith('<div class="workspace" data-workspace')
        assert "<html" not in body
        assert 'id="answer-form"' in body


@pytest.mark.parametrize("task_count", [3, 40])
def test_page_and_fragment_run_a_constant_number_of_queries(
    client, django_assert_num_queries, task_count
):
    _, project, (expert, other) = workspace(experts=2, task_count=task_count, overlap=2)
    for _ in range(2):
        submit_next(other, project)
        submit_next(expert, project)
    assignment = _claim(expert, project)
    client.force_login(expert)
    url = _url("workspace_task", assignment)

    # Seven queries: the session, the user, the assignment with its task, project and
    # organisation, the membership, the guidelines, the progress and the unread count.
    with django_assert_num_queries(7):
        assert client.get(url).status_code == 200
    with django_assert_num_queries(7):
        assert client.get(url, {"fragment": "1"}).status_code == 200


def test_an_expert_never_sees_another_experts_answer_on_the_same_task(client):
    _, project, (first, second) = workspace(experts=2, task_count=1, overlap=2)
    submit_next(first, project, rationale="SECRET-RATIONALE-OF-THE-FIRST-EXPERT")
    assignment = _claim(second, project)
    client.force_login(second)

    page = client.get(_url("workspace_task", assignment)).content.decode()
    fragment = client.get(_url("workspace_task", assignment), {"fragment": "1"}).content.decode()

    for body in (page, fragment):
        assert "SECRET-RATIONALE-OF-THE-FIRST-EXPERT" not in body
        assert 'value="a_much_better" required checked' not in body


def test_untrusted_task_text_renders_inert(client):
    _, project, (expert,) = workspace(task_count=1)
    Task.objects.create(
        project=project,
        external_id="hostile",
        priority=10,
        data={
            "prompt": f"Hello {SCRIPT} and {IMG} and {JS_LINK}",
            "response_a": f"A {SCRIPT}",
            "response_b": f"B {IMG} {JS_LINK}",
        },
    )
    assignment = _claim(expert, project)
    client.force_login(expert)

    body = client.get(_url("workspace_task", assignment)).content.decode()

    task_panel = body.split('<section class="workspace-task"', 1)[1].split("</section>\n\n")[0]
    checker = ActiveContent()
    checker.feed(body)
    assert checker.found == []
    assert "<script>alert" not in body
    assert "<img" not in body
    assert 'href="javascript' not in body.lower()  # shown as text at most, never a link
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in task_panel
    assert "&lt;img src=x onerror=alert(1)&gt;" in task_panel
    assert "click me" in task_panel


def test_a_gold_task_is_indistinguishable_and_its_answer_never_rendered(client, monkeypatch):
    _, project, (expert,) = workspace(task_count=1, gold=1, gold_rate_percent=50)
    monkeypatch.setattr(dispatch.secrets, "randbelow", lambda bound: 0)  # the gold draw wins
    gold_task = Task.objects.get(project=project, is_gold=True)
    GoldAnswer.objects.filter(task=gold_task).update(
        answer={**answer(project), "rationale": "GOLD-ONLY-RATIONALE"},
        explanation="GOLD-ONLY-EXPLANATION",
    )
    assignment = _claim(expert, project)
    assert assignment.task_id == gold_task.pk
    client.force_login(expert)

    page = client.get(_url("workspace_task", assignment)).content.decode()
    fragment = client.get(_url("workspace_task", assignment), {"fragment": "1"}).content.decode()

    for body in (page, fragment):
        assert "GOLD-ONLY" not in body
        assert "gold" not in body.lower()
        assert gold_task.external_id not in body
        assert " checked" not in body.split('id="answer-form"')[1].split("</form>")[0]


# Drafts ------------------------------------------------------------------------------------


def test_a_saved_draft_comes_back_after_a_reload(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)

    response = client.post(
        _url("workspace_draft", assignment),
        _pairwise_post(rationale="Half a thought <b>bold</b>", confidence="35", active_seconds="4"),
    )

    assert response.status_code == 200
    assignment.refresh_from_db()
    assert assignment.draft == {
        "preference": ["a_better"],
        "rationale": ["Half a thought <b>bold</b>"],
        "confidence": ["35"],
    }
    body = client.get(_url("workspace_task", assignment)).content.decode()
    assert 'value="a_better" required checked' in body
    assert ">Half a thought &lt;b&gt;bold&lt;/b&gt;</textarea>" in body
    assert 'inputmode="numeric" required value="35"' in body
    assert "Saved " in body


def test_autosave_renews_the_lease_and_adds_active_time_within_bounds(client):
    _, project, (expert,) = workspace(lease_minutes=30)
    assignment = _claim(expert, project)
    Assignment.objects.filter(pk=assignment.pk).update(
        leased_at=timezone.now() - timedelta(seconds=20),
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    before = Assignment.objects.get(pk=assignment.pk).expires_at
    client.force_login(expert)

    response = client.post(
        _url("workspace_draft", assignment),
        {"rationale": "x", "active_seconds": "12", "pastes": "1", "focus_losses": "2"},
    )

    body = response.json()
    assignment.refresh_from_db()
    assert set(body) == {"saved_at", "expires_at", "still_needed"}
    assert body["still_needed"] is True
    assert assignment.expires_at > before + timedelta(minutes=20)
    assert body["expires_at"] == assignment.expires_at.isoformat()
    assert assignment.active_seconds == 12
    assert (assignment.paste_count, assignment.focus_loss_count) == (1, 2)

    # A tampered page cannot add more active time than has passed since the last save.
    client.post(_url("workspace_draft", assignment), {"active_seconds": "5000"})
    assignment.refresh_from_db()
    assert 12 < assignment.active_seconds <= 12 + 5 + 2
    assert assignment.draft == {"rationale": ["x"]}  # a bare heartbeat keeps the draft


def test_a_beacon_save_with_the_token_in_the_body_is_accepted(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(expert)
    page = csrf_client.get(_url("workspace_task", assignment))
    token = page.context["csrf_token"]

    refused = csrf_client.post(_url("workspace_draft", assignment), {"rationale": "no token"})
    saved = csrf_client.post(
        _url("workspace_draft", assignment),
        {"rationale": "from a beacon", "csrfmiddlewaretoken": str(token)},
    )

    assert refused.status_code == 403
    assert saved.status_code == 200
    assignment.refresh_from_db()
    assert assignment.draft == {"rationale": ["from a beacon"]}


def test_a_draft_on_a_submitted_task_is_refused_with_409(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)
    client.post(_url("workspace_submit", assignment), _pairwise_post(), **JSON)

    response = client.post(_url("workspace_draft", assignment), {"rationale": "late"})

    assert response.status_code == 409
    assert response.json() == {"message": "This task was already submitted."}
    assignment.refresh_from_db()
    assert assignment.draft is None


# Submitting --------------------------------------------------------------------------------


def test_submit_is_idempotent(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)

    first = client.post(_url("workspace_submit", assignment), _pairwise_post(), **JSON)
    second = client.post(
        _url("workspace_submit", assignment), _pairwise_post(preference="tie"), **JSON
    )

    annotation = Annotation.objects.get(expert=expert)
    assert first.status_code == second.status_code == 200
    assert (
        first.json()
        == second.json()
        == {
            "annotation_id": str(annotation.public_id),
            "next_url": _start(project),
        }
    )
    assert annotation.result["preference"] == "a_better"


def test_a_plain_form_submit_redirects_to_the_next_task_with_a_message(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)

    response = client.post(_url("workspace_submit", assignment), _pairwise_post(), follow=True)

    assert response.redirect_chain[0] == (_start(project), 302)
    assert "your answer was submitted" in response.content.decode()
    assert Annotation.objects.filter(expert=expert).count() == 1


def test_an_invalid_answer_names_the_field_and_keeps_the_answer(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)

    as_json = client.post(
        _url("workspace_submit", assignment), _pairwise_post(rationale=""), **JSON
    )
    as_page = client.post(
        _url("workspace_submit", assignment), _pairwise_post(rationale="", confidence="61")
    )

    assert as_json.status_code == 400
    assert as_json.json() == {
        "field": "rationale",
        "message": "rationale: Explain your preference.",
    }
    assert as_page.status_code == 400
    body = as_page.content.decode()
    assert "rationale: Explain your preference." in body
    assert 'value="a_better" required checked' in body
    assert 'required value="61"' in body
    assert not Annotation.objects.exists()


def test_a_late_submit_on_a_task_filled_meanwhile_is_refused_and_the_work_kept(client):
    _, project, (slow, fast) = workspace(experts=2, task_count=1, overlap=1)
    held = _claim(slow, project)
    _expire(held)
    dispatch.leases_return_expired()
    submit_next(fast, project)
    client.force_login(slow)

    response = client.post(
        _url("workspace_submit", held),
        _pairwise_post(rationale="My careful late answer"),
        **JSON,
    )

    assert response.status_code == 409
    assert response.json() == {
        "code": "too_late",
        "message": "Thank you, but this task already has all the answers it needs: your "
        "lease had run out. Your answer is kept as a draft in your history.",
        "history_url": reverse("expert_annotations"),
    }
    held.refresh_from_db()
    assert held.status == AssignmentStatus.EXPIRED
    assert held.draft["rationale"] == ["My careful late answer"]
    assert not Annotation.objects.filter(expert=slow).exists()
    body = client.get(_url("workspace_task", held)).content.decode()
    assert "My careful late answer" in body
    assert "it can no longer be handed in" in body
    assert 'data-still-needed="false"' in body


def test_a_late_submit_is_accepted_while_the_task_still_needs_an_answer(client):
    _, project, (slow, fast) = workspace(experts=2, task_count=1, overlap=2)
    held = _claim(slow, project)
    _expire(held)
    dispatch.leases_return_expired()
    submit_next(fast, project)
    client.force_login(slow)

    response = client.post(_url("workspace_submit", held), _pairwise_post(), **JSON)

    assert response.status_code == 200
    annotation = Annotation.objects.get(expert=slow)
    assert response.json()["annotation_id"] == str(annotation.public_id)
    assert Task.objects.get(pk=held.task_id).annotation_count == 2


def _example_draft(project, assignment) -> dict[str, list[str]]:
    """The form a browser sends for the type's example result (rendered, then read back)."""
    task_type = task_type_for(project.task_type)
    settings = task_type.settings_with_defaults(project.task_settings)
    html = (
        '<form id="answer-form">'
        + task_type.render_form(
            task=assignment.task.data, settings=settings, result=task_type.example_result()
        )
        + "</form>"
    )
    return _answer_form(html)


@pytest.mark.parametrize("key", list(REGISTRY))
def test_every_task_type_round_trips_through_the_page(client, key):
    _, project, (expert,) = workspace(task_type=key)
    assignment = _claim(expert, project)
    task_type = task_type_for(key)
    settings = task_type.settings_with_defaults(project.task_settings)
    expected = task_type.validate_result(
        task_type.example_result(), task=assignment.task.data, settings=settings
    )
    client.force_login(expert)

    # Autosave the example answer, reload the page, and send what its form then holds.
    client.post(_url("workspace_draft", assignment), _example_draft(project, assignment))
    page = client.get(_url("workspace_task", assignment)).content.decode()
    sent = _answer_form(page)
    response = client.post(_url("workspace_submit", assignment), sent, **JSON)

    assert response.status_code == 200, response.content
    annotation = Annotation.objects.get(expert=expert)
    assert annotation.result == expected


def test_the_disclosed_policy_requires_a_disclosure(client):
    _, project, (expert,) = workspace(ai_policy=AiPolicy.DISCLOSED)
    assignment = _claim(expert, project)
    client.force_login(expert)
    url = _url("workspace_submit", assignment)

    page = client.get(_url("workspace_task", assignment)).content.decode()
    missing = client.post(url, _pairwise_post(), **JSON)
    unexplained = client.post(url, _pairwise_post(ai_used="yes", ai_disclosure=" "), **JSON)

    assert "Did you use AI tools?" in page
    assert 'name="ai_used" value="yes" required' in page
    assert 'name="ai_disclosure"' in page
    assert missing.status_code == 400
    assert missing.json()["field"] == "ai_used"
    assert unexplained.status_code == 400
    assert unexplained.json()["field"] == "ai_disclosure"
    assert not Annotation.objects.exists()
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.LEASED

    accepted = client.post(
        url, _pairwise_post(ai_used="yes", ai_disclosure="Checked a dosage table."), **JSON
    )
    assert accepted.status_code == 200
    annotation = Annotation.objects.get(expert=expert)
    assert (annotation.ai_used, annotation.ai_disclosure) == (True, "Checked a dosage table.")


def test_the_allowed_policy_records_no_disclosure(client):
    _, project, (expert,) = workspace(ai_policy=AiPolicy.ALLOWED)
    assignment = _claim(expert, project)
    client.force_login(expert)

    page = client.get(_url("workspace_task", assignment)).content.decode()
    response = client.post(_url("workspace_submit", assignment), _pairwise_post(), **JSON)

    assert "AI tools are allowed on this project." in page
    assert response.status_code == 200
    assert Annotation.objects.get(expert=expert).ai_used is None


def test_paste_focus_and_active_time_end_up_on_the_annotation(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    Assignment.objects.filter(pk=assignment.pk).update(
        leased_at=timezone.now() - timedelta(minutes=5)
    )
    client.force_login(expert)

    client.post(
        _url("workspace_draft", assignment),
        {
            "rationale": "x",
            "active_seconds": "30",
            "pastes": "2",
            "pasted_chars": "120",
            "focus_losses": "1",
        },
    )
    client.post(
        _url("workspace_submit", assignment),
        _pairwise_post(active_seconds="3", pastes="1", pasted_chars="7", focus_losses="2"),
        **JSON,
    )

    annotation = Annotation.objects.get(expert=expert)
    assert (
        annotation.paste_count,
        annotation.pasted_chars,
        annotation.focus_loss_count,
        annotation.time_spent_seconds,
    ) == (3, 127, 3, 33)


# Skipping ----------------------------------------------------------------------------------


def test_skip_requires_a_reason(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)

    as_json = client.post(_url("workspace_skip", assignment), {"reason": ""}, **JSON)
    as_page = client.post(_url("workspace_skip", assignment), {"reason": "other", "note": ""})

    assert as_json.status_code == 400
    assert as_json.json() == {
        "field": "reason",
        "message": "Choose why you are skipping this task.",
    }
    assert as_page.status_code == 400
    assert "Say why you are skipping this task." in as_page.content.decode()
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.LEASED
    assert assignment.skip_reason == ""


def test_skip_with_a_reason_hands_the_task_back_and_moves_on(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)

    response = client.post(
        _url("workspace_skip", assignment), {"reason": "unclear", "note": "Truncated B."}
    )

    assert response.status_code == 302
    assert response.url == _start(project)
    assignment.refresh_from_db()
    assert (assignment.status, assignment.skip_reason, assignment.skip_note) == (
        AssignmentStatus.SKIPPED,
        "unclear",
        "Truncated B.",
    )
    again = client.post(_url("workspace_skip", assignment), {"reason": "unclear"}, **JSON)
    assert again.json() == {"next_url": _start(project)}
    following = client.get(_start(project))
    assert following.url != _url("workspace_task", assignment)


# Prefetch ----------------------------------------------------------------------------------


def test_prefetch_leases_the_next_task_and_answers_its_fragment(client):
    _, project, (expert,) = workspace(task_count=2, overlap=1)
    current = _claim(expert, project)
    client.force_login(expert)

    response = client.get(_url("workspace_prefetch", current))

    upcoming = Assignment.objects.exclude(pk=current.pk).get(expert=expert)
    assert response.status_code == 200
    assert response["X-Workspace-Url"] == _url("workspace_task", upcoming)
    body = response.content.decode()
    assert body.startswith('<div class="workspace" data-workspace')
    assert upcoming.task.data["prompt"] in body
    assert _url("workspace_submit", upcoming) in body

    # Nothing left after these two: 204.
    assert client.get(_url("workspace_prefetch", upcoming)).status_code == 200
    client.post(_url("workspace_submit", current), _pairwise_post(), **JSON)
    assert client.get(_url("workspace_prefetch", upcoming)).status_code == 204
    # The submit's next URL serves the prefetched task.
    assert client.get(_start(project)).url == _url("workspace_task", upcoming)


# Scope -------------------------------------------------------------------------------------


def test_another_experts_assignment_is_404_on_every_route(client):
    _, project, (owner, intruder) = workspace(experts=2)
    assignment = _claim(owner, project)
    lab_user = factories.lab_user()
    routes = [
        ("get", "workspace_task"),
        ("post", "workspace_draft"),
        ("post", "workspace_submit"),
        ("post", "workspace_skip"),
        ("get", "workspace_prefetch"),
    ]
    for user in (intruder, lab_user):
        client.force_login(user)
        for method, name in routes:
            data = {**_pairwise_post(), "reason": "unclear"} if method == "post" else {}
            response = getattr(client, method)(_url(name, assignment), data, **JSON)
            assert response.status_code == 404, (user, name)
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.LEASED
    assert assignment.draft is None
    assert not Annotation.objects.exists()
    assert Assignment.objects.filter(expert=intruder).count() == 0
    other_project = project_factories.active_project()
    client.force_login(intruder)
    assert client.get(_start(other_project)).status_code == 404


def test_the_pages_need_a_login(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)

    response = client.get(_url("workspace_task", assignment))

    assert response.status_code == 302
    assert "/accounts/login/" in response.url


def test_draft_json_is_plain_json(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)

    response = client.post(_url("workspace_draft", assignment), {"rationale": "x"})

    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["still_needed"] is True


# Without JavaScript ------------------------------------------------------------------------


def test_without_javascript_an_unset_confidence_is_refused_not_recorded_as_50(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)
    page = client.get(_url("workspace_task", assignment)).content.decode()

    # What the browser sends from the page as served, with the answer filled in but the
    # confidence left alone.
    sent = {**_answer_form(page), "preference": ["a_better"], "rationale": ["Because."]}
    assert sent["confidence"] == [""]
    as_page = client.post(_url("workspace_submit", assignment), sent)
    as_json = client.post(_url("workspace_submit", assignment), sent, **JSON)

    assert as_page.status_code == 400
    assert "confidence" in as_page.content.decode()
    assert as_json.status_code == 400
    assert as_json.json()["field"] == "confidence"
    assert not Annotation.objects.exists()
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.LEASED


# Submit refusals carry a code for the page's script ----------------------------------------


def test_a_submit_on_a_skipped_task_says_skipped(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)
    client.post(_url("workspace_skip", assignment), {"reason": "unclear"}, **JSON)

    response = client.post(_url("workspace_submit", assignment), _pairwise_post(), **JSON)

    assert response.status_code == 409
    assert response.json() == {
        "code": "skipped",
        "message": "You skipped this task; it can no longer be submitted.",
        "history_url": reverse("expert_annotations"),
    }
    assert not Annotation.objects.exists()


def test_a_submit_on_a_closed_project_says_not_available(client):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    project.status = ProjectStatus.COMPLETED
    project.save(update_fields=["status"])
    client.force_login(expert)

    response = client.post(_url("workspace_submit", assignment), _pairwise_post(), **JSON)

    assert response.status_code == 409
    assert response.json()["code"] == "not_available"
    assert "is completed" in response.json()["message"]
    assert not Annotation.objects.exists()


def test_a_submit_refused_for_the_guidelines_sends_the_expert_to_them(client, monkeypatch):
    _, project, (expert,) = workspace()
    assignment = _claim(expert, project)
    client.force_login(expert)

    def refuse(**kwargs):
        raise dispatch.GuidelinesNotAcknowledged("Read the new guidelines first.")

    monkeypatch.setattr(dispatch, "annotation_submit", refuse)
    guidelines = reverse("project_guidelines", kwargs={"project_id": project.public_id})

    as_json = client.post(_url("workspace_submit", assignment), _pairwise_post(), **JSON)
    as_page = client.post(_url("workspace_submit", assignment), _pairwise_post())

    assert as_json.status_code == 409
    assert as_json.json() == {
        "code": "guidelines",
        "message": "Read the new guidelines first.",
        "history_url": reverse("expert_annotations"),
        "guidelines_url": guidelines,
    }
    assert as_page.status_code == 302
    assert as_page.url == guidelines


# Never the lab's task ids --------------------------------------------------------------------


def test_a_gold_tasks_external_id_never_appears_on_an_expert_page(client, monkeypatch):
    _, project, (expert,) = workspace(task_count=1, gold=2, gold_rate_percent=50)
    monkeypatch.setattr(dispatch.secrets, "randbelow", lambda bound: 0)  # gold, lowest id first
    first_gold, second_gold = Task.objects.filter(project=project, is_gold=True).order_by("id")
    Task.objects.filter(pk=first_gold.pk).update(external_id="gold-secret-7")
    Task.objects.filter(pk=second_gold.pk).update(external_id="gold-secret-8")
    client.force_login(expert)
    answered = _claim(expert, project)
    assert answered.task_id == first_gold.pk
    bodies = [
        client.get(_url("workspace_task", answered), extra).content.decode()
        for extra in ({}, {"fragment": "1"})
    ]
    client.post(_url("workspace_submit", answered), _pairwise_post())
    annotation = Annotation.objects.get(expert=expert)
    kept = _claim(expert, project)
    assert kept.task_id == second_gold.pk
    client.post(_url("workspace_draft", kept), _pairwise_post(rationale="Half done"))
    _expire(kept)
    dispatch.leases_return_expired()
    assert Assignment.objects.get(pk=kept.pk).status == AssignmentStatus.EXPIRED

    for url in (
        reverse("expert_annotations"),
        reverse("expert_annotation", kwargs={"annotation_id": annotation.public_id}),
        reverse("expert_kept_draft", kwargs={"assignment_id": kept.public_id}),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.content.decode())

    assert 'data-testid="kept-draft"' in bodies[2]
    assert "Half done" in bodies[4]
    for body in bodies:
        assert "gold-secret" not in body
        assert "gold" not in body.lower()


# Query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("task_count", [3, 40])
def test_start_runs_a_constant_number_of_queries(client, django_assert_num_queries, task_count):
    _, project, (expert, other) = workspace(experts=2, task_count=task_count, overlap=2)
    for _ in range(2):
        submit_next(other, project)
        submit_next(expert, project)
    client.force_login(expert)
    client.get(reverse("expert_annotations"))  # the session is loaded once, not refreshed

    with django_assert_num_queries(QUERIES_OF_START):
        response = client.get(_start(project))

    assert response.status_code == 302
    assignment = Assignment.objects.get(expert=expert, status=AssignmentStatus.LEASED)
    assert response.url == _url("workspace_task", assignment)
