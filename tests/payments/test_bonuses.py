"""Bonuses: one expert or a CSV file of them, paid from the lab's balance, all or nothing."""

from __future__ import annotations

import io
import threading
import time
import uuid

import pytest
from django.core import mail
from django.db import connection, transaction
from django.urls import reverse

from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import AuditEvent, Notification
from marketplace.states import MembershipRole
from payments.bonuses import (
    BonusesPaid,
    BonusFileInvalid,
    bonus_pay,
    bonus_pay_once,
    bonuses_pay_csv,
    bonuses_pay_csv_once,
    parse_dollars,
)
from payments.ledger import expert_account, lab_account
from payments.models import Account, Bonus, LedgerTransaction
from payments.states import TransactionKind
from projects.access import LabActor
from projects.exports.provenance import lab_pseudonym
from tests.payments.factories import fund_lab
from tests.projects.workspace_factories import lab_viewer, workspace

pytestmark = pytest.mark.django_db


def balance(account) -> int:
    account.refresh_from_db()
    return account.balance_cents


def lab_with_experts(experts: int = 2, funds: int = 10_000):
    actor, project, members = workspace(experts=experts, task_count=1)
    fund_lab(actor.organization, funds)
    return actor, project, members


def pseudonym(actor: LabActor, expert) -> str:
    return lab_pseudonym(actor.organization.pk, expert.pk)


def csv_file(*rows: str) -> io.BytesIO:
    return io.BytesIO(("pseudonym,amount,reason\n" + "\n".join(rows) + "\n").encode())


def nothing_paid(actor: LabActor, experts, lab_before: int) -> None:
    assert balance(lab_account(organization=actor.organization, currency="USD")) == lab_before
    for expert in experts:
        assert balance(expert_account(user=expert, currency="USD")) == 0
    assert not Bonus.objects.exists()
    assert not LedgerTransaction.objects.filter(kind=TransactionKind.BONUS).exists()
    assert not Notification.objects.filter(kind="bonus.received").exists()
    assert not AuditEvent.objects.filter(action="bonus.pay").exists()
    assert mail.outbox == []


# One expert ------------------------------------------------------------------------------------


def test_a_manager_pays_one_expert_a_bonus_with_its_reason(
    client, django_capture_on_commit_callbacks
):
    actor, project, (first, second) = lab_with_experts()
    lab = lab_account(organization=actor.organization, currency="USD")

    with django_capture_on_commit_callbacks(execute=True):
        bonus = bonus_pay(
            actor=actor,
            expert_pseudonym=f"  {pseudonym(actor, first)} ",
            amount_cents=1250,
            reason="  Careful notes on the edge cases.  ",
            project=project,
        )

    assert (bonus.expert, bonus.amount_cents, bonus.currency) == (first, 1250, "USD")
    assert (bonus.reason, bonus.project, bonus.created_by) == (
        "Careful notes on the edge cases.",
        project,
        actor.user,
    )
    assert balance(lab) == 10_000 - 1250
    assert balance(expert_account(user=first, currency="USD")) == 1250
    assert balance(expert_account(user=second, currency="USD")) == 0
    posted = LedgerTransaction.objects.get(kind=TransactionKind.BONUS)
    assert (posted.key, posted.bonus, posted.expert, posted.project) == (
        f"bonus:{bonus.pk}",
        bonus,
        first,
        project,
    )
    (notice,) = Notification.objects.filter(kind="bonus.received")
    assert notice.recipient == first
    assert notice.text == (
        "Helix Labs sent you a bonus of $12.50: Careful notes on the edge cases."
    )
    assert notice.link == reverse("payments:earnings")
    (email,) = mail.outbox
    assert email.to == [first.email]
    assert "Careful notes on the edge cases." in email.body
    event = AuditEvent.objects.get(action="bonus.pay")
    assert (event.actor, event.organization) == (actor.user, actor.organization)
    assert event.after["expert"] == pseudonym(actor, first)
    assert event.after["amount_cents"] == 1250

    client.force_login(first)
    html = client.get(reverse("payments:earnings")).content.decode()
    assert "Careful notes on the edge cases." in html
    assert "$12.50" in html


