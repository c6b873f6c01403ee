"""Scheduled work for credentials: expiry review and the 30-day warning."""

from celery import shared_task

from experts import services


@shared_task(soft_time_limit=300, time_limit=360)
def review_expired_credentials() -> int:
    return services.credentials_review_expired()


@shared_task(soft_time_limit=300, time_limit=360)
def warn_expiring_credentials() -> int:
    return services.credentials_warn_expiring()
