"""Pages, dashboards by role, security headers, health and the system checks."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.urls import reverse

from marketplace.models import AuditEvent, Membership, Organization, User
from marketplace.states import MembershipRole
from tests.factories import (
    add_member,
    expert,
    lab_user,
    log_in_staff,
    organization,
    staff_user,
)

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_home_page_explains_the_marketplace_to_experts_and_labs(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("home"))

    page = response.content.decode()
    assert "For experts" in page
    assert "For AI labs" in page
    assert reverse("account_signup") + "?role=expert" in page


def test_every_response_carries_the_security_headers(client):
    response = client.get(reverse("home"))

    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_pages_load_nothing_from_outside_the_server(client):
    client.force_login(expert())
    for path in (reverse("home"), reverse("experts:dashboard"), reverse("account_login")):
        page = client.get(path).content.decode()
        assert "https://" not in page.replace("https://www.w3.org", "")
        assert "<script>" not in page


def test_dashboard_routes_each_role(client):
    expert_user = expert()
    lab_member = lab_user()
    org = organization(owner=lab_member)
    orgless = lab_user()
    staff, _ = staff_user(with_totp=True)

    expected = {
        expert_user: reverse("experts:dashboard"),
        lab_member: reverse("lab_dashboard", args=[org.slug]),
        orgless: reverse("lab_home"),
        staff: reverse("staff_dashboard"),
    }
    for user, target in expected.items():
        client.force_login(user)
        assert client.get(reverse("dashboard")).url == target


def test_expert_dashboard_shows_onboarding(client, django_assert_num_queries):
    user = expert(full_name="Elena Rivera")
    client.force_login(user)
    client.get(reverse("experts:dashboard"))

    # session, user, MFA check, onboarding (profile, credentials, passed tests), credential
    # counts, vetted domains, qualification results, open invitations, notifications, unread
    # count
    with django_assert_num_queries(12):
        page = client.get(reverse("experts:dashboard")).content.decode()

    assert "Welcome, Elena Rivera" in page
    assert "Get vetted" in page
    assert "Upload a credential" in page
    assert "Next: turn on two-factor authentication" in page


def test_lab_dashboard_and_api_keys_pages_have_bounded_queries(client, django_assert_num_queries):
    from marketplace import services

    org = organization()
    owner = Membership.objects.get(organization=org)
    for i in range(3):
        services.api_key_create(membership=owner, name=f"key {i}")
        add_member(org, lab_user(), MembershipRole.VIEWER)
    client.force_login(owner.user)
    client.get(reverse("lab_dashboard", args=[org.slug]))

    # session, user, membership, member count, project totals, recent events, unread count
    with django_assert_num_queries(7):
        client.get(reverse("lab_dashboard", args=[org.slug]))
    # session, user, membership, keys, unread count
    with django_assert_num_queries(5):
        page = client.get(reverse("lab_api_keys", args=[org.slug])).content.decode()
    assert page.count("Revoke") == 3


def test_staff_console_lists_and_filters_audit_events(client, django_assert_num_queries):
    staff, secret = staff_user(with_totp=True)
    for i in range(3):
        organization(name=f"Lab {i}")
    log_in_staff(client, staff, secret)
    client.get(reverse("staff_dashboard"))

    # session, user, TOTP, role counts, event count, events, action names, unread count
    with django_assert_num_queries(8):
        page = client.get(reverse("staff_dashboard")).content.decode()

    assert page.count("<code>organization.create</code>") == 3
    assert "Lab 2" in page
    filtered = client.get(reverse("staff_dashboard"), {"action": "user.", "q": staff.email})
    body = filtered.content.decode()
    assert "<code>user.login</code>" in body
    assert "<code>organization.create</code>" not in body
    assert {event.actor for event in filtered.context["page"].object_list} == {staff}


def test_healthz_reports_the_database(client, settings):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == ("ok" if settings.REDIS_URL else "not configured")


def test_system_check_fails_without_the_protections(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "csp" not in m and "StaffMFA" not in m]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    settings.CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {"default-src": ["'self'"], "script-src": ["'self'", "'unsafe-inline'"]}
    }

    ids = {message.id for message in run_checks()}

    assert {f"marketplace.E00{n}" for n in range(1, 6)} <= ids


def test_system_check_passes_as_configured():
    assert [m for m in run_checks() if m.id.startswith("marketplace.")] == []


def test_deploy_check_is_clean_with_production_settings():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "marketplace.example",
        "DATABASE_URL": "sqlite:////tmp/deploy-check.sqlite3",
        # Production takes real payments: the offline sandbox is refused with DEBUG off.
        "STRIPE_SECRET_KEY": "sk_live_deploy_check",
        "STRIPE_WEBHOOK_SECRET": "whsec_deploy_check",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    shown = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings as s; print(s.SESSION_COOKIE_SECURE, "
            "s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.splitlines()[-1].split() == ["True", "True", "True", "31536000"]


def test_seed_demo_refuses_to_run_in_production(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo")

    assert not User.objects.exists()


def test_seed_demo_is_idempotent(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    counts = (User.objects.count(), Organization.objects.count(), Membership.objects.count())
    call_command("seed_demo")

    assert (
        User.objects.count(),
        Organization.objects.count(),
        Membership.objects.count(),
    ) == counts
    assert User.objects.get(email="vetter@demo.example").is_staff
    roles = dict(Membership.objects.values_list("user__email", "role"))
    assert roles["owner@acme.example"] == MembershipRole.OWNER
    assert roles["viewer@acme.example"] == MembershipRole.VIEWER
    assert AuditEvent.objects.filter(action="organization.create").count() == 1


def test_fast_select_escapes_and_marks_the_selection():
    from marketplace.widgets import FastSelect

    widget = FastSelect(choices=[("", "Pick"), ("Group <b>", [("a", "A & B"), ("b", "<i>")])])

    html = widget.render("field", "a", attrs={"id": "id_field", "required": True})

    opening, rest = html.split(">", 1)
    assert set(opening.split()) == {"<select", 'id="id_field"', "required", 'name="field"'}
    assert rest == (
        '<option value="">Pick</option>'
        '<optgroup label="Group &lt;b&gt;"><option value="a" selected>A &amp; B</option>'
        '<option value="b">&lt;i&gt;</option></optgroup></select>'
    )