def test_a_viewer_cannot_pay_a_bonus(django_capture_on_commit_callbacks):
    actor, _project, (first, second) = lab_with_experts()
    viewer = LabActor(
        organization=actor.organization,
        user=lab_viewer(actor),
        api_key=None,
        role=MembershipRole.VIEWER,
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
        bonus_pay(
            actor=viewer,
            expert_pseudonym=pseudonym(actor, first),
            amount_cents=500,
            reason="Thanks",
        )
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
        bonuses_pay_csv(actor=viewer, file=csv_file(f"{pseudonym(actor, first)},5,Thanks"))

    nothing_paid(actor, [first, second], 10_000)


def test_an_expert_of_another_lab_is_unknown_to_this_one():
    actor, _project, (mine,) = lab_with_experts(experts=1)
    _other_actor, _other_project, (theirs,) = workspace(experts=1, task_count=1)

    # The other expert under this lab's pseudonym scheme, and under their own lab's.
    for name in (pseudonym(actor, theirs), pseudonym(_other_actor, theirs)):
        with pytest.raises(InvalidInput, match="No expert who worked on your projects"):
            bonus_pay(actor=actor, expert_pseudonym=name, amount_cents=500, reason="Thanks")

    nothing_paid(actor, [mine, theirs], 10_000)


def test_a_project_of_another_lab_is_not_found():
    actor, _project, (expert,) = lab_with_experts(experts=1)
    _other_actor, other_project, _ = workspace(experts=1, task_count=1)

    with pytest.raises(NotFound):
        bonus_pay(
            actor=actor,
            expert_pseudonym=pseudonym(actor, expert),
            amount_cents=500,
            reason="Thanks",
            project=other_project,
        )

    nothing_paid(actor, [expert], 10_000)


@pytest.mark.parametrize(
    ("amount", "reason", "message"),
    [
        (0, "Thanks", "The amount must be positive."),
        (-5, "Thanks", "The amount must be positive."),
        (10_000_001, "Thanks", "A bonus is at most $100,000.00."),
        (500, "   ", "Say why: the expert sees the reason."),
        (500, "x" * 501, "Keep the reason under 500 characters."),
    ],
)
def test_a_bad_amount_or_reason_pays_nothing(amount, reason, message):
    actor, _project, (expert,) = lab_with_experts(experts=1)

    with pytest.raises(InvalidInput) as raised:
        bonus_pay(
            actor=actor,
            expert_pseudonym=pseudonym(actor, expert),
            amount_cents=amount,
            reason=reason,
        )

    assert raised.value.message == message
    nothing_paid(actor, [expert], 10_000)


def test_a_bonus_above_the_balance_pays_nothing():
    actor, _project, (expert,) = lab_with_experts(experts=1, funds=1000)

    with pytest.raises(InvalidInput) as raised:
        bonus_pay(
            actor=actor, expert_pseudonym=pseudonym(actor, expert), amount_cents=1001, reason="Hi"
        )

    assert raised.value.message == (
        "The lab's balance holds $10.00; the bonus is $10.01. Add funds first."
    )
    nothing_paid(actor, [expert], 1000)


# A CSV file ------------------------------------------------------------------------------------


def test_a_good_file_pays_each_expert_exactly_and_tells_them_why(
    django_capture_on_commit_callbacks,
):
    actor, _project, (first, second, third) = lab_with_experts(experts=3)
    mail.outbox.clear()
    upload = csv_file(
        f"{pseudonym(actor, first)},12.50,Best rationales this week",
        f'{pseudonym(actor, second)},$7,"Found the bug, thanks"',
        "",
    )

    with django_capture_on_commit_callbacks(execute=True):
        paid = bonuses_pay_csv(actor=actor, file=upload)

    assert [(bonus.expert, bonus.amount_cents, bonus.reason) for bonus in paid] == [
        (first, 1250, "Best rationales this week"),
        (second, 700, "Found the bug, thanks"),
    ]
    assert len({bonus.batch_id for bonus in paid}) == 1
    assert balance(lab_account(organization=actor.organization, currency="USD")) == 10_000 - 1950
    assert balance(expert_account(user=first, currency="USD")) == 1250
    assert balance(expert_account(user=second, currency="USD")) == 700
    assert balance(expert_account(user=third, currency="USD")) == 0
    assert sorted(
        LedgerTransaction.objects.filter(kind=TransactionKind.BONUS).values_list("key", flat=True)
    ) == sorted(f"bonus:{bonus.pk}" for bonus in paid)
    notices = {
        notice.recipient_id: notice.text
        for notice in Notification.objects.filter(kind="bonus.received")
    }
    assert notices == {
        first.pk: "Helix Labs sent you a bonus of $12.50: Best rationales this week",
        second.pk: "Helix Labs sent you a bonus of $7.00: Found the bug, thanks",
    }
    assert sorted(email.to[0] for email in mail.outbox) == sorted([first.email, second.email])
    assert AuditEvent.objects.filter(action="bonus.pay").count() == 2


def test_a_file_with_one_bad_row_is_refused_whole_naming_the_row(
    django_capture_on_commit_callbacks,
):
    actor, _project, (first, second, third) = lab_with_experts(experts=3)
    mail.outbox.clear()
    upload = csv_file(
        f"{pseudonym(actor, first)},12.50,Good",
        f"{pseudonym(actor, second)},12.505,Too precise",
        f"{pseudonym(actor, third)},3,Fine",
    )

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(BonusFileInvalid) as raised,
    ):
        bonuses_pay_csv(actor=actor, file=upload)

    assert raised.value.errors == [
        "Row 3: “12.505” is not an amount in dollars with at most two decimals."
    ]
    nothing_paid(actor, [first, second, third], 10_000)


