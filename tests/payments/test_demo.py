"""The demo shows the whole money flow, built through the services: a lab's payment, project
escrow, accepted answers paid, a payout batch with one failed payout, a bonus, an appeal and a
dispute, and a clean reconciliation."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from marketplace.models import Organization, User
from payments.ledger import escrow_account, ledger_verify, organization_money
from payments.models import (
    Appeal,
    Bonus,
    Dispute,
    LabFunding,
    Payout,
    PayoutAccount,
    ReconciliationReport,
)
from payments.states import (
    AppealStatus,
    DisputeStatus,
    FundingStatus,
    PayoutAccountStatus,
    PayoutStatus,
)
from projects.models import Project
from projects.states import ProjectStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, django_capture_on_commit_callbacks) -> str:
    settings.DEBUG = True
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    out = io.StringIO()
    # The payouts are sent once the seed's transaction commits, as under `make run`.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_the_demo_shows_the_whole_money_flow(demo):
    lab = Organization.objects.get(name="Acme AI Lab")
    funding = LabFunding.objects.get(organization=lab)
    assert funding.status == FundingStatus.COMPLETED
    assert funding.payment_reference.startswith("pi_sandbox_")
    live = Project.objects.filter(organization=lab).exclude(status=ProjectStatus.DRAFT)
    for project in live:
        assert escrow_account(project=project).balance_cents > 0, project.title
    assert organization_money(organization=lab).balance_cents > 0

    payouts = {p.expert.email: p for p in Payout.objects.select_related("expert")}
    assert payouts["dr.haddad@demo.example"].status == PayoutStatus.PAID
    assert payouts["panel6@demo.example"].status == PayoutStatus.RETURNED
    assert payouts["panel6@demo.example"].failure_code == "account_disabled"
    assert "dr.lindqvist@demo.example" not in payouts
    lindqvist = PayoutAccount.objects.get(user__email="dr.lindqvist@demo.example")
    assert lindqvist.status == PayoutAccountStatus.ONBOARDING

    haddad = User.objects.get(email="dr.haddad@demo.example")
    assert Bonus.objects.get(expert=haddad).amount_cents == 75_00
    assert Appeal.objects.get(expert=haddad).status == AppealStatus.OPEN
    assert Dispute.objects.get(organization=lab).status == DisputeStatus.OPEN
    assert ReconciliationReport.objects.get().differences == []
    assert ledger_verify() == []
    assert "the payout batch paid" in demo


def test_seeding_again_moves_no_money(demo, django_capture_on_commit_callbacks):
    from payments.models import LedgerTransaction

    before = LedgerTransaction.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=io.StringIO())
    assert LedgerTransaction.objects.count() == before
    assert Payout.objects.count() == len({p.expert_id for p in Payout.objects.all()})
