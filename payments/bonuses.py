"""Bonuses: a lab pays an expert (or many, from a CSV file) on top of their earnings, from its
balance, with a reason the expert sees.

Experts are named by the pseudonym the lab sees in its exports and dashboards
(``projects.exports.provenance.lab_pseudonym``), among the experts who worked on the lab's
projects. A file is checked whole before anything is paid: one bad row refuses it all.

A request may carry a ``request_id`` (the page's forms carry one, new each time they render):
the same request submitted again (a double click, a reload, the same file twice from one page),
even at the same moment, pays nothing more and answers the bonuses it paid the first time.
The database keeps one bonus per organisation, request and expert; a submission that loses
the race to insert it reads the winner's.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.urls import reverse

from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.models import Notification, User
from marketplace.services import notification_create, notifications_create_bulk
from payments.ledger import bonus_post, organization_money
from payments.models import Bonus
from payments.selectors import CURRENCY, lab_experts_by_pseudonym
from projects.access import LabActor, lab_audit_record
from projects.models import Project
from projects.pricing import format_dollars

MAX_BONUS_CENTS = 10_000_000  # one hundred thousand dollars to one expert at once
MAX_REASON = 500
MAX_FILE_BYTES = 1_000_000
MAX_ROWS = 2_000
COLUMNS = ("pseudonym", "amount", "reason")
DOLLARS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")


class BonusFileInvalid(InvalidInput):
    """A bonus file with problems; ``errors`` names each row. Nothing was paid."""

    def __init__(self, errors: list[str]) -> None:
        shown = errors[:20]
        more = f" (and {len(errors) - len(shown)} more)" if len(errors) > len(shown) else ""
        super().__init__("The file was not paid: " + " ".join(shown) + more, field="file")
        self.errors = errors


@dataclass(frozen=True)
class BonusesPaid:
    """What a request paid: its bonuses, and whether an earlier submission of the same request
    had paid them already (``repeated``: nothing was paid this time)."""

    bonuses: list[Bonus]
    repeated: bool


@dataclass(frozen=True)
class _Planned:
    expert_id: int
    pseudonym: str
    amount_cents: int
    reason: str


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why: the expert sees the reason.", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"Keep the reason under {MAX_REASON} characters.", field="reason")
    return reason


def _check_amount(amount_cents: int) -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise InvalidInput("The amount must be a whole number of cents.", field="amount_cents")
    if amount_cents <= 0:
        raise InvalidInput("The amount must be positive.", field="amount_cents")
    if amount_cents > MAX_BONUS_CENTS:
        raise InvalidInput(
            f"A bonus is at most {format_dollars(MAX_BONUS_CENTS)}.", field="amount_cents"
        )
    return amount_cents


def parse_dollars(text: str) -> int:
    """``"12.50"`` or ``"$12.5"`` → 1250 cents, exactly (Decimal, never float); at most two
    decimals. InvalidInput for anything else."""
    cleaned = (text or "").strip().removeprefix("$").strip()
    if not DOLLARS.fullmatch(cleaned):
        raise InvalidInput(
            f"“{text.strip()}” is not an amount in dollars with at most two decimals.",
            field="amount",
        )
    return _check_amount(int(Decimal(cleaned) * 100))


def _check_request_id(request_id: object) -> uuid.UUID | None:
    if request_id is None or isinstance(request_id, uuid.UUID):
        return request_id
    raise InvalidInput("The request id must be a UUID.", field="request_id")


def _requested(
    *, organization_id: int, request_id: uuid.UUID, expert_id: int | None = None
) -> list[Bonus]:
    """The bonuses already paid for the request (to one expert, if given), in the order they
    were paid."""
    paid = Bonus.objects.filter(organization_id=organization_id, request_id=request_id)
    if expert_id is not None:
        paid = paid.filter(expert_id=expert_id)
    return list(paid.order_by("pk"))


def _ledger_key(bonus: Bonus) -> str:
    if bonus.request_id is None:
        return f"bonus:{bonus.pk}"
    return f"bonus:{bonus.organization_id}:{bonus.request_id}:{bonus.expert_id}"


def _lab_balance_cents(actor: LabActor) -> int:
    return organization_money(organization=actor.organization, currency=CURRENCY).balance_cents


def _notification(bonus: Bonus, expert: User, organization_name: str) -> Notification:
    return Notification(
        recipient=expert,
        kind="bonus.received",
        text=(
            f"{organization_name} sent you a bonus of {format_dollars(bonus.amount_cents)}: "
            f"{bonus.reason}"
        ),
        link=reverse("payments:earnings"),
        send_email=True,
    )


def _pay(
    *,
    actor: LabActor,
    planned: list[_Planned],
    experts: dict[int, User],
    project: Project | None,
    batch_id: uuid.UUID,
    request_id: uuid.UUID | None,
) -> list[Bonus]:
    """Create and post each bonus. Call inside a transaction: a short balance raises
    InsufficientFunds and rolls every one of them back; a bonus the request already paid
    raises IntegrityError (the unique request constraint)."""
    organization = actor.organization
    paid = []
    for row in planned:
        expert = experts[row.expert_id]
        bonus = Bonus.objects.create(
            organization=organization,
            project=project,
            expert=expert,
            amount_cents=row.amount_cents,
            currency=CURRENCY,
            reason=row.reason,
            created_by=actor.user,
            batch_id=batch_id,
            request_id=request_id,
        )
        bonus_post(
            organization=organization,
            expert=expert,
            amount_cents=row.amount_cents,
            currency=CURRENCY,
            key=_ledger_key(bonus),
            memo=f"Bonus from {organization.name}: {row.reason}"[:300],
            created_by=actor.user,
            bonus=bonus,
            project=project,
        )
        lab_audit_record(
            actor=actor,
            action="bonus.pay",
            target=bonus,
            after={
                "expert": row.pseudonym,
                "amount_cents": row.amount_cents,
                "reason": row.reason,
                "batch_id": str(batch_id),
                **({"request_id": str(request_id)} if request_id is not None else {}),
                **({"project": str(project.public_id)} if project is not None else {}),
            },
        )
        paid.append(bonus)
    return paid


def bonus_pay(
    *,
    actor: LabActor,
    expert_pseudonym: str,
    amount_cents: int,
    reason: str,
    project: Project | None = None,
    request_id: uuid.UUID | None = None,
) -> Bonus:
    """Pay one expert (by the lab's pseudonym for them) ``amount_cents`` from the lab's
    balance, with the reason they see; notify them. Managers only. With a ``request_id``,
    the same request again (same expert) pays nothing more and answers the first bonus."""
    return bonus_pay_once(
        actor=actor,
        expert_pseudonym=expert_pseudonym,
        amount_cents=amount_cents,
        reason=reason,
        project=project,
        request_id=request_id,
    ).bonuses[0]


def bonus_pay_once(
    *,
    actor: LabActor,
    expert_pseudonym: str,
    amount_cents: int,
    reason: str,
    project: Project | None = None,
    request_id: uuid.UUID | None,
) -> BonusesPaid:
    """``bonus_pay`` that also says whether the request had been paid already."""
    actor.require_manager("pay bonuses")
    request_id = _check_request_id(request_id)
    amount_cents = _check_amount(amount_cents)
    reason = _clean_reason(reason)
    if project is not None and project.organization_id != actor.organization.pk:
        raise NotFound()
    pseudonym = (expert_pseudonym or "").strip()
    expert_id = lab_experts_by_pseudonym(organization=actor.organization).get(pseudonym)
    if expert_id is None:
        raise InvalidInput(
            f"No expert who worked on your projects is “{pseudonym}”.", field="expert_pseudonym"
        )
    if request_id is not None:
        earlier = _requested(
            organization_id=actor.organization.pk, request_id=request_id, expert_id=expert_id
        )
        if earlier:
            return BonusesPaid(earlier, repeated=True)
    balance = _lab_balance_cents(actor)
    if amount_cents > balance:
        raise InvalidInput(
            f"The lab's balance holds {format_dollars(balance)}; the bonus is "
            f"{format_dollars(amount_cents)}. Add funds first.",
            field="amount_cents",
        )
    expert = User.objects.get(pk=expert_id)
    try:
        with transaction.atomic():
            (bonus,) = _pay(
                actor=actor,
                planned=[_Planned(expert_id, pseudonym, amount_cents, reason)],
                experts={expert_id: expert},
                project=project,
                batch_id=uuid.uuid4(),
                request_id=request_id,
            )
            notice = _notification(bonus, expert, actor.organization.name)
            notification_create(
                recipient=expert, kind=notice.kind, text=notice.text, link=notice.link
            )
    except IntegrityError:
        # The same request, submitted at the same moment, paid it first.
        if request_id is None:
            raise
        earlier = _requested(
            organization_id=actor.organization.pk, request_id=request_id, expert_id=expert_id
        )
        if not earlier:
            raise
        return BonusesPaid(earlier, repeated=True)
    return BonusesPaid([bonus], repeated=False)


def _read_rows(file: Any) -> list[tuple[int, dict[str, str]]]:
    """The file's data rows with their line numbers (the header is row 1)."""
    raw = file.read(MAX_FILE_BYTES + 1) if hasattr(file, "read") else file
    if isinstance(raw, bytes):
        if len(raw) > MAX_FILE_BYTES:
            raise InvalidInput("The file is larger than 1 MB.", field="file")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("The file is not UTF-8 text.", field="file") from None
    else:
        text = str(raw).removeprefix("\ufeff")
        if len(text.encode()) > MAX_FILE_BYTES:
            raise InvalidInput("The file is larger than 1 MB.", field="file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("The file is empty.", field="file")
        names = [name.strip().lower() for name in header]
        missing = [column for column in COLUMNS if column not in names]
        if missing:
            raise InvalidInput(
                "The first row must name the columns pseudonym, amount, reason "
                f"(missing: {', '.join(missing)}).",
                field="file",
            )
        rows: list[tuple[int, dict[str, str]]] = []
        for number, values in enumerate(reader, start=2):
            if not any(value.strip() for value in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise InvalidInput(f"A file pays at most {MAX_ROWS} bonuses.", field="file")
            padded = values + [""] * (len(names) - len(values))
            rows.append((number, {name: padded[i] for i, name in enumerate(names)}))
    except csv.Error as error:
        raise InvalidInput(f"The file is not valid CSV: {error}.", field="file") from None
    if not rows:
        raise InvalidInput("The file has no bonuses in it.", field="file")
    return rows


def bonuses_pay_csv(
    *,
    actor: LabActor,
    file: IO[bytes] | IO[str] | bytes | str,
    request_id: uuid.UUID | None = None,
) -> list[Bonus]:
    """Pay every row of a CSV file (columns ``pseudonym``, ``amount`` in dollars such as
    ``12.50``, ``reason``), all or nothing: any bad row (unknown pseudonym, bad amount, empty
    reason, a pseudonym twice) or a total above the lab's balance refuses the whole file
    (BonusFileInvalid, naming the rows) and nothing is paid. Managers only.

    With a ``request_id``, the same request again with the same experts pays nothing more and
    answers the first upload's bonuses; with other experts it is refused (Conflict)."""
    return bonuses_pay_csv_once(actor=actor, file=file, request_id=request_id).bonuses


def _repeat_of(earlier: list[Bonus], planned: list[_Planned]) -> BonusesPaid:
    if {bonus.expert_id for bonus in earlier} != {row.expert_id for row in planned}:
        raise Conflict(
            f"This form already paid {len(earlier)} "
            f"bonus{'es' if len(earlier) != 1 else ''} from another file; nothing more was "
            "paid. Reload the page to pay a new file."
        )
    return BonusesPaid(earlier, repeated=True)


def bonuses_pay_csv_once(
    *,
    actor: LabActor,
    file: IO[bytes] | IO[str] | bytes | str,
    request_id: uuid.UUID | None,
) -> BonusesPaid:
    """``bonuses_pay_csv`` that also says whether the request had been paid already."""
    actor.require_manager("pay bonuses")
    request_id = _check_request_id(request_id)
    rows = _read_rows(file)
    known = lab_experts_by_pseudonym(organization=actor.organization)
    errors: list[str] = []
    planned: list[_Planned] = []
    seen: dict[str, int] = {}
    for number, values in rows:
        problems = []
        pseudonym = values.get("pseudonym", "").strip()
        expert_id = known.get(pseudonym)
        if not pseudonym:
            problems.append("the pseudonym is empty")
        elif expert_id is None:
            problems.append(f"no expert who worked on your projects is “{pseudonym}”")
        elif pseudonym in seen:
            problems.append(f"“{pseudonym}” already appears on row {seen[pseudonym]}")
        else:
            seen[pseudonym] = number
        amount = 0
        try:
            amount = parse_dollars(values.get("amount", ""))
        except InvalidInput as error:
            problems.append(error.message[0].lower() + error.message[1:].rstrip("."))
        try:
            reason = _clean_reason(values.get("reason", ""))
        except InvalidInput:
            reason = ""
            if values.get("reason", "").strip():
                problems.append(f"the reason is longer than {MAX_REASON} characters")
            else:
                problems.append("the reason is empty")
        if problems:
            errors.append(f"Row {number}: {'; '.join(problems)}.")
        elif expert_id is not None:
            planned.append(_Planned(expert_id, pseudonym, amount, reason))
    if errors:
        raise BonusFileInvalid(errors)
    organization_id = actor.organization.pk
    if request_id is not None:
        earlier = _requested(organization_id=organization_id, request_id=request_id)
        if earlier:
            return _repeat_of(earlier, planned)
    total = sum(row.amount_cents for row in planned)
    balance = _lab_balance_cents(actor)
    if total > balance:
        raise BonusFileInvalid(
            [
                f"The file pays {format_dollars(total)} in total; the lab's balance holds "
                f"{format_dollars(balance)}. Add funds first."
            ]
        )
    experts = User.objects.in_bulk([row.expert_id for row in planned])
    batch_id = uuid.uuid4()
    try:
        with transaction.atomic():
            paid = _pay(
                actor=actor,
                planned=planned,
                experts=experts,
                project=None,
                batch_id=batch_id,
                request_id=request_id,
            )
            notifications_create_bulk(
                [
                    _notification(bonus, experts[bonus.expert_id], actor.organization.name)
                    for bonus in paid
                ]
            )
    except IntegrityError:
        # The same request, submitted at the same moment, paid first.
        if request_id is None:
            raise
        earlier = _requested(organization_id=organization_id, request_id=request_id)
        if not earlier:
            raise
        return _repeat_of(earlier, planned)
    return BonusesPaid(paid, repeated=False)
