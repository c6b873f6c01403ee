"""Statuses and kinds for the ledger, fundings, payouts, appeals and disputes."""

from django.db import models


class AccountKind(models.TextChoices):
    # What the platform holds for others (positive when it owes them).
    LAB = "lab", "Lab balance"
    ESCROW = "escrow", "Project escrow"
    EXPERT = "expert", "Expert payable"
    # The platform's own and the outside world's side of every movement.
    REVENUE = "revenue", "Platform revenue"
    FUNDING = "funding", "Funds received from labs"
    IN_TRANSIT = "in_transit", "Payouts in transit"
    PAID_OUT = "paid_out", "Paid out to experts"


# Accounts that belong to nobody in particular: one per currency.
PLATFORM_ACCOUNT_KINDS = frozenset(
    {AccountKind.REVENUE, AccountKind.FUNDING, AccountKind.IN_TRANSIT, AccountKind.PAID_OUT}
)
# Accounts that may never go below zero: a lab spends only what it put in.
NO_OVERDRAFT_KINDS = frozenset({AccountKind.LAB, AccountKind.ESCROW})


class TransactionKind(models.TextChoices):
    FUNDING = "funding", "Funds added"
    ESCROW_DEPOSIT = "escrow_deposit", "Moved into project escrow"
    EARNING = "earning", "Accepted answer"
    EARNING_REVERSAL = "earning_reversal", "Accepted answer reversed"
    ESCROW_RELEASE = "escrow_release", "Unused escrow returned"
    BONUS = "bonus", "Bonus"
    PAYOUT = "payout", "Payout sent"
    PAYOUT_PAID = "payout_paid", "Payout confirmed"
    PAYOUT_RETURN = "payout_return", "Payout returned"


class FundingStatus(models.TextChoices):
    PENDING = "pending", "Waiting for payment"
    COMPLETED = "completed", "Paid"
    EXPIRED = "expired", "Expired"


class PayoutAccountStatus(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding not finished"
    ENABLED = "enabled", "Payouts enabled"
    RESTRICTED = "restricted", "Restricted"


class PayoutBatchTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    STAFF = "staff", "Staff"


class PayoutStatus(models.TextChoices):
    PENDING = "pending", "Queued"
    SENDING = "sending", "Sending"
    PAID = "paid", "Paid"
    RETURNED = "returned", "Failed and returned"


PAYOUT_OPEN_STATES = frozenset({PayoutStatus.PENDING, PayoutStatus.SENDING})


class WebhookEventStatus(models.TextChoices):
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class AppealStatus(models.TextChoices):
    OPEN = "open", "Waiting for the lab"
    ESCALATED = "escalated", "With staff"
    UPHELD = "upheld", "Upheld: paid"
    DENIED = "denied", "Denied"


APPEAL_OPEN_STATES = frozenset({AppealStatus.OPEN, AppealStatus.ESCALATED})


class DisputeStatus(models.TextChoices):
    OPEN = "open", "With staff"
    UPHELD = "upheld", "Upheld: reversed"
    DISMISSED = "dismissed", "Dismissed"
