"""Payout batches and sending: with the offline sandbox and against the fake Stripe server.

Experts are owed money through the ledger (a lab's bonus), their payout accounts exist at the
provider (the sandbox's rows, or accounts on the fake server), and every transfer is made
through the provider for real: the fake server's ``transfers`` is what Stripe would hold.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.utils import timezone

from marketplace.errors import InvalidInput, PermissionDenied
from marketplace.models import AuditEvent, Notification, Organization, User
from payments import stripe_client
from payments.ledger import bonus_post, expert_account, ledger_verify, platform_account
from payments.models import (
    Payout,
    PayoutAccount,
    PayoutBatch,
    ReconciliationReport,
    SandboxObject,
)
from payments.payouts import (
    PayoutRetryLater,
    payout_batch_create,
    payout_send,
    payouts_requeue_lost,
    reconciliation_run,
    retry_countdown,
)
from payments.providers import provider
from payments.states import AccountKind, PayoutAccountStatus, PayoutBatchTrigger, PayoutStatus
from payments.tasks import send_payout
from tests.factories import expert, organization, staff_user
from tests.payments.factories import fund_lab
from tests.payments.fake_stripe import FakeStripe

pytestmark = pytest.mark.django_db

STAFF = PayoutBatchTrigger.STAFF
SCHEDULE = PayoutBatchTrigger.SCHEDULE


# Helpers -----------------------------------------------------------------------------------


@pytest.fixture
def lab() -> Organization:
    org = organization(name="Helix Labs")
    fund_lab(org, 1_000_000)
    return org


def owe(lab: Organization, user: User, cents: int) -> None:
    """Make ``user`` owed ``cents``: a bonus from the lab's balance, posted to the ledger."""
    bonus_post(
        organization=lab,
        expert=user,
        amount_cents=cents,
        currency="USD",
        key=f"test-bonus:{uuid.uuid4()}",
        memo="Thank you",
    )


def payable(user: User) -> int:
    return expert_account(user=user, currency="USD").balance_cents


def platform(kind: str) -> int:
    return platform_account(kind=kind, currency="USD").balance_cents


def connect_sandbox(user: User, *, enabled: bool = True, rejects: bool = False) -> PayoutAccount:
    """An onboarded account at the offline sandbox and its payout account row."""
    account = provider().connected_account_create(user=user)
    stored = SandboxObject.objects.get(object_id=account.id)
    stored.data = {
        **stored.data,
        "payouts_enabled": enabled,
        "details_submitted": True,
        "rejects_transfers": rejects,
    }
    stored.save(update_fields=["data", "updated_at"])
    return PayoutAccount.objects.create(
        user=user,
        provider="offline",
        account_id=account.id,
        status=PayoutAccountStatus.ENABLED if enabled else PayoutAccountStatus.ONBOARDING,
        payouts_enabled=enabled,
        details_submitted=True,
    )


def connect_stripe(
    fake: FakeStripe, user: User, *, enabled_at_stripe: bool = True, enabled_here: bool = True
) -> PayoutAccount:
    """An Express account on the fake server (onboarded or not) and its payout account row."""
    account = provider().connected_account_create(user=user)
    if enabled_at_stripe:
        fake.set_account(account.id, payouts_enabled=True, details_submitted=True)
    return PayoutAccount.objects.create(
        user=user,
        provider="stripe",
        account_id=account.id,
        status=PayoutAccountStatus.ENABLED if enabled_here else PayoutAccountStatus.ONBOARDING,
        payouts_enabled=enabled_here,
        details_submitted=True,
    )


def transfer_posts(fake: FakeStripe) -> list[str | None]:
    """The idempotency keys of every transfer create the server received."""
    return [
        key for method, path, key in fake.requests if (method, path) == ("POST", "/v1/transfers")
    ]


