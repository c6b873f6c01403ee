"""Forms for the expert's own pages: the profile and credential claims.

Forms only parse and check the shape of the input; the services apply the rules and write.
Domain pickers get their choices from the caller (one query per page, shared by every row).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, cast
from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django_countries import countries

from experts.models import Credential, Domain, ExpertProfile
from experts.services.profile import MAX_LINKS
from experts.states import CredentialKind, Proficiency, Seniority
from marketplace.widgets import FastSelect

TIMEZONE_CHOICES = [("", "Choose a time zone"), *((tz, tz) for tz in sorted(available_timezones()))]
MAX_ROWS = 12
MAX_HOURLY_RATE = Decimal("10000")
CENT = Decimal("0.01")


def country_choices(blank_label: str) -> list[tuple[str, str]]:
    return [("", blank_label), *((code, name) for code, name in countries)]


@dataclasses.dataclass
class DomainGroup:
    """A field of the taxonomy with its specialties, for grouped pickers."""

    field: Domain
    specialties: list[Domain] = dataclasses.field(default_factory=list)

    @property
    def members(self) -> list[Domain]:
        return [self.field, *self.specialties]


def group_domains(domains: list[Domain]) -> list[DomainGroup]:
    """Group a flat list of active domains (as ``selectors.domain_choices`` returns it)."""
    groups: dict[int, DomainGroup] = {}
    for domain in domains:
        if domain.parent_id is None:
            groups.setdefault(domain.pk, DomainGroup(field=domain))
    for domain in domains:
        if domain.parent_id is not None and domain.parent_id in groups:
            groups[domain.parent_id].specialties.append(domain)
    return sorted(groups.values(), key=lambda group: group.field.name)


def grouped_domain_choices(
    groups: list[DomainGroup],
    *,
    blank: str = "Choose a domain",
    whole_field: str = "{} (whole field)",
) -> list[Any]:
    """Choices with an optgroup per field: the field as a whole, then its specialties."""
    choices: list[Any] = [("", blank)]
    for group in groups:
        options = [(str(group.field.pk), whole_field.format(group.field.name))]
        options += [(str(domain.pk), domain.name) for domain in group.specialties]
        choices.append((group.field.name, options))
    return choices


# Profile -----------------------------------------------------------------------------------


class ProfileForm(forms.Form):
    headline = forms.CharField(
        max_length=140,
        required=False,
        help_text="One line labs see first, e.g. “Board-certified radiologist, 12 years in CT”.",
    )
    bio = forms.CharField(
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Your training, where you practise, and the kind of work you do best.",
    )
    country = forms.ChoiceField(
        choices=country_choices("Choose a country"),
        required=False,
        label="Country",
        widget=FastSelect,
    )
    timezone = forms.ChoiceField(
        choices=TIMEZONE_CHOICES, required=False, label="Time zone", widget=FastSelect
    )
    weekly_availability_hours = forms.IntegerField(
        min_value=0,
        max_value=80,
        required=False,
        label="Hours a week you can work",
        widget=forms.NumberInput(attrs={"placeholder": "0 to 80"}),
    )
    hourly_rate = forms.DecimalField(
        min_value=Decimal("0"),
        max_value=MAX_HOURLY_RATE,
        max_digits=7,
        decimal_places=2,
        required=False,
        label="Expected hourly rate (USD)",
        error_messages={
            "invalid": "Enter an amount in dollars, e.g. 85 or 85.50.",
            "max_decimal_places": "Use dollars and cents only, e.g. 85.50.",
            "min_value": "The rate cannot be negative.",
        },
        widget=forms.NumberInput(
            attrs={"step": "0.01", "inputmode": "decimal", "placeholder": "e.g. 85.50"}
        ),
    )
    years_of_experience = forms.IntegerField(
        min_value=0, max_value=70, required=False, label="Years of experience"
    )
    links = forms.CharField(
        required=False,
        label="Public links",
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text=(
            f"Up to {MAX_LINKS} https:// addresses, one per line: a faculty page, "
            "LinkedIn, Google Scholar, ORCID, GitHub."
        ),
    )
    employer = forms.CharField(
        max_length=160,
        required=False,
        label="Current employer",
        help_text="Private. Used only to keep you off your employer's projects.",
    )
    accepting_invitations = forms.BooleanField(
        required=False, label="Send me new project invitations"
    )

    def clean_links(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["links"].splitlines()]
        links = [line for line in lines if line]
        if len(links) > MAX_LINKS:
            raise ValidationError(f"Add at most {MAX_LINKS} links; you entered {len(links)}.")
        validate = URLValidator(schemes=["https"])
        for link in links:
            try:
                validate(link)
            except ValidationError:
                raise ValidationError(f"“{link[:80]}” is not a full https:// address.") from None
        return links

    def profile_data(self) -> dict[str, Any]:
        """The cleaned values in the shape ``services.profile_update`` takes."""
        data = self.cleaned_data
        rate = data["hourly_rate"]
        return {
            "headline": data["headline"],
            "bio": data["bio"],
            "country": data["country"],
            "timezone": data["timezone"],
            "weekly_availability_hours": data["weekly_availability_hours"],
            "expected_hourly_rate_cents": None if rate is None else int(rate * 100),
            "years_of_experience": data["years_of_experience"],
            "links": data["links"],
            "employer": data["employer"],
            "accepting_invitations": data["accepting_invitations"],
        }

    @staticmethod
    def initial_for(profile: ExpertProfile | None) -> dict[str, Any]:
        if profile is None:
            return {"accepting_invitations": True}
        cents = profile.expected_hourly_rate_cents
        return {
            "headline": profile.headline,
            "bio": profile.bio,
            "country": profile.country.code or "",
            "timezone": profile.timezone,
            "weekly_availability_hours": profile.weekly_availability_hours,
            "hourly_rate": None if cents is None else (Decimal(cents) / 100).quantize(CENT),
            "years_of_experience": profile.years_of_experience,
            "links": "\n".join(profile.links or []),
            "employer": profile.employer,
            "accepting_invitations": profile.accepting_invitations,
        }


class PairRowForm(forms.Form):
    """A row of two selects that are either both filled or both left blank (ignored)."""

    pair: tuple[str, str] = ("", "")
    incomplete_message = ""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = (data.get(name) for name in self.pair)
        if bool(first) != bool(second):
            raise ValidationError(self.incomplete_message)
        return data

    def value(self) -> tuple[str, str] | None:
        first, second = (self.cleaned_data.get(name) for name in self.pair)
        return (first, second) if first and second else None


class LanguageRowForm(PairRowForm):
    pair = ("language", "proficiency")
    incomplete_message = "Choose both a language and your level, or leave both blank."

    language = forms.ChoiceField(
        choices=[("", "Choose a language"), *settings.LANGUAGES],
        required=False,
        widget=FastSelect,
    )
    proficiency = forms.ChoiceField(
        choices=[("", "Choose a level"), *Proficiency.choices], required=False, label="Level"
    )


class DomainRowForm(PairRowForm):
    pair = ("domain", "seniority")
    incomplete_message = "Choose both a domain and your seniority in it, or leave both blank."

    domain = forms.ChoiceField(
        choices=(), required=False, label="Domain or specialty", widget=FastSelect
    )
    seniority = forms.ChoiceField(
        choices=[("", "Choose a seniority"), *Seniority.choices], required=False
    )

    def __init__(self, *args: Any, domain_choices: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["domain"]).choices = domain_choices


class UniqueRowsFormSet(forms.BaseFormSet):
    """Rows of a profile section; each first value may appear once."""

    duplicate_message = ""

    def clean(self) -> None:
        if any(self.errors):
            return
        seen = [pair[0] for pair in self.values()]
        if len(seen) != len(set(seen)):
            raise ValidationError(self.duplicate_message)

    def values(self) -> list[tuple[str, str]]:
        return [pair for form in self.forms if (pair := form.value()) is not None]


class LanguageFormSet(UniqueRowsFormSet):
    duplicate_message = "List each language once."


class DomainFormSet(UniqueRowsFormSet):
    duplicate_message = "List each domain or specialty once."


def _row_formset(form: type[forms.Form], base: type[UniqueRowsFormSet]) -> Any:
    return forms.formset_factory(
        form,
        formset=base,
        extra=2,
        max_num=MAX_ROWS,
        validate_max=True,
        absolute_max=MAX_ROWS,
    )


LanguageRows = _row_formset(LanguageRowForm, LanguageFormSet)
DomainRows = _row_formset(DomainRowForm, DomainFormSet)


# Credentials -------------------------------------------------------------------------------


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


class CredentialForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("", "Choose a kind"), *CredentialKind.choices], label="Kind of credential"
    )
    title = forms.CharField(
        max_length=160,
        help_text="What it says on the document, e.g. “MD”, “Board certified in radiology”.",
    )
    issuer = forms.CharField(
        max_length=160,
        label="Issued by",
        help_text="The university, licensing board, certifying body or employer.",
    )
    identifier = forms.CharField(
        max_length=80,
        required=False,
        label="Licence or certificate number",
        help_text="If it has one. Only our vetting staff see it.",
    )
    country = forms.ChoiceField(
        choices=country_choices("Not specific to a country"),
        required=False,
        label="Country or jurisdiction",
        widget=FastSelect,
    )
    issued_on = forms.DateField(required=False, widget=DateInput(), label="Issued on")
    expires_on = forms.DateField(
        required=False,
        widget=DateInput(),
        label="Expires on",
        help_text="Leave blank if it does not expire.",
    )
    domains = forms.MultipleChoiceField(
        choices=(),
        label="Domains it supports",
        error_messages={"required": "Choose at least one domain this credential supports."},
    )

    def __init__(self, *args: Any, domains: list[Domain], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._domains = {str(domain.pk): domain for domain in domains}
        cast(forms.ChoiceField, self.fields["domains"]).choices = [
            (pk, str(d)) for pk, d in self._domains.items()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        issued, expires = data.get("issued_on"), data.get("expires_on")
        if issued and expires and expires <= issued:
            self.add_error("expires_on", "The expiry date must come after the issue date.")
        return data

    def claim(self) -> dict[str, Any]:
        """The cleaned claim in the shape the credential services take."""
        data = {name: self.cleaned_data[name] for name in self.fields if name != "domains"}
        data["domains"] = [self._domains[pk] for pk in self.cleaned_data["domains"]]
        return data

    def selected_domains(self) -> set[str]:
        value = self["domains"].value() or []
        return {str(pk) for pk in value}

    @staticmethod
    def initial_for(credential: Credential) -> dict[str, Any]:
        return {
            "kind": credential.kind,
            "title": credential.title,
            "issuer": credential.issuer,
            "identifier": credential.identifier,
            "country": credential.country.code or "",
            "issued_on": credential.issued_on,
            "expires_on": credential.expires_on,
            "domains": [str(domain.pk) for domain in credential.domains.all()],
        }


class SubmitForm(forms.Form):
    response = forms.CharField(
        required=False,
        max_length=4000,
        label="Your response to the reviewer",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Answer their question or say what you changed.",
    )

    def __init__(self, *args: Any, response_required: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["response"].required = response_required
        self.fields["response"].error_messages["required"] = (
            "Tell the reviewer what you changed or answer their question."
        )
