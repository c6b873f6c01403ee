"""What every task type declares, and the shared parts of its schemas.

A task type is a class with class attributes only; the registry holds one instance of each.
Input and result schemas are pydantic models: they validate fast enough for 100,000-row
imports and name the failing field, which the import report and API errors pass on.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from django.template.loader import render_to_string
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from marketplace.errors import InvalidInput

AgreementKind = Literal["nominal", "ordinal", "interval"]

# Bounds that keep one task a sensible size (a 200 MB file holds many tasks, not one).
MAX_TEXT = 100_000
MAX_SHORT_TEXT = 2_000
WORD = re.compile(r"\w+")


class Strict(BaseModel):
    """Unknown keys are refused (a typo in a column name is an error, not silently dropped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TaskInput(Strict):
    """Fields every task may carry besides its type's own."""

    metadata: dict[str, Any] = Field(default_factory=dict)


class Turn(Strict):
    """One earlier message of a conversation the task continues."""

    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1, max_length=MAX_TEXT)


class ResultBase(Strict):
    """Fields every result carries: the expert's confidence and an optional edge-case flag."""

    confidence: int = Field(ge=0, le=100)
    is_edge_case: bool = False
    edge_case_note: str = Field(default="", max_length=MAX_SHORT_TEXT)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a row or a result: where (a dotted field path) and what."""

    field: str
    problem: str


@dataclass(frozen=True)
class Question:
    """One answer of a result that agreement is measured on."""

    key: str
    label: str
    kind: AgreementKind


def problems_from(error: ValidationError, prefix: str = "") -> list[Problem]:
    """Turn pydantic's errors into (field, problem) pairs with dotted paths."""
    problems = []
    for item in error.errors(include_url=False):
        path = ".".join(str(part) for part in item["loc"])
        field = f"{prefix}.{path}" if prefix and path else (prefix or path or "(row)")
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "Unknown field."
        elif item["type"] == "missing":
            message = "This field is required."
        problems.append(Problem(field=field, problem=message))
    return problems


def unique_values(values: list[str]) -> list[str]:
    """Refuse a list that names the same value twice (use as an AfterValidator)."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError("unique", "“{value}” appears twice.", {"value": value})
        seen.add(value)
    return values


def choice_problems(
    field: str, chosen: list[str], allowed: Collection[str], unknown: str
) -> list[Problem]:
    """Problems of a multiple choice: values not in ``allowed`` (``unknown`` says why) and
    values chosen twice, each at its dotted path ``field.<index>``."""
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, name in enumerate(chosen):
        if name not in allowed:
            problems.append(Problem(field=f"{field}.{index}", problem=unknown))
        elif name in seen:
            problems.append(Problem(field=f"{field}.{index}", problem="Chosen twice."))
        seen.add(name)
    return problems


def overlap(given: set[str], expected: set[str]) -> float:
    """The Jaccard overlap of two choices; two empty choices agree fully."""
    union = given | expected
    return len(given & expected) / len(union) if union else 1.0


def token_f1(given: str, expected: str) -> float:
    """The F1 of two texts' word tokens (case-insensitive, counted with repeats).

    Two empty texts agree fully; one empty text does not agree at all.
    """
    given_tokens = Counter(WORD.findall(given.lower()))
    expected_tokens = Counter(WORD.findall(expected.lower()))
    if not given_tokens and not expected_tokens:
        return 1.0
    common = sum((given_tokens & expected_tokens).values())
    if common == 0:
        return 0.0
    precision = common / sum(given_tokens.values())
    recall = common / sum(expected_tokens.values())
    return 2 * precision * recall / (precision + recall)


def option_list(
    values: list[Any], chosen: Any, labels: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Choices for a radio or checkbox group: value, label and whether it is checked.

    ``chosen`` is one value or a list of values (a prefilled result may hold anything, so
    the comparison is on the text form).
    """
    if chosen is None:
        picked: set[str] = set()
    elif isinstance(chosen, list | tuple):
        picked = {str(item) for item in chosen}
    else:
        picked = {str(chosen)}
    return [
        {
            "value": value,
            "label": (labels or {}).get(str(value), str(value)),
            "checked": str(value) in picked,
        }
        for value in values
    ]


