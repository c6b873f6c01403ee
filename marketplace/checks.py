"""System checks that refuse to start without the protections every page relies on."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"
UPLOAD_LIMIT_SETTINGS = (
    "DATA_UPLOAD_MAX_MEMORY_SIZE",
    "FILE_UPLOAD_MAX_MEMORY_SIZE",
    "MAX_DOCUMENT_UPLOAD_SIZE",
    "MAX_UPLOAD_SIZE",
)


@register("security")
def check_security_baseline(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    if CSP_MIDDLEWARE not in settings.MIDDLEWARE:
        errors.append(
            Error(
                "The Content-Security-Policy middleware is missing.",
                hint=f"Add {CSP_MIDDLEWARE!r} to MIDDLEWARE.",
                id="marketplace.E001",
            )
        )
    directives = getattr(settings, "CONTENT_SECURITY_POLICY", {}).get("DIRECTIVES", {})
    if "'unsafe-inline'" in directives.get("script-src", []):
        errors.append(
            Error(
                "The Content-Security-Policy allows inline scripts.",
                hint="Serve every script from a static file.",
                id="marketplace.E002",
            )
        )
    for name in UPLOAD_LIMIT_SETTINGS:
        value = getattr(settings, name, None)
        if not isinstance(value, int) or value <= 0:
            errors.append(
                Error(
                    f"{name} must be a positive number of bytes.",
                    hint="Uploads must be capped in size.",
                    id="marketplace.E003",
                )
            )
    if "marketplace.middleware.StaffMFARequiredMiddleware" not in settings.MIDDLEWARE:
        errors.append(
            Error(
                "Staff pages are not protected by two-factor authentication.",
                hint="Add 'marketplace.middleware.StaffMFARequiredMiddleware' to MIDDLEWARE.",
                id="marketplace.E004",
            )
        )
    if "marketplace.uploads.CappedUploadHandler" not in settings.FILE_UPLOAD_HANDLERS:
        errors.append(
            Error(
                "Uploads are not capped while they are received.",
                hint="Put 'marketplace.uploads.CappedUploadHandler' first in FILE_UPLOAD_HANDLERS.",
                id="marketplace.E006",
            )
        )
    if "DummyCache" in settings.CACHES.get("default", {}).get("BACKEND", ""):
        errors.append(
            Error(
                "The default cache is the dummy cache, so login rate limits do nothing.",
                hint="Use Redis (REDIS_URL) or at least the local-memory cache.",
                id="marketplace.E005",
            )
        )
    return errors
