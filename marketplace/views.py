"""HTML pages of the core app: home, dashboards, labs, notifications, staff console, health."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.views import SignupView
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from marketplace import selectors, services
from marketplace.errors import DomainError, PermissionDenied
from marketplace.forms import ApiKeyForm, InvitationForm, MembershipRoleForm, OrganizationForm
from marketplace.http import AuthenticatedHttpRequest, report
from marketplace.models import Membership, User
from marketplace.states import (
    ROLES_THAT_MANAGE_API_KEYS,
    ROLES_THAT_MANAGE_MEMBERS,
    InvitationStatus,
    MembershipRole,
    UserRole,
)
from projects.selectors import organization_project_totals


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, honouring ALLAUTH_TRUSTED_PROXY_COUNT behind a proxy."""
    return get_account_adapter(request).get_client_ip(request) or None


def _membership_or_404(request: AuthenticatedHttpRequest, slug: str) -> Membership:
    return selectors.membership_for_user(user=request.user, organization_slug=slug)


class RoleSignupView(SignupView):
    """allauth's sign-up, preselecting the role the visitor came for (``?role=lab``)."""

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        if self.request.GET.get("role") in (UserRole.EXPERT, UserRole.LAB):
            initial["role"] = self.request.GET["role"]
        return initial


signup = RoleSignupView.as_view()


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "marketplace/home.html")


@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Send each user to the dashboard that fits their role."""
    user = request.user
    if user.is_staff:
        return redirect("staff_dashboard")
    if user.role == UserRole.LAB:
        memberships = list(selectors.memberships_of_user(user=user))
        if len(memberships) == 1:
            return redirect("lab_dashboard", memberships[0].organization.slug)
        return redirect("lab_home")
    return redirect("experts:dashboard")


# Labs ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def lab_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A lab member's organisations, pending invitations, and a form to create one."""
    user = request.user
    if user.role != UserRole.LAB:
        raise Http404()
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.organization_create(
                user=user, name=form.cleaned_data["name"], ip_address=client_ip(request)
            )
        except DomainError as error:
            report(request, error)
        else:
            messages.success(request, f"{organization.name} is ready. Invite your colleagues.")
            return redirect("lab_dashboard", organization.slug)
    context = {
        "form": form,
        "memberships": selectors.memberships_of_user(user=user),
        "invitations": selectors.pending_invitations_for_email(email=user.email),
    }
    return render(request, "marketplace/lab_home.html", context)


