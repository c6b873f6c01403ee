"""Create the demo accounts and data. Safe to run again: it converges, never duplicates."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.test.utils import override_settings

from experts import demo as experts_demo
from marketplace import services
from marketplace.models import Membership, Notification, Organization, User
from marketplace.states import MembershipRole, UserRole
from payments import demo as payments_demo
from projects import demo as projects_demo
from projects.demo import quality as quality_demo
from projects.demo import workspace as workspace_demo

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105  (published in README for the local demo)
DEMO_ORGANIZATION = "Acme AI Lab"
# The staff demo accounts' authenticator secret, published like the password: add it to an
# authenticator app, or print the current code with `python manage.py demo_totp`.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105

PEOPLE: list[tuple[str, str, str, bool, bool]] = [
    # email, full name, role, is_staff, is_superuser
    ("vetter@demo.example", "Vera Vetter", UserRole.STAFF, True, False),
    ("admin@demo.example", "Ada Admin", UserRole.STAFF, True, True),
    ("dr.rivera@demo.example", "Dr. Elena Rivera", UserRole.EXPERT, False, False),
    ("j.okafor@demo.example", "James Okafor, JD", UserRole.EXPERT, False, False),
    ("m.chen@demo.example", "Dr. Mei Chen", UserRole.EXPERT, False, False),
    ("dr.haddad@demo.example", "Dr. Samir Haddad", UserRole.EXPERT, False, False),
    ("dr.nakamura@demo.example", "Dr. Yuki Nakamura", UserRole.EXPERT, False, False),
    ("dr.lindqvist@demo.example", "Dr. Anna Lindqvist", UserRole.EXPERT, False, False),
    ("owner@acme.example", "Olivia Owner", UserRole.LAB, False, False),
    ("manager@acme.example", "Manu Manager", UserRole.LAB, False, False),
    ("viewer@acme.example", "Vic Viewer", UserRole.LAB, False, False),
]
LAB_ROLES: dict[str, str] = {
    "owner@acme.example": MembershipRole.OWNER,
    "manager@acme.example": MembershipRole.MANAGER,
    "viewer@acme.example": MembershipRole.VIEWER,
}


@contextmanager
def _quiet_task_logs() -> Iterator[None]:
    """Keep the output to the summary: in the embedded default Celery runs each queued task
    in-process and logs a line for it."""
    logger = logging.getLogger("celery.app.trace")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


class Command(BaseCommand):
    help = f"Create or refresh the demo accounts (password: {DEMO_PASSWORD})."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DEBUG off. The accounts share a published password.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "Refusing to seed demo accounts with DEBUG off: their password is public. "
                "Pass --allow-production to a throwaway environment only."
            )
        # The demo addresses are fake: decisions notify in the app but send no e-mail.
        with (
            _quiet_task_logs(),
            override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"),
            transaction.atomic(),
        ):
            users = {
                email: self._user(email, name, role, is_staff, is_superuser)
                for email, name, role, is_staff, is_superuser in PEOPLE
            }
            organization = self._organization(users["owner@acme.example"])
            for email, role in LAB_ROLES.items():
                Membership.objects.update_or_create(
                    organization=organization, user=users[email], defaults={"role": role}
                )
            for user in users.values():
                if not Notification.objects.filter(recipient=user, kind="welcome").exists():
                    services.notification_create(
                        recipient=user,
                        kind="welcome",
                        text="Welcome to Expert Marketplace. Your dashboard shows what to do next.",
                        link="/dashboard/",
                        send_email=False,
                    )
            experts_demo.seed(users)
            projects_demo.seed_projects(
                organization=organization, manager=users["manager@acme.example"]
            )
            projects_demo.seed_matching(
                accepting=users["dr.haddad@demo.example"],
                keeps_pending=users["dr.rivera@demo.example"],
            )
            workspace_demo.seed_workspace(
                manager=users["manager@acme.example"],
                first=users["dr.haddad@demo.example"],
                second=users["dr.lindqvist@demo.example"],
            )
            quality_demo.seed_quality(
                organization=organization, manager=users["manager@acme.example"]
            )
            payments_demo.seed_payments(
                organization=organization,
                manager=users["manager@acme.example"],
                staff=users["admin@demo.example"],
                users=users,
            )
        with _quiet_task_logs():
            payments_demo.seed_reconciliation()
        self.stdout.write(
            self.style.SUCCESS(f"Demo ready. Every account's password: {DEMO_PASSWORD}")
        )
        for email, _name, role, _staff, _super in PEOPLE:
            self.stdout.write(f"  {role:<7} {email}")
        for line in experts_demo.summary_lines(users):
            self.stdout.write(line)
        for line in projects_demo.summary_lines(organization=organization):
            self.stdout.write(line)
        for line in projects_demo.workspace_summary_lines(organization=organization):
            self.stdout.write(line)
        for line in quality_demo.summary_lines(organization=organization):
            self.stdout.write(line)
        for line in payments_demo.summary_lines(organization=organization):
            self.stdout.write(line)

    def _user(
        self, email: str, full_name: str, role: str, is_staff: bool, is_superuser: bool
    ) -> User:
        user, _ = User.objects.update_or_create(
            email=email,
            defaults={
                "full_name": full_name,
                "role": role,
                "is_staff": is_staff,
                "is_superuser": is_superuser,
                "is_active": True,
            },
        )
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        if (
            is_staff
            and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        ):
            TOTP.activate(user, DEMO_TOTP_SECRET)
        EmailAddress.objects.update_or_create(
            user=user, email=email, defaults={"verified": True, "primary": True}
        )
        return user

    def _organization(self, owner: User) -> Organization:
        existing = Organization.objects.filter(name=DEMO_ORGANIZATION).first()
        if existing is not None:
            return existing
        return services.organization_create(user=owner, name=DEMO_ORGANIZATION)
