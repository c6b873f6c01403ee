"""Domain qualification tests: authoring (staff), taking (experts), grading (staff)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from experts.models import (
    Answer,
    Choice,
    DomainQualification,
    QualificationTest,
    Question,
    TestAttempt,
)
from experts.states import AttemptStatus, QuestionKind
from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import User
from marketplace.services import audit_record, notification_create
from marketplace.states import UserRole

# Submissions this long after the deadline still count: the clock of a slow connection.
SUBMISSION_GRACE = timedelta(seconds=60)


def _require_staff(user: User) -> None:
    if not user.is_staff:
        raise NotFound()


# Authoring -----------------------------------------------------------------------------


def qualification_test_save(
    *, staff: User, data: dict[str, Any], test_id: int | None = None
) -> QualificationTest:
    """Create or edit a test's settings (domain, title, limits, pass mark, published)."""
    _require_staff(staff)
    title = " ".join(str(data.get("title") or "").split())
    if not title:
        raise InvalidInput("Give the test a title.", field="title")
    fields = {
        "domain": data["domain"],
        "title": title[:160],
        "instructions": str(data.get("instructions") or ""),
        "time_limit_minutes": int(data["time_limit_minutes"]),
        "pass_mark_percent": int(data["pass_mark_percent"]),
        "cooldown_days": int(data["cooldown_days"]),
        "is_published": bool(data.get("is_published")),
    }
    if fields["cooldown_days"] < 1:
        raise InvalidInput("Wait at least one day between attempts.", field="cooldown_days")
    if not 1 <= fields["pass_mark_percent"] <= 100:
        raise InvalidInput("The pass mark is a percentage from 1 to 100.", "pass_mark_percent")
    with transaction.atomic():
        if test_id is None:
            test = QualificationTest.objects.create(created_by=staff, **fields)
            action = "qualification_test.create"
        else:
            try:
                test = QualificationTest.objects.select_for_update().get(pk=test_id)
            except QualificationTest.DoesNotExist:
                raise NotFound() from None
            for name, value in fields.items():
                setattr(test, name, value)
            test.save()
            action = "qualification_test.update"
        if test.is_published and not test.questions.exists():
            raise InvalidInput("Add questions before publishing the test.", "is_published")
        audit_record(actor=staff, action=action, target=test, after={"title": test.title})
    return test


def question_add(
    *,
    staff: User,
    test_id: int,
    kind: str,
    prompt: str,
    points: int = 1,
    choices: list[tuple[str, bool]] | None = None,
    reference_answer: str = "",
) -> Question:
    """Add a question. Multiple choice needs 2+ options with exactly one correct."""
    _require_staff(staff)
    prompt = prompt.strip()
    if kind not in QuestionKind.values:
        raise InvalidInput("Choose the question type.", field="kind")
    if not prompt:
        raise InvalidInput("Write the question.", field="prompt")
    options = [(text.strip(), correct) for text, correct in (choices or []) if text.strip()]
    if kind == QuestionKind.MULTIPLE_CHOICE:
        if len(options) < 2:
            raise InvalidInput("A multiple-choice question needs at least two options.", "choices")
        if sum(1 for _, correct in options if correct) != 1:
            raise InvalidInput("Mark exactly one option as correct.", field="choices")
    with transaction.atomic():
        try:
            test = QualificationTest.objects.select_for_update().get(pk=test_id)
        except QualificationTest.DoesNotExist:
            raise NotFound() from None
        if test.is_published and test.attempts.exists():
            raise Conflict(
                "Experts have taken this test: changing it would make their scores "
                "incomparable. Create a new version instead."
            )
        question = Question.objects.create(
            test=test,
            kind=kind,
            prompt=prompt,
            points=max(1, int(points)),
            position=test.questions.count(),
            reference_answer=reference_answer.strip(),
        )
        if kind == QuestionKind.MULTIPLE_CHOICE:
            Choice.objects.bulk_create(
                Choice(question=question, text=text[:300], is_correct=correct, position=i)
                for i, (text, correct) in enumerate(options)
            )
        audit_record(
            actor=staff,
            action="qualification_test.question_add",
            target=test,
            after={"question": prompt[:80]},
        )
    return question


# Taking --------------------------------------------------------------------------------


