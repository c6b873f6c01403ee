"""seed_demo shows the whole experts feature, converges when run again, and stays fast."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from experts import selectors
from experts.models import (
    Answer,
    Credential,
    CredentialDocument,
    Domain,
    DomainQualification,
    ExpertDomain,
    ExpertLanguage,
    ExpertProfile,
    QualificationTest,
    Question,
    TestAttempt,
)
from experts.states import AttemptStatus, CredentialStatus, QuestionKind
from marketplace.models import AuditEvent, Notification, User

pytestmark = pytest.mark.django_db

COUNTED = (
    User,
    ExpertProfile,
    ExpertLanguage,
    ExpertDomain,
    Credential,
    CredentialDocument,
    QualificationTest,
    Question,
    TestAttempt,
    Answer,
    DomainQualification,
    AuditEvent,
    Notification,
)


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


def test_seeding_twice_changes_nothing(seeded, tmp_path):
    counts = _counts()
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    statuses = dict(Credential.objects.values_list("title", "status"))

    started = time.monotonic()
    call_command("seed_demo", stdout=io.StringIO())

    assert time.monotonic() - started < 5
    assert _counts() == counts
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == files
    assert dict(Credential.objects.values_list("title", "status")) == statuses


def test_every_credential_state_is_shown(seeded):
    assert set(Credential.objects.values_list("status", flat=True)) == set(CredentialStatus.values)
    assert not Credential.objects.filter(documents__isnull=True).exists()
    in_review = Credential.objects.get(status=CredentialStatus.IN_REVIEW)
    assert in_review.reviewer.email == "vetter@demo.example"
    needs_info = Credential.objects.get(status=CredentialStatus.NEEDS_INFO)
    assert "SRA number" in needs_info.staff_message
    rejected = Credential.objects.get(status=CredentialStatus.REJECTED)
    assert rejected.staff_message.startswith("The certificate number is not on the BPS")
    # The quality demo's radiology panel (panel<n>@demo.example) holds six more.
    verified = Credential.objects.filter(status=CredentialStatus.VERIFIED).exclude(
        expert__email__startswith="panel"
    )
    assert verified.count() == 10
    assert verified.filter(expires_on__isnull=True).exists()
    today = timezone.localdate()
    expiring = verified.get(expires_on__lte=today + timezone.timedelta(days=30))
    assert expiring.title == "Board certified in radiology"
    assert expiring.expiry_warned_at is not None
    assert Notification.objects.filter(
        recipient=expiring.expert, kind="credential.expiring"
    ).exists()
    # Decisions went through the services: audited and notified.
    assert AuditEvent.objects.filter(action="credential.verified").count() == 10 + 6
    assert Notification.objects.filter(kind="credential.needs_info").count() == 1


def test_documents_are_real_pdfs_and_pngs(seeded):
    types = set(CredentialDocument.objects.values_list("content_type", flat=True))
    assert types == {"application/pdf", "image/png"}
    document = CredentialDocument.objects.get(original_name="rivera-md-diploma.pdf")
    with document.file.open("rb") as handle:
        assert handle.read(5) == b"%PDF-"
    assert document.page_count == 1


def test_the_demo_experts_have_full_profiles(seeded):
    for email in ("dr.rivera@demo.example", "j.okafor@demo.example", "m.chen@demo.example"):
        profile = ExpertProfile.objects.get(user__email=email)
        assert profile.headline
        assert profile.links
        assert profile.weekly_availability_hours
        assert profile.expected_hourly_rate_cents
        assert profile.languages.count() >= 2
        assert profile.domains.count() == 2


def test_rivera_is_vetted_for_radiology_and_an_attempt_awaits_grading(seeded):
    rivera = User.objects.get(email="dr.rivera@demo.example")
    radiology = Domain.objects.get(slug="medicine-radiology")
    contracts = Domain.objects.get(slug="law-contracts")

    assert selectors.is_vetted_for_domain(expert=rivera, domain=radiology)
    passed = TestAttempt.objects.get(expert=rivera)
    assert (passed.status, passed.score_percent) == (AttemptStatus.PASSED, 75)
    waiting = TestAttempt.objects.get(status=AttemptStatus.AWAITING_GRADING)
    assert waiting.expert.email == "j.okafor@demo.example"
    assert waiting.test.domain == contracts
    assert list(selectors.attempts_awaiting_grading()) == [waiting]
    tests = QualificationTest.objects.filter(is_published=True)
    assert {t.domain.slug for t in tests} >= {"medicine-radiology", "law-contracts"}
    assert Question.objects.filter(kind=QuestionKind.SHORT_ANSWER).count() == 1
    assert "Dr. Elena Rivera: vetted for Medicine → Radiology" in seeded


def test_the_summary_counts_every_state(seeded):
    assert (
        "Credentials of the demo experts: 1 draft, 2 submitted, 1 in review, 10 verified, "
        "1 rejected, 1 needs information." in seeded
    )
