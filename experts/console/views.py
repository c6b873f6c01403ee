"""The staff vetting console: the credential queue and decisions, test authoring, grading.

Every path lives under /staff/, where StaffMFARequiredMiddleware already answers 404 to
non-staff and demands a TOTP-proven session; each view checks ``is_staff`` again anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from experts import selectors, services
from experts.console import selectors as console
from experts.console.forms import (
    DecisionForm,
    GradeForm,
    MultipleChoiceQuestionForm,
    QualificationTestForm,
    QueueFilterForm,
    ShortAnswerQuestionForm,
)
from experts.models import Credential, QualificationTest, TestAttempt
from experts.services.credentials import STALE_REVIEW
from experts.states import (
    QUEUED_CREDENTIAL_STATES,
    AttemptStatus,
    CredentialStatus,
    QuestionKind,
)
from marketplace.errors import DomainError, InvalidInput
from marketplace.http import AuthenticatedHttpRequest, report
from marketplace.views import client_ip

QUEUE_PAGE_SIZE = 25
MAX_PREVIEW_PAGES = 10

View = Callable[..., HttpResponse]


def staff_only(view: View) -> View:
    """Log-in required, then 404 for anyone who is not staff (defence in depth)."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404()
        return view(request, *args, **kwargs)

    return wrapper


def _age(moment: datetime | None) -> str:
    """How long ago, in its largest unit only: "3 days ago", "just now"."""
    if moment is None:
        return "—"
    age = timesince(moment, depth=1)
    return "just now" if age.startswith("0\xa0") else f"{age} ago"


# Queue -------------------------------------------------------------------------------------


