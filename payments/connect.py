"""Experts' payout accounts: Connect Express onboarding and the provider's word on them.

``payout_account_onboarding_start`` creates the expert's connected account the first time and
answers a one-time onboarding link; ``payout_account_sync`` applies an ``account.updated``
event, newest wins, and tells the expert when payouts open or close.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from marketplace.errors import PermissionDenied
from marketplace.models import User
from marketplace.services import audit_record, notification_create
from marketplace.states import UserRole
from payments.models import PayoutAccount
from payments.providers import ConnectedAccount, provider
from payments.states import PayoutAccountStatus

EARNINGS_PATH = "/expert/earnings/"


def _status(account: ConnectedAccount, previous: str) -> str:
    if account.payouts_enabled:
        return PayoutAccountStatus.ENABLED
    # Details handed in (or payouts open before) but payouts closed: the provider wants more.
    if account.details_submitted or previous != PayoutAccountStatus.ONBOARDING:
        return PayoutAccountStatus.RESTRICTED
    return PayoutAccountStatus.ONBOARDING


def _state(row: PayoutAccount) -> dict[str, Any]:
    return {
        "status": row.status,
        "payouts_enabled": row.payouts_enabled,
        "details_submitted": row.details_submitted,
        "disabled_reason": row.disabled_reason,
    }


def payout_account_onboarding_start(*, user: User, refresh_url: str, return_url: str) -> str:
    """The link to the provider's onboarding for ``user``'s payout account, creating the
    account the first time (once, however many requests race)."""
    if user.role != UserRole.EXPERT:
        raise PermissionDenied("Only experts receive payouts.")
    chosen = provider()
    row = PayoutAccount.objects.filter(user=user).first()
    if row is None:
        # Idempotent at the provider per user: racing requests get the same account.
        account = chosen.connected_account_create(user=user)
        try:
            with transaction.atomic():
                row = PayoutAccount.objects.create(
                    user=user,
                    provider=chosen.name,
                    account_id=account.id,
                    status=_status(account, PayoutAccountStatus.ONBOARDING),
                    payouts_enabled=account.payouts_enabled,
                    details_submitted=account.details_submitted,
                    disabled_reason=account.disabled_reason[:255],
                )
                audit_record(
                    actor=user,
                    action="payout_account.create",
                    target=row,
                    after={"provider": chosen.name, "account_id": account.id},
                )
        except IntegrityError:
            row = PayoutAccount.objects.get(user=user)
    return chosen.onboarding_link(
        account_id=row.account_id, refresh_url=refresh_url, return_url=return_url
    )


def payout_account_sync(*, account: ConnectedAccount, as_of: datetime) -> PayoutAccount | None:
    """Apply the provider's state of ``account`` as of ``as_of``. None when the account is not
    ours or the state is older than the one already applied (events come in any order)."""
    with transaction.atomic():
        row = (
            PayoutAccount.objects.select_for_update()
            .select_related("user")
            .filter(account_id=account.id)
            .first()
        )
        if row is None:
            return None
        if row.state_as_of is not None and as_of < row.state_as_of:
            return None
        before = _state(row)
        row.status = _status(account, row.status)
        row.payouts_enabled = account.payouts_enabled
        row.details_submitted = account.details_submitted
        row.disabled_reason = account.disabled_reason[:255]
        row.state_as_of = as_of
        row.save(
            update_fields=[
                "status",
                "payouts_enabled",
                "details_submitted",
                "disabled_reason",
                "state_as_of",
                "updated_at",
            ]
        )
        after = _state(row)
        if after != before:
            audit_record(
                actor=None, action="payout_account.sync", target=row, before=before, after=after
            )
        if row.status != before["status"]:
            if row.status == PayoutAccountStatus.ENABLED:
                notification_create(
                    recipient=row.user,
                    kind="payouts.enabled",
                    text="Payouts are enabled: your earnings will be sent to your account.",
                    link=EARNINGS_PATH,
                )
            elif row.status == PayoutAccountStatus.RESTRICTED:
                notification_create(
                    recipient=row.user,
                    kind="payouts.restricted",
                    text=(
                        "Payouts to your account are paused: the payment provider needs "
                        "more information. Finish your payout setup to receive earnings."
                    ),
                    link=EARNINGS_PATH,
                )
    return row
