"""The staff vetting console: access, the credential queue, the review page and decisions."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core import mail
from django.http import Http404
from django.test import RequestFactory
from django.urls import resolve, reverse
from django.utils import timezone

from experts import services
from experts.models import Credential
from experts.selectors import credential_signals
from experts.states import CredentialKind, CredentialStatus
from marketplace.errors import Conflict
from marketplace.models import AuditEvent, Notification, User
from tests.experts import factories as ef
from tests.factories import expert, lab_user, log_in_staff, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def vetter(client) -> User:
    """A staff vetter logged in with password and TOTP, as the browser does it."""
    staff, secret = staff_user(with_totp=True, full_name="Vera Vetter")
    assert secret is not None
    log_in_staff(client, staff, secret)
    return staff


def submitted(
    person: User,
    *,
    title: str = "Board certified in radiology",
    kind: str = CredentialKind.BOARD_CERTIFICATION,
    country: str = "US",
    domains: list | None = None,
    identifier: str = "",
    document: bytes | None = None,
    submitted_days_ago: int | None = None,
) -> Credential:
    """A credential with one document, submitted through the expert's services."""
    credential = services.credential_create(
        expert=person,
        data={
            "kind": kind,
            "title": title,
            "issuer": "State Medical Board",
            "identifier": identifier,
            "country": country,
            "issued_on": date(2016, 3, 1),
            "expires_on": None,
            "domains": domains or [ef.domain()],
        },
    )
    services.document_add(
        expert=person,
        credential_id=credential.pk,
        name="proof.pdf",
        data=document if document is not None else ef.pdf_bytes(),
    )
    services.credential_submit(expert=person, credential_id=credential.pk)
    if submitted_days_ago is not None:
        # The queue orders by submission time; age the row as if submitted earlier.
        Credential.objects.filter(pk=credential.pk).update(
            submitted_at=timezone.now() - timedelta(days=submitted_days_ago)
        )
    credential.refresh_from_db()
    return credential


def titles_in(page: str) -> list[str]:
    return re.findall(r'<a href="/staff/vetting/\d+/">([^<]+)</a>', page)


def version_in(page: str) -> str:
    match = re.search(r'name="version" value="([^"]+)"', page)
    assert match, "the decision form carries no version"
    return match.group(1)


def decide(client, credential: Credential, decision: str, message: str = "", version=None):
    if version is None:
        version = version_in(client.get(reverse("vetting:review", args=[credential.pk])).text)
    return client.post(
        reverse("vetting:decide", args=[credential.pk]),
        {"decision": decision, "message": message, "version": version},
    )


def snapshot(credential: Credential) -> tuple:
    row = Credential.objects.get(pk=credential.pk)
    return (row.status, row.reviewer_id, row.staff_message, row.updated_at)


# Access ------------------------------------------------------------------------------------


def _console_urls() -> list[str]:
    person = expert()
    credential = ef.credential(person, submit=True)
    test = ef.qualification_test(written=True)
    attempt = services.attempt_start(expert=person, test_id=test.pk)
    services.attempt_submit(expert=person, attempt_id=attempt.pk, answers=ef.right_answers(test))
    return [
        reverse("vetting:queue"),
        reverse("vetting:review", args=[credential.pk]),
        reverse("vetting:start_review", args=[credential.pk]),
        reverse("vetting:decide", args=[credential.pk]),
        reverse("vetting:tests"),
        reverse("vetting:test_create"),
        reverse("vetting:test_detail", args=[test.pk]),
        reverse("vetting:question_add", args=[test.pk, "multiple-choice"]),
        reverse("vetting:question_add", args=[test.pk, "short-answer"]),
        reverse("vetting:grading"),
        reverse("vetting:grade", args=[attempt.pk]),
    ]


@pytest.mark.parametrize("make_user", [expert, lab_user], ids=["expert", "lab member"])
def test_non_staff_get_404_on_every_console_url(client, make_user):
    urls = _console_urls()
    client.force_login(make_user())
    before = AuditEvent.objects.count()

    for url in urls:
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"decision": "verify", "title": "x"}).status_code == 404, url

    assert AuditEvent.objects.count() == before
    assert not Credential.objects.exclude(status=CredentialStatus.SUBMITTED).exists()


