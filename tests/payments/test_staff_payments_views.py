"""The staff payments console: balances, batches, failures, reconciliation, and the buttons."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from payments.models import Payout, PayoutBatch, ProviderEvent, ReconciliationReport
from payments.states import PayoutStatus, WebhookEventStatus
from projects.review import services as review
from tests import factories
from tests.factories import log_in_staff, staff_user
from tests.payments.test_selectors import connect_payouts, money_scenario, run_batch
from tests.projects.workspace_factories import answer_task

pytestmark = pytest.mark.django_db

STAFF_PAYMENTS = reverse("payments:staff_payments")
RUN_BATCH = reverse("payments:staff_payout_batch_run")
RECONCILE = reverse("payments:staff_reconcile")
# session, user, authenticator (MFA), batches, payouts by batch and status, returned
# payouts, open payouts, open count, reports, failed events, platform balances, unread
# notifications
STAFF_QUERIES = 12
# session, user, authenticator, batch, payouts, unread notifications
BATCH_QUERIES = 6


def page(response) -> str:
    return response.content.decode()


def stat(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"><span class="stat-value">([^<]*)<', html)
    assert match, testid
    return match.group(1)


@pytest.fixture
def staff(client):
    person, secret = staff_user(with_totp=True)
    assert secret is not None
    log_in_staff(client, person, secret)
    return person


@pytest.fixture
def scenario(client, django_capture_on_commit_callbacks):
    return money_scenario(client, django_capture_on_commit_callbacks)


@pytest.fixture
def money(scenario, client, django_capture_on_commit_callbacks, settings):
    """The shared scenario, then a second batch: Alice paid again, Bob's payout returned."""
    settings.PAYOUT_MINIMUM_CENTS = 100
    connect_payouts(client, scenario.bob, rejects=True)
    run_batch(scenario.staff, django_capture_on_commit_callbacks)
    return scenario


def failed_event(number: int) -> ProviderEvent:
    return ProviderEvent.objects.create(
        event_id=f"evt_failed_{number}",
        type="checkout.session.completed",
        provider="stripe",
        provider_created_at=timezone.now(),
        payload={"id": f"evt_failed_{number}"},
        status=WebhookEventStatus.FAILED,
        detail=f"The payment (1 USD) does not match the funding <{number}>.",
    )


def test_staff_see_balances_batches_failures_and_events(
    money, client, staff, django_assert_num_queries
):
    failed_event(1)
    failed_event(2)
    ReconciliationReport.objects.create(
        payouts_checked=3,
        transfers_checked=2,
        accounts_checked=9,
        differences=[
            {
                "kind": "transfer_without_payout",
                "payout": "",
                "transfer": "tr_stray",
                "detail": "$1.00 to acct_x matches no payout of ours.",
            }
        ],
    )

    with django_assert_num_queries(STAFF_QUERIES):
        response = client.get(STAFF_PAYMENTS)

    assert response.status_code == 200
    html = page(response)
    assert stat(html, "revenue") == "$3.00"
    assert stat(html, "funding-received") == "$131.20"
    assert stat(html, "in-transit") == "$0.00"
    assert stat(html, "paid-out") == "$15.00"
    assert html.count('data-testid="batch-row"') == 2
    (returned,) = re.findall(r'<tbody data-testid="returned-payouts">(.*?)</tbody>', html, re.S)
    assert money.bob.email in returned
    assert "account_disabled" in returned
    assert "The destination account cannot receive transfers." in returned
    assert "$2.50" in returned
    assert "Nothing is being sent." in html
    assert html.count('data-testid="difference-row"') == 1
    assert "tr_stray" in html
    assert "1 difference" in html
    assert html.count('data-testid="failed-event-row"') == 2
    assert "does not match the funding &lt;1&gt;." in html
    assert 'aria-current="page">Payments</a>' in html


def test_the_staff_page_costs_the_same_queries_with_more_rows(
    money, client, staff, django_assert_num_queries
):
    for number in range(4):
        failed_event(number)
        ReconciliationReport.objects.create(differences=[])

    with django_assert_num_queries(STAFF_QUERIES):
        html = page(client.get(STAFF_PAYMENTS))

    assert html.count('data-testid="failed-event-row"') == 4
    assert html.count('data-testid="reconciliation-report"') == 4


def test_the_batch_page_lists_its_payouts(money, client, staff, django_assert_num_queries):
    batch = PayoutBatch.objects.first()
    assert batch is not None

    with django_assert_num_queries(BATCH_QUERIES):
        response = client.get(reverse("payments:staff_payout_batch", args=[batch.public_id]))

    html = page(response)
    assert response.status_code == 200
    assert html.count('data-testid="payout-row"') == 2
    assert money.alice.email in html
    assert money.bob.email in html
    assert re.search(r'data-testid="batch-count">2<', html)
    assert re.search(r'data-testid="batch-total">\$7\.50<', html)
    unknown = reverse("payments:staff_payout_batch", args=["00000000-0000-0000-0000-000000000000"])
    assert client.get(unknown).status_code == 404


def test_run_payout_batch_now_pays_who_is_owed(
    scenario, client, staff, django_capture_on_commit_callbacks
):
    # Nobody is owed the $10 minimum now: Alice has $5, Bob $2.50 and no account.
    response = client.post(RUN_BATCH, follow=True)
    assert "Nobody is owed a payout now: no batch was created." in page(response)
    assert PayoutBatch.objects.count() == 1

    task = scenario.project.tasks.create(
        external_id="extra", data=scenario.project.tasks.first().data
    )
    review.annotation_accept(
        actor=scenario.actor, annotation=answer_task(scenario.alice, task, scenario.project)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RUN_BATCH)

    batch = PayoutBatch.objects.first()
    assert batch is not None
    assert (batch.trigger, batch.created_by, batch.payout_count, batch.total_cents) == (
        "staff",
        staff,
        1,
        1000,
    )
    assert response.url == reverse("payments:staff_payout_batch", args=[batch.public_id])
    (payout,) = batch.payouts.all()
    assert (payout.expert, payout.status) == (scenario.alice, PayoutStatus.PAID)


def test_reconcile_now_stores_a_report(money, client, staff):
    response = client.post(RECONCILE, follow=True)

    report = ReconciliationReport.objects.get()
    assert report.differences == []
    assert report.payouts_checked == Payout.objects.count() == 3
    assert "Reconciliation found no differences." in page(response)


def test_the_console_is_for_staff_only(money, client):
    batch = PayoutBatch.objects.first()
    assert batch is not None
    urls = [STAFF_PAYMENTS, reverse("payments:staff_payout_batch", args=[batch.public_id])]
    batches = PayoutBatch.objects.count()

    for person in (factories.expert(), factories.lab_user(), money.alice):
        client.force_login(person)
        for url in urls:
            assert client.get(url).status_code == 404, url
        assert client.post(RUN_BATCH).status_code == 404
        assert client.post(RECONCILE).status_code == 404

    client.logout()
    response = client.get(STAFF_PAYMENTS)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert PayoutBatch.objects.count() == batches
    assert not ReconciliationReport.objects.exists()


def test_staff_without_two_factor_are_sent_to_set_it_up(client):
    person, _ = staff_user()
    client.force_login(person)

    response = client.get(STAFF_PAYMENTS)

    assert response.status_code == 302
    assert response.url != STAFF_PAYMENTS


def test_the_staff_dashboard_links_to_payments(client, staff):
    html = page(client.get(reverse("staff_dashboard")))

    assert f'href="{STAFF_PAYMENTS}"' in html
