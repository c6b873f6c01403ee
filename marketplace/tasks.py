"""Thin Celery tasks for the core app: load by id, call one service."""

from celery import shared_task

from marketplace import services


@shared_task(
    autoretry_for=(OSError,), retry_backoff=True, max_retries=5, soft_time_limit=60, time_limit=90
)
def send_notification_email(notification_id: int) -> bool:
    return services.notification_email_send(notification_id=notification_id)


@shared_task(
    autoretry_for=(OSError,), retry_backoff=True, max_retries=5, soft_time_limit=60, time_limit=90
)
def send_lab_invitation_email(invitation_id: int) -> bool:
    return services.invitation_email_send(invitation_id=invitation_id)


@shared_task(
    autoretry_for=(OSError,), retry_backoff=True, max_retries=5, soft_time_limit=600, time_limit=660
)
def send_notification_emails(notification_ids: list[int]) -> int:
    """Send a batch of notification e-mails; ones already sent are skipped (safe to retry)."""
    return sum(services.notification_email_send(notification_id=pk) for pk in notification_ids)
