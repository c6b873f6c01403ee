"""Every write of the projects app. Import services from here."""

from projects.services.imports import (
    ImportRejected,
    task_import_create,
    task_import_run,
    tasks_create_batch,
)
from projects.services.lifecycle import (
    activation_problems,
    project_activate,
    project_archive,
    project_complete,
    project_fund,
    project_pause,
    project_resume,
)
from projects.services.projects import (
    guidelines_acknowledge,
    guidelines_publish,
    project_create,
    project_update,
)

__all__ = [
    "ImportRejected",
    "activation_problems",
    "guidelines_acknowledge",
    "guidelines_publish",
    "project_activate",
    "project_archive",
    "project_complete",
    "project_create",
    "project_fund",
    "project_pause",
    "project_resume",
    "project_update",
    "task_import_create",
    "task_import_run",
    "tasks_create_batch",
]
