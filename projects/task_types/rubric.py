"""Rubric rating: score one response on each criterion of the project's rubric, then overall."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

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
    put,
)

# The widest scale a criterion may have: each point is a radio button.
MAX_SCALE_POINTS = 11


def _scale_max_above_min(value: int, info: ValidationInfo, minimum_field: str) -> int:
    minimum = info.data.get(minimum_field)
    if minimum is None:
        return value
    if value <= minimum:
        raise PydanticCustomError(
            "scale",
            "Must be greater than {field} ({minimum}).",
            {"field": minimum_field, "minimum": minimum},
        )
    if value - minimum + 1 > MAX_SCALE_POINTS:
        raise PydanticCustomError(
            "scale", "A scale has at most {points} points.", {"points": MAX_SCALE_POINTS}
        )
    return value


class Criterion(Strict):
    key: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=MAX_SHORT_TEXT)
    scale_min: int = Field(default=1, ge=0, le=100)
    scale_max: int = Field(default=5, ge=1, le=100, validate_default=True)

    @field_validator("scale_max")
    @classmethod
    def _scale(cls, value: int, info: ValidationInfo) -> int:
        return _scale_max_above_min(value, info, "scale_min")


def _unique_keys(criteria: list[Criterion]) -> list[Criterion]:
    seen: set[str] = set()
    for criterion in criteria:
        if criterion.key in seen:
            raise PydanticCustomError(
                "unique", "The key “{key}” appears twice.", {"key": criterion.key}
            )
        seen.add(criterion.key)
    return criteria


DEFAULT_CRITERIA = [
    Criterion(
        key="accuracy",
        label="Accuracy",
        description="Facts, reasoning and any code are correct.",
    ),
    Criterion(
        key="completeness",
        label="Completeness",
        description="Answers every part of the request at the depth it needs.",
    ),
    Criterion(
        key="clarity",
        label="Clarity",
        description="Well organised and easy to follow for the intended reader.",
    ),
]


class RubricInput(TaskInput):
    prompt: str = Field(min_length=1, max_length=MAX_TEXT)
    history: list[Turn] = Field(default_factory=list, max_length=100)
    response: str = Field(min_length=1, max_length=MAX_TEXT)


class RubricSettings(Strict):
    criteria: Annotated[list[Criterion], AfterValidator(_unique_keys)] = Field(
        default_factory=lambda: [criterion.model_copy() for criterion in DEFAULT_CRITERIA],
        min_length=1,
        max_length=20,
    )
    overall_min: int = Field(default=1, ge=0, le=100)
    overall_max: int = Field(default=5, ge=1, le=100, validate_default=True)
    require_rationale: bool = True

    @field_validator("overall_max")
    @classmethod
    def _overall_scale(cls, value: int, info: ValidationInfo) -> int:
        return _scale_max_above_min(value, info, "overall_min")


class RubricResult(ResultBase):
    scores: dict[str, int] = Field(max_length=20)
    overall: int
    rationale: str = Field(default="", max_length=MAX_SHORT_TEXT * 5)


def _settings(settings: dict[str, Any]) -> RubricSettings:
    return RubricSettings.model_validate(settings or {})


def _closeness(given: Any, expected: int, low: int, high: int) -> float:
    """1.0 for the same score, falling linearly to 0.0 across the whole scale."""
    if not isinstance(given, int):
        return 0.0
    return max(0.0, 1.0 - abs(given - expected) / (high - low))


class RubricRating(TaskType):
    key: ClassVar[str] = "rubric"
    label: ClassVar[str] = "Rubric rating"
    description: ClassVar[str] = (
        "Score one model response on each criterion of the project's rubric and overall, "
        "and explain the scores. Exports as reward-model rows (prompt, response, scores)."
    )
    input_model: ClassVar[type[TaskInput]] = RubricInput
    result_model: ClassVar[type[ResultBase]] = RubricResult
    settings_model: ClassVar[type[Strict]] = RubricSettings
    task_template: ClassVar[str] = "projects/task_types/rubric_task.html"
    form_template: ClassVar[str] = "projects/task_types/rubric_form.html"
    base_rate_cents: ClassVar[int] = 500
    typical_minutes: ClassVar[int] = 8

    def check_result(
        self, result: Any, *, task: dict[str, Any], settings: dict[str, Any]
    ) -> list[Problem]:
        rubric = _settings(settings)
        problems: list[Problem] = []
        known = {criterion.key for criterion in rubric.criteria}
        problems.extend(
            Problem(field=f"scores.{key}", problem="Not a criterion of this project.")
            for key in result.scores
            if key not in known
        )
        for criterion in rubric.criteria:
            score = result.scores.get(criterion.key)
            if score is None:
                problems.append(
                    Problem(field=f"scores.{criterion.key}", problem="Score this criterion.")
                )
            elif not criterion.scale_min <= score <= criterion.scale_max:
                problems.append(
                    Problem(
                        field=f"scores.{criterion.key}",
                        problem=f"Must be from {criterion.scale_min} to {criterion.scale_max}.",
                    )
                )
        if not rubric.overall_min <= result.overall <= rubric.overall_max:
            problems.append(
                Problem(
                    field="overall",
                    problem=f"Must be from {rubric.overall_min} to {rubric.overall_max}.",
                )
            )
        if rubric.require_rationale and not result.rationale:
            problems.append(Problem(field="rationale", problem="Explain your scores."))
        return problems

    def questions(self, settings: dict[str, Any]) -> list[Question]:
        return [
            *(
                Question(key=f"scores.{criterion.key}", label=criterion.label, kind="interval")
                for criterion in _settings(settings).criteria
            ),
            Question(key="overall", label="Overall score", kind="interval"),
        ]

    def answers(self, result: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        scores = result.get("scores", {})
        values: dict[str, Any] = {
            f"scores.{criterion.key}": scores.get(criterion.key)
            for criterion in _settings(settings).criteria
        }
        values["overall"] = result.get("overall")
        return values

    def score_against_gold(
        self, result: dict[str, Any], gold: dict[str, Any], settings: dict[str, Any]
    ) -> float:
        rubric = _settings(settings)
        given, expected = result.get("scores", {}), gold.get("scores", {})
        parts = [
            _closeness(
                given.get(criterion.key),
                expected[criterion.key],
                criterion.scale_min,
                criterion.scale_max,
            )
            for criterion in rubric.criteria
            if expected.get(criterion.key) is not None
        ]
        if gold.get("overall") is not None:
            parts.append(
                _closeness(
                    result.get("overall"), gold["overall"], rubric.overall_min, rubric.overall_max
                )
            )
        return sum(parts) / len(parts) if parts else 0.0

    def export_row(
        self, task: dict[str, Any], result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, Any]:
        rubric = _settings(settings)
        return {
            "prompt": task["prompt"],
            "history": task.get("history", []),
            "response": task["response"],
            "scores": result.get("scores", {}),
            "overall": result["overall"],
            "rationale": result.get("rationale", ""),
            "scales": {
                **{
                    criterion.key: [criterion.scale_min, criterion.scale_max]
                    for criterion in rubric.criteria
                },
                "overall": [rubric.overall_min, rubric.overall_max],
            },
        }

    def result_fields_from_form(self, form: FormData, settings: dict[str, Any]) -> dict[str, Any]:
        raw: dict[str, Any] = {"rationale": form.get("rationale") or ""}
        scores = {}
        for key in form.prefixed("scores."):
            score = form.integer(f"scores.{key}")
            if score is not None:
                scores[key] = score
        raw["scores"] = scores
        put(raw, "overall", form.integer("overall"))
        return raw

    def form_fields(
        self, *, task: dict[str, Any], settings: dict[str, Any], result: dict[str, Any]
    ) -> dict[str, Any]:
        rubric = _settings(settings)
        scores = result.get("scores")
        scores = scores if isinstance(scores, dict) else {}
        return {
            "criteria": [
                {
                    "key": criterion.key,
                    "label": criterion.label,
                    "description": criterion.description,
                    "scale_min": criterion.scale_min,
                    "scale_max": criterion.scale_max,
                    "options": option_list(
                        list(range(criterion.scale_min, criterion.scale_max + 1)),
                        scores.get(criterion.key),
                    ),
                }
                for criterion in rubric.criteria
            ],
            "overall": option_list(
                list(range(rubric.overall_min, rubric.overall_max + 1)), result.get("overall")
            ),
        }

    def example_input(self) -> dict[str, Any]:
        return {
            "prompt": "Explain why the sky is blue to a ten-year-old.",
            "response": "Sunlight has every colour in it. Tiny bits of air bounce blue light "
            "around much more than red light, so blue reaches your eyes from all over the sky.",
        }

    def example_result(self) -> dict[str, Any]:
        return {
            "scores": {"accuracy": 5, "completeness": 4, "clarity": 5},
            "overall": 5,
            "rationale": "Correct and pitched at the right level; it could mention sunsets.",
            "confidence": 85,
        }
