"""Reads for experts, scoped to the caller, and the one rule for "vetted for a domain"."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from experts.models import (
    Credential,
    CredentialDocument,
    Domain,
    DomainQualification,
    ExpertProfile,
    QualificationTest,
    TestAttempt,
)
from experts.states import (
    QUEUED_CREDENTIAL_STATES,
    RESPONSE_CREDENTIAL_STATES,
    AttemptStatus,
    CredentialStatus,
)
from marketplace.errors import NotFound
from marketplace.models import AuditEvent, User
from marketplace.states import UserRole

# Vetted for a domain ---------------------------------------------------------------------


def vetted_for_domain_condition(*, expert: Any, domain: Any, domain_parent: Any, today: date) -> Q:
    """Both halves of the rule, for an expert and a domain given as values or OuterRefs.

    Vetted for a domain = a verified, unexpired credential supporting the domain (or the
    field it belongs to, e.g. an MD for radiology) AND a passed qualification test for the
    domain itself.
    """
    supports = Q(domains=domain)
    if domain_parent is not None:
        # (With a plain None, Django would read "domains IS NULL": a field has no parent.)
        supports |= Q(domains=domain_parent)
    credential = Credential.objects.filter(
        supports, expert=expert, status=CredentialStatus.VERIFIED
    ).filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today))
    qualification = DomainQualification.objects.filter(expert=expert, domain=domain, passed=True)
    return Q(Exists(credential)) & Q(Exists(qualification))


def experts_vetted_for_domain(*, domain: Domain) -> QuerySet[User]:
    """Every expert vetted for ``domain``. Use this (or its siblings below) everywhere."""
    return User.objects.filter(
        vetted_for_domain_condition(
            expert=OuterRef("pk"),
            domain=domain.pk,
            domain_parent=domain.parent_id,
            today=timezone.localdate(),
        ),
        role=UserRole.EXPERT,
        is_active=True,
    )


def vetted_domains_of_expert(*, expert: User) -> QuerySet[Domain]:
    """The domains ``expert`` is vetted for."""
    return Domain.objects.filter(
        vetted_for_domain_condition(
            expert=expert.pk,
            domain=OuterRef("pk"),
            domain_parent=OuterRef("parent_id"),
            today=timezone.localdate(),
        )
    ).select_related("parent")


def is_vetted_for_domain(*, expert: User, domain: Domain) -> bool:
    return experts_vetted_for_domain(domain=domain).filter(pk=expert.pk).exists()


# Taxonomy --------------------------------------------------------------------------------


def domain_choices() -> list[Domain]:
    """Active domains, fields first then their specialties, for pickers."""
    return list(Domain.objects.filter(is_active=True).select_related("parent"))


# Expert's own ------------------------------------------------------------------------------


def profile_of(*, expert: User) -> ExpertProfile | None:
    return (
        ExpertProfile.objects.filter(user=expert)
        .prefetch_related("languages", "domains__domain__parent")
        .first()
    )


def credentials_of_expert(*, expert: User) -> QuerySet[Credential]:
    return (
        Credential.objects.filter(expert=expert)
        .prefetch_related("domains", "documents")
        .order_by("-created_at")
    )


def document_for_viewer(*, user: User, document_id: int) -> CredentialDocument:
    """A document for its owner or for staff; anyone else gets NotFound."""
    if not user.is_authenticated:
        raise NotFound()
    documents = CredentialDocument.objects.select_related("credential")
    if not user.is_staff:
        documents = documents.filter(credential__expert=user)
    try:
        return documents.get(pk=document_id)
    except CredentialDocument.DoesNotExist:
        raise NotFound() from None


@dataclass
class OnboardingStep:
    label: str
    done: bool
    url_name: str = ""


@dataclass
class Onboarding:
    steps: list[OnboardingStep] = field(default_factory=list)

    @property
    def done_count(self) -> int:
        return sum(1 for step in self.steps if step.done)


def onboarding_for_expert(*, expert: User, mfa_enabled: bool) -> Onboarding:
    """What the expert has done and what is missing on the way to being vetted."""
    profile = profile_of(expert=expert)
    credentials = list(Credential.objects.filter(expert=expert).annotate(n=Count("documents")))
    has_profile = bool(
        profile and profile.headline and profile.domains.all() and profile.languages.all()
    )
    return Onboarding(
        steps=[
            OnboardingStep("Verify your e-mail address", True),
            OnboardingStep("Turn on two-factor authentication", mfa_enabled, "mfa_index"),
            OnboardingStep(
                "Build your profile: domains, languages, availability",
                has_profile,
                "experts:profile",
            ),
            OnboardingStep(
                "Add a credential with its documents",
                any(c.n for c in credentials),
                "experts:credential_list",
            ),
            OnboardingStep(
                "Submit it for vetting",
                any(c.status != CredentialStatus.DRAFT for c in credentials),
                "experts:credential_list",
            ),
            OnboardingStep(
                "Get a credential verified",
                any(c.status == CredentialStatus.VERIFIED for c in credentials),
                "experts:credential_list",
            ),
            OnboardingStep(
                "Pass the qualification test of a domain your credential supports",
                vetted_domains_of_expert(expert=expert).exists(),
                "experts:test_list",
            ),
        ]
    )


def tests_for_expert(*, expert: User) -> list[QualificationTest]:
    """Published tests, those in the expert's profile domains first, with their attempts."""
    profile_domains = set(
        ExpertProfile.objects.filter(user=expert).values_list("domains__domain_id", flat=True)
    )
    tests: list[QualificationTest] = list(
        QualificationTest.objects.filter(is_published=True)
        .select_related("domain", "domain__parent")
        .annotate(question_count=Count("questions"))
        .prefetch_related(
            Prefetch(
                "attempts",
                queryset=TestAttempt.objects.filter(expert=expert).order_by("-started_at"),
                to_attr="my_attempts",
            )
        )
    )
    tests.sort(key=lambda t: (t.domain_id not in profile_domains, str(t.domain), t.title))
    return tests


