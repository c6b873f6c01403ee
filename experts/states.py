"""Statuses, choices and allowed transitions for experts, credentials and qualification tests."""

from django.db import models


class CredentialKind(models.TextChoices):
    DEGREE = "degree", "Degree"
    LICENCE = "licence", "Licence"
    BOARD_CERTIFICATION = "board_certification", "Board certification"
    PROFESSIONAL_CERTIFICATION = "professional_certification", "Professional certification"
    EMPLOYMENT = "employment", "Employment"


class CredentialStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    VERIFIED = "verified", "Verified"
    REJECTED = "rejected", "Rejected"
    NEEDS_INFO = "needs_info", "Needs information"


# Who may move a credential from one state to the next (DESIGN.md, flow 1).
CREDENTIAL_TRANSITIONS: dict[str, frozenset[str]] = {
    CredentialStatus.DRAFT: frozenset({CredentialStatus.SUBMITTED}),
    CredentialStatus.SUBMITTED: frozenset({CredentialStatus.IN_REVIEW}),
    CredentialStatus.IN_REVIEW: frozenset(
        {
            CredentialStatus.VERIFIED,
            CredentialStatus.REJECTED,
            CredentialStatus.NEEDS_INFO,
            CredentialStatus.SUBMITTED,  # the reviewer releases it back to the queue
        }
    ),
    CredentialStatus.NEEDS_INFO: frozenset({CredentialStatus.SUBMITTED}),
    CredentialStatus.REJECTED: frozenset({CredentialStatus.SUBMITTED}),
    # A verified credential past its expiry date returns to review.
    CredentialStatus.VERIFIED: frozenset({CredentialStatus.SUBMITTED}),
}
# States in which the expert may still edit the claim and its documents.
EDITABLE_CREDENTIAL_STATES = frozenset(
    {CredentialStatus.DRAFT, CredentialStatus.NEEDS_INFO, CredentialStatus.REJECTED}
)

# States after a reviewer's decision: resubmitting one needs the expert's answer.
RESPONSE_CREDENTIAL_STATES = frozenset({CredentialStatus.NEEDS_INFO, CredentialStatus.REJECTED})


def credential_is_editable(status: str, reviewer_id: int | None) -> bool:
    """The expert may change the claim and its documents: before submission, after a
    needs-info or a rejection, and while it waits in the queue unclaimed (an expired credential
    comes back there, so its renewal can be uploaded)."""
    return status in EDITABLE_CREDENTIAL_STATES or (
        status == CredentialStatus.SUBMITTED and reviewer_id is None
    )


# States that wait in the staff queue.
QUEUED_CREDENTIAL_STATES = frozenset({CredentialStatus.SUBMITTED, CredentialStatus.IN_REVIEW})


class Proficiency(models.TextChoices):
    A1 = "A1", "A1 — beginner"
    A2 = "A2", "A2 — elementary"
    B1 = "B1", "B1 — intermediate"
    B2 = "B2", "B2 — upper intermediate"
    C1 = "C1", "C1 — advanced"
    C2 = "C2", "C2 — proficient"
    NATIVE = "native", "Native"


class Seniority(models.TextChoices):
    JUNIOR = "junior", "Junior (under 3 years)"
    MID = "mid", "Mid-level (3 to 7 years)"
    SENIOR = "senior", "Senior (7 to 15 years)"
    PRINCIPAL = "principal", "Principal / attending (15+ years)"


class QuestionKind(models.TextChoices):
    MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
    SHORT_ANSWER = "short_answer", "Short written answer (graded by staff)"


class AttemptStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    AWAITING_GRADING = "awaiting_grading", "Awaiting grading"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


FINISHED_ATTEMPT_STATES = frozenset({AttemptStatus.PASSED, AttemptStatus.FAILED})