def test_each_console_view_refuses_non_staff_even_without_the_middleware():
    urls = _console_urls()
    person = expert()
    factory = RequestFactory()

    for url in urls:
        request = factory.get(url)
        request.user = person
        match = resolve(url)
        with pytest.raises(Http404):
            match.func(request, *match.args, **match.kwargs)


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("vetting:queue"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


def test_staff_without_a_totp_session_are_sent_to_confirm_their_code(client):
    staff, _ = staff_user(with_totp=True)
    client.force_login(staff)

    response = client.get(reverse("vetting:queue"))

    assert response.status_code == 302
    assert response.url == f"{reverse('mfa_reauthenticate')}?next={reverse('vetting:queue')}"


# Queue -------------------------------------------------------------------------------------


def test_queue_lists_oldest_submission_first_with_counts(client, vetter):
    newest = submitted(expert(), title="Newest MD", submitted_days_ago=1)
    oldest = submitted(expert(), title="Oldest licence", submitted_days_ago=9)
    middle = submitted(expert(), title="Middle degree", submitted_days_ago=3)
    services.credential_start_review(staff=vetter, credential_id=middle.pk)
    ef.credential(expert(), title="Still a draft")

    page = client.get(reverse("vetting:queue")).text

    assert titles_in(page) == [oldest.title, middle.title, newest.title]
    assert "Still a draft" not in page
    assert re.search(r'data-testid="count-submitted">2<', page)
    assert re.search(r'data-testid="count-in-review">1<', page)
    assert re.search(r'data-testid="count-mine">1<', page)
    assert "1\xa0week ago" in page
    assert "3\xa0days ago" in page
    assert "by you" in page
    assert newest.expert.email in page


def test_queue_filters_by_domain_country_and_kind(client, vetter):
    radiology, cardiology = ef.domain(), ef.domain("medicine-cardiology")
    contracts = ef.domain("law-contracts")
    submitted(expert(), title="Radiology board", domains=[radiology])
    submitted(expert(), title="Cardiology board", domains=[cardiology], country="GB")
    submitted(
        expert(),
        title="Bar admission",
        domains=[contracts],
        kind=CredentialKind.LICENCE,
        country="GB",
    )
    queue = reverse("vetting:queue")

    def listed(**params) -> set[str]:
        return set(titles_in(client.get(queue, params).text))

    medicine = radiology.parent
    assert listed(domain=radiology.pk) == {"Radiology board"}
    assert listed(domain=medicine.pk) == {"Radiology board", "Cardiology board"}
    assert listed(country="GB") == {"Cardiology board", "Bar admission"}
    assert listed(kind=CredentialKind.LICENCE) == {"Bar admission"}
    assert listed(country="GB", kind=CredentialKind.BOARD_CERTIFICATION) == {"Cardiology board"}
    assert listed(kind=CredentialKind.DEGREE) == set()
    assert "No credentials in the queue match" in client.get(queue, {"kind": "degree"}).text
    # The domain picker groups specialties under their field.
    page = client.get(queue).text
    assert f'<optgroup label="{medicine.name}">' in page
    assert f'<option value="{medicine.pk}">All of {medicine.name}</option>' in page


def test_queue_counts_warning_signals_like_the_review_page(client, vetter):
    shared_pdf = ef.pdf_bytes("gray")
    first = submitted(expert(), title="Original", document=shared_pdf, identifier="LIC-1")
    copy = submitted(expert(), title="Copy", document=shared_pdf, identifier="lic-1")
    clean = submitted(expert(), title="Clean")

    page = client.get(reverse("vetting:queue")).text

    for credential in (first, copy):
        warnings = [s for s in credential_signals(credential=credential) if s.severity == "warning"]
        assert len(warnings) == 2
    assert page.count('<span class="badge warn"') == 2
    assert '>2<span class="visually-hidden"> warning signals</span>' in page
    assert credential_signals(credential=clean) == []


def test_queue_query_count_does_not_grow_with_rows(client, vetter, django_assert_num_queries):
    for n in range(3):
        submitted(expert(), title=f"Claim {n}", identifier=f"ID-{n}", submitted_days_ago=n)
    client.get(reverse("vetting:queue"))

    # session, user, TOTP, queued countries, domains, counts, page count, rows, domains,
    # their fields, shared hashes, identifiers, sign-up addresses, unread count
    with django_assert_num_queries(14):
        page = client.get(reverse("vetting:queue")).text
    assert len(titles_in(page)) == 3

    for n in range(3, 9):
        submitted(expert(), title=f"Claim {n}", identifier=f"ID-{n}", document=ef.png_bytes())
    with django_assert_num_queries(14):
        page = client.get(reverse("vetting:queue")).text
    assert len(titles_in(page)) == 9


def test_queue_paginates_by_25_keeping_filters(client, vetter):
    person = expert()
    for n in range(27):
        submitted(person, title=f"Claim {n:02}", submitted_days_ago=30 - n)

    first = client.get(reverse("vetting:queue"), {"kind": CredentialKind.BOARD_CERTIFICATION})
    assert len(titles_in(first.text)) == 25
    assert "Page 1 of 2" in first.text
    assert "?kind=board_certification&amp;page=2" in first.text
    second = client.get(reverse("vetting:queue"), {"kind": "board_certification", "page": 2})
    assert titles_in(second.text) == ["Claim 25", "Claim 26"]


# Review ------------------------------------------------------------------------------------


def test_review_page_shows_claim_documents_other_credentials_signals_and_history(
    client, vetter, django_assert_num_queries
):
    shared_pdf = ef.pdf_bytes("silver", pages=2)
    person = expert(full_name="Ana Ortiz")
    credential = submitted(person, title="MD", identifier="MED-42", document=shared_pdf)
    services.document_add(
        expert=person,
        credential_id=ef.credential(person, title="PhD in biophysics").pk,
        name="phd.png",
        data=ef.png_bytes(),
    )
    ef.verified_credential(person, title="Licensed physician")
    copycat = expert(email="copycat@example.org")
    submitted(copycat, title="Borrowed MD", document=shared_pdf)
    document = credential.documents.get()
    client.get(reverse("vetting:review", args=[credential.pk]))

    # session, user, TOTP, credential, domains, fields, documents, profile, reused documents,
    # reused identifier, sign-up address, other credentials, their domains, history, unread
    with django_assert_num_queries(15):
        response = client.get(reverse("vetting:review", args=[credential.pk]))

    page = response.text
    assert response.status_code == 200
    for text in ("MD", "State Medical Board", "MED-42", "United States", "2016-03-01", "Ana Ortiz"):
        assert text in page
    assert "Medicine → Radiology" in page
    assert "The same document was uploaded by copycat@example.org." in page
    for n in (0, 1):
        assert f'src="{reverse("experts:document_page", args=[document.pk, n])}"' in page
    assert reverse("experts:document_page", args=[document.pk, 2]) not in page
    assert f'href="{reverse("experts:document_download", args=[document.pk])}"' in page
    others = page.split('data-testid="other-credentials"')[1].split("</ul>")[0]
    assert "PhD in biophysics" in others
    assert "Licensed physician" in others
    assert '<span class="vet-state verified">Verified</span>' in others
    assert '<span class="vet-state draft">Draft</span>' in others
    assert "Borrowed MD" not in others
    assert "<code>credential.submit</code>" in page
    assert "Start review" in page


def test_review_page_shows_at_most_ten_pages(client, vetter):
    credential = submitted(expert(), document=ef.pdf_bytes(pages=12))
    document = credential.documents.get()

    page = client.get(reverse("vetting:review", args=[credential.pk])).text

    assert page.count(f"/documents/{document.pk}/pages/") == 10
    assert "Showing the first 10 of 12 pages" in page


def test_review_of_a_missing_credential_is_404(client, vetter):
    assert client.get(reverse("vetting:review", args=[999999])).status_code == 404
    assert decide(client, Credential(pk=999999), "verify", version="x").status_code == 404


def test_start_review_then_verify_notifies_the_expert(
    client, vetter, django_capture_on_commit_callbacks
):
    person = expert(email="elena@example.org")
    credential = submitted(person, title="Board certified in radiology")

    response = client.post(reverse("vetting:start_review", args=[credential.pk]))
    assert response.url == reverse("vetting:review", args=[credential.pk])
    page = client.get(response.url).text
    assert "You are reviewing this credential" in page
    assert "Start review" not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client, credential, "verify", "All documents check out.")

    assert response.status_code == 302
    assert response.url == reverse("vetting:queue")
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.VERIFIED
    assert credential.reviewer == vetter
    assert credential.staff_message == "All documents check out."
    assert credential.verified_at is not None
    events = AuditEvent.objects.filter(
        target_type="experts.credential", target_id=str(credential.pk)
    )
    verified = events.get(action="credential.verified")
    assert verified.actor == vetter
    assert verified.before == {"status": CredentialStatus.IN_REVIEW}
    assert verified.ip_address == "127.0.0.1"
    assert events.filter(action="credential.start_review", actor=vetter).count() == 1
    notification = Notification.objects.get(recipient=person, kind="credential.verified")
    assert "was verified" in notification.text
    assert [m.to for m in mail.outbox] == [["elena@example.org"]]
    queue = client.get(reverse("vetting:queue")).text
    assert "Verified “Board certified in radiology”. elena@example.org has been notified." in queue
    assert titles_in(queue) == []