def attempt_for_expert(*, expert: User, attempt_id: int) -> TestAttempt:
    try:
        return TestAttempt.objects.select_related("test", "test__domain__parent").get(
            pk=attempt_id, expert=expert
        )
    except TestAttempt.DoesNotExist:
        raise NotFound() from None


# Staff -----------------------------------------------------------------------------------


def vetting_queue(
    *, domain_id: int | None = None, country: str = "", kind: str = ""
) -> QuerySet[Credential]:
    """Credentials waiting for staff, oldest submission first. Staff only: check first."""
    credentials = (
        Credential.objects.filter(status__in=QUEUED_CREDENTIAL_STATES)
        .select_related("expert", "reviewer")
        .prefetch_related("domains__parent")
        .annotate(document_count=Count("documents", distinct=True))
        .order_by("submitted_at", "pk")
    )
    if domain_id:
        credentials = credentials.filter(
            Q(domains__pk=domain_id) | Q(domains__parent_id=domain_id)
        ).distinct()
    if country:
        credentials = credentials.filter(country=country)
    if kind:
        credentials = credentials.filter(kind=kind)
    return credentials


def credential_for_staff(*, staff: User, credential_id: int) -> Credential:
    if not staff.is_staff:
        raise NotFound()
    try:
        return (
            Credential.objects.select_related("expert", "reviewer")
            .prefetch_related("domains__parent", "documents")
            .get(pk=credential_id)
        )
    except Credential.DoesNotExist:
        raise NotFound() from None


@dataclass
class Signal:
    severity: str  # "warning" or "info"
    text: str


