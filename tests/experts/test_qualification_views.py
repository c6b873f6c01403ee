"""Expert-side qualification test pages: the list, the timed attempt, hand-in and result."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from experts import services
from experts.models import Answer, Choice, DomainQualification, QualificationTest, TestAttempt
from experts.states import AttemptStatus, QuestionKind
from tests import factories as f
from tests.experts import factories as ef

pytestmark = pytest.mark.django_db


def _logged_in(client, user=None):
    user = user or f.expert()
    client.force_login(user)
    return user


def _form_data(answers: dict[int, str]) -> dict[str, str]:
    return {f"question-{pk}": value for pk, value in answers.items()}


def _wrong_answers(test) -> dict[int, str]:
    answers = {}
    for question in test.questions.prefetch_related("choices"):
        if question.kind == QuestionKind.MULTIPLE_CHOICE:
            answers[question.pk] = str(
                next(c.pk for c in question.choices.all() if not c.is_correct)
            )
    return answers


def _start(client, test) -> TestAttempt:
    response = client.post(reverse("experts:test_start", args=[test.pk]))
    attempt = TestAttempt.objects.get(test=test, status=AttemptStatus.IN_PROGRESS)
    assert response.status_code == 302
    assert response.url == reverse("experts:attempt", args=[attempt.pk])
    return attempt


def _other_test(title: str, slug: str = "law-contracts"):
    author = f.staff_user()[0]
    test = services.qualification_test_save(
        staff=author,
        data={
            "domain": ef.domain(slug),
            "title": title,
            "instructions": "",
            "time_limit_minutes": 45,
            "pass_mark_percent": 80,
            "cooldown_days": 7,
            "is_published": False,
        },
    )
    services.question_add(
        staff=author,
        test_id=test.pk,
        kind=QuestionKind.MULTIPLE_CHOICE,
        prompt="Which clause?",
        choices=[("Indemnity", True), ("Recital", False)],
    )
    return services.qualification_test_save(
        staff=author, test_id=test.pk, data={**ef._settings_of(test), "is_published": True}
    )


# The list -----------------------------------------------------------------------------------


def test_list_shows_published_tests_with_their_facts(client):
    _logged_in(client)
    ef.qualification_test(written=True)
    draft = ef.qualification_test(publish=False)
    QualificationTest.objects.filter(pk=draft.pk).update(title="Unpublished draft")

    response = client.get(reverse("experts:test_list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Radiology fundamentals" in html
    assert "Unpublished draft" not in html
    assert "<dt>Questions</dt><dd>3</dd>" in html
    assert "<dt>Time limit</dt><dd>20 min</dd>" in html
    assert "<dt>Pass mark</dt><dd>60%</dd>" in html
    assert "Start test" in html
    assert "No results yet" in html


def test_list_shows_last_attempt_retake_date_and_qualification(client):
    person = _logged_in(client)
    test = ef.qualification_test()
    attempt = ef.pass_test(person, test)
    retake = attempt.started_at + timedelta(days=14)

    html = client.get(reverse("experts:test_list")).content.decode()

    assert "Last attempt" in html
    assert '<span class="badge ok">Passed</span> 100%' in html
    assert f"again from <strong>{retake:%-d %b %Y, %H:%M} UTC</strong>" in html
    assert "Start test" not in html
    assert "Retake test" not in html
    assert "Qualified" in html
    assert "best score 100%" in html


def test_list_offers_resume_for_an_open_attempt(client):
    person = _logged_in(client)
    test = ef.qualification_test()
    attempt = services.attempt_start(expert=person, test_id=test.pk)

    html = client.get(reverse("experts:test_list")).content.decode()

    assert "Resume test" in html
    assert reverse("experts:attempt", args=[attempt.pk]) in html
    assert "Start test" not in html


def test_list_runs_a_bounded_number_of_queries(client, django_assert_num_queries):
    person = _logged_in(client)
    passed = ef.qualification_test()
    ef.pass_test(person, passed)
    services.attempt_start(expert=person, test_id=_other_test("Contracts I").pk)
    _other_test("Contracts II")
    _other_test("Torts")
    # session, user, qualifications, profile domains, tests, attempts, unread badge
    with django_assert_num_queries(7):
        response = client.get(reverse("experts:test_list"))
    html = response.content.decode()
    for title in ("Radiology fundamentals", "Contracts I", "Contracts II", "Torts"):
        assert title in html


@pytest.mark.parametrize("make_user", [f.lab_user, lambda: f.staff_user()[0]])
def test_pages_are_for_experts_only(client, make_user):
    client.force_login(make_user())
    test = ef.qualification_test()
    attempt = services.attempt_start(expert=f.expert(), test_id=test.pk)

    assert client.get(reverse("experts:test_list")).status_code == 404
    assert client.post(reverse("experts:test_start", args=[test.pk])).status_code == 404
    assert client.get(reverse("experts:attempt", args=[attempt.pk])).status_code == 404
    assert client.post(reverse("experts:attempt", args=[attempt.pk])).status_code == 404
    assert TestAttempt.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client):
    test = ef.qualification_test()
    attempt = services.attempt_start(expert=f.expert(), test_id=test.pk)
    for method, url in [
        ("get", reverse("experts:test_list")),
        ("post", reverse("experts:test_start", args=[test.pk])),
        ("get", reverse("experts:attempt", args=[attempt.pk])),
        ("post", reverse("experts:attempt", args=[attempt.pk])),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    assert TestAttempt.objects.count() == 1


# Starting --------------------------------------------------------------------------------


def test_start_resumes_the_open_attempt(client):
    _logged_in(client)
    test = ef.qualification_test()
    first = _start(client, test)
    second = _start(client, test)
    assert first == second
    assert TestAttempt.objects.count() == 1


def test_start_during_cooldown_is_refused_with_the_date(client):
    person = _logged_in(client)
    test = ef.qualification_test()
    done = ef.pass_test(person, test)
    retake = done.started_at + timedelta(days=14)

    response = client.post(reverse("experts:test_start", args=[test.pk]), follow=True)

    assert response.redirect_chain == [(reverse("experts:test_list"), 302)]
    assert (
        f"You can take “Radiology fundamentals” again from {retake:%Y-%m-%d %H:%M} UTC."
        in response.content.decode()
    )
    assert TestAttempt.objects.filter(expert=person).count() == 1


def test_start_of_an_unpublished_test_is_not_found(client):
    _logged_in(client)
    test = ef.qualification_test(publish=False)
    assert client.post(reverse("experts:test_start", args=[test.pk])).status_code == 404
    assert not TestAttempt.objects.exists()


# Taking ----------------------------------------------------------------------------------


def test_attempt_page_shows_questions_and_timer_but_never_the_key(client):
    _logged_in(client)
    test = ef.qualification_test(written=True)
    question = test.questions.filter(kind=QuestionKind.MULTIPLE_CHOICE).first()
    Choice.objects.filter(question=question, is_correct=True).update(text="Zebra-unique-right")
    attempt = _start(client, test)

    response = client.get(reverse("experts:attempt", args=[attempt.pk]))

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    # Timer: the deadline for the script, the remaining time rendered by the server.
    assert f'datetime="{attempt.deadline.isoformat()}"' in html
    assert re.search(r'data-seconds-left="1(19[0-9]|200)"', html)
    assert re.search(r">(20:00|19:[0-5]\d)</time>", html)
    assert "/static/js/countdown.js" in html
    assert "<script>" not in html
    assert 'style="' not in html
    # Questions in order, options as labelled radios, the written one as a textarea.
    assert (
        html.index("Question 1?") < html.index("Question 2?") < html.index("Describe the finding.")
    )
    assert html.count("<fieldset>") == 3
    for choice in Choice.objects.filter(question__test=test):
        assert f'<label for="choice-{choice.pk}">{choice.text}</label>' in html
        assert (
            f'<input type="radio" id="choice-{choice.pk}" '
            f'name="question-{choice.question_id}" value="{choice.pk}">'
        ) in html
    assert '<textarea id="answer-' in html
    # The key: no reference answer, no correctness marker, the right option like the others.
    assert "Pneumothorax" not in html
    assert "is_correct" not in html
    assert "correct" not in html.lower().replace("incorrect", "")
    assert "reference" not in html.lower()
    # The right option's markup equals a wrong one's once their id and text are blanked out.
    right, wrong = Choice.objects.filter(question=question).order_by("-is_correct")
    assert right.text == "Zebra-unique-right"

    def option_markup(choice: Choice) -> str:
        match = re.search(rf"<li[^>]*>\s*<input[^>]*id=\"choice-{choice.pk}\".*?</li>", html, re.S)
        assert match, choice
        markup = match.group(0).replace(f"choice-{choice.pk}", "choice-ID")
        return markup.replace(f'value="{choice.pk}"', 'value="ID"').replace(choice.text, "TEXT")

    assert option_markup(right) == option_markup(wrong)


def test_attempt_page_runs_a_bounded_number_of_queries(client, django_assert_num_queries):
    _logged_in(client)
    test = ef.qualification_test(written=True)
    attempt = _start(client, test)
    # session, user, attempt, questions, choices, unread badge
    with django_assert_num_queries(6):
        response = client.get(reverse("experts:attempt", args=[attempt.pk]))
    assert response.content.decode().count("<fieldset>") == 3


def test_all_right_answers_pass_with_100_percent(client):
    person = _logged_in(client)
    test = ef.qualification_test()
    attempt = _start(client, test)

    response = client.post(
        reverse("experts:attempt", args=[attempt.pk]),
        _form_data(ef.right_answers(test)),
        follow=True,
    )

    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.PASSED
    assert attempt.score_percent == 100
    qualification = DomainQualification.objects.get(expert=person, domain=test.domain)
    assert qualification.passed is True
    assert qualification.best_score_percent == 100
    html = response.content.decode()
    assert response.redirect_chain == [(reverse("experts:attempt", args=[attempt.pk]), 302)]
    assert "Answers handed in." in html
    assert "You passed with 100%" in html
    assert "<dt>Questions answered</dt><dd>2 of 2</dd>" in html
    assert "Right" not in html  # no option text, hence no key, on the result


def test_wrong_answers_fail_with_their_score(client):
    person = _logged_in(client)
    test = ef.qualification_test()
    attempt = _start(client, test)
    answers = ef.right_answers(test)
    _, second = sorted(answers)
    answers[second] = _wrong_answers(test)[second]

    response = client.post(
        reverse("experts:attempt", args=[attempt.pk]), _form_data(answers), follow=True
    )

    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.FAILED
    assert attempt.score_percent == 50
    qualification = DomainQualification.objects.get(expert=person, domain=test.domain)
    assert qualification.passed is False
    assert qualification.best_score_percent == 50
    html = response.content.decode()
    assert "You scored 50%" in html
    assert "Not passed" in html
    assert "The pass mark is 60%." in html
    retake = attempt.started_at + timedelta(days=14)
    assert f"again from <strong>{retake:%-d %b %Y, %H:%M} UTC</strong>" in html


def test_unanswered_questions_are_recorded_and_score_zero(client):
    _logged_in(client)
    test = ef.qualification_test()
    attempt = _start(client, test)
    answers = ef.right_answers(test)
    first = min(answers)

    response = client.post(
        reverse("experts:attempt", args=[attempt.pk]),
        {f"question-{first}": answers[first]},
        follow=True,
    )

    attempt.refresh_from_db()
    assert attempt.score_percent == 50
    assert Answer.objects.filter(attempt=attempt).count() == 2
    assert "<dt>Questions answered</dt><dd>1 of 2</dd>" in response.content.decode()


def test_written_answer_waits_for_a_grader(client):
    person = _logged_in(client)
    test = ef.qualification_test(written=True)
    attempt = _start(client, test)

    response = client.post(
        reverse("experts:attempt", args=[attempt.pk]),
        _form_data(ef.right_answers(test)),
        follow=True,
    )

    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.AWAITING_GRADING
    assert attempt.score_percent is None
    written = Answer.objects.get(attempt=attempt, question__kind=QuestionKind.SHORT_ANSWER)
    assert written.text == "A pneumothorax on the left."
    assert written.points_awarded is None
    assert not DomainQualification.objects.filter(expert=person).exists()
    html = response.content.decode()
    assert "Waiting for a grader" in html
    assert "A grader will review your written answers." in html
    assert "Pneumothorax" not in html


def test_handing_in_twice_changes_nothing(client):
    _logged_in(client)
    test = ef.qualification_test()
    attempt = _start(client, test)
    url = reverse("experts:attempt", args=[attempt.pk])
    client.post(url, _form_data(_wrong_answers(test)))
    attempt.refresh_from_db()
    before = (attempt.status, attempt.score_percent, attempt.submitted_at)
    answers_before = list(
        Answer.objects.filter(attempt=attempt).values_list("choice_id", flat=True)
    )

    response = client.post(url, _form_data(ef.right_answers(test)), follow=True)

    attempt.refresh_from_db()
    assert (attempt.status, attempt.score_percent, attempt.submitted_at) == before
    assert before[:2] == (AttemptStatus.FAILED, 0)
    assert (
        list(Answer.objects.filter(attempt=attempt).values_list("choice_id", flat=True))
        == answers_before
    )
    assert not DomainQualification.objects.filter(passed=True).exists()
    html = response.content.decode()
    assert "This attempt was already handed in. Your answers were not changed." in html
    assert "You scored 0%" in html


def test_late_submission_fails_with_zero(client):
    person = _logged_in(client)
    test = ef.qualification_test()
    attempt = _start(client, test)
    TestAttempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(minutes=5))

    response = client.post(
        reverse("experts:attempt", args=[attempt.pk]),
        _form_data(ef.right_answers(test)),
        follow=True,
    )

    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.FAILED
    assert attempt.score_percent == 0
    assert not Answer.objects.filter(attempt=attempt, choice__isnull=False).exists()
    assert DomainQualification.objects.get(expert=person).passed is False
    html = response.content.decode()
    assert "Time ran out before your answers arrived, so this attempt scores 0%." in html
    assert "<strong>Time ran out.</strong>" in html
    assert "You scored 0%" in html


def test_open_attempt_past_its_deadline_shows_time_is_up_without_questions(client):
    _logged_in(client)
    test = ef.qualification_test()
    attempt = _start(client, test)
    TestAttempt.objects.filter(pk=attempt.pk).update(deadline=timezone.now() - timedelta(minutes=5))

    html = client.get(reverse("experts:attempt", args=[attempt.pk])).content.decode()

    assert "Time is up" in html
    assert "Question 1?" not in html
    assert "Close attempt" in html
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.IN_PROGRESS  # a GET never writes


def test_another_experts_attempt_is_not_found(client):
    owner = f.expert()
    test = ef.qualification_test()
    attempt = services.attempt_start(expert=owner, test_id=test.pk)
    _logged_in(client)
    url = reverse("experts:attempt", args=[attempt.pk])

    assert client.get(url).status_code == 404
    assert client.post(url, _form_data(ef.right_answers(test))).status_code == 404

    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.IN_PROGRESS
    assert not Answer.objects.exists()
    assert not DomainQualification.objects.exists()


def test_result_page_of_a_finished_attempt_is_owner_only(client, django_assert_num_queries):
    owner = f.expert()
    attempt = ef.pass_test(owner, ef.qualification_test())
    _logged_in(client)
    assert client.get(reverse("experts:attempt", args=[attempt.pk])).status_code == 404
    client.force_login(owner)
    # session, user, attempt, answer counts, retake date, unread badge
    with django_assert_num_queries(6):
        response = client.get(reverse("experts:attempt", args=[attempt.pk]))
    assert "You passed with 100%" in response.content.decode()