def test_every_bad_row_is_named(django_capture_on_commit_callbacks):
    actor, _project, (first, second) = lab_with_experts()
    _other_actor, _other_project, (stranger,) = workspace(experts=1, task_count=1)
    mail.outbox.clear()
    upload = csv_file(
        f"{pseudonym(actor, first)},5,Good",
        f"{pseudonym(actor, stranger)},5,Not ours",
        f"{pseudonym(actor, second)},-5,Negative",
        f"{pseudonym(actor, second)},0,Zero",
        f"{pseudonym(actor, first)},5,Twice",
        f"{pseudonym(actor, second)},1e3,",
        ",5,No one",
    )

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(BonusFileInvalid) as raised,
    ):
        bonuses_pay_csv(actor=actor, file=upload)

    assert raised.value.errors == [
        f"Row 3: no expert who worked on your projects is “{pseudonym(actor, stranger)}”.",
        "Row 4: “-5” is not an amount in dollars with at most two decimals.",
        f"Row 5: “{pseudonym(actor, second)}” already appears on row 4; "
        "the amount must be positive.",
        f"Row 6: “{pseudonym(actor, first)}” already appears on row 2.",
        f"Row 7: “{pseudonym(actor, second)}” already appears on row 4; “1e3” is not an "
        "amount in dollars with at most two decimals; the reason is empty.",
        "Row 8: the pseudonym is empty.",
    ]
    assert raised.value.message.startswith("The file was not paid: Row 3: ")
    nothing_paid(actor, [first, second, stranger], 10_000)


def test_a_file_above_the_balance_is_refused(django_capture_on_commit_callbacks):
    actor, _project, (first, second) = lab_with_experts(funds=2000)
    mail.outbox.clear()
    upload = csv_file(
        f"{pseudonym(actor, first)},10.00,One", f"{pseudonym(actor, second)},10.01,Two"
    )

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(BonusFileInvalid) as raised,
    ):
        bonuses_pay_csv(actor=actor, file=upload)

    assert raised.value.errors == [
        "The file pays $20.01 in total; the lab's balance holds $20.00. Add funds first."
    ]
    nothing_paid(actor, [first, second], 2000)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"name,amount\nx,1\n", "The first row must name the columns pseudonym, amount, reason"),
        (b"pseudonym,amount,reason\n", "The file has no bonuses in it."),
        (b"\xff\xfe", "The file is not UTF-8 text."),
    ],
)
def test_a_file_that_is_not_a_bonus_list_is_refused(content, message):
    actor, _project, (expert,) = lab_with_experts(experts=1)

    with pytest.raises(InvalidInput) as raised:
        bonuses_pay_csv(actor=actor, file=io.BytesIO(content))

    assert raised.value.message.startswith(message)
    nothing_paid(actor, [expert], 10_000)


@pytest.mark.parametrize(
    ("text", "cents"),
    [("12.50", 1250), ("$7", 700), ("0.1", 10), (" 3.05 ", 305), ("100000", 10_000_000)],
)
def test_dollars_parse_exactly(text, cents):
    assert parse_dollars(text) == cents


@pytest.mark.parametrize("text", ["1.005", "1e3", "-5", "abc", "", "1,000", "NaN", "Infinity"])
def test_dollars_refuse_anything_else(text):
    with pytest.raises(InvalidInput):
        parse_dollars(text)