def test_reject_without_a_reason_is_refused_and_changes_nothing(client, vetter):
    credential = submitted(expert())
    before = snapshot(credential)
    events = AuditEvent.objects.count()

    response = decide(client, credential, "reject", "   ")

    assert response.status_code == 400
    assert "Give the expert the reason for the rejection." in response.text
    assert snapshot(credential) == before
    assert AuditEvent.objects.count() == events
    assert not Notification.objects.exists()


def test_a_decision_must_be_chosen(client, vetter):
    credential = submitted(expert())
    before = snapshot(credential)

    response = client.post(
        reverse("vetting:decide", args=[credential.pk]),
        {"message": "hm", "version": services.credential_version(credential)},
    )

    assert response.status_code == 400
    assert "Choose verify, request information or reject." in response.text
    assert snapshot(credential) == before


def test_reject_with_a_reason(client, vetter, django_capture_on_commit_callbacks):
    credential = submitted(expert())

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(client, credential, "reject", "The licence number does not exist.")

    assert response.url == reverse("vetting:queue")
    credential.refresh_from_db()
    assert credential.status == CredentialStatus.REJECTED
    assert credential.staff_message == "The licence number does not exist."
    assert AuditEvent.objects.filter(action="credential.rejected", actor=vetter).count() == 1
    assert len(mail.outbox) == 1


