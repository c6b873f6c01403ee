"""The quality measures as array functions: no database, so they are easy to test against
hand-computed and reference values and fast on a 100,000-item project.

Answers arrive as parallel arrays, one entry per annotation: ``items`` (0..n_items-1),
``experts`` (0..n_experts-1) and ``codes`` (0..n_values-1, the position of the answer in
the question's ordered value domain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from projects.task_types.base import AgreementKind

# Dawid-Skene: EM stops when the items' posteriors move by less than this on average, or
# after DS_MAX_ITER rounds.
DS_TOLERANCE = 1e-5
DS_MAX_ITER = 100
# Added to every confusion count, so a value an expert never gave is unlikely, not impossible.
DS_SMOOTHING = 0.01
CALIBRATION_BINS = 10


def value_counts(items: np.ndarray, codes: np.ndarray, n_items: int, n_values: int) -> np.ndarray:
    """How many answers of each value each item received: an (n_items, n_values) matrix."""
    counts = np.bincount(items * n_values + codes, minlength=n_items * n_values)
    return counts.reshape(n_items, n_values)


def alpha(
    counts: np.ndarray, level: AgreementKind, domain: np.ndarray | None = None
) -> float | None:
    """Krippendorff's alpha of the question at its level of measurement.

    ``counts`` is the items × values matrix; ``domain`` the numeric value of each column
    (ordinal and interval levels). Items with fewer than two answers carry no information
    and are left out; None when nothing is left or every answer is the same value (alpha is
    undefined without variation).
    """
    paired = counts[counts.sum(axis=1) >= 2]
    if len(paired) == 0 or np.count_nonzero(paired.sum(axis=0)) < 2:
        return None
    values = np.arange(counts.shape[1]) if domain is None else np.asarray(domain, dtype=float)
    import krippendorff  # imported here: only quality runs need it

    return float(
        krippendorff.alpha(value_counts=paired, value_domain=values, level_of_measurement=level)
    )


def pairwise_agreement(counts: np.ndarray) -> float | None:
    """The share of pairs of answers to the same item that are equal, over all items."""
    totals = counts.sum(axis=1)
    pairs = (totals * (totals - 1)).sum()
    if pairs == 0:
        return None
    return float((counts * (counts - 1)).sum() / pairs)


def item_agreement(counts: np.ndarray) -> np.ndarray:
    """Each item's share of agreeing pairs (nan for items with fewer than two answers)."""
    totals = counts.sum(axis=1).astype(float)
    pairs = totals * (totals - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, (counts * (counts - 1)).sum(axis=1) / pairs, np.nan)


