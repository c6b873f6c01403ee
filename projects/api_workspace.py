"""The annotation workspace REST API, mounted under /api/v1/ beside projects/api.py.

Experts (logged in; sessions, not API keys) under ``work/``: the next task, a task's lease
and draft, submit, skip, kept drafts and their history. Anything not theirs answers 404,
and nothing about gold (whether a task is gold, its answer) is ever sent.

Labs (API key or member, as projects/api.py) under ``projects/<id>/``: the annotations with
the review filters, one annotation with its reviews, review decisions, bulk accept, and
flagged edge cases. Another lab's project or annotation answers 404; viewers may read and
get 403 on every decision. Views only translate HTTP to services and selectors.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import QuerySet, prefetch_related_objects
from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.api import IsPerson
from marketplace.api_auth import OrganizationClient
from marketplace.errors import Conflict, InvalidInput
from marketplace.models import User
from marketplace.states import UserRole
from projects import selectors as project_selectors
from projects.api import BAD_INPUT, CONFLICT, FORBIDDEN, NOT_FOUND, LabApiView, project_and_actor
from projects.dispatch import selectors as dispatch_selectors
from projects.dispatch import services as dispatch
from projects.dispatch.models import Assignment
from projects.models import Annotation, Project
from projects.review import selectors as review_selectors
from projects.review import services as review
from projects.serializers_workspace import (
    AnnotationEditSerializer,
    AssignmentSerializer,
    BulkAcceptedSerializer,
    BulkAcceptSerializer,
    DraftSavedSerializer,
    DraftSaveSerializer,
    EdgeCaseResolveSerializer,
    ExpertAnnotationSerializer,
    KeptDraftSerializer,
    LabAnnotationDetailSerializer,
    LabAnnotationSerializer,
    ReviewSerializer,
    SkipSerializer,
    SubmitSerializer,
    SubmittedSerializer,
    WorkConflictSerializer,
)
from projects.states import AnnotationStatus

WORK_CONFLICT = OpenApiResponse(
    WorkConflictSerializer, description="The expert may not do this now; `code` says why."
)
NOTHING_LEFT = OpenApiResponse(description="No task is left for you on this project now.")


# Experts ----------------------------------------------------------------------------------


def _expert_or_404(request: Request) -> User:
    """The logged-in expert; anyone else is outside the scope of these endpoints."""
    user = request.user
    if isinstance(user, OrganizationClient) or getattr(user, "role", None) != UserRole.EXPERT:
        raise Http404()
    return user  # type: ignore[return-value]


def _signals(data: dict[str, Any] | None) -> dispatch.PageSignals:
    return dispatch.PageSignals(**(data or {}))


def work_conflict(request: Request, conflict: Conflict, project: Project) -> dict[str, Any]:
    """The body of a refusal to let the expert work: ``code`` for clients to act on."""
    body: dict[str, Any] = {"detail": conflict.message, "code": dispatch.refusal_code(conflict)}
    if isinstance(conflict, dispatch.GuidelinesNotAcknowledged):
        body["guidelines_url"] = request.build_absolute_uri(
            reverse("project_guidelines", args=[project.public_id])
        )
    return body


def assignment_data(expert: User, assignment: Assignment) -> Any:
    """The assignment as the API shows it. The dispatch services return it with its task's
    data and its project loaded, so nothing is read again."""
    return AssignmentSerializer(assignment).data


class ExpertApiView(generics.GenericAPIView):
    """Base of the expert workspace views: pagination and the schema. Rows come from the
    expert-scoped selectors, never from ``get_queryset``."""

    permission_classes = [IsPerson]

    def get_queryset(self) -> QuerySet[Any]:
        return Assignment.objects.none()


class WorkNextView(ExpertApiView):
    serializer_class = AssignmentSerializer

    @extend_schema(
        summary="Take the next task",
        description=(
            "Leases the next task of the project to you for the project's `lease_minutes`. "
            "A lease you already hold comes back (renewed) with its draft, so calling again "
            "is safe. 204 when nothing is left for you. 409 with `code`: `guidelines` "
            "(acknowledge them at `guidelines_url` first) or `not_available` (the project or "
            "your work on it is paused)."
        ),
        request=None,
        responses={
            200: AssignmentSerializer,
            204: NOTHING_LEFT,
            404: NOT_FOUND,
            409: WORK_CONFLICT,
        },
    )
    def post(self, request: Request, project_id: UUID) -> Response:
        expert = _expert_or_404(request)
        project = project_selectors.project_for_expert(expert=expert, project_id=project_id)
        try:
            assignment = dispatch.task_claim(expert=expert, project=project)
        except Conflict as conflict:
            return Response(
                work_conflict(request, conflict, project), status=status.HTTP_409_CONFLICT
            )
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(assignment_data(expert, assignment))


class WorkAssignmentView(ExpertApiView):
    serializer_class = AssignmentSerializer

    @extend_schema(
        summary="A task you hold",
        description="The task's data, your lease, your draft, and the settings the form needs.",
        responses={200: AssignmentSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, assignment_id: UUID) -> Response:
        expert = _expert_or_404(request)
        assignment = dispatch_selectors.assignment_for_expert(
            expert=expert, assignment_id=assignment_id
        )
        return Response(AssignmentSerializer(assignment).data)


class WorkDraftView(ExpertApiView):
    serializer_class = DraftSaveSerializer

    @extend_schema(
        summary="Save a draft",
        description=(
            "Keeps the unsent answer and the page's counters (deltas since the last save) and "
            "renews the lease. Call every few seconds and when leaving. `still_needed` false: "
            "the lease had run out and the task got all its answers; the draft is kept. "
            "409 once the task was submitted or skipped."
        ),
        request=DraftSaveSerializer,
        responses={200: DraftSavedSerializer, 400: BAD_INPUT, 404: NOT_FOUND, 409: CONFLICT},
    )
    def put(self, request: Request, assignment_id: UUID) -> Response:
        expert = _expert_or_404(request)
        assignment = dispatch_selectors.assignment_for_expert(
            expert=expert, assignment_id=assignment_id
        )
        serializer = DraftSaveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = dispatch.assignment_draft_save(
            expert=expert,
            assignment=assignment,
            draft=serializer.validated_data["draft"],
            signals=_signals(serializer.validated_data.get("signals")),
        )
        data = {
            "saved_at": saved.assignment.draft_saved_at,
            "expires_at": saved.assignment.expires_at,
            "still_needed": saved.still_needed,
        }
        return Response(DraftSavedSerializer(data).data)


class WorkSubmitView(ExpertApiView):
    serializer_class = SubmitSerializer

    @extend_schema(
        summary="Submit your answer",
        description=(
            "201 with the annotation; a repeat of the same submit (double click, retry, "
            "another tab) answers 200 with the same annotation and changes nothing. 400 "
            "names the field at fault (`result.<field>` for the answer). 409 `too_late`: the "
            "lease had run out and the task got all its answers meanwhile; your answer is "
            "kept as a draft (`GET /api/v1/work/drafts/`). With `next: true` the response "
            "also carries the next leased task, so one request per task is enough."
        ),
        request=SubmitSerializer,
        responses={
            200: SubmittedSerializer,
            201: SubmittedSerializer,
            400: BAD_INPUT,
            404: NOT_FOUND,
            409: WORK_CONFLICT,
        },
    )
    def post(self, request: Request, assignment_id: UUID) -> Response:
        expert = _expert_or_404(request)
        assignment = dispatch_selectors.assignment_for_expert(
            expert=expert, assignment_id=assignment_id
        )
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        repeat = assignment.annotation_id is not None
        project = assignment.project
        try:
            annotation = dispatch.annotation_submit(
                expert=expert,
                assignment=assignment,
                result=values["result"],
                signals=_signals(values.get("signals")),
                ai_used=values["ai_used"],
                ai_disclosure=values["ai_disclosure"],
                draft=values["result"] if isinstance(values["result"], dict) else None,
            )
        except Conflict as conflict:
            return Response(
                work_conflict(request, conflict, project), status=status.HTTP_409_CONFLICT
            )
        body: dict[str, Any] = {
            "annotation": _expert_annotation_data(expert, annotation),
            "next": None,
            "next_refusal": None,
        }
        if values["next"]:
            try:
                following = dispatch.task_claim(expert=expert, project=project)
            except Conflict as conflict:
                body["next_refusal"] = work_conflict(request, conflict, project)
            else:
                if following is not None:
                    body["next"] = assignment_data(expert, following)
        code = status.HTTP_200_OK if repeat else status.HTTP_201_CREATED
        return Response(body, status=code)


class WorkSkipView(ExpertApiView):
    serializer_class = SkipSerializer

    @extend_schema(
        summary="Skip a task",
        description=(
            "Hands the task back with a reason; it is not offered to you again. A repeat "
            "answers the same. 409 once submitted."
        ),
        request=SkipSerializer,
        responses={200: AssignmentSerializer, 400: BAD_INPUT, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request: Request, assignment_id: UUID) -> Response:
        expert = _expert_or_404(request)
        assignment = dispatch_selectors.assignment_for_expert(
            expert=expert, assignment_id=assignment_id
        )
        serializer = SkipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dispatch.assignment_skip(expert=expert, assignment=assignment, **serializer.validated_data)
        skipped = dispatch_selectors.assignment_for_expert(
            expert=expert, assignment_id=assignment_id
        )
        return Response(assignment_data(expert, skipped))


def _project_filter(request: Request, expert: User) -> Project | None:
    wanted = request.query_params.get("project") or None
    if wanted is None:
        return None
    return project_selectors.project_for_expert(expert=expert, project_id=wanted)


PROJECT_FILTER = OpenApiParameter(
    "project", OpenApiTypes.UUID, description="Only this project's (404 if not yours)."
)


class WorkDraftListView(ExpertApiView):
    serializer_class = KeptDraftSerializer

    @extend_schema(
        summary="Your kept drafts",
        description=(
            "Answers you could not hand in because the lease ran out and the task filled up "
            "meanwhile, newest first."
        ),
        parameters=[PROJECT_FILTER],
        responses={200: KeptDraftSerializer(many=True), 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        expert = _expert_or_404(request)
        rows = dispatch_selectors.kept_drafts(
            expert=expert, project=_project_filter(request, expert)
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(KeptDraftSerializer(page, many=True).data)


def _expert_annotation_data(expert: User, annotation: Annotation) -> Any:
    """The annotation a service returned (its task and project loaded), with its reviews."""
    prefetch_related_objects([annotation], "reviews")
    return ExpertAnnotationSerializer(annotation).data


class WorkAnnotationListView(ExpertApiView):
    serializer_class = ExpertAnnotationSerializer

    @extend_schema(
        summary="Your annotations",
        description=(
            "Your answers, newest first, with the lab's decisions and feedback (never who "
            "reviewed)."
        ),
        parameters=[
            PROJECT_FILTER,
            OpenApiParameter("status", OpenApiTypes.STR, enum=AnnotationStatus.values),
        ],
        responses={200: ExpertAnnotationSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        expert = _expert_or_404(request)
        wanted = request.query_params.get("status") or ""
        if wanted and wanted not in AnnotationStatus.values:
            raise InvalidInput(
                f"status: choose one of {', '.join(AnnotationStatus.values)}.", field="status"
            )
        rows = dispatch_selectors.annotations_of_expert(
            expert=expert, project=_project_filter(request, expert), status=wanted
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ExpertAnnotationSerializer(page, many=True).data)


class WorkAnnotationDetailView(ExpertApiView):
    serializer_class = ExpertAnnotationSerializer

    @extend_schema(
        summary="One of your annotations",
        responses={200: ExpertAnnotationSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, annotation_id: UUID) -> Response:
        expert = _expert_or_404(request)
        annotation = dispatch_selectors.annotation_for_expert(
            expert=expert, annotation_id=annotation_id
        )
        return Response(ExpertAnnotationSerializer(annotation).data)

    @extend_schema(
        summary="Change your answer",
        description=(
            "Allowed until the lab decides, and again when it asks for a revision (the "
            "answer goes back to review). 409 once accepted or rejected."
        ),
        request=AnnotationEditSerializer,
        responses={200: ExpertAnnotationSerializer, 400: BAD_INPUT, 404: NOT_FOUND, 409: CONFLICT},
    )
    def patch(self, request: Request, annotation_id: UUID) -> Response:
        expert = _expert_or_404(request)
        annotation = dispatch_selectors.annotation_for_expert(
            expert=expert, annotation_id=annotation_id
        )
        serializer = AnnotationEditSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dispatch.annotation_edit(
            expert=expert, annotation=annotation, result=serializer.validated_data["result"]
        )
        edited = dispatch_selectors.annotation_for_expert(
            expert=expert, annotation_id=annotation_id
        )
        return Response(ExpertAnnotationSerializer(edited).data)


# Labs -------------------------------------------------------------------------------------


def _lab_annotation_data(project: Project, actor: Any, annotation: Annotation) -> Any:
    fresh = review_selectors.annotation_for_lab(
        actor=actor, project=project, annotation_id=annotation.public_id
    )
    return LabAnnotationDetailSerializer(fresh).data


YES_NO = "`yes` or `no`."


class ProjectAnnotationListView(LabApiView):
    serializer_class = LabAnnotationSerializer

    @extend_schema(
        summary="List a project's annotations",
        description=(
            "Oldest submission first (the order to review them in), with the AI-assistance "
            "signals and the task's disagreement. Experts appear under pseudonyms only. "
            "400 names a bad filter."
        ),
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=[*AnnotationStatus.values, "all"],
                description="Default `submitted` (waiting for review); `all` for every status.",
            ),
            OpenApiParameter(
                "expert", OpenApiTypes.STR, description="A pseudonym, e.g. `Expert 1a2b3c4d`."
            ),
            OpenApiParameter("flagged", OpenApiTypes.STR, description="Edge cases: " + YES_NO),
            OpenApiParameter("min_confidence", OpenApiTypes.INT, description="0 to 100."),
            OpenApiParameter("max_confidence", OpenApiTypes.INT, description="0 to 100."),
            OpenApiParameter(
                "disagreement",
                OpenApiTypes.STR,
                description="Tasks whose experts disagree: " + YES_NO,
            ),
            OpenApiParameter("gold", OpenApiTypes.STR, description="Gold tasks: " + YES_NO),
        ],
        responses={200: LabAnnotationSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        filters = review_selectors.review_filters_from(request.query_params)
        rows = review_selectors.review_queue(project=project, filters=filters)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(LabAnnotationSerializer(page, many=True).data)


class ProjectAnnotationDetailView(LabApiView):
    serializer_class = LabAnnotationDetailSerializer

    @extend_schema(
        summary="One annotation with its reviews",
        responses={200: LabAnnotationDetailSerializer, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID, annotation_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        annotation = review_selectors.annotation_for_lab(
            actor=actor, project=project, annotation_id=annotation_id
        )
        return Response(LabAnnotationDetailSerializer(annotation).data)


class ProjectAnnotationReviewView(LabApiView):
    serializer_class = ReviewSerializer

    @extend_schema(
        summary="Review an annotation",
        description=(
            "`accept`, `reject` or `revise` (send back to the expert). Rejecting and sending "
            "back need `feedback`; the expert is notified. Accepting twice changes nothing. "
            "409 when the annotation's state forbids the decision."
        ),
        request=ReviewSerializer,
        responses={
            200: LabAnnotationDetailSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request: Request, project_id: UUID, annotation_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        annotation = review_selectors.annotation_for_lab(
            actor=actor, project=project, annotation_id=annotation_id
        )
        actor.require_manager("review annotations")
        serializer = ReviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review.annotation_review(actor=actor, annotation=annotation, **serializer.validated_data)
        return Response(_lab_annotation_data(project, actor, annotation))


class ProjectAnnotationAcceptView(LabApiView):
    serializer_class = BulkAcceptSerializer

    @extend_schema(
        summary="Accept several annotations",
        description=(
            "Accepts every listed annotation of the project that waits for review, in one "
            "transaction; the others are left as they are."
        ),
        request=BulkAcceptSerializer,
        responses={200: BulkAcceptedSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def post(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        actor.require_manager("review annotations")
        serializer = BulkAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        accepted = review.annotations_accept_bulk(
            actor=actor, project=project, annotation_ids=serializer.validated_data["annotations"]
        )
        return Response(BulkAcceptedSerializer({"accepted": accepted}).data)


class ProjectEdgeCaseListView(LabApiView):
    serializer_class = LabAnnotationSerializer

    @extend_schema(
        summary="Flagged edge cases",
        description="Annotations the expert flagged as edge cases, with their notes.",
        parameters=[
            OpenApiParameter(
                "resolved",
                OpenApiTypes.STR,
                description="Default `no` (open ones); `yes` for answered ones, `all` for both.",
            )
        ],
        responses={200: LabAnnotationSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        resolved = review_selectors.resolved_filter_from(request.query_params.get("resolved"))
        rows = review_selectors.edge_cases(project=project, resolved=resolved)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(LabAnnotationSerializer(page, many=True).data)


class ProjectEdgeCaseResolveView(LabApiView):
    serializer_class = EdgeCaseResolveSerializer

    @extend_schema(
        summary="Resolve an edge case",
        description=(
            "Marks the flagged case as handled; a `reply` is sent to the expert. Resolving "
            "again changes nothing. 409 when the annotation is not flagged."
        ),
        request=EdgeCaseResolveSerializer,
        responses={
            200: LabAnnotationDetailSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request: Request, project_id: UUID, annotation_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        annotation = review_selectors.annotation_for_lab(
            actor=actor, project=project, annotation_id=annotation_id
        )
        actor.require_manager("answer edge cases")
        serializer = EdgeCaseResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review.edge_case_resolve(
            actor=actor, annotation=annotation, reply=serializer.validated_data["reply"]
        )
        return Response(_lab_annotation_data(project, actor, annotation))
