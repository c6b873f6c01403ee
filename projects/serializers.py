"""DRF serializers of the lab API: projects, guidelines, tasks, imports, task types, webhooks.

Input serializers check shapes and look up references (domain slugs); the services check the
rules. Output serializers never carry a gold answer except ``GoldTaskSerializer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django_countries import countries
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from experts.models import Domain
from experts.states import CredentialKind, Proficiency, Seniority
from payments.fair_pay import FairPay, effective_hourly_rate, effective_hourly_rates
from projects.imports import import_progress_percent
from projects.models import (
    GuidelineVersion,
    Project,
    ProjectFunding,
    Task,
    TaskImport,
    WebhookDelivery,
    WebhookEndpoint,
)
from projects.pricing import format_dollars
from projects.selectors import project_figures
from projects.services.projects import MAX_BUDGET_CENTS, MAX_PRICE_CENTS, MAX_SEATS
from projects.states import AiPolicy, DispatchOrder, ImportFormat, TaskStatus, WebhookEvent
from projects.task_types import TASK_TYPE_CHOICES


class StrictInputSerializer(serializers.Serializer):
    """Refuse keys the serializer does not know (a typo is an error, not silently dropped)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class ErrorSerializer(serializers.Serializer):
    """A refusal: what is wrong and, when one field is at fault, which."""

    detail = serializers.CharField()
    field = serializers.CharField(required=False)


class ConflictSerializer(serializers.Serializer):
    """A refusal because of the project's state; ``problems`` lists what is missing."""

    detail = serializers.CharField()
    problems = serializers.ListField(child=serializers.CharField(), required=False)


class RowProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1-based row (or list index + 1) at fault.")
    field = serializers.CharField(help_text="Dotted path of the field, or `(row)`.")
    problem = serializers.CharField()


class ImportRejectedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    problems = RowProblemSerializer(many=True)


def _link(name: str, request: Any, *args: Any) -> str:
    return reverse(f"api:{name}", args=args, request=request)


# Projects --------------------------------------------------------------------------------


class ProjectCountsSerializer(serializers.Serializer):
    tasks = serializers.IntegerField(help_text="Regular (non-gold) tasks.")
    gold_tasks = serializers.IntegerField()
    completed_tasks = serializers.IntegerField()


class ProjectProgressSummarySerializer(serializers.Serializer):
    annotations_needed = serializers.IntegerField(help_text="Regular tasks × overlap.")
    annotations_done = serializers.IntegerField()
    percent_done = serializers.IntegerField()


class ProjectMoneySerializer(serializers.Serializer):
    currency = serializers.CharField()
    funded_cents = serializers.IntegerField()
    required_cents = serializers.IntegerField(
        help_text="Tasks × overlap × price + platform fee: what activation needs funded."
    )
    shortfall_cents = serializers.IntegerField(
        help_text="How much more to fund before the project can go live (0 when covered)."
    )
    cost_so_far_cents = serializers.IntegerField(
        help_text="Annotations not rejected × price + fee."
    )
    remaining_cents = serializers.IntegerField()


class ProjectFairPaySerializer(serializers.Serializer):
    cents_per_hour = serializers.IntegerField(
        allow_null=True,
        help_text="What the price per annotation comes to per hour of an expert's work, in "
        "cents; null when nothing tells it yet (no timed answers and no typical time for the "
        "task type).",
    )
    median_seconds = serializers.IntegerField(
        allow_null=True,
        help_text="The median active time of the project's submitted answers, in seconds, "
        "once enough are timed (`basis` is `measured`); otherwise null.",
    )
    basis = serializers.ChoiceField(
        choices=["measured", "estimate"],
        help_text="`measured`: price ÷ `median_seconds`. `estimate`: price ÷ the task "
        "type's typical minutes per annotation, used until enough answers are timed.",
    )
    floor_cents_per_hour = serializers.IntegerField(
        help_text="The platform's fair-pay floor, in cents per hour."
    )
    below_floor = serializers.BooleanField(
        help_text="True when `cents_per_hour` is under `floor_cents_per_hour`."
    )
    warning = serializers.CharField(
        allow_null=True,
        help_text="Why the rate is a problem, for people (null when it is not). Activation "
        "is never refused for it: experts see the hourly rate on their invitations.",
    )


