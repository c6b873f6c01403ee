"""Routes of the lab API for projects and webhooks, included by marketplace/api_urls.py
(namespace "api")."""

from django.urls import path

from projects import api, api_exports, api_matching, api_quality, api_workspace

project = "projects/<uuid:project_id>"
assignment = "work/assignments/<uuid:assignment_id>"

urlpatterns = [
    path("projects/", api.ProjectListView.as_view(), name="project-list"),
    path(f"{project}/", api.ProjectDetailView.as_view(), name="project-detail"),
    path(f"{project}/fund/", api.ProjectFundView.as_view(), name="project-fund"),
    *(
        path(
            f"{project}/{transition}/",
            api.ProjectTransitionView.as_view(transition=transition),
            name=f"project-{transition}",
        )
        for transition in api.TRANSITIONS
    ),
    path(f"{project}/guidelines/", api.ProjectGuidelinesView.as_view(), name="project-guidelines"),
    path(f"{project}/tasks/", api.ProjectTaskListView.as_view(), name="project-task-list"),
    path(
        f"{project}/tasks/<path:external_id>/",
        api.ProjectTaskDetailView.as_view(),
        name="project-task-detail",
    ),
    path(f"{project}/gold/", api.ProjectGoldListView.as_view(), name="project-gold-list"),
    path(f"{project}/imports/", api.ProjectImportListView.as_view(), name="project-import-list"),
    path(
        f"{project}/imports/<uuid:import_id>/",
        api.ProjectImportDetailView.as_view(),
        name="project-import-detail",
    ),
    path(f"{project}/progress/", api.ProjectProgressView.as_view(), name="project-progress"),
    path(
        f"{project}/invitations/",
        api_matching.ProjectInvitationListView.as_view(),
        name="project-invitation-list",
    ),
    path(
        f"{project}/invitations/<uuid:invitation_id>/withdraw/",
        api_matching.ProjectInvitationWithdrawView.as_view(),
        name="project-invitation-withdraw",
    ),
    path(f"{project}/seats/", api_matching.ProjectSeatsView.as_view(), name="project-seats"),
    path(
        f"{project}/annotations/",
        api_workspace.ProjectAnnotationListView.as_view(),
        name="project-annotation-list",
    ),
    path(
        f"{project}/annotations/accept/",
        api_workspace.ProjectAnnotationAcceptView.as_view(),
        name="project-annotation-accept",
    ),
    path(
        f"{project}/annotations/<uuid:annotation_id>/",
        api_workspace.ProjectAnnotationDetailView.as_view(),
        name="project-annotation-detail",
    ),
    path(
        f"{project}/annotations/<uuid:annotation_id>/review/",
        api_workspace.ProjectAnnotationReviewView.as_view(),
        name="project-annotation-review",
    ),
    path(
        f"{project}/edge-cases/",
        api_workspace.ProjectEdgeCaseListView.as_view(),
        name="project-edge-case-list",
    ),
    path(
        f"{project}/edge-cases/<uuid:annotation_id>/resolve/",
        api_workspace.ProjectEdgeCaseResolveView.as_view(),
        name="project-edge-case-resolve",
    ),
    path(
        "work/projects/<uuid:project_id>/next/",
        api_workspace.WorkNextView.as_view(),
        name="work-next",
    ),
    path(f"{assignment}/", api_workspace.WorkAssignmentView.as_view(), name="work-assignment"),
    path(
        f"{assignment}/draft/",
        api_workspace.WorkDraftView.as_view(),
        name="work-assignment-draft",
    ),
    path(
        f"{assignment}/submit/",
        api_workspace.WorkSubmitView.as_view(),
        name="work-assignment-submit",
    ),
    path(
        f"{assignment}/skip/",
        api_workspace.WorkSkipView.as_view(),
        name="work-assignment-skip",
    ),
    path("work/drafts/", api_workspace.WorkDraftListView.as_view(), name="work-draft-list"),
    path(
        "work/annotations/",
        api_workspace.WorkAnnotationListView.as_view(),
        name="work-annotation-list",
    ),
    path(
        "work/annotations/<uuid:annotation_id>/",
        api_workspace.WorkAnnotationDetailView.as_view(),
        name="work-annotation-detail",
    ),
    path("exclusions/", api_matching.ExclusionListView.as_view(), name="exclusion-list"),
    path(
        "exclusions/<int:exclusion_id>/",
        api_matching.ExclusionDetailView.as_view(),
        name="exclusion-detail",
    ),
    path("task-types/", api.TaskTypeListView.as_view(), name="task-type-list"),
    path("webhooks/", api.WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<uuid:endpoint_id>/", api.WebhookDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<uuid:endpoint_id>/rotate-secret/",
        api.WebhookRotateSecretView.as_view(),
        name="webhook-rotate-secret",
    ),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries/",
        api.WebhookDeliveryListView.as_view(),
        name="webhook-delivery-list",
    ),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/redeliver/",
        api.WebhookRedeliverView.as_view(),
        name="webhook-delivery-redeliver",
    ),
    path(f"{project}/quality/", api_quality.ProjectQualityView.as_view(), name="project-quality"),
    *api_exports.urlpatterns,
]
