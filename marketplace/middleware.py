"""Request guards shared by every page."""

from collections.abc import Callable

from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from marketplace.errors import NotFound
from marketplace.models import User

STAFF_PATH_PREFIXES = ("/staff/", "/admin/")


def session_passed_second_factor(request: HttpRequest, user: User, totp: Authenticator) -> bool:
    """Tell whether this session proved a second factor: a TOTP code at login or
    re-authentication, or turning TOTP on after it began (which itself needed a fresh login).
    """
    records = get_authentication_records(request, user)
    if any(record.get("method") == "mfa" for record in records):
        return True
    if not records:
        return False
    session_start = min(record.get("at", float("inf")) for record in records)
    return totp.created_at.timestamp() >= session_start


class StaffMFARequiredMiddleware:
    """Keep staff pages (the console and the Django admin) closed until TOTP is on and this
    session has proved it.

    allauth's MFA is optional per user; staff must not be able to skip it. A logged-in user
    who is not staff gets a 404 for the console and the admin, which tells them nothing.
    ``path_info`` is matched, not ``path``, so a deployment under a URL prefix stays guarded.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if request.path_info.startswith(STAFF_PATH_PREFIXES) and user.is_authenticated:
            if not user.is_staff:
                raise Http404()
            totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
            if totp is None:
                messages.warning(
                    request,
                    "Staff pages need two-factor authentication. Set up an authenticator app "
                    "to continue.",
                )
                return redirect("mfa_activate_totp")
            if not session_passed_second_factor(request, user, totp):  # type: ignore[arg-type]
                messages.info(request, "Confirm it's you with your authenticator code.")
                return redirect(f"{reverse('mfa_reauthenticate')}?next={request.path}")
        return self.get_response(request)


class NotFoundMiddleware:
    """Answer 404 for a domain NotFound that a view lets through: selectors and services raise
    it for anything outside the caller's scope, so views need no try/except to say so."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if isinstance(exception, NotFound):
            raise Http404() from exception