def credential_signals(*, credential: Credential) -> list[Signal]:
    """Fraud and hygiene signals for a reviewer: reused documents or licence numbers,
    several sign-ups from one address, and dates that do not add up."""
    signals: list[Signal] = []
    hashes = [document.sha256 for document in credential.documents.all()]
    reused = (
        CredentialDocument.objects.filter(sha256__in=hashes)
        .exclude(credential__expert=credential.expert_id)
        .values_list("credential__expert__email", flat=True)
        .distinct()
    )
    signals.extend(
        Signal("warning", f"The same document was uploaded by {email}.") for email in reused
    )
    if credential.identifier:
        others = (
            Credential.objects.filter(identifier__iexact=credential.identifier)
            .exclude(expert=credential.expert_id)
            .values_list("expert__email", flat=True)
            .distinct()
        )
        signals.extend(
            Signal("warning", f"Identifier {credential.identifier} is also claimed by {email}.")
            for email in others
        )
    signup_ip = (
        AuditEvent.objects.filter(
            action="user.signup",
            target_type="marketplace.user",
            target_id=str(credential.expert_id),
        )
        .values_list("ip_address", flat=True)
        .first()
    )
    if signup_ip:
        same_ip = (
            AuditEvent.objects.filter(action="user.signup", ip_address=signup_ip)
            .exclude(target_id=str(credential.expert_id))
            .count()
        )
        if same_ip:
            signals.append(
                Signal("warning", f"{same_ip} other account(s) signed up from {signup_ip}.")
            )
    today = timezone.localdate()
    if credential.expires_on and credential.expires_on < today:
        signals.append(Signal("warning", f"Expired on {credential.expires_on:%Y-%m-%d}."))
    elif credential.expires_on and (credential.expires_on - today).days <= 30:
        signals.append(Signal("info", f"Expires soon, on {credential.expires_on:%Y-%m-%d}."))
    if credential.issued_on and credential.issued_on > today:
        signals.append(Signal("warning", "The issue date is in the future."))
    return signals


def other_credentials_of(*, credential: Credential) -> QuerySet[Credential]:
    return (
        Credential.objects.filter(expert=credential.expert_id)
        .exclude(pk=credential.pk)
        .prefetch_related("domains")
    )


def attempts_awaiting_grading() -> QuerySet[TestAttempt]:
    return (
        TestAttempt.objects.filter(status=AttemptStatus.AWAITING_GRADING)
        .select_related("test", "test__domain", "expert")
        .order_by("submitted_at")
    )


# Expert's own pages ------------------------------------------------------------------------


def credential_rows_of_expert(*, expert: User) -> QuerySet[Credential]:
    """The expert's credentials for their list page: domains (with fields) and a document
    count, in a fixed number of queries."""
    return (
        Credential.objects.filter(expert=expert)
        .annotate(document_count=Count("documents"))
        .prefetch_related(Prefetch("domains", queryset=Domain.objects.select_related("parent")))
        .order_by("-created_at", "-pk")
    )


def credential_page_for_expert(*, expert: User, credential_id: int) -> Credential:
    """One of the expert's own credentials with its domains and documents; NotFound otherwise."""
    try:
        return Credential.objects.prefetch_related(
            Prefetch("domains", queryset=Domain.objects.select_related("parent")), "documents"
        ).get(pk=credential_id, expert=expert)
    except Credential.DoesNotExist:
        raise NotFound() from None


def credential_status_counts(*, expert: User) -> dict[str, int]:
    """How many of the expert's credentials are in each state (states with none are left out)."""
    rows = (
        Credential.objects.filter(expert=expert)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return dict(rows)


def qualifications_of_expert(*, expert: User) -> QuerySet[DomainQualification]:
    """The expert's best qualification result per domain, passed ones first."""
    return (
        DomainQualification.objects.filter(expert=expert)
        .select_related("domain", "domain__parent")
        .order_by("-passed", "-best_score_percent", "domain__name")
    )


def credential_checklist(*, credential: Credential) -> list[OnboardingStep]:
    """What is done and what is missing before ``credential`` can go to the reviewers.

    Call with ``domains`` and ``documents`` prefetched (``credential_page_for_expert``).
    """
    resubmitting = credential.status in RESPONSE_CREDENTIAL_STATES
    return [
        OnboardingStep(
            "Describe it: kind, title and issuer",
            bool(credential.kind and credential.title and credential.issuer),
        ),
        OnboardingStep("Choose the domains it supports", bool(credential.domains.all())),
        OnboardingStep(
            "Upload at least one document that proves it", bool(credential.documents.all())
        ),
        OnboardingStep(
            "Answer the reviewer and resubmit" if resubmitting else "Submit it for review",
            credential.status != CredentialStatus.DRAFT and not resubmitting,
        ),
    ]


def profile_for_editing(*, expert: User) -> ExpertProfile | None:
    """The expert's profile with its language and domain rows (ids only), for the edit form."""
    return (
        ExpertProfile.objects.filter(user=expert).prefetch_related("languages", "domains").first()
    )
