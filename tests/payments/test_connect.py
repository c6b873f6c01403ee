"""Experts' payout accounts: onboarding creates the connected account once; the provider's
account updates open and close payouts, newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.errors import PermissionDenied
from marketplace.models import AuditEvent, Notification
from payments.connect import payout_account_onboarding_start, payout_account_sync
from payments.models import PayoutAccount, SandboxObject
from payments.providers import ConnectedAccount
from payments.states import PayoutAccountStatus
from tests import factories
from tests.integration.concurrency import race

pytestmark = pytest.mark.django_db

REFRESH = "https://market.example/expert/earnings/onboarding/"
RETURN = "https://market.example/expert/earnings/"


def _start(user):
    return payout_account_onboarding_start(user=user, refresh_url=REFRESH, return_url=RETURN)


def _state(row: PayoutAccount) -> tuple:
    row.refresh_from_db()
    return (row.status, row.payouts_enabled, row.details_submitted, row.disabled_reason)


def test_onboarding_creates_the_account_once_and_answers_a_link(fake_stripe):
    expert = factories.expert()

    first = _start(expert)
    second = _start(expert)

    row = PayoutAccount.objects.get(user=expert)
    assert row.provider == "stripe"
    assert list(fake_stripe.accounts) == [row.account_id]
    assert fake_stripe.accounts[row.account_id]["metadata"] == {"user_id": str(expert.pk)}
    assert [link["url"] for link in fake_stripe.account_links] == [first, second]
    assert {link["type"] for link in fake_stripe.account_links} == {"account_onboarding"}
    assert fake_stripe.idempotency_keys("/v1/accounts") == [f"account-{expert.pk}"]
    assert (row.status, row.payouts_enabled, row.details_submitted) == (
        PayoutAccountStatus.ONBOARDING,
        False,
        False,
    )
    assert AuditEvent.objects.filter(action="payout_account.create").count() == 1


def test_only_experts_onboard(fake_stripe):
    with pytest.raises(PermissionDenied):
        _start(factories.lab_user())

    assert PayoutAccount.objects.count() == 0
    assert fake_stripe.requests == []


def test_offline_onboarding_links_to_the_sandbox_page(settings):
    settings.PAYMENTS_PROVIDER = "offline"
    expert = factories.expert()

    link = _start(expert)

    row = PayoutAccount.objects.get(user=expert)
    assert row.provider == "offline"
    assert link == (
        f"/payments/sandbox/onboarding/{row.account_id}/"
        "?return_url=https%3A%2F%2Fmarket.example%2Fexpert%2Fearnings%2F"
    )
    assert SandboxObject.objects.filter(kind="account").count() == 1


def test_sync_enables_payouts_and_tells_the_expert(fake_stripe):
    expert = factories.expert()
    _start(expert)
    row = PayoutAccount.objects.get(user=expert)
    now = timezone.now()

    synced = payout_account_sync(
        account=ConnectedAccount(id=row.account_id, payouts_enabled=True, details_submitted=True),
        as_of=now,
    )

    assert synced is not None
    assert synced.pk == row.pk
    assert _state(row) == (PayoutAccountStatus.ENABLED, True, True, "")
    assert row.state_as_of == now
    (note,) = Notification.objects.filter(recipient=expert)
    assert (note.kind, note.link) == ("payouts.enabled", "/expert/earnings/")
    assert note.text == "Payouts are enabled: your earnings will be sent to your account."
    audit = AuditEvent.objects.get(action="payout_account.sync")
    assert audit.before["status"] == "onboarding"
    assert audit.after["status"] == "enabled"


def test_a_restricted_account_pauses_payouts_and_tells_the_expert(fake_stripe):
    expert = factories.expert()
    _start(expert)
    row = PayoutAccount.objects.get(user=expert)
    now = timezone.now()
    payout_account_sync(
        account=ConnectedAccount(id=row.account_id, payouts_enabled=True, details_submitted=True),
        as_of=now - timedelta(minutes=5),
    )

    payout_account_sync(
        account=ConnectedAccount(
            id=row.account_id,
            payouts_enabled=False,
            details_submitted=True,
            disabled_reason="requirements.past_due",
        ),
        as_of=now,
    )

    assert _state(row) == (
        PayoutAccountStatus.RESTRICTED,
        False,
        True,
        "requirements.past_due",
    )
    assert list(
        Notification.objects.filter(recipient=expert).order_by("id").values_list("kind", flat=True)
    ) == ["payouts.enabled", "payouts.restricted"]


def test_an_older_state_is_ignored_and_a_repeat_tells_nobody_twice(fake_stripe):
    expert = factories.expert()
    _start(expert)
    row = PayoutAccount.objects.get(user=expert)
    now = timezone.now()
    enabled = ConnectedAccount(id=row.account_id, payouts_enabled=True, details_submitted=True)
    payout_account_sync(account=enabled, as_of=now)

    late = payout_account_sync(
        account=ConnectedAccount(id=row.account_id, payouts_enabled=False, details_submitted=False),
        as_of=now - timedelta(seconds=1),
    )
    again = payout_account_sync(account=enabled, as_of=now)

    assert late is None
    assert again is not None
    assert _state(row) == (PayoutAccountStatus.ENABLED, True, True, "")
    assert row.state_as_of == now
    assert Notification.objects.filter(recipient=expert).count() == 1
    assert AuditEvent.objects.filter(action="payout_account.sync").count() == 1


def test_an_unknown_account_changes_nothing(fake_stripe):
    assert (
        payout_account_sync(
            account=ConnectedAccount(id="acct_nope", payouts_enabled=True, details_submitted=True),
            as_of=timezone.now(),
        )
        is None
    )
    assert PayoutAccount.objects.count() == 0
    assert Notification.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_onboarding_starts_make_one_account(fake_stripe):
    expert = factories.expert()
    fake_stripe.set_delay(0.05)

    outcomes = race(*[lambda: _start(expert) for _ in range(4)])

    assert all(isinstance(link, str) and link.startswith("https://") for link in outcomes), outcomes
    row = PayoutAccount.objects.get(user=expert)
    assert list(fake_stripe.accounts) == [row.account_id]
    assert PayoutAccount.objects.count() == 1