def one_payout(lab: Organization, user: User, cents: int, capture) -> Payout:
    """A batch paying only ``user``, its send task held back (not yet run)."""
    owe(lab, user, cents)
    with capture() as callbacks:
        batch = payout_batch_create(trigger=SCHEDULE, actor=None)
    assert batch is not None
    assert len(callbacks) == 1
    return Payout.objects.get(batch=batch, expert=user)


@pytest.fixture
def no_library_retries(settings) -> None:
    """The stripe library retries network errors and 5xx itself; off, so our own retry path
    sees every failure."""
    settings.STRIPE_MAX_NETWORK_RETRIES = 0


# Batches with the offline sandbox ----------------------------------------------------------


def test_a_batch_pays_each_expert_owed_the_minimum_with_payouts_enabled(
    lab, django_capture_on_commit_callbacks
):
    staff, _ = staff_user()
    ada, bea, cy, dee = expert(), expert(), expert(), expert()
    for user in (ada, bea, cy):
        connect_sandbox(user)
    connect_sandbox(dee, enabled=False)
    owe(lab, ada, 2_500)
    owe(lab, bea, 1_000)  # exactly the minimum
    owe(lab, cy, 999)  # below it
    owe(lab, dee, 5_000)  # payouts not enabled

    with django_capture_on_commit_callbacks(execute=True):
        batch = payout_batch_create(trigger=STAFF, actor=staff)

    assert batch is not None
    assert (batch.trigger, batch.created_by, batch.currency) == (STAFF, staff, "USD")
    assert (batch.payout_count, batch.total_cents) == (2, 3_500)
    payouts = {p.expert: p for p in Payout.objects.filter(batch=batch)}
    assert set(payouts) == {ada, bea}
    for user, cents in ((ada, 2_500), (bea, 1_000)):
        payout = payouts[user]
        assert (payout.amount_cents, payout.currency, payout.status) == (
            cents,
            "USD",
            PayoutStatus.PAID,
        )
        assert payout.provider == "offline"
        assert payout.destination == user.payout_account.account_id
        assert payout.attempts == 1
        assert payout.paid_at is not None
        transfer = SandboxObject.objects.get(kind="transfer", object_id=payout.transfer_id)
        assert transfer.idempotency_key == f"payout-{payout.public_id}"
        assert transfer.data["amount"] == cents
        assert transfer.data["destination"] == payout.destination
    assert SandboxObject.objects.filter(kind="transfer").count() == 2
    assert (payable(ada), payable(bea), payable(cy), payable(dee)) == (0, 0, 999, 5_000)
    assert platform(AccountKind.IN_TRANSIT) == 0
    assert platform(AccountKind.PAID_OUT) == 3_500
    assert ledger_verify() == []
    paid_notes = Notification.objects.filter(kind="payout.paid").order_by("recipient_id")
    assert [(n.recipient, n.link) for n in paid_notes] == [
        (ada, "/expert/earnings/"),
        (bea, "/expert/earnings/"),
    ]
    assert paid_notes.get(recipient=ada).text.startswith("Your payout of $25.00 was sent")
    assert sorted(m.to[0] for m in mail.outbox) == sorted([ada.email, bea.email])
    audit = AuditEvent.objects.get(action="payout_batch.create")
    assert (audit.actor, audit.target_id) == (staff, str(batch.pk))
    assert audit.after == {
        "trigger": "staff",
        "payout_count": 2,
        "total_cents": 3_500,
        "provider": "offline",
    }


def test_the_batch_moves_payable_into_transit_and_sending_moves_it_to_paid_out(
    lab, django_capture_on_commit_callbacks
):
    ada, bea = expert(), expert()
    connect_sandbox(ada)
    connect_sandbox(bea)
    owe(lab, ada, 4_000)
    owe(lab, bea, 1_500)

    with django_capture_on_commit_callbacks() as callbacks:
        batch = payout_batch_create(trigger=SCHEDULE, actor=None)

    assert batch is not None
    assert batch.created_by is None
    assert len(callbacks) == 2  # one send_payout per payout, queued on commit
    assert set(Payout.objects.values_list("status", flat=True)) == {PayoutStatus.PENDING}
    assert (payable(ada), payable(bea)) == (0, 0)
    assert platform(AccountKind.IN_TRANSIT) == 5_500
    assert platform(AccountKind.PAID_OUT) == 0
    assert not SandboxObject.objects.filter(kind="transfer").exists()

    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()

    assert set(Payout.objects.values_list("status", flat=True)) == {PayoutStatus.PAID}
    assert platform(AccountKind.IN_TRANSIT) == 0
    assert platform(AccountKind.PAID_OUT) == 5_500
    assert ledger_verify() == []


