from django.contrib import admin

from experts.admin import ReadOnlyAdmin
from projects.models import (
    Annotation,
    AnnotationReview,
    Assignment,
    GuidelineVersion,
    Project,
    ProjectFunding,
    Task,
    TaskImport,
    WebhookDelivery,
    WebhookEndpoint,
)


@admin.register(Project)
class ProjectAdmin(ReadOnlyAdmin):
    list_display = ("title", "organization", "task_type", "status", "overlap", "created_at")
    list_filter = ("status", "task_type")
    search_fields = ("title", "organization__name", "public_id")
    list_select_related = ("organization",)


@admin.register(GuidelineVersion)
class GuidelineVersionAdmin(ReadOnlyAdmin):
    list_display = ("project", "number", "is_material", "changelog", "created_at")
    list_select_related = ("project",)


@admin.register(ProjectFunding)
class ProjectFundingAdmin(ReadOnlyAdmin):
    list_display = ("project", "amount_cents", "currency", "provider", "reference", "created_at")
    list_select_related = ("project",)


@admin.register(TaskImport)
class TaskImportAdmin(ReadOnlyAdmin):
    list_display = ("original_name", "project", "kind", "status", "created_count", "error_count")
    list_filter = ("status", "kind", "format")
    list_select_related = ("project",)
    exclude = ("errors",)


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = (
        "external_id",
        "project",
        "is_gold",
        "status",
        "priority",
        "annotation_count",
        "reserved_count",
    )
    list_filter = ("is_gold", "status")
    search_fields = ("external_id",)
    list_select_related = ("project",)
    show_full_result_count = False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("url", "organization", "is_active", "created_at")
    list_select_related = ("organization",)
    exclude = ("secret",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("event", "endpoint", "status", "attempts", "response_status", "created_at")
    list_filter = ("status", "event")
    list_select_related = ("endpoint",)


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ("task", "project", "expert", "status", "holds_slot", "expires_at")
    list_filter = ("status",)
    list_select_related = ("task", "project", "expert")
    exclude = ("draft",)
    show_full_result_count = False


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):
    list_display = ("task", "project", "expert", "status", "confidence", "submitted_at")
    list_filter = ("status", "is_edge_case")
    list_select_related = ("task", "project", "expert")
    exclude = ("result",)
    show_full_result_count = False


@admin.register(AnnotationReview)
class AnnotationReviewAdmin(ReadOnlyAdmin):
    list_display = ("annotation", "decision", "reviewer", "is_automatic", "created_at")
    list_filter = ("decision", "is_automatic")
    list_select_related = ("annotation", "reviewer")
