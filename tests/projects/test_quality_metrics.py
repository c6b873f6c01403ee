"""The quality measures against hand-computed and published values and a reference library:
Krippendorff's alpha (Krippendorff 2011), agreement shares, majority and weighted votes,
Dawid-Skene against crowd-kit's implementation on a synthetic marketplace with known truth,
calibration (Brier against scikit-learn) and runs of repeated answers."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene
from sklearn.metrics import brier_score_loss

from projects.quality import metrics

# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability, section C: four
# coders, twelve units, values 1-5, None where a coder did not code the unit. Unit 12 has a
# single value and so is not pairable. Published: nominal .743, ordinal .815, interval .849.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
SCALE = np.array([1.0, 2.0, 3.0, 4.0, 5.0])


def _answers(rows: list[list[int | None]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A coders × units table as the parallel (items, experts, values) arrays."""
    items, experts, values = [], [], []
    for coder, row in enumerate(rows):
        for unit, value in enumerate(row):
            if value is not None:
                items.append(unit)
                experts.append(coder)
                values.append(value)
    return np.array(items), np.array(experts), np.array(values)


def _krippendorff_counts(n_values: int = 5) -> np.ndarray:
    items, _experts, values = _answers(KRIPPENDORFF_2011)
    codes = np.searchsorted(SCALE, values)  # value 1 → code 0 ... value 5 → code 4
    return metrics.value_counts(items, codes, n_items=12, n_values=n_values)


# --- value counts and Krippendorff's alpha ---------------------------------------------------


