"""Classification: choose the label (or labels) that fit an item of text."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from projects.task_types.base import (
    MAX_TEXT,
    FormData,
    Problem,
    Question,
    ResultBase,
    Strict,
    TaskInput,
    TaskType,
    choice_problems,
    option_list,
    overlap,
    unique_values,
)

LabelName = Annotated[str, Field(min_length=1, max_length=200)]
LabelSet = Annotated[list[LabelName], AfterValidator(unique_values)]
DEFAULT_LABELS = ["positive", "negative", "neutral"]


class ClassificationInput(TaskInput):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    # The labels to choose from for this item only, instead of the project's.
    label_set: LabelSet | None = Field(default=None, min_length=2, max_length=100)


class ClassificationSettings(Strict):
    labels: LabelSet = Field(
        default_factory=lambda: list(DEFAULT_LABELS), min_length=2, max_length=100
    )
    multi_label: bool = False


class ClassificationResult(ResultBase):
    labels: list[LabelName] = Field(min_length=1, max_length=100)


def _settings(settings: dict[str, Any]) -> ClassificationSettings:
    return ClassificationSettings.model_validate(settings or {})


def labels_for(task: dict[str, Any], settings: ClassificationSettings) -> list[str]:
    """The labels an expert chooses from: the task's own set if it has one."""
    return list(task.get("label_set") or settings.labels)


class Classification(TaskType):
    key: ClassVar[str] = "classification"
    label: ClassVar[str] = "Classification"
    description: ClassVar[str] = (
        "Choose the label that fits an item of text (or every label that fits, when the "
        "project allows several). Exports as (text, labels) rows."
    )
    input_model: ClassVar[type[TaskInput]] = ClassificationInput
    result_model: ClassVar[type[ResultBase]] = ClassificationResult
    settings_model: ClassVar[type[Strict]] = ClassificationSettings
    task_template: ClassVar[str] = "projects/task_types/classification_task.html"
    form_template: ClassVar[str] = "projects/task_types/classification_form.html"
    base_rate_cents: ClassVar[int] = 150
    typical_minutes: ClassVar[int] = 2

    def check_result(
        self, result: Any, *, task: dict[str, Any], settings: dict[str, Any]
    ) -> list[Problem]:
        rules = _settings(settings)
        allowed = set(labels_for(task, rules))
        problems: list[Problem] = []
        if not rules.multi_label and len(result.labels) > 1:
            problems.append(Problem(field="labels", problem="Choose exactly one label."))
        problems.extend(
            choice_problems("labels", result.labels, allowed, "Not a label of this task.")
        )
        return problems

    def questions(self, settings: dict[str, Any]) -> list[Question]:
        rules = _settings(settings)
        if not rules.multi_label:
            return [Question(key="label", label="Label", kind="nominal")]
        return [Question(key=f"labels.{name}", label=name, kind="nominal") for name in rules.labels]

    def answers(self, result: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        rules = _settings(settings)
        chosen = result.get("labels", [])
        if not rules.multi_label:
            return {"label": chosen[0] if chosen else None}
        return {f"labels.{name}": name in chosen for name in rules.labels}

    def score_against_gold(
        self, result: dict[str, Any], gold: dict[str, Any], settings: dict[str, Any]
    ) -> float:
        given, expected = set(result.get("labels", [])), set(gold.get("labels", []))
        if not _settings(settings).multi_label:
            return 1.0 if given == expected else 0.0
        return overlap(given, expected)

    def export_row(
        self, task: dict[str, Any], result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, Any]:
        rules = _settings(settings)
        return {
            "text": task["text"],
            "label": None if rules.multi_label else result["labels"][0],
            "labels": result["labels"],
            "label_set": labels_for(task, rules),
        }

    def result_fields_from_form(self, form: FormData, settings: dict[str, Any]) -> dict[str, Any]:
        return {"labels": [name for name in form.getlist("labels") if name]}

    def form_fields(
        self, *, task: dict[str, Any], settings: dict[str, Any], result: dict[str, Any]
    ) -> dict[str, Any]:
        rules = _settings(settings)
        chosen = result.get("labels")
        return {
            "multi_label": rules.multi_label,
            "labels": option_list(
                labels_for(task, rules), chosen if isinstance(chosen, list) else []
            ),
        }

    def example_input(self) -> dict[str, Any]:
        return {
            "text": "The update fixed the crash, but the app now takes twice as long to open.",
        }

    def example_result(self) -> dict[str, Any]:
        return {"labels": ["neutral"], "confidence": 70}
