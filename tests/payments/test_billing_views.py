"""The lab's Billing tab: figures, adding funds through the sandbox's hosted page, the return
page that never credits, and bonuses from the page."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from marketplace.models import Notification
from payments.ledger import expert_account, lab_account
from payments.models import Bonus, LabFunding, LedgerTransaction
from payments.states import FundingStatus, TransactionKind
from projects.exports.provenance import lab_pseudonym
from tests.payments.factories import fund_lab
from tests.payments.test_selectors import money_scenario
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import lab_viewer, workspace

pytestmark = pytest.mark.django_db

# session, user, membership, lab balance, lab entries by kind, escrow accounts with projects,
# project movements, fundings, bonuses, projects for the bonus form, unread notifications
BILLING_QUERIES = 11
# session, user, membership, funding, unread notifications (the fragment as the page)
FUNDING_QUERIES = 5
FUNDING_FRAGMENT_QUERIES = 5


def billing_url(organization) -> str:
    return reverse("payments:billing", args=[organization.slug])


def page(response) -> str:
    return response.content.decode()


def stat(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"><span class="stat-value">([^<]*)<', html)
    assert match, testid
    return match.group(1)


def lab_balance(organization) -> int:
    return lab_account(organization=organization, currency="USD").balance_cents


def test_the_billing_page_shows_exact_figures(
    client, django_capture_on_commit_callbacks, django_assert_num_queries
):
    money = money_scenario(client, django_capture_on_commit_callbacks)
    organization = money.actor.organization
    client.force_login(money.actor.user)

    with django_assert_num_queries(BILLING_QUERIES):
        response = client.get(billing_url(organization))

    assert response.status_code == 200
    html = page(response)
    assert stat(html, "balance") == "$104.70"
    assert stat(html, "funds-added") == "$131.20"
    assert stat(html, "escrow-held") == "$6.00"
    assert stat(html, "spent") == "$15.00"
    assert stat(html, "fees") == "$3.00"
    assert stat(html, "bonuses-total") == "$2.50"
    rows = re.findall(r'<tr data-testid="escrow-row">(.*?)</tr>', html, re.S)
    cells = [re.findall(r"<td>([^<]*)</td>", row) for row in rows]
    assert cells == [
        ["$7.20", "$0.00", "$0.00", "$0.00", "$7.20"],
        ["$24.00", "$6.00", "$15.00", "$3.00", "$0.00"],
    ]
    assert "Closed study" in rows[0]
    assert money.project.title in rows[1]
    totals = re.search(r'<tr data-testid="escrow-totals">(.*?)</tr>', html, re.S)
    assert totals
    assert re.findall(r"<td>([^<]*)</td>", totals.group(1)) == [
        "$31.20",
        "$6.00",
        "$15.00",
        "$3.00",
        "$7.20",
    ]
    assert html.count('data-testid="receipt-row"') == 3
    assert html.count('data-testid="bonus-row"') == 1
    assert lab_pseudonym(organization.pk, money.bob.pk) in html
    assert money.bob.email not in html
    assert "Spotted the duplicate items" in html
    assert 'aria-current="page">Billing</a>' in html
    assert 'data-testid="add-funds-form"' in html


@pytest.mark.parametrize("projects", [1, 3])
def test_the_billing_page_costs_the_same_queries_with_more_rows(
    client, django_assert_num_queries, projects
):
    actor = project_factories.manager_actor()
    for number in range(projects):
        project_factories.active_project(actor, task_count=1, title=f"Study {number}")
        fund_lab(actor.organization, 1000 + number)
    client.force_login(actor.user)

    with django_assert_num_queries(BILLING_QUERIES):
        response = client.get(billing_url(actor.organization))

    assert page(response).count('data-testid="escrow-row"') == projects
    assert page(response).count('data-testid="receipt-row"') == 2 * projects


def test_add_funds_sends_the_manager_to_the_sandbox_checkout_and_credits_nothing(client):
    actor = project_factories.manager_actor()
    client.force_login(actor.user)

    response = client.post(
        reverse("payments:funding_add", args=[actor.organization.slug]), {"amount": "250.75"}
    )

    funding = LabFunding.objects.get(organization=actor.organization)
    assert (funding.amount_cents, funding.status, funding.provider) == (
        25075,
        FundingStatus.PENDING,
        "offline",
    )
    assert response.status_code == 302
    assert response.url == reverse(
        "payments:sandbox_checkout", kwargs={"session_id": funding.checkout_session_id}
    )
    assert lab_balance(actor.organization) == 0
    assert not LedgerTransaction.objects.exists()

    # Coming back without paying (or pretending to have paid) credits nothing either.
    returned = client.get(
        reverse("payments:funding_return", args=[actor.organization.slug]),
        {"session_id": funding.checkout_session_id},
    )
    assert returned.url == reverse(
        "payments:funding", args=[actor.organization.slug, funding.public_id]
    )
    html = page(client.get(returned.url))
    assert "Waiting for the payment to be confirmed" in html
    assert 'hx-trigger="every 2s"' in html
    funding.refresh_from_db()
    assert funding.status == FundingStatus.PENDING
    assert lab_balance(actor.organization) == 0


def test_paying_on_the_sandbox_page_credits_once_and_the_page_stops_polling(
    client, django_capture_on_commit_callbacks, django_assert_num_queries
):
    actor = project_factories.manager_actor()
    client.force_login(actor.user)
    checkout = client.post(
        reverse("payments:funding_add", args=[actor.organization.slug]), {"amount": "40"}
    ).url
    funding = LabFunding.objects.get(organization=actor.organization)
    url = reverse("payments:funding", args=[actor.organization.slug, funding.public_id])

    with django_assert_num_queries(FUNDING_FRAGMENT_QUERIES):
        fragment = client.get(url, headers={"HX-Request": "true"})
    assert 'hx-trigger="every 2s"' in page(fragment)
    assert "<html" not in page(fragment)

    with django_capture_on_commit_callbacks(execute=True):
        paid = client.post(checkout, {"action": "pay"})
    back = client.get(paid.url)
    assert back.url == url

    funding.refresh_from_db()
    assert funding.status == FundingStatus.COMPLETED
    assert lab_balance(actor.organization) == 4000
    with django_assert_num_queries(FUNDING_QUERIES):
        html = page(client.get(url))
    assert "$40.00 was added to Helix Labs's balance." in html
    assert "hx-trigger" not in html
    assert "Waiting for the payment" not in html
    # Reloading the return page credits nothing more.
    client.get(url)
    assert lab_balance(actor.organization) == 4000
    assert LedgerTransaction.objects.filter(kind=TransactionKind.FUNDING).count() == 1


def test_add_funds_refuses_a_bad_amount_and_a_viewer(client):
    actor = project_factories.manager_actor()
    viewer = lab_viewer(actor)
    client.force_login(actor.user)
    url = reverse("payments:funding_add", args=[actor.organization.slug])

    for amount in ("9.99", "12.345", "abc"):
        response = client.post(url, {"amount": amount})
        assert response.status_code == 400, amount

    client.force_login(viewer)
    response = client.post(url, {"amount": "50"})
    assert response.status_code == 302
    html = page(client.get(billing_url(actor.organization)))
    assert "Only owners and managers can add funds." in html
    assert 'data-testid="add-funds-form"' not in html
    assert 'data-testid="bonus-form"' not in html
    assert not LabFunding.objects.exists()


def test_another_labs_billing_and_funding_pages_are_404(client):
    actor = project_factories.manager_actor()
    funding = fund_lab(actor.organization, 5000)
    stranger = project_factories.manager_actor()
    client.force_login(stranger.user)
    slug = actor.organization.slug

    assert client.get(billing_url(actor.organization)).status_code == 404
    assert (
        client.get(reverse("payments:funding", args=[slug, funding.public_id])).status_code == 404
    )
    assert (
        client.post(reverse("payments:funding_add", args=[slug]), {"amount": "50"}).status_code
        == 404
    )
    # Their own organisation's URL with the other lab's funding: 404 too.
    own = reverse("payments:funding", args=[stranger.organization.slug, funding.public_id])
    assert client.get(own).status_code == 404
    assert (
        client.get(
            reverse("payments:funding_return", args=[stranger.organization.slug]),
            {"session_id": "cs_unknown"},
        ).status_code
        == 404
    )
    assert LabFunding.objects.filter(organization=stranger.organization).count() == 0


def test_the_lab_nav_links_to_billing(client):
    actor = project_factories.manager_actor()
    client.force_login(actor.user)

    html = page(client.get(reverse("lab_dashboard", args=[actor.organization.slug])))

    assert f'href="{billing_url(actor.organization)}"' in html


# Bonuses from the page -------------------------------------------------------------------------


def test_a_manager_pays_a_bonus_from_the_page(client, django_capture_on_commit_callbacks):
    actor, project, (expert,) = workspace(task_count=1)
    fund_lab(actor.organization, 5000)
    client.force_login(actor.user)
    name = lab_pseudonym(actor.organization.pk, expert.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("payments:bonus_create", args=[actor.organization.slug]),
            {
                "pseudonym": name,
                "amount": "12.50",
                "reason": "Thorough <b>rationales</b>",
                "project": str(project.public_id),
            },
            follow=True,
        )

    html = page(response)
    assert f"Paid a bonus of $12.50 to {name}." in html
    assert "Thorough &lt;b&gt;rationales&lt;/b&gt;" in html
    bonus = Bonus.objects.get()
    assert (bonus.expert, bonus.amount_cents, bonus.project) == (expert, 1250, project)
    assert lab_balance(actor.organization) == 5000 - 1250
    assert expert_account(user=expert, currency="USD").balance_cents == 1250


def test_a_bonus_form_error_shows_and_pays_nothing(client):
    actor, _project, (expert,) = workspace(task_count=1)
    fund_lab(actor.organization, 500)
    client.force_login(actor.user)
    url = reverse("payments:bonus_create", args=[actor.organization.slug])
    name = lab_pseudonym(actor.organization.pk, expert.pk)

    unknown = client.post(url, {"pseudonym": "ex_000000000000", "amount": "1", "reason": "Hi"})
    too_much = client.post(url, {"pseudonym": name, "amount": "5.01", "reason": "Hi"})

    assert unknown.status_code == too_much.status_code == 400
    assert "No expert who worked on your projects is “ex_000000000000”." in page(unknown)
    assert "The lab&#x27;s balance holds $5.00; the bonus is $5.01. Add funds first." in page(
        too_much
    )
    assert not Bonus.objects.exists()
    assert lab_balance(actor.organization) == 500


def test_a_csv_upload_pays_everyone_or_names_the_bad_rows(
    client, django_capture_on_commit_callbacks
):
    actor, _project, (first, second) = workspace(experts=2, task_count=1)
    fund_lab(actor.organization, 5000)
    client.force_login(actor.user)
    url = reverse("payments:bonus_upload", args=[actor.organization.slug])
    one = lab_pseudonym(actor.organization.pk, first.pk)
    two = lab_pseudonym(actor.organization.pk, second.pk)
    mail.outbox.clear()

    bad = SimpleUploadedFile(
        "bonuses.csv", f"pseudonym,amount,reason\n{one},5,Good\n{two},5,\n".encode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post(url, {"file": bad})
    assert refused.status_code == 400
    html = page(refused)
    assert "The file was not paid; nothing was taken from the balance." in html
    assert "Row 3: the reason is empty." in html
    assert not Bonus.objects.exists()
    assert not Notification.objects.filter(kind="bonus.received").exists()
    assert mail.outbox == []
    assert lab_balance(actor.organization) == 5000

    good = SimpleUploadedFile(
        "bonuses.csv", f"pseudonym,amount,reason\n{one},5,Good\n{two},0.25,Fine\n".encode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        paid = client.post(url, {"file": good}, follow=True)
    assert "Paid 2 bonuses totalling $5.25." in page(paid)
    assert lab_balance(actor.organization) == 5000 - 525
    assert expert_account(user=first, currency="USD").balance_cents == 500
    assert expert_account(user=second, currency="USD").balance_cents == 25
    assert len(mail.outbox) == 2


def test_a_viewer_cannot_pay_bonuses_from_the_page(client):
    actor, _project, (expert,) = workspace(task_count=1)
    fund_lab(actor.organization, 5000)
    client.force_login(lab_viewer(actor))
    name = lab_pseudonym(actor.organization.pk, expert.pk)

    single = client.post(
        reverse("payments:bonus_create", args=[actor.organization.slug]),
        {"pseudonym": name, "amount": "1", "reason": "Hi"},
    )
    upload = client.post(
        reverse("payments:bonus_upload", args=[actor.organization.slug]),
        {"file": SimpleUploadedFile("b.csv", f"pseudonym,amount,reason\n{name},1,Hi\n".encode())},
    )

    assert single.status_code == upload.status_code == 302
    assert not Bonus.objects.exists()
    assert lab_balance(actor.organization) == 5000


def test_another_lab_cannot_pay_bonuses_to_this_labs_experts(client):
    actor, _project, (expert,) = workspace(task_count=1)
    stranger = project_factories.manager_actor()
    fund_lab(stranger.organization, 5000)
    client.force_login(stranger.user)

    other_slug = client.post(
        reverse("payments:bonus_create", args=[actor.organization.slug]),
        {
            "pseudonym": lab_pseudonym(actor.organization.pk, expert.pk),
            "amount": "1",
            "reason": "x",
        },
    )
    own_slug = client.post(
        reverse("payments:bonus_create", args=[stranger.organization.slug]),
        {
            "pseudonym": lab_pseudonym(actor.organization.pk, expert.pk),
            "amount": "1",
            "reason": "x",
        },
    )

    assert other_slug.status_code == 404
    assert own_slug.status_code == 400
    assert not Bonus.objects.exists()
    assert lab_balance(stranger.organization) == 5000
