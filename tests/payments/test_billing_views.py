"""The lab's Billing tab: figures, adding funds through the sandbox's hosted page, the return
page that never credits, and bonuses from the page."""

from __future__ import annotations

import re
import uuid

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


def request_id(html: str, form: str) -> str:
    """The hidden request id of the form ``data-testid=form`` as the page rendered it."""
    match = re.search(
        rf'data-testid="{form}".*?<input type="hidden" name="request_id" value="([^"]*)"',
        html,
        re.S,
    )
    assert match, form
    return match.group(1)


def rendered_ids(client, organization, form: str) -> str:
    return request_id(page(client.get(billing_url(organization))), form)


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
                "request_id": str(uuid.uuid4()),
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

    unknown = client.post(
        url,
        {
            "pseudonym": "ex_000000000000",
            "amount": "1",
            "reason": "Hi",
            "request_id": str(uuid.uuid4()),
        },
    )
    too_much = client.post(
        url, {"pseudonym": name, "amount": "5.01", "reason": "Hi", "request_id": str(uuid.uuid4())}
    )

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
        refused = client.post(url, {"file": bad, "request_id": str(uuid.uuid4())})
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
        paid = client.post(url, {"file": good, "request_id": str(uuid.uuid4())}, follow=True)
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
            "request_id": str(uuid.uuid4()),
        },
    )

    assert other_slug.status_code == 404
    assert own_slug.status_code == 400
    assert "No expert who worked on your projects is" in page(own_slug)
    assert not Bonus.objects.exists()
    assert lab_balance(stranger.organization) == 5000


# Submitted twice -------------------------------------------------------------------------------


def test_each_render_of_the_page_carries_new_request_ids(client):
    actor, _project, _experts = workspace(task_count=1)
    client.force_login(actor.user)

    first = page(client.get(billing_url(actor.organization)))
    second = page(client.get(billing_url(actor.organization)))

    ids = [
        request_id(html, form)
        for html in (first, second)
        for form in ("bonus-form", "bonus-upload-form")
    ]
    assert len(set(ids)) == 4
    assert all(str(uuid.UUID(value)) == value for value in ids)


def test_a_bonus_form_submitted_twice_pays_once(client, django_capture_on_commit_callbacks):
    actor, _project, (expert,) = workspace(task_count=1)
    fund_lab(actor.organization, 5000)
    client.force_login(actor.user)
    mail.outbox.clear()
    name = lab_pseudonym(actor.organization.pk, expert.pk)
    form = {
        "pseudonym": name,
        "amount": "12.50",
        "reason": "Thorough rationales",
        "request_id": rendered_ids(client, actor.organization, "bonus-form"),
    }
    url = reverse("payments:bonus_create", args=[actor.organization.slug])

    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(url, form)
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(url, form)

    # Post/redirect/get: both answer with the page, which a reload only reads.
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == billing_url(actor.organization)
    bonus = Bonus.objects.get()
    assert (bonus.expert, bonus.amount_cents, str(bonus.request_id)) == (
        expert,
        1250,
        form["request_id"],
    )
    assert lab_balance(actor.organization) == 5000 - 1250
    assert expert_account(user=expert, currency="USD").balance_cents == 1250
    assert LedgerTransaction.objects.filter(kind=TransactionKind.BONUS).count() == 1
    assert Notification.objects.filter(kind="bonus.received", recipient=expert).count() == 1
    assert [email.to for email in mail.outbox] == [[expert.email]]
    html = page(client.get(second.url))
    assert (
        f"This form was already sent: a bonus of $12.50 to {name} was paid then. "
        "Nothing more was paid."
    ) in html
    assert f"Paid a bonus of $12.50 to {name}." in html  # the first answer's message
    assert html.count('data-testid="bonus-row"') == 1
    # The page shown after paying carries a new id: the next bonus is paid.
    assert request_id(html, "bonus-form") != form["request_id"]


def test_two_renders_of_the_bonus_form_pay_twice(client):
    actor, _project, (expert,) = workspace(task_count=1)
    fund_lab(actor.organization, 5000)
    client.force_login(actor.user)
    name = lab_pseudonym(actor.organization.pk, expert.pk)
    url = reverse("payments:bonus_create", args=[actor.organization.slug])
    ids = [rendered_ids(client, actor.organization, "bonus-form") for _ in range(2)]

    for rendered in ids:
        response = client.post(
            url, {"pseudonym": name, "amount": "3", "reason": "Thanks", "request_id": rendered}
        )
        assert response.status_code == 302

    assert sorted(str(bonus.request_id) for bonus in Bonus.objects.all()) == sorted(ids)
    assert lab_balance(actor.organization) == 5000 - 600
    assert expert_account(user=expert, currency="USD").balance_cents == 600


