"""The lab REST API for experts on projects: invitations (list, invite directly, withdraw),
more seats, and the lab's excluded experts. Mounted under /api/v1/ beside projects/api.py,
with the same callers, scoping (404 outside the caller's organisation) and error mapping."""

from __future__ import annotations

from uuid import UUID

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.views import client_ip
from projects.api import (
    BAD_INPUT,
    CONFLICT,
    FORBIDDEN,
    NOT_FOUND,
    ORGANIZATION_PARAMETER,
    LabApiView,
    named_organization,
    organization_actor,
    project_and_actor,
    project_data,
)
from projects.matching import selectors as matching_selectors
from projects.matching import services as matching_services
from projects.matching.models import ProjectInvitation
from projects.models import Project
from projects.serializers import ProjectSerializer
from projects.serializers_matching import (
    DirectInviteSerializer,
    ExclusionCreateSerializer,
    ExclusionSerializer,
    InvitationFilterSerializer,
    InvitationSerializer,
    SeatsAddSerializer,
)
from projects.states import InvitationStatus


def _ip(request: Request) -> str | None:
    return client_ip(request._request)


def _invitation_data(project: Project, invitation: ProjectInvitation) -> object:
    """The invitation as the list shows it (pseudonym, credentials), read again."""
    invitations = matching_selectors.seat_invitations(project=project).filter(pk=invitation.pk)
    rows = matching_selectors.seat_rows(project=project, invitations=invitations)
    if not rows:
        raise Http404()
    return InvitationSerializer(rows[0]).data


class ProjectInvitationListView(LabApiView):
    serializer_class = InvitationSerializer

    @extend_schema(
        summary="List a project's invitations",
        description=(
            "Every seat offered on the project, newest first: the expert under a pseudonym "
            "with their verified credentials, the fit score and its components (why the "
            "expert was invited), and the answer. Never names, e-mails or documents."
        ),
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=InvitationStatus.values),
        ],
        responses={200: InvitationSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        filters = InvitationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        invitations = matching_selectors.seat_invitations(
            project=project, status=filters.validated_data.get("status")
        )
        page = self.paginate_queryset(invitations)
        rows = matching_selectors.seat_rows(project=project, invitations=page or [])
        return self.get_paginated_response(InvitationSerializer(rows, many=True).data)

    @extend_schema(
        summary="Invite a specific expert",
        description=(
            "Offers a seat on a live project to the expert with this pseudonymous id. The "
            "expert must meet the project's requirements like any invited expert (400 names "
            "the rules they fail); one who declined before may be asked again. 409 when the "
            "project is not live or every seat is taken or offered."
        ),
        request=DirectInviteSerializer,
        responses={
            201: InvitationSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        serializer = DirectInviteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = matching_services.invitation_direct_create(
            actor=actor,
            project=project,
            expert_public_id=str(serializer.validated_data["expert_id"]),
            ip_address=_ip(request),
        )
        return Response(_invitation_data(project, invitation), status=status.HTTP_201_CREATED)


class ProjectInvitationWithdrawView(LabApiView):
    serializer_class = InvitationSerializer

    @extend_schema(
        summary="Withdraw a pending invitation",
        description="Its seat goes back to the next matching run. 409 unless pending.",
        request=None,
        responses={200: InvitationSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT},
    )
    def post(self, request: Request, project_id: UUID, invitation_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        invitation = matching_selectors.invitation_for_lab(
            actor=actor, public_id=invitation_id, project=project
        )
        invitation = matching_services.invitation_withdraw(
            actor=actor, invitation=invitation, ip_address=_ip(request)
        )
        return Response(_invitation_data(project, invitation))


class ProjectSeatsView(LabApiView):
    serializer_class = ProjectSerializer

    @extend_schema(
        summary="Ask for more seats",
        description=(
            "Adds seats to a live project (1 to 500 at a time); the next matching run "
            "invites experts for them. Answers the project with its new `seats`."
        ),
        request=SeatsAddSerializer,
        responses={
            200: ProjectSerializer,
            400: BAD_INPUT,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def post(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        serializer = SeatsAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = matching_services.project_seats_add(
            actor=actor,
            project=project,
            seats=serializer.validated_data["add"],
            ip_address=_ip(request),
        )
        return Response(project_data(request, project))


class ExclusionListView(LabApiView):
    serializer_class = ExclusionSerializer

    @extend_schema(
        summary="List excluded experts",
        description="Experts matching never invites to the organisation's projects.",
        parameters=[ORGANIZATION_PARAMETER],
        responses={200: ExclusionSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND},
    )
    def get(self, request: Request) -> Response:
        actor = organization_actor(request, request.query_params.get("organization"))
        exclusions = matching_selectors.lab_exclusions(organization=actor.organization)
        page = self.paginate_queryset(exclusions)
        return self.get_paginated_response(ExclusionSerializer(page, many=True).data)

    @extend_schema(
        summary="Exclude an expert from all the organisation's projects",
        description=(
            "The expert's pending invitations to the organisation's projects are withdrawn "
            "and they leave its live projects. Excluding an expert twice returns the first "
            "exclusion."
        ),
        request=ExclusionCreateSerializer,
        responses={201: ExclusionSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def post(self, request: Request) -> Response:
        actor = organization_actor(request, named_organization(request))
        serializer = ExclusionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        exclusion = matching_services.lab_exclusion_create(
            actor=actor,
            expert_public_id=str(serializer.validated_data["expert_id"]),
            reason=serializer.validated_data["reason"],
            ip_address=_ip(request),
        )
        exclusion = matching_selectors.exclusion_for_lab(actor=actor, exclusion_id=exclusion.pk)
        return Response(ExclusionSerializer(exclusion).data, status=status.HTTP_201_CREATED)


class ExclusionDetailView(LabApiView):
    serializer_class = ExclusionSerializer

    @extend_schema(
        summary="Remove an exclusion",
        description="Matching may invite the expert to the organisation's projects again.",
        parameters=[ORGANIZATION_PARAMETER],
        request=None,
        responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def delete(self, request: Request, exclusion_id: int) -> Response:
        actor = organization_actor(request, request.query_params.get("organization"))
        exclusion = matching_selectors.exclusion_for_lab(actor=actor, exclusion_id=exclusion_id)
        matching_services.lab_exclusion_remove(
            actor=actor, exclusion=exclusion, ip_address=_ip(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
