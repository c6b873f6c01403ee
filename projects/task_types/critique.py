"""Critique and correction: quote each error in a response, rate it, and fix the response."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from projects.task_types.base import (
    MAX_SHORT_TEXT,
    MAX_TEXT,
    FormData,
    Problem,
    Question,
    ResultBase,
    Strict,
    TaskInput,
    TaskType,
    Turn,
    option_list,
    token_f1,
    unique_values,
)

DEFAULT_SEVERITIES = ["minor", "major", "critical"]
MAX_ERRORS = 50
# Empty rows the answer form offers below the errors already written.
BLANK_ERROR_ROWS = 3

SeverityName = Annotated[str, Field(min_length=1, max_length=40)]


class CritiqueInput(TaskInput):
    prompt: str = Field(min_length=1, max_length=MAX_TEXT)
    history: list[Turn] = Field(default_factory=list, max_length=100)
    response: str = Field(min_length=1, max_length=MAX_TEXT)


class CritiqueSettings(Strict):
    # From the least to the most severe: agreement treats them as an ordered scale.
    severities: Annotated[list[SeverityName], AfterValidator(unique_values)] = Field(
        default_factory=lambda: list(DEFAULT_SEVERITIES), min_length=1, max_length=10
    )
    require_correction: bool = True


class CritiqueError(Strict):
    quote: str = Field(min_length=1, max_length=MAX_SHORT_TEXT)
    severity: str = Field(min_length=1, max_length=40)
    explanation: str = Field(min_length=1, max_length=MAX_SHORT_TEXT * 2)


class CritiqueResult(ResultBase):
    errors: list[CritiqueError] = Field(default_factory=list, max_length=MAX_ERRORS)
    corrected_response: str = Field(default="", max_length=MAX_TEXT)


def _settings(settings: dict[str, Any]) -> CritiqueSettings:
    return CritiqueSettings.model_validate(settings or {})


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def max_severity_level(errors: list[dict[str, Any]], severities: list[str]) -> int:
    """0 when there are no errors, else 1 + the position of the worst severity used."""
    levels = [severities.index(e["severity"]) + 1 for e in errors if e["severity"] in severities]
    return max(levels, default=0)


class Critique(TaskType):
    key: ClassVar[str] = "critique"
    label: ClassVar[str] = "Critique and correction"
    description: ClassVar[str] = (
        "Find the errors in a model response: quote each one exactly, rate its severity and "
        "explain it, then write the corrected response. Exports the critique with the "
        "correction as the chosen response."
    )
    input_model: ClassVar[type[TaskInput]] = CritiqueInput
    result_model: ClassVar[type[ResultBase]] = CritiqueResult
    settings_model: ClassVar[type[Strict]] = CritiqueSettings
    task_template: ClassVar[str] = "projects/task_types/critique_task.html"
    form_template: ClassVar[str] = "projects/task_types/critique_form.html"
    base_rate_cents: ClassVar[int] = 1000
    typical_minutes: ClassVar[int] = 20
    written_field: ClassVar[str | None] = "corrected_response"

    def check_result(
        self, result: Any, *, task: dict[str, Any], settings: dict[str, Any]
    ) -> list[Problem]:
        rules = _settings(settings)
        # Quotes must be taken from the response; runs of whitespace may differ (a line
        # break in the source reads as a space once rendered and copied).
        response = _collapsed(task.get("response", ""))
        problems: list[Problem] = []
        for index, error in enumerate(result.errors):
            if _collapsed(error.quote) not in response:
                problems.append(
                    Problem(
                        field=f"errors.{index}.quote",
                        problem="Copy the text exactly from the response; this does not occur "
                        "in it.",
                    )
                )
            if error.severity not in rules.severities:
                problems.append(
                    Problem(
                        field=f"errors.{index}.severity",
                        problem=f"Choose one of: {', '.join(rules.severities)}.",
                    )
                )
        if rules.require_correction and result.errors and not result.corrected_response:
            problems.append(
                Problem(field="corrected_response", problem="Write the corrected response.")
            )
        return problems

    def questions(self, settings: dict[str, Any]) -> list[Question]:
        return [
            Question(key="has_errors", label="Has errors", kind="nominal"),
            Question(key="max_severity", label="Most severe error", kind="ordinal"),
            Question(key="error_count", label="Number of errors", kind="interval"),
        ]

    def answers(self, result: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        errors = result.get("errors", [])
        return {
            "has_errors": bool(errors),
            "max_severity": max_severity_level(errors, _settings(settings).severities),
            "error_count": len(errors),
        }

    def score_against_gold(
        self, result: dict[str, Any], gold: dict[str, Any], settings: dict[str, Any]
    ) -> float:
        """Half for the worst severity (closeness on the scale, "no errors" at its bottom),
        half for flagging the same text (token F1 of all quotes together)."""
        severities = _settings(settings).severities
        given, expected = result.get("errors", []), gold.get("errors", [])
        severity = 1.0 - abs(
            max_severity_level(given, severities) - max_severity_level(expected, severities)
        ) / len(severities)
        quotes = token_f1(
            " ".join(error["quote"] for error in given),
            " ".join(error["quote"] for error in expected),
        )
        return (severity + quotes) / 2

    def export_row(
        self, task: dict[str, Any], result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, Any]:
        errors = result.get("errors", [])
        severities = _settings(settings).severities
        level = max_severity_level(errors, severities)
        corrected = result.get("corrected_response", "")
        improved = bool(errors and corrected and corrected != task["response"])
        return {
            "prompt": task["prompt"],
            "history": task.get("history", []),
            "response": task["response"],
            "errors": errors,
            "max_severity": severities[level - 1] if level else None,
            "corrected_response": corrected,
            "chosen": corrected if improved else None,
            "rejected": task["response"] if improved else None,
        }

    def result_fields_from_form(self, form: FormData, settings: dict[str, Any]) -> dict[str, Any]:
        indexes = sorted(
            {
                int(name.split(".", 1)[0])
                for name in form.prefixed("errors.")
                if name.split(".", 1)[0].isdigit()
            }
        )
        errors = []
        for index in indexes:
            row = {
                part: form.get(f"errors.{index}.{part}") or ""
                for part in ("quote", "severity", "explanation")
            }
            if any(value.strip() for value in row.values()):  # blank rows are spare
                errors.append(row)
        return {"errors": errors, "corrected_response": form.get("corrected_response") or ""}

    def form_fields(
        self, *, task: dict[str, Any], settings: dict[str, Any], result: dict[str, Any]
    ) -> dict[str, Any]:
        severities = _settings(settings).severities
        written = result.get("errors")
        written = [e for e in written if isinstance(e, dict)] if isinstance(written, list) else []
        blank = max(0, min(BLANK_ERROR_ROWS, MAX_ERRORS - len(written)))
        return {
            "rows": [
                {
                    "index": index,
                    "quote": error.get("quote", ""),
                    "explanation": error.get("explanation", ""),
                    "severities": option_list(severities, error.get("severity")),
                }
                for index, error in enumerate([*written, *({} for _ in range(blank))])
            ]
        }

    def example_input(self) -> dict[str, Any]:
        return {
            "prompt": "What is the boiling point of water at the top of Mount Everest?",
            "response": "Water always boils at 100 °C, so it is the same on Everest. "
            "Climbers cook pasta there just as fast as at sea level.",
        }

    def example_result(self) -> dict[str, Any]:
        return {
            "errors": [
                {
                    "quote": "Water always boils at 100 °C",
                    "severity": "critical",
                    "explanation": "The boiling point falls with air pressure: about 70 °C "
                    "at the summit.",
                },
                {
                    "quote": "Climbers cook pasta there just as fast as at sea level.",
                    "severity": "major",
                    "explanation": "Cooler boiling water cooks food much more slowly.",
                },
            ],
            "corrected_response": "At the summit of Everest the air pressure is about a third "
            "of sea level, so water boils at roughly 70 °C. Food cooks much more slowly there, "
            "which is why climbers use pressure cookers.",
            "confidence": 90,
        }
