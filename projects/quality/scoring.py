"""The per-expert, per-domain quality score and the pause rule: every weight and prior here.

Each component is a posterior mean in [0, 1]: the evidence (a sum of per-answer scores over
``n`` answers) plus a prior worth ``prior_weight`` answers. A newcomer sits at the priors,
and a few answers move the score a little, not all the way: one bad gold answer out of two
does not halve anyone's score. The score is the weighted sum of the components.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    name: str
    label: str
    weight: float
    prior: float
    prior_weight: float
    explanation: str
    tip: str


COMPONENTS: list[Component] = [
    Component(
        "gold",
        "Gold accuracy",
        0.40,
        0.80,
        10,
        "Your average score on gold tasks (items whose answer the lab knows) in this domain.",
        "Re-read the guidelines and the lab's feedback on the gold items you missed; take "
        "more time on hard cases and use the edge-case flag when the guidelines do not say.",
    ),
    Component(
        "agreement",
        "Agreement with consensus",
        0.25,
        0.75,
        10,
        "How often your answer matches the consensus of the experts who answered the same "
        "item, weighted by how reliable each of them is.",
        "Check your answers against the guidelines' examples; when you disagree on purpose, "
        "say why in the rationale or flag the item as an edge case.",
    ),
    Component(
        "reviews",
        "Lab reviews",
        0.15,
        0.90,
        5,
        "The share of your reviewed answers the lab accepted.",
        "Read the feedback on rejected and sent-back answers; the lab explains what it wants.",
    ),
    Component(
        "calibration",
        "Calibration",
        0.10,
        0.75,
        10,
        "How well your stated confidence matches how often you are right on gold tasks "
        "(1 − expected calibration error).",
        "Use the confidence slider honestly: 90% should mean you would be wrong about one time "
        "in ten. Lower it on items you are unsure of rather than guessing high.",
    ),
    Component(
        "behaviour",
        "Working pattern",
        0.10,
        0.95,
        10,
        "The share of your answers without warning signs: far faster than other experts, "
        "the same answer many times in a row, or a written answer mostly pasted in.",
        "Give each item the time it needs, judge each one on its own, and write answers "
        "yourself (disclose any AI use the project allows).",
    ),
]
BY_NAME: dict[str, Component] = {component.name: component for component in COMPONENTS}

# The pause rule: after at least the project's minimum number of gold answers, an expert is
# paused when the posterior probability that their gold accuracy is below the project's
# minimum reaches PAUSE_CONFIDENCE (uniform Beta(1, 1) prior on the accuracy). A run of bad
# luck on a few items does not pause a good expert; a random clicker is caught quickly.
PAUSE_CONFIDENCE = 0.95


def posterior(component: Component, score_sum: float, n: int) -> float:
    """The component's posterior mean from ``n`` answers scoring ``score_sum`` in total."""
    return (score_sum + component.prior * component.prior_weight) / (n + component.prior_weight)


def quality_score(evidence: dict[str, tuple[float, int]]) -> tuple[float, dict[str, dict]]:
    """The score and its parts from {component: (score sum, answers)}; missing evidence
    counts as none (the prior)."""
    parts: dict[str, dict] = {}
    total = 0.0
    for component in COMPONENTS:
        score_sum, n = evidence.get(component.name, (0.0, 0))
        value = posterior(component, score_sum, n)
        parts[component.name] = {"value": round(value, 4), "n": int(n)}
        total += component.weight * value
    return round(total, 4), parts


def probability_below(threshold: float, score_sum: float, n: int) -> float:
    """Posterior probability that the true accuracy is below ``threshold``."""
    if n <= 0:
        return 0.0
    from scipy.stats import beta  # imported here: SciPy is large, and pages do not need it

    return float(beta.cdf(threshold, 1 + score_sum, 1 + n - score_sum))


def should_pause(*, score_sum: float, n: int, threshold: float, min_gold: int) -> bool:
    """Whether ``n`` gold answers scoring ``score_sum`` pause an expert on a project."""
    return n >= min_gold and probability_below(threshold, score_sum, n) >= PAUSE_CONFIDENCE
