"""The fit score: named components in [0, 1], their weights, and the fairness penalty.

Every weight and prior lives here. Components are computed for many experts at once (numpy
arrays, one entry per candidate of a project) and stored per invitation, so anyone can see
why an expert was invited: score = Σ weight × component.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Component:
    name: str
    label: str
    weight: float
    explanation: str


COMPONENTS: list[Component] = [
    Component(
        "qualification", "Qualification test", 0.20, "Best score on the domain's qualification test"
    ),
    Component(
        "gold_accuracy",
        "Gold accuracy",
        0.20,
        "Accuracy on gold tasks in the domain, starting from a neutral prior for newcomers",
    ),
    Component(
        "quality",
        "Quality score",
        0.15,
        "Quality score in the domain from reviews and agreement (neutral prior until known)",
    ),
    Component(
        "specialty", "Specialty match", 0.10, "Share of the project's specialties the expert has"
    ),
    Component("seniority", "Seniority", 0.10, "Seniority claimed in the domain"),
    Component(
        "experience", "Platform experience", 0.05, "Annotations delivered on the platform so far"
    ),
    Component("language", "Language level", 0.05, "Level in the project's languages"),
    Component(
        "rate", "Rate fit", 0.10, "The expert's hourly rate within what the project's price pays"
    ),
    Component(
        "deadline",
        "Time zone and deadline",
        0.05,
        "Hours the expert can give before the deadline ends in their time zone, against the "
        "seat's estimated hours",
    ),
]
WEIGHTS: dict[str, float] = {component.name: component.weight for component in COMPONENTS}
LABELS: dict[str, str] = {component.name: component.label for component in COMPONENTS}

# Newcomers start here; a record moves them away as gold results come in. The weight is how
# many gold tasks the prior counts for.
GOLD_PRIOR_MEAN = 0.8
GOLD_PRIOR_WEIGHT = 10.0
QUALITY_PRIOR = 0.75
# An expert who has not stated a rate: a little below a stated rate that fits.
UNKNOWN_RATE = 0.8
# Annotations after which experience counts fully (logarithmic on the way).
FULL_EXPERIENCE_ANNOTATIONS = 500
SENIORITY_VALUE: dict[str, float] = {"junior": 0.25, "mid": 0.5, "senior": 0.75, "principal": 1.0}
LANGUAGE_VALUE: dict[str, float] = {
    "A1": 0.1,
    "A2": 0.2,
    "B1": 0.4,
    "B2": 0.6,
    "C1": 0.8,
    "C2": 0.9,
    "native": 1.0,
}
# Fairness: each seat an expert already holds, or is given in the same run, lowers the value
# of the next one by this much (a convex cost in the flow). Between equally fit experts the
# one with fewer seats wins; a much better fit still wins over a small penalty.
FAIRNESS_PENALTY = 0.04


def gold_accuracy(scored: np.ndarray, score_sum: np.ndarray) -> np.ndarray:
    """Posterior mean accuracy with the neutral prior."""
    return (score_sum + GOLD_PRIOR_MEAN * GOLD_PRIOR_WEIGHT) / (scored + GOLD_PRIOR_WEIGHT)


def experience(annotations: np.ndarray) -> np.ndarray:
    return np.minimum(1.0, np.log1p(annotations) / math.log1p(FULL_EXPERIENCE_ANNOTATIONS))


def rate_fit(expert_rate_cents: np.ndarray, project_hourly_cents: float) -> np.ndarray:
    """1 when the project pays at least the expert's rate, falling as the rate exceeds it;
    ``nan`` rates (not stated) get UNKNOWN_RATE."""
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = np.minimum(1.0, project_hourly_cents / expert_rate_cents)
    fit = np.where(expert_rate_cents > 0, fit, 1.0)
    return np.where(np.isnan(expert_rate_cents), UNKNOWN_RATE, fit)


def deadline_fit(
    hours_to_deadline: np.ndarray | None, weekly_hours: float, seat_total_hours: float
) -> np.ndarray | float:
    """Share of the seat's work the expert can do before the deadline at the seat's pace."""
    if hours_to_deadline is None or seat_total_hours <= 0:
        return 1.0
    available = np.maximum(hours_to_deadline, 0.0) / (7 * 24) * weekly_hours
    return np.minimum(1.0, available / seat_total_hours)


def total(components: dict[str, np.ndarray]) -> np.ndarray:
    """The weighted sum: the fit score in [0, 1]."""
    score = np.zeros(len(next(iter(components.values()))))
    for name, value in components.items():
        score += WEIGHTS[name] * np.asarray(value, dtype=float)
    return score
