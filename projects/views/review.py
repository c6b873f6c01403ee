"""Lab review: the review queue, one annotation with its decision form, bulk accept, and the
queue of flagged edge cases."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path


def _todo(request: HttpRequest, **kwargs: object) -> HttpResponse:
    raise Http404


urlpatterns = [
    path("<uuid:project_id>/review/", _todo, name="review_queue"),
    path("<uuid:project_id>/review/accept/", _todo, name="review_accept_bulk"),
    path("<uuid:project_id>/review/<uuid:annotation_id>/", _todo, name="annotation_review"),
    path(
        "<uuid:project_id>/review/<uuid:annotation_id>/decide/",
        _todo,
        name="annotation_decide",
    ),
    path("<uuid:project_id>/edge-cases/", _todo, name="edge_cases"),
    path(
        "<uuid:project_id>/edge-cases/<uuid:annotation_id>/resolve/",
        _todo,
        name="edge_case_resolve",
    ),
]
