"""Typed factories that build state through the same paths the product uses."""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import TestCase

from marketplace import services
from marketplace.models import Membership, Organization, User
from marketplace.states import MembershipRole, UserRole

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory[User]):
    """A user whose e-mail address is verified, so they can log in."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    full_name = factory.Faker("name")
    role = UserRole.EXPERT

    @classmethod
    def _create(cls, model_class: type[User], *args, **kwargs) -> User:
        user = model_class.objects.create_user(*args, password=PASSWORD, **kwargs)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        return user


def expert(**kwargs) -> User:
    return UserFactory(role=UserRole.EXPERT, **kwargs)


def lab_user(**kwargs) -> User:
    return UserFactory(role=UserRole.LAB, **kwargs)


def staff_user(*, with_totp: bool = False, **kwargs) -> tuple[User, str | None]:
    user = UserFactory(role=UserRole.STAFF, is_staff=True, **kwargs)
    secret = None
    if with_totp:
        secret = generate_totp_secret()
        TOTP.activate(user, secret)
    return user, secret


def organization(*, owner: User | None = None, name: str = "Helix Labs") -> Organization:
    return services.organization_create(user=owner or lab_user(), name=name)


def add_member(org: Organization, user: User, role: str = MembershipRole.VIEWER) -> Membership:
    """Join through the real flow: an owner's invitation, accepted by the invitee."""
    from django.core import mail

    owner = Membership.objects.filter(organization=org, role=MembershipRole.OWNER).first()
    assert owner is not None
    before = len(mail.outbox)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.invitation_create(membership=owner, email=user.email, role=role)
    token = invitation_token_from_mail(mail.outbox[before:])
    return services.invitation_accept(user=user, token=token)


def invitation_token_from_mail(messages) -> str:
    import re

    for message in reversed(messages):
        match = re.search(r"/invitations/([\w-]+)/", message.body)
        if match:
            return match.group(1)
    raise AssertionError("no invitation link in the outbox")


def totp_code(secret: str) -> str:
    """The authenticator app's current code for a TOTP secret."""
    import time

    from allauth.mfa import app_settings

    period = app_settings.TOTP_PERIOD
    if period - time.time() % period < 2:
        # Too close to the end of the window: wait for a fresh code, as a person would.
        time.sleep(period - time.time() % period + 0.1)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


def log_in_staff(client, user: User, secret: str) -> None:
    """Log a staff member in the way the browser does: password, then the TOTP code."""
    from django.urls import reverse

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.url == reverse("mfa_authenticate"), response
    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert int(client.session["_auth_user_id"]) == user.pk
