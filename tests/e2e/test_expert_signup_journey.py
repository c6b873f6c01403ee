"""Journeys through the real site in Chromium: sign up and verify, create an organisation,
and the public pages at phone width."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from playwright.sync_api import expect

from marketplace.models import Organization, User
from tests.e2e.conftest import PHONE, log_in
from tests.factories import PASSWORD, lab_user

pytestmark = pytest.mark.e2e

CONFIRM_LINK = re.compile(r"https?://[^\s/]+/accounts/confirm-email/[^/\s]+/")


def _confirmation_link(email: str, live_server_url: str) -> str:
    messages = [message for message in mail.outbox if message.to == [email]]
    assert len(messages) == 1, [message.subject for message in mail.outbox]
    match = CONFIRM_LINK.search(messages[0].body)
    assert match, messages[0].body
    link = match.group(0)
    # allauth builds the link from the request's host, which is the live server's.
    assert link.startswith(f"{live_server_url}/"), (link, live_server_url)
    return urlsplit(link).path


def test_a_new_expert_signs_up_verifies_and_reaches_the_dashboard(page, live_server, screenshot):
    email = "marie.curie@example.org"

    page.goto("/")
    page.get_by_role("link", name="Join as an expert").click()

    expect(page).to_have_url(re.compile(r"/accounts/signup/\?role=expert$"))
    expect(page.locator("input[name=role][value=expert]")).to_be_checked()
    page.locator("input[name=full_name]").fill("Marie Curie")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    screenshot(page, "signup-form")
    page.get_by_role("button", name="Sign Up", exact=True).click()

    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Verify Your Email Address")
    assert not EmailAddress.objects.get(email=email).verified

    page.goto(_confirmation_link(email, live_server.url))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm Email Address")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    log_in(page, email)

    expect(page).to_have_url(re.compile(r"/expert/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Marie Curie")
    expect(page.get_by_role("heading", name="Get vetted")).to_be_visible()
    screenshot(page)

    user = User.objects.get(email=email)
    assert user.role == "expert"
    assert user.full_name == "Marie Curie"
    assert EmailAddress.objects.filter(user=user, email=email, verified=True).exists()


def test_a_lab_user_logs_in_and_creates_an_organisation(page, screenshot):
    user = lab_user(full_name="Rosalind Franklin")

    log_in(page, user.email)

    expect(page).to_have_url(re.compile(r"/labs/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your organisations")
    page.get_by_label("Organisation name").fill("Double Helix Research")
    page.get_by_role("button", name="Create organisation").click()

    expect(page).to_have_url(re.compile(r"/labs/[\w-]+/$"))
    organization = Organization.objects.get(name="Double Helix Research")
    assert page.url.endswith(f"/labs/{organization.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Double Helix Research")
    expect(page.get_by_role("status")).to_contain_text("Double Helix Research is ready")
    screenshot(page)


@pytest.mark.parametrize(
    "path",
    ["/", "/accounts/signup/?role=expert", "/accounts/login/"],
    ids=["home", "signup", "login"],
)
def test_public_pages_fit_a_phone_screen(open_page, screenshot, path):
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)

    page.goto(path)

    page.wait_for_load_state("networkidle")
    # A mobile browser zooms out to fit content that overflows, which widens innerWidth with
    # it: compare with the layout viewport (clientWidth) too, which stays at the phone's width.
    widths = page.evaluate(
        """() => ({
            scroll: document.documentElement.scrollWidth,
            inner: window.innerWidth,
            client: document.documentElement.clientWidth,
        })"""
    )
    screenshot(page)
    assert widths["client"] == PHONE["width"], widths
    assert widths["scroll"] <= min(widths["inner"], widths["client"]), (
        f"{path} scrolls sideways at phone width: {widths}"
    )
