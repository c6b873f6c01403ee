"""Celery tasks for money: thin, idempotent, taking ids only.

Payout tasks acknowledge late and are re-queued if the worker dies (the settings'
``CELERY_TASK_ACKS_LATE`` and ``CELERY_TASK_REJECT_ON_WORKER_LOST``); the payout row's status
is the source of truth, so a task run twice pays once.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


def _soft_limit(hard: int) -> int:
    """The soft time limit under ``hard``: ten seconds to stop cleanly, less for short limits
    (tests run workers with limits of a few seconds)."""
    return hard - min(10, max(1, hard // 4))


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
    time_limit=settings.PAYOUT_TASK_TIME_LIMIT,
    soft_time_limit=_soft_limit(settings.PAYOUT_TASK_TIME_LIMIT),
)
def send_payout(self, payout_id: int) -> str:  # type: ignore[no-untyped-def]
    """Send one payout; a retryable provider failure comes back after a backoff."""
    from payments.payouts import PayoutRetryLater, payout_send

    try:
        return payout_send(payout_id=payout_id).status
    except PayoutRetryLater as later:
        raise self.retry(countdown=later.countdown) from later


@shared_task(acks_late=True)
def run_payout_batch() -> int:
    """The scheduled payout batch; returns how many payouts it created."""
    from payments.payouts import payout_batch_create
    from payments.states import PayoutBatchTrigger

    batch = payout_batch_create(trigger=PayoutBatchTrigger.SCHEDULE, actor=None)
    return batch.payout_count if batch is not None else 0


@shared_task(acks_late=True)
def requeue_lost_payouts() -> int:
    from payments.payouts import payouts_requeue_lost

    return payouts_requeue_lost()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=570)
def reconcile_payments() -> int:
    """Compare payouts with the provider's transfers and balances with their entries."""
    from payments.payouts import reconciliation_run

    return len(reconciliation_run().differences)


@shared_task(acks_late=True)
def escalate_overdue_appeals() -> int:
    from payments.appeals import appeals_escalate_overdue

    return appeals_escalate_overdue()