# The same request twice ------------------------------------------------------------------------


def bonus_keys() -> list[str]:
    return sorted(
        LedgerTransaction.objects.filter(kind=TransactionKind.BONUS).values_list("key", flat=True)
    )


def test_the_same_request_pays_one_bonus_once(django_capture_on_commit_callbacks):
    # The lab holds exactly the bonus: the repeat is recognised, not refused for the balance.
    actor, _project, (expert,) = lab_with_experts(experts=1, funds=1250)
    mail.outbox.clear()
    request_id = uuid.uuid4()
    pay = {
        "actor": actor,
        "expert_pseudonym": pseudonym(actor, expert),
        "amount_cents": 1250,
        "reason": "Careful notes",
        "request_id": request_id,
    }

    with django_capture_on_commit_callbacks(execute=True):
        first = bonus_pay_once(**pay)
    with django_capture_on_commit_callbacks(execute=True):
        again = bonus_pay_once(**pay)
    with django_capture_on_commit_callbacks(execute=True):
        third = bonus_pay(**pay)

    (bonus,) = first.bonuses
    assert first == BonusesPaid([bonus], repeated=False)
    assert again == BonusesPaid([bonus], repeated=True)
    assert third == bonus
    assert (bonus.request_id, bonus.amount_cents) == (request_id, 1250)
    assert Bonus.objects.get() == bonus
    assert balance(lab_account(organization=actor.organization, currency="USD")) == 0
    assert balance(expert_account(user=expert, currency="USD")) == 1250
    assert bonus_keys() == [f"bonus:{actor.organization.pk}:{request_id}:{expert.pk}"]
    assert Notification.objects.filter(kind="bonus.received").count() == 1
    assert [email.to for email in mail.outbox] == [[expert.email]]
    (event,) = AuditEvent.objects.filter(action="bonus.pay")
    assert event.after["request_id"] == str(request_id)


def test_a_repeat_with_another_amount_pays_nothing_more_and_answers_the_first_bonus():
    actor, _project, (expert,) = lab_with_experts(experts=1)
    request_id = uuid.uuid4()
    first = bonus_pay(
        actor=actor,
        expert_pseudonym=pseudonym(actor, expert),
        amount_cents=500,
        reason="Thanks",
        request_id=request_id,
    )

    again = bonus_pay_once(
        actor=actor,
        expert_pseudonym=pseudonym(actor, expert),
        amount_cents=900,
        reason="Thanks again",
        request_id=request_id,
    )

    assert again == BonusesPaid([first], repeated=True)
    assert Bonus.objects.get().amount_cents == 500
    assert balance(lab_account(organization=actor.organization, currency="USD")) == 9500
    assert balance(expert_account(user=expert, currency="USD")) == 500


def test_different_requests_pay_again_and_without_a_request_every_call_pays():
    actor, _project, (first, second) = lab_with_experts()
    ids = [uuid.uuid4(), uuid.uuid4()]
    for request_id in ids:
        bonus_pay(
            actor=actor,
            expert_pseudonym=pseudonym(actor, first),
            amount_cents=100,
            reason="Thanks",
            request_id=request_id,
        )
    for _ in range(2):
        bonus_pay(
            actor=actor, expert_pseudonym=pseudonym(actor, first), amount_cents=10, reason="Hi"
        )
    # One request id names one bonus per expert: another expert under it is paid.
    bonus_pay(
        actor=actor,
        expert_pseudonym=pseudonym(actor, second),
        amount_cents=7,
        reason="Thanks",
        request_id=ids[0],
    )

    assert Bonus.objects.count() == 5
    assert balance(lab_account(organization=actor.organization, currency="USD")) == (10_000 - 227)
    assert balance(expert_account(user=first, currency="USD")) == 220
    assert balance(expert_account(user=second, currency="USD")) == 7
    unrequested = Bonus.objects.filter(request_id=None)
    org = actor.organization.pk
    assert bonus_keys() == sorted(
        [f"bonus:{org}:{ids[0]}:{first.pk}", f"bonus:{org}:{ids[1]}:{first.pk}"]
        + [f"bonus:{bonus.pk}" for bonus in unrequested]
        + [f"bonus:{org}:{ids[0]}:{second.pk}"]
    )


