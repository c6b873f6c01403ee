"""The global assignment: which candidate pairs become invitations.

Maximise Σ (fit − fairness penalty) over chosen (project, expert) pairs such that a project
gets at most its open seats, an expert at most the seats their weekly hours allow, and a pair
at most once. As a min-cost flow (OR-Tools):

    source → project p        capacity = open seats of p, cost 0
    project p → expert e      capacity 1, cost −fit(p, e)
    expert e → sink           one arc per seat the expert may still take, the k-th costing
                              FAIRNESS_PENALTY × (seats already held + k): convex, so the flow
                              fills an expert's cheaper seats first and spreads seats between
                              equally fit experts
    source → sink             enough capacity to leave any seat empty, cost 0

Every network matrix is totally unimodular, so the optimum is integral and exact. ``greedy``
is the per-project baseline and ``exact_milp`` the check by a different method (HiGHS
branch-and-bound on the same model) that the benchmark and the tests compare against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from projects.matching.scoring import FAIRNESS_PENALTY

# Costs are integers in the flow: fit is in [0, 1], so 1e6 keeps six decimals.
SCALE = 1_000_000


@dataclass
class Problem:
    """Candidate pairs (parallel arrays) and the limits on both sides.

    ``pair_project`` and ``pair_expert`` index ``seats`` and ``capacity``/``held``.
    """

    pair_project: np.ndarray
    pair_expert: np.ndarray
    pair_fit: np.ndarray
    seats: np.ndarray
    capacity: np.ndarray
    held: np.ndarray
    fairness: float = FAIRNESS_PENALTY
    # Each pair's position in its project's candidate list (set by ``Pool.problem``).
    pair_index: np.ndarray | None = None


@dataclass
class Solution:
    chosen: np.ndarray  # indices into the problem's pairs
    objective: float
    total_fit: float


def cut(problem: Problem, per_seat: int, lists_per_capacity: int = 2) -> Problem:
    """Keep about ``per_seat`` × open seats of each project's best candidates, with each
    expert on at most ``lists_per_capacity`` × capacity lists; projects with the fewest
    candidates per seat choose first. Pairs must be grouped by project, best first.

    Cutting by project alone fails at scale: every project of a domain keeps the same top
    experts, who cannot take all those seats, so seats stay empty (about 40% below the
    optimum in benchmarks/matching.py). Spreading the lists over the experts' capacity fills
    every seat and stays about 0.3% below the uncut optimum with 6 candidates a seat, at a
    fiftieth of the pairs (100,000 experts × 2,000 projects).
    """
    n_projects = len(problem.seats)
    starts = np.searchsorted(problem.pair_project, np.arange(n_projects + 1))
    sizes = np.diff(starts)
    room = (lists_per_capacity * problem.capacity).astype(np.int64)
    keep = np.zeros(len(problem.pair_fit), dtype=bool)
    for project in np.argsort(sizes / np.maximum(problem.seats, 1), kind="stable"):
        seats = int(problem.seats[project])
        if not seats:
            continue
        experts = problem.pair_expert[starts[project] : starts[project + 1]]
        chosen = np.flatnonzero(room[experts] > 0)[: max(per_seat * seats, seats + 5)]
        room[experts[chosen]] -= 1
        keep[starts[project] + chosen] = True
    return Problem(
        pair_project=problem.pair_project[keep],
        pair_expert=problem.pair_expert[keep],
        pair_fit=problem.pair_fit[keep],
        seats=problem.seats,
        capacity=problem.capacity,
        held=problem.held,
        fairness=problem.fairness,
        pair_index=None if problem.pair_index is None else problem.pair_index[keep],
    )


def objective_of(problem: Problem, chosen: np.ndarray) -> Solution:
    """Score a set of chosen pairs with the solver's objective (the fairness penalty counted
    in the cheapest order, which is how the flow counts it)."""
    chosen = np.asarray(chosen, dtype=np.int64)
    fit = float(problem.pair_fit[chosen].sum())
    counts = np.bincount(problem.pair_expert[chosen], minlength=len(problem.capacity))
    held = problem.held.astype(float)
    # Σ_{k<n} (held + k) = n·held + n(n−1)/2
    penalty = problem.fairness * float((counts * held + counts * (counts - 1) / 2).sum())
    return Solution(chosen=chosen, objective=fit - penalty, total_fit=fit)


def solve(problem: Problem) -> Solution:
    """The optimal assignment by min-cost flow."""
    n_projects, n_experts = len(problem.seats), len(problem.capacity)
    if not len(problem.pair_fit) or not problem.seats.sum():
        return Solution(chosen=np.zeros(0, dtype=np.int64), objective=0.0, total_fit=0.0)
    source, sink = 0, 1 + n_projects + n_experts
    project_node = 1 + np.arange(n_projects)
    expert_node = 1 + n_projects + np.arange(n_experts)

    # An expert needs no more seat arcs than they have candidate pairs.
    pairs_per_expert = np.bincount(problem.pair_expert, minlength=n_experts)
    slots = np.minimum(problem.capacity, pairs_per_expert).astype(np.int64)
    slot_expert = np.repeat(np.arange(n_experts), slots)
    slot_rank = np.arange(slots.sum()) - np.repeat(np.cumsum(slots) - slots, slots)
    slot_cost = np.rint(problem.fairness * (problem.held[slot_expert] + slot_rank) * SCALE).astype(
        np.int64
    )

    total_seats = int(problem.seats.sum())
    tails = np.concatenate(
        [
            np.full(n_projects, source),
            project_node[problem.pair_project],
            expert_node[slot_expert],
            [source],
        ]
    )
    heads = np.concatenate(
        [project_node, expert_node[problem.pair_expert], np.full(len(slot_expert), sink), [sink]]
    )
    capacities = np.concatenate(
        [
            problem.seats.astype(np.int64),
            np.ones(len(problem.pair_fit), dtype=np.int64),
            np.ones(len(slot_expert), dtype=np.int64),
            [total_seats],
        ]
    )
    costs = np.concatenate(
        [
            np.zeros(n_projects, dtype=np.int64),
            -np.rint(problem.pair_fit * SCALE).astype(np.int64),
            slot_cost,
            [0],
        ]
    )
    # Imported here: OR-Tools is large, and only matching runs need it.
    from ortools.graph.python import min_cost_flow

    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[source], supplies[sink] = total_seats, -total_seats
    flow.set_nodes_supplies(np.arange(sink + 1), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"The min-cost flow did not solve (status {status}).")
    first_pair_arc = n_projects
    pair_flows = flow.flows(np.arange(first_pair_arc, first_pair_arc + len(problem.pair_fit)))
    return objective_of(problem, np.flatnonzero(pair_flows > 0))


def greedy(problem: Problem) -> Solution:
    """The baseline: each project in turn takes its best candidates that still have room."""
    room = problem.capacity.astype(np.int64).copy()
    load = problem.held.astype(float).copy()
    chosen: list[int] = []
    order = np.lexsort((-problem.pair_fit, problem.pair_project))
    taken = np.zeros(len(problem.seats), dtype=np.int64)
    for pair in order:
        project, expert = problem.pair_project[pair], problem.pair_expert[pair]
        if taken[project] >= problem.seats[project] or room[expert] <= 0:
            continue
        if problem.pair_fit[pair] - problem.fairness * load[expert] <= 0:
            continue
        chosen.append(int(pair))
        taken[project] += 1
        room[expert] -= 1
        load[expert] += 1
    return objective_of(problem, np.array(chosen, dtype=np.int64))


def exact_milp(problem: Problem, time_limit: float = 600.0) -> Solution:
    """The optimum of the same model by HiGHS branch-and-bound, for checking ``solve`` on
    instances small enough for a general integer program."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    n_pairs, n_projects, n_experts = (
        len(problem.pair_fit),
        len(problem.seats),
        len(problem.capacity),
    )
    pairs_per_expert = np.bincount(problem.pair_expert, minlength=n_experts)
    slots = np.minimum(problem.capacity, pairs_per_expert).astype(np.int64)
    slot_expert = np.repeat(np.arange(n_experts), slots)
    slot_rank = np.arange(slots.sum()) - np.repeat(np.cumsum(slots) - slots, slots)
    n_slots = len(slot_expert)
    # Variables: x (pairs) then y (expert seat slots). Maximise fit·x − penalty·y.
    cost = np.concatenate(
        [-problem.pair_fit, problem.fairness * (problem.held[slot_expert] + slot_rank)]
    )
    pair_ids, slot_ids = np.arange(n_pairs), n_pairs + np.arange(n_slots)
    seats_rows = coo_matrix(
        (np.ones(n_pairs), (problem.pair_project, pair_ids)), shape=(n_projects, n_pairs + n_slots)
    )
    # Σ_p x_pe − Σ_k y_ek = 0 for every expert.
    balance_rows = coo_matrix(
        (
            np.concatenate([np.ones(n_pairs), -np.ones(n_slots)]),
            (
                np.concatenate([problem.pair_expert, slot_expert]),
                np.concatenate([pair_ids, slot_ids]),
            ),
        ),
        shape=(n_experts, n_pairs + n_slots),
    )
    constraints = [
        LinearConstraint(seats_rows, -np.inf, problem.seats),
        LinearConstraint(balance_rows, 0, 0),
    ]
    result = milp(
        cost,
        constraints=constraints,
        integrality=np.ones(n_pairs + n_slots),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit, "mip_rel_gap": 0},
    )
    if result.x is None:
        raise RuntimeError(f"HiGHS found no solution: {result.message}")
    return objective_of(problem, np.flatnonzero(result.x[:n_pairs] > 0.5))
