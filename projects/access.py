"""Who acts for a lab: a member in the browser (or API session) or the organisation's API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Model

from marketplace.errors import NotFound, PermissionDenied
from marketplace.models import ApiKey, AuditEvent, Membership, Organization, User
from marketplace.selectors import membership_for_user
from marketplace.services import audit_record
from marketplace.states import MembershipRole

ROLES_THAT_MANAGE_PROJECTS = frozenset({MembershipRole.OWNER, MembershipRole.MANAGER})


@dataclass(frozen=True)
class LabActor:
    """The caller of a lab use case. API keys act with the rights of a manager."""

    organization: Organization
    user: User | None
    api_key: ApiKey | None
    role: str

    @property
    def can_manage(self) -> bool:
        return self.role in ROLES_THAT_MANAGE_PROJECTS

    def require_manager(self, what: str) -> None:
        if not self.can_manage:
            raise PermissionDenied(f"Only owners and managers can {what}.")


def lab_actor_for_membership(membership: Membership, user: User) -> LabActor:
    """``user`` (the membership's) acting in its organisation with its role."""
    return LabActor(
        organization=membership.organization,
        user=user,
        api_key=None,
        role=membership.role,
    )


def lab_actor_for_member(*, user: User, organization_slug: str) -> LabActor:
    """The member acting in one organisation; NotFound for anyone else."""
    membership = membership_for_user(user=user, organization_slug=organization_slug)
    return lab_actor_for_membership(membership, user)


def lab_actor_for_api_key(*, api_key: ApiKey) -> LabActor:
    if not api_key.is_active:
        raise NotFound()
    return LabActor(
        organization=api_key.organization,
        user=None,
        api_key=api_key,
        role=MembershipRole.MANAGER,
    )


def lab_audit_record(
    *,
    actor: LabActor,
    action: str,
    target: Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Audit a lab action in the actor's organisation; an API key's prefix is added to
    ``after`` so its actions can be told from a person's. Call inside the service's
    transaction."""
    via = {"api_key": actor.api_key.prefix} if actor.api_key is not None else {}
    return audit_record(
        actor=actor.user,
        action=action,
        target=target,
        organization=actor.organization,
        before=before,
        after={**(after or {}), **via},
        ip_address=ip_address,
    )
