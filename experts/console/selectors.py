"""Reads for the staff vetting console (staff only: callers check first)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django_countries import countries

from experts.models import (
    Answer,
    Credential,
    CredentialDocument,
    ExpertProfile,
    QualificationTest,
    Question,
    TestAttempt,
)
from experts.selectors import attempts_awaiting_grading
from experts.states import QUEUED_CREDENTIAL_STATES, AttemptStatus, CredentialStatus
from marketplace.errors import NotFound
from marketplace.models import AuditEvent, User

CREDENTIAL_TARGET_TYPE = Credential._meta.label_lower


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise NotFound()


# Queue -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    submitted: int
    in_review: int
    mine: int


def queue_counts(*, staff: User) -> QueueCounts:
    """How many credentials wait, how many are being reviewed, and how many by ``staff``."""
    counts = Credential.objects.aggregate(
        submitted=Count("pk", filter=Q(status=CredentialStatus.SUBMITTED)),
        in_review=Count("pk", filter=Q(status=CredentialStatus.IN_REVIEW)),
        mine=Count("pk", filter=Q(status=CredentialStatus.IN_REVIEW, reviewer=staff)),
    )
    return QueueCounts(**counts)


def queue_countries() -> list[tuple[str, str]]:
    """The countries that queued credentials name, as ``(code, name)`` sorted by name."""
    codes = (
        Credential.objects.filter(status__in=QUEUED_CREDENTIAL_STATES)
        .exclude(country="")
        .values_list("country", flat=True)
        .distinct()
    )
    return sorted(((code, countries.name(code) or code) for code in codes), key=lambda c: c[1])


def queue_warning_counts(*, credentials: Sequence[Credential]) -> dict[int, int]:
    """The number of warning signals per credential, in three queries for any page size.

    Counts what ``experts.selectors.credential_signals`` reports as warnings: a document or an
    identifier also used by another account (one per account), other sign-ups from the
    expert's sign-up address, an expiry date in the past, an issue date in the future.
    """
    if not credentials:
        return {}
    ids = [credential.pk for credential in credentials]
    counts = dict.fromkeys(ids, 0)

    # Every document sharing a hash with a document of these credentials (theirs included).
    page_hashes = CredentialDocument.objects.filter(credential_id__in=ids).values("sha256")
    hash_rows = CredentialDocument.objects.filter(sha256__in=page_hashes).values_list(
        "sha256", "credential_id", "credential__expert_id"
    )
    experts_by_hash: dict[str, set[int]] = defaultdict(set)
    hashes_of: dict[int, set[str]] = defaultdict(set)
    for sha256, credential_id, expert_id in hash_rows:
        experts_by_hash[sha256].add(expert_id)
        if credential_id in counts:
            hashes_of[credential_id].add(sha256)

    identifiers = {c.identifier.lower() for c in credentials if c.identifier}
    experts_by_identifier: dict[str, set[int]] = defaultdict(set)
    if identifiers:
        for identifier, expert_id in (
            Credential.objects.annotate(identifier_lower=Lower("identifier"))
            .filter(identifier_lower__in=identifiers)
            .values_list("identifier_lower", "expert_id")
        ):
            experts_by_identifier[identifier].add(expert_id)

    expert_ids = {str(credential.expert_id) for credential in credentials}
    signup_ip_of: dict[str, str] = {}
    accounts_by_ip: dict[str, int] = {}
    signups = AuditEvent.objects.filter(action="user.signup", ip_address__isnull=False)
    for target_id, ip in signups.filter(
        target_type=User._meta.label_lower, target_id__in=expert_ids
    ).values_list("target_id", "ip_address"):
        if ip:
            signup_ip_of.setdefault(target_id, ip)
    if signup_ip_of:
        accounts_by_ip = {
            str(ip): int(n)
            for ip, n in signups.filter(ip_address__in=set(signup_ip_of.values()))
            .order_by()
            .values_list("ip_address")
            .annotate(n=Count("pk"))
            .values_list("ip_address", "n")
        }

    today = timezone.localdate()
    for credential in credentials:
        shared = set()
        for sha256 in hashes_of[credential.pk]:
            shared |= experts_by_hash[sha256]
        shared.discard(credential.expert_id)
        n = len(shared)
        if credential.identifier:
            n += len(experts_by_identifier[credential.identifier.lower()] - {credential.expert_id})
        ip = signup_ip_of.get(str(credential.expert_id))
        if ip and accounts_by_ip.get(ip, 0) > 1:
            n += 1
        if credential.expires_on and credential.expires_on < today:
            n += 1
        if credential.issued_on and credential.issued_on > today:
            n += 1
        counts[credential.pk] = n
    return counts


# Review ------------------------------------------------------------------------------------


def credential_history(*, credential: Credential) -> QuerySet[AuditEvent]:
    """Every audit event about ``credential``, oldest first."""
    return (
        AuditEvent.objects.filter(target_type=CREDENTIAL_TARGET_TYPE, target_id=str(credential.pk))
        .select_related("actor")
        .order_by("created_at", "pk")
    )


def expert_profile_summary(*, expert: User) -> ExpertProfile | None:
    """The expert's profile row (headline, country, experience) without its lists."""
    return ExpertProfile.objects.filter(user=expert).first()


# Qualification tests -----------------------------------------------------------------------


def tests_for_staff(*, staff: User) -> QuerySet[QualificationTest]:
    """Every test with its question count, total points and attempts waiting for grading."""
    _require_staff(staff)
    return (
        QualificationTest.objects.select_related("domain", "domain__parent")
        .annotate(
            question_count=Count("questions", distinct=True),
            awaiting_count=Count(
                "attempts",
                filter=Q(attempts__status=AttemptStatus.AWAITING_GRADING),
                distinct=True,
            ),
        )
        .order_by("domain__parent__name", "domain__name", "title")
    )


def test_for_staff(*, staff: User, test_id: int) -> QualificationTest:
    """A test with its questions and their options, answer key included (staff only)."""
    _require_staff(staff)
    try:
        return (
            QualificationTest.objects.select_related("domain", "domain__parent", "created_by")
            .prefetch_related(
                Prefetch(
                    "questions",
                    queryset=Question.objects.order_by("position", "pk").prefetch_related(
                        "choices"
                    ),
                )
            )
            .get(pk=test_id)
        )
    except QualificationTest.DoesNotExist:
        raise NotFound() from None


# Grading -----------------------------------------------------------------------------------


def attempt_for_grading(*, staff: User, attempt_id: int) -> TestAttempt:
    """An attempt with its answers in question order, questions and chosen options loaded."""
    _require_staff(staff)
    try:
        return (
            TestAttempt.objects.select_related("test", "test__domain", "expert", "graded_by")
            .prefetch_related(
                Prefetch(
                    "answers",
                    queryset=Answer.objects.select_related("question", "choice").order_by(
                        "question__position", "question_id"
                    ),
                )
            )
            .get(pk=attempt_id)
        )
    except TestAttempt.DoesNotExist:
        raise NotFound() from None


def attempts_awaiting_grading_with_counts(*, staff: User) -> QuerySet[TestAttempt]:
    """Attempts waiting for a grader, oldest hand-in first, with their ungraded answer count."""
    _require_staff(staff)
    return attempts_awaiting_grading().annotate(
        ungraded_count=Count("answers", filter=Q(answers__points_awarded__isnull=True))
    )
