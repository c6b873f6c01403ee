"""The workspace in Chromium: an expert answers five pairwise tasks with the keyboard only
(reloading once mid-task and finding the draft), then the lab accepts the five answers in the
review queue."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from projects.models import Annotation, Assignment
from projects.states import AnnotationStatus
from tests.e2e.conftest import log_in
from tests.projects.workspace_factories import submit_next, workspace

pytestmark = pytest.mark.e2e

SAVED = re.compile(r"^Saved \d\d:\d\d:\d\d$")


def _wait_for_task(page: Page, number: int) -> None:
    """The workspace shows task ``#number`` (tasks are served in import order)."""
    expect(page.locator(".task-prompt")).to_contain_text(f"#{number}")


def _set_confidence_with_keys(page: Page) -> None:
    page.keyboard.press("c")
    page.keyboard.press("End")
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    expect(page.locator("#answer-confidence-value")).to_have_text("95")


def _write_rationale(page: Page, text: str) -> None:
    page.keyboard.press("t")
    expect(page.locator("#answer-rationale")).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(text)
    page.keyboard.press("Escape")


def test_an_expert_answers_five_tasks_by_keyboard_and_the_lab_accepts_them(open_page, screenshot):
    actor, project, (expert,) = workspace(task_count=5, overlap=1)
    page = open_page()
    log_in(page, expert.email)
    page.goto(reverse("workspace_start", kwargs={"project_id": project.public_id}))

    _wait_for_task(page, 0)
    # The confidence arrives as a number input and becomes a slider that is "not set".
    expect(page.locator("#answer-confidence")).to_have_attribute("type", "range")
    expect(page.locator("#answer-confidence-value")).to_have_text("not set")
    # Only looking at the task leases nothing more: the next one comes on the first work.
    page.wait_for_timeout(2_000)
    assert Assignment.objects.filter(expert=expert).count() == 1

    for number in range(5):
        _wait_for_task(page, number)
        url_before = page.url
        if number == 2:
            # Half an answer, autosaved, then a reload: the draft comes back from the server.
            page.keyboard.press("2")
            _write_rationale(page, "Partly written")
            expect(page.locator("[data-save-status]")).to_have_text(SAVED, timeout=12_000)
            page.reload()
            _wait_for_task(page, number)
            expect(page.locator("#answer-rationale")).to_have_value("Partly written")
            expect(page.locator("input[name=preference][value=a_better]")).to_be_checked()
            _write_rationale(page, ", then finished after the reload.")
        else:
            page.keyboard.press("1")
            expect(page.locator("input[name=preference][value=a_much_better]")).to_be_checked()
            _write_rationale(page, f"A names the interaction (task {number}).")
        _set_confidence_with_keys(page)
        if number == 0:
            screenshot(page)
        page.keyboard.press("Control+Enter")
        if number < 4:
            # The prefetched next task replaces this one without a page load.
            _wait_for_task(page, number + 1)
            assert page.url != url_before
            shown = page.locator("[data-workspace]").get_attribute("data-page-url")
            assert shown is not None
            assert page.url.endswith(shown)
            expect(page.locator("[data-answer-form] textarea").first).not_to_be_focused()

    expect(page.get_by_role("heading", name="All caught up")).to_be_visible()
    answers = list(Annotation.objects.filter(project=project, expert=expert).order_by("id"))
    assert len(answers) == 5
    assert [a.result["preference"] for a in answers] == [
        "a_much_better",
        "a_much_better",
        "a_better",
        "a_much_better",
        "a_much_better",
    ]
    assert answers[2].result["rationale"] == "Partly written, then finished after the reload."
    assert {a.confidence for a in answers} == {95}
    # Active time: the draft's autosave waited several seconds with the page in use.
    assert 4 <= answers[2].time_spent_seconds <= 60, [a.time_spent_seconds for a in answers]
    assert all(a.time_spent_seconds <= 30 for a in answers[:2] + answers[3:])

    lab = open_page()
    log_in(lab, actor.user.email)
    queue = reverse(
        "projects:review_queue",
        kwargs={"slug": actor.organization.slug, "project_id": project.public_id},
    )
    lab.goto(queue)
    expect(lab.locator("input[name=annotations]")).to_have_count(5)
    lab.locator("#select-all").check()
    lab.get_by_role("button", name="Accept selected").click()
    lab.wait_for_load_state()
    expect(lab.locator(".messages")).to_contain_text("Accepted 5 annotations.")
    # The default queue lists what waits for review; the accepted ones are under their status.
    lab.goto(f"{queue}?status=accepted")
    for annotation in answers:
        row = lab.locator("tr", has=lab.locator(f"input[value='{annotation.public_id}']"))
        expect(row).to_contain_text("Accepted")
    assert set(Annotation.objects.filter(project=project).values_list("status", flat=True)) == {
        AnnotationStatus.ACCEPTED
    }
    assert Annotation.objects.filter(project=project).count() == 5


def test_an_edit_from_the_history_sends_the_pages_signals(open_page):
    _, project, (expert,) = workspace(task_count=1)
    annotation = submit_next(expert, project)
    page = open_page()
    log_in(page, expert.email)
    page.goto(reverse("expert_annotation", kwargs={"annotation_id": annotation.public_id}))

    expect(page.locator("#answer-confidence")).to_have_attribute("type", "range")
    rationale = page.locator("#answer-rationale")
    rationale.fill("Rewritten after the feedback.")
    rationale.evaluate(
        """(field) => {
          const data = new DataTransfer();
          data.setData("text", "pasted words");
          field.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true}));
        }"""
    )
    page.wait_for_timeout(1_500)  # some active time on the page
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".messages")).to_contain_text("Your answer is saved.")

    annotation.refresh_from_db()
    assert annotation.result["rationale"] == "Rewritten after the feedback."
    assert (annotation.paste_count, annotation.pasted_chars, annotation.edit_count) == (1, 12, 1)
    assert annotation.time_spent_seconds >= 1
