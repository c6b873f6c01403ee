"""The expert's earnings page, the payout account box, and the CSV statement."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from payments.bonuses import bonus_pay
from payments.connect import payout_account_sync
from payments.models import PayoutAccount
from payments.providers import ConnectedAccount
from payments.states import PayoutAccountStatus
from payments.views.earnings import safe_cell
from projects.exports.provenance import lab_pseudonym
from projects.review import services as review
from tests import factories
from tests.payments.factories import fund_lab
from tests.payments.test_selectors import connect_payouts, money_scenario, run_batch
from tests.projects.workspace_factories import answer_task, member, workspace

pytestmark = pytest.mark.django_db

EARNINGS = reverse("payments:earnings")
STATEMENT = reverse("payments:statement")
# session, user, pending answers, payable lines, payable balance, payouts by status,
# payouts, bonuses, payout account, unread notifications
EARNINGS_QUERIES = 10


def page(response) -> str:
    return response.content.decode()


def stat(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"><span class="stat-value">([^<]*)<', html)
    assert match, testid
    return match.group(1)


def cells(row: str) -> list[str]:
    """The row's data cells as text (tags dropped, spaces collapsed)."""
    return [
        " ".join(re.sub(r"<[^>]+>", " ", cell).split())
        for cell in re.findall(r"<td>(.*?)</td>", row, re.S)
    ]


def statement_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def money(client, django_capture_on_commit_callbacks):
    return money_scenario(client, django_capture_on_commit_callbacks)


def test_the_earnings_page_shows_exact_figures(money, client, django_assert_num_queries):
    client.force_login(money.alice)

    with django_assert_num_queries(EARNINGS_QUERIES):
        response = client.get(EARNINGS)

    assert response.status_code == 200
    html = page(response)
    assert stat(html, "pending") == "$0.00"
    assert stat(html, "payable") == "$5.00"
    assert stat(html, "in-transit") == "$0.00"
    assert stat(html, "paid") == "$10.00"
    (row,) = re.findall(r'<tr data-testid="project-row">(.*?)</tr>', html, re.S)
    assert money.project.title in row
    assert cells(row) == ["3", "$15.00", "$0.00", "$0.00"]
    (payout,) = re.findall(r'<tr data-testid="payout-row">(.*?)</tr>', html, re.S)
    assert "$10.00" in payout
    assert "Paid" in payout
    assert "Payouts enabled" in html
    assert "Set up payouts" not in html
    assert 'data-testid="bonus-row"' not in html
    # Nothing of Bob's.
    assert "Spotted the duplicate items" not in html
    assert money.bob.email not in html


def test_pending_answers_and_bonuses_show_with_their_reason(money, client):
    client.force_login(money.bob)

    html = page(client.get(EARNINGS))

    assert stat(html, "pending") == "$5.00"
    assert "in review (1 answer)" in html
    assert stat(html, "payable") == "$2.50"
    assert stat(html, "paid") == "$0.00"
    (row,) = re.findall(r'<tr data-testid="project-row">(.*?)</tr>', html, re.S)
    assert cells(row) == ["0", "$0.00", "$2.50", "$5.00 (1)"]
    (bonus,) = re.findall(r'<tr data-testid="bonus-row">(.*?)</tr>', html, re.S)
    assert "Spotted the duplicate items" in bonus
    assert "Helix Labs" in bonus
    assert "$2.50" in bonus
    assert "Set up payouts" in html
    assert 'data-testid="payout-row"' not in html


@pytest.mark.parametrize("answers", [1, 4])
def test_the_earnings_page_costs_the_same_queries_with_more_rows(
    client, django_capture_on_commit_callbacks, django_assert_num_queries, answers
):

    expert = factories.expert()
    for number in range(2):
        actor, project, _ = workspace(
            experts=0, task_count=answers, overlap=1, title=f"Study {number}"
        )
        member(project, expert)
        for task in project.tasks.order_by("id"):
            review.annotation_accept(actor=actor, annotation=answer_task(expert, task, project))
        fund_lab(actor.organization, 1000)
        bonus_pay(
            actor=actor,
            expert_pseudonym=lab_pseudonym(actor.organization.pk, expert.pk),
            amount_cents=100 + number,
            reason=f"Thanks {number}",
        )
    client.force_login(expert)

    with django_assert_num_queries(EARNINGS_QUERIES):
        html = page(client.get(EARNINGS))

    assert html.count('data-testid="project-row"') == 2
    assert html.count('data-testid="bonus-row"') == 2


def test_the_statement_is_exact(money, client):
    client.force_login(money.alice)

    response = client.get(STATEMENT)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="earnings-statement.csv"'
    rows = statement_rows(response)
    title = money.project.title
    memo = f"Accepted answer on “{title}”"
    assert rows[0] == ["date", "kind", "project", "description", "amount", "balance_after"]
    assert [row[1:] for row in rows[1:]] == [
        ["Accepted answer", title, memo, "5.00", "5.00"],
        ["Accepted answer", title, memo, "5.00", "10.00"],
        ["Payout sent", "", "Payout", "-10.00", "0.00"],
        ["Accepted answer", title, memo, "5.00", "5.00"],
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[0]) for row in rows[1:])


