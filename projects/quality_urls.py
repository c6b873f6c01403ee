"""Expert and staff quality pages, mounted at the site root."""

from django.urls import path

from projects.views import quality

urlpatterns = [
    path("expert/quality/", quality.expert_quality, name="expert_quality"),
    path("staff/quality/", quality.staff_quality, name="staff_quality"),
    path(
        "staff/quality/members/<int:member_id>/lift/",
        quality.staff_quality_lift,
        name="staff_quality_lift",
    ),
]
