"""Serializers of the billing API: the lab's balance and its payments into it."""

from __future__ import annotations

from django.core.validators import URLValidator
from rest_framework import serializers

from payments.models import LabFunding

WEB_URL = URLValidator(schemes=["https", "http"])


class LabFundingSerializer(serializers.ModelSerializer[LabFunding]):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = LabFunding
        fields = [
            "id",
            "amount_cents",
            "currency",
            "status",
            "provider",
            "checkout_url",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class BillingSerializer(serializers.Serializer[dict[str, object]]):
    organization = serializers.CharField()
    currency = serializers.CharField()
    balance_cents = serializers.IntegerField(help_text="Spendable: fund projects from it.")
    escrow_cents = serializers.IntegerField(help_text="Held in the projects' escrow.")
    fundings = LabFundingSerializer(many=True)


class FundingCreateSerializer(serializers.Serializer[dict[str, object]]):
    amount_cents = serializers.IntegerField(min_value=1)
    success_url = serializers.URLField(
        required=False,
        validators=[WEB_URL],
        help_text="Where the payment page sends the browser after paying (default: billing).",
    )
    cancel_url = serializers.URLField(required=False, validators=[WEB_URL])
