"""The staff payments console: platform balances, payout batches and their payouts, failed
payouts, reconciliation reports and failed provider events; run a batch or reconcile now."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET, require_POST

from experts.console.views import staff_only
from marketplace.errors import DomainError
from marketplace.http import AuthenticatedHttpRequest, report
from payments import selectors
from payments.payouts import payout_batch_create, reconciliation_run
from payments.providers import ProviderError
from payments.states import PayoutBatchTrigger
from projects.pricing import format_dollars


@staff_only
@require_GET
def staff_payments(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = {"tab": "payments", "overview": selectors.staff_payments()}
    return render(request, "payments/staff/payments.html", context)


@staff_only
@require_GET
def staff_payout_batch(request: AuthenticatedHttpRequest, batch_id: Any) -> HttpResponse:
    context = {"tab": "payments", "detail": selectors.payout_batch_for_staff(batch_id=batch_id)}
    return render(request, "payments/staff/batch.html", context)


@staff_only
@require_POST
def staff_payout_batch_run(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Pay every expert owed the minimum now, as the schedule would."""
    try:
        batch = payout_batch_create(trigger=PayoutBatchTrigger.STAFF, actor=request.user)
    except DomainError as error:
        report(request, error)
        return redirect("payments:staff_payments")
    if batch is None:
        messages.info(request, "Nobody is owed a payout now: no batch was created.")
        return redirect("payments:staff_payments")
    messages.success(
        request,
        f"Batch started: {batch.payout_count} payout{'s' if batch.payout_count != 1 else ''} "
        f"totalling {format_dollars(batch.total_cents)}.",
    )
    return redirect("payments:staff_payout_batch", batch.public_id)


@staff_only
@require_POST
def staff_reconcile(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Compare payouts with the provider's transfers and the balances with their entries."""
    try:
        report_row = reconciliation_run()
    except ProviderError as error:
        messages.error(request, f"The payment provider could not be reached: {error.message}")
        return redirect("payments:staff_payments")
    count = len(report_row.differences)
    if count:
        messages.warning(
            request, f"Reconciliation found {count} difference{'s' if count != 1 else ''}."
        )
    else:
        messages.success(request, "Reconciliation found no differences.")
    return redirect("payments:staff_payments")


urlpatterns: list[URLPattern] = [
    path("staff/payments/", staff_payments, name="staff_payments"),
    path("staff/payments/batches/run/", staff_payout_batch_run, name="staff_payout_batch_run"),
    path(
        "staff/payments/batches/<uuid:batch_id>/",
        staff_payout_batch,
        name="staff_payout_batch",
    ),
    path("staff/payments/reconcile/", staff_reconcile, name="staff_reconcile"),
]