def test_a_request_id_of_another_lab_does_not_hide_this_labs_bonus():
    actor, _project, (expert,) = lab_with_experts(experts=1)
    other, _other_project, (theirs,) = lab_with_experts(experts=1)
    request_id = uuid.uuid4()

    for lab, who in ((other, theirs), (actor, expert)):
        bonus_pay(
            actor=lab,
            expert_pseudonym=pseudonym(lab, who),
            amount_cents=300,
            reason="Thanks",
            request_id=request_id,
        )

    assert Bonus.objects.filter(request_id=request_id).count() == 2
    assert balance(expert_account(user=expert, currency="USD")) == 300
    assert balance(lab_account(organization=actor.organization, currency="USD")) == 9700


@pytest.mark.parametrize("request_id", ["not-a-uuid", str(uuid.uuid4()), 12])
def test_a_request_id_that_is_not_a_uuid_is_refused(request_id):
    actor, _project, (expert,) = lab_with_experts(experts=1)

    with pytest.raises(InvalidInput) as single:
        bonus_pay(
            actor=actor,
            expert_pseudonym=pseudonym(actor, expert),
            amount_cents=500,
            reason="Thanks",
            request_id=request_id,
        )
    with pytest.raises(InvalidInput) as upload:
        bonuses_pay_csv(
            actor=actor,
            file=csv_file(f"{pseudonym(actor, expert)},5,Thanks"),
            request_id=request_id,
        )

    assert single.value.message == upload.value.message == "The request id must be a UUID."
    assert single.value.field == "request_id"
    nothing_paid(actor, [expert], 10_000)


def test_the_same_file_uploaded_twice_with_one_request_id_pays_once(
    django_capture_on_commit_callbacks,
):
    actor, _project, (first, second) = lab_with_experts(funds=1950)
    mail.outbox.clear()
    request_id = uuid.uuid4()
    rows = (
        f"{pseudonym(actor, first)},12.50,Best rationales",
        f"{pseudonym(actor, second)},7,Found the bug",
    )

    with django_capture_on_commit_callbacks(execute=True):
        paid = bonuses_pay_csv_once(actor=actor, file=csv_file(*rows), request_id=request_id)
    with django_capture_on_commit_callbacks(execute=True):
        again = bonuses_pay_csv_once(actor=actor, file=csv_file(*rows), request_id=request_id)
    # The same experts in another order (or with other amounts) are the same request too.
    with django_capture_on_commit_callbacks(execute=True):
        reordered = bonuses_pay_csv(
            actor=actor,
            file=csv_file(f"{pseudonym(actor, second)},1,Other", rows[0]),
            request_id=request_id,
        )

    assert paid.repeated is False
    assert [(bonus.expert, bonus.amount_cents) for bonus in paid.bonuses] == [
        (first, 1250),
        (second, 700),
    ]
    assert again == BonusesPaid(paid.bonuses, repeated=True)
    assert reordered == paid.bonuses
    assert Bonus.objects.count() == 2
    assert balance(lab_account(organization=actor.organization, currency="USD")) == 0
    assert balance(expert_account(user=first, currency="USD")) == 1250
    assert balance(expert_account(user=second, currency="USD")) == 700
    org = actor.organization.pk
    assert bonus_keys() == sorted(
        [f"bonus:{org}:{request_id}:{first.pk}", f"bonus:{org}:{request_id}:{second.pk}"]
    )
    assert Notification.objects.filter(kind="bonus.received").count() == 2
    assert sorted(email.to[0] for email in mail.outbox) == sorted([first.email, second.email])
    assert AuditEvent.objects.filter(action="bonus.pay").count() == 2


def test_another_file_under_a_used_request_id_is_refused_and_pays_nothing_more():
    actor, _project, (first, second, third) = lab_with_experts(experts=3)
    request_id = uuid.uuid4()
    bonuses_pay_csv(
        actor=actor,
        file=csv_file(f"{pseudonym(actor, first)},5,One", f"{pseudonym(actor, second)},5,Two"),
        request_id=request_id,
    )

    for rows in (
        [f"{pseudonym(actor, first)},5,One"],
        [f"{pseudonym(actor, third)},5,Three"],
        [f"{pseudonym(actor, first)},5,One", f"{pseudonym(actor, third)},5,Three"],
    ):
        with pytest.raises(Conflict) as raised:
            bonuses_pay_csv(actor=actor, file=csv_file(*rows), request_id=request_id)
        assert raised.value.message == (
            "This form already paid 2 bonuses from another file; nothing more was paid. "
            "Reload the page to pay a new file."
        )

    assert Bonus.objects.count() == 2
    assert balance(lab_account(organization=actor.organization, currency="USD")) == 9000
    assert balance(expert_account(user=third, currency="USD")) == 0


