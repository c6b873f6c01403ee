"""The billing API: the lab's balance, and payments into it credited only by the provider."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from payments.ledger import organization_money
from payments.models import LabFunding, LedgerTransaction
from payments.states import FundingStatus
from tests.payments.factories import fund_lab
from tests.projects.test_api import new_lab

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"api:{name}", args=args)


def test_a_lab_reads_its_balance_and_escrow_through_the_api(django_assert_num_queries):
    lab = new_lab("Helix Labs")
    fund_lab(lab.organization, 12_345)
    fund_lab(lab.organization, 1_000)
    api = APIClient()
    with django_assert_num_queries(4):
        body = api.get(url("billing"), **lab.header).json()
    assert body["organization"] == lab.organization.slug
    assert (body["balance_cents"], body["escrow_cents"], body["currency"]) == (13_345, 0, "USD")
    assert [f["amount_cents"] for f in body["fundings"]] == [1_000, 12_345]
    assert {f["status"] for f in body["fundings"]} == {"completed"}


def test_adding_funds_opens_a_payment_page_and_credits_nothing_yet():
    lab = new_lab("Helix Labs")
    api = APIClient()
    response = api.post(url("funding-list"), {"amount_cents": 50_000}, format="json", **lab.header)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert "/payments/sandbox/checkout/cs_sandbox_" in body["checkout_url"]
    assert body["checkout_url"].startswith("http")
    assert organization_money(organization=lab.organization).balance_cents == 0
    assert not LedgerTransaction.objects.exists()

    shown = api.get(url("funding-detail", body["id"]), **lab.header).json()
    assert (shown["status"], shown["amount_cents"]) == ("pending", 50_000)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_cents": 10}, "amount_cents"),
        ({"amount_cents": "ten"}, "amount_cents"),
        ({"amount_cents": 5_000, "success_url": "javascript:alert(1)"}, "success_url"),
        ({}, "amount_cents"),
    ],
)
def test_bad_funding_requests_name_the_field_and_create_nothing(body, field):
    lab = new_lab("Helix Labs")
    response = APIClient().post(url("funding-list"), body, format="json", **lab.header)
    assert response.status_code == 400
    assert field in str(response.json())
    assert not LabFunding.objects.exists()


def test_another_labs_funding_answers_404():
    mine, theirs = new_lab("Helix Labs"), new_lab("Other Lab")
    funding = fund_lab(theirs.organization, 5_000)
    response = APIClient().get(url("funding-detail", funding.public_id), **mine.header)
    assert response.status_code == 404
    assert LabFunding.objects.get(pk=funding.pk).status == FundingStatus.COMPLETED
