"""REST API of the experts app: the expert's own profile and credentials, and a read-only
summary of any expert for staff. Mounted under /api/v1/experts/."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from allauth.mfa.models import Authenticator
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from experts import selectors, services
from experts.models import Credential, DomainQualification, ExpertDomain, ExpertProfile
from experts.serializers import (
    CredentialSerializer,
    ExpertProfileSerializer,
    ExpertProfileUpdateSerializer,
    ExpertSummarySerializer,
)
from experts.services.profile import PROFILE_FIELDS
from marketplace.api import IsPerson
from marketplace.api_auth import OrganizationClient
from marketplace.middleware import session_passed_second_factor
from marketplace.models import User
from marketplace.states import UserRole


def _expert_or_404(request: Request) -> User:
    """The logged-in expert; anyone else is outside the scope of these endpoints."""
    user = request.user
    if isinstance(user, OrganizationClient) or getattr(user, "role", None) != UserRole.EXPERT:
        raise Http404()
    return user  # type: ignore[return-value]


def _staff_or_404(request: Request) -> User:
    """A staff member whose session proved the second factor, like the staff pages ask."""
    user = request.user
    if isinstance(user, OrganizationClient) or not user.is_staff:
        raise Http404()
    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if totp is None or not session_passed_second_factor(request._request, user, totp):  # type: ignore[arg-type]
        raise exceptions.PermissionDenied(
            "Staff endpoints need a session confirmed with your authenticator code. "
            "Log in again with two-factor authentication."
        )
    return user  # type: ignore[return-value]


class ExpertMeView(APIView):
    """The logged-in expert's own profile."""

    permission_classes = [IsPerson]
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(responses=ExpertProfileSerializer, summary="Your expert profile")
    def get(self, request: Request) -> Response:
        expert = _expert_or_404(request)
        profile = selectors.profile_of(expert=expert) or ExpertProfile(user=expert)
        return Response(ExpertProfileSerializer(profile).data)

    @extend_schema(
        request=ExpertProfileUpdateSerializer,
        responses=ExpertProfileSerializer,
        summary="Change your expert profile",
        description=(
            "Fields left out keep their value. `languages` and `domains`, when given, replace "
            "the whole list. A refusal changes nothing and names the field at fault."
        ),
    )
    def patch(self, request: Request) -> Response:
        expert = _expert_or_404(request)
        serializer = ExpertProfileUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes: dict[str, Any] = serializer.validated_data
        current = selectors.profile_of(expert=expert)
        data: dict[str, Any] = {}
        languages: list[tuple[str, str]] = []
        domains: list[Any] = []
        if current is not None:
            data = {field: getattr(current, field) for field in PROFILE_FIELDS}
            languages = [(row.language, row.proficiency) for row in current.languages.all()]
            domains = [(row.domain, row.seniority) for row in current.domains.all()]
        data.update({field: changes[field] for field in PROFILE_FIELDS if field in changes})
        services.profile_update(
            expert=expert,
            data=data,
            languages=changes.get("languages", languages),
            domains=changes.get("domains", domains),
        )
        profile = selectors.profile_of(expert=expert)
        return Response(ExpertProfileSerializer(profile).data)


@extend_schema(summary="Your credentials")
class ExpertCredentialListView(generics.ListAPIView):
    """The logged-in expert's own credentials with their documents, newest first.

    Adding and editing credentials happens in the browser, where documents are uploaded.
    """

    serializer_class = CredentialSerializer
    permission_classes = [IsPerson]
    pagination_class = None

    def get_queryset(self) -> QuerySet[Credential]:
        return selectors.credentials_of_expert(expert=_expert_or_404(self.request))


def _expert_summary(public_id: UUID) -> dict[str, Any]:
    """Everything the staff summary shows, in a fixed number of queries."""
    try:
        profile = (
            ExpertProfile.objects.select_related("user")
            .prefetch_related(
                "languages",
                Prefetch("domains", queryset=ExpertDomain.objects.select_related("domain__parent")),
            )
            .get(public_id=public_id, user__role=UserRole.EXPERT)
        )
    except ExpertProfile.DoesNotExist:
        raise Http404() from None
    expert = profile.user
    credentials = Credential.objects.filter(expert=expert).prefetch_related("domains")
    qualifications = DomainQualification.objects.filter(expert=expert).select_related(
        "domain__parent"
    )
    return {
        "public_id": profile.public_id,
        "name": expert.full_name,
        "headline": profile.headline,
        "country": profile.country,
        "languages": profile.languages.all(),
        "domains": profile.domains.all(),
        "vetted_domains": selectors.vetted_domains_of_expert(expert=expert),
        "credentials": credentials.order_by("-created_at"),
        "qualifications": qualifications.order_by("domain__name"),
    }


class ExpertSummaryView(APIView):
    """Staff only: a read-only summary of an expert, found by their public id."""

    permission_classes = [IsPerson]

    @extend_schema(responses=ExpertSummarySerializer, summary="An expert's summary (staff)")
    def get(self, request: Request, public_id: UUID) -> Response:
        _staff_or_404(request)
        return Response(ExpertSummarySerializer(_expert_summary(public_id)).data)
