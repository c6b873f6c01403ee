"""Thin Celery tasks for projects: load by id, call one service. They take ids only."""

from typing import Any

from celery import shared_task

from projects.exports.tasks import run_dataset_export  # noqa: F401 - registers the task
from projects.services import imports, webhooks


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def run_task_import(import_id: int) -> str:
    """Validate and save an uploaded file of tasks. Safe to run twice (finished imports stop)."""
    return imports.task_import_run(import_id=import_id).status


@shared_task(bind=True, max_retries=None, soft_time_limit=30, time_limit=45)
def send_webhook_delivery(self: Any, delivery_id: int) -> str:
    """Send one delivery; on failure retry with exponential backoff until the attempt cap.

    Run eagerly (the embedded default) there is no broker to hold the retry: the row records
    when the next attempt is due and ``requeue_webhook_deliveries`` sends it then.
    """
    outcome = webhooks.webhook_delivery_send(delivery_id=delivery_id)
    if outcome.retry_in_seconds is not None and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in_seconds)
    return outcome.status


@shared_task(soft_time_limit=120, time_limit=150)
def requeue_webhook_deliveries() -> int:
    """Send again deliveries whose queued message was lost (beat, every five minutes)."""
    return webhooks.webhook_deliveries_requeue_due()


@shared_task(soft_time_limit=300, time_limit=330)
def run_matching(trigger: str = "schedule", started_by_id: int | None = None) -> int:
    """One global matching run (serialised with any other); returns invitations made."""
    from marketplace.models import User
    from projects.matching.services import matching_run

    started_by = User.objects.filter(pk=started_by_id).first() if started_by_id else None
    return matching_run(trigger=trigger, started_by=started_by).invitations_created


@shared_task(soft_time_limit=60, time_limit=90)
def expire_project_invitations() -> int:
    """Expire pending invitations past their time (beat); a run refills the seats."""
    from projects.matching.services import invitations_expire

    return invitations_expire()


@shared_task(soft_time_limit=120, time_limit=150)
def return_expired_leases() -> int:
    """Give the slots of leases past their time back to their tasks (beat, every minute;
    claims also return a few before they look for a task)."""
    from projects.dispatch.services import leases_return_expired

    returned = 0
    while batch := leases_return_expired(limit=1000):
        returned += batch
    return returned


@shared_task(soft_time_limit=300, time_limit=330)
def auto_accept_annotations() -> int:
    """Accept annotations left unreviewed past their project's auto-accept days (beat)."""
    from projects.review.services import annotations_auto_accept

    accepted = 0
    while batch := annotations_auto_accept():
        accepted += batch
    return accepted


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def refresh_project_quality(project_id: int) -> int:
    """One quality run of a project (queued once per batch of answers); safe to repeat."""
    from projects.models import Project
    from projects.quality.services import project_quality_refresh

    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    return project_quality_refresh(project=project).annotations


@shared_task(soft_time_limit=120, time_limit=150)
def refresh_stale_quality() -> int:
    """Queue runs for projects whose queued run was lost (beat, every ten minutes)."""
    from datetime import timedelta

    from django.utils import timezone

    from projects.models import Project

    due = timezone.now() - timedelta(minutes=10)
    project_ids = list(
        Project.objects.filter(quality_stale_at__lt=due).values_list("pk", flat=True)[:100]
    )
    for project_id in project_ids:
        refresh_project_quality.delay(project_id)
    return len(project_ids)


@shared_task(soft_time_limit=300, time_limit=330)
def expire_dataset_exports() -> int:
    """Delete export files past their expiry; mark dead streamed downloads failed (beat)."""
    from projects.exports.services import exports_expire

    return exports_expire()
