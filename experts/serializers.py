"""DRF serializers for the experts API, and the credential summary labs may see."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django_countries.serializer_fields import CountryField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from experts.models import (
    Credential,
    CredentialDocument,
    Domain,
    DomainQualification,
    ExpertDomain,
    ExpertLanguage,
    ExpertProfile,
)
from experts.services.profile import MAX_LINKS
from experts.states import CredentialStatus, Proficiency, Seniority


def credential_summary(credential: Credential) -> str:
    """Describe a credential in one line fit for a lab: no identifier, no document.

    e.g. "MD, board certification, radiology, verified 2026-10". Call with the credential's
    domains prefetched.
    """
    domains = sorted(domain.name.lower() for domain in credential.domains.all())
    if credential.status == CredentialStatus.VERIFIED and credential.verified_at:
        state = f"verified {credential.verified_at:%Y-%m}"
    else:
        state = credential.get_status_display().lower()
    parts = [credential.title, credential.get_kind_display().lower(), *domains, state]
    return ", ".join(part for part in parts if part)


# Profile -----------------------------------------------------------------------------------


class ExpertLanguageSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExpertLanguage
        fields = ["language", "proficiency"]
        read_only_fields = fields


class ExpertDomainSerializer(serializers.ModelSerializer):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    domain_name = serializers.CharField(source="domain.__str__", read_only=True)

    class Meta:
        model = ExpertDomain
        fields = ["domain", "domain_name", "seniority"]
        read_only_fields = fields


class ExpertProfileSerializer(serializers.ModelSerializer):
    """The expert's own profile. Call with ``profile_of``'s prefetches (or an unsaved one)."""

    country = CountryField(allow_blank=True)
    languages = serializers.SerializerMethodField()
    domains = serializers.SerializerMethodField()

    class Meta:
        model = ExpertProfile
        fields = [
            "headline",
            "bio",
            "country",
            "timezone",
            "weekly_availability_hours",
            "expected_hourly_rate_cents",
            "currency",
            "years_of_experience",
            "links",
            "languages",
            "domains",
        ]
        read_only_fields = fields

    @extend_schema_field(ExpertLanguageSerializer(many=True))
    def get_languages(self, profile: ExpertProfile) -> Any:
        rows = profile.languages.all() if profile.pk else []
        return ExpertLanguageSerializer(rows, many=True).data

    @extend_schema_field(ExpertDomainSerializer(many=True))
    def get_domains(self, profile: ExpertProfile) -> Any:
        rows = profile.domains.all() if profile.pk else []
        return ExpertDomainSerializer(rows, many=True).data


class LanguageInputSerializer(serializers.Serializer):
    language = serializers.ChoiceField(choices=settings.LANGUAGES)
    proficiency = serializers.ChoiceField(choices=Proficiency.choices)


class DomainInputSerializer(serializers.Serializer):
    domain = serializers.SlugField(help_text="A domain slug, e.g. `medicine-radiology`.")
    seniority = serializers.ChoiceField(choices=Seniority.choices)


class ExpertProfileUpdateSerializer(serializers.Serializer):
    """A change to the profile: fields left out keep their value. ``languages`` and
    ``domains``, when given, replace the whole list."""

    headline = serializers.CharField(max_length=140, allow_blank=True, required=False)
    bio = serializers.CharField(max_length=4000, allow_blank=True, required=False)
    country = CountryField(allow_blank=True, required=False)
    timezone = serializers.CharField(
        max_length=64, allow_blank=True, required=False, help_text="An IANA name: Europe/Paris."
    )
    weekly_availability_hours = serializers.IntegerField(
        min_value=0, max_value=80, allow_null=True, required=False
    )
    expected_hourly_rate_cents = serializers.IntegerField(
        min_value=0, max_value=10_000_000, allow_null=True, required=False
    )
    years_of_experience = serializers.IntegerField(
        min_value=0, max_value=70, allow_null=True, required=False
    )
    links = serializers.ListField(
        child=serializers.URLField(max_length=300), max_length=MAX_LINKS, required=False
    )
    languages = LanguageInputSerializer(many=True, required=False)
    domains = DomainInputSerializer(many=True, required=False)

    def validate_domains(self, rows: list[dict[str, str]]) -> list[tuple[Domain, str]]:
        slugs = [row["domain"] for row in rows]
        found = {d.slug: d for d in Domain.objects.filter(slug__in=slugs, is_active=True)}
        unknown = [slug for slug in slugs if slug not in found]
        if unknown:
            raise serializers.ValidationError(f"Unknown domain: {', '.join(unknown)}.")
        return [(found[row["domain"]], row["seniority"]) for row in rows]

    def validate_languages(self, rows: list[dict[str, str]]) -> list[tuple[str, str]]:
        return [(row["language"], row["proficiency"]) for row in rows]


# Credentials -------------------------------------------------------------------------------


class CredentialDocumentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = CredentialDocument
        fields = ["id", "original_name", "content_type", "size", "page_count", "download_url"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, document: CredentialDocument) -> str:
        path = reverse("experts:document_download", args=[document.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class CredentialSerializer(serializers.ModelSerializer):
    """One of the expert's own credentials, with its documents. Call with
    ``credentials_of_expert``'s prefetches."""

    country = CountryField(allow_blank=True)
    domains = serializers.SlugRelatedField[Domain](many=True, read_only=True, slug_field="slug")
    documents = CredentialDocumentSerializer(many=True, read_only=True)

    class Meta:
        model = Credential
        fields = [
            "id",
            "kind",
            "title",
            "issuer",
            "identifier",
            "country",
            "issued_on",
            "expires_on",
            "domains",
            "status",
            "staff_message",
            "expert_response",
            "submitted_at",
            "decided_at",
            "verified_at",
            "documents",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# Staff summary -----------------------------------------------------------------------------


class DomainRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = Domain
        fields = ["slug", "name"]
        read_only_fields = fields


class CredentialSummarySerializer(serializers.ModelSerializer):
    summary = serializers.SerializerMethodField()

    class Meta:
        model = Credential
        fields = ["id", "status", "summary"]
        read_only_fields = fields

    def get_summary(self, credential: Credential) -> str:
        return credential_summary(credential)


class QualificationResultSerializer(serializers.ModelSerializer):
    domain = serializers.CharField(source="domain.slug", read_only=True)
    domain_name = serializers.CharField(source="domain.__str__", read_only=True)

    class Meta:
        model = DomainQualification
        fields = ["domain", "domain_name", "best_score_percent", "passed", "passed_at"]
        read_only_fields = fields


class ExpertSummarySerializer(serializers.Serializer):
    """What staff see of an expert through the API: no documents, no identifiers."""

    public_id = serializers.UUIDField()
    name = serializers.CharField()
    headline = serializers.CharField()
    country = CountryField(allow_blank=True)
    languages = ExpertLanguageSerializer(many=True)
    domains = ExpertDomainSerializer(many=True)
    vetted_domains = DomainRefSerializer(many=True)
    credentials = CredentialSummarySerializer(many=True)
    qualifications = QualificationResultSerializer(many=True)
