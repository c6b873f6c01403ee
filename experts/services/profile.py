"""The expert's profile: who they are, what they know, when they can work."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from django.conf import settings
from django.db import transaction

from experts.models import Domain, ExpertDomain, ExpertLanguage, ExpertProfile
from experts.states import Proficiency, Seniority
from marketplace.errors import InvalidInput, PermissionDenied
from marketplace.models import User
from marketplace.services import audit_record
from marketplace.states import UserRole

PROFILE_FIELDS = (
    "headline",
    "bio",
    "country",
    "timezone",
    "weekly_availability_hours",
    "expected_hourly_rate_cents",
    "years_of_experience",
    "links",
    "employer",
    "accepting_invitations",
)
MAX_LINKS = 5
LANGUAGE_CODES = {code for code, _ in settings.LANGUAGES}


def profile_get_or_create(*, expert: User) -> ExpertProfile:
    if expert.role != UserRole.EXPERT:
        raise PermissionDenied("Only expert accounts have an expert profile.")
    profile, _ = ExpertProfile.objects.get_or_create(user=expert)
    return profile


def _clean_links(links: list[str]) -> list[str]:
    cleaned = []
    for link in links:
        link = link.strip()
        if not link:
            continue
        parts = urlsplit(link)
        if parts.scheme != "https" or not parts.netloc or any(ch.isspace() for ch in link):
            raise InvalidInput(f"Links must be full https:// addresses: {link[:80]}", "links")
        cleaned.append(link[:300])
    if len(cleaned) > MAX_LINKS:
        raise InvalidInput(f"Add at most {MAX_LINKS} links.", field="links")
    return cleaned


def profile_update(
    *,
    expert: User,
    data: dict[str, Any],
    languages: list[tuple[str, str]],
    domains: list[tuple[Domain, str]],
) -> ExpertProfile:
    """Replace the profile, its languages and its domains in one go."""
    if data.get("timezone") and data["timezone"] not in available_timezones():
        raise InvalidInput("Choose a time zone from the list.", field="timezone")
    links = _clean_links(list(data.get("links") or []))
    if len({code for code, _ in languages}) != len(languages):
        raise InvalidInput("List each language once.", field="languages")
    for code, proficiency in languages:
        if code not in LANGUAGE_CODES or proficiency not in Proficiency.values:
            raise InvalidInput("Choose a language and a level for each row.", "languages")
    if len({domain.pk for domain, _ in domains}) != len(domains):
        raise InvalidInput("List each domain once.", field="domains")
    for domain, seniority in domains:
        if not domain.is_active or seniority not in Seniority.values:
            raise InvalidInput("Choose a domain and a seniority for each row.", "domains")
    with transaction.atomic():
        profile = profile_get_or_create(expert=expert)
        profile = ExpertProfile.objects.select_for_update().get(pk=profile.pk)
        before = (profile.weekly_availability_hours or 0, profile.accepting_invitations)
        for field in PROFILE_FIELDS:
            if field in data:
                setattr(profile, field, data[field])
        profile.headline = " ".join(str(profile.headline or "").split())[:140]
        profile.employer = " ".join(str(profile.employer or "").split())[:160]
        profile.links = links
        profile.save()
        profile.languages.all().delete()
        ExpertLanguage.objects.bulk_create(
            ExpertLanguage(profile=profile, language=code, proficiency=level)
            for code, level in languages
        )
        profile.domains.all().delete()
        ExpertDomain.objects.bulk_create(
            ExpertDomain(profile=profile, domain=domain, seniority=seniority)
            for domain, seniority in domains
        )
        audit_record(
            actor=expert,
            action="expert_profile.update",
            target=profile,
            after={
                "languages": [code for code, _ in languages],
                "domains": [domain.slug for domain, _ in domains],
            },
        )
        if (profile.weekly_availability_hours or 0, profile.accepting_invitations) > before:
            # More hours, or invitations back on: the expert may fill open seats.
            from projects.matching.services import matching_run_request

            matching_run_request(trigger="capacity_freed")
    return profile
