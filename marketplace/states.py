"""Status and role enums for the core app."""

from django.db import models


class UserRole(models.TextChoices):
    EXPERT = "expert", "Expert"
    LAB = "lab", "Lab member"
    STAFF = "staff", "Staff"


class MembershipRole(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    VIEWER = "viewer", "Viewer"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"


# Which membership roles may do what inside an organisation.
ROLES_THAT_MANAGE_MEMBERS = frozenset({MembershipRole.OWNER})
ROLES_THAT_MANAGE_API_KEYS = frozenset({MembershipRole.OWNER, MembershipRole.MANAGER})
