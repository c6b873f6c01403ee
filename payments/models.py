"""The double-entry ledger and the records around it (DESIGN.md, flow 7).

Every amount is an integer number of minor units (cents) with a currency. A ledger
transaction's entries sum to zero; posted entries are never updated or deleted (mistakes are
reversed by new transactions; the database refuses updates, see migration 0002).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.models import TimeStampedModel
from payments.states import (
    AccountKind,
    AppealStatus,
    DisputeStatus,
    FundingStatus,
    PayoutAccountStatus,
    PayoutBatchTrigger,
    PayoutStatus,
    TransactionKind,
    WebhookEventStatus,
)


class Account(TimeStampedModel):
    """One balance: a lab's, a project's escrow, an expert's payable, or a platform account.

    ``balance_cents`` is kept in step with the sum of the account's entries in the same
    database transaction that posts them (``payments.ledger.ledger_verify`` checks it).
    """

    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    organization = models.ForeignKey(
        "marketplace.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_accounts",
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_accounts",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_accounts",
    )
    balance_cents = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(kind__in=AccountKind.values), name="account_kind_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        kind=AccountKind.LAB,
                        organization__isnull=False,
                        project__isnull=True,
                        user__isnull=True,
                    )
                    | Q(
                        kind=AccountKind.ESCROW,
                        organization__isnull=False,
                        project__isnull=False,
                        user__isnull=True,
                    )
                    | Q(
                        kind=AccountKind.EXPERT,
                        organization__isnull=True,
                        project__isnull=True,
                        user__isnull=False,
                    )
                    | Q(
                        kind__in=[
                            AccountKind.REVENUE,
                            AccountKind.FUNDING,
                            AccountKind.IN_TRANSIT,
                            AccountKind.PAID_OUT,
                        ],
                        organization__isnull=True,
                        project__isnull=True,
                        user__isnull=True,
                    )
                ),
                name="account_owner_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[AccountKind.LAB, AccountKind.ESCROW])
                | Q(balance_cents__gte=0),
                name="account_lab_money_not_negative",
            ),
            models.UniqueConstraint(
                fields=["organization", "currency"],
                condition=Q(kind=AccountKind.LAB),
                name="account_one_lab_balance_per_currency",
            ),
            models.UniqueConstraint(
                fields=["project"],
                condition=Q(kind=AccountKind.ESCROW),
                name="account_one_escrow_per_project",
            ),
            models.UniqueConstraint(
                fields=["user", "currency"],
                condition=Q(kind=AccountKind.EXPERT),
                name="account_one_payable_per_currency",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=Q(
                    kind__in=[
                        AccountKind.REVENUE,
                        AccountKind.FUNDING,
                        AccountKind.IN_TRANSIT,
                        AccountKind.PAID_OUT,
                    ]
                ),
                name="account_one_platform_account_per_currency",
            ),
        ]

    def __str__(self) -> str:
        owner = self.project or self.organization or self.user or "platform"
        return f"{self.get_kind_display()} ({owner}, {self.currency})"


class LedgerTransaction(models.Model):
    """One movement of money: two or more entries summing to zero, posted once.

    ``key`` makes posting idempotent (``earning:<annotation>``, ``payout:<payout>``...); the
    partial unique constraint on the annotation is the database's own guarantee that an
    answer is paid at most once.
    """

    kind = models.CharField(max_length=24, choices=TransactionKind.choices)
    key = models.CharField(max_length=120, unique=True)
    currency = models.CharField(max_length=3)
    memo = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # PROTECT, not SET_NULL: posted rows never change (the database refuses updates).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    organization = models.ForeignKey(
        "marketplace.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_transactions",
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_transactions",
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_transactions",
    )
    annotation = models.ForeignKey(
        "projects.Annotation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_transactions",
    )
    funding = models.ForeignKey(
        "payments.LabFunding",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_transactions",
    )
    payout = models.ForeignKey(
        "payments.Payout",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_transactions",
    )
    bonus = models.ForeignKey(
        "payments.Bonus",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_transactions",
    )

    class Meta:
        ordering: ClassVar = ["created_at", "id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(kind__in=TransactionKind.values), name="ledger_transaction_kind_valid"
            ),
            models.UniqueConstraint(
                fields=["annotation"],
                condition=Q(kind=TransactionKind.EARNING),
                name="ledger_annotation_earned_once",
            ),
            models.UniqueConstraint(
                fields=["annotation"],
                condition=Q(kind=TransactionKind.EARNING_REVERSAL),
                name="ledger_annotation_reversed_once",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["expert", "kind"], name="ledger_txn_expert_kind"),
            models.Index(fields=["organization", "kind"], name="ledger_txn_org_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key}"


class Entry(models.Model):
    """One side of a transaction: ``amount_cents`` added to (or, negative, taken from) an
    account."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount_cents = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["id"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=~Q(amount_cents=0), name="entry_amount_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.amount_cents:+} → {self.account}"


