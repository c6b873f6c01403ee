"""Forms of the lab's project pages.

Forms parse and shape the input (dollars to cents, one-per-line boxes to settings lists);
the services apply the rules and write. A service's refusal names a field: ``SERVICE_FIELDS``
says where on the form it shows.
"""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django_countries import countries

from experts.models import Domain
from experts.states import CredentialKind, Proficiency, Seniority
from marketplace.errors import InvalidInput
from marketplace.widgets import FastSelect, FastSelectMultiple
from projects.matching.services import MAX_SEATS_ADDED
from projects.models import Project
from projects.services.projects import (
    MAX_BUDGET_CENTS,
    MAX_PRICE_CENTS,
    MAX_SEATS,
    SETUP_FIELDS,
)
from projects.states import (
    EDITABLE_PROJECT_STATES,
    AiPolicy,
    DispatchOrder,
    ImportFormat,
    ImportKind,
    WebhookEvent,
)
from projects.task_types import REGISTRY, TaskType

CENT = Decimal("0.01")
DEFAULT_TASK_TYPE = "pairwise"

# The type setting that the "one per line" box fills, with its label and help, per type.
# Types not listed (or whose settings lack the key) take their settings as JSON only.
LINE_SETTINGS: dict[str, tuple[str, str, str]] = {
    "pairwise": (
        "criteria",
        "Criteria",
        "Optional aspects experts also compare one by one, e.g. Accuracy or Safety. "
        "One per line; at most 10.",
    ),
    "rubric": (
        "criteria",
        "Rubric criteria",
        "One per line as “Label: what it means”. Each is scored 1 to 5; for other scales, "
        "leave this empty and write the criteria in the advanced settings.",
    ),
    "classification": (
        "labels",
        "Labels",
        "The labels experts choose from, one per line.",
    ),
    "critique": (
        "severities",
        "Severities",
        "From the least to the most severe, one per line.",
    ),
    "safety": (
        "harm_categories",
        "Harm categories",
        "Short names, one per line, e.g. self_harm or cyber.",
    ),
}
RUBRIC_DEFAULT_SCALE = (1, 5)

# The workspace settings on the project form (each optional: blank keeps the value).
WORKSPACE_FIELDS = ("lease_minutes", "dispatch_order", "ai_policy", "auto_accept_days")
QUALITY_FIELDS = ("min_gold_tasks", "max_overlap", "consensus_threshold_percent")
QUALITY_FLAGS = ("adaptive_overlap", "stop_early")

# Where a service's refusal (its ``field``) shows on the project form.
SERVICE_FIELDS = {
    "price_per_annotation_cents": "price",
    "budget_cents": "budget",
    "task_settings": "task_settings_json",
}
# The form fields behind each service field of a project.
FORM_FIELDS_OF = {
    "price_per_annotation_cents": ("price",),
    "budget_cents": ("budget",),
    "task_settings": ("settings_lines", "task_settings_json"),
}


def dollars_to_cents(amount: Decimal) -> int:
    """Exact: the amount has at most two decimal places."""
    return int((amount * 100).to_integral_value())


def cents_to_dollars(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(CENT))


class DollarField(forms.DecimalField):
    """An amount in dollars and cents, cleaned to whole cents (parsed as Decimal, never float)."""

    def __init__(self, *, max_cents: int, min_cents: int = 1, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "min": "0"}),
        )
        super().__init__(
            max_digits=15,
            decimal_places=2,
            min_value=Decimal(min_cents) / 100,
            max_value=Decimal(max_cents) / 100,
            error_messages={
                "invalid": "Enter an amount in dollars, e.g. 12 or 12.50.",
                "max_decimal_places": "Use dollars and cents only, e.g. 12.50.",
            },
            **kwargs,
        )

    def clean(self, value: Any) -> int | None:  # type: ignore[override]
        amount = super().clean(value)
        return None if amount is None else dollars_to_cents(amount)


# Type settings --------------------------------------------------------------------------


def line_setting(task_type: TaskType) -> tuple[str, str, str] | None:
    """The (settings key, label, help) of the type's one-per-line box, if it has one."""
    entry = LINE_SETTINGS.get(task_type.key)
    model = getattr(task_type, "settings_model", None)
    if entry is None or model is None or entry[0] not in model.model_fields:
        return None
    return entry