class FormData:
    """A submitted answer form, read the same way from a QueryDict or a plain mapping.

    A plain mapping holds a list of values (or one value) per field name. Browsers send
    line breaks in a textarea as CRLF; they are read as LF so quotes match the task text.
    """

    TRUE_VALUES = frozenset({"on", "true", "1", "yes"})

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def keys(self) -> list[str]:
        return [str(key) for key in self._data]

    def getlist(self, key: str) -> list[str]:
        getlist = getattr(self._data, "getlist", None)
        if getlist is not None:
            values = list(getlist(key))
        else:
            value = self._data.get(key)
            if value is None:
                values = []
            elif isinstance(value, list | tuple):
                values = list(value)
            else:
                values = [value]
        return [str(value).replace("\r\n", "\n") for value in values]

    def get(self, key: str) -> str | None:
        """The field's last value (as Django's QueryDict), or None when it was not sent."""
        values = self.getlist(key)
        return values[-1] if values else None

    def integer(self, key: str) -> int | str | None:
        """The value as a whole number; None when blank; the text itself when not a number,
        so validation names the field."""
        value = self.get(key)
        if value is None or not value.strip():
            return None
        try:
            return int(value.strip())
        except ValueError:
            return value

    def flag(self, key: str) -> bool:
        """Whether a checkbox was ticked."""
        return (self.get(key) or "").strip().lower() in self.TRUE_VALUES

    def prefixed(self, prefix: str) -> list[str]:
        """The names sent under ``prefix`` (``criteria.`` → the criterion names), in order."""
        return [key[len(prefix) :] for key in self.keys() if key.startswith(prefix)]


