"""The lab's billing API under /api/v1/billing/: the balance, and payments into it.

A payment opens the provider's hosted page (``checkout_url``); the balance is credited only
when the provider's signed webhook confirms it, so poll the funding until it is completed.
"""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from marketplace.errors import NotFound
from payments.funding import lab_funding_start
from payments.ledger import organization_money
from payments.models import LabFunding
from payments.serializers import BillingSerializer, FundingCreateSerializer, LabFundingSerializer
from projects.api import BAD_INPUT, FORBIDDEN, NOT_FOUND, LabApiView, _ip, organization_actor

RECENT_FUNDINGS = 20


class BillingView(LabApiView):
    serializer_class = BillingSerializer

    @extend_schema(
        summary="The lab's balance and recent payments", responses={200: BillingSerializer}
    )
    def get(self, request: Request) -> Response:
        actor = organization_actor(request, request.query_params.get("organization"))
        money = organization_money(organization=actor.organization)
        fundings = LabFunding.objects.filter(organization=actor.organization)[:RECENT_FUNDINGS]
        return Response(
            BillingSerializer(
                {
                    "organization": actor.organization.slug,
                    "currency": money.currency,
                    "balance_cents": money.balance_cents,
                    "escrow_cents": money.escrow_cents,
                    "fundings": fundings,
                }
            ).data
        )


class FundingListView(LabApiView):
    serializer_class = LabFundingSerializer

    @extend_schema(
        summary="Add funds to the lab's balance",
        description=(
            "Opens a hosted payment page: send the lab's browser to `checkout_url`. The "
            "balance is credited when the payment provider confirms the payment (the funding "
            "becomes `completed`), never before."
        ),
        request=FundingCreateSerializer,
        responses={201: LabFundingSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def post(self, request: Request) -> Response:
        actor = organization_actor(request, request.query_params.get("organization"))
        serializer = FundingCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        billing = settings.SITE_URL.rstrip("/") + reverse(
            "payments:billing", kwargs={"slug": actor.organization.slug}
        )
        funding = lab_funding_start(
            actor=actor,
            amount_cents=serializer.validated_data["amount_cents"],
            success_url=serializer.validated_data.get("success_url") or billing,
            cancel_url=serializer.validated_data.get("cancel_url") or billing,
            ip_address=_ip(request),
        )
        data = LabFundingSerializer(funding).data
        if data["checkout_url"].startswith("/"):
            data["checkout_url"] = settings.SITE_URL.rstrip("/") + data["checkout_url"]
        return Response(data, status=status.HTTP_201_CREATED)


class FundingDetailView(LabApiView):
    serializer_class = LabFundingSerializer

    @extend_schema(
        summary="One payment into the balance",
        responses={200: LabFundingSerializer, 404: OpenApiResponse(description="Not yours.")},
    )
    def get(self, request: Request, funding_id: UUID) -> Response:
        actor = organization_actor(request, request.query_params.get("organization"))
        funding = LabFunding.objects.filter(
            organization=actor.organization, public_id=funding_id
        ).first()
        if funding is None:
            raise NotFound()
        return Response(LabFundingSerializer(funding).data)
