"""Demonstration: the expert writes the ideal answer to a prompt (supervised fine-tuning)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field

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
    put,
    token_f1,
)

# A fenced code block opens with three backticks or tildes, indented at most three spaces.
CODE_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


class DemonstrationInput(TaskInput):
    prompt: str = Field(min_length=1, max_length=MAX_TEXT)
    history: list[Turn] = Field(default_factory=list, max_length=100)
    # Reference material the answer may draw on (a document, a case file, an API page).
    context: str = Field(default="", max_length=MAX_TEXT)


class DemonstrationSettings(Strict):
    min_answer_chars: int = Field(default=100, ge=1, le=20_000)
    allow_code: bool = True


class DemonstrationResult(ResultBase):
    answer: str = Field(min_length=1, max_length=MAX_TEXT)
    notes: str = Field(default="", max_length=MAX_SHORT_TEXT * 5)


def _settings(settings: dict[str, Any]) -> DemonstrationSettings:
    return DemonstrationSettings.model_validate(settings or {})


class Demonstration(TaskType):
    key: ClassVar[str] = "demonstration"
    label: ClassVar[str] = "Demonstration (solution authoring)"
    description: ClassVar[str] = (
        "Write the answer an expert would give to a prompt, in markdown with code blocks "
        "where useful, with notes on sources or assumptions. Exports as SFT rows "
        "(prompt, history, completion)."
    )
    input_model: ClassVar[type[TaskInput]] = DemonstrationInput
    result_model: ClassVar[type[ResultBase]] = DemonstrationResult
    settings_model: ClassVar[type[Strict]] = DemonstrationSettings
    task_template: ClassVar[str] = "projects/task_types/demonstration_task.html"
    form_template: ClassVar[str] = "projects/task_types/demonstration_form.html"
    base_rate_cents: ClassVar[int] = 1500
    typical_minutes: ClassVar[int] = 25
    gold_grading: ClassVar[str] = "graded"
    written_field: ClassVar[str | None] = "answer"

    def check_result(
        self, result: Any, *, task: dict[str, Any], settings: dict[str, Any]
    ) -> list[Problem]:
        rules = _settings(settings)
        problems: list[Problem] = []
        if len(result.answer) < rules.min_answer_chars:
            problems.append(
                Problem(
                    field="answer",
                    problem=f"Write at least {rules.min_answer_chars} characters "
                    f"(this answer has {len(result.answer)}).",
                )
            )
        if not rules.allow_code and CODE_FENCE.search(result.answer):
            problems.append(
                Problem(field="answer", problem="This project does not accept code blocks.")
            )
        return problems

    def questions(self, settings: dict[str, Any]) -> list[Question]:
        # Free-text answers have no categorical value to measure agreement on.
        return []

    def answers(self, result: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        return {}

    def score_against_gold(
        self, result: dict[str, Any], gold: dict[str, Any], settings: dict[str, Any]
    ) -> float:
        return token_f1(result.get("answer", ""), gold.get("answer", ""))

    def export_row(
        self, task: dict[str, Any], result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, Any]:
        history = task.get("history", [])
        return {
            "prompt": task["prompt"],
            "history": history,
            "context": task.get("context", ""),
            "completion": result["answer"],
            "notes": result.get("notes", ""),
            "messages": [
                *history,
                {"role": "user", "content": task["prompt"]},
                {"role": "assistant", "content": result["answer"]},
            ],
        }

    def result_fields_from_form(self, form: FormData, settings: dict[str, Any]) -> dict[str, Any]:
        raw: dict[str, Any] = {"notes": form.get("notes") or ""}
        put(raw, "answer", form.get("answer"))
        return raw

    def example_input(self) -> dict[str, Any]:
        return {
            "prompt": "Write a Python function that returns the median of a list of numbers.",
            "context": "The team targets Python 3.11 and avoids third-party packages.",
        }

    def example_result(self) -> dict[str, Any]:
        return {
            "answer": "Sort a copy, then take the middle value (or the mean of the two middle "
            "values when the length is even):\n\n"
            "```python\n"
            "def median(values: list[float]) -> float:\n"
            "    if not values:\n"
            '        raise ValueError("median of an empty list")\n'
            "    ordered = sorted(values)\n"
            "    middle = len(ordered) // 2\n"
            "    if len(ordered) % 2:\n"
            "        return ordered[middle]\n"
            "    return (ordered[middle - 1] + ordered[middle]) / 2\n"
            "```\n\n"
            "The standard library's `statistics.median` does the same.",
            "notes": "Raises on an empty list rather than returning None.",
            "confidence": 95,
        }
