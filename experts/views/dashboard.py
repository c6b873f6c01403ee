from allauth.mfa.utils import is_mfa_enabled
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from marketplace import selectors
from marketplace.http import AuthenticatedHttpRequest
from marketplace.states import UserRole

ONBOARDING_STEPS = [
    ("Verify your e-mail address", True),
    ("Turn on two-factor authentication", None),
    ("Build your profile: domains, languages, availability", False),
    ("Upload a credential for vetting", False),
    ("Pass a domain qualification test", False),
]


@login_required
@require_GET
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The expert's home: onboarding progress and the latest notifications."""
    user = request.user
    if user.role != UserRole.EXPERT:
        raise Http404()
    mfa_on = is_mfa_enabled(user)
    steps = [(label, mfa_on if done is None else done) for label, done in ONBOARDING_STEPS]
    context = {
        "steps": steps,
        "steps_done": sum(1 for _, done in steps if done),
        "notifications": list(selectors.notifications_for_user(user=user)[:5]),
    }
    return render(request, "experts/dashboard.html", context)


urlpatterns = [path("", dashboard, name="dashboard")]
