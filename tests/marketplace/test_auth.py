"""Sign-up, verification, login, logout, password reset, rate limits and staff MFA."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from marketplace.models import AuditEvent, User
from tests.factories import PASSWORD, expert, staff_user, totp_code

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-long-passphrase-42"


def _link(message, pattern: str) -> str:
    match = re.search(rf"https?://[^/\s]+({pattern})", message.body)
    assert match, message.body
    return match.group(1)


def _signup(client, *, email: str, role: str):
    return client.post(
        reverse("account_signup"),
        {
            "role": role,
            "full_name": "Grace Hopper",
            "email": email,
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )


def _login(client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


@pytest.mark.parametrize(("role", "dashboard"), [("expert", "/expert/"), ("lab", "/labs/")])
def test_signup_verify_login_lands_on_the_role_dashboard(client, role, dashboard):
    response = _signup(client, email="Grace@Example.org", role=role)

    assert response.status_code == 302
    user = User.objects.get(email="grace@example.org")
    assert user.role == role
    assert user.full_name == "Grace Hopper"
    assert not EmailAddress.objects.get(user=user).verified
    assert AuditEvent.objects.filter(action="user.signup", target_id=str(user.pk)).count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["grace@example.org"]

    # Unverified: logging in only re-sends the verification mail.
    client.post(reverse("account_logout"))
    response = _login(client, "grace@example.org")
    assert response.url == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session

    confirm = _link(mail.outbox[0], r"/accounts/confirm-email/[^/\s]+/")
    assert client.get(confirm).status_code == 200
    client.post(confirm)
    assert EmailAddress.objects.get(user=user).verified

    response = _login(client, "grace@example.org")
    assert response.url == reverse("dashboard")
    response = client.get(reverse("dashboard"), follow=True)
    assert response.redirect_chain[-1][0] == dashboard
    assert int(client.session["_auth_user_id"]) == user.pk


def test_signup_cannot_choose_staff(client):
    response = _signup(client, email="mallory@example.org", role="staff")

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not User.objects.filter(email="mallory@example.org").exists()
    assert mail.outbox == []


def test_signup_form_preselects_the_role_from_the_link(client):
    page = client.get(reverse("account_signup") + "?role=lab").content.decode()
    assert re.search(r'value="lab"[^>]*checked', page)


def test_login_changes_the_session_key_and_logout_ends_the_session(client):
    user = expert()
    client.get(reverse("account_login"))
    client.session.save()
    anonymous_key = client.session.session_key

    _login(client, user.email)

    assert int(client.session["_auth_user_id"]) == user.pk
    assert client.session.session_key != anonymous_key
    client.post(reverse("account_logout"))
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard")).url.startswith(reverse("account_login"))


def test_password_reset_through_the_emailed_link(client):
    user = expert()

    client.post(reverse("account_reset_password"), {"email": user.email})

    assert len(mail.outbox) == 1
    link = _link(mail.outbox[0], r"/accounts/password/reset/key/[^\s]+/")
    form_url = client.get(link).url
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not user.check_password(PASSWORD)
    assert _login(client, user.email, NEW_PASSWORD).url == reverse("dashboard")


def test_repeated_failed_logins_are_rate_limited(client):
    user = expert()
    for _ in range(5):
        response = _login(client, user.email, "wrong-password")
        assert "_auth_user_id" not in client.session

    response = _login(client, user.email, PASSWORD)

    assert response.status_code in (200, 429)
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_staff_without_totp_cannot_open_staff_pages_or_admin(client):
    user, _ = staff_user()
    client.force_login(user)

    for path in (reverse("staff_dashboard"), reverse("admin:index")):
        response = client.get(path)
        assert response.status_code == 302
        assert response.url == reverse("mfa_activate_totp")


def test_staff_with_totp_must_enter_a_code_before_staff_pages(client):
    user, secret = staff_user(with_totp=True)

    response = _login(client, user.email)

    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert "_auth_user_id" not in client.session

    client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})

    assert int(client.session["_auth_user_id"]) == user.pk
    assert client.get(reverse("staff_dashboard")).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200


def test_admin_login_goes_through_allauth(client):
    user, _ = staff_user(with_totp=True)

    response = client.post(reverse("admin:login"), {"username": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    assert "_auth_user_id" not in client.session


def test_non_staff_get_404_for_the_staff_console_and_no_admin(client):
    client.force_login(expert())

    assert client.get(reverse("staff_dashboard")).status_code == 404
    assert client.get(reverse("admin:index")).status_code == 404


def test_staff_session_without_a_second_factor_must_reauthenticate(client):
    user, _ = staff_user(with_totp=True)
    client.force_login(user)  # a session that never proved the TOTP code

    response = client.get(reverse("staff_dashboard"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("mfa_reauthenticate"))


def test_staff_guard_holds_under_a_url_prefix(client):
    user, _ = staff_user()
    client.force_login(user)

    for path in ("/staff/", "/admin/"):
        response = client.get(path, SCRIPT_NAME="/market")
        assert response.status_code == 302
        assert response.url.endswith(reverse("mfa_activate_totp"))


def test_a_completed_login_is_audited_with_the_address(client):
    user = expert()

    _login(client, user.email)
    _login(client, "nobody@example.org", "wrong-password")

    event = AuditEvent.objects.get(action="user.login")
    assert (event.actor, event.ip_address) == (user, "127.0.0.1")


def test_the_demo_staff_can_log_in_with_the_demo_authenticator(client, settings):
    from marketplace.management.commands.seed_demo import DEMO_PASSWORD, DEMO_TOTP_SECRET

    settings.DEBUG = True
    call_command("seed_demo")

    response = _login(client, "vetter@demo.example", DEMO_PASSWORD)
    assert response.url == reverse("mfa_authenticate")
    client.post(reverse("mfa_authenticate"), {"code": totp_code(DEMO_TOTP_SECRET)})

    assert client.get(reverse("staff_dashboard")).status_code == 200
