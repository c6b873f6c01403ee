"""The quality dashboards in Chromium: a lab manager opens the panel project's Quality tab,
recomputes the figures and sees the charts drawn; the demo radiologist opens their own quality
page; staff lift the pause the gold rule put on the panel's random clicker. Each page leaves a
screenshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from marketplace.management.commands.seed_demo import DEMO_PASSWORD
from projects.demo.quality import TITLE as PANEL_PROJECT
from projects.models import Project, ProjectMember
from projects.quality.models import ProjectQuality
from projects.states import MemberStatus
from tests.e2e.conftest import log_in, log_in_staff
from tests.factories import staff_user

pytestmark = pytest.mark.e2e

DEMO_PROJECT = "Imaging report explanations"


def test_a_lab_manager_opens_the_quality_dashboard_of_the_demo_project(
    seeded, open_page, screenshot
):
    project = Project.objects.select_related("organization").get(title=PANEL_PROJECT)
    page = open_page()
    log_in(page, "manager@acme.example", DEMO_PASSWORD)

    page.goto(reverse("projects:detail", args=[project.organization.slug, project.public_id]))
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Quality").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Progress over time")).to_be_visible()
    page.get_by_role("button", name="Recompute now").click()
    page.wait_for_load_state()

    expect(page.locator(".messages")).to_contain_text("Quality figures recomputed from")
    expect(page.get_by_test_id("quality-computed")).to_contain_text("Last computed")
    for name in ("Progress over time", "Answers per day, last 30 days", "Cost against budget"):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    for name in (
        "Calibration on gold tasks",
        "Experts' gold accuracy",
        "Agreement per question (Krippendorff's alpha)",
    ):
        expect(page.get_by_role("img", name=name)).to_be_visible()
    quality = ProjectQuality.objects.get(project=project)
    expect(page.get_by_test_id("expert-row")).to_have_count(len(quality.figures["experts"]))
    expect(page.get_by_test_id("kpi-annotations").locator(".kpi-value")).to_have_text(
        str(project.annotations.count())
    )
    path = screenshot(page)
    assert path.exists()
    assert path.stat().st_size > 10_000

    # The same lab downloads the project's answers as DPO rows, ready for training.
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Exports").click()
    with page.expect_download() as download_info:
        page.get_by_test_id("download-dpo").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".jsonl")
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    ties = project.annotations.filter(result__preference="tie").count()
    assert len(rows) == project.annotations.count() - ties
    for row in rows:
        assert row["prompt"]
        assert row["chosen"] != row["rejected"]
        assert {row["chosen"], row["rejected"]} == {row["response_a"], row["response_b"]}
        assert row["margin"] in (1, 2)
        assert row["provenance"]["expert"].startswith("ex_")
        assert row["provenance"]["credentials"][0]["kind"] == "board_certification"
        assert row["provenance"]["project_id"] == str(project.public_id)

    # The demo radiologist whose answers the lab reviewed finds their own page from the
    # dashboard: their score, and the lab's feedback, without any other expert's figures.
    expert = open_page()
    log_in(expert, "dr.haddad@demo.example", DEMO_PASSWORD)
    expert.goto(reverse("experts:dashboard"))
    expert.get_by_role("link", name="Quality and feedback →").click()
    expect(expert.get_by_role("heading", name="Your quality", exact=True)).to_be_visible()
    expect(expert.get_by_test_id("domain-quality")).to_have_count(1)
    expect(expert.get_by_test_id("feedback")).to_contain_text("Clear, specific rationale.")
    expect(expert.get_by_test_id("feedback")).to_contain_text(DEMO_PROJECT)
    screenshot(expert, "expert")


def test_staff_lift_a_quality_pause_from_the_overview(seeded, open_page, screenshot):
    # The seed's random clicker, paused by the gold rule.
    member = ProjectMember.objects.select_related("expert").get(
        project__title=PANEL_PROJECT, quality_paused=True
    )
    person, secret = staff_user(with_totp=True, full_name="Quinn Quality")
    assert secret is not None
    page = open_page()
    log_in_staff(page, person.email, secret)

    page.goto(reverse("staff_dashboard"))
    page.get_by_role("navigation", name="Staff console").get_by_role("link", name="Quality").click()
    paused = page.get_by_test_id("paused-members")
    expect(paused).to_contain_text(member.status_reason)
    expect(paused).to_contain_text(member.expert.email)
    expect(page.get_by_test_id("active-projects")).to_contain_text(PANEL_PROJECT)
    screenshot(page)
    paused.get_by_role("textbox").fill("Reviewed the gold items with the expert.")
    paused.get_by_role("button", name="Lift pause").click()
    page.wait_for_load_state()

    expect(page.locator(".messages")).to_contain_text("can work on " + PANEL_PROJECT + " again")
    expect(page.get_by_test_id("no-paused")).to_be_visible()
    member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE
    assert member.pause_lifted_by == person
