"""The task-type registry: one class per type (DESIGN.md, flow 3)."""

from __future__ import annotations

from marketplace.errors import InvalidInput
from projects.task_types.base import Problem, Question, TaskType
from projects.task_types.classification import Classification
from projects.task_types.critique import Critique
from projects.task_types.demonstration import Demonstration
from projects.task_types.pairwise import PairwisePreference
from projects.task_types.rubric import RubricRating
from projects.task_types.safety import SafetyEvaluation

REGISTRY: dict[str, TaskType] = {
    task_type.key: task_type
    for task_type in (
        PairwisePreference(),
        RubricRating(),
        Demonstration(),
        Critique(),
        SafetyEvaluation(),
        Classification(),
    )
}
TASK_TYPE_CHOICES = [(key, task_type.label) for key, task_type in REGISTRY.items()]


def task_type_for(key: str) -> TaskType:
    """Return the registered type, or raise InvalidInput naming the field."""
    try:
        return REGISTRY[key]
    except KeyError:
        raise InvalidInput(f"Unknown task type “{key}”.", field="task_type") from None


__all__ = ["REGISTRY", "TASK_TYPE_CHOICES", "Problem", "Question", "TaskType", "task_type_for"]
