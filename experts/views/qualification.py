"""Qualification tests, expert side: the list of tests, the timed attempt and its result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from experts import selectors, services
from experts.models import (
    Answer,
    Choice,
    DomainQualification,
    QualificationTest,
    Question,
    TestAttempt,
)
from experts.services.qualification import (
    attempt_next_allowed_at_among,
    attempt_time_is_up,
    attempt_was_late,
)
from experts.states import AttemptStatus
from marketplace.errors import Conflict, DomainError, NotFound
from marketplace.http import AuthenticatedHttpRequest
from marketplace.models import User
from marketplace.states import UserRole

# The form field that carries the answer to one question (see attempt.html).
ANSWER_FIELD = "question-{pk}"


def _require_expert(request: AuthenticatedHttpRequest) -> User:
    if request.user.role != UserRole.EXPERT:
        raise Http404()
    return request.user


def _attempt_or_404(expert: User, attempt_id: int) -> TestAttempt:
    return selectors.attempt_for_expert(expert=expert, attempt_id=attempt_id)


# Private reads (candidates for experts/selectors.py) -----------------------------------------


def _qualifications_of(expert: User) -> list[DomainQualification]:
    return list(
        DomainQualification.objects.filter(expert=expert)
        .select_related("domain", "domain__parent")
        .order_by("-passed", "domain__name")
    )


def _questions_for_taking(test: QualificationTest) -> list[Question]:
    """The test's questions and options in order, without any field that reveals the key."""
    return list(
        Question.objects.filter(test=test)
        .defer("reference_answer")
        .prefetch_related(
            Prefetch(
                "choices",
                queryset=Choice.objects.only("id", "question_id", "text", "position"),
            )
        )
    )


def _answer_counts(attempt: TestAttempt) -> tuple[int, int]:
    """How many questions the handed-in attempt answered, and how many it had."""
    counts = Answer.objects.filter(attempt=attempt).aggregate(
        total=Count("id"),
        answered=Count("id", filter=Q(choice__isnull=False) | ~Q(text="")),
    )
    return counts["answered"], counts["total"]


# The list of tests -------------------------------------------------------------------------


@dataclass
class TestRow:
    test: QualificationTest
    last_attempt: TestAttempt | None
    open_attempt: TestAttempt | None
    time_is_up: bool
    retake_at: datetime | None
    qualified: bool


@login_required
@require_GET
def test_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Published tests (the expert's domains first) with their last attempt and cooldown."""
    expert = _require_expert(request)
    qualifications = _qualifications_of(expert)
    passed_domains = {q.domain_id for q in qualifications if q.passed}
    rows = []
    for test in selectors.tests_for_expert(expert=expert):
        attempts: list[TestAttempt] = test.my_attempts  # type: ignore[attr-defined]
        last = attempts[0] if attempts else None
        open_attempt = next((a for a in attempts if a.status == AttemptStatus.IN_PROGRESS), None)
        rows.append(
            TestRow(
                test=test,
                last_attempt=last,
                open_attempt=open_attempt,
                time_is_up=open_attempt is not None and attempt_time_is_up(attempt=open_attempt),
                retake_at=attempt_next_allowed_at_among(test=test, attempts=attempts),
                qualified=test.domain_id in passed_domains,
            )
        )
    context = {"rows": rows, "qualifications": qualifications}
    return render(request, "experts/tests/list.html", context)


@login_required
@require_POST
def test_start(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Start the clock on a test, or go back to the attempt already open."""
    expert = _require_expert(request)
    try:
        attempt = services.attempt_start(expert=expert, test_id=pk)
    except NotFound:
        raise Http404() from None
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("experts:test_list")
    return redirect("experts:attempt", attempt.pk)


# The attempt -------------------------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def attempt_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """GET: the timed test while open, its result once handed in. POST: hand it in."""
    expert = _require_expert(request)
    attempt = _attempt_or_404(expert, pk)
    if request.method == "POST":
        return _attempt_submit(request, expert, attempt)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return _attempt_result(request, expert, attempt)
    seconds_left = max(0, int((attempt.deadline - timezone.now()).total_seconds()))
    # With no time left there is nothing to answer; handing in now closes the attempt.
    time_is_up = seconds_left == 0
    context = {
        "attempt": attempt,
        "test": attempt.test,
        "time_is_up": time_is_up,
        "questions": [] if time_is_up else _questions_for_taking(attempt.test),
        "seconds_left": seconds_left,
        "clock": f"{seconds_left // 60}:{seconds_left % 60:02d}",
        "minutes_left": -(-seconds_left // 60),
    }
    return render(request, "experts/tests/attempt.html", context)


def _attempt_submit(
    request: AuthenticatedHttpRequest, expert: User, attempt: TestAttempt
) -> HttpResponse:
    question_ids = Question.objects.filter(test_id=attempt.test_id).values_list("pk", flat=True)
    answers: dict[int, str] = {}
    for question_id in question_ids:
        given = request.POST.get(ANSWER_FIELD.format(pk=question_id), "").strip()
        if given:
            answers[question_id] = given
    try:
        submitted = services.attempt_submit(expert=expert, attempt_id=attempt.pk, answers=answers)
    except NotFound:
        raise Http404() from None
    except Conflict as error:
        messages.error(request, f"{error.message} Your answers were not changed.")
        return redirect("experts:attempt", attempt.pk)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("experts:attempt", attempt.pk)
    if attempt_was_late(attempt=submitted):
        messages.error(
            request, "Time ran out before your answers arrived, so this attempt scores 0%."
        )
    elif submitted.status == AttemptStatus.AWAITING_GRADING:
        messages.success(request, "Answers handed in. A grader will review your written answers.")
    else:
        messages.success(request, "Answers handed in.")
    return redirect("experts:attempt", attempt.pk)


def _attempt_result(
    request: AuthenticatedHttpRequest, expert: User, attempt: TestAttempt
) -> HttpResponse:
    answered, total = _answer_counts(attempt)
    retake_at = services.attempt_next_allowed_at(expert=expert, test=attempt.test)
    context = {
        "attempt": attempt,
        "test": attempt.test,
        "late": attempt_was_late(attempt=attempt),
        "answered": answered,
        "total": total,
        "retake_at": retake_at,
    }
    return render(request, "experts/tests/result.html", context)


urlpatterns = [
    path("tests/", test_list, name="test_list"),
    path("tests/<int:pk>/start/", test_start, name="test_start"),
    path("attempts/<int:pk>/", attempt_detail, name="attempt"),
]
