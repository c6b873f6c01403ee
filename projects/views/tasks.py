"""A project's tasks as the lab sees them, and the project as an expert will see it."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from marketplace.http import AuthenticatedHttpRequest
from projects import selectors
from projects.forms import TaskFilterForm
from projects.models import Task
from projects.states import TaskStatus
from projects.task_types import REGISTRY
from projects.views.common import TASKS_PER_PAGE, actor_and_project, lab_context

# The list shows this much of a task's first text; the task page shows it all.
PREVIEW_CHARS = 120


def first_text(data: Any) -> str:
    """The first non-empty text of a task's data (its prompt, objective, or text)."""
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, str) and value.strip():
                return value
    return ""


@login_required
@require_GET
def task_list(request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID) -> HttpResponse:
    actor, project = actor_and_project(request, slug, project_id)
    form = TaskFilterForm(request.GET or None, status_choices=TaskStatus.choices)
    tasks = selectors.project_tasks(project=project, **form.filters())
    page = Paginator(tasks, TASKS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"task": task, "preview": first_text(task.data)} for task in page]
    query = request.GET.copy()
    query.pop("page", None)
    context = lab_context(
        actor,
        project=project,
        page=page,
        rows=rows,
        form=form,
        query=query.urlencode(),
        preview_chars=PREVIEW_CHARS,
        tab="tasks",
    )
    return render(request, "projects/task_list.html", context)


@login_required
@require_GET
def task_detail(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID, task_id: int
) -> HttpResponse:
    """One task as experts will see it; for a gold task, also its answer (the lab only)."""
    actor, project = actor_and_project(request, slug, project_id)
    task = selectors.task_for_project(project=project, task_id=task_id)
    task_type = REGISTRY[project.task_type]
    gold = getattr(task, "gold_answer", None) if task.is_gold else None
    context = lab_context(
        actor,
        project=project,
        task=task,
        task_type=task_type,
        task_html=task_type.render_task(task=task.data, settings=project.task_settings),
        gold=gold,
        gold_html=(
            task_type.render_form(
                task=task.data, settings=project.task_settings, result=gold.answer, disabled=True
            )
            if gold is not None
            else ""
        ),
        tab="tasks",
    )
    return render(request, "projects/task_detail.html", context)


@login_required
@require_GET
def project_preview(
    request: AuthenticatedHttpRequest, slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The first task with the answer form, disabled: what an expert will see."""
    actor, project = actor_and_project(request, slug, project_id)
    task_type = REGISTRY[project.task_type]
    task: Task | None = selectors.project_tasks(project=project, is_gold=False).first()
    data = task.data if task is not None else task_type.example_input()
    context = lab_context(
        actor,
        project=project,
        task=task,
        task_type=task_type,
        guidelines=selectors.project_guidelines(project=project),
        task_html=task_type.render_task(task=data, settings=project.task_settings),
        form_html=task_type.render_form(task=data, settings=project.task_settings, disabled=True),
        tab="preview",
    )
    return render(request, "projects/project_preview.html", context)


urlpatterns = [
    path("<uuid:project_id>/tasks/", task_list, name="tasks"),
    path("<uuid:project_id>/tasks/<int:task_id>/", task_detail, name="task"),
    path("<uuid:project_id>/preview/", project_preview, name="preview"),
]
