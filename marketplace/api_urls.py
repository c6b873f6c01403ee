from django.urls import include, path

from marketplace import api

urlpatterns = [
    path("", api.ApiRootView.as_view(), name="root"),
    path("me/", api.WhoAmIView.as_view(), name="me"),
    path("organizations/", api.OrganizationListView.as_view(), name="organization-list"),
    path("notifications/", api.NotificationListView.as_view(), name="notification-list"),
    path("experts/", include("experts.api_urls")),
    path("", include("projects.api_urls")),
    path("", include("payments.api_urls")),
]
