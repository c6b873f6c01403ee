"""Reads scoped to the caller. Anything outside the caller's scope raises NotFound."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from marketplace.errors import NotFound
from marketplace.models import (
    ApiKey,
    AuditEvent,
    LabInvitation,
    Membership,
    Notification,
    Organization,
    User,
)
from marketplace.states import InvitationStatus


def membership_for_user(*, user: User, organization_slug: str) -> Membership:
    """Return the caller's membership in the organisation, or raise NotFound."""
    if not user.is_authenticated:
        raise NotFound()
    try:
        return Membership.objects.select_related("organization").get(
            user=user, organization__slug=organization_slug
        )
    except Membership.DoesNotExist:
        raise NotFound() from None


def memberships_of_user(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def organization_members(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__email")
    )


def organization_pending_invitations(*, organization: Organization) -> QuerySet[LabInvitation]:
    return LabInvitation.objects.filter(
        organization=organization, status=InvitationStatus.PENDING
    ).select_related("invited_by")


def organization_api_keys(*, organization: Organization) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization=organization).select_related("created_by")


def organization_audit_events(*, organization: Organization, limit: int = 20) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(organization=organization).select_related("actor")[:limit]
    )


def pending_invitations_for_email(*, email: str) -> QuerySet[LabInvitation]:
    return LabInvitation.objects.filter(
        email__iexact=email, status=InvitationStatus.PENDING, expires_at__gt=timezone.now()
    ).select_related("organization")


def notifications_for_user(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user)


def notification_for_user(*, user: User, notification_id: int) -> Notification:
    try:
        return Notification.objects.get(recipient=user, pk=notification_id)
    except Notification.DoesNotExist:
        raise NotFound() from None


def unread_notification_count(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def audit_events_for_staff(
    *, action: str = "", query: str = "", organization_slug: str = ""
) -> QuerySet[AuditEvent]:
    """Audit events across the platform, newest first. Staff only: check before calling.

    ``action`` matches a prefix (``membership`` or ``membership.remove``); ``query`` matches
    the actor's e-mail or the target's description.
    """
    events = AuditEvent.objects.select_related("actor", "organization")
    if action:
        events = events.filter(action__startswith=action)
    if query:
        events = events.filter(Q(actor__email__icontains=query) | Q(target_repr__icontains=query))
    if organization_slug:
        events = events.filter(organization__slug=organization_slug)
    return events


def audit_action_names() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())
