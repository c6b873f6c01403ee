from django.contrib import admin

from experts.models import (
    Choice,
    Credential,
    CredentialDocument,
    Domain,
    DomainQualification,
    ExpertDomain,
    ExpertLanguage,
    ExpertProfile,
    QualificationTest,
    Question,
    TestAttempt,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records changed only through the services (console and expert pages), which enforce
    the state machine, the self-vetting rule and the audit log."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    """The taxonomy is seeded by a migration; staff extend and retire entries here."""

    list_display = ("name", "parent", "slug", "is_active")
    list_filter = ("is_active", "parent")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


class ExpertLanguageInline(admin.TabularInline):
    model = ExpertLanguage
    extra = 0


class ExpertDomainInline(admin.TabularInline):
    model = ExpertDomain
    extra = 0


@admin.register(ExpertProfile)
class ExpertProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "headline", "country", "weekly_availability_hours")
    search_fields = ("user__email", "headline")
    raw_id_fields = ("user",)
    inlines = [ExpertLanguageInline, ExpertDomainInline]


class CredentialDocumentInline(admin.TabularInline):
    model = CredentialDocument
    extra = 0
    fields = ("original_name", "content_type", "size", "sha256", "created_at")
    readonly_fields = fields
    can_delete = False


@admin.register(Credential)
class CredentialAdmin(ReadOnlyAdmin):
    """Decisions go through the vetting console, which audits them."""

    list_display = ("title", "expert", "kind", "status", "submitted_at", "expires_on")
    list_filter = ("status", "kind")
    search_fields = ("title", "expert__email", "identifier")
    raw_id_fields = ("expert", "reviewer")
    readonly_fields = ("status", "reviewer", "submitted_at", "decided_at", "verified_at")
    inlines = [CredentialDocumentInline]


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 0

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Question)
class QuestionAdmin(ReadOnlyAdmin):
    list_display = ("prompt", "test", "kind", "points")
    inlines = [ChoiceInline]


@admin.register(QualificationTest)
class QualificationTestAdmin(ReadOnlyAdmin):
    list_display = ("title", "domain", "is_published", "pass_mark_percent", "time_limit_minutes")
    list_filter = ("is_published",)


@admin.register(TestAttempt)
class TestAttemptAdmin(ReadOnlyAdmin):
    list_display = ("test", "expert", "status", "score_percent", "started_at")
    list_filter = ("status",)
    raw_id_fields = ("expert", "graded_by")


@admin.register(DomainQualification)
class DomainQualificationAdmin(ReadOnlyAdmin):
    list_display = ("expert", "domain", "best_score_percent", "passed", "passed_at")
    raw_id_fields = ("expert",)