def test_an_expert_with_an_open_payout_is_left_out_of_the_next_batch(
    lab, django_capture_on_commit_callbacks
):
    ada, bea = expert(), expert()
    connect_sandbox(ada)
    connect_sandbox(bea)
    first = one_payout(lab, ada, 3_000, django_capture_on_commit_callbacks)
    owe(lab, ada, 2_000)  # earned more while the first payout is still queued
    owe(lab, bea, 1_200)

    with django_capture_on_commit_callbacks():
        batch = payout_batch_create(trigger=SCHEDULE, actor=None)

    assert batch is not None
    assert list(Payout.objects.filter(batch=batch).values_list("expert", "amount_cents")) == [
        (bea.pk, 1_200)
    ]
    first.refresh_from_db()
    assert (first.status, first.amount_cents) == (PayoutStatus.PENDING, 3_000)
    assert payable(ada) == 2_000


def test_a_batch_with_nobody_owed_creates_nothing(lab, django_capture_on_commit_callbacks):
    ada = expert()
    connect_sandbox(ada)
    owe(lab, ada, 999)
    staff, _ = staff_user()

    with django_capture_on_commit_callbacks() as callbacks:
        assert payout_batch_create(trigger=STAFF, actor=staff) is None
        assert payout_batch_create(trigger=SCHEDULE, actor=None) is None

    assert callbacks == []
    assert not PayoutBatch.objects.exists()
    assert not Payout.objects.exists()
    assert payable(ada) == 999
    assert not AuditEvent.objects.filter(action="payout_batch.create").exists()


@pytest.mark.parametrize("who", ["expert", "lab member"])
def test_only_staff_or_the_schedule_create_a_batch(lab, who, django_capture_on_commit_callbacks):
    ada = expert()
    connect_sandbox(ada)
    owe(lab, ada, 5_000)
    actor = ada if who == "expert" else lab.memberships.get().user

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(PermissionDenied):
        payout_batch_create(trigger=STAFF, actor=actor)

    assert callbacks == []
    assert not PayoutBatch.objects.exists()
    assert not Payout.objects.exists()
    assert payable(ada) == 5_000
    assert platform(AccountKind.IN_TRANSIT) == 0


def test_an_unknown_trigger_is_refused(lab):
    with pytest.raises(InvalidInput):
        payout_batch_create(trigger="whenever", actor=None)
    assert not PayoutBatch.objects.exists()


def test_a_sandbox_account_that_rejects_transfers_gets_its_money_back(
    lab, django_capture_on_commit_callbacks
):
    ada = expert(full_name="Ada Lovelace")
    connect_sandbox(ada, rejects=True)
    owe(lab, ada, 2_000)

    with django_capture_on_commit_callbacks(execute=True):
        batch = payout_batch_create(trigger=SCHEDULE, actor=None)

    payout = Payout.objects.get(batch=batch)
    assert (payout.status, payout.failure_code, payout.transfer_id) == (
        PayoutStatus.RETURNED,
        "account_disabled",
        "",
    )
    assert payable(ada) == 2_000
    assert platform(AccountKind.IN_TRANSIT) == 0
    assert platform(AccountKind.PAID_OUT) == 0
    assert ledger_verify() == []
    note = Notification.objects.get(recipient=ada)
    assert note.kind == "payout.returned"
    assert "Finish onboarding your payout account" in note.text
    assert [m.to for m in mail.outbox] == [[ada.email]]


