"""The staff matching console, mounted at /staff/matching/ (namespace "matching")."""

from django.urls import path

from projects import staff_views

app_name = "matching"

urlpatterns = [
    path("", staff_views.run_list, name="runs"),
    path("run/", staff_views.run_request, name="run_request"),
    path("runs/<int:run_id>/", staff_views.run_detail, name="run"),
    path("projects/<uuid:project_id>/candidates/", staff_views.candidates, name="candidates"),
]
