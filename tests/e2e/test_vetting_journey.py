"""The whole vetting journey in Chromium: an expert fills in the profile, claims a credential
with a PDF, a staff vetter (password + TOTP) asks for more information, the expert answers and
resubmits, the vetter verifies, and the expert passes the radiology test and is vetted.

Two browser contexts keep both people logged in at once. The live server shares the test
database, so the assertions on the database see what the browser did.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from playwright.sync_api import Locator, Page, expect

from experts import selectors
from experts.models import Credential, TestAttempt
from experts.states import AttemptStatus, CredentialKind, CredentialStatus
from tests.e2e.conftest import log_in, log_in_staff, save_screenshot
from tests.experts.factories import domain, pdf_bytes, qualification_test, right_answers
from tests.factories import expert, staff_user

pytestmark = pytest.mark.e2e

CREDENTIAL_TITLE = "Diplomate, American Board of Radiology"
STAFF_QUESTION = "Please upload the page of the certificate that shows your diplomate number."
EXPERT_ANSWER = "The number is on the first page, bottom right: ABR-448812."


def messages_of(page: Page) -> Locator:
    return page.locator("ul.messages")


def subjects_to(address: str) -> list[str]:
    """Subjects of the e-mails sent to ``address``, without the site's prefix."""
    prefix = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX
    return [m.subject.removeprefix(prefix) for m in mail.outbox if m.to == [address]]