def test_request_info_needs_a_message_and_records_it(client, vetter):
    credential = submitted(expert())

    refused = decide(client, credential, "request_info", "")
    assert refused.status_code == 400
    assert "Tell the expert what information you need." in refused.text
    assert Credential.objects.get(pk=credential.pk).status == CredentialStatus.SUBMITTED

    decide(client, credential, "request_info", "Please upload the back of the card.")

    credential.refresh_from_db()
    assert credential.status == CredentialStatus.NEEDS_INFO
    assert credential.staff_message == "Please upload the back of the card."
    notification = Notification.objects.get(kind="credential.needs_info")
    assert notification.recipient == credential.expert


def test_resubmitted_credential_shows_the_experts_response(client, vetter):
    person = expert()
    credential = submitted(person)
    services.credential_request_info(
        staff=vetter, credential_id=credential.pk, message="Which state issued it?"
    )
    services.credential_submit(
        expert=person, credential_id=credential.pk, response="Issued by California."
    )

    page = client.get(reverse("vetting:review", args=[credential.pk])).text

    assert "Issued by California." in page
    assert "Which state issued it?" in page
    assert "Resubmitted" in client.get(reverse("vetting:queue")).text


def test_a_second_reviewer_sees_it_was_taken_and_changes_nothing(client, vetter):
    first, _ = staff_user(email="first@example.org")
    credential = submitted(expert())
    services.credential_start_review(staff=first, credential_id=credential.pk)
    before = snapshot(credential)
    events = AuditEvent.objects.count()

    page = client.get(reverse("vetting:review", args=[credential.pk])).text
    assert "Taken by first@example.org" in page
    assert 'name="decision"' not in page
    assert "Start review" not in page
    assert "by first@example.org" in client.get(reverse("vetting:queue")).text

    started = client.post(reverse("vetting:start_review", args=[credential.pk]), follow=True)
    assert "first@example.org is already reviewing this credential." in started.text
    current = services.credential_version(Credential.objects.get(pk=credential.pk))
    decided = decide(client, credential, "verify", version=current)
    assert decided.url == reverse("vetting:review", args=[credential.pk])
    follow = client.get(decided.url).text
    assert "first@example.org is reviewing this credential; only they can decide." in follow

    assert snapshot(credential) == before
    assert AuditEvent.objects.count() == events
    assert not Notification.objects.exists()