def test_value_counts_builds_the_items_by_values_matrix_with_empty_rows_and_columns():
    items = np.array([0, 0, 2, 2, 2])
    codes = np.array([1, 1, 0, 2, 2])

    counts = metrics.value_counts(items, codes, n_items=4, n_values=4)

    assert counts.tolist() == [[0, 2, 0, 0], [0, 0, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]


def test_krippendorff_counts_match_the_published_table():
    counts = _krippendorff_counts()

    # The paper's "values by units" table: how many coders gave each value to each unit.
    assert counts.T.tolist() == [
        [3, 0, 0, 0, 0, 1, 0, 3, 0, 0, 2, 0],
        [0, 3, 0, 0, 4, 1, 0, 1, 4, 0, 0, 0],
        [0, 1, 4, 4, 0, 1, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0],
    ]


@pytest.mark.parametrize(
    ("level", "published", "exact"),
    [
        # Nominal by hand: n = 40 pairable values; n_1..n_5 = 9, 13, 10, 5, 3.
        # Mismatched coincidences (ordered pairs / (m_u - 1)): unit 2 (2,3,2,2): 6/3 = 2;
        # unit 6 (1,2,3,4): 12/3 = 4; unit 8 (1,2,1,1): 6/3 = 2; total 8.
        # D_o = 8/40; D_e = (40² - Σ n_c²) / (40·39) = (1600 - 384) / 1560 = 1216/1560.
        # alpha = 1 - (8/40) / (1216/1560) = 1 - 312/1216 = 113/152 ≈ .7434.
        ("nominal", 0.743, 113 / 152),
        ("ordinal", 0.815, None),
        ("interval", 0.849, None),
    ],
)
def test_alpha_reproduces_krippendorff_2011(level, published, exact):
    counts = _krippendorff_counts()

    value = metrics.alpha(counts, level, domain=SCALE)

    assert round(value, 3) == published
    if exact is not None:
        assert value == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_ignores_scale_points_nobody_chose(level):
    # A seven-point scale where 6 and 7 were never chosen: same answers, same alpha.
    wide = metrics.alpha(_krippendorff_counts(n_values=7), level, domain=np.arange(1.0, 8.0))

    assert wide == pytest.approx(metrics.alpha(_krippendorff_counts(), level, domain=SCALE))


def test_alpha_interval_does_not_depend_on_the_units_of_the_scale():
    counts = _krippendorff_counts()

    shifted = metrics.alpha(counts, "interval", domain=SCALE * 10 + 3)

    assert shifted == pytest.approx(0.849, abs=5e-4)
    # Without a domain the codes 0..4 are the values: a shift, so the same interval alpha.
    assert metrics.alpha(counts, "interval") == pytest.approx(shifted)


def test_alpha_hand_computed_nominal_case():
    # Three items, two coders each: (a, a), (a, b), (b, b); a fourth item has one answer.
    # Coincidences: o_aa = 2, o_ab = o_ba = 1, o_bb = 2; n_a = n_b = 3, n = 6.
    # D_o = (o_ab + o_ba) / n = 2/6 = 1/3.
    # D_e = (n_a * n_b + n_b * n_a) / (n (n - 1)) = 18/30 = 3/5.
    # alpha = 1 - (1/3) / (3/5) = 1 - 5/9 = 4/9. The lone answer is not pairable: no change.
    items = np.array([0, 0, 1, 1, 2, 2, 3])
    codes = np.array([0, 0, 0, 1, 1, 1, 1])

    counts = metrics.value_counts(items, codes, n_items=4, n_values=2)

    assert metrics.alpha(counts, "nominal") == pytest.approx(4 / 9)
    assert metrics.alpha(counts[:3], "nominal") == pytest.approx(4 / 9)


def test_alpha_is_none_without_an_item_answered_twice():
    counts = metrics.value_counts(np.array([0, 1, 2]), np.array([0, 1, 2]), 3, 3)

    assert metrics.alpha(counts, "nominal") is None
    assert metrics.alpha(np.zeros((0, 3), dtype=int), "nominal") is None


def test_alpha_is_none_when_every_pairable_answer_is_the_same():
    identical = metrics.value_counts(np.array([0, 0, 1, 1, 1]), np.array([2, 2, 2, 2, 2]), 2, 3)
    # The only different answer is on an item answered once, which is left out.
    lone_difference = metrics.value_counts(np.array([0, 0, 1]), np.array([0, 0, 1]), 2, 2)

    for level in ("nominal", "ordinal", "interval"):
        assert metrics.alpha(identical, level) is None
        assert metrics.alpha(lone_difference, level) is None


def test_alpha_is_one_with_perfect_agreement_and_variation():
    counts = metrics.value_counts(np.array([0, 0, 1, 1, 2, 2]), np.array([0, 0, 1, 1, 2, 2]), 3, 3)

    for level in ("nominal", "ordinal", "interval"):
        assert metrics.alpha(counts, level) == pytest.approx(1.0)


# --- agreement shares ------------------------------------------------------------------------

# Four items, two values. Ordered pairs of answers to the same item: m (m - 1).
#   item 0: answers 0, 0, 0 → counts [3, 0]: 6 pairs, 3·2 = 6 agree; share 1
#   item 1: answers 0, 1, 0 → counts [2, 1]: 6 pairs, 2·1 + 1·0 = 2 agree; share 1/3
#   item 2: answer 1        → counts [0, 1]: no pair; share undefined (nan)
#   item 3: answers 1, 0    → counts [1, 1]: 2 pairs, 0 agree; share 0
# Overall: (6 + 2 + 0) / (6 + 6 + 2) = 8/14 = 4/7.
AGREEMENT_ITEMS = np.array([0, 0, 0, 1, 1, 1, 2, 3, 3])
AGREEMENT_CODES = np.array([0, 0, 0, 0, 1, 0, 1, 1, 0])


def _agreement_counts() -> np.ndarray:
    return metrics.value_counts(AGREEMENT_ITEMS, AGREEMENT_CODES, n_items=4, n_values=2)


def test_pairwise_agreement_hand_computed():
    assert metrics.pairwise_agreement(_agreement_counts()) == pytest.approx(4 / 7)


def test_pairwise_agreement_is_none_without_pairs():
    assert metrics.pairwise_agreement(np.array([[1, 0], [0, 1], [0, 0]])) is None
    assert metrics.pairwise_agreement(np.zeros((0, 2), dtype=int)) is None


def test_item_agreement_hand_computed():
    shares = metrics.item_agreement(_agreement_counts())

    np.testing.assert_allclose(shares, [1.0, 1 / 3, np.nan, 0.0])


def test_peer_agreement_hand_computed():
    # Each answer against the other answers to its item:
    #   item 0: every 0 agrees with both others → 2/2
    #   item 1: each 0 agrees with one of two others → 1/2; the 1 with none → 0/2
    #   item 2: no other answer → nan
    #   item 3: the 1 and the 0 disagree → 0/1 each
    peers = metrics.peer_agreement(AGREEMENT_ITEMS, AGREEMENT_CODES, _agreement_counts())

    np.testing.assert_allclose(peers, [1, 1, 1, 0.5, 0, 0.5, np.nan, 0, 0])


def test_pairwise_expert_agreement_hand_computed():
    # item 0: expert 2 → 0, expert 0 → 0, expert 1 → 1
    # item 1: expert 1 → 1, expert 0 → 1
    # item 2: expert 2 → 1, expert 1 → 0
    # Pairs: (0, 1) share items 0 (differ) and 1 (agree) → (2, 1);
    #        (0, 2) share item 0 (agree) → (1, 1);
    #        (1, 2) share items 0 and 2, differing on both → (2, 0).
    items = np.array([0, 1, 2, 0, 0, 1, 2])
    experts = np.array([2, 1, 2, 0, 1, 0, 1])
    codes = np.array([0, 1, 1, 0, 1, 1, 0])

    pairs = metrics.pairwise_expert_agreement(items, experts, codes)

    assert pairs == {(0, 1): (2, 1), (0, 2): (1, 1), (1, 2): (2, 0)}


def test_pairwise_expert_agreement_without_shared_items_is_empty():
    pairs = metrics.pairwise_expert_agreement(np.array([0, 1]), np.array([0, 1]), np.array([0, 0]))

    assert pairs == {}


# --- majority and weighted votes -------------------------------------------------------------


def test_majority_vote_ties_go_to_the_lower_code_and_shares_are_exact():
    counts = np.array([[1, 1, 0], [0, 2, 2], [3, 1, 0], [0, 1, 4], [0, 0, 0]])

    winners, shares = metrics.majority_vote(counts)

    assert winners[:4].tolist() == [0, 1, 0, 2]
    np.testing.assert_allclose(shares, [0.5, 0.5, 0.75, 0.8, np.nan])


def test_majority_vote_with_weights_counts_the_weights():
    counts = np.array([[2, 1]])
    weights = np.array([[0.5, 2.0]])

    winners, shares = metrics.majority_vote(counts, weights)

    assert winners.tolist() == [1]
    assert shares.tolist() == [pytest.approx(0.8)]


def test_weighted_vote_reliable_expert_outweighs_two_unreliable_ones():
    # Three values. Weight = log(accuracy · (values - 1) / (1 - accuracy)):
    #   reliable (0.9):   log(0.9 · 2 / 0.1) = log 18 ≈ 2.890
    #   unreliable (0.5): log(0.5 · 2 / 0.5) = log 2  ≈ 0.693 each, 1.386 together
    # Item 0: the reliable expert says 2, the two unreliable ones say 0 → 2 wins with
    # log 18 / (log 18 + 2 log 2) ≈ 0.676. Item 1: an unknown expert (nan → 0.5) joins.
    items = np.array([0, 0, 0, 1, 1, 1])
    experts = np.array([0, 1, 2, 1, 2, 3])
    codes = np.array([2, 0, 0, 1, 1, 0])
    reliability = np.array([0.9, 0.5, 0.5, np.nan])

    winners, shares = metrics.weighted_vote(
        items, experts, codes, reliability, n_items=2, n_values=3
    )

    plain, _ = metrics.majority_vote(metrics.value_counts(items, codes, 2, 3))
    assert plain.tolist() == [0, 1]
    assert winners.tolist() == [2, 1]
    assert shares[0] == pytest.approx(np.log(18) / (np.log(18) + 2 * np.log(2)))
    assert shares[1] == pytest.approx(2 / 3)


def test_weighted_vote_gives_worse_than_chance_experts_almost_no_weight():
    # Two values: accuracy 0.3 has negative log-odds, floored at 0.01 each; 0.95 → log 19.
    items = np.array([0, 0, 0])
    experts = np.array([0, 1, 2])
    codes = np.array([1, 0, 0])

    winners, shares = metrics.weighted_vote(
        items, experts, codes, np.array([0.95, 0.3, 0.3]), n_items=1, n_values=2
    )

    assert winners.tolist() == [1]
    assert shares[0] == pytest.approx(np.log(19) / (np.log(19) + 0.02))


# --- Dawid-Skene against crowd-kit -----------------------------------------------------------

N_ITEMS = 2_000
N_EXPERTS = 30
N_VALUES = 4
OVERLAP = 3
N_CLICKERS = 6


@dataclass(frozen=True)
class Market:
    truth: np.ndarray
    accuracy: np.ndarray  # per expert, by design (clickers: 1 / N_VALUES)
    clickers: np.ndarray  # expert ids
    items: np.ndarray
    experts: np.ndarray
    codes: np.ndarray


@pytest.fixture(scope="module")
def market() -> Market:
    """2,000 items with a skewed true class, 3 distinct experts each out of 30: 12 strong
    (85–97% right), 12 middling (55–80%), 6 clickers answering uniformly at random."""
    rng = np.random.default_rng(20240607)
    accuracy = np.r_[
        rng.uniform(0.85, 0.97, 12),
        rng.uniform(0.55, 0.80, 12),
        np.full(N_CLICKERS, 1 / N_VALUES),
    ]
    clickers = np.arange(N_EXPERTS - N_CLICKERS, N_EXPERTS)
    truth = rng.choice(N_VALUES, N_ITEMS, p=[0.4, 0.3, 0.2, 0.1])
    items = np.repeat(np.arange(N_ITEMS), OVERLAP)
    experts = np.concatenate(
        [rng.choice(N_EXPERTS, OVERLAP, replace=False) for _ in range(N_ITEMS)]
    )
    true_codes = truth[items]
    right = rng.random(len(items)) < accuracy[experts]
    wrong = (true_codes + rng.integers(1, N_VALUES, len(items))) % N_VALUES
    codes = np.where(right, true_codes, wrong)
    clicking = np.isin(experts, clickers)
    codes = np.where(clicking, rng.integers(0, N_VALUES, len(items)), codes)
    return Market(truth, accuracy, clickers, items, experts, codes)


@pytest.fixture(scope="module")
def ours(market: Market) -> metrics.Consensus:
    return metrics.dawid_skene(
        market.items,
        market.experts,
        market.codes,
        n_items=N_ITEMS,
        n_experts=N_EXPERTS,
        n_values=N_VALUES,
    )


def _crowd_kit(items: np.ndarray, experts: np.ndarray, codes: np.ndarray) -> DawidSkene:
    """crowd-kit's Dawid-Skene fitted on the same answers (its pandas deprecation noise
    silenced: it is the reference, not the code under test)."""
    answers = pd.DataFrame({"task": items, "worker": experts, "label": codes})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="crowdkit")
        return DawidSkene(n_iter=100).fit(answers)


