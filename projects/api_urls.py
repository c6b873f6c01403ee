"""Lab REST API for projects, under /api/v1/."""

urlpatterns: list = []