def fair_pay_data(pay: FairPay) -> dict[str, Any]:
    """A project's effective hourly rate as the API shows it (see
    ``payments.fair_pay.effective_hourly_rate``)."""
    warning = None
    if pay.below_floor and pay.cents_per_hour is not None:
        how = "measured" if pay.basis == "measured" else "estimated"
        warning = (
            f"Below the fair-pay floor: this project pays experts about "
            f"{format_dollars(pay.cents_per_hour)} an hour ({how}), under the platform's "
            f"floor of {format_dollars(pay.floor_cents_per_hour)} an hour. Experts see the "
            "hourly rate on their invitations and are likely to decline; consider raising "
            "the price."
        )
    return {
        "cents_per_hour": pay.cents_per_hour,
        "median_seconds": pay.median_seconds,
        "basis": pay.basis,
        "floor_cents_per_hour": pay.floor_cents_per_hour,
        "below_floor": pay.below_floor,
        "warning": warning,
    }


class ProjectLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    tasks = serializers.URLField()
    gold = serializers.URLField()
    imports = serializers.URLField()
    guidelines = serializers.URLField()
    progress = serializers.URLField()
    fund = serializers.URLField()
    activate = serializers.URLField()
    pause = serializers.URLField()
    resume = serializers.URLField()
    complete = serializers.URLField()
    archive = serializers.URLField()


class ProjectListSerializer(serializers.ListSerializer):
    """Projects in a list: their fair-pay rates are read in one query for all of them."""

    def to_representation(self, data: Any) -> list[Any]:
        projects = list(data.all() if hasattr(data, "all") else data)
        if isinstance(self.child, ProjectSerializer):
            self.child.fair_pay_by_pk = effective_hourly_rates(projects=projects)
        return super().to_representation(projects)


