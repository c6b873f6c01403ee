"""Every write of the projects app. Import services from here."""

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
]