def put(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` only when the form sent a value, so a missing answer reads as required."""
    if value is not None:
        raw[key] = value


class TaskType:
    """Base class of the registry entries. Subclasses set the class attributes below."""

    key: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str]
    input_model: ClassVar[type[TaskInput]]
    result_model: ClassVar[type[ResultBase]]
    settings_model: ClassVar[type[Strict]]
    # Templates under templates/projects/task_types/: the task as the expert (or lab) sees
    # it, and the answer form. Context: ``task`` (data), ``settings``, ``result`` (or None).
    task_template: ClassVar[str]
    form_template: ClassVar[str]
    # What one annotation of this type usually pays before the domain's multiplier.
    base_rate_cents: ClassVar[int]
    # Minutes an expert usually spends on one annotation: workload and hourly-rate estimates.
    typical_minutes: ClassVar[int]
    # How gold answers are scored: "auto" by ``score_against_gold`` when submitted, or
    # "graded" by the lab (free text, where no rule can tell a good answer).
    gold_grading: ClassVar[str] = "auto"
    # The result's free-text field whose pasted share is a behaviour signal (None: none).
    written_field: ClassVar[str | None] = None

    # Settings --------------------------------------------------------------------------

    def clean_settings(self, raw: dict[str, Any] | None) -> dict[str, Any]:
        """Validate the project's type settings; raise InvalidInput naming the field."""
        try:
            model = self.settings_model.model_validate(raw or {})
        except ValidationError as error:
            first = problems_from(error, prefix="task_settings")[0]
            raise InvalidInput(f"{first.field}: {first.problem}", field=first.field) from None
        return model.model_dump(mode="json")

    # Input -----------------------------------------------------------------------------

    def validate_input(
        self, raw: Any, settings: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, list[Problem]]:
        """Validate one task's data. Return (clean data, []) or (None, problems)."""
        if not isinstance(raw, dict):
            return None, [Problem(field="(row)", problem="A task must be a JSON object.")]
        try:
            model = self.input_model.model_validate(raw)
        except ValidationError as error:
            return None, problems_from(error)
        problems = self.check_input(model, settings)
        if problems:
            return None, problems
        return model.model_dump(mode="json", exclude_defaults=True), []

    def check_input(self, data: Any, settings: dict[str, Any]) -> list[Problem]:
        """Rules that need the project's settings (override when the type has any)."""
        return []

    # Results ---------------------------------------------------------------------------

    def validate_result(
        self, raw: Any, *, task: dict[str, Any], settings: dict[str, Any], prefix: str = ""
    ) -> dict[str, Any]:
        """Return the clean result or raise InvalidInput naming the first bad field."""
        problems: list[Problem]
        if not isinstance(raw, dict):
            problems = [Problem(field=prefix or "(result)", problem="Must be a JSON object.")]
        else:
            try:
                model = self.result_model.model_validate(raw)
            except ValidationError as error:
                problems = problems_from(error, prefix=prefix)
            else:
                problems = [
                    Problem(field=f"{prefix}.{p.field}" if prefix else p.field, problem=p.problem)
                    for p in self.check_result(model, task=task, settings=settings)
                ]
                if not problems:
                    return model.model_dump(mode="json")
        first = problems[0]
        raise InvalidInput(f"{first.field}: {first.problem}", field=first.field)

    def check_result(
        self, result: Any, *, task: dict[str, Any], settings: dict[str, Any]
    ) -> list[Problem]:
        """Rules that need the task or the project's settings (override when needed)."""
        return []

    def result_from_form(self, data: Mapping[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        """Turn the answer form's fields into the raw result ``validate_result`` takes.

        ``data`` is a QueryDict (``request.POST``) or a mapping of field name to values.
        Nothing is validated here: a missing answer is left out and a malformed one kept
        as sent, so ``validate_result`` names the field.
        """
        form = FormData(data)
        raw = self.result_fields_from_form(form, settings)
        put(raw, "confidence", form.integer("confidence"))
        raw["is_edge_case"] = form.flag("is_edge_case")
        raw["edge_case_note"] = form.get("edge_case_note") or ""
        return raw

    def result_fields_from_form(self, form: FormData, settings: dict[str, Any]) -> dict[str, Any]:
        """The type's own result fields from the form (the shared ones are read by the caller)."""
        raise NotImplementedError

    # Rendering -------------------------------------------------------------------------

    def settings_with_defaults(self, settings: dict[str, Any] | None) -> dict[str, Any]:
        """The project's settings with every default filled in (they are stored cleaned)."""
        return self.settings_model.model_validate(settings or {}).model_dump(mode="json")

    def template_context(
        self,
        *,
        task: dict[str, Any],
        settings: dict[str, Any] | None,
        result: dict[str, Any] | None = None,
        disabled: bool = False,
    ) -> dict[str, Any]:
        """The context both partials expect.

        ``fields`` holds what a template cannot work out itself: the choices of each
        question with the prefilled ones checked.
        """
        clean = self.settings_with_defaults(settings)
        return {
            "task_type": self,
            "task": task,
            "settings": clean,
            "result": result,
            "disabled": disabled,
            "fields": self.form_fields(task=task, settings=clean, result=result or {}),
        }

    def form_fields(
        self, *, task: dict[str, Any], settings: dict[str, Any], result: dict[str, Any]
    ) -> dict[str, Any]:
        """Choices for the answer form (override when the type has any)."""
        return {}

    def render_task(self, *, task: dict[str, Any], settings: dict[str, Any] | None) -> str:
        """The task as HTML (untrusted text is rendered through the markdown sanitizer)."""
        return render_to_string(
            self.task_template, self.template_context(task=task, settings=settings)
        )

    def render_form(
        self,
        *,
        task: dict[str, Any],
        settings: dict[str, Any] | None,
        result: dict[str, Any] | None = None,
        disabled: bool = False,
    ) -> str:
        """The answer inputs as HTML, prefilled with ``result``; wrap them in a form."""
        context = self.template_context(
            task=task, settings=settings, result=result, disabled=disabled
        )
        return render_to_string(self.form_template, context)

    # Quality and export ----------------------------------------------------------------

    def questions(self, settings: dict[str, Any]) -> list[Question]:
        """The answers agreement is measured on, each with its kind."""
        raise NotImplementedError

    def answers(self, result: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        """The value of each question in a result (keys as in ``questions``; None if unset)."""
        raise NotImplementedError

    def score_against_gold(
        self, result: dict[str, Any], gold: dict[str, Any], settings: dict[str, Any]
    ) -> float:
        """How well a result matches the gold answer, from 0.0 (wrong) to 1.0 (right)."""
        raise NotImplementedError

    def export_row(
        self, task: dict[str, Any], result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, Any]:
        """The training-ready row for one annotation (provenance is added by the exporter)."""
        raise NotImplementedError

    def example_input(self) -> dict[str, Any]:
        """A valid task, shown in the import help and the API docs."""
        raise NotImplementedError

    def example_result(self) -> dict[str, Any]:
        """A valid result for ``example_input`` with default settings."""
        raise NotImplementedError

    # Description -----------------------------------------------------------------------

    def input_json_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()

    def result_json_schema(self) -> dict[str, Any]:
        return self.result_model.model_json_schema()

    def settings_json_schema(self) -> dict[str, Any]:
        return self.settings_model.model_json_schema()
