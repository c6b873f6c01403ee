"""A lab manager's project journey in Chromium: create a pairwise project through the form
(with the live markdown preview and the suggested price), upload a file with two bad rows and
read the report, upload the fixed file, pay into the lab's balance on the sandbox payment
page, fund the project from it and make it live.

The live server shares the test database, so the assertions on the database see what the
browser did; Celery runs eagerly, so an import has finished when its page loads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from projects.models import Project, Task, TaskImport
from projects.selectors import required_funds_cents
from projects.states import ImportStatus, ProjectStatus
from tests.e2e.conftest import log_in, save_screenshot
from tests.factories import lab_user, organization

pytestmark = pytest.mark.e2e

TITLE = "Medication safety preferences"


def task_row(n: int, **changes: Any) -> dict[str, Any]:
    row = {
        "external_id": f"med-{n}",
        "prompt": f"Question {n}: is it safe to take ibuprofen with lisinopril?",
        "response_a": "NSAIDs can blunt ACE inhibitors and strain the kidneys; ask your doctor.",
        "response_b": "Yes, there is no interaction.",
    }
    row.update(changes)
    return {key: value for key, value in row.items() if value is not None}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def messages_of(page: Page):
    return page.locator("ul.messages")


def test_a_lab_manager_creates_imports_funds_and_activates_a_project(page, tmp_path):
    manager = lab_user(full_name="Ada Manager")
    org = organization(owner=manager, name="Helix Labs")
    bad_file = write_jsonl(
        tmp_path / "tasks.jsonl",
        [
            task_row(1),
            task_row(2, response_b=None),
            task_row(3),
            task_row(4, severity="high"),
        ],
    )

    # 1. The manager logs in, lands on the organisation and opens its projects.
    log_in(page, manager.email)
    expect(page).to_have_url(re.compile(rf"/labs/{org.slug}/$"))
    page.get_by_role("navigation", name="Organisation").get_by_role("link", name="Projects").click()
    expect(page).to_have_url(re.compile(rf"/labs/{org.slug}/projects/$"))
    expect(page.get_by_text("No projects yet.")).to_be_visible()
    page.get_by_role("link", name="New project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New project")

    # 2. The form: basics, the field (the suggested price follows it), the type, guidelines.
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Summary").fill("Compare two answers about drug interactions.")
    expect(page.get_by_test_id("suggested-price")).to_have_text("$4.00")
    page.get_by_label("Field:", exact=True).select_option(label="Medicine")
    expect(page.get_by_test_id("suggested-price")).to_have_text("$10.00")
    expect(page.get_by_label("Radiology")).to_be_visible()
    page.get_by_label("Licence").check()
    page.get_by_label("Minimum seniority").select_option(label="Senior (7 to 15 years)")
    expect(page.locator("input.task-type-input[value=pairwise]")).to_be_checked()
    # Choosing another type swaps in its settings, prefilled with its defaults.
    page.get_by_label("Rubric rating").check()
    expect(page.get_by_label("Rubric criteria")).to_have_value(re.compile(r"^Accuracy: "))
    page.get_by_label("Pairwise preference").check()
    expect(page.get_by_label("Criteria")).to_have_value("")
    page.get_by_label("Criteria").fill("Accuracy\nSafety")
    page.get_by_label("Guidelines").fill(
        "# How to judge\n\nPrefer the answer a **careful clinician** would give."
    )
    preview = page.locator("#guidelines-preview")
    expect(preview.locator("h1")).to_have_text("How to judge")
    expect(preview).to_be_visible()
    expect(preview.locator("strong")).to_have_text("careful clinician")
    page.get_by_label("Annotations per task").fill("2")
    page.get_by_role("button", name="Use it").click()
    expect(page.get_by_label("Price per annotation (USD)")).to_have_value("10.00")
    page.get_by_label("Seats").fill("5")
    save_screenshot(page, "lab-project-1-form")
    page.get_by_role("button", name="Create project").click()

    expect(messages_of(page)).to_contain_text(f"“{TITLE}” is saved as a draft.")
    project = Project.objects.get(organization=org)
    expect(page).to_have_url(re.compile(rf"/projects/{project.public_id}/$"))
    expect(page.get_by_test_id("project-state")).to_have_text("Draft")
    assert project.task_type == "pairwise"
    assert project.task_settings["criteria"] == ["Accuracy", "Safety"]
    assert project.price_per_annotation_cents == 1000
    assert project.overlap == 2
    assert project.required_credential_kinds == ["licence"]
    assert project.guidelines_version == 1

    # 3. A file with two bad rows is rejected whole, with a report naming both rows.
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Imports").click()
    page.get_by_label("File:", exact=True).set_input_files(bad_file)
    page.get_by_role("button", name="Upload", exact=True).click()
    status = page.get_by_test_id("import-status")
    expect(status).to_have_attribute("data-status", ImportStatus.FAILED)
    report = page.get_by_test_id("import-report")
    expect(report.get_by_test_id("report-row")).to_have_count(2)
    expect(report.get_by_test_id("report-row").nth(0)).to_contain_text("2")
    expect(report.get_by_test_id("report-row").nth(0)).to_contain_text("response_b")
    expect(report.get_by_test_id("report-row").nth(1)).to_contain_text("4")
    expect(report.get_by_test_id("report-row").nth(1)).to_contain_text("severity")
    expect(page.get_by_text("Fix the file and upload it again.")).to_be_visible()
    save_screenshot(page, "lab-project-2-import-report")
    assert not Task.objects.filter(project=project).exists()

    # 4. The fixed file goes in from the same page.
    fixed_file = write_jsonl(
        tmp_path / "tasks-fixed.jsonl", [task_row(1), task_row(2), task_row(3), task_row(4)]
    )
    page.get_by_label("File:", exact=True).set_input_files(fixed_file)
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_test_id("import-status")).to_have_attribute(
        "data-status", ImportStatus.SUCCEEDED
    )
    expect(page.get_by_test_id("created-count")).to_have_text("4")
    assert TaskImport.objects.filter(project=project, status=ImportStatus.SUCCEEDED).count() == 1
    page.get_by_role("link", name="See the tasks").click()
    expect(page.get_by_test_id("task-row")).to_have_count(4)
    expect(page.get_by_test_id("task-row").first).to_contain_text("med-1")

    # 5. Pay into the lab's balance on the provider's hosted page (the offline sandbox's),
    # move the shortfall into the project's escrow and go live.
    needed = required_funds_cents(project=project, task_count=4)
    project_page = page.url
    page.goto(f"/labs/{project.organization.slug}/billing/")
    add_funds = page.get_by_test_id("add-funds-form")
    add_funds.get_by_label("Amount (USD)").fill(f"{needed // 100}.{needed % 100:02d}")
    add_funds.get_by_role("button", name="Add funds").click()
    expect(page.get_by_text("Sandbox — no real money")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_test_id("funding-status")).to_have_attribute("data-status", "completed")
    page.goto(project_page)
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Overview").click()
    amount = page.get_by_label("Amount (USD)")
    expect(amount).to_have_value(f"{needed // 100}.{needed % 100:02d}")
    page.get_by_role("button", name="Fund from balance").click()
    expect(messages_of(page)).to_contain_text("moved from the lab's balance")
    expect(page.get_by_test_id("project-state")).to_have_text("Funded")
    expect(page.get_by_test_id("activation-ready")).to_be_visible()
    page.get_by_role("button", name="Activate", exact=True).click()

    expect(messages_of(page)).to_contain_text("is live")
    expect(page.get_by_test_id("project-state")).to_have_text("Active")
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert project.funded_cents == needed
    save_screenshot(page, "lab-project-3-active")
