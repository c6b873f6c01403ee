"""Writes for the core app: one function per use case, each transactional and audited."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator, slugify

from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import (
    ApiKey,
    AuditEvent,
    LabInvitation,
    Membership,
    Notification,
    Organization,
    User,
)
from marketplace.states import (
    ROLES_THAT_MANAGE_API_KEYS,
    ROLES_THAT_MANAGE_MEMBERS,
    InvitationStatus,
    MembershipRole,
    UserRole,
)

INVITATION_LIFETIME = timedelta(days=14)
MAX_PENDING_INVITATIONS = 100
INVITATIONS_PER_HOUR = 30
API_KEY_PREFIX = "mk"
EMAIL_BATCH = 200


def _digest(secret: str) -> str:
    # Keys and invitation tokens are 256-bit random strings: a plain SHA-256 digest cannot be
    # brute-forced, and unlike a password hash it can be looked up by equality.
    return hashlib.sha256(secret.encode()).hexdigest()


# Audit ---------------------------------------------------------------------------------


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: Model,
    organization: Organization | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append an audit event. Call inside the service's transaction."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        organization=organization,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:200],
        before=before or {},
        after=after or {},
        ip_address=ip_address,
    )


# Notifications -------------------------------------------------------------------------


def _require_local_link(link: str) -> None:
    # Links are paths on this site: never another host ("//evil.example", "/\\evil.example"),
    # since the page redirects to them and e-mails prefix them with SITE_URL.
    if link and (
        not link.startswith("/")
        or link.startswith(("//", "/\\"))
        or any(ch.isspace() or ord(ch) < 32 for ch in link)
    ):
        raise InvalidInput("A notification link must be a path on this site.", field="link")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def notification_create(
    *, recipient: User, kind: str, text: str, link: str = "", send_email: bool = True
) -> Notification:
    """Create an in-app notification; its e-mail is queued once the transaction commits."""
    from marketplace.tasks import send_notification_email

    _require_local_link(link)
    notification = Notification.objects.create(
        recipient=recipient, kind=kind, text=text[:500], link=link, send_email=send_email
    )
    if send_email:
        transaction.on_commit(lambda: send_notification_email.delay(notification.pk), robust=True)
    return notification


def notifications_create_bulk(notifications: list[Notification]) -> list[Notification]:
    """Create many unsaved notifications at once; their e-mails go out in batches after the
    transaction commits (a matching run notifies thousands of experts)."""
    for notification in notifications:
        _require_local_link(notification.link)
        notification.text = notification.text[:500]
    created = Notification.objects.bulk_create(notifications, batch_size=2000)
    notifications_email_queue([n.pk for n in created if n.send_email])
    return created


def notifications_email_queue(notification_ids: list[int]) -> None:
    """Send the e-mails of these notifications in batches once the transaction commits."""
    from marketplace.tasks import send_notification_emails

    for start in range(0, len(notification_ids), EMAIL_BATCH):
        transaction.on_commit(
            partial(send_notification_emails.delay, notification_ids[start : start + EMAIL_BATCH]),
            robust=True,
        )


def notification_mark_read(*, user: User, notification: Notification) -> Notification:
    if notification.recipient_id != user.pk:
        raise NotFound()
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at", "updated_at"])
    return notification


def notifications_mark_all_read(*, user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now(), updated_at=timezone.now()
    )


def notification_email_send(*, notification_id: int) -> bool:
    """Send a notification's e-mail unless it went already. Return whether one was sent.

    The row lock makes concurrent retries of the same task send at most one e-mail.
    """
    from django.conf import settings
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("recipient")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None or not notification.send_email or notification.emailed_at:
            return False
        link = f"{settings.SITE_URL}{notification.link}" if notification.link else ""
        context = {"notification": notification, "link": link, "site_url": settings.SITE_URL}
        send_mail(
            subject=(
                f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}"
                f"{Truncator(_one_line(notification.text)).chars(90)}"
            ),
            message=render_to_string("marketplace/email/notification.txt", context),
            from_email=None,
            recipient_list=[notification.recipient.email],
        )
        notification.emailed_at = timezone.now()
        notification.save(update_fields=["emailed_at", "updated_at"])
    return True


# Users ---------------------------------------------------------------------------------


def user_signup_complete(
    *, user: User, role: str, full_name: str = "", ip_address: str | None = None
) -> User:
    """Record the role chosen at sign-up. Staff is never chosen: staff grant it."""
    if role not in (UserRole.EXPERT, UserRole.LAB):
        raise InvalidInput("Choose whether you join as an expert or as a lab.", field="role")
    user.role = role
    user.full_name = _one_line(full_name)[:150]
    user.save(update_fields=["role", "full_name"])
    audit_record(
        actor=user, action="user.signup", target=user, after={"role": role}, ip_address=ip_address
    )
    return user


def user_login_record(*, user: User, ip_address: str | None = None) -> AuditEvent:
    """Record a completed login (after every factor the account requires)."""
    return audit_record(actor=user, action="user.login", target=user, ip_address=ip_address)


# Organisations -------------------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:120] or "lab"
    slug = base
    while Organization.objects.filter(slug=slug).exists():
        slug = f"{base}-{secrets.token_hex(3)}"
    return slug


def organization_create(*, user: User, name: str, ip_address: str | None = None) -> Organization:
    """Create a lab organisation with the caller as its owner."""
    name = name.strip()
    if not name:
        raise InvalidInput("Give your organisation a name.", field="name")
    if any(not ch.isprintable() for ch in name):
        raise InvalidInput("Use letters, digits and punctuation only in the name.", field="name")
    if len(name) > 120:
        raise InvalidInput("Keep the name under 120 characters.", field="name")
    if user.role != UserRole.LAB:
        raise PermissionDenied("Only lab accounts can create an organisation.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                organization = Organization.objects.create(
                    name=name, slug=_unique_slug(name), created_by=user
                )
        except IntegrityError:
            # Someone took the same slug between the check and the insert.
            organization = Organization.objects.create(
                name=name, slug=f"{_unique_slug(name)}-{secrets.token_hex(3)}", created_by=user
            )
        Membership.objects.create(organization=organization, user=user, role=MembershipRole.OWNER)
        audit_record(
            actor=user,
            action="organization.create",
            target=organization,
            organization=organization,
            after={"name": name},
            ip_address=ip_address,
        )
    return organization


def _rate_limit(key: str, *, limit: int, message: str, period: int = 3600) -> None:
    """Count one use of ``key`` in the current window; refuse past ``limit``."""
    cache_key = f"ratelimit:{key}:{int(timezone.now().timestamp()) // period}"
    cache.add(cache_key, 0, timeout=period)
    if cache.incr(cache_key) > limit:
        raise Conflict(message)


def _require_role(membership: Membership, allowed: frozenset[str], what: str) -> None:
    if membership.role not in allowed:
        raise PermissionDenied(f"Only an organisation {what} can do this.")


def invitation_create(
    *, membership: Membership, email: str, role: str, ip_address: str | None = None
) -> LabInvitation:
    """Invite a colleague by e-mail. Re-inviting an address replaces its pending invitation.

    The secret link is minted by the e-mail task, so no token ever travels through the queue.
    """
    from marketplace.tasks import send_lab_invitation_email

    _require_role(membership, ROLES_THAT_MANAGE_MEMBERS, "owner")
    email = email.strip().lower()
    if not email or "@" not in email:
        raise InvalidInput("Enter the colleague's e-mail address.", field="email")
    if role not in MembershipRole.values:
        raise InvalidInput("Choose owner, manager or viewer.", field="role")
    organization = membership.organization
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member of {organization.name}.", field="email")
    if User.objects.filter(email__iexact=email).exclude(role=UserRole.LAB).exists():
        raise Conflict(
            f"{email} belongs to an expert or staff account, which cannot join a lab. "
            "Invite your colleague's work address instead.",
            field="email",
        )
    pending = LabInvitation.objects.filter(
        organization=organization, status=InvitationStatus.PENDING
    ).count()
    if pending >= MAX_PENDING_INVITATIONS:
        raise Conflict(f"{organization.name} has {pending} pending invitations. Revoke some first.")
    _rate_limit(
        f"invitations:user:{membership.user_id}",
        limit=INVITATIONS_PER_HOUR,
        message="You have sent many invitations in the last hour. Try again later.",
    )
    with transaction.atomic():
        LabInvitation.objects.filter(
            organization=organization, email=email, status=InvitationStatus.PENDING
        ).update(status=InvitationStatus.REVOKED, updated_at=timezone.now())
        try:
            with transaction.atomic():
                invitation = LabInvitation.objects.create(
                    organization=organization,
                    email=email,
                    role=role,
                    invited_by=membership.user,
                    expires_at=timezone.now() + INVITATION_LIFETIME,
                )
        except IntegrityError:
            raise Conflict(
                f"An invitation for {email} was just sent. Refresh the page.", field="email"
            ) from None
        audit_record(
            actor=membership.user,
            action="invitation.create",
            target=invitation,
            organization=organization,
            after={"email": email, "role": role},
            ip_address=ip_address,
        )
        transaction.on_commit(lambda: send_lab_invitation_email.delay(invitation.pk), robust=True)
    return invitation


def invitation_email_send(*, invitation_id: int) -> bool:
    """Mint the invitation's secret link and e-mail it, once. Return whether one was sent."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.template.loader import render_to_string

    with transaction.atomic():
        invitation = (
            # Lock only the invitation: PostgreSQL cannot lock the nullable side of the join.
            LabInvitation.objects.select_for_update(of=("self",))
            .select_related("organization", "invited_by")
            .filter(pk=invitation_id)
            .first()
        )
        if (
            invitation is None
            or invitation.status != InvitationStatus.PENDING
            or invitation.sent_at is not None
        ):
            return False
        token = secrets.token_urlsafe(32)
        invitation.token_hash = _digest(token)
        invitation.sent_at = timezone.now()
        invitation.save(update_fields=["token_hash", "sent_at", "updated_at"])
        context = {
            "invitation": invitation,
            "link": f"{settings.SITE_URL}{reverse('lab_invitation_accept', args=[token])}",
        }
        send_mail(
            subject=(f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Join {invitation.organization.name}"),
            message=render_to_string("marketplace/email/lab_invitation.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
    return True


def invitation_for_token(*, token: str) -> LabInvitation:
    try:
        return LabInvitation.objects.select_related("organization", "invited_by").get(
            token_hash=_digest(token)
        )
    except LabInvitation.DoesNotExist:
        raise NotFound() from None


def invitation_accept(
    *,
    user: User,
    token: str | None = None,
    invitation_id: int | None = None,
    ip_address: str | None = None,
) -> Membership:
    """Join the organisation with the invited role. The invitee's e-mail must match.

    Identify the invitation by the e-mailed link's token, or by id when the caller is the
    addressee (their verified address proves they received it).
    """
    if (token is None) == (invitation_id is None):
        raise InvalidInput("Name the invitation by its link or by its id, not both.")
    invitations = LabInvitation.objects.select_for_update(of=("self",)).select_related(
        "organization", "invited_by"
    )
    with transaction.atomic():
        try:
            if invitation_id is not None:
                invitation = invitations.get(pk=invitation_id, email__iexact=user.email)
            else:
                invitation = invitations.get(token_hash=_digest(token or ""))
        except LabInvitation.DoesNotExist:
            raise NotFound() from None
        if invitation.email.lower() != user.email.lower():
            raise PermissionDenied(
                f"This invitation was sent to another address. Log in as {invitation.email} "
                "to accept it."
            )
        if invitation.status != InvitationStatus.PENDING:
            raise Conflict(f"This invitation is no longer valid ({invitation.status}).")
        if invitation.is_expired():
            raise Conflict("This invitation has expired. Ask for a new one.")
        if user.role != UserRole.LAB:
            raise PermissionDenied(
                "This address belongs to an expert account, which cannot join a lab. Ask the "
                "owner to invite another address of yours and sign up with it as a lab."
            )
        try:
            with transaction.atomic():
                membership = Membership.objects.create(
                    organization=invitation.organization, user=user, role=invitation.role
                )
        except IntegrityError:
            raise Conflict("You are already a member of this organisation.") from None
        invitation.status = InvitationStatus.ACCEPTED
        invitation.accepted_by = user
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["status", "accepted_by", "accepted_at", "updated_at"])
        audit_record(
            actor=user,
            action="invitation.accept",
            target=invitation,
            organization=invitation.organization,
            after={"role": invitation.role},
            ip_address=ip_address,
        )
        if invitation.invited_by is not None and invitation.invited_by_id != user.pk:
            notification_create(
                recipient=invitation.invited_by,
                kind="lab.member_joined",
                text=f"{user.email} joined {invitation.organization.name} as {invitation.role}.",
                link=reverse("lab_members", args=[invitation.organization.slug]),
            )
    return membership


def invitation_revoke(
    *, membership: Membership, invitation_id: int, ip_address: str | None = None
) -> LabInvitation:
    _require_role(membership, ROLES_THAT_MANAGE_MEMBERS, "owner")
    with transaction.atomic():
        try:
            invitation = LabInvitation.objects.select_for_update().get(
                pk=invitation_id, organization=membership.organization
            )
        except LabInvitation.DoesNotExist:
            raise NotFound() from None
        if invitation.status != InvitationStatus.PENDING:
            raise Conflict("Only a pending invitation can be revoked.")
        invitation.status = InvitationStatus.REVOKED
        invitation.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=membership.user,
            action="invitation.revoke",
            target=invitation,
            organization=membership.organization,
            before={"status": InvitationStatus.PENDING},
            after={"status": InvitationStatus.REVOKED},
            ip_address=ip_address,
        )
    return invitation


def _lock_member_keeping_an_owner(
    organization: Organization, member_id: int, *, losing_owner: bool
) -> Membership:
    """Lock the organisation's memberships and return the one named.

    Raise Conflict when the change would take away its last owner (``losing_owner``: the
    member stops being an owner). Every membership is locked, in pk order, so two owners
    demoting each other at once cannot leave the organisation without one. Call inside a
    transaction.
    """
    members = list(
        Membership.objects.select_for_update(of=("self",))
        .filter(organization=organization)
        .select_related("user")
        .order_by("pk")
    )
    target = next((m for m in members if m.pk == member_id), None)
    if target is None:
        raise NotFound()
    owners = [m for m in members if m.role == MembershipRole.OWNER]
    if losing_owner and target.role == MembershipRole.OWNER and len(owners) == 1:
        raise Conflict("An organisation needs at least one owner. Promote someone first.")
    return target


def membership_change_role(
    *, membership: Membership, member_id: int, role: str, ip_address: str | None = None
) -> Membership:
    """Change a colleague's role. An organisation always keeps at least one owner."""
    _require_role(membership, ROLES_THAT_MANAGE_MEMBERS, "owner")
    if role not in MembershipRole.values:
        raise InvalidInput("Choose owner, manager or viewer.", field="role")
    organization = membership.organization
    with transaction.atomic():
        target = _lock_member_keeping_an_owner(
            organization, member_id, losing_owner=(role != MembershipRole.OWNER)
        )
        previous = target.role
        if previous == role:
            return target
        target.role = role
        target.save(update_fields=["role", "updated_at"])
        audit_record(
            actor=membership.user,
            action="membership.change_role",
            target=target,
            organization=organization,
            before={"role": previous},
            after={"role": role},
            ip_address=ip_address,
        )
        if target.user_id != membership.user_id:
            notification_create(
                recipient=target.user,
                kind="lab.role_changed",
                text=f"Your role in {organization.name} is now {target.get_role_display()}.",
                link=reverse("lab_dashboard", args=[organization.slug]),
            )
    return target


def membership_remove(
    *, membership: Membership, member_id: int, ip_address: str | None = None
) -> Membership:
    """Remove a colleague from the organisation. The last owner cannot be removed."""
    _require_role(membership, ROLES_THAT_MANAGE_MEMBERS, "owner")
    organization = membership.organization
    with transaction.atomic():
        target = _lock_member_keeping_an_owner(organization, member_id, losing_owner=True)
        audit_record(
            actor=membership.user,
            action="membership.remove",
            target=target,
            organization=organization,
            before={"user": target.user.email, "role": target.role},
            ip_address=ip_address,
        )
        target.delete()
        if target.user_id != membership.user_id:
            notification_create(
                recipient=target.user,
                kind="lab.member_removed",
                text=f"You were removed from {organization.name}.",
                link=reverse("lab_home"),
            )
    return target


# API keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str


def api_key_create(
    *, membership: Membership, name: str, ip_address: str | None = None
) -> IssuedApiKey:
    """Create an organisation API key. The secret is returned once and never stored."""
    _require_role(membership, ROLES_THAT_MANAGE_API_KEYS, "owner or manager")
    name = name.strip()
    if not name:
        raise InvalidInput(
            "Name the key after what will use it, e.g. 'ingest script'.", field="name"
        )
    if len(name) > 80:
        raise InvalidInput("Keep the key name under 80 characters.", field="name")
    prefix = secrets.token_hex(4)
    secret = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            organization=membership.organization,
            name=name,
            prefix=prefix,
            key_hash=_digest(secret),
            created_by=membership.user,
        )
        audit_record(
            actor=membership.user,
            action="api_key.create",
            target=api_key,
            organization=membership.organization,
            after={"name": name, "prefix": prefix},
            ip_address=ip_address,
        )
    return IssuedApiKey(api_key=api_key, secret=secret)


def api_key_revoke(
    *, membership: Membership, api_key_id: int, ip_address: str | None = None
) -> ApiKey:
    _require_role(membership, ROLES_THAT_MANAGE_API_KEYS, "owner or manager")
    with transaction.atomic():
        try:
            api_key = ApiKey.objects.select_for_update().get(
                pk=api_key_id, organization=membership.organization
            )
        except ApiKey.DoesNotExist:
            raise NotFound() from None
        if api_key.revoked_at is not None:
            return api_key
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at", "updated_at"])
        audit_record(
            actor=membership.user,
            action="api_key.revoke",
            target=api_key,
            organization=membership.organization,
            after={"revoked_at": api_key.revoked_at.isoformat()},
            ip_address=ip_address,
        )
    return api_key


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """Return the active key matching the presented secret, or None."""
    if not secret.startswith(f"{API_KEY_PREFIX}_"):
        return None
    api_key = (
        ApiKey.objects.select_related("organization")
        .filter(key_hash=_digest(secret), revoked_at__isnull=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    # Touch last_used_at at most once a minute so busy scripts do not write on every call.
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