def _criterion_key(label: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40].strip("_")
    if not key or not key[0].isalpha():
        key = f"c_{key}"[:40]
    return key


def lines_to_setting(task_type: TaskType, lines: list[str]) -> list[Any]:
    if task_type.key != "rubric":
        return lines
    criteria = []
    for line in lines:
        label, _, description = line.partition(":")
        label, description = label.strip(), description.strip()
        criteria.append({"key": _criterion_key(label), "label": label, "description": description})
    return criteria


def setting_to_lines(task_type: TaskType, value: Any) -> str | None:
    """The box's text for a stored value; None when the box cannot say it (custom scales)."""
    if not isinstance(value, list):
        return None
    if task_type.key != "rubric":
        return "\n".join(str(item) for item in value)
    lines = []
    for criterion in value:
        scale = (criterion.get("scale_min", 1), criterion.get("scale_max", 5))
        if scale != RUBRIC_DEFAULT_SCALE or criterion.get("key") != _criterion_key(
            criterion.get("label", "")
        ):
            return None
        description = criterion.get("description", "")
        lines.append(f"{criterion['label']}: {description}" if description else criterion["label"])
    return "\n".join(lines)


def settings_initial(task_type: TaskType, stored: dict[str, Any] | None) -> dict[str, str]:
    """The two settings boxes for a type's stored (or default) settings."""
    if getattr(task_type, "settings_model", None) is None:
        return {"settings_lines": "", "task_settings_json": ""}
    full = task_type.settings_with_defaults(stored)
    lines = ""
    entry = line_setting(task_type)
    if entry is not None and entry[0] in full:
        text = setting_to_lines(task_type, full[entry[0]])
        if text is not None:
            lines = text
            del full[entry[0]]
    return {
        "settings_lines": lines,
        "task_settings_json": json.dumps(full, indent=2, ensure_ascii=False) if full else "",
    }


def task_type_options(selected: str, *, disabled: bool = False) -> list[dict[str, Any]]:
    """The radio cards: every registered type with its label and description."""
    return [
        {
            "value": key,
            "label": task_type.label,
            "description": getattr(task_type, "description", ""),
            "checked": key == selected,
            "disabled": disabled,
        }
        for key, task_type in REGISTRY.items()
    ]


# Projects -------------------------------------------------------------------------------


def _language_choices() -> list[tuple[str, str]]:
    return sorted(((code, str(name)) for code, name in settings.LANGUAGES), key=lambda c: c[1])


def _country_choices() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in countries]


