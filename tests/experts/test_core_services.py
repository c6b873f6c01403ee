"""The vetting rule and the core credential and qualification services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from experts import selectors, services
from experts.models import Credential, CredentialDocument, DomainQualification
from experts.states import AttemptStatus, CredentialStatus
from marketplace.errors import Conflict, InvalidInput, PermissionDenied
from marketplace.models import AuditEvent, Notification
from tests.experts import factories as ef
from tests.factories import expert, staff_user

pytestmark = pytest.mark.django_db


def test_vetted_needs_a_verified_credential_and_a_passed_test():
    person = expert()
    radiology = ef.domain()
    test = ef.qualification_test(on=radiology)

    ef.verified_credential(person, domains=[radiology])
    assert not selectors.is_vetted_for_domain(expert=person, domain=radiology)

    attempt = ef.pass_test(person, test)

    assert attempt.status == AttemptStatus.PASSED
    assert attempt.score_percent == 100
    assert selectors.is_vetted_for_domain(expert=person, domain=radiology)
    assert list(selectors.vetted_domains_of_expert(expert=person)) == [radiology]
    assert list(selectors.experts_vetted_for_domain(domain=radiology)) == [person]


def test_a_credential_for_the_field_covers_its_specialties_but_not_others():
    person = expert()
    radiology, medicine, contracts = (
        ef.domain(),
        ef.domain("medicine"),
        ef.domain("law-contracts"),
    )
    ef.verified_credential(person, domains=[medicine])
    ef.pass_test(person, ef.qualification_test(on=radiology))
    ef.pass_test(person, ef.qualification_test(on=contracts))

    assert set(selectors.vetted_domains_of_expert(expert=person)) == {radiology}


def test_an_expired_credential_no_longer_vets():
    person = expert()
    radiology = ef.domain()
    ef.verified_credential(person, domains=[radiology], expires_on=timezone.localdate())
    ef.pass_test(person, ef.qualification_test(on=radiology))
    assert selectors.is_vetted_for_domain(expert=person, domain=radiology)

    Credential.objects.update(expires_on=timezone.localdate() - timedelta(days=1))

    assert not selectors.is_vetted_for_domain(expert=person, domain=radiology)


def test_staff_cannot_vet_themselves_and_decisions_notify(django_capture_on_commit_callbacks):
    reviewer, _ = staff_user()
    person = expert()
    submitted = ef.credential(person, submit=True)

    person.is_staff = True  # an expert later made staff still cannot vet their own claim
    with pytest.raises(PermissionDenied, match="your own"):
        services.credential_start_review(staff=person, credential_id=submitted.pk)
    person.is_staff = False

    with django_capture_on_commit_callbacks(execute=True):
        services.credential_request_info(
            staff=reviewer, credential_id=submitted.pk, message="Upload the back side."
        )

    submitted.refresh_from_db()
    assert submitted.status == CredentialStatus.NEEDS_INFO
    assert submitted.staff_message == "Upload the back side."
    assert Notification.objects.get(recipient=person).kind == "credential.needs_info"
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(action="credential.needs_info", actor=reviewer).exists()


def test_the_second_reviewer_sees_the_credential_was_taken():
    first, _ = staff_user()
    second, _ = staff_user()
    submitted = ef.credential(expert(), submit=True)
    services.credential_start_review(staff=first, credential_id=submitted.pk)

    with pytest.raises(Conflict, match=first.email):
        services.credential_verify(staff=second, credential_id=submitted.pk)

    submitted.refresh_from_db()
    assert (submitted.status, submitted.reviewer) == (CredentialStatus.IN_REVIEW, first)


def test_a_decision_on_a_changed_credential_is_refused():
    reviewer, _ = staff_user()
    submitted = ef.credential(expert(), submit=True)
    version = services.credential_version(submitted)
    Credential.objects.filter(pk=submitted.pk).update(updated_at=timezone.now())

    with pytest.raises(Conflict, match="changed while you were looking"):
        services.credential_verify(
            staff=reviewer, credential_id=submitted.pk, expected_version=version
        )

    submitted.refresh_from_db()
    assert submitted.status == CredentialStatus.SUBMITTED


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("cv.pdf", b"<html><script>alert(1)</script></html>", "PDF, PNG or JPEG"),
        ("a.pdf", b"", "empty"),
        ("x.zip", b"PK\x03\x04" + b"\0" * 50, "PDF, PNG or JPEG"),
        ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "PDF, PNG or JPEG"),
        ("broken.pdf", b"%PDF-1.7\nnot really", "damaged"),
    ],
)
def test_bad_uploads_store_nothing(name, data, message, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    person = expert()
    draft = services.credential_create(
        expert=person,
        data={"kind": "degree", "title": "MD", "issuer": "Uni", "domains": [ef.domain()]},
    )

    with pytest.raises(InvalidInput, match=message):
        services.document_add(expert=person, credential_id=draft.pk, name=name, data=data)

    assert not CredentialDocument.objects.exists()
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_polyglot_png_is_reencoded_and_names_are_sanitised():
    person = expert()
    draft = services.credential_create(
        expert=person,
        data={"kind": "degree", "title": "MD", "issuer": "Uni", "domains": [ef.domain()]},
    )
    polyglot = ef.png_bytes() + b"<html><script>alert(document.cookie)</script></html>"

    document = services.document_add(
        expert=person, credential_id=draft.pk, name="../../etc/passwd\x00.png", data=polyglot
    )

    stored = document.file.read()
    assert b"<script>" not in stored
    assert stored.startswith(b"\x89PNG")
    assert document.original_name == "passwd.png"
    assert "passwd" not in document.file.name


def test_oversized_upload_is_refused(settings):
    settings.MAX_DOCUMENT_UPLOAD_SIZE = 1000
    person = expert()
    draft = services.credential_create(
        expert=person,
        data={"kind": "degree", "title": "MD", "issuer": "Uni", "domains": [ef.domain()]},
    )

    with pytest.raises(InvalidInput, match="limit is"):
        services.document_add(
            expert=person,
            credential_id=draft.pk,
            name="big.png",
            data=ef.png_bytes(size=(900, 900)),
        )

    assert not CredentialDocument.objects.exists()


def test_written_answers_wait_for_a_grader_then_count():
    grader, _ = staff_user()
    person = expert()
    test = ef.qualification_test(written=True)
    attempt = ef.pass_test(person, test)
    assert attempt.status == AttemptStatus.AWAITING_GRADING
    written = attempt.answers.get(points_awarded__isnull=True)

    graded = services.attempt_grade(staff=grader, attempt_id=attempt.pk, points={written.pk: 1})

    assert graded.status == AttemptStatus.PASSED
    assert graded.score_percent == 75
    assert DomainQualification.objects.get(expert=person).best_score_percent == 75


def test_one_attempt_per_cooldown_and_late_submissions_score_nothing():
    person = expert()
    test = ef.qualification_test()
    attempt = services.attempt_start(expert=person, test_id=test.pk)
    assert services.attempt_start(expert=person, test_id=test.pk) == attempt  # resumes
    type(attempt).objects.filter(pk=attempt.pk).update(
        deadline=timezone.now() - timedelta(minutes=5)
    )

    late = services.attempt_submit(
        expert=person, attempt_id=attempt.pk, answers=ef.right_answers(test)
    )

    assert (late.status, late.score_percent) == (AttemptStatus.FAILED, 0)
    with pytest.raises(Conflict, match="again from"):
        services.attempt_start(expert=person, test_id=test.pk)


def test_expiry_job_returns_credentials_to_review_and_warns_once(
    django_capture_on_commit_callbacks,
):
    person = expert()
    today = timezone.localdate()
    expiring = ef.verified_credential(person, expires_on=today + timedelta(days=20))
    expired = ef.verified_credential(person, title="Licence", expires_on=today + timedelta(days=40))
    Credential.objects.filter(pk=expired.pk).update(expires_on=today - timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert services.credentials_warn_expiring() == 1
        assert services.credentials_warn_expiring() == 0
        assert services.credentials_review_expired() == 1
        assert services.credentials_review_expired() == 0

    expiring.refresh_from_db()
    expired.refresh_from_db()
    assert expiring.status == CredentialStatus.VERIFIED
    assert expiring.expiry_warned_at is not None
    assert expired.status == CredentialStatus.SUBMITTED
    kinds = sorted(Notification.objects.filter(recipient=person).values_list("kind", flat=True))
    assert kinds == [
        "credential.expired",
        "credential.expiring",
        "credential.verified",
        "credential.verified",
    ]


def test_duplicate_document_and_identifier_signals():
    first, second = expert(), expert()
    same_pdf = ef.pdf_bytes("gray")
    ef.credential(first, identifier="LIC-42", document=same_pdf, submit=True)
    theirs = ef.credential(second, identifier="lic-42", document=same_pdf, submit=True)

    texts = [signal.text for signal in selectors.credential_signals(credential=theirs)]

    assert f"The same document was uploaded by {first.email}." in texts
    assert f"Identifier lic-42 is also claimed by {first.email}." in texts


def test_starting_again_closes_an_abandoned_attempt():
    person = expert()
    test = ef.qualification_test()
    attempt = services.attempt_start(expert=person, test_id=test.pk)
    type(attempt).objects.filter(pk=attempt.pk).update(
        deadline=timezone.now() - timedelta(minutes=5)
    )

    again = services.attempt_start(expert=person, test_id=test.pk)

    assert again.pk == attempt.pk
    attempt.refresh_from_db()
    assert (attempt.status, attempt.score_percent) == (AttemptStatus.FAILED, 0)
    with pytest.raises(Conflict, match="again from"):
        services.attempt_start(expert=person, test_id=test.pk)


def test_oversized_pdf_pages_and_pixel_bombs_are_refused():
    import io

    from PIL import Image

    person = expert()
    draft = services.credential_create(
        expert=person,
        data={"kind": "degree", "title": "MD", "issuer": "Uni", "domains": [ef.domain()]},
    )
    huge_page = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(huge_page, format="PDF", resolution=1.0)
    bomb = io.BytesIO()
    Image.new("1", (7000, 7000)).save(bomb, format="PNG")

    with pytest.raises(InvalidInput, match="larger than A0"):
        services.document_add(
            expert=person, credential_id=draft.pk, name="a.pdf", data=huge_page.getvalue()
        )
    with pytest.raises(InvalidInput, match="too many pixels"):
        services.document_add(
            expert=person, credential_id=draft.pk, name="b.png", data=bomb.getvalue()
        )

    assert not CredentialDocument.objects.exists()


def test_previews_are_capped_in_size():
    from experts.documents import PREVIEW_MAX_SIDE, render_page_png

    png = render_page_png(data=ef.pdf_bytes(), content_type="application/pdf", page=0)

    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        assert max(image.size) <= PREVIEW_MAX_SIDE


def test_staff_never_take_tests_and_the_pass_mark_is_exact():
    reviewer, _ = staff_user()
    reviewer.role = "expert"  # even a staff member holding an expert role
    test = ef.qualification_test()
    with pytest.raises(PermissionDenied, match="not staff"):
        services.attempt_start(expert=reviewer, test_id=test.pk)

    person = expert()
    strict = ef.qualification_test(on=ef.domain("law-contracts"))
    type(strict).objects.filter(pk=strict.pk).update(pass_mark_percent=51)
    answers = ef.right_answers(strict)
    first_question = next(iter(answers))
    answers[first_question] = "0"  # one of two wrong: exactly 50%
    attempt = services.attempt_start(expert=person, test_id=strict.pk)
    scored = services.attempt_submit(expert=person, attempt_id=attempt.pk, answers=answers)

    assert (scored.score_percent, scored.status) == (50, AttemptStatus.FAILED)


def test_the_cooldown_counts_per_domain_and_published_tests_with_attempts_are_frozen():
    person = expert()
    first = ef.qualification_test()
    second = ef.qualification_test()  # same domain
    ef.pass_test(person, first)

    with pytest.raises(Conflict, match="again from"):
        services.attempt_start(expert=person, test_id=second.pk)
    with pytest.raises(Conflict, match="Create a new version"):
        services.question_add(
            staff=first.created_by, test_id=first.pk, kind="short_answer", prompt="More?"
        )


def test_a_decision_from_the_queue_audits_the_claim_and_the_decision():
    reviewer, _ = staff_user()
    submitted = ef.credential(expert(), submit=True)

    services.credential_verify(staff=reviewer, credential_id=submitted.pk)

    events = list(
        AuditEvent.objects.filter(target_id=str(submitted.pk), actor=reviewer)
        .order_by("id")
        .values_list("action", "before", "after")
    )
    assert events[0][:2] == ("credential.start_review", {"status": "submitted"})
    assert events[1][0] == "credential.verified"
    assert events[1][1] == {"status": "in_review"}


def test_vetting_for_a_top_level_field_needs_a_credential_for_it():
    person = expert()
    medicine = ef.domain("medicine")
    ef.verified_credential(person, domains=[ef.domain("law-contracts")])
    ef.pass_test(person, ef.qualification_test(on=medicine))

    assert not selectors.is_vetted_for_domain(expert=person, domain=medicine)
    assert list(selectors.experts_vetted_for_domain(domain=medicine)) == []
    assert list(selectors.vetted_domains_of_expert(expert=person)) == []


def test_an_expired_credential_can_be_renewed_while_it_waits_in_the_queue():
    person = expert()
    today = timezone.localdate()
    verified = ef.verified_credential(person, expires_on=today + timedelta(days=5))
    with pytest.raises(Conflict):
        services.document_add(
            expert=person, credential_id=verified.pk, name="new.pdf", data=ef.pdf_bytes("gray")
        )
    Credential.objects.filter(pk=verified.pk).update(expires_on=today - timedelta(days=1))
    services.credentials_review_expired()

    services.document_add(
        expert=person, credential_id=verified.pk, name="renewal.pdf", data=ef.pdf_bytes("gray")
    )
    renewed = services.credential_update(
        expert=person,
        credential_id=verified.pk,
        data={
            "kind": verified.kind,
            "title": verified.title,
            "issuer": verified.issuer,
            "issued_on": verified.issued_on,
            "expires_on": today + timedelta(days=365),
            "domains": [ef.domain()],
        },
    )

    assert renewed.status == CredentialStatus.SUBMITTED
    assert renewed.expires_on == today + timedelta(days=365)
    assert renewed.documents.count() == 2


@pytest.mark.parametrize(
    ("days_left", "warned", "expired"),
    [(31, False, False), (30, True, False), (0, True, False), (-1, False, True)],
)
def test_expiry_job_boundaries(days_left, warned, expired):
    person = expert()
    radiology = ef.domain()
    ef.pass_test(person, ef.qualification_test(on=radiology))
    credential = ef.verified_credential(person, domains=[radiology])
    today = timezone.localdate()
    Credential.objects.filter(pk=credential.pk).update(expires_on=today + timedelta(days_left))

    assert services.credentials_warn_expiring() == int(warned)
    assert services.credentials_review_expired() == int(expired)

    credential.refresh_from_db()
    assert credential.status == (
        CredentialStatus.SUBMITTED if expired else CredentialStatus.VERIFIED
    )
    assert selectors.is_vetted_for_domain(expert=person, domain=radiology) is not expired
    assert (
        AuditEvent.objects.filter(
            action="credential.expired", target_id=str(credential.pk)
        ).exists()
        is expired
    )
