"""Experts: domain taxonomy, profiles, credentials with private documents, qualification tests."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django_countries.fields import CountryField

from experts.states import (
    AttemptStatus,
    CredentialKind,
    CredentialStatus,
    Proficiency,
    QuestionKind,
    Seniority,
)
from marketplace.models import TimeStampedModel


class Domain(TimeStampedModel):
    """A node of the expertise taxonomy: a field (parent empty) or one of its specialties."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    description = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering: ClassVar = ["parent__name", "name"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["parent", "name"], name="domain_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.parent.name} → {self.name}" if self.parent is not None else self.name


def _document_path(instance: CredentialDocument, filename: str) -> str:
    # Server-generated, unguessable, and never derived from the uploaded name.
    return f"credential-documents/{uuid.uuid4().hex}"


class ExpertProfile(TimeStampedModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="expert_profile"
    )
    # A stable pseudonymous id for provenance in exports: never the user's id or e-mail.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    headline = models.CharField(max_length=140, blank=True)
    bio = models.TextField(max_length=4000, blank=True)
    country = CountryField(blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    weekly_availability_hours = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(80)]
    )
    expected_hourly_rate_cents = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    years_of_experience = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(70)]
    )
    links = models.JSONField(default=list, blank=True)
    # Private: used only to keep the expert off their own employer's projects.
    employer = models.CharField(max_length=160, blank=True)
    # Off: the expert keeps their seats but gets no new invitations.
    accepting_invitations = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class ExpertLanguage(TimeStampedModel):
    profile = models.ForeignKey(ExpertProfile, on_delete=models.CASCADE, related_name="languages")
    language = models.CharField(max_length=16, choices=settings.LANGUAGES)
    proficiency = models.CharField(max_length=8, choices=Proficiency.choices)

    class Meta:
        ordering: ClassVar = ["language"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["profile", "language"], name="expert_language_once"),
            models.CheckConstraint(
                condition=Q(proficiency__in=Proficiency.values),
                name="expert_language_proficiency_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.language} ({self.proficiency})"


class ExpertDomain(TimeStampedModel):
    """A domain or specialty the expert claims, with self-reported seniority."""

    profile = models.ForeignKey(ExpertProfile, on_delete=models.CASCADE, related_name="domains")
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="expert_domains")
    seniority = models.CharField(max_length=16, choices=Seniority.choices)

    class Meta:
        ordering: ClassVar = ["domain__name"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["profile", "domain"], name="expert_domain_once"),
            models.CheckConstraint(
                condition=Q(seniority__in=Seniority.values), name="expert_domain_seniority_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.domain} ({self.seniority})"


class Credential(TimeStampedModel):
    """A claim (degree, licence, certification, employment) backed by documents."""

    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="credentials"
    )
    kind = models.CharField(max_length=32, choices=CredentialKind.choices)
    title = models.CharField(max_length=160, help_text="e.g. “MD”, “Board certified in radiology”")
    issuer = models.CharField(max_length=160)
    identifier = models.CharField(max_length=80, blank=True)
    country = CountryField(blank=True)
    issued_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    domains = models.ManyToManyField(Domain, related_name="credentials")
    status = models.CharField(
        max_length=16, choices=CredentialStatus.choices, default=CredentialStatus.DRAFT
    )
    staff_message = models.TextField(blank=True)
    expert_response = models.TextField(blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="credentials_in_review",
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    review_started_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    expiry_warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=CredentialStatus.values), name="credential_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=CredentialKind.values), name="credential_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True)
                | Q(issued_on__isnull=True)
                | Q(expires_on__gt=models.F("issued_on")),
                name="credential_expires_after_issue",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["status", "submitted_at"]),
            models.Index(fields=["identifier"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class CredentialDocument(TimeStampedModel):
    """An uploaded proof. Private: served only through a permission-checked view."""

    credential = models.ForeignKey(Credential, on_delete=models.CASCADE, related_name="documents")
    file = models.FileField(upload_to=_document_path, max_length=200)
    original_name = models.CharField(max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    page_count = models.PositiveSmallIntegerField(default=1)
    sha256 = models.CharField(max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["created_at"]

    def __str__(self) -> str:
        return self.original_name


class QualificationTest(TimeStampedModel):
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="tests")
    title = models.CharField(max_length=160)
    instructions = models.TextField(blank=True)
    time_limit_minutes = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(480)]
    )
    pass_mark_percent = models.PositiveSmallIntegerField(
        default=70, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    cooldown_days = models.PositiveSmallIntegerField(default=30, validators=[MinValueValidator(1)])
    is_published = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering: ClassVar = ["domain__name", "title"]

    def __str__(self) -> str:
        return self.title


class Question(TimeStampedModel):
    test = models.ForeignKey(QualificationTest, on_delete=models.CASCADE, related_name="questions")
    kind = models.CharField(max_length=20, choices=QuestionKind.choices)
    prompt = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)
    points = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    # For short answers: what a grader should look for. Never shown to the expert.
    reference_answer = models.TextField(blank=True)

    class Meta:
        ordering: ClassVar = ["position", "id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(kind__in=QuestionKind.values), name="question_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return self.prompt[:60]


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(max_length=300)
    is_correct = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class TestAttempt(TimeStampedModel):
    test = models.ForeignKey(QualificationTest, on_delete=models.PROTECT, related_name="attempts")
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="test_attempts"
    )
    status = models.CharField(
        max_length=20, choices=AttemptStatus.choices, default=AttemptStatus.IN_PROGRESS
    )
    started_at = models.DateTimeField()
    deadline = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    score_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    graded_at = models.DateTimeField(null=True, blank=True)

    __test__ = False  # not a pytest test class despite the name

    class Meta:
        ordering: ClassVar = ["-started_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=AttemptStatus.values), name="attempt_status_valid"
            ),
            # One open attempt per expert and test at any time.
            models.UniqueConstraint(
                fields=["test", "expert"],
                condition=Q(status="in_progress"),
                name="attempt_one_in_progress",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.expert} — {self.test} ({self.status})"


class Answer(models.Model):
    attempt = models.ForeignKey(TestAttempt, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    choice = models.ForeignKey(
        Choice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField(max_length=5000, blank=True)
    points_awarded = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["attempt", "question"], name="answer_once")
        ]

    def __str__(self) -> str:
        return f"Answer to {self.question_id}"


class DomainQualification(TimeStampedModel):
    """The expert's best qualification result in a domain; feeds matching and quality."""

    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="qualifications"
    )
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="qualifications")
    best_score_percent = models.PositiveSmallIntegerField()
    passed = models.BooleanField(default=False)
    passed_at = models.DateTimeField(null=True, blank=True)
    last_attempt = models.ForeignKey(
        TestAttempt, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["expert", "domain"], name="qualification_once")
        ]

    def __str__(self) -> str:
        return f"{self.expert} in {self.domain}: {self.best_score_percent}%"