class ProjectForm(forms.Form):
    """Create a project (with its first guidelines) or edit one (``project`` given).

    ``domains`` is the active taxonomy (fields and specialties) from one query. Fields the
    project's state does not let change are disabled; their initial values stand.
    """

    # Basics
    title = forms.CharField(max_length=160)
    summary = forms.CharField(
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or two sentences experts see on their invitation.",
    )
    domain = forms.ChoiceField(label="Field", widget=FastSelect)
    specialties = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Optional: narrow the project to some specialties of the field.",
    )
    # Who
    required_credential_kinds = forms.MultipleChoiceField(
        label="Required credentials",
        choices=CredentialKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Experts need a verified credential of at least one of these kinds.",
    )
    min_seniority = forms.ChoiceField(
        label="Minimum seniority",
        choices=[("", "Any seniority"), *Seniority.choices],
        required=False,
    )
    languages = forms.MultipleChoiceField(
        choices=_language_choices,
        required=False,
        widget=FastSelectMultiple(attrs={"size": 6}),
        help_text="Languages the work needs (hold Ctrl or ⌘ to pick several). None: any.",
    )
    language_level = forms.ChoiceField(
        label="Minimum language level",
        choices=Proficiency.choices,
        initial=Proficiency.C1,
        required=False,
        help_text="Experts need at least this level in every language above.",
    )
    allowed_countries = forms.MultipleChoiceField(
        label="Experts' countries",
        choices=_country_choices,
        required=False,
        widget=FastSelectMultiple(attrs={"size": 6}),
        help_text="Only experts living in these countries, e.g. for data-residency rules. "
        "None: anywhere.",
    )
    # The work
    task_type = forms.ChoiceField(label="Task type", widget=forms.RadioSelect)
    settings_lines = forms.CharField(
        label="Criteria", required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    task_settings_json = forms.CharField(
        label="Advanced settings (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "class": "code-input"}),
        help_text="The task type's other settings. The box above, when filled, overrides "
        "its key here.",
    )
    guidelines = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 12}),
        help_text="Markdown. Experts read these before their first task; the project needs "
        "them to go live.",
    )
    rubric = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Markdown. Optional scoring guidance shown beside the guidelines.",
    )
    # Quality and pricing
    overlap = forms.IntegerField(
        label="Annotations per task",
        min_value=1,
        max_value=9,
        initial=3,
        help_text="How many experts annotate each task (1 to 9).",
    )
    price = DollarField(
        label="Price per annotation (USD)",
        max_cents=MAX_PRICE_CENTS,
        help_text="What an expert earns per accepted annotation; the platform fee comes on top.",
    )
    seats = forms.IntegerField(
        min_value=1, max_value=MAX_SEATS, initial=10, help_text="Experts working at once."
    )
    budget = DollarField(
        label="Budget (USD)",
        max_cents=MAX_BUDGET_CENTS,
        min_cents=0,
        required=False,
        help_text="Your ceiling for the project; funding is a separate step.",
    )
    deadline = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    gold_rate_percent = forms.IntegerField(
        label="Gold tasks mixed in (%)",
        min_value=0,
        max_value=50,
        initial=10,
        help_text="Share of tasks with a known answer, used to measure accuracy.",
    )
    min_gold_accuracy_percent = forms.IntegerField(
        label="Minimum gold accuracy (%)",
        min_value=0,
        max_value=100,
        initial=70,
        help_text="Experts below this on gold tasks are paused.",
    )

    # The workspace. Left blank (a form from before these fields existed), a value stays as
    # it is: the project's current one, or the default on a new project.
    lease_minutes = forms.IntegerField(
        label="Time to hold a task (minutes)",
        min_value=5,
        max_value=240,
        initial=30,
        required=False,
        help_text="How long a task stays reserved for an expert who opened it (5 to 240); "
        "it renews while they work.",
    )
    dispatch_order = forms.ChoiceField(
        label="Task order",
        choices=DispatchOrder.choices,
        initial=DispatchOrder.DEPTH,
        required=False,
        help_text="Finishing started tasks first delivers complete items early.",
    )
    ai_policy = forms.ChoiceField(
        label="AI tools",
        choices=AiPolicy.choices,
        initial=AiPolicy.FORBIDDEN,
        required=False,
        help_text="Whether experts may use AI assistants; fixed once the project is live. "
        "Pastes and focus changes are recorded either way.",
    )
    auto_accept_days = forms.IntegerField(
        label="Auto-accept after (days)",
        min_value=0,
        max_value=90,
        initial=7,
        required=False,
        help_text="Answers not reviewed within this many days are accepted (0 to 90; 0: never).",
    )

    # Quality: the pause rule and adaptive overlap (blank numbers keep their value).
    min_gold_tasks = forms.IntegerField(
        label="Gold answers before judging an expert",
        min_value=1,
        max_value=200,
        initial=10,
        required=False,
        help_text="An expert is paused only after this many gold answers, and only when their "
        "accuracy is below the minimum with 95% certainty.",
    )
    adaptive_overlap = forms.BooleanField(
        label="Ask for more answers on unsettled items",
        required=False,
        help_text="When the experts' consensus on an item stays below the confidence below, "
        "dispatch asks for one more answer at a time, up to the most answers per item.",
    )
    max_overlap = forms.IntegerField(
        label="Most answers per item",
        min_value=1,
        max_value=9,
        initial=5,
        required=False,
    )
    consensus_threshold_percent = forms.IntegerField(
        label="Consensus confidence (%)",
        min_value=50,
        max_value=99,
        initial=80,
        required=False,
        help_text="An item is settled when its reliability-weighted consensus reaches this.",
    )
    stop_early = forms.BooleanField(
        label="Stop asking once an item is settled",
        required=False,
        help_text="Items whose first answers already agree with confidence get no more "
        "answers (saves budget).",
    )

    def __init__(
        self,
        data: Any = None,
        *,
        domains: list[Domain],
        project: Project | None = None,
        has_tasks: bool = False,
        **kwargs: Any,
    ) -> None:
        self.project = project
        if project is not None:
            kwargs.setdefault("initial", self.initial_for(project))
        else:
            kwargs.setdefault("initial", {"task_type": DEFAULT_TASK_TYPE})
            initial = kwargs["initial"]
            for name, value in settings_initial(
                REGISTRY[initial.get("task_type", DEFAULT_TASK_TYPE)], None
            ).items():
                initial.setdefault(name, value)
        super().__init__(data, **kwargs)
        self.fields_by_domain = {str(domain.pk): domain for domain in domains}
        self.top_domains = [domain for domain in domains if domain.parent_id is None]
        self.specialty_domains = [domain for domain in domains if domain.parent_id is not None]
        cast(forms.ChoiceField, self.fields["domain"]).choices = [
            ("", "Choose a field"),
            *((str(domain.pk), domain.name) for domain in self.top_domains),
        ]
        cast(forms.ChoiceField, self.fields["specialties"]).choices = [
            (str(domain.pk), domain.name) for domain in self.specialty_domains
        ]
        cast(forms.ChoiceField, self.fields["task_type"]).choices = [
            (key, task_type.label) for key, task_type in REGISTRY.items()
        ]
        self.locked: set[str] = set()
        if project is not None:
            del self.fields["guidelines"]
            del self.fields["rubric"]
            self.locked = self.locked_fields(project, has_tasks=has_tasks)
            for name in self.locked:
                self.fields[name].disabled = True
        entry = line_setting(self.current_task_type)
        if entry is None:
            self.fields["settings_lines"].widget = forms.HiddenInput()
            self.has_lines = False
        else:
            self.fields["settings_lines"].label = entry[1]
            self.fields["settings_lines"].help_text = entry[2]
            self.has_lines = True

    # Which fields may change -----------------------------------------------------------

    @staticmethod
    def locked_fields(project: Project, *, has_tasks: bool) -> set[str]:
        """Form fields the project's state keeps as they are."""
        if project.status in EDITABLE_PROJECT_STATES:
            return {"task_type"} if has_tasks else set()
        locked: set[str] = set()
        for name in SETUP_FIELDS:
            locked.update(FORM_FIELDS_OF.get(name, (name,)))
        return locked

    @staticmethod
    def initial_for(project: Project) -> dict[str, Any]:
        task_type = REGISTRY[project.task_type]
        return {
            "title": project.title,
            "summary": project.summary,
            "domain": str(project.domain_id),
            "specialties": [str(pk) for pk in project.specialties.values_list("pk", flat=True)],
            "required_credential_kinds": project.required_credential_kinds,
            "min_seniority": project.min_seniority,
            "languages": project.languages,
            "language_level": project.language_level,
            "allowed_countries": project.allowed_countries,
            "task_type": project.task_type,
            **settings_initial(task_type, project.task_settings),
            "overlap": project.overlap,
            "price": cents_to_dollars(project.price_per_annotation_cents),
            "seats": project.seats,
            "budget": cents_to_dollars(project.budget_cents),
            "deadline": project.deadline,
            "gold_rate_percent": project.gold_rate_percent,
            "min_gold_accuracy_percent": project.min_gold_accuracy_percent,
            "lease_minutes": project.lease_minutes,
            "dispatch_order": project.dispatch_order,
            "ai_policy": project.ai_policy,
            "auto_accept_days": project.auto_accept_days,
            "min_gold_tasks": project.min_gold_tasks,
            "adaptive_overlap": project.adaptive_overlap,
            "max_overlap": project.max_overlap,
            "consensus_threshold_percent": project.consensus_threshold_percent,
            "stop_early": project.stop_early,
        }

    # Values the template needs ---------------------------------------------------------

    def _raw(self, name: str) -> Any:
        if self.is_bound and not self.fields[name].disabled:
            return self.data.get(name) or ""
        return self.initial.get(name, self.fields[name].initial) or ""

    @property
    def current_task_type(self) -> TaskType:
        return REGISTRY.get(str(self._raw("task_type")), REGISTRY[DEFAULT_TASK_TYPE])

    @property
    def current_domain(self) -> Domain | None:
        return self.fields_by_domain.get(str(self._raw("domain")))

    def task_type_options(self) -> list[dict[str, Any]]:
        return task_type_options(
            self.current_task_type.key, disabled=self.fields["task_type"].disabled
        )

    def specialty_options(self) -> list[dict[str, Any]]:
        """Checkboxes for the chosen field's specialties, the chosen ones checked."""
        domain = self.current_domain
        if domain is None:
            return []
        if self.is_bound and not self.fields["specialties"].disabled:
            chosen = set(cast(QueryDict, self.data).getlist("specialties"))
        else:
            chosen = {str(pk) for pk in self.initial.get("specialties", [])}
        return specialty_options(
            self.specialty_domains,
            field_id=domain.pk,
            chosen=chosen,
            disabled=self.fields["specialties"].disabled,
        )

    # Cleaning --------------------------------------------------------------------------

    def clean_domain(self) -> Domain:
        domain = self.fields_by_domain.get(self.cleaned_data["domain"])
        if domain is None or domain.parent_id is not None:
            raise ValidationError("Choose a field.")
        return domain

    def clean_specialties(self) -> list[Domain]:
        return [self.fields_by_domain[pk] for pk in self.cleaned_data["specialties"]]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        type_key = cleaned.get("task_type")
        if type_key in REGISTRY:
            task_type = REGISTRY[type_key]
            try:
                cleaned["task_settings"] = self._type_settings(task_type, cleaned)
            except InvalidInput as error:
                self.add_error("task_settings_json", error.message)
        return cleaned

    def _type_settings(self, task_type: TaskType, cleaned: dict[str, Any]) -> dict[str, Any]:
        text = (cleaned.get("task_settings_json") or "").strip()
        try:
            values = json.loads(text) if text else {}
        except json.JSONDecodeError as error:
            raise InvalidInput(
                f"This is not valid JSON (line {error.lineno}: {error.msg}).",
                field="task_settings",
            ) from None
        if not isinstance(values, dict):
            raise InvalidInput("Write the settings as a JSON object: {…}.", field="task_settings")
        entry = line_setting(task_type)
        lines = [line.strip() for line in (cleaned.get("settings_lines") or "").splitlines()]
        lines = [line for line in lines if line]
        if entry is not None and lines:
            values[entry[0]] = lines_to_setting(task_type, lines)
        return task_type.clean_settings(values)

    def project_values(self) -> dict[str, Any]:
        """The changeable fields in the shape ``project_create`` / ``project_update`` take."""
        data = self.cleaned_data
        values = {
            "title": data["title"],
            "summary": data["summary"],
            "domain": data["domain"],
            "specialties": data["specialties"],
            "required_credential_kinds": data["required_credential_kinds"],
            "min_seniority": data["min_seniority"],
            "languages": data["languages"],
            "language_level": data["language_level"] or Proficiency.C1,
            "allowed_countries": data["allowed_countries"],
            "task_type": data["task_type"],
            "task_settings": data["task_settings"],
            "overlap": data["overlap"],
            "price_per_annotation_cents": data["price"],
            "seats": data["seats"],
            "budget_cents": data["budget"] or 0,
            "deadline": data["deadline"],
            "gold_rate_percent": data["gold_rate_percent"],
            "min_gold_accuracy_percent": data["min_gold_accuracy_percent"],
        }
        for name in (*WORKSPACE_FIELDS, *QUALITY_FIELDS):
            if data.get(name) not in (None, ""):
                values[name] = data[name]
        for name in QUALITY_FLAGS:
            values[name] = bool(data.get(name))
        return {
            name: value
            for name, value in values.items()
            if not any(field in self.locked for field in FORM_FIELDS_OF.get(name, (name,)))
        }

    def add_service_error(self, error: InvalidInput | Exception) -> None:
        """Show a service's refusal next to the field it names (or above the form)."""
        field = getattr(error, "field", None) or ""
        name = SERVICE_FIELDS.get(field.split(".")[0], field)
        message = getattr(error, "message", str(error))
        self.add_error(name if name in self.fields else None, message)