def expect_image_loaded(page: Page, name: str) -> None:
    """Wait until the (lazily loaded) image has really been decoded by the browser."""
    image = page.get_by_role("img", name=name)
    image.scroll_into_view_if_needed()
    page.wait_for_function(
        "image => image.complete && image.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("image => image.naturalWidth") > 0


def test_an_expert_is_vetted_through_the_browser(open_page, tmp_path):
    # 1. Setup: the expert, a staff vetter with an authenticator, a published radiology test.
    radiology = domain("medicine-radiology")
    elena = expert(full_name="Elena Rivera")
    vetter, secret = staff_user(with_totp=True, full_name="Sam Vetter")
    assert secret is not None
    test = qualification_test(on=radiology)
    answers = right_answers(test)
    certificate = tmp_path / "abr-certificate.pdf"
    certificate.write_bytes(pdf_bytes("lightsteelblue"))

    expert_page = open_page()
    staff_page = open_page()

    # 2. The expert logs in and fills in the profile.
    log_in(expert_page, elena.email)
    expect(expert_page).to_have_url(re.compile(r"/expert/$"))
    expert_page.get_by_role("navigation", name="Main").get_by_role("link", name="Profile").click()
    expect(expert_page.get_by_role("heading", level=1)).to_have_text("Your profile")
    expert_page.get_by_label("Headline").fill("Board-certified radiologist, 12 years in CT")
    expert_page.get_by_label("Hours a week you can work").fill("20")
    domains = expert_page.get_by_role("region", name="Domains and specialties")
    domains.get_by_label("Domain or specialty").first.select_option(label="Radiology")
    domains.get_by_label("Seniority").first.select_option(label="Senior (7 to 15 years)")
    languages = expert_page.get_by_role("region", name="Languages")
    languages.get_by_label("Language").first.select_option(label="English")
    languages.get_by_label("Level").first.select_option(label="C2 — proficient")
    expert_page.get_by_role("button", name="Save profile").click()
    expect(messages_of(expert_page)).to_contain_text("Your profile is saved.")
    expect(expert_page.get_by_label("Headline")).to_have_value(
        "Board-certified radiologist, 12 years in CT"
    )
    save_screenshot(expert_page, "vetting-1-profile")
    profile = selectors.profile_of(expert=elena)
    assert profile is not None
    assert profile.weekly_availability_hours == 20
    assert [(row.domain_id, row.seniority) for row in profile.domains.all()] == [
        (radiology.pk, "senior")
    ]
    assert [(row.language, row.proficiency) for row in profile.languages.all()] == [("en", "C2")]

    # 3. The expert claims a board certification, uploads its PDF and submits it.
    expert_page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Credentials"
    ).click()
    expert_page.get_by_role("link", name="Add a credential", exact=True).click()
    expect(expert_page.get_by_role("heading", level=1)).to_have_text("Add a credential")
    expert_page.get_by_label("Kind of credential").select_option(label="Board certification")
    expert_page.get_by_label("Title").fill(CREDENTIAL_TITLE)
    expert_page.get_by_label("Issued by").fill("American Board of Radiology")
    expert_page.get_by_label("Licence or certificate number").fill("ABR-448812")
    expert_page.get_by_label("Country or jurisdiction").select_option("US")
    expert_page.get_by_label("Issued on").fill("2013-06-01")
    expert_page.locator("summary", has_text="Medicine").click()
    expert_page.get_by_label("Radiology", exact=True).check()
    expert_page.get_by_role("button", name="Save and add documents").click()
    expect(messages_of(expert_page)).to_contain_text("Draft saved.")
    credential = Credential.objects.get(expert=elena)
    expect(expert_page).to_have_url(re.compile(rf"/expert/credentials/{credential.pk}/$"))
    assert credential.status == CredentialStatus.DRAFT
    assert credential.kind == CredentialKind.BOARD_CERTIFICATION
    assert credential.identifier == "ABR-448812"
    assert credential.country.code == "US"
    assert str(credential.issued_on) == "2013-06-01"
    assert list(credential.domains.all()) == [radiology]

    expert_page.get_by_label("Add a document").set_input_files(certificate)
    expert_page.get_by_role("button", name="Upload", exact=True).click()
    expect(messages_of(expert_page)).to_contain_text("Uploaded abr-certificate.pdf.")
    expect_image_loaded(expert_page, "Preview of abr-certificate.pdf")
    expert_page.get_by_role("button", name="Submit for review").click()
    expect(messages_of(expert_page)).to_contain_text("Submitted for review.")
    expect(expert_page.get_by_role("heading", level=1)).to_contain_text("Submitted")
    save_screenshot(expert_page, "vetting-3-credential-submitted")
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.SUBMITTED

    # 4. The vetter logs in with password and TOTP, and asks for more information.
    log_in_staff(staff_page, vetter.email, secret)
    staff_page.goto("/staff/vetting/")
    expect(staff_page.get_by_role("heading", level=1)).to_have_text("Credential queue")
    row = staff_page.get_by_test_id("queue-row").filter(has_text=CREDENTIAL_TITLE)
    expect(row).to_contain_text("Elena Rivera")
    expect(row).to_contain_text("Submitted")
    row.get_by_role("link", name=CREDENTIAL_TITLE).click()
    expect(staff_page).to_have_url(re.compile(rf"/staff/vetting/{credential.pk}/"))
    expect_image_loaded(staff_page, "Page 1 of abr-certificate.pdf")
    staff_page.get_by_role("button", name="Start review").click()
    expect(messages_of(staff_page)).to_contain_text(f"You are reviewing “{CREDENTIAL_TITLE}”.")
    staff_page.get_by_label("Request information").check()
    staff_page.get_by_label("Message to the expert").fill(STAFF_QUESTION)
    save_screenshot(staff_page, "vetting-4-review")
    staff_page.get_by_role("button", name="Record decision").click()
    expect(messages_of(staff_page)).to_contain_text("Asked for more information")
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.NEEDS_INFO
    assert credential.staff_message == STAFF_QUESTION
    assert credential.reviewer == vetter
    # One e-mail so far; subjects are cut at 80 characters, so compare their start.
    (asked,) = subjects_to(elena.email)
    assert asked.startswith(f"A reviewer needs more information about “{CREDENTIAL_TITLE}")

    # 5. The expert reads the question, answers it and resubmits.
    expert_page.reload()
    expect(expert_page.get_by_role("heading", level=1)).to_contain_text("Needs information")
    expect(
        expert_page.get_by_role("region", name="The reviewer needs more information")
    ).to_contain_text(STAFF_QUESTION)
    expert_page.get_by_label("Your response to the reviewer").fill(EXPERT_ANSWER)
    save_screenshot(expert_page, "vetting-5-respond")
    expert_page.get_by_role("button", name="Resubmit").click()
    expect(messages_of(expert_page)).to_contain_text("Resubmitted for review.")
    expect(expert_page.get_by_role("heading", level=1)).to_contain_text("Submitted")
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.SUBMITTED
    assert credential.expert_response == EXPERT_ANSWER

    # 6. The vetter sees the answer and verifies the credential.
    staff_page.goto("/staff/vetting/")
    row = staff_page.get_by_test_id("queue-row").filter(has_text=CREDENTIAL_TITLE)
    expect(row).to_contain_text("Resubmitted")
    row.get_by_role("link", name=CREDENTIAL_TITLE).click()
    expect(staff_page.get_by_test_id("expert-response")).to_have_text(EXPERT_ANSWER)
    # Resubmitted, it is back in the queue unclaimed: the vetter claims it again.
    staff_page.get_by_role("button", name="Start review").click()
    expect(messages_of(staff_page)).to_contain_text("You are reviewing")
    staff_page.get_by_label("Verify").check()
    save_screenshot(staff_page, "vetting-6-verify")
    staff_page.get_by_role("button", name="Record decision").click()
    expect(messages_of(staff_page)).to_contain_text(f"Verified “{CREDENTIAL_TITLE}”.")
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.VERIFIED
    assert credential.reviewer == vetter
    assert subjects_to(elena.email)[1:] == [f"Your credential “{CREDENTIAL_TITLE}” was verified."]
    assert not selectors.is_vetted_for_domain(expert=elena, domain=radiology)

    # 7. The expert passes the radiology test and is vetted for Radiology.
    expert_page.get_by_role("navigation", name="Main").get_by_role("link", name="Tests").click()
    expect(expert_page.get_by_role("heading", level=1)).to_have_text("Qualification tests")
    card = expert_page.locator(".test-card").filter(has_text=test.title)
    card.get_by_role("button", name="Start test").click()
    expect(expert_page.get_by_role("heading", level=1)).to_have_text(test.title)
    for question_id, choice_id in answers.items():
        expert_page.locator(f"input[name='question-{question_id}'][value='{choice_id}']").check()
    save_screenshot(expert_page, "vetting-7-test")
    expert_page.get_by_role("button", name="Hand in answers").click()
    expect(messages_of(expert_page)).to_contain_text("Answers handed in.")
    expect(expert_page.get_by_role("heading", level=2, name="You passed with 100%")).to_be_visible()
    attempt = TestAttempt.objects.get(expert=elena, test=test)
    assert attempt.status == AttemptStatus.PASSED
    assert attempt.score_percent == 100

    expert_page.goto("/expert/")
    badges = expert_page.get_by_role("list", name="Domains you are vetted for")
    expect(badges).to_have_text("Vetted for Radiology")
    save_screenshot(expert_page, "vetting-7-dashboard")
    assert selectors.is_vetted_for_domain(expert=elena, domain=radiology)