@pytest.fixture(scope="module")
def reference(market: Market) -> DawidSkene:
    return _crowd_kit(market.items, market.experts, market.codes)


def test_dawid_skene_matches_crowd_kit(market, ours, reference):
    labels = reference.labels_.reindex(range(N_ITEMS)).to_numpy()
    posteriors = reference.probas_.reindex(index=range(N_ITEMS), columns=range(N_VALUES))

    assert (ours.labels == labels).mean() >= 0.99
    assert np.abs(ours.posteriors - posteriors.to_numpy()).mean() < 0.01
    np.testing.assert_allclose(ours.posteriors.sum(axis=1), 1.0)
    np.testing.assert_array_equal(ours.confidence, ours.posteriors.max(axis=1))
    assert 1 <= ours.iterations <= metrics.DS_MAX_ITER


def test_dawid_skene_beats_majority_vote_on_known_truth(market, ours, reference):
    counts = metrics.value_counts(market.items, market.codes, N_ITEMS, N_VALUES)
    majority, _ = metrics.majority_vote(counts)
    majority_accuracy = (majority == market.truth).mean()
    reference_labels = reference.labels_.reindex(range(N_ITEMS)).to_numpy()

    assert (ours.labels == market.truth).mean() > majority_accuracy + 0.02
    assert (reference_labels == market.truth).mean() > majority_accuracy + 0.02


