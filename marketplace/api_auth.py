"""API authentication by organisation key, and throttling per client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from marketplace.models import ApiKey, Organization
from marketplace.services import api_key_authenticate

KEYWORDS = ("api-key", "bearer")


@dataclass(frozen=True)
class OrganizationClient:
    """The principal of a request made with an organisation API key (not a person)."""

    organization: Organization
    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_staff: bool = False
    is_active: bool = True

    @property
    def pk(self) -> None:
        return None

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix} of {self.organization}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>` (or `Bearer <key>`) authenticates as the organisation."""

    def authenticate(self, request: Request) -> tuple[OrganizationClient, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, secret = header.strip().partition(" ")
        if keyword.lower() not in KEYWORDS:
            return None
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("The Authorization header has no key.")
        api_key = api_key_authenticate(secret=secret)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return OrganizationClient(organization=api_key.organization, api_key=api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Api-Key realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "marketplace.api_auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`, created in the lab settings page.",
        }


class ClientRateThrottle(SimpleRateThrottle):
    """One budget per API key, per logged-in user, or per IP address."""

    scope = "client"

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = request.user
        if isinstance(user, OrganizationClient):
            ident = f"key:{user.api_key.pk}"
        elif user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
