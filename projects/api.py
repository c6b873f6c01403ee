"""The lab REST API for projects, tasks, imports and webhooks, mounted under /api/v1/.

Callers are an organisation's API key (acting as a manager) or a logged-in lab member. Any
project or endpoint outside the caller's organisations answers 404; viewers may read, and
get 403 on writes. Views only translate HTTP to services and selectors.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.api_auth import OrganizationClient
from marketplace.errors import Conflict, InvalidInput, NotFound
from marketplace.models import User
from marketplace.selectors import memberships_of_user
from marketplace.views import client_ip
from projects import selectors, services
from projects.access import (
    LabActor,
    lab_actor_for_api_key,
    lab_actor_for_member,
    lab_actor_for_membership,
)
from projects.models import Project, WebhookEndpoint
from projects.serializers import (
    ConflictSerializer,
    ErrorSerializer,
    FundingSerializer,
    FundResultSerializer,
    FundSerializer,
    GoldTaskSerializer,
    GuidelinesPublishSerializer,
    GuidelinesSerializer,
    GuidelineVersionSerializer,
    ImportRejectedSerializer,
    ProjectCreateSerializer,
    ProjectProgressSerializer,
    ProjectSerializer,
    ProjectUpdateSerializer,
    TaskBatchSerializer,
    TaskFilterSerializer,
    TaskImportDetailSerializer,
    TaskImportSerializer,
    TaskSerializer,
    TaskTypeSerializer,
    TaskUploadSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
)
from projects.services import webhooks as webhook_services
from projects.states import ImportKind, ProjectStatus
from projects.task_types import REGISTRY

NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Not yours, or no such object.")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="Viewers may read but not change.")
BAD_INPUT = OpenApiResponse(
    description="A field is wrong: `{field: [messages]}`, or `{detail, field}` for a rule."
)
CONFLICT = OpenApiResponse(ConflictSerializer, description="The project's state forbids it.")
ORGANIZATION_PARAMETER = OpenApiParameter(
    "organization",
    OpenApiTypes.STR,
    description="The lab's slug, for logged-in users who belong to several labs.",
)


class LabApiView(generics.GenericAPIView):
    """Base of the lab API views: GenericAPIView for pagination and the schema. Every method
    fetches its rows through the scoped selectors, never through ``get_queryset``."""

    def get_queryset(self) -> QuerySet[Any]:
        # Only the browsable API asks (to build a filter form); it gets nothing.
        return Project.objects.none()


# Who is calling ------------------------------------------------------------------------


def _ip(request: Request) -> str | None:
    return client_ip(request._request)


def organization_actor(request: Request, organization_slug: str | None = None) -> LabActor:
    """The caller acting for one organisation: the key's own, or the member's (named by slug
    when they belong to several). Experts and non-members get NotFound."""
    user = request.user
    if isinstance(user, OrganizationClient):
        actor = lab_actor_for_api_key(api_key=user.api_key)
        if organization_slug and organization_slug != actor.organization.slug:
            raise NotFound()
        return actor
    person = cast(User, user)
    if organization_slug:
        return lab_actor_for_member(user=person, organization_slug=organization_slug)
    memberships = list(memberships_of_user(user=person)[:2])
    if not memberships:
        raise NotFound()
    if len(memberships) > 1:
        raise InvalidInput(
            "You belong to several labs: name one with `organization`.", field="organization"
        )
    return lab_actor_for_membership(memberships[0], person)


def named_organization(request: Request) -> str | None:
    """The ``organization`` slug a request body names, read before validation so that
    callers outside every lab get 404 whatever they send."""
    data = request.data
    value = data.get("organization") if hasattr(data, "get") else None
    return value if isinstance(value, str) and value else None


def project_and_actor(request: Request, project_id: UUID) -> tuple[Project, LabActor]:
    """The project, if the caller's organisation owns it, and the caller acting for it."""
    user = request.user
    if isinstance(user, OrganizationClient):
        actor = lab_actor_for_api_key(api_key=user.api_key)
        return selectors.project_for_actor(actor=actor, project_id=project_id), actor
    return selectors.project_for_user(user=cast(User, user), project_id=project_id)