def test_statement_cells_cannot_run_as_formulas(client, django_capture_on_commit_callbacks):

    actor, _project, (expert,) = workspace(task_count=1)
    fund_lab(actor.organization, 1000)
    bonus_pay(
        actor=actor,
        expert_pseudonym=lab_pseudonym(actor.organization.pk, expert.pk),
        amount_cents=150,
        reason='=HYPERLINK("http://evil.example")',
    )
    client.force_login(expert)

    rows = statement_rows(client.get(STATEMENT))

    assert [row[1:] for row in rows[1:]] == [
        ["Bonus", "", 'Bonus from Helix Labs: =HYPERLINK("http://evil.example")', "1.50", "1.50"]
    ]
    assert safe_cell("=1+1") == "'=1+1"
    assert safe_cell("+1") == "'+1"
    assert safe_cell("-1") == "'-1"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("Plain") == "Plain"


def test_a_formula_at_the_start_of_a_project_title_is_neutralised(
    client, django_capture_on_commit_callbacks
):

    actor, project, (expert,) = workspace(task_count=1, overlap=1, title="=cmd|' /C calc'!A0")
    review.annotation_accept(
        actor=actor, annotation=answer_task(expert, project.tasks.get(), project)
    )
    client.force_login(expert)

    (row,) = statement_rows(client.get(STATEMENT))[1:]

    assert row[2] == "'=cmd|' /C calc'!A0"


def test_pages_are_for_experts_only_and_each_sees_only_their_own(money, client):
    client.force_login(factories.lab_user())
    assert client.get(EARNINGS).status_code == 404
    assert client.get(STATEMENT).status_code == 404
    assert client.post(reverse("payments:payout_connect")).status_code == 404

    newcomer = factories.expert()
    client.force_login(newcomer)
    html = page(client.get(EARNINGS))
    assert stat(html, "payable") == "$0.00"
    assert stat(html, "paid") == "$0.00"
    assert "No payouts yet." in html
    assert "No bonuses yet." in html
    assert statement_rows(client.get(STATEMENT)) == [
        ["date", "kind", "project", "description", "amount", "balance_after"]
    ]

    client.logout()
    assert client.get(EARNINGS).status_code == 302


def test_set_up_payouts_goes_to_the_onboarding_and_the_box_follows_the_state(client):
    expert = factories.expert()
    client.force_login(expert)
    assert "Set up payouts" in page(client.get(EARNINGS))

    response = client.post(reverse("payments:payout_connect"))

    account = PayoutAccount.objects.get(user=expert)
    assert account.status == PayoutAccountStatus.ONBOARDING
    assert response.status_code == 302
    assert response.url.startswith(
        reverse("payments:sandbox_onboarding", kwargs={"account_id": account.account_id})
    )
    html = page(client.get(EARNINGS))
    assert "Waiting for the provider" in html
    assert "Set up payouts" not in html

    client.post(response.url, {"action": "enable"})
    assert "Payouts enabled" in page(client.get(EARNINGS))


def test_a_restricted_account_shows_the_reason(client):

    expert = factories.expert()
    connect_payouts(client, expert)
    account = PayoutAccount.objects.get(user=expert)
    payout_account_sync(
        account=ConnectedAccount(
            id=account.account_id,
            payouts_enabled=False,
            details_submitted=True,
            disabled_reason="requirements.past_due",
        ),
        as_of=timezone.now(),
    )
    client.force_login(expert)

    html = page(client.get(EARNINGS))

    assert "Restricted" in html
    assert "requirements.past_due" in html


def test_a_returned_payout_shows_its_reason(
    money, client, django_capture_on_commit_callbacks, settings
):
    settings.PAYOUT_MINIMUM_CENTS = 100
    connect_payouts(client, money.bob, rejects=True)
    run_batch(money.staff, django_capture_on_commit_callbacks)
    client.force_login(money.bob)

    html = page(client.get(EARNINGS))

    (row,) = re.findall(r'<tr data-testid="payout-row">(.*?)</tr>', html, re.S)
    assert "Failed and returned" in row
    assert "The destination account cannot receive transfers." in row
    assert stat(html, "payable") == "$2.50"
    assert stat(html, "paid") == "$0.00"
    # Alice's payouts are not Bob's.
    assert html.count('data-testid="payout-row"') == 1


def test_the_expert_navigation_links_to_earnings(client):
    client.force_login(factories.expert())

    html = page(client.get(reverse("experts:dashboard")))

    assert f'href="{EARNINGS}"' in html