def test_a_decision_on_a_credential_that_changed_meanwhile_is_refused(client, vetter):
    credential = submitted(expert())
    stale = version_in(client.get(reverse("vetting:review", args=[credential.pk])).text)
    # Meanwhile the credential changes (here: its review starts in another tab).
    services.credential_start_review(staff=vetter, credential_id=credential.pk)
    before = snapshot(credential)
    events = AuditEvent.objects.count()

    response = decide(client, credential, "verify", version=stale)

    assert response.url == reverse("vetting:review", args=[credential.pk])
    page = client.get(response.url).text
    assert "This credential changed while you were looking at it." in page
    assert snapshot(credential) == before
    assert AuditEvent.objects.count() == events
    assert not Notification.objects.exists()
    assert version_in(page) != stale


def test_staff_cannot_decide_their_own_credential(client):
    person = expert()
    credential = submitted(person)
    secret = generate_totp_secret()
    # The expert is promoted to staff: they may open the console but not vet themselves.
    User.objects.filter(pk=person.pk).update(is_staff=True)
    person.refresh_from_db()
    TOTP.activate(person, secret)
    log_in_staff(client, person, secret)
    before = snapshot(credential)

    page = client.get(reverse("vetting:review", args=[credential.pk])).text
    assert "This is your own credential." in page
    assert 'name="decision"' not in page

    response = decide(client, credential, "verify", version=services.credential_version(credential))
    assert "You cannot vet your own credential." in client.get(response.url).text
    started = client.post(reverse("vetting:start_review", args=[credential.pk]), follow=True)
    assert "You cannot vet your own credential." in started.text
    assert snapshot(credential) == before


def test_an_expired_credential_cannot_be_verified(client, vetter):
    credential = submitted(expert())
    Credential.objects.filter(pk=credential.pk).update(
        expires_on=timezone.localdate() - timedelta(days=2)
    )
    page = client.get(reverse("vetting:review", args=[credential.pk])).text
    assert "Expired on" in page

    response = decide(client, credential, "verify")

    assert response.status_code == 400
    assert "it cannot be verified" in response.text
    assert Credential.objects.get(pk=credential.pk).status == CredentialStatus.SUBMITTED


def test_a_decided_credential_offers_no_decision(client, vetter):
    credential = submitted(expert())
    services.credential_verify(staff=vetter, credential_id=credential.pk)

    page = client.get(reverse("vetting:review", args=[credential.pk])).text

    assert 'name="decision"' not in page
    assert "Start review" not in page
    assert "Nothing to decide until the expert submits it again." in page


def test_a_reviewer_releases_a_claim_and_stalled_claims_can_be_freed(client):
    first, _ = staff_user()
    second, secret = staff_user(with_totp=True)
    claimed = ef.credential(expert(), submit=True)
    services.credential_start_review(staff=first, credential_id=claimed.pk)

    with pytest.raises(Conflict, match="less than a day ago"):
        services.credential_release_review(staff=second, credential_id=claimed.pk)
    Credential.objects.filter(pk=claimed.pk).update(
        review_started_at=timezone.now() - timedelta(hours=25)
    )
    log_in_staff(client, second, secret)
    page = client.get(reverse("vetting:review", args=[claimed.pk])).content.decode()
    assert "Release to the queue" in page

    client.post(reverse("vetting:release_review", args=[claimed.pk]))

    claimed.refresh_from_db()
    assert (claimed.status, claimed.reviewer) == (CredentialStatus.SUBMITTED, None)