def specialty_options(
    specialties: list[Domain], *, field_id: int, chosen: set[str], disabled: bool = False
) -> list[dict[str, Any]]:
    return [
        {
            "value": str(domain.pk),
            "label": domain.name,
            "checked": str(domain.pk) in chosen,
            "disabled": disabled,
        }
        for domain in specialties
        if domain.parent_id == field_id
    ]


# Money and guidelines ------------------------------------------------------------------


class FundForm(forms.Form):
    amount = DollarField(label="Amount (USD)", max_cents=MAX_BUDGET_CENTS)
    # One key per rendered form: submitting the same form twice charges once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=80)

    @classmethod
    def for_shortfall(cls, shortfall_cents: int) -> FundForm:
        initial: dict[str, Any] = {"idempotency_key": uuid.uuid4().hex}
        if shortfall_cents > 0:
            initial["amount"] = cents_to_dollars(shortfall_cents)
        return cls(initial=initial)


class GuidelinesForm(forms.Form):
    guidelines = forms.CharField(widget=forms.Textarea(attrs={"rows": 14}), help_text="Markdown.")
    rubric = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), help_text="Markdown."
    )
    changelog = forms.CharField(
        label="What changed",
        max_length=300,
        help_text="One line experts see in the version history.",
    )
    is_material = forms.BooleanField(
        label="Material change: experts must re-read the guidelines before their next task",
        required=False,
    )


