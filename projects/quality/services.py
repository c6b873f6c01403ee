"""The quality run of a project, gold grading, and the quality pause (DESIGN.md, flow 6).

One run (``project_quality_refresh``) reads the project's answers once and computes every
measure from arrays: gold scores, agreement per question, the reliability-weighted consensus
of each item, calibration, behaviour signals, the pause rule, adaptive overlap, and the
experts' per-domain records. It is idempotent: it recomputes from the rows, so running it
twice (a retried Celery task) changes nothing the second time.
"""

from __future__ import annotations

import gc
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from time import perf_counter
from typing import Any

import numpy as np
import orjson
from django.db import connection, transaction
from django.db.models import (
    Avg,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Least
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput, PermissionDenied
from marketplace.models import User
from marketplace.services import audit_record, notification_create
from projects.access import LabActor, lab_audit_record
from projects.models import (
    Annotation,
    ExpertDomainRecord,
    GoldAnswer,
    Project,
    ProjectMember,
    Task,
)
from projects.quality import metrics, scoring
from projects.quality.models import ProjectQuality, TaskConsensus
from projects.states import AnnotationStatus, BehaviourFlag, MemberStatus, TaskStatus
from projects.task_types import task_type_for
from projects.task_types.base import Question, TaskType

# A lab's "recompute now" runs in the request up to this many answers; beyond, in the worker.
INLINE_REFRESH_MAX_ANSWERS = 20_000
# Answers arriving within this many seconds go into one run (the task waits this long).
QUALITY_BATCH_SECONDS = 60
# Behaviour signals.
FAST_SHARE = 0.25  # active time below this share of the project's median
FAST_MIN_MEDIAN_SECONDS = 10  # no speed signal while the median itself is tiny
REPEAT_RUN = 10  # the same primary answer this many times in a row
PASTED_SHARE = 0.8  # a written answer at least this much pasted in
PASTED_MIN_CHARS = 200
HISTOGRAM_BINS = 10
WRITE_BATCH = 2000
# Pseudo-answers on the diagonal of every expert's confusion matrix: with a few dozen answers
# per expert the full matrix overfits; this pulls it toward "usually right".
DS_DIAGONAL_PRIOR = 2.0


# Marking a project for a run ------------------------------------------------------------


def project_quality_mark_stale(*, project: Project) -> None:
    """New evidence arrived (an answer, an edit, a review): queue one run for the batch.

    Only the first answer since the last run queues it (the flag is set once), and the run
    waits QUALITY_BATCH_SECONDS, so a busy project runs about once a minute, not per answer.
    """
    from projects.tasks import refresh_project_quality

    if Project.objects.filter(pk=project.pk, quality_stale_at__isnull=True).update(
        quality_stale_at=timezone.now()
    ):
        project_id = project.pk
        transaction.on_commit(
            lambda: refresh_project_quality.apply_async(
                (project_id,), countdown=QUALITY_BATCH_SECONDS
            ),
            robust=True,
        )


def project_quality_recompute(*, project: Project) -> ProjectQuality | None:
    """A lab asked for fresh figures: recompute now when the project is small enough to do it
    within the request, else queue the run for the worker (and return None)."""
    if Annotation.objects.filter(project=project).count() <= INLINE_REFRESH_MAX_ANSWERS:
        return project_quality_refresh(project=project)
    from projects.tasks import refresh_project_quality

    project_id = project.pk
    transaction.on_commit(lambda: refresh_project_quality.delay(project_id), robust=True)
    return None


# Gold grading of free text ---------------------------------------------------------------


def gold_grade(*, actor: LabActor, annotation: Annotation, score_percent: Any) -> Annotation:
    """The lab grades an answer to a free-text gold task (0–100%)."""
    actor.require_manager("grade gold answers")
    try:
        percent = int(str(score_percent).strip())
    except ValueError:
        raise InvalidInput(
            "Give the grade as a whole number from 0 to 100.", field="score"
        ) from None
    if not 0 <= percent <= 100:
        raise InvalidInput("The grade must be between 0 and 100.", field="score")
    with transaction.atomic():
        locked = (
            Annotation.objects.select_for_update(of=("self",))
            .select_related("project", "task")
            .get(pk=annotation.pk, project__organization=actor.organization)
        )
        if not locked.task.is_gold:
            raise Conflict("Only answers to gold tasks are graded.")
        if task_type_for(locked.project.task_type).gold_grading != "graded":
            raise Conflict("Answers of this task type are scored against gold automatically.")
        before = locked.gold_score
        locked.gold_score = percent / 100
        locked.gold_graded_by = actor.user
        locked.save(update_fields=["gold_score", "gold_graded_by", "updated_at"])
        lab_audit_record(
            actor=actor,
            action="annotation.gold_grade",
            target=locked,
            before={"gold_score": before},
            after={"gold_score": locked.gold_score},
        )
        project_quality_mark_stale(project=locked.project)
    return locked


# Staff lift a pause ----------------------------------------------------------------------


def member_pause_lift(*, actor: User, member: ProjectMember, note: str = "") -> ProjectMember:
    """Staff let a paused expert work again. The pause rule then judges only the gold
    answers given after the lift."""
    if not actor.is_staff:
        raise PermissionDenied("Only staff can lift a quality pause.")
    note = " ".join(note.split())[:300]
    with transaction.atomic():
        locked = (
            ProjectMember.objects.select_for_update(of=("self",))
            .select_related("project", "expert")
            .get(pk=member.pk)
        )
        if locked.status != MemberStatus.PAUSED:
            raise Conflict("This expert is not paused on this project.")
        before = {"status": locked.status, "reason": locked.status_reason}
        now = timezone.now()
        locked.status = MemberStatus.ACTIVE
        locked.status_reason = ""
        locked.quality_paused = False
        locked.pause_lifted_at = now
        locked.pause_lifted_by = actor
        locked.save(
            update_fields=[
                "status",
                "status_reason",
                "quality_paused",
                "pause_lifted_at",
                "pause_lifted_by",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            action="project_member.pause_lift",
            target=locked,
            organization=locked.project.organization,
            before=before,
            after={"status": locked.status, **({"note": note} if note else {})},
        )
        notification_create(
            recipient=locked.expert,
            kind="quality.resumed",
            text=f"You can work on “{locked.project.title}” again."
            + (f" Staff note: {note}" if note else ""),
            link="/expert/quality/",
        )
    return locked


def _member_pause(member: ProjectMember, project: Project, reason: str, now: datetime) -> bool:
    """Pause an active member for quality (a no-op when something else changed it)."""
    paused = ProjectMember.objects.filter(pk=member.pk, status=MemberStatus.ACTIVE).update(
        status=MemberStatus.PAUSED,
        status_reason=reason,
        quality_paused=True,
        paused_at=now,
        updated_at=now,
    )
    if paused:
        audit_record(
            actor=None,
            action="project_member.quality_pause",
            target=member,
            organization=project.organization,
            before={"status": MemberStatus.ACTIVE},
            after={"status": MemberStatus.PAUSED, "reason": reason},
        )
        notification_create(
            recipient=member.expert,
            kind="quality.paused",
            text=f"Your work on “{project.title}” is paused. {reason}",
            link="/expert/quality/",
        )
    return bool(paused)


# The run ---------------------------------------------------------------------------------


@dataclass
class _Rows:
    """The project's answers that count (not rejected), as parallel lists."""

    ids: list[int] = field(default_factory=list)
    task_ids: list[int] = field(default_factory=list)
    experts: list[int] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    confidence: list[int] = field(default_factory=list)
    seconds: list[int] = field(default_factory=list)
    pasted: list[int] = field(default_factory=list)
    gold: list[bool] = field(default_factory=list)
    gold_score: list[float | None] = field(default_factory=list)
    old_agreement: list[float | None] = field(default_factory=list)
    old_flags: list[list[str]] = field(default_factory=list)


def _load(project: Project) -> _Rows:
    rows = _Rows()
    # JSON comes as text and is decoded with orjson: several times faster than the ORM's
    # per-row decoding, which dominates the load on a large project.
    query = (
        Annotation.objects.filter(project=project)
        .exclude(status=AnnotationStatus.REJECTED)
        .order_by("expert_id", "submitted_at", "id")
        .annotate(
            result_text=Cast("result", TextField()),
            flags_text=Cast("behaviour_flags", TextField()),
        )
        .values_list(
            "id",
            "task_id",
            "expert_id",
            "result_text",
            "confidence",
            "time_spent_seconds",
            "pasted_chars",
            "task__is_gold",
            "gold_score",
            "consensus_agreement",
            "flags_text",
        )
    )
    for row in query.iterator(chunk_size=5000):
        rows.ids.append(row[0])
        rows.task_ids.append(row[1])
        rows.experts.append(row[2])
        rows.results.append(orjson.loads(row[3]))
        rows.confidence.append(row[4])
        rows.seconds.append(row[5])
        rows.pasted.append(row[6])
        rows.gold.append(row[7])
        rows.gold_score.append(row[8])
        rows.old_agreement.append(row[9])
        flags_text = row[10]
        rows.old_flags.append(orjson.loads(flags_text) if flags_text and flags_text != "[]" else [])
    return rows


def _score_gold(
    project: Project, task_type: TaskType, settings: dict[str, Any], rows: _Rows
) -> dict[int, float]:
    """Scores of the gold answers the type scores itself, recomputed (an answer may have
    been edited, a gold answer corrected); returns {annotation id: new score} of changes."""
    if task_type.gold_grading != "auto":
        return {}
    positions = [index for index, is_gold in enumerate(rows.gold) if is_gold]
    if not positions:
        return {}
    gold_answers = dict(
        GoldAnswer.objects.filter(task__project=project).values_list("task_id", "answer")
    )
    changed: dict[int, float] = {}
    for index in positions:
        expected = gold_answers.get(rows.task_ids[index])
        if expected is None:
            continue
        score = round(
            float(task_type.score_against_gold(rows.results[index], expected, settings)), 4
        )
        score = min(1.0, max(0.0, score))
        if rows.gold_score[index] != score:
            changed[rows.ids[index]] = score
            rows.gold_score[index] = score
    return changed


@dataclass
class _Question:
    question: Question
    domain: list[Any]
    positions: np.ndarray  # indexes into the regular answers
    codes: np.ndarray


def _key(value: Any) -> Any:
    """A dictionary key for an answer value (lists and mappings by their text)."""
    return value if isinstance(value, str | int | float) else repr(value)


def _codes(question: Question, values: list[Any]) -> _Question:
    present = [index for index, value in enumerate(values) if value is not None]
    distinct = {_key(values[index]): values[index] for index in present}
    try:
        domain = sorted(distinct.values())
    except TypeError:
        domain = sorted(distinct.values(), key=repr)
    position = {_key(value): code for code, value in enumerate(domain)}
    return _Question(
        question=question,
        domain=domain,
        positions=np.asarray(present, dtype=np.int64),
        codes=np.asarray([position[_key(values[index])] for index in present], dtype=np.int64),
    )


def _numeric_domain(entry: _Question) -> np.ndarray | None:
    if entry.question.kind == "nominal":
        return None
    if all(
        isinstance(value, int | float) and not isinstance(value, bool) for value in entry.domain
    ):
        return np.asarray(entry.domain, dtype=float)
    return None


def _closeness(entry: _Question) -> Callable[[int, int], float]:
    """How close an answer is to the consensus: equal or not on a nominal question; on an
    ordered scale, 1 − the distance over the width of the scale the answers used."""
    values = _numeric_domain(entry)
    if values is None or values.max() == values.min():
        return lambda code, consensus: float(code == consensus)
    width = float(values.max() - values.min())
    return lambda code, consensus: round(
        float(1 - abs(values[code] - values[consensus]) / width), 4
    )


def _histogram(values: list[float]) -> list[dict[str, float]]:
    counts = np.histogram(np.clip(values, 0, 1), bins=HISTOGRAM_BINS, range=(0, 1))[0]
    return [
        {"low": number / HISTOGRAM_BINS, "high": (number + 1) / HISTOGRAM_BINS, "n": int(count)}
        for number, count in enumerate(counts)
    ]


def _rounded(value: float | None, digits: int = 4) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return round(float(value), digits)


@dataclass
class _Consensus:
    figures: dict[str, Any]
    questions: list[dict[str, Any]]
    agreement_by_row: dict[int, float]  # regular row index → agreement with consensus
    peer_by_row: dict[int, float]
    reliability: dict[int, float]  # expert id → estimated reliability
    primary_codes: dict[int, int]  # row index → code of the primary answer
    consensus_rows: list[TaskConsensus]


def _consensus(
    project: Project, task_type: TaskType, settings: dict[str, Any], rows: _Rows, regular: list[int]
) -> _Consensus:
    questions = task_type.questions(settings)
    item_ids = sorted({rows.task_ids[index] for index in regular})
    item_of = {task_id: position for position, task_id in enumerate(item_ids)}
    expert_ids = sorted({rows.experts[index] for index in regular})
    expert_of = {expert_id: position for position, expert_id in enumerate(expert_ids)}
    items = np.asarray([item_of[rows.task_ids[index]] for index in regular], dtype=np.int64)
    experts = np.asarray([expert_of[rows.experts[index]] for index in regular], dtype=np.int64)
    answers = [task_type.answers(rows.results[index], settings) for index in regular]
    n_items = len(item_ids)

    question_figures: list[dict[str, Any]] = []
    entries: list[_Question] = []
    for question in questions:
        entry = _codes(question, [answer.get(question.key) for answer in answers])
        entries.append(entry)
        counts = metrics.value_counts(
            items[entry.positions], entry.codes, n_items, max(len(entry.domain), 1)
        )
        answered = counts.sum(axis=1)
        question_figures.append(
            {
                "key": question.key,
                "label": question.label,
                "kind": question.kind,
                "alpha": _rounded(metrics.alpha(counts, question.kind, _numeric_domain(entry))),
                "pairwise": _rounded(metrics.pairwise_agreement(counts)),
                "items": int((answered >= 2).sum()),
                "answers": len(entry.codes),
            }
        )

    result = _Consensus(
        figures={
            "items": n_items,
            "confident": 0,
            "low_confidence": 0,
            "majority_differs": 0,
            "mean_confidence": None,
        },
        questions=question_figures,
        agreement_by_row={},
        peer_by_row={},
        reliability={},
        primary_codes={},
        consensus_rows=[],
    )
    if not entries or len(entries[0].codes) == 0:
        return result

    primary = entries[0]
    p_items = items[primary.positions]
    p_experts = experts[primary.positions]
    n_values = len(primary.domain)
    fitted = metrics.dawid_skene(
        p_items,
        p_experts,
        primary.codes,
        n_items=n_items,
        n_experts=len(expert_ids),
        n_values=n_values,
        diagonal_prior=DS_DIAGONAL_PRIOR,
    )
    counts = metrics.value_counts(p_items, primary.codes, n_items, n_values)
    majority, _share = metrics.majority_vote(counts)
    item_agreement = metrics.item_agreement(counts)
    peers = metrics.peer_agreement(p_items, primary.codes, counts)
    answered = counts.sum(axis=1)
    threshold = project.consensus_threshold_percent / 100
    multi = answered >= 2
    result.figures.update(
        {
            "confident": int(((fitted.confidence >= threshold) & multi).sum()),
            "low_confidence": int(((fitted.confidence < threshold) & multi).sum()),
            "majority_differs": int(((fitted.labels != majority) & multi).sum()),
            "mean_confidence": _rounded(
                float(fitted.confidence[multi].mean()) if multi.any() else None
            ),
        }
    )
    result.reliability = {
        expert_ids[position]: float(value)
        for position, value in enumerate(fitted.reliability)
        if not np.isnan(value)
    }
    closeness = _closeness(primary)
    for offset, position in enumerate(primary.positions.tolist()):
        row = regular[position]
        code = int(primary.codes[offset])
        result.primary_codes[row] = code
        item = int(p_items[offset])
        if multi[item]:
            result.agreement_by_row[row] = closeness(code, int(fitted.labels[item]))
            result.peer_by_row[row] = float(peers[offset])

    # The other questions: votes weighted by the experts' reliability on the primary one.
    other_winners: list[tuple[_Question, np.ndarray, np.ndarray]] = []
    for entry in entries[1:]:
        if len(entry.codes) == 0:
            continue
        winners, _weighted = metrics.weighted_vote(
            items[entry.positions],
            experts[entry.positions],
            entry.codes,
            fitted.reliability,
            n_items=n_items,
            n_values=len(entry.domain),
        )
        has = np.bincount(items[entry.positions], minlength=n_items) > 0
        other_winners.append((entry, winners, has))

    labels = fitted.labels.tolist()
    majorities = majority.tolist()
    confidences = np.round(fitted.confidence, 4).tolist()
    agreements = [
        None if np.isnan(value) else value for value in np.round(item_agreement, 4).tolist()
    ]
    counts_per_item = answered.tolist()
    others = [
        (entry.question.key, entry.domain, winners.tolist(), has.tolist())
        for entry, winners, has in other_winners
    ]
    for item, task_id in enumerate(item_ids):
        if counts_per_item[item] == 0:
            continue
        values = {primary.question.key: primary.domain[labels[item]]}
        for key, domain, winners, has in others:
            values[key] = domain[winners[item]] if has[item] else None
        result.consensus_rows.append(
            TaskConsensus(
                task_id=task_id,
                project=project,
                answers=values,
                majority=primary.domain[majorities[item]],
                confidence=confidences[item],
                agreement=agreements[item],
                annotations=counts_per_item[item],
            )
        )
    return result


def _behaviour(
    task_type: TaskType, rows: _Rows, primary_codes: dict[int, int]
) -> tuple[list[list[str]], float | None]:
    """Each answer's behaviour flags, and the project's median active time."""
    timed = [seconds for seconds in rows.seconds if seconds > 0]
    median = float(statistics.median(timed)) if timed else None
    flags: list[list[str]] = [[] for _ in rows.ids]
    if median is not None and median >= FAST_MIN_MEDIAN_SECONDS:
        for index, seconds in enumerate(rows.seconds):
            if 0 < seconds < FAST_SHARE * median:
                flags[index].append(BehaviourFlag.FAST)
    # Runs of the same primary answer, per expert in the order they answered (rows are
    # sorted by expert, then submission time).
    by_expert: dict[int, list[int]] = defaultdict(list)
    for index in range(len(rows.ids)):
        if index in primary_codes:
            by_expert[rows.experts[index]].append(index)
    for indexes in by_expert.values():
        if len(indexes) < REPEAT_RUN:
            continue
        marked = metrics.repeat_runs(np.asarray([primary_codes[i] for i in indexes]), REPEAT_RUN)
        for index, is_marked in zip(indexes, marked.tolist(), strict=True):
            if is_marked:
                flags[index].append(BehaviourFlag.REPEAT)
    if task_type.written_field:
        for index, result in enumerate(rows.results):
            text = result.get(task_type.written_field) or ""
            if len(text) >= PASTED_MIN_CHARS and rows.pasted[index] >= PASTED_SHARE * len(text):
                flags[index].append(BehaviourFlag.PASTED)
    return [[str(flag) for flag in row] for row in flags], median


def _write_annotations(
    rows: _Rows, gold_changes: dict[int, float], agreement: dict[int, float], flags: list[list[str]]
) -> int:
    """Save the changed per-answer figures; returns how many rows changed."""
    changed: list[Annotation] = []
    for index, annotation_id in enumerate(rows.ids):
        new_agreement = agreement.get(index)
        if (
            annotation_id in gold_changes
            or new_agreement != rows.old_agreement[index]
            or flags[index] != rows.old_flags[index]
        ):
            changed.append(
                Annotation(
                    pk=annotation_id,
                    gold_score=rows.gold_score[index],
                    consensus_agreement=new_agreement,
                    behaviour_flags=flags[index],
                )
            )
    if connection.vendor == "postgresql":
        _update_annotations_postgres(changed)
    else:
        for start in range(0, len(changed), WRITE_BATCH):
            Annotation.objects.bulk_update(
                changed[start : start + WRITE_BATCH],
                ["gold_score", "consensus_agreement", "behaviour_flags"],
            )
    return len(changed)


def _update_annotations_postgres(changed: list[Annotation]) -> None:
    """One UPDATE … FROM (VALUES …) per batch: ``bulk_update``'s CASE expressions cost a
    millisecond a row in Python, which a first run over 300,000 answers cannot afford."""
    from psycopg2.extras import execute_values

    table = Annotation._meta.db_table
    statement = (
        f"UPDATE {table} AS a SET gold_score = v.gold_score, "  # noqa: S608 - our table name
        "consensus_agreement = v.agreement, behaviour_flags = v.flags "
        "FROM (VALUES %s) AS v(id, gold_score, agreement, flags) WHERE a.id = v.id"
    )
    values = [
        (
            row.pk,
            row.gold_score,
            row.consensus_agreement,
            orjson.dumps(row.behaviour_flags).decode(),
        )
        for row in changed
    ]
    with connection.cursor() as cursor:
        execute_values(
            cursor.cursor,
            statement,
            values,
            template="(%s, %s::float8, %s::float8, %s::jsonb)",
            page_size=WRITE_BATCH,
        )


def _write_consensus(project: Project, consensus_rows: list[TaskConsensus]) -> int:
    """Save the items' consensus that changed since the last run; returns how many."""
    # Items whose every answer was rejected since have no consensus any more.
    TaskConsensus.objects.filter(project=project, task__annotation_count=0).delete()
    stored = {
        row[0]: row[1:]
        for row in TaskConsensus.objects.filter(project=project)
        .annotate(
            answers_text=Cast("answers", TextField()), majority_text=Cast("majority", TextField())
        )
        .values_list(
            "task_id", "answers_text", "majority_text", "confidence", "agreement", "annotations"
        )
        .iterator(chunk_size=10_000)
    }
    changed = []
    for row in consensus_rows:
        old = stored.get(row.task_id)
        if old is None or (
            orjson.loads(old[0]),
            orjson.loads(old[1]) if old[1] is not None else None,
            *old[2:],
        ) != (row.answers, row.majority, row.confidence, row.agreement, row.annotations):
            changed.append(row)
    for start in range(0, len(changed), WRITE_BATCH):
        TaskConsensus.objects.bulk_create(
            changed[start : start + WRITE_BATCH],
            update_conflicts=True,
            unique_fields=["task"],
            update_fields=[
                "answers",
                "majority",
                "confidence",
                "agreement",
                "annotations",
                "updated_at",
            ],
        )
    return len(changed)


def _pause_rule(project: Project, rows: _Rows, now: datetime) -> list[int]:
    """Pause the active members whose gold accuracy on the project is, with confidence,
    below the project's minimum; returns the paused experts' ids."""
    members = list(
        ProjectMember.objects.filter(project=project, status=MemberStatus.ACTIVE).select_related(
            "expert"
        )
    )
    if not members:
        return []
    lifted = {
        member.expert_id: member.pause_lifted_at for member in members if member.pause_lifted_at
    }
    since_lift: dict[int, set[int]] = {}
    if lifted:
        for expert_id, lifted_at in lifted.items():
            since_lift[expert_id] = set(
                Annotation.objects.filter(
                    project=project,
                    expert_id=expert_id,
                    task__is_gold=True,
                    submitted_at__gt=lifted_at,
                ).values_list("id", flat=True)
            )
    tally: dict[int, list[float]] = defaultdict(list)
    for index, annotation_id in enumerate(rows.ids):
        score = rows.gold_score[index]
        if not rows.gold[index] or score is None:
            continue
        expert_id = rows.experts[index]
        if expert_id in since_lift and annotation_id not in since_lift[expert_id]:
            continue
        tally[expert_id].append(score)
    threshold = project.min_gold_accuracy_percent / 100
    paused: list[int] = []
    for member in members:
        scores = tally.get(member.expert_id, [])
        if scoring.should_pause(
            score_sum=sum(scores),
            n=len(scores),
            threshold=threshold,
            min_gold=project.min_gold_tasks,
        ):
            accuracy = sum(scores) / len(scores)
            reason = (
                f"Your gold accuracy on this project is {accuracy:.0%} over {len(scores)} gold "
                f"tasks, below the project's minimum of {threshold:.0%}."
            )
            if _member_pause(member, project, reason, now):
                paused.append(member.expert_id)
    return paused


def _adaptive_overlap(project: Project, consensus_rows: list[TaskConsensus]) -> None:
    """Ask for more answers on items still unsettled at their overlap, and (with
    ``stop_early``) stop asking on items settled before it."""
    if not project.adaptive_overlap:
        return
    threshold = project.consensus_threshold_percent / 100
    ceiling = max(project.max_overlap, project.overlap)
    unsettled = [
        row.task_id
        for row in consensus_rows
        if row.confidence < threshold and row.annotations < ceiling
    ]
    settled = [
        row.task_id
        for row in consensus_rows
        if row.confidence >= threshold and row.annotations >= 2
    ]
    target = Coalesce("target_overlap", Value(project.overlap))
    for start in range(0, len(unsettled), WRITE_BATCH):
        chunk = unsettled[start : start + WRITE_BATCH]
        # Done at its target (or the overlap): one more answer, up to the ceiling.
        Task.objects.filter(pk__in=chunk, is_gold=False, annotation_count__gte=target).update(
            target_overlap=Least(F("annotation_count") + 1, ceiling), status=TaskStatus.OPEN
        )
    if project.stop_early:
        for start in range(0, len(settled), WRITE_BATCH):
            chunk = settled[start : start + WRITE_BATCH]
            # Only items nobody is working on: a live lease keeps its slot.
            Task.objects.filter(
                pk__in=chunk,
                is_gold=False,
                status=TaskStatus.OPEN,
                reserved_count=F("annotation_count"),
                annotation_count__lt=target,
            ).update(target_overlap=F("annotation_count"), status=TaskStatus.COMPLETED)


def _adaptive_figures(project: Project) -> dict[str, Any]:
    extra = Task.objects.filter(project=project, is_gold=False, target_overlap__gt=project.overlap)
    early = Task.objects.filter(project=project, is_gold=False, target_overlap__lt=project.overlap)
    added = extra.filter(annotation_count__gt=project.overlap).aggregate(
        n=Sum(F("annotation_count") - project.overlap)
    )["n"]
    saved = early.filter(status=TaskStatus.COMPLETED).aggregate(
        n=Sum(project.overlap - F("annotation_count"))
    )["n"]
    return {
        "enabled": project.adaptive_overlap,
        "extra_requested": extra.count(),
        "stopped_early": early.filter(status=TaskStatus.COMPLETED).count(),
        "annotations_added": int(added or 0),
        "annotations_saved": int(saved or 0),
    }


def _expert_figures(
    rows: _Rows,
    consensus: _Consensus,
    flags: list[list[str]],
    paused: set[int],
) -> tuple[list[dict[str, Any]], dict[str, Any], list[float]]:
    by_expert: dict[int, list[int]] = defaultdict(list)
    for index, expert_id in enumerate(rows.experts):
        by_expert[expert_id].append(index)
    experts: list[dict[str, Any]] = []
    all_conf: list[float] = []
    all_outcome: list[float] = []
    accuracies: list[float] = []
    for expert_id, indexes in sorted(by_expert.items()):
        gold: list[tuple[float, float]] = [
            (rows.confidence[i] / 100, score)
            for i in indexes
            if rows.gold[i] and (score := rows.gold_score[i]) is not None
        ]
        fit = metrics.calibration(
            np.asarray([c for c, _ in gold]), np.asarray([o for _, o in gold])
        )
        all_conf += [c for c, _ in gold]
        all_outcome += [o for _, o in gold]
        accuracy = sum(o for _, o in gold) / len(gold) if gold else None
        if accuracy is not None:
            accuracies.append(accuracy)
        agree = [consensus.agreement_by_row[i] for i in indexes if i in consensus.agreement_by_row]
        peers = [consensus.peer_by_row[i] for i in indexes if i in consensus.peer_by_row]
        timed = [rows.seconds[i] for i in indexes if rows.seconds[i] > 0]
        counts = {flag.value: 0 for flag in BehaviourFlag}
        for i in indexes:
            for flag in flags[i]:
                counts[flag] += 1
        experts.append(
            {
                "expert_id": expert_id,
                "annotations": len(indexes),
                "gold_n": len(gold),
                "gold_accuracy": _rounded(accuracy),
                "peer_agreement": _rounded(sum(peers) / len(peers) if peers else None),
                "consensus_agreement": _rounded(sum(agree) / len(agree) if agree else None),
                "reliability": _rounded(consensus.reliability.get(expert_id)),
                "brier": _rounded(fit.brier),
                "ece": _rounded(fit.ece),
                "median_seconds": float(statistics.median(timed)) if timed else None,
                "flags": counts,
                "paused": expert_id in paused,
            }
        )
    overall = metrics.calibration(np.asarray(all_conf), np.asarray(all_outcome))
    calibration = {
        "n": overall.n,
        "brier": _rounded(overall.brier),
        "ece": _rounded(overall.ece),
        "bins": [
            {
                key: _rounded(value) if isinstance(value, float) else value
                for key, value in row.items()
            }
            for row in overall.bins
        ],
    }
    return experts, calibration, accuracies


def project_quality_refresh(*, project: Project) -> ProjectQuality:
    """Recompute every quality figure of the project from its answers (see module doc)."""
    # The run holds a few hundred thousand small objects for a short while: the cyclic
    # garbage collector would walk them over and over for nothing (no cycles are made).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _refresh(project)
    finally:
        if collecting:
            gc.enable()


def _refresh(project: Project) -> ProjectQuality:
    started = perf_counter()
    now = timezone.now()
    Project.objects.filter(pk=project.pk).update(quality_stale_at=None)
    task_type = task_type_for(project.task_type)
    settings = task_type.settings_with_defaults(project.task_settings)
    rows = _load(project)
    gold_changes = _score_gold(project, task_type, settings, rows)
    regular = [index for index, is_gold in enumerate(rows.gold) if not is_gold]
    consensus = _consensus(project, task_type, settings, rows, regular)
    flags, median = _behaviour(task_type, rows, consensus.primary_codes)
    with transaction.atomic():
        _write_annotations(rows, gold_changes, consensus.agreement_by_row, flags)
        _write_consensus(project, consensus.consensus_rows)
        newly_paused = _pause_rule(project, rows, now)
        _adaptive_overlap(project, consensus.consensus_rows)
    paused = set(
        ProjectMember.objects.filter(project=project, status=MemberStatus.PAUSED).values_list(
            "expert_id", flat=True
        )
    )
    experts, calibration, accuracies = _expert_figures(rows, consensus, flags, paused)
    flag_totals = {flag.value: sum(flag.value in row for row in flags) for flag in BehaviourFlag}
    figures = {
        "computed_at": now.isoformat(),
        "annotations": len(rows.ids),
        "items": consensus.figures["items"],
        "median_seconds": median,
        "questions": consensus.questions,
        "primary": consensus.questions[0]["key"] if consensus.questions else None,
        "consensus": consensus.figures,
        "calibration": calibration,
        "gold_histogram": _histogram(accuracies),
        "experts": experts,
        "flags": flag_totals,
        "adaptive": _adaptive_figures(project),
        "newly_paused": len(newly_paused),
    }
    _domain_records_refresh(
        expert_ids=sorted(set(rows.experts)), domain_id=project.domain_id, now=now
    )
    seconds = round(perf_counter() - started, 3)
    figures["seconds"] = seconds
    quality, _created = ProjectQuality.objects.update_or_create(
        project=project,
        defaults={
            "figures": figures,
            "annotations": len(rows.ids),
            "computed_at": now,
            "seconds": seconds,
        },
    )
    return quality


# Per-expert, per-domain records --------------------------------------------------------

_error = Cast(F("confidence"), output_field=FloatField()) / 100.0 - F("gold_score")
_squared_error = ExpressionWrapper(_error * _error, output_field=FloatField())


def _domain_records_refresh(*, expert_ids: list[int], domain_id: int, now: datetime) -> None:
    """Recompute the experts' records in the domain from all their answers in it (every
    project of the domain), and their quality scores. Two aggregate queries and one write."""
    if not expert_ids:
        return
    scope = Annotation.objects.filter(expert_id__in=expert_ids, project__domain_id=domain_id)
    counted = ~Q(status=AnnotationStatus.REJECTED)
    totals = {
        row["expert_id"]: row
        for row in scope.values("expert_id").annotate(
            answers=Count("id", filter=counted),
            gold_n=Count("id", filter=counted & Q(gold_score__isnull=False)),
            gold_sum=Sum("gold_score", filter=counted & Q(gold_score__isnull=False)),
            agree_n=Count("id", filter=counted & Q(consensus_agreement__isnull=False)),
            agree_sum=Sum(
                "consensus_agreement", filter=counted & Q(consensus_agreement__isnull=False)
            ),
            accepted=Count("id", filter=Q(status=AnnotationStatus.ACCEPTED)),
            rejected=Count("id", filter=Q(status=AnnotationStatus.REJECTED)),
            flagged=Count("id", filter=counted & ~Q(behaviour_flags=[])),
            brier=Avg(_squared_error, filter=counted & Q(gold_score__isnull=False)),
        )
    }
    # Calibration on gold: answers grouped by stated confidence (bins are unions of these).
    bins: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    gold = scope.filter(counted, gold_score__isnull=False)
    for row in (
        gold.values("expert_id", "confidence")
        .annotate(n=Count("id"), outcome=Avg("gold_score"))
        .order_by()
    ):
        bins[row["expert_id"]].append((row["n"], row["confidence"] / 100, float(row["outcome"])))
    records = []
    for expert_id in expert_ids:
        if expert_id not in totals:
            continue
        row = totals[expert_id]
        ece, calibration_n = _ece_from_groups(bins.get(expert_id, []))
        reviewed = row["accepted"] + row["rejected"]
        evidence = {
            "gold": (float(row["gold_sum"] or 0), row["gold_n"]),
            "agreement": (float(row["agree_sum"] or 0), row["agree_n"]),
            "reviews": (float(row["accepted"]), reviewed),
            "calibration": ((1 - ece) * calibration_n if ece is not None else 0.0, calibration_n),
            "behaviour": (float(row["answers"] - row["flagged"]), row["answers"]),
        }
        score, parts = scoring.quality_score(evidence)
        records.append(
            ExpertDomainRecord(
                expert_id=expert_id,
                domain_id=domain_id,
                annotations=row["answers"],
                gold_scored=row["gold_n"],
                gold_score_sum=float(row["gold_sum"] or 0),
                quality_score=score,
                components=parts,
                brier=_rounded(row["brier"]),
                ece=_rounded(ece),
                quality_updated_at=now,
            )
        )
    ExpertDomainRecord.objects.bulk_create(
        records,
        update_conflicts=True,
        unique_fields=["expert", "domain"],
        update_fields=[
            "annotations",
            "gold_scored",
            "gold_score_sum",
            "quality_score",
            "components",
            "brier",
            "ece",
            "quality_updated_at",
            "updated_at",
        ],
    )


def _ece_from_groups(groups: list[tuple[int, float, float]]) -> tuple[float | None, int]:
    """Expected calibration error from (count, confidence, mean outcome) groups of answers
    stated at one confidence: each bin's means are the count-weighted means of its groups."""
    n = sum(count for count, _, _ in groups)
    if n == 0:
        return None, 0
    by_bin: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
    for count, conf, outcome in groups:
        by_bin[min(int(conf * metrics.CALIBRATION_BINS), metrics.CALIBRATION_BINS - 1)].append(
            (count, conf, outcome)
        )
    ece = 0.0
    for members in by_bin.values():
        size = sum(count for count, _, _ in members)
        mean_conf = sum(count * conf for count, conf, _ in members) / size
        mean_outcome = sum(count * outcome for count, _, outcome in members) / size
        ece += size / n * abs(mean_conf - mean_outcome)
    return ece, n
