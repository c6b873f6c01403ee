"""Routes of the experts API, included by marketplace/api_urls.py (namespace "api")."""

from django.urls import path

from experts import api

urlpatterns = [
    path("me/", api.ExpertMeView.as_view(), name="expert-me"),
    path(
        "me/credentials/",
        api.ExpertCredentialListView.as_view(),
        name="expert-credential-list",
    ),
    path("<uuid:public_id>/", api.ExpertSummaryView.as_view(), name="expert-summary"),
]
