"""Lab pages for projects, under /labs/<slug>/projects/."""

from projects.views import (
    exports,
    imports,
    matching,
    projects,
    quality,
    review,
    tasks,
    webhooks,
)

app_name = "projects"
urlpatterns = [
    *projects.urlpatterns,
    *tasks.urlpatterns,
    *imports.urlpatterns,
    *webhooks.urlpatterns,
    *matching.urlpatterns,
    *review.urlpatterns,
    *quality.urlpatterns,
    *exports.urlpatterns,
]
