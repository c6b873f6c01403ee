"""Who acts for a lab: a member in the browser (or API session) or the organisation's API key."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.errors import NotFound, PermissionDenied
from marketplace.models import ApiKey, Membership, Organization, User
from marketplace.selectors import membership_for_user
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

    @property
    def audit_user(self) -> User | None:
        return self.user

    @property
    def via(self) -> dict[str, str]:
        """What to add to audit rows so an API-key action can be told from a person's."""
        return {"api_key": self.api_key.prefix} if self.api_key is not None else {}

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
