"""How far an import has come, for the progress bar the lab's browser polls."""

from __future__ import annotations

from projects.models import TaskImport
from projects.states import FINISHED_IMPORT_STATES, ImportStatus

# Share of the bar for checking every row; saving is one database statement (no steps to
# report), so the bar waits at this share until the import finishes. Measured on 100,000
# pairwise tasks: checking takes about two thirds of the time.
VALIDATION_SHARE = 65


def import_progress_percent(task_import: TaskImport) -> int:
    """0 to 100: rows checked so far, then saving, then 100 once finished either way."""
    if task_import.status in FINISHED_IMPORT_STATES:
        return 100
    if task_import.status == ImportStatus.SAVING:
        return VALIDATION_SHARE
    if task_import.status == ImportStatus.VALIDATING and task_import.total_rows:
        done = min(task_import.processed_rows, task_import.total_rows)
        return done * VALIDATION_SHARE // task_import.total_rows
    return 0
