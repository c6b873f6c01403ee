"""REST API of the core app, mounted under /api/v1/."""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from marketplace import selectors
from marketplace.api_auth import OrganizationClient
from marketplace.models import Organization, User
from marketplace.serializers import (
    NotificationSerializer,
    OrganizationSerializer,
    WhoAmISerializer,
)


class IsPerson(permissions.BasePermission):
    """Endpoints about a person (not reachable with an organisation key)."""

    message = "This endpoint needs a logged-in user, not an API key."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and not isinstance(request.user, OrganizationClient)
        )


class ApiRootView(APIView):
    """The entry point: links to every resource of version 1."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(exclude=True)
    def get(self, request: Request, format: str | None = None) -> Response:
        return Response(
            {
                "me": reverse("api:me", request=request, format=format),
                "organizations": reverse("api:organization-list", request=request, format=format),
                "notifications": reverse("api:notification-list", request=request, format=format),
                "expert_profile": reverse("api:expert-me", request=request, format=format),
                "expert_credentials": reverse(
                    "api:expert-credential-list", request=request, format=format
                ),
                "projects": reverse("api:project-list", request=request, format=format),
                "task_types": reverse("api:task-type-list", request=request, format=format),
                "webhooks": reverse("api:webhook-list", request=request, format=format),
                "schema": reverse("api_schema", request=request),
                "docs": reverse("api_docs", request=request),
            }
        )


def organizations_for_client(user: Any) -> list[Organization]:
    if isinstance(user, OrganizationClient):
        return [user.organization]
    return [m.organization for m in selectors.memberships_of_user(user=user)]


class WhoAmIView(APIView):
    """Who the request is authenticated as: a person or an organisation's API key."""

    @extend_schema(responses=WhoAmISerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        if isinstance(user, OrganizationClient):
            data = {
                "kind": "api_key",
                "email": None,
                "role": None,
                "organizations": [user.organization],
                "api_key_prefix": user.api_key.prefix,
            }
        else:
            person = cast(User, user)  # IsAuthenticated let only a logged-in person through
            data = {
                "kind": "user",
                "email": person.email,
                "role": person.role,
                "organizations": organizations_for_client(user),
                "api_key_prefix": None,
            }
        return Response(WhoAmISerializer(data).data)


class OrganizationListView(generics.ListAPIView):
    """Organisations the caller belongs to (an API key sees its own only)."""

    serializer_class = OrganizationSerializer
    pagination_class = None

    def get_queryset(self) -> list[Organization]:  # type: ignore[override]
        return organizations_for_client(self.request.user)


class NotificationListView(generics.ListAPIView):
    """The logged-in user's notifications, newest first."""

    serializer_class = NotificationSerializer
    permission_classes = [IsPerson]

    def get_queryset(self) -> Any:
        return selectors.notifications_for_user(user=cast(User, self.request.user))
