"""Forms of the staff vetting console. They parse input; the services decide."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from experts.forms import group_domains, grouped_domain_choices
from experts.models import Domain
from experts.selectors import domain_choices
from experts.states import CredentialKind

MAX_OPTIONS = 6
OPTION_NUMBERS = range(1, MAX_OPTIONS + 1)


def _grouped_domain_choices(*, blank: str) -> list[Any]:
    """Fields as option groups, each led by the whole field, then its specialties."""
    return grouped_domain_choices(
        group_domains(domain_choices()), blank=blank, whole_field="All of {}"
    )


class QueueFilterForm(forms.Form):
    domain = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    country = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *CredentialKind.choices])

    def __init__(self, *args: Any, countries: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["domain"]).choices = _grouped_domain_choices(
            blank="Any domain"
        )
        cast(forms.ChoiceField, self.fields["country"]).choices = [("", "Any country"), *countries]

    def filters(self) -> dict[str, Any]:
        """The valid filters as ``vetting_queue`` keywords; an unknown value is ignored."""
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "domain_id": data.get("domain"),
            "country": data.get("country") or "",
            "kind": data.get("kind") or "",
        }


class DecisionForm(forms.Form):
    VERIFY = "verify"
    REQUEST_INFO = "request_info"
    REJECT = "reject"

    decision = forms.ChoiceField(
        choices=[
            (VERIFY, "Verify — the documents prove the claim"),
            (REQUEST_INFO, "Request information — the expert must answer before a decision"),
            (REJECT, "Reject — the claim cannot be accepted"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose verify, request information or reject."},
    )
    message = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Message to the expert",
        help_text="Required to reject or request information; optional when verifying.",
    )
    version = forms.CharField(widget=forms.HiddenInput)


class QualificationTestForm(forms.Form):
    domain = forms.TypedChoiceField(coerce=int)
    title = forms.CharField(max_length=160)
    instructions = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), max_length=4000
    )
    time_limit_minutes = forms.IntegerField(
        min_value=1, max_value=480, initial=30, label="Time limit (minutes)"
    )
    pass_mark_percent = forms.IntegerField(
        min_value=1, max_value=100, initial=70, label="Pass mark (%)"
    )
    cooldown_days = forms.IntegerField(
        min_value=0,
        max_value=365,
        initial=30,
        label="Cooldown (days)",
        help_text="How long an expert waits before trying again.",
    )
    is_published = forms.BooleanField(
        required=False,
        label="Published",
        help_text="Experts see published tests. A test needs questions before publishing.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["domain"]).choices = _grouped_domain_choices(
            blank="Choose a domain"
        )

    def clean_domain(self) -> Domain:
        try:
            return Domain.objects.get(pk=self.cleaned_data["domain"], is_active=True)
        except Domain.DoesNotExist:
            raise forms.ValidationError("Choose one of the listed domains.") from None


class ShortAnswerQuestionForm(forms.Form):
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    points = forms.IntegerField(min_value=1, max_value=100, initial=2)
    reference_answer = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        help_text="What a grader should look for. Never shown to the expert.",
    )


class MultipleChoiceQuestionForm(forms.Form):
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    points = forms.IntegerField(min_value=1, max_value=100, initial=1)
    correct = forms.TypedChoiceField(
        coerce=int,
        choices=[(n, f"Option {n}") for n in OPTION_NUMBERS],
        widget=forms.RadioSelect,
        label="Correct option",
        error_messages={"required": "Mark the correct option."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for n in OPTION_NUMBERS:
            self.fields[f"option_{n}"] = forms.CharField(
                required=n <= 2, max_length=300, label=f"Option {n}"
            )

    def option_fields(self) -> list[tuple[forms.BoundField, int]]:
        return [(self[f"option_{n}"], n) for n in OPTION_NUMBERS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        correct = data.get("correct")
        if correct and not (data.get(f"option_{correct}") or "").strip():
            self.add_error("correct", f"Option {correct} is marked correct but it is empty.")
        return data

    def choices(self) -> list[tuple[str, bool]]:
        """The filled options, in order, with the correct one marked."""
        correct = self.cleaned_data["correct"]
        return [
            (text.strip(), n == correct)
            for n in OPTION_NUMBERS
            if (text := self.cleaned_data.get(f"option_{n}") or "").strip()
        ]


class GradeForm(forms.Form):
    """One points field per written answer still to grade: ``points_<answer id>``."""

    def __init__(self, *args: Any, answers: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for answer in answers:
            self.fields[f"points_{answer.pk}"] = forms.IntegerField(
                min_value=0,
                max_value=answer.question.points,
                label=f"Points (0 to {answer.question.points})",
                error_messages={"required": "Award points for this answer."},
            )

    def points(self) -> dict[int, int]:
        return {
            int(name.removeprefix("points_")): value
            for name, value in self.cleaned_data.items()
            if name.startswith("points_")
        }