class ProjectSerializer(serializers.ModelSerializer):
    """A project with its counts, progress, money and fair pay. Call with projects read
    through ``selectors.with_stats`` (``projects_for_actor``, ``project_with_stats``). Fair
    pay takes one query: per project alone, or one for a whole list."""

    fair_pay_by_pk: dict[int, FairPay] | None = None

    id = serializers.UUIDField(source="public_id", read_only=True)
    organization = serializers.CharField(source="organization.slug", read_only=True)
    domain = serializers.CharField(source="domain.slug", read_only=True)
    specialties = serializers.SlugRelatedField[Domain](many=True, read_only=True, slug_field="slug")
    counts = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    money = serializers.SerializerMethodField()
    fair_pay = serializers.SerializerMethodField(
        help_text="What the price comes to per hour of an expert's work: price ÷ the median "
        "active time of the project's answers once enough are timed (`basis` `measured`), "
        "before that the task type's typical time (`estimate`). `below_floor` and `warning` "
        "flag a rate under the platform's fair-pay floor; activating such a project is "
        "allowed and its response carries the warning."
    )
    links = serializers.SerializerMethodField()

    class Meta:
        model = Project
        list_serializer_class = ProjectListSerializer
        fields = [
            "id",
            "organization",
            "title",
            "summary",
            "status",
            "domain",
            "specialties",
            "required_credential_kinds",
            "min_seniority",
            "languages",
            "language_level",
            "allowed_countries",
            "task_type",
            "task_settings",
            "overlap",
            "price_per_annotation_cents",
            "currency",
            "seats",
            "budget_cents",
            "deadline",
            "gold_rate_percent",
            "min_gold_accuracy_percent",
            "lease_minutes",
            "dispatch_order",
            "ai_policy",
            "auto_accept_days",
            "min_gold_tasks",
            "adaptive_overlap",
            "max_overlap",
            "consensus_threshold_percent",
            "stop_early",
            "guidelines_version",
            "material_guidelines_version",
            "counts",
            "progress",
            "money",
            "fair_pay",
            "links",
            "created_at",
            "updated_at",
            "activated_at",
            "completed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ProjectCountsSerializer)
    def get_counts(self, project: Project) -> dict[str, int]:
        figures = project_figures(project)
        return {
            "tasks": figures.task_count,
            "gold_tasks": figures.gold_count,
            "completed_tasks": figures.completed_tasks,
        }

    @extend_schema_field(ProjectProgressSummarySerializer)
    def get_progress(self, project: Project) -> dict[str, int]:
        figures = project_figures(project)
        return {
            "annotations_needed": figures.annotations_needed,
            "annotations_done": figures.annotations_done,
            "percent_done": figures.percent_done,
        }

    @extend_schema_field(ProjectMoneySerializer)
    def get_money(self, project: Project) -> dict[str, Any]:
        figures = project_figures(project)
        return {
            "currency": project.currency,
            "funded_cents": figures.funded_cents,
            "required_cents": figures.required_funds_cents,
            "shortfall_cents": figures.shortfall_cents,
            "cost_so_far_cents": figures.cost_so_far_cents,
            "remaining_cents": figures.remaining_budget_cents,
        }

    @extend_schema_field(ProjectFairPaySerializer)
    def get_fair_pay(self, project: Project) -> dict[str, Any]:
        known = self.fair_pay_by_pk
        if known is not None and project.pk in known:
            return fair_pay_data(known[project.pk])
        return fair_pay_data(effective_hourly_rate(project=project))

    @extend_schema_field(ProjectLinksSerializer)
    def get_links(self, project: Project) -> dict[str, str]:
        request = self.context.get("request")
        pid = project.public_id
        links = {
            "self": _link("project-detail", request, pid),
            "tasks": _link("project-task-list", request, pid),
            "gold": _link("project-gold-list", request, pid),
            "imports": _link("project-import-list", request, pid),
            "guidelines": _link("project-guidelines", request, pid),
            "progress": _link("project-progress", request, pid),
            "fund": _link("project-fund", request, pid),
        }
        for action in ("activate", "pause", "resume", "complete", "archive"):
            links[action] = _link(f"project-{action}", request, pid)
        return links


def _domain_by_slug(slug: str) -> Domain:
    domain = Domain.objects.filter(slug=slug, is_active=True).select_related("parent").first()
    if domain is None:
        raise serializers.ValidationError(f"Unknown domain “{slug}”.")
    return domain


class ProjectCreateSerializer(StrictInputSerializer):
    """A new draft project. With ``guidelines``, their first version is published too."""

    organization = serializers.SlugField(
        required=False,
        help_text="The lab's slug. Only for logged-in users who belong to several labs; an "
        "API key always acts for its own organisation.",
    )
    title = serializers.CharField(max_length=160)
    summary = serializers.CharField(max_length=300, allow_blank=True, required=False)
    domain = serializers.SlugField(help_text="A field of the taxonomy, e.g. `medicine`.")
    specialties = serializers.ListField(
        child=serializers.SlugField(),
        required=False,
        max_length=50,
        help_text="Specialty slugs under the domain, e.g. `medicine-cardiology`.",
    )
    required_credential_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=CredentialKind.choices), required=False
    )
    min_seniority = serializers.ChoiceField(
        choices=Seniority.choices, allow_blank=True, required=False
    )
    languages = serializers.ListField(
        child=serializers.ChoiceField(choices=settings.LANGUAGES), required=False
    )
    language_level = serializers.ChoiceField(
        choices=Proficiency.choices,
        required=False,
        help_text="The level experts need in every language of `languages` (default C1).",
    )
    allowed_countries = serializers.ListField(
        child=serializers.CharField(max_length=2),
        required=False,
        max_length=len(countries),
        help_text="ISO 3166 alpha-2 codes of the countries experts must live in, e.g. "
        '`["DE", "FR"]`. Empty: anywhere.',
    )
    task_type = serializers.ChoiceField(
        choices=TASK_TYPE_CHOICES, help_text="A key of `GET /api/v1/task-types/`."
    )
    task_settings = serializers.DictField(
        required=False, help_text="Settings of the task type (its `settings_schema`)."
    )
    overlap = serializers.IntegerField(
        min_value=1, max_value=9, required=False, help_text="Annotations per task."
    )
    price_per_annotation_cents = serializers.IntegerField(min_value=1, max_value=MAX_PRICE_CENTS)
    seats = serializers.IntegerField(min_value=1, max_value=MAX_SEATS, required=False)
    budget_cents = serializers.IntegerField(min_value=0, max_value=MAX_BUDGET_CENTS, required=False)
    deadline = serializers.DateField(allow_null=True, required=False)
    gold_rate_percent = serializers.IntegerField(min_value=0, max_value=50, required=False)
    min_gold_accuracy_percent = serializers.IntegerField(min_value=0, max_value=100, required=False)
    lease_minutes = serializers.IntegerField(
        min_value=5,
        max_value=240,
        required=False,
        help_text="How long an expert holds a task before it returns to the pool (default "
        "30); saving a draft renews it. May change while live.",
    )
    dispatch_order = serializers.ChoiceField(
        choices=DispatchOrder.choices,
        required=False,
        help_text="`depth` (default): finish tasks that already have answers first; "
        "`breadth`: give every task its first answer first. May change while live.",
    )
    ai_policy = serializers.ChoiceField(
        choices=AiPolicy.choices,
        required=False,
        help_text="What experts may use: `forbidden` (default), `allowed`, or `disclosed` "
        "(allowed, and each answer says whether and how). Fixed once the project is live.",
    )
    auto_accept_days = serializers.IntegerField(
        min_value=0,
        max_value=90,
        required=False,
        help_text="Annotations left unreviewed this many days are accepted (0: never; "
        "default 7). May change while live.",
    )
    min_gold_tasks = serializers.IntegerField(
        min_value=1,
        max_value=200,
        required=False,
        help_text="Gold answers an expert gives before the pause rule judges them (default "
        "10). Experts are paused when their gold accuracy is below "
        "`min_gold_accuracy_percent` with 95% certainty.",
    )
    adaptive_overlap = serializers.BooleanField(
        required=False,
        help_text="Ask for one more answer at a time on items whose consensus confidence "
        "stays below `consensus_threshold_percent`, up to `max_overlap`.",
    )
    max_overlap = serializers.IntegerField(min_value=1, max_value=9, required=False)
    consensus_threshold_percent = serializers.IntegerField(
        min_value=50, max_value=99, required=False
    )
    stop_early = serializers.BooleanField(
        required=False,
        help_text="With adaptive overlap: stop asking once an item's consensus is confident.",
    )
    guidelines = serializers.CharField(
        allow_blank=True, required=False, trim_whitespace=False, max_length=200_000
    )
    rubric = serializers.CharField(
        allow_blank=True, required=False, trim_whitespace=False, max_length=200_000
    )

    def validate_domain(self, slug: str) -> Domain:
        return _domain_by_slug(slug)

    def validate_specialties(self, slugs: list[str]) -> list[Domain]:
        found = {d.slug: d for d in Domain.objects.filter(slug__in=slugs, is_active=True)}
        unknown = [slug for slug in slugs if slug not in found]
        if unknown:
            raise serializers.ValidationError(f"Unknown specialty “{unknown[0]}”.")
        return [found[slug] for slug in dict.fromkeys(slugs)]


