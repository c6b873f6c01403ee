"""Vetted experts for matching tests, and helpers to run matching.

The vetting services have their own tests (tests/experts); going through them here would cost
seconds per expert, so these rows are written directly in the shape those services leave.
"""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from experts.models import (
    Credential,
    Domain,
    DomainQualification,
    ExpertDomain,
    ExpertLanguage,
    ExpertProfile,
)
from experts.states import CredentialKind, CredentialStatus
from marketplace.models import User
from tests import factories


def vetted_expert(
    domain: Domain | str = "medicine",
    *,
    weekly_hours: int | None = 20,
    qualification: int = 90,
    seniority: str = "senior",
    languages: dict[str, str] | None = None,
    country: str = "US",
    timezone_name: str = "America/New_York",
    rate_cents: int | None = 8000,
    employer: str = "",
    accepting: bool = True,
    kinds: tuple[str, ...] = (CredentialKind.DEGREE,),
    credential_domain: Domain | None = None,
    **user_fields,
) -> User:
    """An expert vetted for ``domain``: a verified credential supporting it and a passed
    qualification test, with a complete profile."""
    if isinstance(domain, str):
        domain = Domain.objects.get(slug=domain)
    expert = factories.expert(**user_fields)
    profile = ExpertProfile.objects.create(
        user=expert,
        headline="Physician",
        country=country,
        timezone=timezone_name,
        weekly_availability_hours=weekly_hours,
        expected_hourly_rate_cents=rate_cents,
        years_of_experience=12,
        employer=employer,
        accepting_invitations=accepting,
    )
    ExpertDomain.objects.create(profile=profile, domain=domain, seniority=seniority)
    for code, level in (languages or {"en": "native"}).items():
        ExpertLanguage.objects.create(profile=profile, language=code, proficiency=level)
    now = timezone.now()
    for kind in kinds:
        credential = Credential.objects.create(
            expert=expert,
            kind=kind,
            title=f"{kind} in {domain.name}",
            issuer="State Medical Board",
            issued_on=date(2012, 5, 1),
            status=CredentialStatus.VERIFIED,
            submitted_at=now,
            decided_at=now,
            verified_at=now,
        )
        credential.domains.set([credential_domain or domain])
    DomainQualification.objects.create(
        expert=expert,
        domain=domain,
        best_score_percent=qualification,
        passed=True,
        passed_at=now,
    )
    return expert


def public_id(expert: User) -> str:
    return str(expert.expert_profile.public_id)