def test_dawid_skene_reliability_tracks_true_accuracy(market, ours):
    assert np.corrcoef(ours.reliability, market.accuracy)[0, 1] > 0.9
    lowest = np.argsort(ours.reliability)[:N_CLICKERS]
    assert set(lowest.tolist()) == set(market.clickers.tolist())
    assert ours.reliability[market.clickers].max() < 0.4


def test_dawid_skene_overrules_a_majority_of_known_bad_experts():
    # 20 training items, truth alternating 0, 1. Experts 0, 1 and 2 always answer the truth;
    # experts 3 and 4 answer patterns right half the time (3: 1 on items 0-9; 4: 1, 1, 0, 0...).
    # On item 20 the good expert 0 says 1 and the two known-bad experts agree on 0: the
    # majority says 0, the model trusts expert 0. Expert 5 never answers.
    items, experts, codes = [], [], []
    for item in range(20):
        answers = {0: item % 2, 1: item % 2, 2: item % 2, 3: int(item < 10), 4: int(item % 4 < 2)}
        for expert, code in answers.items():
            items.append(item)
            experts.append(expert)
            codes.append(code)
    items += [20, 20, 20]
    experts += [0, 3, 4]
    codes += [1, 0, 0]
    items, experts, codes = np.array(items), np.array(experts), np.array(codes)

    result = metrics.dawid_skene(items, experts, codes, n_items=21, n_experts=6, n_values=2)

    majority, _ = metrics.majority_vote(metrics.value_counts(items, codes, 21, 2))
    assert majority[20] == 0
    assert result.labels[20] == 1
    assert result.confidence[20] > 0.99
    assert result.labels[:20].tolist() == [item % 2 for item in range(20)]
    assert result.reliability[:3] == pytest.approx([1.0, 1.0, 1.0], abs=0.01)
    assert result.reliability[3:5] == pytest.approx([0.5, 0.5], abs=0.05)
    assert np.isnan(result.reliability[5])
    assert _crowd_kit(items, experts, codes).labels_[20] == 1