def test_the_same_file_under_two_request_ids_pays_twice():
    actor, _project, (first, second) = lab_with_experts()
    rows = (f"{pseudonym(actor, first)},5,One", f"{pseudonym(actor, second)},2,Two")

    one = bonuses_pay_csv(actor=actor, file=csv_file(*rows), request_id=uuid.uuid4())
    two = bonuses_pay_csv(actor=actor, file=csv_file(*rows), request_id=uuid.uuid4())

    assert len(one) == len(two) == 2
    assert {bonus.pk for bonus in one}.isdisjoint(bonus.pk for bonus in two)
    assert balance(lab_account(organization=actor.organization, currency="USD")) == 10_000 - 1400
    assert balance(expert_account(user=first, currency="USD")) == 1000
    assert balance(expert_account(user=second, currency="USD")) == 400


# Submitted at the same moment (PostgreSQL) ----------------------------------------------------


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def _simultaneously(actor: LabActor, *actions):
    """Run the actions in threads while another transaction holds the lab's account row: the
    first to insert its bonus waits for the account, the others for that bonus's row (the
    unique request constraint). Once all of them wait, the account is let go."""
    lab = lab_account(organization=actor.organization, currency="USD")
    held, release = threading.Event(), threading.Event()
    outcomes: list[object] = [None] * len(actions)

    def hold():
        try:
            with transaction.atomic():
                Account.objects.select_for_update().get(pk=lab.pk)
                held.set()
                release.wait(30)
        finally:
            connection.close()

    def run(index, action):
        try:
            outcomes[index] = action()
        except Exception as error:  # the outcome under test
            outcomes[index] = error
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while _waiting_on_locks() < len(actions) and time.monotonic() < deadline:
        time.sleep(0.02)
    waiting = _waiting_on_locks()
    release.set()
    for thread in [holder, *threads]:
        thread.join(timeout=30)
    assert waiting == len(actions)
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_request_submitted_twice_at_the_same_moment_pays_once():
    actor, _project, (expert,) = lab_with_experts(experts=1)
    mail.outbox.clear()
    request_id = uuid.uuid4()

    def pay():
        return bonus_pay_once(
            actor=actor,
            expert_pseudonym=pseudonym(actor, expert),
            amount_cents=1250,
            reason="Careful notes",
            request_id=request_id,
        )

    outcomes = _simultaneously(actor, pay, pay)

    bonus = Bonus.objects.get()
    assert sorted(outcomes, key=lambda outcome: outcome.repeated) == [
        BonusesPaid([bonus], repeated=False),
        BonusesPaid([bonus], repeated=True),
    ], outcomes
    assert balance(lab_account(organization=actor.organization, currency="USD")) == 10_000 - 1250
    assert balance(expert_account(user=expert, currency="USD")) == 1250
    assert LedgerTransaction.objects.filter(kind=TransactionKind.BONUS).count() == 1
    assert Notification.objects.filter(kind="bonus.received").count() == 1
    assert AuditEvent.objects.filter(action="bonus.pay").count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_file_uploaded_twice_at_the_same_moment_pays_once():
    actor, _project, (first, second) = lab_with_experts()
    mail.outbox.clear()
    request_id = uuid.uuid4()
    rows = (f"{pseudonym(actor, first)},5,One", f"{pseudonym(actor, second)},2,Two")

    def upload():
        return bonuses_pay_csv_once(actor=actor, file=csv_file(*rows), request_id=request_id)

    outcomes = _simultaneously(actor, upload, upload)

    paid = list(Bonus.objects.order_by("pk"))
    assert sorted(outcomes, key=lambda outcome: outcome.repeated) == [
        BonusesPaid(paid, repeated=False),
        BonusesPaid(paid, repeated=True),
    ], outcomes
    assert len(paid) == 2
    assert balance(lab_account(organization=actor.organization, currency="USD")) == 10_000 - 700
    assert balance(expert_account(user=first, currency="USD")) == 500
    assert balance(expert_account(user=second, currency="USD")) == 200
    assert Notification.objects.filter(kind="bonus.received").count() == 2
    assert AuditEvent.objects.filter(action="bonus.pay").count() == 2
    assert len(mail.outbox) == 2