def test_sending_a_paid_payout_again_changes_nothing(lab, django_capture_on_commit_callbacks):
    ada = expert()
    connect_sandbox(ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        payout_send(payout_id=payout.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = payout_send(payout_id=payout.pk)

    assert callbacks == []
    assert (again.status, again.attempts) == (PayoutStatus.PAID, 1)
    assert SandboxObject.objects.filter(kind="transfer").count() == 1
    assert platform(AccountKind.PAID_OUT) == 2_000
    assert Notification.objects.filter(recipient=ada, kind="payout.paid").count() == 1


# Sending through Stripe (the fake server) --------------------------------------------------


def test_a_stripe_batch_makes_one_transfer_per_expert(
    lab, fake_stripe, django_capture_on_commit_callbacks
):
    experts = [expert() for _ in range(3)]
    for user, cents in zip(experts, (1_000, 2_345, 10_000), strict=True):
        connect_stripe(fake_stripe, user)
        owe(lab, user, cents)

    with django_capture_on_commit_callbacks(execute=True):
        batch = payout_batch_create(trigger=SCHEDULE, actor=None)

    assert batch is not None
    assert (batch.payout_count, batch.total_cents) == (3, 13_345)
    assert len(fake_stripe.transfers) == 3
    for payout in Payout.objects.filter(batch=batch):
        assert payout.status == PayoutStatus.PAID
        assert payout.provider == "stripe"
        transfer = fake_stripe.transfers[payout.transfer_id]
        assert transfer["amount"] == payout.amount_cents
        assert transfer["currency"] == "usd"
        assert transfer["destination"] == payout.expert.payout_account.account_id
        assert transfer["metadata"] == {"payout_id": str(payout.public_id)}
    assert sorted(transfer_posts(fake_stripe)) == sorted(
        f"payout-{p.public_id}" for p in Payout.objects.all()
    )
    assert [payable(user) for user in experts] == [0, 0, 0]
    assert platform(AccountKind.PAID_OUT) == 13_345
    assert ledger_verify() == []


def test_sending_a_payout_twice_makes_one_transfer(
    lab, fake_stripe, django_capture_on_commit_callbacks
):
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        first = payout_send(payout_id=payout.pk)
        second = payout_send(payout_id=payout.pk)

    assert first.status == second.status == PayoutStatus.PAID
    assert first.transfer_id == second.transfer_id
    assert len(fake_stripe.transfers) == 1
    assert transfer_posts(fake_stripe) == [payout.idempotency_key]
    assert platform(AccountKind.PAID_OUT) == 2_000


def test_a_connection_dropped_after_stripe_committed_is_replayed_by_the_library(
    lab, fake_stripe, django_capture_on_commit_callbacks
):
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    fake_stripe.drop_after_commit_next("/v1/transfers")

    with django_capture_on_commit_callbacks(execute=True):
        sent = payout_send(payout_id=payout.pk)

    # The library asked again with the same key; Stripe answered the stored transfer.
    assert transfer_posts(fake_stripe) == [payout.idempotency_key] * 2
    assert len(fake_stripe.transfers) == 1
    assert (sent.status, sent.transfer_id) == (PayoutStatus.PAID, next(iter(fake_stripe.transfers)))
    assert sent.attempts == 1


def test_after_a_dropped_connection_the_next_attempt_finds_the_transfer(
    lab, fake_stripe, no_library_retries, django_capture_on_commit_callbacks
):
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    fake_stripe.drop_after_commit_next("/v1/transfers")

    with pytest.raises(PayoutRetryLater) as later:
        payout_send(payout_id=payout.pk)

    assert later.value.countdown == 30
    payout.refresh_from_db()
    assert (payout.status, payout.attempts, payout.failure_code) == (
        PayoutStatus.SENDING,
        1,
        "network_error",
    )
    assert len(fake_stripe.transfers) == 1  # Stripe made it; we did not hear back
    assert platform(AccountKind.IN_TRANSIT) == 2_000
    # A day later Stripe has forgotten the idempotency key: only the lookup by the payout's
    # metadata stands between a second attempt and a second transfer.
    fake_stripe._idempotent.clear()

    with django_capture_on_commit_callbacks(execute=True):
        sent = payout_send(payout_id=payout.pk)

    assert len(fake_stripe.transfers) == 1
    assert transfer_posts(fake_stripe) == [payout.idempotency_key]
    [transfer_id] = fake_stripe.transfers
    assert (sent.status, sent.transfer_id, sent.attempts) == (PayoutStatus.PAID, transfer_id, 2)
    assert (sent.failure_code, sent.failure_message) == ("", "")
    assert payable(ada) == 0
    assert platform(AccountKind.IN_TRANSIT) == 0
    assert platform(AccountKind.PAID_OUT) == 2_000
    assert Notification.objects.filter(recipient=ada, kind="payout.paid").count() == 1


def test_a_stripe_500_is_retried_later_then_paid(
    lab, fake_stripe, no_library_retries, django_capture_on_commit_callbacks
):
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    fake_stripe.fail_next("POST", "/v1/transfers", status=500)

    with pytest.raises(PayoutRetryLater) as later:
        payout_send(payout_id=payout.pk)

    assert later.value.countdown == 30
    payout.refresh_from_db()
    assert (payout.status, payout.attempts, payout.failure_code) == (
        PayoutStatus.SENDING,
        1,
        "api_error",
    )
    assert fake_stripe.transfers == {}
    assert not Notification.objects.filter(recipient=ada).exists()

    with django_capture_on_commit_callbacks(execute=True):
        sent = payout_send(payout_id=payout.pk)

    assert (sent.status, sent.attempts) == (PayoutStatus.PAID, 2)
    assert len(fake_stripe.transfers) == 1
    assert platform(AccountKind.PAID_OUT) == 2_000


def test_the_send_task_asks_celery_to_retry_after_the_countdown(
    lab, fake_stripe, no_library_retries, django_capture_on_commit_callbacks
):
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 3_000, django_capture_on_commit_callbacks)
    fake_stripe.fail_next("POST", "/v1/transfers", status=500)

    with pytest.raises(Retry) as retry:
        send_payout.delay(payout.pk)

    assert retry.value.when == 30
    payout.refresh_from_db()
    assert (payout.status, payout.attempts) == (PayoutStatus.SENDING, 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert send_payout.delay(payout.pk).get() == PayoutStatus.PAID

    payout.refresh_from_db()
    assert (payout.status, payout.attempts) == (PayoutStatus.PAID, 2)
    assert len(fake_stripe.transfers) == 1
    assert platform(AccountKind.PAID_OUT) == 3_000


def test_retries_back_off_doubling_up_to_the_cap(settings):
    settings.PAYOUT_RETRY_DELAY = 30
    settings.PAYOUT_RETRY_MAX_DELAY = 1800
    assert [retry_countdown(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1800, 1800]


def test_a_retryable_failure_out_of_attempts_returns_the_money(
    lab, fake_stripe, no_library_retries, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUT_MAX_ATTEMPTS = 2
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    fake_stripe.set_platform_balance(500)  # the platform's Stripe balance is short

    with pytest.raises(PayoutRetryLater):
        payout_send(payout_id=payout.pk)
    with django_capture_on_commit_callbacks(execute=True):
        returned = payout_send(payout_id=payout.pk)

    assert (returned.status, returned.attempts, returned.failure_code) == (
        PayoutStatus.RETURNED,
        2,
        "balance_insufficient",
    )
    assert fake_stripe.transfers == {}
    assert payable(ada) == 2_000
    assert platform(AccountKind.IN_TRANSIT) == 0
    note = Notification.objects.get(recipient=ada)
    assert note.text == (
        "Your payout of $20.00 could not be sent (the platform's payout balance was short). "
        "The money is back in your payable balance. It is included in the next payout; "
        "nothing is needed from you."
    )


def test_an_account_without_the_transfers_capability_gets_its_money_back(
    lab, fake_stripe, django_capture_on_commit_callbacks
):
    ada = expert(full_name="Ada Lovelace")
    bea = expert()
    # Our row still says enabled, but Stripe has not enabled transfers (onboarding unfinished).
    connect_stripe(fake_stripe, ada, enabled_at_stripe=False)
    connect_stripe(fake_stripe, bea)
    owe(lab, ada, 2_500)
    owe(lab, bea, 1_000)

    with django_capture_on_commit_callbacks(execute=True):
        batch = payout_batch_create(trigger=SCHEDULE, actor=None)

    returned = Payout.objects.get(batch=batch, expert=ada)
    assert (returned.status, returned.attempts, returned.failure_code, returned.transfer_id) == (
        PayoutStatus.RETURNED,
        1,
        "insufficient_capabilities_for_transfer",
        "",
    )
    assert "transfers" in returned.failure_message
    assert Payout.objects.get(batch=batch, expert=bea).status == PayoutStatus.PAID
    assert [t["destination"] for t in fake_stripe.transfers.values()] == [
        bea.payout_account.account_id
    ]
    assert payable(ada) == 2_500
    assert payable(bea) == 0
    assert platform(AccountKind.IN_TRANSIT) == 0
    assert platform(AccountKind.PAID_OUT) == 1_000
    assert ledger_verify() == []
    note = Notification.objects.get(recipient=ada)
    assert note.kind == "payout.returned"
    assert note.text == (
        "Your payout of $25.00 could not be sent (your payout account cannot receive transfers "
        "yet). The money is back in your payable balance. Finish onboarding your payout "
        "account (or fix what it asks for); the amount is included in the next payout once "
        "transfers are enabled."
    )
    [email] = [m for m in mail.outbox if m.to == [ada.email]]
    assert "Finish onboarding your payout account" in email.body


def test_a_returned_payout_is_paid_by_a_later_batch(
    lab, fake_stripe, django_capture_on_commit_callbacks
):
    ada = expert()
    account = connect_stripe(fake_stripe, ada, enabled_at_stripe=False)
    owe(lab, ada, 2_500)
    with django_capture_on_commit_callbacks(execute=True):
        payout_batch_create(trigger=SCHEDULE, actor=None)
    fake_stripe.set_account(account.account_id, payouts_enabled=True)

    with django_capture_on_commit_callbacks(execute=True):
        batch = payout_batch_create(trigger=SCHEDULE, actor=None)

    assert Payout.objects.get(batch=batch).status == PayoutStatus.PAID
    assert payable(ada) == 0
    assert platform(AccountKind.PAID_OUT) == 2_500
    assert len(fake_stripe.transfers) == 1
    assert ledger_verify() == []


# Lost messages -----------------------------------------------------------------------------


def test_the_requeue_reconciler_sends_payouts_whose_message_was_lost(
    lab, fake_stripe, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUT_STALE_SECONDS = 900
    ada, bea = expert(), expert()
    connect_stripe(fake_stripe, ada)
    connect_stripe(fake_stripe, bea)
    # The batch committed but its messages never reached the broker.
    lost = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    paid = one_payout(lab, bea, 1_000, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        payout_send(payout_id=paid.pk)
    now = timezone.now()

    with django_capture_on_commit_callbacks() as callbacks:
        assert payouts_requeue_lost(now=now) == 0  # not stale yet
    assert callbacks == []

    later = now + timedelta(seconds=901)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert payouts_requeue_lost(now=later) == 1

    assert len(callbacks) >= 1
    lost.refresh_from_db()
    assert (lost.status, lost.attempts) == (PayoutStatus.PAID, 1)
    assert len(fake_stripe.transfers) == 2
    assert platform(AccountKind.PAID_OUT) == 3_000
    # Nothing left to send.
    with django_capture_on_commit_callbacks() as callbacks:
        assert payouts_requeue_lost(now=later + timedelta(days=1)) == 0
    assert callbacks == []


def test_the_requeue_reconciler_resends_a_payout_stuck_sending(
    lab, fake_stripe, no_library_retries, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUT_STALE_SECONDS = 900
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    # A worker died mid-call: the attempt is recorded, Stripe made the transfer, nobody
    # settled it.
    fake_stripe.drop_after_commit_next("/v1/transfers")
    with pytest.raises(PayoutRetryLater):
        payout_send(payout_id=payout.pk)
    Payout.objects.filter(pk=payout.pk).update(
        failure_code="",
        failure_message="",
        last_attempt_at=timezone.now() - timedelta(seconds=901),
        updated_at=timezone.now() - timedelta(seconds=901),
    )

    with django_capture_on_commit_callbacks(execute=True):
        count = payouts_requeue_lost()

    assert count == 1
    payout.refresh_from_db()
    assert (payout.status, payout.attempts) == (PayoutStatus.PAID, 2)
    assert len(fake_stripe.transfers) == 1
    assert transfer_posts(fake_stripe) == [payout.idempotency_key]


def test_the_requeue_reconciler_leaves_a_payout_waiting_for_its_retry(
    lab, fake_stripe, no_library_retries, settings, django_capture_on_commit_callbacks
):
    settings.PAYOUT_STALE_SECONDS = 60
    settings.PAYOUT_RETRY_DELAY = 600
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    fake_stripe.fail_next("POST", "/v1/transfers", status=503)
    with pytest.raises(PayoutRetryLater) as later:
        payout_send(payout_id=payout.pk)
    assert later.value.countdown == 600
    now = timezone.now()

    with django_capture_on_commit_callbacks() as callbacks:
        assert payouts_requeue_lost(now=now + timedelta(seconds=300)) == 0
    assert callbacks == []

    # The retry is overdue by more than the stale period: its message was lost too.
    with django_capture_on_commit_callbacks(execute=True):
        assert payouts_requeue_lost(now=now + timedelta(seconds=700)) == 1
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1


# Reconciliation ----------------------------------------------------------------------------


def test_reconciliation_agrees_when_every_payout_matches_a_transfer(
    lab, fake_stripe, django_capture_on_commit_callbacks
):
    staff, _ = staff_user()
    for cents in (1_000, 2_000):
        user = expert()
        connect_stripe(fake_stripe, user)
        owe(lab, user, cents)
    with django_capture_on_commit_callbacks(execute=True):
        payout_batch_create(trigger=SCHEDULE, actor=None)

    report = reconciliation_run()

    assert (report.payouts_checked, report.transfers_checked) == (2, 2)
    assert report.accounts_checked > 0
    assert report.differences == []
    assert not Notification.objects.filter(recipient=staff).exists()


def test_reconciliation_reports_transfers_and_payouts_that_do_not_match(
    lab, fake_stripe, django_capture_on_commit_callbacks
):
    staff, _ = staff_user()
    other_staff, _ = staff_user()
    ada, bea = expert(), expert()
    connect_stripe(fake_stripe, ada)
    connect_stripe(fake_stripe, bea)
    owe(lab, ada, 2_000)
    owe(lab, bea, 3_000)
    with django_capture_on_commit_callbacks(execute=True):
        payout_batch_create(trigger=SCHEDULE, actor=None)
    paid_ada = Payout.objects.get(expert=ada)
    paid_bea = Payout.objects.get(expert=bea)
    # A transfer made at Stripe that no payout of ours asked for...
    stray = stripe_client.transfer_create(
        params={
            "amount": 777,
            "currency": "usd",
            "destination": ada.payout_account.account_id,
            "metadata": {"payout_id": str(uuid.uuid4())},
        },
        idempotency_key="made-by-hand",
    )
    # ...and a paid payout whose transfer Stripe does not list.
    del fake_stripe.transfers[paid_bea.transfer_id]

    report = reconciliation_run()

    assert ReconciliationReport.objects.get() == report
    assert (report.payouts_checked, report.transfers_checked) == (2, 2)
    by_kind = {row["kind"]: row for row in report.differences}
    assert set(by_kind) == {"transfer_without_payout", "paid_payout_without_transfer"}
    assert by_kind["transfer_without_payout"]["transfer"] == stray["id"]
    assert by_kind["transfer_without_payout"]["detail"] == (
        f"$7.77 to {ada.payout_account.account_id} matches no payout of ours."
    )
    assert by_kind["paid_payout_without_transfer"] == {
        "kind": "paid_payout_without_transfer",
        "payout": str(paid_bea.public_id),
        "transfer": paid_bea.transfer_id,
        "detail": (
            f"Paid $30.00 to {bea.payout_account.account_id} here, but the provider lists no "
            "transfer for it."
        ),
    }
    assert str(paid_ada.public_id) not in {row["payout"] for row in report.differences}
    notes = Notification.objects.filter(kind="payments.reconciliation")
    assert sorted(n.recipient_id for n in notes) == sorted([staff.pk, other_staff.pk])
    assert {n.text for n in notes} == {"Payment reconciliation found 2 differences to look at."}
    assert {n.send_email for n in notes} == {False}


def test_reconciliation_reports_a_transfer_for_a_payout_still_sending(
    lab, fake_stripe, no_library_retries, django_capture_on_commit_callbacks
):
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    fake_stripe.drop_after_commit_next("/v1/transfers")
    with pytest.raises(PayoutRetryLater):
        payout_send(payout_id=payout.pk)

    report = reconciliation_run()

    [transfer_id] = fake_stripe.transfers
    assert report.differences == [
        {
            "kind": "transfer_for_open_payout",
            "payout": str(payout.public_id),
            "transfer": transfer_id,
            "detail": "The transfer exists but the payout is still sending.",
        }
    ]


def test_reconciliation_with_the_sandbox_includes_the_ledger_check(
    lab, django_capture_on_commit_callbacks
):
    ada = expert()
    connect_sandbox(ada)
    owe(lab, ada, 2_000)
    with django_capture_on_commit_callbacks(execute=True):
        payout_batch_create(trigger=SCHEDULE, actor=None)

    report = reconciliation_run(since=timezone.now() - timedelta(hours=1))

    assert (report.payouts_checked, report.transfers_checked) == (1, 1)
    assert report.differences == []


def test_a_send_while_another_is_calling_stripe_waits_and_pays_nothing_more(
    lab, fake_stripe, django_capture_on_commit_callbacks
):
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    # A first run recorded its attempt and is calling Stripe (no outcome yet).
    Payout.objects.filter(pk=payout.pk).update(
        status=PayoutStatus.SENDING, attempts=1, last_attempt_at=timezone.now()
    )

    with pytest.raises(PayoutRetryLater):
        payout_send(payout_id=payout.pk)

    assert transfer_posts(fake_stripe) == []
    payout.refresh_from_db()
    assert (payout.status, payout.attempts) == (PayoutStatus.SENDING, 1)
    assert payable(ada) == 0


def test_stripe_saying_the_key_is_in_use_never_returns_the_money(
    lab, fake_stripe, no_library_retries, django_capture_on_commit_callbacks
):
    ada = expert()
    connect_stripe(fake_stripe, ada)
    payout = one_payout(lab, ada, 2_000, django_capture_on_commit_callbacks)
    # A concurrent request with the same key is still running at Stripe.
    fake_stripe.fail_next("POST", "/v1/transfers", status=409, code="idempotency_key_in_use")

    with pytest.raises(PayoutRetryLater):
        payout_send(payout_id=payout.pk)

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SENDING
    assert payable(ada) == 0
    assert not Notification.objects.filter(recipient=ada, kind="payout.returned").exists()
    with django_capture_on_commit_callbacks(execute=True):
        sent = payout_send(payout_id=payout.pk)
    assert sent.status == PayoutStatus.PAID
    assert len(fake_stripe.transfers) == 1