def endpoint_and_actor(request: Request, endpoint_id: UUID) -> tuple[WebhookEndpoint, LabActor]:
    """The webhook endpoint, if one of the caller's organisations owns it."""
    user = request.user
    if isinstance(user, OrganizationClient):
        actor = lab_actor_for_api_key(api_key=user.api_key)
        return selectors.webhook_endpoint_for_actor(actor=actor, endpoint_id=endpoint_id), actor
    return selectors.webhook_endpoint_for_user(user=cast(User, user), endpoint_id=endpoint_id)


# Projects --------------------------------------------------------------------------------


def project_data(request: Request, project: Project) -> Any:
    """The project as the API shows it, read again with its counts."""
    fresh = selectors.project_with_stats(project=project)
    return ProjectSerializer(fresh, context={"request": request}).data


class ProjectListView(LabApiView):
    """The organisation's projects, newest first; and creating one."""

    serializer_class = ProjectSerializer

    @extend_schema(
        summary="List projects",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=ProjectStatus.values),
            ORGANIZATION_PARAMETER,
        ],
        responses={200: ProjectSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        actor = organization_actor(request, request.query_params.get("organization"))
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in ProjectStatus.values:
            raise InvalidInput(f"Unknown status “{wanted}”.", field="status")
        projects = selectors.projects_for_actor(actor=actor, status=wanted).prefetch_related(
            "specialties"
        )
        page = self.paginate_queryset(projects)
        data = ProjectSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Create a project",
        description=(
            "Creates a draft. With `guidelines`, their first version is published too. "
            "Next: add tasks, fund (`money.shortfall_cents`), activate."
        ),
        request=ProjectCreateSerializer,
        responses={201: ProjectSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def post(self, request: Request) -> Response:
        actor = organization_actor(request, named_organization(request))
        serializer = ProjectCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        values.pop("organization", None)
        project = services.project_create(actor=actor, ip_address=_ip(request), **values)
        return Response(project_data(request, project), status=status.HTTP_201_CREATED)


class ProjectDetailView(LabApiView):
    serializer_class = ProjectSerializer

    @extend_schema(summary="A project", responses={200: ProjectSerializer, 404: NOT_FOUND})
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        return Response(project_data(request, project))

    @extend_schema(
        summary="Change a project",
        request=ProjectUpdateSerializer,
        responses={
            200: ProjectSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def patch(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        serializer = ProjectUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        project = services.project_update(
            actor=actor,
            project=project,
            changes=dict(serializer.validated_data),
            ip_address=_ip(request),
        )
        return Response(project_data(request, project))


class ProjectFundView(LabApiView):
    serializer_class = FundSerializer

    @extend_schema(
        summary="Fund a project",
        description=(
            "Moves money from the lab's balance (see `/api/v1/billing/`) into the project's "
            "escrow; a draft becomes funded. A balance short of the amount answers 409 and "
            "moves nothing. Send an `Idempotency-Key` header to make retries safe: the same "
            "key returns the first funding and moves nothing more."
        ),
        request=FundSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                location=OpenApiParameter.HEADER,
                description="Any unique string of up to 80 characters.",
            )
        ],
        responses={
            201: FundResultSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        serializer = FundSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        funding = services.project_fund(
            actor=actor,
            project=project,
            amount_cents=serializer.validated_data["amount_cents"],
            idempotency_key=request.headers.get("Idempotency-Key") or None,
            ip_address=_ip(request),
        )
        data = {
            "funding": FundingSerializer(funding).data,
            "project": project_data(request, project),
        }
        return Response(data, status=status.HTTP_201_CREATED)


TRANSITIONS = {
    "activate": services.project_activate,
    "pause": services.project_pause,
    "resume": services.project_resume,
    "complete": services.project_complete,
    "archive": services.project_archive,
}


class ProjectTransitionView(LabApiView):
    """Move the project through its states (``transition`` is set per route)."""

    serializer_class = ProjectSerializer
    transition = ""

    @extend_schema(
        summary="Change a project's state",
        description=(
            "`activate` (funded → active) and `resume` (paused → active) need tasks, "
            "guidelines, and funds covering tasks × overlap × price + fee; a refusal lists "
            "what is missing in `problems`. `pause`, `complete` (emits `project.completed`) "
            "and `archive` follow the state machine."
        ),
        request=None,
        responses={200: ProjectSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        # Before the state checks, so a viewer learns nothing from a 409.
        actor.require_manager(f"{self.transition} projects")
        change = TRANSITIONS[self.transition]
        try:
            project = change(actor=actor, project=project, ip_address=_ip(request))
        except Conflict as conflict:
            body: dict[str, Any] = {"detail": conflict.message}
            if self.transition in ("activate", "resume"):
                problems = services.activation_problems(project=project)
                if problems:
                    body["problems"] = problems
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(project_data(request, project))


# Guidelines ------------------------------------------------------------------------------


class ProjectGuidelinesView(LabApiView):
    serializer_class = GuidelineVersionSerializer
    pagination_class = None

    @extend_schema(
        summary="The guidelines and their history",
        responses={200: GuidelinesSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        versions = list(selectors.project_guideline_versions(project=project))
        current = next((v for v in versions if v.number == project.guidelines_version), None)
        data = {
            "current": current,
            "material_version": project.material_guidelines_version,
            "versions": versions,
        }
        return Response(GuidelinesSerializer(data).data)

    @extend_schema(
        summary="Publish a new version of the guidelines",
        description=(
            "A material change (`is_material`) asks every expert on the project to re-read "
            "the guidelines before their next task."
        ),
        request=GuidelinesPublishSerializer,
        responses={
            201: GuidelineVersionSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        serializer = GuidelinesPublishSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.guidelines_publish(
            actor=actor, project=project, ip_address=_ip(request), **serializer.validated_data
        )
        return Response(GuidelineVersionSerializer(version).data, status=status.HTTP_201_CREATED)


# Tasks and imports -----------------------------------------------------------------------


def _create_tasks(request: Request, project: Project, actor: LabActor, kind: str) -> Response:
    """A JSON batch (saved now) or an uploaded file (imported by a Celery task)."""
    context = {"request": request}
    if getattr(request._request, "upload_too_large", False):
        raise InvalidInput("The file is too large.", field="file")
    if request.content_type.startswith("multipart/"):
        upload = TaskUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        task_import = services.task_import_create(
            actor=actor,
            project=project,
            upload=upload.validated_data["file"],
            kind=kind,
            format=upload.validated_data.get("format"),
            ip_address=_ip(request),
        )
        data = TaskImportDetailSerializer(task_import, context=context).data
        return Response(data, status=status.HTTP_202_ACCEPTED)
    batch = TaskBatchSerializer(data=request.data)
    batch.is_valid(raise_exception=True)
    try:
        task_import = services.tasks_create_batch(
            actor=actor,
            project=project,
            rows=batch.validated_data["tasks"],
            kind=kind,
            ip_address=_ip(request),
        )
    except services.ImportRejected as rejected:
        body = {"detail": rejected.message, "problems": rejected.problems}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    data = TaskImportDetailSerializer(task_import, context=context).data
    return Response(data, status=status.HTTP_201_CREATED)


def _create_tasks_schema(kind: str) -> Any:
    what = "gold tasks (each row with its `answer`)" if kind == ImportKind.GOLD else "tasks"
    return extend_schema(
        summary=f"Add {what}",
        description=(
            f'Either a JSON body `{{"tasks": [...]}}` of up to 1,000 {what}, saved at once '
            "(201 with the created and skipped counts; 400 with every problem by row and "
            "field, nothing saved), or a multipart upload of `file` (+ optional `format`), "
            "imported in the background (202: poll the import's `url`). Rows whose "
            "`external_id` the project already has are skipped, so retries are safe."
        ),
        request={
            "application/json": TaskBatchSerializer,
            "multipart/form-data": TaskUploadSerializer,
        },
        responses={
            201: TaskImportDetailSerializer,
            202: TaskImportDetailSerializer,
            400: OpenApiResponse(ImportRejectedSerializer, description="Rejected rows."),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )


class ProjectTaskListView(LabApiView):
    serializer_class = TaskSerializer

    @extend_schema(
        summary="List tasks",
        description="In import order. Gold answers are never included (see `gold/`).",
        parameters=[TaskFilterSerializer],
        responses={200: TaskSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        filters = TaskFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        tasks = selectors.project_tasks(
            project=project,
            status=filters.validated_data.get("status"),
            is_gold=filters.validated_data.get("is_gold"),
            external_id=filters.validated_data.get("external_id"),
        )
        page = self.paginate_queryset(tasks)
        return self.get_paginated_response(TaskSerializer(page, many=True).data)

    @_create_tasks_schema(ImportKind.TASKS)
    def post(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        return _create_tasks(request, project, actor, ImportKind.TASKS)


class ProjectTaskDetailView(LabApiView):
    serializer_class = TaskSerializer

    @extend_schema(
        summary="A task, by its external id",
        responses={200: TaskSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID, external_id: str) -> Response:
        project, _ = project_and_actor(request, project_id)
        task = selectors.task_by_external_id(project=project, external_id=external_id)
        return Response(TaskSerializer(task).data)


class ProjectGoldListView(LabApiView):
    serializer_class = GoldTaskSerializer

    @extend_schema(
        summary="List gold tasks with their answers",
        responses={200: GoldTaskSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        page = self.paginate_queryset(selectors.project_gold_tasks(project=project))
        return self.get_paginated_response(GoldTaskSerializer(page, many=True).data)

    @_create_tasks_schema(ImportKind.GOLD)
    def post(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        return _create_tasks(request, project, actor, ImportKind.GOLD)


class ProjectImportListView(LabApiView):
    serializer_class = TaskImportSerializer

    @extend_schema(
        summary="List imports",
        responses={200: TaskImportSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        page = self.paginate_queryset(selectors.project_imports(project=project))
        for task_import in page or []:
            task_import.project = project
        data = TaskImportSerializer(page, many=True, context={"request": request}).data
        return self.get_paginated_response(data)


class ProjectImportDetailView(LabApiView):
    serializer_class = TaskImportDetailSerializer

    @extend_schema(
        summary="An import, with its report",
        responses={200: TaskImportDetailSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID, import_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        task_import = selectors.import_for_project(project=project, import_id=import_id)
        task_import.project = project
        data = TaskImportDetailSerializer(task_import, context={"request": request}).data
        return Response(data)


class ProjectProgressView(LabApiView):
    serializer_class = ProjectProgressSerializer
    pagination_class = None

    @extend_schema(
        summary="Progress and money",
        responses={200: ProjectProgressSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        progress = selectors.project_progress(project=project)
        return Response(ProjectProgressSerializer(progress).data)


# Task types ------------------------------------------------------------------------------


class TaskTypeListView(LabApiView):
    """The task-type registry: what each type's tasks and results look like."""

    serializer_class = TaskTypeSerializer
    permission_classes = [permissions.AllowAny]
    pagination_class = None

    @extend_schema(summary="List task types", responses=TaskTypeSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(TaskTypeSerializer(list(REGISTRY.values()), many=True).data)


# Webhooks --------------------------------------------------------------------------------


def _endpoint_context(request: Request, actor: LabActor) -> dict[str, Any]:
    """Only owners, managers and API keys see signing secrets."""
    return {"request": request, "show_secret": actor.can_manage}


def _endpoint_data(request: Request, endpoint: WebhookEndpoint, actor: LabActor) -> Any:
    return WebhookEndpointSerializer(endpoint, context=_endpoint_context(request, actor)).data


WEBHOOK_DESCRIPTION = (
    "Each delivery is a POST of `{id, type, created, data}` with the headers `Webhook-Id`, "
    "`Webhook-Timestamp` and `Webhook-Signature: t=<timestamp>,v1=<hex HMAC-SHA256 of "
    '"<timestamp>.<raw body>" keyed with the endpoint\'s secret>`. Answer 2xx within 10 '
    "seconds; anything else is retried with exponential backoff. Redirects are not followed."
)


class WebhookListView(LabApiView):
    serializer_class = WebhookEndpointSerializer

    @extend_schema(
        summary="List webhook endpoints",
        parameters=[ORGANIZATION_PARAMETER],
        responses={200: WebhookEndpointSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        actor = organization_actor(request, request.query_params.get("organization"))
        page = self.paginate_queryset(selectors.webhook_endpoints_for_actor(actor=actor))
        context = _endpoint_context(request, actor)
        data = WebhookEndpointSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Add a webhook endpoint",
        description=WEBHOOK_DESCRIPTION,
        request=WebhookEndpointCreateSerializer,
        responses={
            201: WebhookEndpointSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request: Request) -> Response:
        actor = organization_actor(request, named_organization(request))
        serializer = WebhookEndpointCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        values.pop("organization", None)
        endpoint = webhook_services.webhook_endpoint_create(
            actor=actor, ip_address=_ip(request), **values
        )
        return Response(_endpoint_data(request, endpoint, actor), status=status.HTTP_201_CREATED)


class WebhookDetailView(LabApiView):
    serializer_class = WebhookEndpointSerializer

    @extend_schema(
        summary="A webhook endpoint",
        responses={200: WebhookEndpointSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint, actor = endpoint_and_actor(request, endpoint_id)
        return Response(_endpoint_data(request, endpoint, actor))

    @extend_schema(
        summary="Change a webhook endpoint",
        description="`is_active: false` stops deliveries; queued ones fail.",
        request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def patch(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint, actor = endpoint_and_actor(request, endpoint_id)
        serializer = WebhookEndpointUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhook_services.webhook_endpoint_update(
            actor=actor, endpoint=endpoint, ip_address=_ip(request), **serializer.validated_data
        )
        return Response(_endpoint_data(request, endpoint, actor))

    @extend_schema(
        summary="Delete a webhook endpoint",
        request=None,
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint, actor = endpoint_and_actor(request, endpoint_id)
        webhook_services.webhook_endpoint_delete(
            actor=actor, endpoint=endpoint, ip_address=_ip(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretView(LabApiView):
    serializer_class = WebhookEndpointSerializer

    @extend_schema(
        summary="Replace a webhook endpoint's signing secret",
        request=None,
        responses={200: WebhookEndpointSerializer, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def post(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint, actor = endpoint_and_actor(request, endpoint_id)
        endpoint = webhook_services.webhook_endpoint_rotate_secret(
            actor=actor, endpoint=endpoint, ip_address=_ip(request)
        )
        return Response(_endpoint_data(request, endpoint, actor))


class WebhookDeliveryListView(LabApiView):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(
        summary="List an endpoint's deliveries, newest first",
        responses={200: WebhookDeliverySerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint, actor = endpoint_and_actor(request, endpoint_id)
        deliveries = selectors.webhook_deliveries_for_actor(actor=actor, endpoint=endpoint)
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookRedeliverView(LabApiView):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(
        summary="Send a delivery's event again",
        description="Creates a new delivery with the same body (the same event `id`).",
        request=None,
        responses={
            202: WebhookDeliverySerializer,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request: Request, endpoint_id: UUID, delivery_id: UUID) -> Response:
        endpoint, actor = endpoint_and_actor(request, endpoint_id)
        delivery = selectors.webhook_delivery_for_actor(
            actor=actor, delivery_id=delivery_id, endpoint=endpoint
        )
        redelivery = webhook_services.webhook_delivery_redeliver(
            actor=actor, delivery=delivery, ip_address=_ip(request)
        )
        return Response(WebhookDeliverySerializer(redelivery).data, status=status.HTTP_202_ACCEPTED)
