"""Placeholder: this area's views and urlpatterns are being built."""

from django.urls import path

urlpatterns: list = []
from django.http import Http404, HttpResponse  # noqa: E402


def _todo(request, **kwargs) -> HttpResponse:
    raise Http404()


urlpatterns = [path("profile/", _todo, name="profile")]