@staff_only
@require_GET
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Credentials waiting for a decision, oldest submission first."""
    form = QueueFilterForm(request.GET or None, countries=console.queue_countries())
    filters = form.filters() if request.GET else {"domain_id": None, "country": "", "kind": ""}
    credentials = selectors.vetting_queue(**filters)
    page = Paginator(credentials, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    rows: list[Credential] = list(page.object_list)
    warnings = console.queue_warning_counts(credentials=rows)
    context = {
        "tab": "queue",
        "form": form,
        "filtered": any(filters.values()),
        "counts": console.queue_counts(staff=request.user),
        "page": page,
        "rows": [
            (credential, warnings[credential.pk], _age(credential.submitted_at))
            for credential in rows
        ],
    }
    return render(request, "experts/console/queue.html", context)


# Review ------------------------------------------------------------------------------------


def _credential_or_404(request: AuthenticatedHttpRequest, pk: int) -> Credential:
    return selectors.credential_for_staff(staff=request.user, credential_id=pk)


def _render_review(
    request: AuthenticatedHttpRequest,
    credential: Credential,
    form: DecisionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    me = request.user
    own = credential.expert_id == me.pk
    queued = credential.status in QUEUED_CREDENTIAL_STATES
    taken_by = (
        credential.reviewer
        if credential.status == CredentialStatus.IN_REVIEW and credential.reviewer_id != me.pk
        else None
    )
    if form is None:
        form = DecisionForm(initial={"version": services.credential_version(credential)})
    documents = [
        (document, range(min(document.page_count, MAX_PREVIEW_PAGES)))
        for document in credential.documents.all()
    ]
    context = {
        "tab": "queue",
        "credential": credential,
        "submitted_age": _age(credential.submitted_at),
        "profile": console.expert_profile_summary(expert=credential.expert),
        "documents": documents,
        "max_preview_pages": MAX_PREVIEW_PAGES,
        "signals": selectors.credential_signals(credential=credential),
        "other_credentials": list(selectors.other_credentials_of(credential=credential)),
        "history": list(console.credential_history(credential=credential)),
        "own": own,
        "taken_by": taken_by,
        "mine": credential.status == CredentialStatus.IN_REVIEW and credential.reviewer_id == me.pk,
        "can_start": queued and not own and credential.status == CredentialStatus.SUBMITTED,
        "can_decide": queued and not own and taken_by is None,
        "can_release": credential.status == CredentialStatus.IN_REVIEW
        and not own
        and (
            credential.reviewer_id == me.pk
            or credential.review_started_at is None
            or timezone.now() - credential.review_started_at >= STALE_REVIEW
        ),
        "form": form,
    }
    return render(request, "experts/console/review.html", context, status=status)


@staff_only
@require_GET
def review(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _render_review(request, _credential_or_404(request, pk))


@staff_only
@require_POST
def start_review(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        credential = services.credential_start_review(staff=request.user, credential_id=pk)
    except DomainError as error:
        report(request, error)
    else:
        messages.success(request, f"You are reviewing “{credential.title}”.")
    return redirect("vetting:review", pk)


@staff_only
@require_POST
def release_review(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        credential = services.credential_release_review(staff=request.user, credential_id=pk)
    except DomainError as error:
        report(request, error)
        return redirect("vetting:review", pk)
    messages.success(request, f"“{credential.title}” is back in the queue.")
    return redirect("vetting:queue")


@staff_only
@require_POST
def decide(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Verify, reject or ask for information, refusing a credential that changed meanwhile."""
    credential = _credential_or_404(request, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return _render_review(request, credential, form, status=400)
    decision = form.cleaned_data["decision"]
    common = {
        "staff": request.user,
        "credential_id": pk,
        "expected_version": form.cleaned_data["version"],
        "ip_address": client_ip(request),
    }
    message = form.cleaned_data["message"]
    try:
        if decision == DecisionForm.VERIFY:
            decided = services.credential_verify(message=message, **common)
            done = f"Verified “{decided.title}”."
        elif decision == DecisionForm.REJECT:
            decided = services.credential_reject(reason=message, **common)
            done = f"Rejected “{decided.title}”. The expert was told why."
        else:
            decided = services.credential_request_info(message=message, **common)
            done = f"Asked for more information about “{decided.title}”."
    except InvalidInput as error:
        form.add_error("message" if error.field == "message" else None, error.message)
        return _render_review(request, credential, form, status=400)
    except DomainError as error:
        report(request, error)
        return redirect("vetting:review", pk)
    messages.success(request, f"{done} {decided.expert.email} has been notified.")
    return redirect("vetting:queue")


# Qualification tests -----------------------------------------------------------------------


@staff_only
@require_GET
def test_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    context = {"tab": "tests", "tests": list(console.tests_for_staff(staff=request.user))}
    return render(request, "experts/console/test_list.html", context)


def _test_data(form: QualificationTestForm) -> dict[str, Any]:
    return dict(form.cleaned_data)


@staff_only
@require_http_methods(["GET", "POST"])
def test_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = QualificationTestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            test = services.qualification_test_save(staff=request.user, data=_test_data(form))
        except InvalidInput as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        except DomainError as error:
            report(request, error)
        else:
            messages.success(request, f"“{test.title}” created. Now add its questions.")
            return redirect("vetting:test_detail", test.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "experts/console/test_form.html", {"tab": "tests", "form": form}, status=status
    )


def _test_or_404(request: AuthenticatedHttpRequest, pk: int) -> QualificationTest:
    return console.test_for_staff(staff=request.user, test_id=pk)


def _render_test(
    request: AuthenticatedHttpRequest,
    test: QualificationTest,
    *,
    settings_form: QualificationTestForm | None = None,
    choice_form: MultipleChoiceQuestionForm | None = None,
    written_form: ShortAnswerQuestionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    questions = list(test.questions.all())
    context = {
        "tab": "tests",
        "test": test,
        "questions": questions,
        "total_points": sum(question.points for question in questions),
        "settings_form": settings_form
        or QualificationTestForm(
            initial={
                "domain": test.domain_id,
                "title": test.title,
                "instructions": test.instructions,
                "time_limit_minutes": test.time_limit_minutes,
                "pass_mark_percent": test.pass_mark_percent,
                "cooldown_days": test.cooldown_days,
                "is_published": test.is_published,
            }
        ),
        "choice_form": choice_form or MultipleChoiceQuestionForm(),
        "written_form": written_form or ShortAnswerQuestionForm(),
    }
    return render(request, "experts/console/test_detail.html", context, status=status)


@staff_only
@require_http_methods(["GET", "POST"])
def test_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A test's settings, its questions with the answer key, and forms to add questions."""
    test = _test_or_404(request, pk)
    if request.method == "GET":
        return _render_test(request, test)
    form = QualificationTestForm(request.POST)
    if form.is_valid():
        try:
            saved = services.qualification_test_save(
                staff=request.user, test_id=test.pk, data=_test_data(form)
            )
        except InvalidInput as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        except DomainError as error:
            report(request, error)
            return redirect("vetting:test_detail", pk)
        else:
            state = "published" if saved.is_published else "saved as a draft"
            messages.success(request, f"“{saved.title}” {state}.")
            return redirect("vetting:test_detail", pk)
    return _render_test(request, test, settings_form=form, status=400)


@staff_only
@require_POST
def question_add(request: AuthenticatedHttpRequest, pk: int, kind: str) -> HttpResponse:
    test = _test_or_404(request, pk)
    form: MultipleChoiceQuestionForm | ShortAnswerQuestionForm
    if kind == "multiple-choice":
        form = MultipleChoiceQuestionForm(request.POST)
    elif kind == "short-answer":
        form = ShortAnswerQuestionForm(request.POST)
    else:
        raise Http404()
    if form.is_valid():
        data = form.cleaned_data
        try:
            if isinstance(form, MultipleChoiceQuestionForm):
                services.question_add(
                    staff=request.user,
                    test_id=test.pk,
                    kind=QuestionKind.MULTIPLE_CHOICE,
                    prompt=data["prompt"],
                    points=data["points"],
                    choices=form.choices(),
                )
            else:
                services.question_add(
                    staff=request.user,
                    test_id=test.pk,
                    kind=QuestionKind.SHORT_ANSWER,
                    prompt=data["prompt"],
                    points=data["points"],
                    reference_answer=data["reference_answer"],
                )
        except InvalidInput as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        except DomainError as error:
            report(request, error)
            return redirect("vetting:test_detail", pk)
        else:
            messages.success(request, "Question added.")
            return redirect(reverse("vetting:test_detail", args=[pk]) + "#questions")
    if isinstance(form, MultipleChoiceQuestionForm):
        return _render_test(request, test, choice_form=form, status=400)
    return _render_test(request, test, written_form=form, status=400)


# Grading -----------------------------------------------------------------------------------


@staff_only
@require_GET
def grading(request: AuthenticatedHttpRequest) -> HttpResponse:
    attempts = list(console.attempts_awaiting_grading_with_counts(staff=request.user))
    return render(request, "experts/console/grading.html", {"tab": "grading", "attempts": attempts})


def _render_grade(
    request: AuthenticatedHttpRequest,
    attempt: TestAttempt,
    form: GradeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    answers = list(attempt.answers.all())
    to_grade = [answer for answer in answers if answer.points_awarded is None]
    if form is None:
        form = GradeForm(answers=to_grade)
    written = [
        (answer, form[f"points_{answer.pk}"] if answer.points_awarded is None else None)
        for answer in answers
        if answer.question.kind == QuestionKind.SHORT_ANSWER
    ]
    choices = [a for a in answers if a.question.kind == QuestionKind.MULTIPLE_CHOICE]
    context = {
        "tab": "grading",
        "attempt": attempt,
        "form": form,
        "written": written,
        "choice_answers": choices,
        "choice_points": sum(a.points_awarded or 0 for a in choices),
        "choice_total": sum(a.question.points for a in choices),
        "total_points": sum(a.question.points for a in answers),
        "own": attempt.expert_id == request.user.pk,
        "gradable": attempt.status == AttemptStatus.AWAITING_GRADING,
    }
    return render(request, "experts/console/grade.html", context, status=status)


@staff_only
@require_http_methods(["GET", "POST"])
def grade(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Award points to each written answer next to the reference answer."""
    attempt = console.attempt_for_grading(staff=request.user, attempt_id=pk)
    if request.method == "GET":
        return _render_grade(request, attempt)
    to_grade = [answer for answer in attempt.answers.all() if answer.points_awarded is None]
    form = GradeForm(request.POST, answers=to_grade)
    if not form.is_valid():
        return _render_grade(request, attempt, form, status=400)
    try:
        graded = services.attempt_grade(
            staff=request.user, attempt_id=attempt.pk, points=form.points()
        )
    except InvalidInput as error:
        form.add_error(None, error.message)
        return _render_grade(request, attempt, form, status=400)
    except DomainError as error:
        report(request, error)
        return redirect("vetting:grade", pk)
    verdict = "passed" if graded.status == AttemptStatus.PASSED else "did not pass"
    messages.success(
        request,
        f"{graded.expert.email} {verdict} “{graded.test.title}” with {graded.score_percent}%.",
    )
    return redirect("vetting:grading")
