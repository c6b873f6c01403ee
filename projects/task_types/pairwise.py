"""Pairwise preference: which of two responses is better, on a 5-point scale (RLHF / DPO)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

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
    option_list,
    put,
)

Preference = Literal["a_much_better", "a_better", "tie", "b_better", "b_much_better"]
# The scale as numbers: negative favours A, positive favours B.
PREFERENCE_SCALE: dict[str, int] = {
    "a_much_better": -2,
    "a_better": -1,
    "tie": 0,
    "b_better": 1,
    "b_much_better": 2,
}
PREFERENCE_LABELS: dict[str, str] = {
    "a_much_better": "A is much better",
    "a_better": "A is better",
    "tie": "About the same",
    "b_better": "B is better",
    "b_much_better": "B is much better",
}


class PairwiseInput(TaskInput):
    prompt: str = Field(min_length=1, max_length=MAX_TEXT)
    history: list[Turn] = Field(default_factory=list, max_length=100)
    response_a: str = Field(min_length=1, max_length=MAX_TEXT)
    response_b: str = Field(min_length=1, max_length=MAX_TEXT)


class PairwiseSettings(Strict):
    criteria: list[str] = Field(default_factory=list, max_length=10)
    require_rationale: bool = True


class PairwiseResult(ResultBase):
    preference: Preference
    criteria: dict[str, Preference] = Field(default_factory=dict)
    rationale: str = Field(default="", max_length=MAX_SHORT_TEXT * 5)


class PairwisePreference(TaskType):
    key: ClassVar[str] = "pairwise"
    label: ClassVar[str] = "Pairwise preference"
    description: ClassVar[str] = (
        "Compare two model responses to the same prompt on a 5-point scale, optionally per "
        "criterion, and explain why. Exports as DPO rows (prompt, chosen, rejected)."
    )
    input_model: ClassVar[type[TaskInput]] = PairwiseInput
    result_model: ClassVar[type[ResultBase]] = PairwiseResult
    settings_model: ClassVar[type[Strict]] = PairwiseSettings
    task_template: ClassVar[str] = "projects/task_types/pairwise_task.html"
    form_template: ClassVar[str] = "projects/task_types/pairwise_form.html"
    base_rate_cents: ClassVar[int] = 400
    typical_minutes: ClassVar[int] = 6

    def check_result(
        self, result: Any, *, task: dict[str, Any], settings: dict[str, Any]
    ) -> list[Problem]:
        problems: list[Problem] = []
        allowed = set(settings.get("criteria", []))
        problems.extend(
            Problem(field=f"criteria.{name}", problem="Not a criterion of this project.")
            for name in result.criteria
            if name not in allowed
        )
        if settings.get("require_rationale", True) and not result.rationale:
            problems.append(Problem(field="rationale", problem="Explain your preference."))
        return problems

    def questions(self, settings: dict[str, Any]) -> list[Question]:
        return [
            Question(key="preference", label="Overall preference", kind="ordinal"),
            *(
                Question(key=f"criteria.{name}", label=name, kind="ordinal")
                for name in settings.get("criteria", [])
            ),
        ]

    def answers(self, result: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {"preference": PREFERENCE_SCALE[result["preference"]]}
        for name in settings.get("criteria", []):
            choice = result.get("criteria", {}).get(name)
            values[f"criteria.{name}"] = PREFERENCE_SCALE[choice] if choice else None
        return values

    def score_against_gold(
        self, result: dict[str, Any], gold: dict[str, Any], settings: dict[str, Any]
    ) -> float:
        given = PREFERENCE_SCALE[result["preference"]]
        expected = PREFERENCE_SCALE[gold["preference"]]
        if given * expected < 0:  # preferred the other response
            return 0.0
        return 1.0 - abs(given - expected) / 4

    def export_row(
        self, task: dict[str, Any], result: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, Any]:
        score = PREFERENCE_SCALE[result["preference"]]
        chosen, rejected = (
            (task["response_a"], task["response_b"])
            if score < 0
            else (task["response_b"], task["response_a"])
            if score > 0
            else (None, None)
        )
        return {
            "prompt": task["prompt"],
            "history": task.get("history", []),
            "chosen": chosen,
            "rejected": rejected,
            "response_a": task["response_a"],
            "response_b": task["response_b"],
            "preference": result["preference"],
            "margin": abs(score),
            "criteria": result.get("criteria", {}),
            "rationale": result.get("rationale", ""),
        }

    def result_fields_from_form(self, form: FormData, settings: dict[str, Any]) -> dict[str, Any]:
        raw: dict[str, Any] = {"rationale": form.get("rationale") or ""}
        put(raw, "preference", form.get("preference") or None)
        criteria = {}
        for name in form.prefixed("criteria."):
            choice = form.get(f"criteria.{name}")
            if choice:
                criteria[name] = choice
        raw["criteria"] = criteria
        return raw

    def form_fields(
        self, *, task: dict[str, Any], settings: dict[str, Any], result: dict[str, Any]
    ) -> dict[str, Any]:
        chosen = result.get("criteria")
        chosen = chosen if isinstance(chosen, dict) else {}
        return {
            "preference": option_list(
                list(PREFERENCE_LABELS), result.get("preference"), PREFERENCE_LABELS
            ),
            "criteria": [
                {
                    "name": name,
                    "options": option_list(
                        list(PREFERENCE_LABELS), chosen.get(name), PREFERENCE_LABELS
                    ),
                }
                for name in settings.get("criteria", [])
            ],
        }

    def example_input(self) -> dict[str, Any]:
        return {
            "prompt": "Is it safe to take ibuprofen with lisinopril?",
            "response_a": "Occasional use is usually fine, but NSAIDs can blunt the effect "
            "of ACE inhibitors and strain the kidneys; check with your doctor.",
            "response_b": "Yes, there is no interaction.",
        }

    def example_result(self) -> dict[str, Any]:
        return {
            "preference": "a_much_better",
            "rationale": "B misses a well-documented interaction.",
            "confidence": 90,
        }