class ProjectUpdateSerializer(ProjectCreateSerializer):
    """A change to a project: fields left out keep their value. Requirements, pricing and
    type may change only while the project is a draft or funded (409 otherwise)."""

    organization = None  # type: ignore[assignment]
    guidelines = None  # type: ignore[assignment]
    rubric = None  # type: ignore[assignment]


class FundSerializer(StrictInputSerializer):
    amount_cents = serializers.IntegerField(
        min_value=1, max_value=MAX_BUDGET_CENTS, help_text="Amount to add, in cents."
    )


class FundingSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProjectFunding
        fields = ["amount_cents", "currency", "provider", "reference", "created_at"]
        read_only_fields = fields


class FundResultSerializer(serializers.Serializer):
    funding = FundingSerializer()
    project = ProjectSerializer()


# Guidelines ------------------------------------------------------------------------------


class GuidelineVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = GuidelineVersion
        fields = ["number", "guidelines", "rubric", "changelog", "is_material", "created_at"]
        read_only_fields = fields


class GuidelinesSerializer(serializers.Serializer):
    current = GuidelineVersionSerializer(allow_null=True)
    material_version = serializers.IntegerField(
        help_text="The newest version marked material: experts re-read up to it before work."
    )
    versions = GuidelineVersionSerializer(many=True, help_text="Every version, newest first.")


