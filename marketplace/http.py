"""Request types for views that only run for logged-in users, and showing refusals."""

from django.contrib import messages
from django.http import Http404, HttpRequest
from django_htmx.middleware import HtmxDetails

from marketplace.errors import DomainError, NotFound
from marketplace.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request behind ``login_required``: the user is a real, logged-in ``User``."""

    user: User
    htmx: HtmxDetails


def report(request: HttpRequest, error: DomainError) -> None:
    """Show a service's refusal as a message; an object outside the scope is a 404."""
    if isinstance(error, NotFound):
        raise Http404()
    messages.error(request, error.message)