@login_required
@require_GET
def lab_dashboard(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    membership = _membership_or_404(request, slug)
    organization = membership.organization
    totals = organization_project_totals(organization=organization)
    context = {
        "membership": membership,
        "organization": organization,
        "member_count": selectors.organization_members(organization=organization).count(),
        "active_project_count": totals["active"],
        "funded_cents": totals["funded_cents"],
        "events": selectors.organization_audit_events(organization=organization, limit=10),
    }
    return render(request, "marketplace/lab_dashboard.html", context)


@login_required
@require_GET
def lab_members(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    membership = _membership_or_404(request, slug)
    organization = membership.organization
    context = {
        "membership": membership,
        "organization": organization,
        "can_manage": membership.role in ROLES_THAT_MANAGE_MEMBERS,
        "members": selectors.organization_members(organization=organization),
        "invitations": selectors.organization_pending_invitations(organization=organization),
        "invite_form": InvitationForm(),
        "role_choices": MembershipRole.choices,
    }
    return render(request, "marketplace/lab_members.html", context)


@login_required
@require_POST
def lab_invite(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    membership = _membership_or_404(request, slug)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(error) for error in errors))
        return redirect("lab_members", slug)
    try:
        invitation = services.invitation_create(
            membership=membership,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            ip_address=client_ip(request),
        )
    except DomainError as error:
        report(request, error)
    else:
        messages.success(request, f"Invitation sent to {invitation.email}.")
    return redirect("lab_members", slug)


@login_required
@require_POST
def lab_invitation_revoke(
    request: AuthenticatedHttpRequest, slug: str, invitation_id: int
) -> HttpResponse:
    membership = _membership_or_404(request, slug)
    try:
        invitation = services.invitation_revoke(
            membership=membership, invitation_id=invitation_id, ip_address=client_ip(request)
        )
    except DomainError as error:
        report(request, error)
    else:
        messages.success(request, f"The invitation for {invitation.email} is revoked.")
    return redirect("lab_members", slug)


@login_required
@require_POST
def lab_member_role(request: AuthenticatedHttpRequest, slug: str, member_id: int) -> HttpResponse:
    membership = _membership_or_404(request, slug)
    form = MembershipRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose owner, manager or viewer.")
        return redirect("lab_members", slug)
    try:
        changed = services.membership_change_role(
            membership=membership,
            member_id=member_id,
            role=form.cleaned_data["role"],
            ip_address=client_ip(request),
        )
    except PermissionDenied as error:
        return render(
            request,
            "marketplace/forbidden.html",
            {"message": error.message, "back": reverse("lab_members", args=[slug])},
            status=403,
        )
    except DomainError as error:
        report(request, error)
    else:
        messages.success(
            request, f"{changed.user.email} is now {changed.get_role_display().lower()}."
        )
    return redirect("lab_members", slug)


def _welcome(request: HttpRequest, joined: Membership) -> HttpResponse:
    role = joined.get_role_display().lower()
    messages.success(request, f"Welcome to {joined.organization.name}. You are a {role}.")
    return redirect("lab_dashboard", joined.organization.slug)


@login_required
@require_POST
def lab_invitation_accept_pending(
    request: AuthenticatedHttpRequest, invitation_id: int
) -> HttpResponse:
    """Accept an invitation addressed to the caller's verified e-mail, from their lab page."""
    try:
        joined = services.invitation_accept(
            user=request.user, invitation_id=invitation_id, ip_address=client_ip(request)
        )
    except DomainError as error:
        report(request, error)
        return redirect("lab_home")
    return _welcome(request, joined)


@login_required
@require_POST
def lab_member_remove(request: AuthenticatedHttpRequest, slug: str, member_id: int) -> HttpResponse:
    membership = _membership_or_404(request, slug)
    try:
        removed = services.membership_remove(
            membership=membership, member_id=member_id, ip_address=client_ip(request)
        )
    except DomainError as error:
        report(request, error)
        return redirect("lab_members", slug)
    if removed.user_id == request.user.pk:
        messages.success(request, f"You left {membership.organization.name}.")
        return redirect("lab_home")
    messages.success(request, f"{removed.user.email} was removed.")
    return redirect("lab_members", slug)


@never_cache
@require_http_methods(["GET", "POST"])
def lab_invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Show an invitation and let the invited person join. Unknown tokens answer 404."""
    invitation = services.invitation_for_token(token=token)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?next={request.path}")
        try:
            joined = services.invitation_accept(
                user=request.user, token=token, ip_address=client_ip(request)
            )
        except DomainError as error:
            report(request, error)
        else:
            return _welcome(request, joined)
    context = {
        "invitation": invitation,
        "usable": invitation.status == InvitationStatus.PENDING and not invitation.is_expired(),
        "email_matches": request.user.is_authenticated
        and request.user.email.lower() == invitation.email.lower(),
        "is_expert": request.user.is_authenticated and request.user.role != UserRole.LAB,
    }
    return render(request, "marketplace/invitation_accept.html", context)


@login_required
@require_GET
def lab_api_keys(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    membership = _membership_or_404(request, slug)
    return _render_api_keys(request, membership, ApiKeyForm(), new_secret=None)


def _render_api_keys(
    request: AuthenticatedHttpRequest,
    membership: Membership,
    form: ApiKeyForm,
    new_secret: str | None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "membership": membership,
        "organization": membership.organization,
        "can_manage": membership.role in ROLES_THAT_MANAGE_API_KEYS,
        "api_keys": selectors.organization_api_keys(organization=membership.organization),
        "form": form,
        "new_secret": new_secret,
    }
    response = render(request, "marketplace/lab_api_keys.html", context, status=status)
    # The page may hold a secret shown once: keep it out of every cache.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def lab_api_key_create(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    membership = _membership_or_404(request, slug)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _render_api_keys(request, membership, form, new_secret=None, status=400)
    try:
        issued = services.api_key_create(
            membership=membership, name=form.cleaned_data["name"], ip_address=client_ip(request)
        )
    except DomainError as error:
        report(request, error)
        return redirect("lab_api_keys", slug)
    messages.success(request, f"API key “{issued.api_key.name}” created.")
    return _render_api_keys(request, membership, ApiKeyForm(), new_secret=issued.secret)


@login_required
@require_POST
def lab_api_key_revoke(request: AuthenticatedHttpRequest, slug: str, key_id: int) -> HttpResponse:
    membership = _membership_or_404(request, slug)
    try:
        api_key = services.api_key_revoke(
            membership=membership, api_key_id=key_id, ip_address=client_ip(request)
        )
    except DomainError as error:
        report(request, error)
    else:
        messages.success(request, f"API key “{api_key.name}” revoked.")
    return redirect("lab_api_keys", slug)


# Notifications -------------------------------------------------------------------------


@login_required
@require_GET
def notification_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_for_user(user=request.user), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "marketplace/notifications.html", {"page": page})


@login_required
@require_POST
def notification_read(request: AuthenticatedHttpRequest, notification_id: int) -> HttpResponse:
    notification = selectors.notification_for_user(
        user=request.user, notification_id=notification_id
    )
    services.notification_mark_read(user=request.user, notification=notification)
    if request.htmx:
        # The row swaps in place; the navigation's unread badge updates out of band.
        return render(
            request, "marketplace/_notification.html", {"notification": notification, "oob": True}
        )
    if notification.link and url_has_allowed_host_and_scheme(
        notification.link, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(notification.link)
    return redirect("notification_list")


@login_required
@require_POST
def notification_read_all(request: AuthenticatedHttpRequest) -> HttpResponse:
    count = services.notifications_mark_all_read(user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("notification_list")


# Staff ---------------------------------------------------------------------------------


@login_required
@require_GET
def staff_dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The staff console's front page. StaffMFARequiredMiddleware guards every /staff/ path."""
    if not request.user.is_staff:
        raise Http404()
    role_counts = dict(
        User.objects.values_list("role").annotate(n=Count("id")).values_list("role", "n")
    )
    filters = {
        "action": request.GET.get("action", "").strip()[:64],
        "query": request.GET.get("q", "").strip()[:100],
    }
    events = selectors.audit_events_for_staff(action=filters["action"], query=filters["query"])
    context = {
        "role_counts": [(label, role_counts.get(value, 0)) for value, label in UserRole.choices],
        "page": Paginator(events, 50).get_page(request.GET.get("page")),
        "actions": selectors.audit_action_names(),
        "filters": filters,
    }
    return render(request, "marketplace/staff_dashboard.html", context)


# Health --------------------------------------------------------------------------------


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Report whether the database and, when configured, Redis answer."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception:
        checks["database"] = "error"
    if settings.REDIS_URL:
        try:
            cache.set("healthz", "1", timeout=5)
            checks["redis"] = "ok" if cache.get("healthz") == "1" else "error"
        except Exception:
            checks["redis"] = "error"
    else:
        checks["redis"] = "not configured"
    healthy = all(value in ("ok", "not configured") for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )
