"""The expert's annotation workspace: next task, the annotation page, drafts, submit, skip."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path


def _todo(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


urlpatterns = [
    path("expert/projects/<uuid:project_id>/work/", _todo, name="workspace_start"),
    path("expert/work/<uuid:assignment_id>/", _todo, name="workspace_task"),
    path("expert/work/<uuid:assignment_id>/draft/", _todo, name="workspace_draft"),
    path("expert/work/<uuid:assignment_id>/submit/", _todo, name="workspace_submit"),
    path("expert/work/<uuid:assignment_id>/skip/", _todo, name="workspace_skip"),
    path("expert/work/<uuid:assignment_id>/next/", _todo, name="workspace_prefetch"),
]