# --- calibration -----------------------------------------------------------------------------


def test_calibration_hand_computed():
    # Brier: ((0.9-1)² + (0.9-0)² + (0.6-1)² + (0.2-0)²) / 4 = (0.01 + 0.81 + 0.16 + 0.04) / 4
    #      = 1.02 / 4 = 0.255.
    # ECE, 10 bins: [0.9, 1.0] holds 0.9, 0.9 (accuracy 1/2): 2/4 · |0.9 - 0.5| = 0.2;
    #   [0.6, 0.7) holds 0.6 (accuracy 1): 1/4 · 0.4 = 0.1;
    #   [0.2, 0.3) holds 0.2 (accuracy 0): 1/4 · 0.2 = 0.05. Total 0.35.
    result = metrics.calibration(np.array([0.9, 0.9, 0.6, 0.2]), np.array([1, 0, 1, 0]))

    assert result.n == 4
    assert result.brier == pytest.approx(0.255)
    assert result.ece == pytest.approx(0.35)
    assert len(result.bins) == metrics.CALIBRATION_BINS
    filled = {row["low"]: row for row in result.bins if row["n"]}
    assert sorted(filled) == pytest.approx([0.2, 0.6, 0.9])
    assert filled[0.9] == pytest.approx(
        {"low": 0.9, "high": 1.0, "n": 2, "confidence": 0.9, "accuracy": 0.5}
    )
    assert filled[0.6] == pytest.approx(
        {"low": 0.6, "high": 0.7, "n": 1, "confidence": 0.6, "accuracy": 1.0}
    )
    empty = [row for row in result.bins if not row["n"]]
    assert all("confidence" not in row and "accuracy" not in row for row in empty)
    assert [row["low"] for row in result.bins] == pytest.approx([k / 10 for k in range(10)])
    assert [row["high"] for row in result.bins] == pytest.approx([k / 10 for k in range(1, 11)])


