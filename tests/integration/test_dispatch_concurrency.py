"""Task dispatch under real concurrency on PostgreSQL: threads, each on its own connection,
claim, prefetch, save drafts, submit, skip and sweep expired leases at the same time, and the
overlap the lab pays for is never exceeded, the counters stay exact and no database error
reaches a caller. Also: the claim reads the dispatch index, whatever the project's size."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from projects.dispatch import services as dispatch
from projects.dispatch.models import Assignment
from projects.models import Annotation, Task
from projects.review import services as review
from projects.review.models import AnnotationReview
from projects.states import (
    AnnotationStatus,
    AssignmentStatus,
    DispatchOrder,
    ReviewDecision,
    SkipReason,
    TaskStatus,
)
from projects.task_types import task_type_for
from tests.integration.concurrency import race
from tests.projects.workspace_factories import answer, submit_next, workspace

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Live leases and annotations that count, per task, in one statement (one snapshot).
COUNTS_SQL = """
    SELECT t.id, t.reserved_count, t.annotation_count, t.status,
           (SELECT count(*) FROM projects_annotation a
             WHERE a.task_id = t.id AND a.status <> 'rejected') AS annotations,
           (SELECT count(*) FROM dispatch_assignment l
             WHERE l.task_id = t.id AND l.status = 'leased' AND l.expires_at > now())
             AS live_leases,
           (SELECT count(*) FROM dispatch_assignment l
             WHERE l.task_id = t.id AND l.status = 'leased' AND l.holds_slot) AS leases_held,
           (SELECT count(*) FROM dispatch_assignment l
             WHERE l.task_id = t.id AND l.holds_slot) AS slots_held
      FROM projects_task t
     WHERE t.project_id = %s AND NOT t.is_gold
     ORDER BY t.id
"""


def task_counts(project) -> list[dict[str, object]]:
    table = Assignment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(COUNTS_SQL.replace("dispatch_assignment", table), [project.pk])
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def assert_counters_exact(project) -> list[dict[str, object]]:
    """annotations ≤ overlap, annotations + live leases ≤ overlap, and reserved_count is
    exactly the annotations that count plus the leases that hold a slot, on every task."""
    rows = task_counts(project)
    for row in rows:
        assert row["annotations"] <= project.overlap, row
        assert row["annotations"] + row["live_leases"] <= project.overlap, row
        assert row["reserved_count"] == row["annotations"] + row["leases_held"], row
        assert row["reserved_count"] == row["slots_held"], row
        assert row["annotation_count"] == row["annotations"], row
    duplicates = (
        Annotation.objects.filter(project=project)
        .values("task_id", "expert_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert list(duplicates) == []
    return rows


def run_workers(workers, *, timeout: float = 120.0) -> list[BaseException]:
    """Start each callable in its own thread at the same moment; return what they raised."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(work):
        try:
            barrier.wait()
            work()
        except BaseException as error:  # the outcome under test
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a worker is stuck"
    return errors


# The overlap invariant ----------------------------------------------------------------------


def test_many_experts_claiming_and_submitting_fill_every_task_exactly_to_overlap():
    _, project, experts = workspace(experts=24, task_count=30, overlap=3)
    result = answer(project)
    done = threading.Event()
    breaches: list[dict[str, object]] = []
    samples = 0

    def watch():
        """Check the invariant in one snapshot while the experts work."""
        nonlocal samples
        while not done.is_set():
            breaches.extend(
                row
                for row in task_counts(project)
                if row["annotations"] + row["live_leases"] > project.overlap
            )
            samples += 1
            time.sleep(0.005)

    def expert_works(index, expert):
        step = 0
        deadline = time.monotonic() + 90
        skipped = False
        while time.monotonic() < deadline:
            assignment = dispatch.task_claim(expert=expert, project=project)
            if assignment is None:
                # Nothing for this expert now; others' leases may still come back or fill.
                left = (
                    Task.objects.filter(project=project, status=TaskStatus.OPEN, is_gold=False)
                    .exclude(assignments__expert=expert)
                    .exists()
                )
                if not left:
                    return
                time.sleep(0.01)
                continue
            step += 1
            if (index + step) % 2:  # the page prefetches the next task while this one is done
                dispatch.task_prefetch(expert=expert, project=project, current=assignment)
            if index % 6 == 0 and not skipped:
                skipped = True
                dispatch.assignment_skip(
                    expert=expert, assignment=assignment, reason=SkipReason.OUTSIDE_EXPERTISE
                )
                continue
            if (index + step) % 3 == 0:
                dispatch.assignment_draft_save(
                    expert=expert,
                    assignment=assignment,
                    draft={"preference": ["a_better"]},
                    signals=dispatch.PageSignals(active_seconds=1),
                )
            dispatch.annotation_submit(expert=expert, assignment=assignment, result=result)
        raise AssertionError(f"expert {index} still working after 90 s")

    watcher = threading.Thread(target=lambda: (watch(), connection.close()))
    watcher.start()
    try:
        errors = run_workers([lambda i=i, e=e: expert_works(i, e) for i, e in enumerate(experts)])
    finally:
        done.set()
        watcher.join(10)

    assert errors == [], errors  # no IntegrityError, deadlock or Conflict reached a caller
    assert samples > 0
    assert breaches == [], breaches[:5]
    rows = assert_counters_exact(project)
    assert len(rows) == 30
    assert all(row["status"] == TaskStatus.COMPLETED for row in rows)
    assert all(row["annotations"] == 3 and row["reserved_count"] == 3 for row in rows)
    assert Annotation.objects.filter(project=project).count() == 90
    assert not Assignment.objects.filter(project=project, status=AssignmentStatus.LEASED).exists()
    assert Assignment.objects.filter(project=project, status=AssignmentStatus.SKIPPED).count() == 4
    # Depth first: nobody started a fresh task while a started one had room, so each expert's
    # work is spread over the tasks by the order, and every slot was used once.
    assert (
        Assignment.objects.filter(project=project, holds_slot=True).count()
        == Annotation.objects.filter(project=project).count()
    )


