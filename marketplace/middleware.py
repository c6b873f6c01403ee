"""Request guards shared by every page."""

from collections.abc import Callable

from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from allauth.mfa.models import Authenticator

STAFF_PATH_PREFIXES = ("/staff/", "/admin/")


class StaffMFARequiredMiddleware:
    """Keep staff pages (the console and the Django admin) closed until TOTP is on.

    allauth's MFA is optional per user; staff must not be able to skip it. Anyone who is not
    staff gets a 404 for the console, so its existence tells an outsider nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(STAFF_PATH_PREFIXES) and request.user.is_authenticated:
            if request.path.startswith("/staff/") and not request.user.is_staff:
                raise Http404()
            if request.user.is_staff and not is_mfa_enabled(
                request.user, [Authenticator.Type.TOTP]
            ):
                messages.warning(
                    request,
                    "Staff pages need two-factor authentication. Set up an authenticator app "
                    "to continue.",
                )
                return redirect("mfa_activate_totp")
        return self.get_response(request)
