"""The expert's earnings: in review, payable, paid; per project and per payout; bonuses; the
payout account; and a CSV statement of every line of their payable balance."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_GET, require_POST

from experts.views.profile import require_expert
from marketplace.errors import DomainError
from marketplace.http import AuthenticatedHttpRequest, report
from payments import selectors
from payments.connect import payout_account_onboarding_start
from payments.providers import ProviderError

STATEMENT_COLUMNS = ("date", "kind", "project", "description", "amount", "balance_after")
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """Text that a spreadsheet shows as text, never runs (CSV injection)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def dollars_cell(cents: int) -> str:
    """``-1250`` → ``-12.50``: exact, two decimals, no currency sign (a number column)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole}.{rest:02d}"


@login_required
@require_GET
def earnings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The expert's own money."""
    require_expert(request)
    context = {"earnings": selectors.expert_earnings(expert=request.user)}
    return render(request, "payments/earnings/earnings.html", context)


@login_required
@require_POST
def payout_connect(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Send the expert to the provider's onboarding for their payout account."""
    require_expert(request)
    back = request.build_absolute_uri(reverse("payments:earnings"))
    try:
        link = payout_account_onboarding_start(user=request.user, refresh_url=back, return_url=back)
    except DomainError as error:
        report(request, error)
        return redirect("payments:earnings")
    except ProviderError as error:
        report(request, DomainError(f"The payment provider could not be reached: {error.message}"))
        return redirect("payments:earnings")
    return redirect(link)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _statement_rows(request: AuthenticatedHttpRequest) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(STATEMENT_COLUMNS)
    for line in selectors.expert_statement(expert=request.user):
        yield writer.writerow(
            [
                line.at.strftime("%Y-%m-%d %H:%M:%S"),
                safe_cell(line.kind_label),
                safe_cell(line.project_title),
                safe_cell(line.description),
                dollars_cell(line.amount_cents),
                dollars_cell(line.balance_cents),
            ]
        )


@login_required
@require_GET
def statement(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """Every line of the expert's payable balance as CSV, oldest first."""
    require_expert(request)
    response = StreamingHttpResponse(_statement_rows(request), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="earnings-statement.csv"'
    response["Cache-Control"] = "no-store"
    return response


urlpatterns: list[URLPattern] = [
    path("expert/earnings/", earnings, name="earnings"),
    path("expert/earnings/payouts/connect/", payout_connect, name="payout_connect"),
    path("expert/earnings/statement.csv", statement, name="statement"),
]
