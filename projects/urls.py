"""Lab pages for projects, under /labs/<slug>/projects/."""

app_name = "projects"
urlpatterns: list = []