def peer_agreement(items: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For each answer, the share of the other answers to its item that equal it (nan when
    the item has no other answer)."""
    same = counts[items, codes] - 1
    others = counts.sum(axis=1)[items] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(others > 0, same / others, np.nan)


def pairwise_expert_agreement(
    items: np.ndarray, experts: np.ndarray, codes: np.ndarray
) -> dict[tuple[int, int], tuple[int, int]]:
    """For every pair of experts (low, high) who answered the same items: (items in common,
    items they agreed on)."""
    order = np.lexsort((experts, items))
    items, experts, codes = items[order], experts[order], codes[order]
    pairs: dict[tuple[int, int], list[int]] = {}
    starts = np.flatnonzero(np.r_[True, items[1:] != items[:-1]])
    ends = np.r_[starts[1:], len(items)]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        for left in range(start, end):
            for right in range(left + 1, end):
                key = (int(experts[left]), int(experts[right]))
                tally = pairs.setdefault(key, [0, 0])
                tally[0] += 1
                tally[1] += int(codes[left] == codes[right])
    return {key: (shared, agreed) for key, (shared, agreed) in pairs.items()}


def majority_vote(
    counts: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The most common value of each item and its share of the answers (ties go to the
    lower code). ``weights`` are per-item value weights when the votes are weighted."""
    tally = counts if weights is None else weights
    winners = tally.argmax(axis=1)
    totals = tally.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(totals > 0, tally[np.arange(len(tally)), winners] / totals, np.nan)
    return winners, share


@dataclass(frozen=True)
class Consensus:
    """The reliability-weighted consensus of one question."""

    labels: np.ndarray  # per item: the most probable code
    confidence: np.ndarray  # per item: its posterior probability
    posteriors: np.ndarray  # (n_items, n_values)
    reliability: np.ndarray  # per expert: estimated probability of a correct answer
    iterations: int


def dawid_skene(
    items: np.ndarray,
    experts: np.ndarray,
    codes: np.ndarray,
    *,
    n_items: int,
    n_experts: int,
    n_values: int,
    tolerance: float = DS_TOLERANCE,
    max_iter: int = DS_MAX_ITER,
    diagonal_prior: float = 0.0,
) -> Consensus:
    """Dawid and Skene's (1979) model: each expert has a confusion matrix (the probability of
    answering l when the truth is k), fitted with EM together with the items' posteriors.

    Starts from the majority vote, as the original paper and crowd-kit do; the tests check
    its labels and posteriors against crowd-kit's ``DawidSkene``.
    """
    counts = value_counts(items, codes, n_items, n_values).astype(float)
    totals = counts.sum(axis=1, keepdims=True)
    posteriors = np.divide(counts, totals, out=np.full_like(counts, 1 / n_values), where=totals > 0)
    pair_index = experts * n_values + codes
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - reported below
        # M step: class priors and each expert's confusion matrix from the posteriors.
        priors = posteriors.mean(axis=0)
        confusion = np.empty((n_experts, n_values, n_values))
        for truth in range(n_values):
            confusion[:, truth, :] = np.bincount(
                pair_index, weights=posteriors[items, truth], minlength=n_experts * n_values
            ).reshape(n_experts, n_values)
        confusion += DS_SMOOTHING
        confusion[:, np.arange(n_values), np.arange(n_values)] += diagonal_prior
        confusion /= confusion.sum(axis=2, keepdims=True)
        log_confusion = np.log(confusion)
        # E step: each item's posterior over the true value given its answers.
        log_post = np.tile(np.log(np.maximum(priors, 1e-12)), (n_items, 1))
        for truth in range(n_values):
            log_post[:, truth] += np.bincount(
                items, weights=log_confusion[experts, truth, codes], minlength=n_items
            )
        log_post -= log_post.max(axis=1, keepdims=True)
        updated = np.exp(log_post)
        updated /= updated.sum(axis=1, keepdims=True)
        moved = float(np.abs(updated - posteriors).mean()) if n_items else 0.0
        posteriors = updated
        if moved < tolerance:
            break
    priors = posteriors.mean(axis=0)
    reliability = (confusion[:, np.arange(n_values), np.arange(n_values)] * priors).sum(axis=1)
    answered = np.bincount(experts, minlength=n_experts) > 0
    reliability = np.where(answered, reliability, np.nan)
    return Consensus(
        labels=posteriors.argmax(axis=1),
        confidence=posteriors.max(axis=1),
        posteriors=posteriors,
        reliability=reliability,
        iterations=iteration,
    )


def weighted_vote(
    items: np.ndarray,
    experts: np.ndarray,
    codes: np.ndarray,
    reliability: np.ndarray,
    *,
    n_items: int,
    n_values: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Votes weighted by each expert's log-odds of being right (from the primary question's
    model), for the other questions of a task; returns (winners, weighted share)."""
    accuracy = np.clip(np.nan_to_num(reliability[experts], nan=0.5), 0.05, 0.95)
    weight = np.maximum(np.log(accuracy * max(n_values - 1, 1) / (1 - accuracy)), 0.01)
    tally = np.bincount(
        items * n_values + codes, weights=weight, minlength=n_items * n_values
    ).reshape(n_items, n_values)
    return majority_vote(tally, tally)


@dataclass(frozen=True)
class Calibration:
    n: int
    brier: float | None
    ece: float | None
    # One row per bin: its bounds, its answers (n), and their mean confidence and outcome.
    bins: list[dict[str, float]]


def calibration(
    confidence: np.ndarray, outcome: np.ndarray, bins: int = CALIBRATION_BINS
) -> Calibration:
    """Brier score and expected calibration error of stated confidence (0–1) against the
    gold outcome (0–1, partial credit allowed), with the reliability diagram's bins."""
    confidence = np.asarray(confidence, dtype=float)
    outcome = np.asarray(outcome, dtype=float)
    n = len(confidence)
    if n == 0:
        return Calibration(n=0, brier=None, ece=None, bins=[])
    brier = float(np.mean((confidence - outcome) ** 2))
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    ece = 0.0
    rows = []
    for number in range(bins):
        inside = index == number
        size = int(inside.sum())
        row = {"low": number / bins, "high": (number + 1) / bins, "n": size}
        if size:
            mean_confidence = float(confidence[inside].mean())
            mean_outcome = float(outcome[inside].mean())
            ece += size / n * abs(mean_confidence - mean_outcome)
            row |= {"confidence": mean_confidence, "accuracy": mean_outcome}
        rows.append(row)
    return Calibration(n=n, brier=brier, ece=float(ece), bins=rows)


def repeat_runs(sequence: np.ndarray, run: int) -> np.ndarray:
    """Mark the entries that end a run of at least ``run`` equal values in a row (the
    ``run``-th equal value and every equal one after it)."""
    marked = np.zeros(len(sequence), dtype=bool)
    length = 0
    for position in range(len(sequence)):
        length = length + 1 if position and sequence[position] == sequence[position - 1] else 1
        marked[position] = length >= run
    return marked