class GuidelinesPublishSerializer(StrictInputSerializer):
    guidelines = serializers.CharField(trim_whitespace=False, max_length=200_000)
    rubric = serializers.CharField(
        trim_whitespace=False, allow_blank=True, required=False, default="", max_length=200_000
    )
    changelog = serializers.CharField(max_length=300, help_text="One line: what changed.")
    is_material = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Experts must re-read the guidelines before their next task.",
    )


# Tasks -----------------------------------------------------------------------------------


class TaskSerializer(serializers.ModelSerializer):
    """A task as the lab imported it. Never carries the gold answer."""

    class Meta:
        model = Task
        fields = [
            "id",
            "external_id",
            "data",
            "is_gold",
            "status",
            "annotation_count",
            "created_at",
        ]
        read_only_fields = fields


class GoldTaskSerializer(TaskSerializer):
    """A gold task with its known answer (the lab's own view; experts never get this)."""

    answer = serializers.SerializerMethodField()
    explanation = serializers.SerializerMethodField()

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "answer", "explanation"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_answer(self, task: Task) -> Any:
        gold = getattr(task, "gold_answer", None)
        return gold.answer if gold is not None else None

    def get_explanation(self, task: Task) -> str:
        gold = getattr(task, "gold_answer", None)
        return gold.explanation if gold is not None else ""


class TaskFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    is_gold = serializers.BooleanField(required=False, allow_null=True, default=None)
    external_id = serializers.CharField(
        required=False, max_length=200, help_text="Tasks whose external id starts with this."
    )


class TaskBatchSerializer(StrictInputSerializer):
    tasks = serializers.ListField(
        child=serializers.JSONField(),
        allow_empty=False,
        max_length=settings.MAX_TASKS_PER_API_BATCH,
        help_text=(
            f"Up to {settings.MAX_TASKS_PER_API_BATCH:,} rows. A row is a JSON object with the "
            "task type's input fields (see `example_input` in `GET /api/v1/task-types/`) and "
            "an optional `external_id`; gold rows add `gold` (the correct result) and an "
            "optional `gold_explanation`. Rows whose external id the project already has "
            "are skipped."
        ),
    )


class TaskUploadSerializer(StrictInputSerializer):
    file = serializers.FileField(help_text="JSONL, CSV or Label Studio JSON, up to 200 MB.")
    format = serializers.ChoiceField(
        choices=ImportFormat.choices,
        required=False,
        help_text="Guessed from the file name when left out.",
    )


