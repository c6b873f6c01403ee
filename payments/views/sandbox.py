"""The offline sandbox's hosted pages: a checkout and a Connect onboarding of our own.

They exist only with ``PAYMENTS_PROVIDER = "offline"``. Their buttons raise the events Stripe
would send, handled by the same webhook code, so the whole flow can be tried without a network.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from marketplace.errors import NotFound
from marketplace.http import AuthenticatedHttpRequest
from marketplace.selectors import membership_for_user
from payments.models import LabFunding, SandboxObject
from payments.providers.offline import NAME as OFFLINE
from payments.providers.offline import sandbox_checkout_pay, sandbox_onboarding_finish
from projects.access import lab_actor_for_membership
from projects.pricing import format_dollars

EARNINGS_PATH = "/expert/earnings/"


def _require_sandbox() -> None:
    if settings.PAYMENTS_PROVIDER != OFFLINE:
        raise Http404()


def _session_for_manager(
    request: AuthenticatedHttpRequest, session_id: str
) -> tuple[SandboxObject, LabFunding]:
    """The session and its funding, for a manager of the funding's lab; 404 for anyone else."""
    stored = SandboxObject.objects.filter(kind="checkout_session", object_id=session_id).first()
    if stored is None:
        raise Http404()
    try:
        public_id = uuid.UUID(str(stored.data.get("funding_id", "")))
    except ValueError:
        raise Http404() from None
    funding = LabFunding.objects.select_related("organization").filter(public_id=public_id).first()
    if funding is None:
        raise Http404()
    try:
        membership = membership_for_user(
            user=request.user, organization_slug=funding.organization.slug
        )
    except NotFound:
        raise Http404() from None
    if not lab_actor_for_membership(membership, request.user).can_manage:
        raise Http404()
    return stored, funding


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_checkout(request: AuthenticatedHttpRequest, session_id: str) -> HttpResponse:
    """Pay or cancel a sandbox Checkout session."""
    _require_sandbox()
    stored, funding = _session_for_manager(request, session_id)
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            return HttpResponseRedirect(str(stored.data.get("cancel_url") or "/"))
        return HttpResponseRedirect(sandbox_checkout_pay(session_id=stored.object_id))
    context = {
        "session": stored,
        "funding": funding,
        "organization": funding.organization,
        "amount": format_dollars(int(stored.data["amount_total"])),
        "complete": stored.data.get("status") == "complete",
    }
    return render(request, "payments/sandbox/checkout.html", context)


def _return_url(request: AuthenticatedHttpRequest, raw: str) -> str:
    if raw and url_has_allowed_host_and_scheme(
        raw, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return raw
    return EARNINGS_PATH


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_onboarding(request: AuthenticatedHttpRequest, account_id: str) -> HttpResponse:
    """Finish a sandbox Connect onboarding, as an account that takes transfers or not."""
    _require_sandbox()
    stored = SandboxObject.objects.filter(kind="account", object_id=account_id).first()
    if stored is None or str(stored.data.get("user_id")) != str(request.user.pk):
        raise Http404()
    return_url = _return_url(
        request, request.POST.get("return_url") or request.GET.get("return_url", "")
    )
    if request.method == "POST":
        sandbox_onboarding_finish(
            account_id=stored.object_id, rejects_transfers=request.POST.get("action") == "reject"
        )
        return HttpResponseRedirect(return_url)
    context = {"account": stored, "return_url": return_url}
    return render(request, "payments/sandbox/onboarding.html", context)


urlpatterns: list[URLPattern] = [
    path("payments/sandbox/checkout/<str:session_id>/", sandbox_checkout, name="sandbox_checkout"),
    path(
        "payments/sandbox/onboarding/<str:account_id>/",
        sandbox_onboarding,
        name="sandbox_onboarding",
    ),
]