class LabFunding(TimeStampedModel):
    """Money a lab adds to its balance through the provider's hosted payment page.

    The balance is credited only when the provider's signed webhook says the payment
    completed, never from the browser coming back.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="fundings"
    )
    amount_cents = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=12, choices=FundingStatus.choices, default=FundingStatus.PENDING
    )
    provider = models.CharField(max_length=16)
    checkout_session_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    checkout_url = models.URLField(max_length=2000, blank=True)
    payment_reference = models.CharField(max_length=255, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=FundingStatus.values), name="lab_funding_status_valid"
            ),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="lab_funding_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount_cents} {self.currency} for {self.organization}"


class PayoutAccount(TimeStampedModel):
    """An expert's connected account at the provider (Stripe Connect Express)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payout_account"
    )
    provider = models.CharField(max_length=16)
    account_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(
        max_length=12, choices=PayoutAccountStatus.choices, default=PayoutAccountStatus.ONBOARDING
    )
    payouts_enabled = models.BooleanField(default=False)
    details_submitted = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=255, blank=True)
    # The provider's time of the newest account event applied: older events arriving late
    # are ignored.
    state_as_of = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=PayoutAccountStatus.values),
                name="payout_account_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} ({self.user})"


class PayoutBatch(TimeStampedModel):
    """One run of payouts: every expert owed at least the minimum, with payouts enabled."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    trigger = models.CharField(max_length=12, choices=PayoutBatchTrigger.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    currency = models.CharField(max_length=3)
    payout_count = models.PositiveIntegerField(default=0)
    total_cents = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(trigger__in=PayoutBatchTrigger.values),
                name="payout_batch_trigger_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout batch {self.public_id}"


class Payout(TimeStampedModel):
    """Money sent to one expert: a provider transfer whose idempotency key derives from this
    row. The row's status is the source of truth; the provider is told once."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    batch = models.ForeignKey(
        PayoutBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="payouts"
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    amount_cents = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=12, choices=PayoutStatus.choices, default=PayoutStatus.PENDING
    )
    provider = models.CharField(max_length=16)
    destination = models.CharField(max_length=255)
    transfer_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=PayoutStatus.values), name="payout_status_valid"
            ),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="payout_positive"),
            # One payout per expert per batch.
            models.UniqueConstraint(fields=["batch", "expert"], name="payout_once_per_batch"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "updated_at"], name="payout_status_updated"),
        ]

    def __str__(self) -> str:
        return f"Payout {self.public_id} ({self.amount_cents} {self.currency})"

    @property
    def idempotency_key(self) -> str:
        return f"payout-{self.public_id}"


class Bonus(TimeStampedModel):
    """Money a lab gives one expert on top of their earnings, with the reason they see."""

    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="bonuses"
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bonuses",
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bonuses"
    )
    amount_cents = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The bonuses of one CSV upload share a batch id.
    batch_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    # The form or upload that asked for it: submitted again (a double click, a reload, the
    # same file twice from one page), it pays nothing more.
    request_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="bonus_positive"),
            models.UniqueConstraint(
                fields=["organization", "request_id", "expert"],
                name="bonus_once_per_request_and_expert",
            ),
        ]

    def __str__(self) -> str:
        return f"Bonus {self.amount_cents} {self.currency} to {self.expert}"


class ProviderEvent(models.Model):
    """A webhook event from the payment provider, stored once by its id."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    provider = models.CharField(max_length=16)
    provider_created_at = models.DateTimeField()
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=WebhookEventStatus.choices)
    detail = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["-received_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=WebhookEventStatus.values),
                name="provider_event_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class ReconciliationReport(models.Model):
    """A comparison of our payouts with the provider's transfers, and of every balance with
    its entries. ``differences`` lists what staff must look at (empty when all agree)."""

    created_at = models.DateTimeField(auto_now_add=True)
    payouts_checked = models.PositiveIntegerField(default=0)
    transfers_checked = models.PositiveIntegerField(default=0)
    accounts_checked = models.PositiveIntegerField(default=0)
    differences = models.JSONField(default=list)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Reconciliation {self.created_at:%Y-%m-%d %H:%M} ({len(self.differences)})"


class Appeal(TimeStampedModel):
    """An expert's one appeal against a rejection; the lab answers by ``respond_by`` or staff
    decide."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    annotation = models.OneToOneField(
        "projects.Annotation", on_delete=models.CASCADE, related_name="appeal"
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appeals"
    )
    note = models.TextField()
    status = models.CharField(
        max_length=12, choices=AppealStatus.choices, default=AppealStatus.OPEN
    )
    respond_by = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    response = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=AppealStatus.values), name="appeal_status_valid"
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "respond_by"], name="appeal_status_deadline"),
        ]

    def __str__(self) -> str:
        return f"Appeal of {self.annotation}"


class Dispute(TimeStampedModel):
    """A lab's claim that an answer it accepted should not have been; staff decide. Upheld,
    the answer becomes rejected and its earning is reversed."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    annotation = models.OneToOneField(
        "projects.Annotation", on_delete=models.CASCADE, related_name="dispute"
    )
    organization = models.ForeignKey(
        "marketplace.Organization", on_delete=models.PROTECT, related_name="disputes"
    )
    reason = models.TextField()
    status = models.CharField(
        max_length=12, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decision_note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=DisputeStatus.values), name="dispute_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute of {self.annotation}"


class SandboxObject(TimeStampedModel):
    """What the offline sandbox provider remembers, as Stripe's test mode would: checkout
    sessions, connected accounts and transfers, each answered again for the same key."""

    kind = models.CharField(max_length=24)
    object_id = models.CharField(max_length=255, unique=True)
    idempotency_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering: ClassVar = ["created_at", "id"]
        indexes: ClassVar = [models.Index(fields=["kind", "created_at"], name="sandbox_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"
