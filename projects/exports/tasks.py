"""The Celery task that writes a queued dataset export. Takes an id only; idempotent."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, soft_time_limit=3600, time_limit=3700)
def run_dataset_export(export_id: int) -> str:
    """Write the export's file, manifest and card. Safe to run twice (finished exports
    stop; of two concurrent runs only the later keeps its file)."""
    from projects.exports.services import export_run

    return export_run(export_id=export_id).status