class TaskImportSerializer(serializers.ModelSerializer):
    """An import (an uploaded file or an API batch) with its progress and counts."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    progress_percent = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = TaskImport
        fields = [
            "id",
            "url",
            "kind",
            "format",
            "status",
            "original_name",
            "size",
            "total_rows",
            "processed_rows",
            "progress_percent",
            "created_count",
            "skipped_count",
            "error_count",
            "failure_reason",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_progress_percent(self, task_import: TaskImport) -> int:
        return import_progress_percent(task_import)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, task_import: TaskImport) -> str:
        return _link(
            "project-import-detail",
            self.context.get("request"),
            task_import.project.public_id,
            task_import.public_id,
        )


class TaskImportDetailSerializer(TaskImportSerializer):
    """An import with its report: every problem found (capped), by row and field."""

    errors = RowProblemSerializer(many=True, read_only=True)  # type: ignore[assignment]

    class Meta(TaskImportSerializer.Meta):
        fields = [*TaskImportSerializer.Meta.fields, "errors"]
        read_only_fields = fields


# Progress --------------------------------------------------------------------------------


class ExpertProgressSerializer(serializers.Serializer):
    expert = serializers.UUIDField(
        allow_null=True, help_text="The expert's pseudonymous id (as in exports)."
    )
    annotations = serializers.IntegerField()


class ProjectProgressSerializer(serializers.Serializer):
    task_count = serializers.IntegerField()
    gold_count = serializers.IntegerField()
    completed_tasks = serializers.IntegerField()
    annotations_needed = serializers.IntegerField()
    annotations_done = serializers.IntegerField()
    percent_done = serializers.IntegerField()
    cost_so_far_cents = serializers.IntegerField()
    required_funds_cents = serializers.IntegerField()
    funded_cents = serializers.IntegerField()
    remaining_budget_cents = serializers.IntegerField()
    shortfall_cents = serializers.IntegerField()
    experts = ExpertProgressSerializer(many=True, help_text="The 50 most active experts.")


# Task types ------------------------------------------------------------------------------


class TaskTypeSerializer(serializers.Serializer):
    """One entry of the task-type registry, with the JSON schemas imports and results use."""

    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    description = serializers.CharField()
    base_rate_cents = serializers.IntegerField(
        help_text="What one annotation usually pays before the domain's multiplier."
    )
    input_schema = serializers.SerializerMethodField()
    result_schema = serializers.SerializerMethodField()
    settings_schema = serializers.SerializerMethodField()
    example_input = serializers.SerializerMethodField()
    example_result = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_input_schema(self, task_type: Any) -> dict[str, Any]:
        return dict(task_type.input_json_schema())

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_result_schema(self, task_type: Any) -> dict[str, Any]:
        return dict(task_type.result_json_schema())

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_settings_schema(self, task_type: Any) -> dict[str, Any]:
        return dict(task_type.settings_json_schema())

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_example_input(self, task_type: Any) -> dict[str, Any]:
        return dict(task_type.example_input())

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_example_result(self, task_type: Any) -> dict[str, Any]:
        return dict(task_type.example_result())


# Webhooks --------------------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint. ``secret`` signs deliveries; only owners, managers and API keys see it."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    secret = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "is_active",
            "secret",
            "links",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_secret(self, endpoint: WebhookEndpoint) -> str | None:
        return endpoint.secret if self.context.get("show_secret") else None

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                name: {"type": "string", "format": "uri"}
                for name in ("self", "deliveries", "rotate_secret")
            },
        }
    )
    def get_links(self, endpoint: WebhookEndpoint) -> dict[str, str]:
        request = self.context.get("request")
        return {
            "self": _link("webhook-detail", request, endpoint.public_id),
            "deliveries": _link("webhook-delivery-list", request, endpoint.public_id),
            "rotate_secret": _link("webhook-rotate-secret", request, endpoint.public_id),
        }


class WebhookEndpointCreateSerializer(StrictInputSerializer):
    organization = serializers.SlugField(
        required=False, help_text="The lab's slug, for logged-in users of several labs."
    )
    url = serializers.CharField(
        max_length=500,
        help_text="An https:// URL on a public host. Deliveries are POSTed there, signed.",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), allow_empty=False
    )
    description = serializers.CharField(
        max_length=120, allow_blank=True, required=False, default=""
    )


class WebhookEndpointUpdateSerializer(StrictInputSerializer):
    url = serializers.CharField(max_length=500, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        allow_empty=False,
        required=False,
    )
    description = serializers.CharField(max_length=120, allow_blank=True, required=False)
    is_active = serializers.BooleanField(required=False)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    payload = serializers.JSONField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "status",
            "attempts",
            "response_status",
            "last_error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "payload",
        ]
        read_only_fields = fields
