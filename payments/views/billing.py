"""The lab's Billing tab: its balance, adding funds through the provider's hosted page, the
escrow of each project, receipts, and bonuses to experts.

Coming back from the payment page credits nothing: the return page shows the funding's
status and polls it until the provider's webhook has confirmed the payment.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_GET, require_POST

from marketplace.errors import DomainError, InvalidInput, NotFound
from marketplace.http import AuthenticatedHttpRequest, report
from marketplace.views import client_ip
from payments import bonuses, selectors
from payments.bonuses import MAX_BONUS_CENTS, MAX_REASON, BonusFileInvalid
from payments.funding import MAX_FUNDING_CENTS, MIN_FUNDING_CENTS, lab_funding_start
from payments.models import LabFunding
from payments.states import FundingStatus
from projects.access import LabActor
from projects.forms import DollarField
from projects.models import Project
from projects.pricing import format_dollars
from projects.views.common import lab_actor, lab_context, refused_to_viewer


class AddFundsForm(forms.Form):
    amount = DollarField(
        label="Amount (USD)",
        min_cents=MIN_FUNDING_CENTS,
        max_cents=MAX_FUNDING_CENTS,
        help_text=f"At least {format_dollars(MIN_FUNDING_CENTS)}. You pay on the provider's page.",
    )


class _RequestForm(forms.Form):
    """A form that pays once: the hidden request id is new each time the page renders it, and
    the same id submitted again (a double click, the same page's form sent twice) pays
    nothing more."""

    STALE = (
        "This form was incomplete or out of date; nothing was paid. Check it and submit it again."
    )

    request_id = forms.UUIDField(widget=forms.HiddenInput, required=False)
    # Both forms share the page: each names its hidden input's HTML id.
    request_id_html_id = "request-id"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["request_id"].widget.attrs["id"] = self.request_id_html_id
        if not self.is_bound:
            self.initial = {**self.initial, "request_id": uuid.uuid4()}

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.cleaned_data.get("request_id") is None:
            # Missing or not a UUID: refused, and the form shown again carries a fresh id.
            self.errors.pop("request_id", None)
            self.add_error(None, self.STALE)
            data = QueryDict(mutable=True)
            data.update(self.data)
            data[self.add_prefix("request_id")] = str(uuid.uuid4())
            self.data = data
        return cleaned


class BonusForm(_RequestForm):
    request_id_html_id = "bonus-request-id"

    pseudonym = forms.CharField(
        label="Expert",
        max_length=40,
        help_text="The expert's pseudonym as your exports and dashboards show it (ex_…).",
    )
    amount = DollarField(label="Amount (USD)", max_cents=MAX_BONUS_CENTS)
    reason = forms.CharField(
        label="Reason", max_length=MAX_REASON, widget=forms.Textarea(attrs={"rows": 2})
    )
    project = forms.ChoiceField(label="Project (optional)", required=False)

    def __init__(self, *args: Any, projects: list[Project], **kwargs: Any) -> None:
        # Its own HTML ids: the add-funds form on the same page has an "amount" field too.
        kwargs.setdefault("auto_id", "bonus_%s")
        super().__init__(*args, **kwargs)
        self.projects = {str(project.public_id): project for project in projects}
        cast(forms.ChoiceField, self.fields["project"]).choices = [
            ("", "—"),
            *((key, project.title) for key, project in self.projects.items()),
        ]

    def chosen_project(self) -> Project | None:
        return self.projects.get(self.cleaned_data.get("project") or "")


class BonusUploadForm(_RequestForm):
    request_id_html_id = "upload-request-id"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "upload_%s")
        super().__init__(*args, **kwargs)

    file = forms.FileField(
        label="CSV file",
        help_text="Columns pseudonym, amount (dollars, e.g. 12.50), reason; one bonus a row.",
    )


def _billing_page(
    request: AuthenticatedHttpRequest,
    actor: LabActor,
    *,
    funds_form: AddFundsForm | None = None,
    bonus_form: BonusForm | None = None,
    upload_form: BonusUploadForm | None = None,
    upload_errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    projects = selectors.lab_bonus_projects(actor=actor) if actor.can_manage else []
    context = lab_context(
        actor,
        tab="billing",
        billing=selectors.lab_billing(actor=actor),
        funds_form=funds_form or AddFundsForm(),
        bonus_form=bonus_form or BonusForm(projects=projects),
        upload_form=upload_form or BonusUploadForm(),
        upload_errors=upload_errors or [],
    )
    return render(request, "payments/billing/billing.html", context, status=status)


@login_required
@require_GET
def billing(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """The organisation's money: balance, escrow per project, receipts, bonuses."""
    return _billing_page(request, lab_actor(request, slug))


@login_required
@require_POST
def funding_add(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Open the provider's payment page for the amount; the balance grows once it is paid."""
    actor = lab_actor(request, slug)
    if refused_to_viewer(request, actor, "add funds"):
        return redirect("payments:billing", slug)
    form = AddFundsForm(request.POST)
    if not form.is_valid():
        return _billing_page(request, actor, funds_form=form, status=400)
    back = request.build_absolute_uri(reverse("payments:billing", args=[slug]))
    returned = request.build_absolute_uri(reverse("payments:funding_return", args=[slug]))
    try:
        funding = lab_funding_start(
            actor=actor,
            amount_cents=form.cleaned_data["amount"],
            success_url=f"{returned}?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=back,
            ip_address=client_ip(request),
        )
    except InvalidInput as error:
        form.add_error("amount", error.message)
        return _billing_page(request, actor, funds_form=form, status=400)
    except DomainError as error:
        report(request, error)
        return redirect("payments:billing", slug)
    return redirect(funding.checkout_url)


@login_required
@require_GET
def funding_return(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Where the payment page sends the browser back: the funding's own page."""
    actor = lab_actor(request, slug)
    session_id = request.GET.get("session_id", "")
    funding = (
        LabFunding.objects.filter(organization=actor.organization, checkout_session_id=session_id)
        .only("public_id")
        .first()
        if session_id
        else None
    )
    if funding is None:
        raise Http404()
    return redirect("payments:funding", slug, funding.public_id)


@login_required
@require_GET
def funding_detail(request: AuthenticatedHttpRequest, slug: str, funding_id: Any) -> HttpResponse:
    """A funding's status; while it waits for the provider the page asks again every 2 s."""
    actor = lab_actor(request, slug)
    try:
        funding = selectors.funding_for_actor(actor=actor, funding_id=funding_id)
    except NotFound:
        raise Http404() from None
    context = lab_context(
        actor, tab="billing", funding=funding, pending=funding.status == FundingStatus.PENDING
    )
    if request.htmx:
        return render(request, "payments/billing/_funding_status.html", context)
    return render(request, "payments/billing/funding.html", context)


@login_required
@require_POST
def bonus_create(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Pay one expert a bonus from the lab's balance."""
    actor = lab_actor(request, slug)
    if refused_to_viewer(request, actor, "pay bonuses"):
        return redirect("payments:billing", slug)
    form = BonusForm(request.POST, projects=selectors.lab_bonus_projects(actor=actor))
    if not form.is_valid():
        return _billing_page(request, actor, bonus_form=form, status=400)
    try:
        outcome = bonuses.bonus_pay_once(
            actor=actor,
            expert_pseudonym=form.cleaned_data["pseudonym"],
            amount_cents=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            project=form.chosen_project(),
            request_id=form.cleaned_data["request_id"],
        )
    except InvalidInput as error:
        field = {"expert_pseudonym": "pseudonym", "amount_cents": "amount"}.get(
            error.field or "", error.field
        )
        form.add_error(field if field in form.fields else None, error.message)
        return _billing_page(request, actor, bonus_form=form, status=400)
    except DomainError as error:
        report(request, error)
        return redirect("payments:billing", slug)
    (bonus,) = outcome.bonuses
    paid = (
        f"a bonus of {format_dollars(bonus.amount_cents)} to "
        f"{form.cleaned_data['pseudonym'].strip()}"
    )
    if outcome.repeated:
        messages.info(
            request, f"This form was already sent: {paid} was paid then. Nothing more was paid."
        )
    else:
        messages.success(request, f"Paid {paid}.")
    return redirect("payments:billing", slug)


@login_required
@require_POST
def bonus_upload(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    """Pay every row of a CSV file of bonuses, or none of them."""
    actor = lab_actor(request, slug)
    if refused_to_viewer(request, actor, "pay bonuses"):
        return redirect("payments:billing", slug)
    form = BonusUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _billing_page(request, actor, upload_form=form, status=400)
    try:
        outcome = bonuses.bonuses_pay_csv_once(
            actor=actor,
            file=form.cleaned_data["file"],
            request_id=form.cleaned_data["request_id"],
        )
    except BonusFileInvalid as error:
        return _billing_page(request, actor, upload_errors=error.errors, status=400)
    except InvalidInput as error:
        return _billing_page(request, actor, upload_errors=[error.message], status=400)
    except DomainError as error:
        report(request, error)
        return redirect("payments:billing", slug)
    count = len(outcome.bonuses)
    total = format_dollars(sum(bonus.amount_cents for bonus in outcome.bonuses))
    paid = f"{count} bonus{'es' if count != 1 else ''} totalling {total}"
    if outcome.repeated:
        messages.info(
            request,
            f"This file was already sent from this form: {paid} "
            f"{'were' if count != 1 else 'was'} paid then. Nothing more was paid.",
        )
    else:
        messages.success(request, f"Paid {paid}.")
    return redirect("payments:billing", slug)


urlpatterns: list[URLPattern] = [
    path("labs/<slug:slug>/billing/", billing, name="billing"),
    path("labs/<slug:slug>/billing/add-funds/", funding_add, name="funding_add"),
    path("labs/<slug:slug>/billing/fundings/return/", funding_return, name="funding_return"),
    path(
        "labs/<slug:slug>/billing/fundings/<uuid:funding_id>/",
        funding_detail,
        name="funding",
    ),
    path("labs/<slug:slug>/billing/bonuses/", bonus_create, name="bonus_create"),
    path("labs/<slug:slug>/billing/bonuses/upload/", bonus_upload, name="bonus_upload"),
]