def attempt_next_allowed_at(*, expert: User, test: QualificationTest) -> Any:
    """When the expert may start a test in this test's domain again, or None if they may now.

    The cooldown counts per domain, so a second test in the same domain is no shortcut.
    """
    last = (
        TestAttempt.objects.filter(expert=expert, test__domain_id=test.domain_id)
        .exclude(status=AttemptStatus.IN_PROGRESS)
        .order_by("-started_at")
        .first()
    )
    if last is None:
        return None
    allowed = last.started_at + timedelta(days=test.cooldown_days)
    return allowed if allowed > timezone.now() else None


def attempt_start(*, expert: User, test_id: int) -> TestAttempt:
    """Start (or resume) a timed attempt, one per cooldown period.

    An open attempt whose time ran out is closed (scoring nothing) and returned, finished.
    """
    if expert.role != UserRole.EXPERT or expert.is_staff:
        # Staff can read every answer key in the console, so they never qualify themselves.
        raise PermissionDenied("Only experts who are not staff take qualification tests.")
    with transaction.atomic():
        try:
            test = QualificationTest.objects.select_for_update().get(pk=test_id, is_published=True)
        except QualificationTest.DoesNotExist:
            raise NotFound() from None
        open_attempt = TestAttempt.objects.filter(
            expert=expert, test=test, status=AttemptStatus.IN_PROGRESS
        ).first()
        if open_attempt is not None:
            if timezone.now() > open_attempt.deadline + SUBMISSION_GRACE:
                # Time ran out on an attempt never handed in: close it (it scores nothing) and
                # show its result; the cooldown starts from it.
                _finish(open_attempt, answers={}, late=True)
            return open_attempt
        allowed_at = attempt_next_allowed_at(expert=expert, test=test)
        if allowed_at is not None:
            raise Conflict(
                f"You can take “{test.title}” again from {allowed_at:%Y-%m-%d %H:%M} UTC."
            )
        now = timezone.now()
        try:
            attempt = TestAttempt.objects.create(
                test=test,
                expert=expert,
                started_at=now,
                deadline=now + timedelta(minutes=test.time_limit_minutes),
            )
        except IntegrityError:
            raise Conflict("You already have this test open.") from None
        audit_record(actor=expert, action="qualification_attempt.start", target=attempt)
    return attempt


def attempt_submit(*, expert: User, attempt_id: int, answers: dict[int, str]) -> TestAttempt:
    """Hand in answers: ``{question_id: choice_id or written text}``.

    Multiple choice is scored at once; written answers wait for a staff grader. A submission
    after the deadline (plus a short grace) scores nothing.
    """
    with transaction.atomic():
        try:
            attempt = (
                TestAttempt.objects.select_for_update(of=("self",))
                .select_related("test", "test__domain")
                .get(pk=attempt_id, expert=expert)
            )
        except TestAttempt.DoesNotExist:
            raise NotFound() from None
        if attempt.status != AttemptStatus.IN_PROGRESS:
            raise Conflict("This attempt was already handed in.")
        late = timezone.now() > attempt.deadline + SUBMISSION_GRACE
        _finish(attempt, answers={} if late else answers, late=late)
    return attempt


def _finish(attempt: TestAttempt, *, answers: dict[int, str], late: bool) -> None:
    questions = list(attempt.test.questions.prefetch_related("choices"))
    rows = []
    for question in questions:
        given = str(answers.get(question.pk, "")).strip()
        if question.kind == QuestionKind.MULTIPLE_CHOICE:
            choice = next((c for c in question.choices.all() if str(c.pk) == given), None)
            rows.append(
                Answer(
                    attempt=attempt,
                    question=question,
                    choice=choice,
                    points_awarded=question.points if choice and choice.is_correct else 0,
                )
            )
        else:
            rows.append(
                Answer(
                    attempt=attempt,
                    question=question,
                    text=given[:5000],
                    points_awarded=0 if not given else None,
                )
            )
    Answer.objects.bulk_create(rows)
    attempt.submitted_at = timezone.now()
    if late or all(row.points_awarded is not None for row in rows):
        _score(attempt, rows, questions)
    else:
        attempt.status = AttemptStatus.AWAITING_GRADING
    attempt.save()
    audit_record(
        actor=attempt.expert,
        action="qualification_attempt.submit",
        target=attempt,
        after={"status": attempt.status, "late": late},
    )