# Tasks and imports ---------------------------------------------------------------------


class ImportForm(forms.Form):
    # Declared before the file: a browser sends fields in page order, and an upload stopped
    # for its size keeps only what came before the file.
    kind = forms.ChoiceField(
        label="What the file holds",
        choices=ImportKind.choices,
        initial=ImportKind.TASKS,
        widget=forms.RadioSelect,
    )
    format = forms.ChoiceField(
        choices=[("", "Detect from the file name"), *ImportFormat.choices], required=False
    )
    file = forms.FileField(label="File")


GOLD_FILTERS = {"": None, "regular": False, "gold": True}


class TaskFilterForm(forms.Form):
    status = forms.ChoiceField(required=False)
    gold = forms.ChoiceField(
        label="Kind",
        required=False,
        choices=[("", "All tasks"), ("regular", "Regular"), ("gold", "Gold")],
    )
    external_id = forms.CharField(label="External id starts with", required=False, max_length=200)

    def __init__(self, *args: Any, status_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["status"]).choices = [
            ("", "Any status"),
            *status_choices,
        ]

    def filters(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "status": data["status"] or None,
            "is_gold": GOLD_FILTERS.get(data["gold"]),
            "external_id": data["external_id"].strip() or None,
        }


# Webhooks ------------------------------------------------------------------------------


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="An https:// address that accepts POST requests.",
    )
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )
    description = forms.CharField(max_length=120, required=False)


# Experts on a project (matching) ---------------------------------------------------------


class SeatsAddForm(forms.Form):
    seats = forms.IntegerField(
        label="More seats",
        min_value=1,
        max_value=MAX_SEATS_ADDED,
        initial=5,
        help_text=f"Between 1 and {MAX_SEATS_ADDED}. Matching fills them within minutes.",
    )


class DirectInviteForm(forms.Form):
    expert_id = forms.UUIDField(
        label="Expert id",
        error_messages={"invalid": "Paste the expert's full id, e.g. from a table of experts."},
        help_text="The expert's full id. They must still meet the project's requirements.",
    )


class ExclusionForm(forms.Form):
    expert_id = forms.UUIDField(
        label="Expert id",
        error_messages={"invalid": "Paste the expert's full id, e.g. from a table of experts."},
    )
    reason = forms.CharField(
        max_length=300,
        required=False,
        help_text="Optional; only your organisation sees it.",
    )