def test_experts_racing_for_the_last_free_slot_get_it_once():
    _, project, experts = workspace(experts=10, task_count=1, overlap=3)
    first, second, *racers = experts
    submit_next(first, project)
    submit_next(second, project)
    task = Task.objects.get(project=project)
    assert (task.reserved_count, task.annotation_count) == (2, 2)

    outcomes = race(*[lambda e=e: dispatch.task_claim(expert=e, project=project) for e in racers])

    winners = [o for o in outcomes if isinstance(o, Assignment)]
    assert len(winners) == 1, outcomes
    assert all(o is None for o in outcomes if o not in winners), outcomes
    task.refresh_from_db()
    assert task.reserved_count == 3
    live = Assignment.objects.filter(task=task, status=AssignmentStatus.LEASED)
    assert list(live.values_list("expert_id", flat=True)) == [winners[0].expert_id]
    assert_counters_exact(project)


def test_claims_racing_with_a_gold_task_and_the_last_slot_stay_within_overlap():
    """Gold tasks go to every expert and never count against the overlap."""
    _, project, experts = workspace(
        experts=8, task_count=1, gold=2, overlap=2, gold_rate_percent=50
    )

    outcomes = race(*[lambda e=e: dispatch.task_claim(expert=e, project=project) for e in experts])

    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    regular = [o for o in outcomes if isinstance(o, Assignment) and not o.task.is_gold]
    assert len(regular) <= 2
    task = Task.objects.get(project=project, is_gold=False)
    assert task.reserved_count == len(regular)
    assert set(Task.objects.filter(is_gold=True).values_list("reserved_count", flat=True)) == {0}
    assert_counters_exact(project)


# Leases expiring while their owners work -----------------------------------------------------


