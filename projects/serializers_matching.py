"""DRF serializers of the lab API for experts on projects: invitations (as a lab sees them,
under pseudonyms), seats, and excluded experts. Never an expert's name, e-mail or document."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from projects.matching.models import LabExclusion
from projects.matching.scoring import COMPONENTS
from projects.matching.selectors import SeatRow, pseudonym
from projects.matching.services import MAX_SEATS_ADDED
from projects.serializers import StrictInputSerializer
from projects.states import DeclineReason, InvitationSource, InvitationStatus


def _one_of(choices: Any) -> str:
    return "One of " + ", ".join(f"`{value}` ({label})" for value, label in choices) + "."


class ScoreComponentSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.FloatField(help_text="The component's value, 0 to 1.")
    weight = serializers.FloatField(help_text="Its weight in the fit score; weights sum to 1.")


class InvitationCredentialSerializer(serializers.Serializer):
    kind = serializers.CharField(source="kind_label")
    title = serializers.CharField()
    domains = serializers.CharField(help_text="The domains the credential supports.")
    verified_on = serializers.DateField(allow_null=True)


class InvitationSerializer(serializers.Serializer):
    """An invitation to a seat, built from a ``selectors.seat_rows`` row."""

    id = serializers.UUIDField(source="invitation.public_id")
    expert = serializers.UUIDField(
        source="expert_id",
        help_text="The expert's pseudonymous id: use it to invite or exclude the expert.",
    )
    pseudonym = serializers.CharField()
    status = serializers.CharField(help_text=_one_of(InvitationStatus.choices))
    source = serializers.CharField(  # type: ignore[assignment]
        help_text=_one_of(InvitationSource.choices)
    )
    score = serializers.FloatField(help_text="The fit score, 0 to 1: Σ weight × component.")
    components = serializers.SerializerMethodField()
    weekly_hours = serializers.IntegerField(source="invitation.weekly_hours")
    estimated_hours = serializers.IntegerField(
        source="invitation.estimated_hours", help_text="Total hours the seat is expected to take."
    )
    expires_at = serializers.DateTimeField(source="invitation.expires_at")
    responded_at = serializers.DateTimeField(source="invitation.responded_at", allow_null=True)
    decline_reason = serializers.CharField(
        source="invitation.decline_reason",
        help_text="Empty unless declined. " + _one_of(DeclineReason.choices),
    )
    credentials = InvitationCredentialSerializer(many=True, help_text="Verified credentials.")
    seniority = serializers.CharField(
        source="seniority_label", help_text="Claimed seniority in the project's domain."
    )
    languages = serializers.CharField()
    country = serializers.CharField(source="country_name")
    created_at = serializers.DateTimeField(source="invitation.created_at")

    @extend_schema_field(ScoreComponentSerializer(many=True))
    def get_components(self, row: SeatRow) -> list[dict[str, Any]]:
        stored = row.invitation.components
        return [
            {
                "name": component.name,
                "label": component.label,
                "value": float(stored.get(component.name, 0.0)),
                "weight": component.weight,
            }
            for component in COMPONENTS
        ]


class InvitationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=InvitationStatus.values, required=False, help_text="Only invitations in it."
    )


class DirectInviteSerializer(StrictInputSerializer):
    expert_id = serializers.UUIDField(
        help_text="The expert's pseudonymous id (`expert` of an invitation)."
    )


class SeatsAddSerializer(StrictInputSerializer):
    add = serializers.IntegerField(
        min_value=1, max_value=MAX_SEATS_ADDED, help_text="How many seats to add."
    )


class ExclusionSerializer(serializers.ModelSerializer):
    expert = serializers.SerializerMethodField()
    pseudonym = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = LabExclusion
        fields = ["id", "expert", "pseudonym", "reason", "created_by", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.UUIDField())
    def get_expert(self, exclusion: LabExclusion) -> str:
        profile = getattr(exclusion.expert, "expert_profile", None)
        return str(profile.public_id) if profile else ""

    def get_pseudonym(self, exclusion: LabExclusion) -> str:
        profile = getattr(exclusion.expert, "expert_profile", None)
        return pseudonym(profile.public_id if profile else None)

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_created_by(self, exclusion: LabExclusion) -> str | None:
        """The member who excluded the expert (null for an API key)."""
        return exclusion.created_by.email if exclusion.created_by else None


class ExclusionCreateSerializer(StrictInputSerializer):
    organization = serializers.SlugField(
        required=False,
        help_text="The lab's slug, for logged-in users who belong to several labs.",
    )
    expert_id = serializers.UUIDField(
        help_text="The expert's pseudonymous id (`expert` of an invitation)."
    )
    reason = serializers.CharField(
        max_length=300, allow_blank=True, required=False, default="", help_text="Private."
    )
