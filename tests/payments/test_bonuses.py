"""Bonuses: one expert or a CSV file of them, paid from the lab's balance, all or nothing."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.urls import reverse

from marketplace.errors import InvalidInput, NotFound, PermissionDenied
from marketplace.models import AuditEvent, Notification
from marketplace.states import MembershipRole
from payments.bonuses import BonusFileInvalid, bonus_pay, bonuses_pay_csv, parse_dollars
from payments.ledger import expert_account, lab_account
from payments.models import Bonus, LedgerTransaction
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