def test_expired_leases_swept_while_owners_submit_and_save_drafts_stay_consistent():
    _, project, experts = workspace(experts=18, task_count=6, overlap=2)
    owners, newcomers = experts[:12], experts[12:]
    leases = {}
    for expert in owners:
        assignment = dispatch.task_claim(expert=expert, project=project)
        assert assignment is not None
        leases[expert.pk] = assignment
    assert all(row["reserved_count"] == 2 for row in task_counts(project))
    # Every lease ran out a minute ago; the slots are still counted until a sweep or a claim.
    Assignment.objects.filter(project=project).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    submitters, savers = owners[:8], owners[8:]
    kept = {"preference": ["b_better"], "rationale": ["kept as a draft"]}
    result = answer(project)

    def submit(expert):
        return dispatch.annotation_submit(
            expert=expert, assignment=leases[expert.pk], result=result, draft=kept
        )

    def save(expert):
        return dispatch.assignment_draft_save(
            expert=expert,
            assignment=leases[expert.pk],
            draft={"rationale": ["still thinking"]},
            signals=dispatch.PageSignals(active_seconds=5),
        )

    actions = [
        *[lambda e=e: submit(e) for e in submitters],
        *[lambda e=e: save(e) for e in savers],
        *[lambda e=e: dispatch.task_claim(expert=e, project=project) for e in newcomers],
        dispatch.leases_return_expired,
        dispatch.leases_return_expired,
        lambda: dispatch.leases_return_expired(project=project),
    ]
    outcomes = race(*actions)

    submitted = outcomes[: len(submitters)]
    saved = outcomes[len(submitters) : len(owners)]
    claimed = outcomes[len(owners) : len(owners) + len(newcomers)]
    sweeps = outcomes[len(owners) + len(newcomers) :]
    assert all(isinstance(n, int) for n in sweeps), sweeps
    for expert, outcome in zip(submitters, submitted, strict=True):
        assignment = Assignment.objects.get(pk=leases[expert.pk].pk)
        if isinstance(outcome, Annotation):
            assert assignment.status == AssignmentStatus.SUBMITTED
            assert assignment.annotation_id == outcome.pk
            assert assignment.holds_slot
        else:
            assert isinstance(outcome, dispatch.SubmittedTooLate), outcome
            assert assignment.status == AssignmentStatus.EXPIRED
            assert assignment.draft == kept
            assert not assignment.holds_slot
            assert not Annotation.objects.filter(task=assignment.task, expert=expert).exists()
    for expert, outcome in zip(savers, saved, strict=True):
        assert isinstance(outcome, dispatch.DraftSaved), outcome
        assignment = Assignment.objects.get(pk=leases[expert.pk].pk)
        assert assignment.draft == {"rationale": ["still thinking"]}
        if outcome.still_needed:
            assert assignment.status == AssignmentStatus.LEASED
            assert assignment.holds_slot
            assert assignment.expires_at > timezone.now()
        else:
            assert assignment.status == AssignmentStatus.EXPIRED
            assert not assignment.holds_slot
    for outcome in claimed:
        assert outcome is None or isinstance(outcome, Assignment), outcome
    rows = assert_counters_exact(project)
    # No slot counted twice: every task is at most full, and every holder is accounted for.
    assert (
        sum(row["reserved_count"] for row in rows)
        == Assignment.objects.filter(project=project, holds_slot=True).count()
    )
    # Nothing expired is left behind as leased.
    assert not Assignment.objects.filter(
        project=project, status=AssignmentStatus.LEASED, expires_at__lt=timezone.now()
    ).exists()


