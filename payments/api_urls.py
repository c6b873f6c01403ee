"""Routes of the billing API, included by marketplace/api_urls.py (namespace "api")."""

from django.urls import path

from payments import api

urlpatterns = [
    path("billing/", api.BillingView.as_view(), name="billing"),
    path("billing/fundings/", api.FundingListView.as_view(), name="funding-list"),
    path(
        "billing/fundings/<uuid:funding_id>/",
        api.FundingDetailView.as_view(),
        name="funding-detail",
    ),
]