@pytest.mark.parametrize("sent", [None, "", "not-a-uuid", "1234"])
def test_a_bonus_form_without_a_good_request_id_is_refused_cleanly(client, sent):
    actor, _project, (expert,) = workspace(task_count=1)
    fund_lab(actor.organization, 5000)
    client.force_login(actor.user)
    form = {
        "pseudonym": lab_pseudonym(actor.organization.pk, expert.pk),
        "amount": "4",
        "reason": "Kept <i>text</i>",
    }
    if sent is not None:
        form["request_id"] = sent

    response = client.post(reverse("payments:bonus_create", args=[actor.organization.slug]), form)

    assert response.status_code == 400
    html = page(response)
    assert (
        "This form was incomplete or out of date; nothing was paid. Check it and submit it again."
    ) in html
    assert "Hidden field" not in html
    assert "Kept &lt;i&gt;text&lt;/i&gt;" in html  # what was typed is kept
    renewed = request_id(html, "bonus-form")
    assert renewed != sent
    assert str(uuid.UUID(renewed)) == renewed
    assert not Bonus.objects.exists()
    assert lab_balance(actor.organization) == 5000

    # Sent again as shown, it pays.
    again = client.post(
        reverse("payments:bonus_create", args=[actor.organization.slug]),
        {**form, "request_id": renewed},
    )
    assert again.status_code == 302
    assert Bonus.objects.get().amount_cents == 400


def test_the_same_csv_uploaded_twice_from_one_page_pays_once(
    client, django_capture_on_commit_callbacks
):
    actor, _project, (first, second) = workspace(experts=2, task_count=1)
    fund_lab(actor.organization, 5000)
    client.force_login(actor.user)
    mail.outbox.clear()
    one = lab_pseudonym(actor.organization.pk, first.pk)
    two = lab_pseudonym(actor.organization.pk, second.pk)
    content = f"pseudonym,amount,reason\n{one},5,Good\n{two},0.25,Fine\n".encode()
    url = reverse("payments:bonus_upload", args=[actor.organization.slug])
    rendered = rendered_ids(client, actor.organization, "bonus-upload-form")

    responses = []
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            responses.append(
                client.post(
                    url,
                    {
                        "file": SimpleUploadedFile("bonuses.csv", content),
                        "request_id": rendered,
                    },
                )
            )

    assert [response.status_code for response in responses] == [302, 302]
    assert Bonus.objects.count() == 2
    assert {str(bonus.request_id) for bonus in Bonus.objects.all()} == {rendered}
    assert lab_balance(actor.organization) == 5000 - 525
    assert expert_account(user=first, currency="USD").balance_cents == 500
    assert expert_account(user=second, currency="USD").balance_cents == 25
    assert Notification.objects.filter(kind="bonus.received").count() == 2
    assert len(mail.outbox) == 2
    html = page(client.get(billing_url(actor.organization)))
    assert "Paid 2 bonuses totalling $5.25." in html
    assert (
        "This file was already sent from this form: 2 bonuses totalling $5.25 were paid then. "
        "Nothing more was paid."
    ) in html

    # Another file sent from the same page is refused; a new render pays it.
    other = f"pseudonym,amount,reason\n{one},1,More\n".encode()
    refused = client.post(
        url, {"file": SimpleUploadedFile("more.csv", other), "request_id": rendered}, follow=True
    )
    assert (
        "This form already paid 2 bonuses from another file; nothing more was paid. "
        "Reload the page to pay a new file."
    ) in page(refused)
    assert lab_balance(actor.organization) == 5000 - 525
    fresh = request_id(page(refused), "bonus-upload-form")
    paid = client.post(
        url, {"file": SimpleUploadedFile("more.csv", other), "request_id": fresh}, follow=True
    )
    assert "Paid 1 bonus totalling $1.00." in page(paid)
    assert Bonus.objects.count() == 3
    assert lab_balance(actor.organization) == 5000 - 625


def test_two_renders_of_the_upload_form_pay_the_file_twice(client):
    actor, _project, (expert,) = workspace(task_count=1)
    fund_lab(actor.organization, 5000)
    client.force_login(actor.user)
    name = lab_pseudonym(actor.organization.pk, expert.pk)
    content = f"pseudonym,amount,reason\n{name},2,Thanks\n".encode()
    url = reverse("payments:bonus_upload", args=[actor.organization.slug])

    for _ in range(2):
        rendered = rendered_ids(client, actor.organization, "bonus-upload-form")
        response = client.post(
            url, {"file": SimpleUploadedFile("b.csv", content), "request_id": rendered}
        )
        assert response.status_code == 302

    assert Bonus.objects.count() == 2
    assert lab_balance(actor.organization) == 5000 - 400
    assert expert_account(user=expert, currency="USD").balance_cents == 400


def test_an_upload_without_a_good_request_id_is_refused_cleanly(client):
    actor, _project, (expert,) = workspace(task_count=1)
    fund_lab(actor.organization, 5000)
    client.force_login(actor.user)
    name = lab_pseudonym(actor.organization.pk, expert.pk)
    content = f"pseudonym,amount,reason\n{name},2,Thanks\n".encode()

    response = client.post(
        reverse("payments:bonus_upload", args=[actor.organization.slug]),
        {"file": SimpleUploadedFile("b.csv", content), "request_id": "not-a-uuid"},
    )

    assert response.status_code == 400
    html = page(response)
    assert (
        "This form was incomplete or out of date; nothing was paid. Check it and submit it again."
    ) in html
    renewed = request_id(html, "bonus-upload-form")
    assert str(uuid.UUID(renewed)) == renewed
    assert not Bonus.objects.exists()
    assert lab_balance(actor.organization) == 5000
