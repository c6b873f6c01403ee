from allauth.account.decorators import secure_admin_login
from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from marketplace import views
from projects import expert_views as project_expert_views
from projects import history_views, workspace_views

# The admin's own login would bypass allauth (and so MFA): send it through allauth instead.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "Expert Marketplace administration"

# Swagger UI sets inline styles on its widgets; its scripts stay external like everywhere else.
api_docs = csp_update({"style-src": [UNSAFE_INLINE]})(
    SpectacularSwaggerSplitView.as_view(url_name="api_schema")
)

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("accounts/signup/", views.signup, name="account_signup"),
    path("accounts/", include("allauth.urls")),
    path(
        "expert/projects/<uuid:project_id>/guidelines/",
        project_expert_views.guidelines,
        name="project_guidelines",
    ),
    path("expert/projects/", project_expert_views.project_list, name="expert_projects"),
    path("expert/invitations/", project_expert_views.invitation_list, name="expert_invitations"),
    path(
        "expert/invitations/<uuid:invitation_id>/",
        project_expert_views.invitation_detail,
        name="expert_invitation",
    ),
    path(
        "expert/invitations/<uuid:invitation_id>/accept/",
        project_expert_views.invitation_accept,
        name="expert_invitation_accept",
    ),
    path(
        "expert/invitations/<uuid:invitation_id>/decline/",
        project_expert_views.invitation_decline,
        name="expert_invitation_decline",
    ),
    *workspace_views.urlpatterns,
    *history_views.urlpatterns,
    path("expert/", include("experts.urls")),
    path("", include("payments.urls")),
    path("labs/", views.lab_home, name="lab_home"),
    path("labs/<slug:slug>/", views.lab_dashboard, name="lab_dashboard"),
    path("labs/<slug:slug>/projects/", include("projects.urls")),
    path("labs/<slug:slug>/members/", views.lab_members, name="lab_members"),
    path("labs/<slug:slug>/members/invite/", views.lab_invite, name="lab_invite"),
    path(
        "labs/<slug:slug>/members/<int:member_id>/role/",
        views.lab_member_role,
        name="lab_member_role",
    ),
    path(
        "labs/<slug:slug>/members/<int:member_id>/remove/",
        views.lab_member_remove,
        name="lab_member_remove",
    ),
    path(
        "labs/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.lab_invitation_revoke,
        name="lab_invitation_revoke",
    ),
    path("labs/<slug:slug>/api-keys/", views.lab_api_keys, name="lab_api_keys"),
    path("labs/<slug:slug>/api-keys/new/", views.lab_api_key_create, name="lab_api_key_create"),
    path(
        "labs/<slug:slug>/api-keys/<int:key_id>/revoke/",
        views.lab_api_key_revoke,
        name="lab_api_key_revoke",
    ),
    path(
        "labs/invitations/<int:invitation_id>/accept/",
        views.lab_invitation_accept_pending,
        name="lab_invitation_accept_pending",
    ),
    path("invitations/<str:token>/", views.lab_invitation_accept, name="lab_invitation_accept"),
    path("notifications/", views.notification_list, name="notification_list"),
    path(
        "notifications/<int:notification_id>/read/",
        views.notification_read,
        name="notification_read",
    ),
    path("notifications/read-all/", views.notification_read_all, name="notification_read_all"),
    path("staff/", views.staff_dashboard, name="staff_dashboard"),
    path("staff/vetting/", include("experts.console.urls")),
    path("staff/matching/", include("projects.staff_urls")),
    path("", include("projects.quality_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("marketplace.api_urls", "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", api_docs, name="api_docs"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", RedirectView.as_view(url="/static/favicon.svg", permanent=True)),
]
