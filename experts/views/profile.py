"""The expert's profile page: who they are, what they know, when they can work."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from experts import selectors, services
from experts.forms import (
    DomainRows,
    LanguageRows,
    ProfileForm,
    group_domains,
    grouped_domain_choices,
)
from experts.models import Domain, ExpertProfile
from marketplace.errors import DomainError, NotFound
from marketplace.http import AuthenticatedHttpRequest
from marketplace.states import UserRole

# Where a service's refusal about a field shows up on the page.
PROFILE_FORM_FIELDS = {"timezone": "timezone", "links": "links"}


def require_expert(request: AuthenticatedHttpRequest) -> None:
    """Expert pages exist only for expert accounts; anyone else gets a 404."""
    if request.user.role != UserRole.EXPERT:
        raise Http404()


def _initial_rows(profile: ExpertProfile | None) -> tuple[list[dict], list[dict]]:
    if profile is None:
        return [], []
    languages = [
        {"language": row.language, "proficiency": row.proficiency}
        for row in profile.languages.all()
    ]
    domains = [
        {"domain": str(row.domain_id), "seniority": row.seniority} for row in profile.domains.all()
    ]
    return languages, domains


@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Edit the whole profile in one form; a refusal anywhere saves nothing."""
    require_expert(request)
    profile = selectors.profile_for_editing(expert=request.user)
    domains = selectors.domain_choices()
    domain_options = grouped_domain_choices(group_domains(domains))
    data = request.POST if request.method == "POST" else None
    # A posted row is judged on what it holds, never skipped as "unchanged from initial".
    language_initial, domain_initial = ([], []) if data is not None else _initial_rows(profile)
    form = ProfileForm(data, initial=ProfileForm.initial_for(profile))
    languages = LanguageRows(data, initial=language_initial, prefix="languages")
    domain_rows = DomainRows(
        data,
        initial=domain_initial,
        prefix="domains",
        form_kwargs={"domain_choices": domain_options},
    )
    service_error = ""
    if request.method == "POST":
        if form.is_valid() and languages.is_valid() and domain_rows.is_valid():
            by_pk: dict[str, Domain] = {str(domain.pk): domain for domain in domains}
            try:
                services.profile_update(
                    expert=request.user,
                    data=form.profile_data(),
                    languages=languages.values(),
                    domains=[(by_pk[pk], level) for pk, level in domain_rows.values()],
                )
            except NotFound:
                raise Http404() from None
            except DomainError as error:
                field = PROFILE_FORM_FIELDS.get(error.field or "")
                if field:
                    form.add_error(field, error.message)
                else:
                    service_error = error.message
            else:
                messages.success(request, "Your profile is saved.")
                return redirect("experts:profile")
        messages.error(request, "Nothing was saved. Fix the problems marked below.")
    context: dict[str, Any] = {
        "form": form,
        "languages": languages,
        "domain_rows": domain_rows,
        "service_error": service_error,
        "profile": profile,
    }
    return render(request, "experts/profile.html", context)


urlpatterns = [path("profile/", profile_edit, name="profile")]
