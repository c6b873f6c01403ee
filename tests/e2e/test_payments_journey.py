"""The money journey in Chromium, on the offline sandbox provider: a lab manager adds funds on
the sandbox payment page and watches the funding complete, funds a project from the balance
and makes it live; the lab accepts two of the expert's three answers in the review queue; the
expert sees them payable and connects a payout account on the sandbox onboarding page; staff
run a payout batch; the expert's earnings show the payout paid and nothing left payable.

The live server shares the test database and Celery runs eagerly, so the payout's send task
has run (on commit, in the staff request) by the time the batch page loads.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from marketplace.models import User
from payments.ledger import ledger_verify, organization_money, platform_account
from payments.models import LabFunding, Payout, PayoutAccount, PayoutBatch
from payments.states import AccountKind, FundingStatus, PayoutStatus
from projects.access import LabActor
from projects.models import Annotation, Project
from projects.selectors import required_funds_cents
from projects.states import AnnotationStatus, ProjectStatus
from tests.e2e.conftest import log_in, log_in_staff
from tests.factories import lab_user, organization, staff_user
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import member, submit_next

pytestmark = pytest.mark.e2e

TITLE = "Drug interaction preferences"
PRICE_CENTS = 1_000
TASKS = 3
ADDED_CENTS = 5_000
ACCEPTED = 2
EARNED_CENTS = ACCEPTED * PRICE_CENTS


def dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def messages_of(page: Page):
    return page.locator("ul.messages")


def assert_screenshot(path: Path) -> None:
    assert path.exists(), path
    assert path.stat().st_size > 10_000, (path, path.stat().st_size)


def draft_project() -> tuple[LabActor, Project, User]:
    """A draft pairwise project of a new lab, with tasks and guidelines, and one expert on it."""
    manager = lab_user(full_name="Mona Manager")
    actor = project_factories.manager_actor(organization(owner=manager, name="Helix Labs"), manager)
    project = project_factories.project(
        actor,
        title=TITLE,
        price_per_annotation_cents=PRICE_CENTS,
        overlap=1,
        gold_rate_percent=0,
    )
    project_factories.tasks(project, TASKS)
    return actor, project, member(project)


def test_a_lab_funds_a_project_and_the_expert_is_paid_for_accepted_answers(open_page, screenshot):
    actor, project, expert = draft_project()
    org, manager = actor.organization, actor.user
    needed = required_funds_cents(project=project, task_count=TASKS)
    assert needed == TASKS * (PRICE_CENTS + 200)  # the 20 % platform fee on each answer
    assert needed < ADDED_CENTS

    # 1. The manager adds funds on the Billing tab and pays on the sandbox's payment page.
    lab = open_page()
    log_in(lab, manager.email)
    lab.goto(reverse("lab_dashboard", args=[org.slug]))
    lab.get_by_role("navigation", name="Organisation").get_by_role("link", name="Billing").click()
    expect(lab).to_have_url(re.compile(rf"/labs/{org.slug}/billing/$"))
    expect(lab.get_by_test_id("balance").locator(".stat-value")).to_have_text("$0.00")
    add_funds = lab.get_by_test_id("add-funds-form")
    add_funds.get_by_label("Amount (USD)").fill("50.00")
    add_funds.get_by_role("button", name="Add funds").click()

    expect(lab.get_by_text("Sandbox — no real money")).to_be_visible()
    expect(lab.get_by_test_id("sandbox-amount")).to_have_text("$50.00 USD")
    funding = LabFunding.objects.get(organization=org)
    assert funding.status == FundingStatus.PENDING
    assert organization_money(organization=org).balance_cents == 0
    lab.get_by_role("button", name="Pay $50.00").click()

    status = lab.get_by_test_id("funding-status")
    expect(status).to_have_attribute("data-status", FundingStatus.COMPLETED)
    expect(status.get_by_role("status")).to_have_text("$50.00 was added to Helix Labs's balance.")
    funding.refresh_from_db()
    assert funding.status == FundingStatus.COMPLETED
    assert funding.amount_cents == ADDED_CENTS
    assert funding.payment_reference.startswith("pi_sandbox_")
    assert organization_money(organization=org).balance_cents == ADDED_CENTS
    status.get_by_role("link", name="Back to billing").click()
    expect(lab.get_by_test_id("balance").locator(".stat-value")).to_have_text("$50.00")
    expect(lab.get_by_test_id("receipt-row")).to_have_count(1)
    receipt = lab.get_by_test_id("receipt-row")
    expect(receipt.locator("td").nth(1)).to_have_text("$50.00")
    expect(receipt.locator("td").nth(2)).to_have_text("Paid")
    expect(receipt.locator("td").nth(4)).to_have_text(funding.payment_reference)
    expect(receipt.locator("td").nth(5)).to_have_text(manager.email)
    assert_screenshot(screenshot(lab, "1-billing-paid"))

    # 2. The project page proposes what its tasks cost; the manager funds it and activates it.
    lab.goto(reverse("projects:detail", args=[org.slug, project.public_id]))
    expect(lab.get_by_test_id("lab-balance")).to_contain_text("$50.00 available")
    expect(lab.get_by_label("Amount (USD)")).to_have_value("36.00")
    lab.get_by_role("button", name="Fund from balance").click()
    expect(messages_of(lab)).to_contain_text("moved from the lab's balance")
    expect(lab.get_by_test_id("project-state")).to_have_text("Funded")
    expect(lab.get_by_test_id("funded")).to_have_text("$36.00")
    expect(lab.get_by_test_id("activation-ready")).to_be_visible()
    lab.get_by_role("button", name="Activate", exact=True).click()
    expect(messages_of(lab)).to_contain_text("is live")
    expect(lab.get_by_test_id("project-state")).to_have_text("Active")
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE
    assert project.funded_cents == needed
    money = organization_money(organization=org)
    assert (money.balance_cents, money.escrow_cents) == (ADDED_CENTS - needed, needed)

    # 3. The expert answers the three tasks; the lab accepts two of them in the review queue.
    answers = [submit_next(expert, project) for _ in range(TASKS)]
    lab.goto(reverse("projects:review_queue", args=[org.slug, project.public_id]))
    expect(lab.locator("input[name=annotations]")).to_have_count(TASKS)
    for annotation in answers[:ACCEPTED]:
        lab.locator(f"input[name=annotations][value='{annotation.public_id}']").check()
    lab.get_by_role("button", name="Accept selected").click()
    expect(messages_of(lab)).to_contain_text(f"Accepted {ACCEPTED} annotations.")
    statuses = dict(Annotation.objects.filter(project=project).values_list("public_id", "status"))
    assert [statuses[a.public_id] for a in answers] == [
        AnnotationStatus.ACCEPTED,
        AnnotationStatus.ACCEPTED,
        AnnotationStatus.SUBMITTED,
    ]

    # 4. The expert sees the accepted answers payable, the third in review, and connects a
    # payout account on the sandbox's onboarding page.
    page = open_page()
    log_in(page, expert.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Earnings").click()
    expect(page).to_have_url(re.compile(r"/expert/earnings/$"))
    expect(page.get_by_role("heading", name="Your earnings")).to_be_visible()
    expect(page.get_by_test_id("payable").locator(".stat-value")).to_have_text(
        dollars(EARNED_CENTS)
    )
    expect(page.get_by_test_id("pending")).to_contain_text(dollars(PRICE_CENTS))
    expect(page.get_by_test_id("pending")).to_contain_text("in review (1 answer)")
    expect(page.get_by_test_id("paid").locator(".stat-value")).to_have_text("$0.00")
    project_row = page.get_by_test_id("project-row")
    expect(project_row).to_have_count(1)
    expect(project_row).to_contain_text(TITLE)
    expect(project_row.locator("td").nth(0)).to_have_text(str(ACCEPTED))
    expect(project_row.locator("td").nth(1)).to_have_text(dollars(EARNED_CENTS))
    expect(page.get_by_text("No payouts yet.")).to_be_visible()
    assert_screenshot(screenshot(page, "2-earnings-payable"))

    payout_account = page.get_by_test_id("payout-account")
    payout_account.get_by_role("button", name="Set up payouts").click()
    expect(page.get_by_role("heading", name="Set up payouts")).to_be_visible()
    expect(page.get_by_text("Sandbox — no real money")).to_be_visible()
    page.get_by_role("button", name="Finish onboarding", exact=True).click()
    expect(page).to_have_url(re.compile(r"/expert/earnings/$"))
    expect(payout_account).to_contain_text("Payouts enabled")
    connected = PayoutAccount.objects.get(user=expert)
    assert connected.payouts_enabled is True
    assert connected.status == "enabled"

    # 5. Staff run a payout batch now; its payout is sent at once.
    person, secret = staff_user(with_totp=True, full_name="Pat Payments")
    assert secret is not None
    staff = open_page()
    log_in_staff(staff, person.email, secret)
    staff.goto(reverse("staff_dashboard"))
    staff.get_by_role("navigation", name="Staff console").get_by_role(
        "link", name="Payments"
    ).click()
    expect(staff).to_have_url(re.compile(r"/staff/payments/$"))
    expect(staff.get_by_text("No payout batch yet.")).to_be_visible()
    staff.get_by_role("button", name="Run payout batch now").click()
    expect(messages_of(staff)).to_contain_text(
        f"Batch started: 1 payout totalling {dollars(EARNED_CENTS)}."
    )
    expect(staff.get_by_test_id("batch-count")).to_have_text("1")
    expect(staff.get_by_test_id("batch-total")).to_have_text(dollars(EARNED_CENTS))
    payout_row = staff.get_by_test_id("payout-row")
    expect(payout_row).to_have_count(1)
    expect(payout_row).to_contain_text(expert.email)
    expect(payout_row).to_contain_text("Paid")
    assert_screenshot(screenshot(staff, "3-staff-batch"))

    # 6. The expert's earnings show the payout paid and nothing payable.
    page.reload()
    paid_row = page.get_by_test_id("payout-row")
    expect(paid_row).to_have_count(1)
    expect(paid_row.locator("td").nth(1)).to_have_text(dollars(EARNED_CENTS))
    expect(paid_row.locator("td").nth(2)).to_have_text("Paid")
    expect(page.get_by_test_id("payable").locator(".stat-value")).to_have_text("$0.00")
    expect(page.get_by_test_id("in-transit").locator(".stat-value")).to_have_text("$0.00")
    expect(page.get_by_test_id("paid").locator(".stat-value")).to_have_text(dollars(EARNED_CENTS))
    expect(page.get_by_test_id("pending")).to_contain_text(dollars(PRICE_CENTS))
    assert_screenshot(screenshot(page, "4-earnings-paid"))

    batch = PayoutBatch.objects.get()
    assert (batch.payout_count, batch.total_cents, batch.created_by) == (1, EARNED_CENTS, person)
    payout = Payout.objects.get()
    assert payout.batch == batch
    assert payout.expert == expert
    assert payout.status == PayoutStatus.PAID
    assert payout.amount_cents == EARNED_CENTS
    assert payout.attempts == 1
    assert payout.transfer_id
    assert payout.destination == connected.account_id
    assert payout.paid_at is not None
    assert ledger_verify() == []
    assert platform_account(kind=AccountKind.PAID_OUT, currency="USD").balance_cents == (
        EARNED_CENTS
    )
    assert platform_account(kind=AccountKind.IN_TRANSIT, currency="USD").balance_cents == 0
    money = organization_money(organization=org)
    assert money.balance_cents == ADDED_CENTS - needed
    assert money.escrow_cents == needed - ACCEPTED * (PRICE_CENTS + 200)