def _score(attempt: TestAttempt, rows: list[Answer], questions: list[Question]) -> None:
    total = sum(question.points for question in questions) or 1
    awarded = sum(row.points_awarded or 0 for row in rows)
    attempt.score_percent = round(100 * awarded / total)
    # Compare exact fractions: 69.5% must not round up into a 70% pass mark.
    passed = awarded * 100 >= attempt.test.pass_mark_percent * total
    attempt.status = AttemptStatus.PASSED if passed else AttemptStatus.FAILED
    qualification, created = DomainQualification.objects.select_for_update().get_or_create(
        expert=attempt.expert,
        domain=attempt.test.domain,
        defaults={"best_score_percent": attempt.score_percent, "last_attempt": attempt},
    )
    if not created:
        qualification.best_score_percent = max(
            qualification.best_score_percent, attempt.score_percent
        )
        qualification.last_attempt = attempt
    if passed and not qualification.passed:
        qualification.passed = True
        qualification.passed_at = timezone.now()
        _request_matching()
    qualification.save()


def _request_matching() -> None:
    """A newly vetted expert may fill open seats: ask for a matching run after commit."""
    from projects.matching.services import matching_run_request

    matching_run_request(trigger="expert_vetted")


def attempt_grade(*, staff: User, attempt_id: int, points: dict[int, int]) -> TestAttempt:
    """Grade the written answers (``{answer_id: points}``) and settle the score."""
    _require_staff(staff)
    with transaction.atomic():
        try:
            attempt = (
                TestAttempt.objects.select_for_update(of=("self",))
                .select_related("test", "test__domain", "expert")
                .get(pk=attempt_id)
            )
        except TestAttempt.DoesNotExist:
            raise NotFound() from None
        if attempt.expert_id == staff.pk:
            raise PermissionDenied("You cannot grade your own attempt.")
        if attempt.status != AttemptStatus.AWAITING_GRADING:
            raise Conflict("This attempt is not waiting for grading.")
        rows = list(attempt.answers.select_related("question"))
        for row in rows:
            if row.points_awarded is not None:
                continue
            if row.pk not in points:
                raise InvalidInput("Grade every written answer.", field="points")
            given = int(points[row.pk])
            if not 0 <= given <= row.question.points:
                raise InvalidInput(
                    f"Award between 0 and {row.question.points} points.", field="points"
                )
            row.points_awarded = given
            row.save(update_fields=["points_awarded"])
        questions = [row.question for row in rows]
        _score(attempt, rows, questions)
        attempt.graded_by = staff
        attempt.graded_at = timezone.now()
        attempt.save()
        audit_record(
            actor=staff,
            action="qualification_attempt.grade",
            target=attempt,
            after={"status": attempt.status, "score": attempt.score_percent},
        )
        verdict = "passed" if attempt.status == AttemptStatus.PASSED else "did not pass"
        notification_create(
            recipient=attempt.expert,
            kind="qualification.graded",
            text=f"You {verdict} “{attempt.test.title}” with {attempt.score_percent}%.",
            link=reverse("experts:dashboard"),
        )
    return attempt


def attempt_next_allowed_at_among(
    *, test: QualificationTest, attempts: Iterable[TestAttempt]
) -> datetime | None:
    """The rule of ``attempt_next_allowed_at`` applied to attempts already loaded.

    Pass every attempt of one expert at ``test`` (any order); for list pages that prefetch
    them, so checking the cooldown costs no query per test.
    """
    finished = [a for a in attempts if a.status != AttemptStatus.IN_PROGRESS]
    if not finished:
        return None
    last = max(finished, key=lambda a: a.started_at)
    allowed = last.started_at + timedelta(days=test.cooldown_days)
    return allowed if allowed > timezone.now() else None


def attempt_was_late(*, attempt: TestAttempt) -> bool:
    """Whether the attempt was handed in (or closed) after its deadline and the grace."""
    return attempt.submitted_at is not None and (
        attempt.submitted_at > attempt.deadline + SUBMISSION_GRACE
    )


def attempt_time_is_up(*, attempt: TestAttempt) -> bool:
    """Whether an open attempt can no longer be answered: a submission now scores 0."""
    return attempt.status == AttemptStatus.IN_PROGRESS and (
        timezone.now() > attempt.deadline + SUBMISSION_GRACE
    )