def test_calibration_perfect_is_zero_ece():
    # 0.75 stated four times and right three times; 0.25 stated four times and right once.
    confidence = np.array([0.75, 0.75, 0.75, 0.75, 0.25, 0.25, 0.25, 0.25])
    outcome = np.array([1, 1, 1, 0, 1, 0, 0, 0])

    result = metrics.calibration(confidence, outcome)

    assert result.ece == pytest.approx(0.0)
    # Brier = (6 · 0.0625 + 2 · 0.5625) / 8 = 1.5 / 8.
    assert result.brier == pytest.approx(0.1875)


def test_calibration_partial_credit_outcomes():
    # Partial gold scores: 0.8 stated twice, 0.6 and 1.0 earned (mean 0.8) → no gap in the
    # bin; Brier = (0.2² + 0.2²) / 2 = 0.04.
    result = metrics.calibration(np.array([0.8, 0.8]), np.array([0.6, 1.0]))

    assert result.ece == pytest.approx(0.0)
    assert result.brier == pytest.approx((0.04 + 0.04) / 2)


def test_calibration_empty_is_none():
    result = metrics.calibration(np.array([]), np.array([]))

    assert (result.n, result.brier, result.ece, result.bins) == (0, None, None, [])


def test_calibration_bin_edges_and_counts():
    # Every percent 0..100: the lower edge belongs to its bin and 1.0 to the last bin.
    confidence = np.arange(101) / 100
    outcome = (np.arange(101) % 2).astype(float)

    result = metrics.calibration(confidence, outcome)

    assert sum(row["n"] for row in result.bins) == result.n == 101
    assert [row["n"] for row in result.bins] == [10] * 9 + [11]
    certain = metrics.calibration(np.array([1.0]), np.array([1.0]))
    assert [row["n"] for row in certain.bins] == [0] * 9 + [1]
    assert certain.ece == 0.0
    assert certain.brier == 0.0


def test_calibration_brier_matches_scikit_learn():
    rng = np.random.default_rng(11)
    confidence = rng.random(500)
    outcome = (rng.random(500) < confidence).astype(int)

    result = metrics.calibration(confidence, outcome)

    assert result.brier == pytest.approx(brier_score_loss(outcome, confidence))
    assert sum(row["n"] for row in result.bins) == 500
    # ECE is the size-weighted gap of the bins it reports.
    gaps = sum(row["n"] / 500 * abs(row["confidence"] - row["accuracy"]) for row in result.bins)
    assert result.ece == pytest.approx(gaps)


# --- repeated answers ------------------------------------------------------------------------


def test_repeat_runs_marks_from_the_run_th_equal_value_on():
    sequence = np.array([1, 1, 1, 2, 2, 1, 1, 1, 1, 3])

    marked = metrics.repeat_runs(sequence, 3)

    assert marked.tolist() == [False, False, True, False, False, False, False, True, True, False]


def test_repeat_runs_edge_cases():
    answers = np.array(["yes", "yes", "no", "no"])

    assert metrics.repeat_runs(answers, 2).tolist() == [False, True, False, True]
    assert metrics.repeat_runs(answers, 1).tolist() == [True, True, True, True]
    assert metrics.repeat_runs(answers, 5).tolist() == [False] * 4
    assert metrics.repeat_runs(np.array([]), 3).tolist() == []
