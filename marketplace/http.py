"""Request types for views that only run for logged-in users."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from marketplace.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """A request behind ``login_required``: the user is a real, logged-in ``User``."""

    user: User
    htmx: HtmxDetails
