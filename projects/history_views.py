"""The expert's history: their answers per project, the lab's reviews and feedback, edits
until reviewed, and drafts they could not hand in."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path


def _todo(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


urlpatterns = [
    path("expert/annotations/", _todo, name="expert_annotations"),
    path("expert/annotations/<uuid:annotation_id>/", _todo, name="expert_annotation"),
    path("expert/annotations/<uuid:annotation_id>/edit/", _todo, name="expert_annotation_edit"),
]
