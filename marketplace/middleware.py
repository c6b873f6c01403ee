"""Request guards shared by every page."""

from collections.abc import Callable

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

STAFF_PATH_PREFIXES = ("/staff/", "/admin/")


class StaffMFARequiredMiddleware:
    """Keep staff pages (the console and the Django admin) closed until TOTP is on.

    allauth's MFA is optional per user; staff must not be able to skip it. A logged-in user
    who is not staff gets a 404 for the console and the admin, which tells them nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(STAFF_PATH_PREFIXES) and request.user.is_authenticated:
            if not request.user.is_staff:
                raise Http404()
            if not is_mfa_enabled(request.user, [Authenticator.Type.TOTP]):
                messages.warning(
                    request,
                    "Staff pages need two-factor authentication. Set up an authenticator app "
                    "to continue.",
                )
                return redirect("mfa_activate_totp")
        return self.get_response(request)
