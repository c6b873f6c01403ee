from django.http import Http404, HttpResponse
from django.urls import path

app_name = "vetting"


def _todo(request, **kwargs) -> HttpResponse:
    raise Http404()


urlpatterns = [path("", _todo, name="queue")]