def test_a_late_submit_racing_a_claim_for_the_freed_slot_is_accepted_or_kept_as_a_draft():
    """One slot, freed by the sweep: the late owner's submit and a newcomer's claim race for
    it. Exactly one of them gets it, whatever the order, ten times over."""
    for round_ in range(10):
        _, project, (owner, newcomer) = workspace(experts=2, task_count=1, overlap=1)
        lease = dispatch.task_claim(expert=owner, project=project)
        Assignment.objects.filter(pk=lease.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert dispatch.leases_return_expired() == 1
        kept = {"rationale": [f"round {round_}"]}

        late, claim = race(
            lambda lease=lease, project=project, owner=owner, kept=kept: dispatch.annotation_submit(
                expert=owner, assignment=lease, result=answer(project), draft=kept
            ),
            lambda project=project, newcomer=newcomer: dispatch.task_claim(
                expert=newcomer, project=project
            ),
        )

        lease.refresh_from_db()
        if isinstance(late, Annotation):
            assert claim is None
            assert lease.status == AssignmentStatus.SUBMITTED
        else:
            assert isinstance(late, dispatch.SubmittedTooLate), late
            assert isinstance(claim, Assignment), claim
            assert (lease.status, lease.draft, lease.holds_slot) == (
                AssignmentStatus.EXPIRED,
                kept,
                False,
            )
        rows = assert_counters_exact(project)
        assert rows[0]["reserved_count"] == 1


# Idempotence under races ----------------------------------------------------------------------


def test_two_tabs_submitting_one_assignment_make_one_annotation():
    _, project, (expert,) = workspace(experts=1, task_count=2, overlap=3)
    assignment = dispatch.task_claim(expert=expert, project=project)
    other_tab = Assignment.objects.get(pk=assignment.pk)

    outcomes = race(
        *[
            lambda a=a: dispatch.annotation_submit(
                expert=expert, assignment=a, result=answer(project)
            )
            for a in (assignment, other_tab, assignment)
        ]
    )

    assert all(isinstance(o, Annotation) for o in outcomes), outcomes
    assert len({o.pk for o in outcomes}) == 1
    assert Annotation.objects.filter(project=project).count() == 1
    task = Task.objects.get(pk=assignment.task_id)
    assert (task.annotation_count, task.reserved_count) == (1, 1)
    assert_counters_exact(project)


def test_bulk_accept_racing_single_accepts_records_one_accept_per_annotation():
    actor, project, experts = workspace(experts=5, task_count=1, overlap=5)
    annotations = [submit_next(expert, project) for expert in experts]
    ids = [a.public_id for a in annotations]

    outcomes = race(
        lambda: review.annotations_accept_bulk(actor=actor, project=project, annotation_ids=ids),
        *[lambda a=a: review.annotation_accept(actor=actor, annotation=a) for a in annotations],
        lambda: review.annotation_accept(actor=actor, annotation=annotations[0]),
    )

    bulk, *singles = outcomes
    assert isinstance(bulk, int), outcomes
    assert 0 <= bulk <= 5
    assert all(isinstance(o, Annotation) for o in singles), outcomes
    for annotation in annotations:
        reviews = AnnotationReview.objects.filter(annotation=annotation)
        assert list(reviews.values_list("decision", flat=True)) == [ReviewDecision.ACCEPT]
    assert set(Annotation.objects.filter(project=project).values_list("status", flat=True)) == {
        AnnotationStatus.ACCEPTED
    }
    # The bulk call accepted exactly those the single accepts had not already taken.
    assert AnnotationReview.objects.filter(annotation__project=project).count() == 5


# The claim reads the dispatch index -----------------------------------------------------------


def _many_tasks(project, count: int) -> None:
    data = task_type_for(project.task_type).example_input()
    Task.objects.bulk_create(
        (
            Task(
                project=project,
                external_id=f"bulk-{n}",
                data=data,
                priority=1 if n % 4 == 0 else 0,
            )
            for n in range(count)
        ),
        batch_size=5000,
    )


@pytest.mark.parametrize(
    ("order", "index"),
    [
        (DispatchOrder.DEPTH, "task_dispatch_depth"),
        (DispatchOrder.BREADTH, "task_dispatch_breadth"),
    ],
)
def test_the_claim_query_scans_the_dispatch_index_not_the_tasks(order, index, capsys):
    _, project, experts = workspace(experts=4, task_count=1, overlap=3, dispatch_order=order)
    _many_tasks(project, 20_000)
    # A running project: three tasks with two answers, two more with one.
    for expert, count in ((experts[0], 5), (experts[1], 3)):
        for _ in range(count):
            submit_next(expert, project)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE projects_task")
        cursor.execute(f"ANALYZE {Assignment._meta.db_table}")

    with CaptureQueriesContext(connection) as queries:
        assignment = dispatch.task_claim(expert=experts[3], project=project)
    assert assignment is not None

    claims = [
        q["sql"] for q in queries if "SKIP LOCKED" in q["sql"] and "projects_task" in q["sql"]
    ]
    assert len(claims) == 1, [q["sql"] for q in queries]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + claims[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    with capsys.disabled():
        print(f"\n{order} claim ({len(queries)} queries):\n{claims[0]}\n{plan}")  # noqa: T201
    # An index scan (or an index-only scan of the depth-first window) of the dispatch index.
    assert re.search(rf"Index (Only )?Scan using {index} on projects_task", plan), plan
    assert "Seq Scan on projects_task" not in plan, plan
    # No statement of the claim reads the whole task table either.
    with connection.cursor() as cursor:
        for sql in (q["sql"] for q in queries):
            if sql.lstrip().upper().startswith("SELECT"):
                cursor.execute("EXPLAIN " + sql)
                other = "\n".join(row[0] for row in cursor.fetchall())
                assert "Seq Scan on projects_task" not in other, (sql, other)
    # Depth first finishes a task with two answers; breadth first starts a fresh one.
    task = Task.objects.get(pk=assignment.task_id)
    assert task.reserved_count == (3 if order == DispatchOrder.DEPTH else 1)


def test_a_claim_never_comes_back_empty_while_tasks_have_room():
    """Claimers racing on the front of the queue: a task filled between the window's read
    and the lock is passed over for the next one, never answered with "nothing left"."""
    _, project, experts = workspace(experts=24, task_count=300, overlap=3)

    def work(expert):
        def run():
            empty = 0
            for _ in range(8):
                lease = dispatch.task_claim(expert=expert, project=project)
                if lease is None:
                    empty += 1
                    continue
                dispatch.annotation_submit(expert=expert, assignment=lease, result=answer(project))
            return empty

        return run

    outcomes = race(*(work(expert) for expert in experts))

    assert outcomes == [0] * len(experts), outcomes
    assert Annotation.objects.filter(project=project).count() == 24 * 8
    assert_counters_exact(project)
