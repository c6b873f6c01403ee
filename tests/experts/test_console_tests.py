"""The staff vetting console: authoring qualification tests and grading written answers."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse

from experts import services
from experts.models import (
    Answer,
    Choice,
    DomainQualification,
    QualificationTest,
    Question,
    TestAttempt,
)
from experts.states import AttemptStatus, QuestionKind
from marketplace.models import AuditEvent, Notification, User
from tests.experts import factories as ef
from tests.factories import expert, lab_user, log_in_staff, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def vetter(client) -> User:
    staff, secret = staff_user(with_totp=True, full_name="Gus Grader")
    assert secret is not None
    log_in_staff(client, staff, secret)
    return staff


def settings_data(**overrides) -> dict:
    data = {
        "domain": str(ef.domain().pk),
        "title": "Radiology fundamentals",
        "instructions": "Answer every question on your own.",
        "time_limit_minutes": "25",
        "pass_mark_percent": "70",
        "cooldown_days": "14",
    }
    data.update(overrides)
    return data


def mc_data(**overrides) -> dict:
    data = {
        "prompt": "Which view shows a pneumothorax best?",
        "points": "1",
        "option_1": "Supine AP",
        "option_2": "Upright PA in expiration",
        "option_3": "Lateral decubitus",
        "option_4": "",
        "option_5": "",
        "option_6": "",
        "correct": "2",
    }
    data.update(overrides)
    return data


def awaiting_grading(person: User, test: QualificationTest) -> TestAttempt:
    """The expert hands in right multiple-choice answers and one written answer."""
    attempt = services.attempt_start(expert=person, test_id=test.pk)
    return services.attempt_submit(
        expert=person, attempt_id=attempt.pk, answers=ef.right_answers(test)
    )


# Authoring ---------------------------------------------------------------------------------


def test_staff_create_a_test_add_both_kinds_of_question_and_publish(client, vetter):
    response = client.post(reverse("vetting:test_create"), settings_data())
    test = QualificationTest.objects.get()
    assert response.url == reverse("vetting:test_detail", args=[test.pk])
    assert (test.title, test.time_limit_minutes, test.pass_mark_percent) == (
        "Radiology fundamentals",
        25,
        70,
    )
    assert (test.cooldown_days, test.is_published, test.created_by) == (14, False, vetter)

    added = client.post(
        reverse("vetting:question_add", args=[test.pk, "multiple-choice"]), mc_data()
    )
    assert added.url == reverse("vetting:test_detail", args=[test.pk]) + "#questions"
    client.post(
        reverse("vetting:question_add", args=[test.pk, "short-answer"]),
        {
            "prompt": "Describe the finding on the film.",
            "points": "3",
            "reference_answer": "Left apical pneumothorax, no shift.",
        },
    )
    published = client.post(
        reverse("vetting:test_detail", args=[test.pk]), settings_data(is_published="on")
    )

    assert published.url == reverse("vetting:test_detail", args=[test.pk])
    test.refresh_from_db()
    assert test.is_published
    choice_q, written_q = test.questions.order_by("position")
    assert (choice_q.kind, choice_q.points, choice_q.position) == (
        QuestionKind.MULTIPLE_CHOICE,
        1,
        0,
    )
    assert list(choice_q.choices.values_list("text", "is_correct")) == [
        ("Supine AP", False),
        ("Upright PA in expiration", True),
        ("Lateral decubitus", False),
    ]
    assert (written_q.kind, written_q.points) == (QuestionKind.SHORT_ANSWER, 3)
    assert written_q.reference_answer == "Left apical pneumothorax, no shift."
    assert not written_q.choices.exists()
    assert list(
        AuditEvent.objects.filter(
            target_type="experts.qualificationtest", target_id=str(test.pk), actor=vetter
        )
        .order_by("pk")
        .values_list("action", flat=True)
    ) == [
        "qualification_test.create",
        "qualification_test.question_add",
        "qualification_test.question_add",
        "qualification_test.update",
    ]

    page = client.get(reverse("vetting:test_detail", args=[test.pk])).text
    assert "“Radiology fundamentals” published." in page
    assert (
        '<li class="correct" data-testid="correct-choice">Upright PA in expiration '
        '<span class="small">✓ correct</span></li>'
    ) in page
    assert page.count('data-testid="correct-choice"') == 1
    assert "Left apical pneumothorax, no shift." in page
    assert "2 questions worth 4 points" in page


def test_publishing_a_test_without_questions_is_refused(client, vetter):
    client.post(reverse("vetting:test_create"), settings_data())
    test = QualificationTest.objects.get()

    response = client.post(
        reverse("vetting:test_detail", args=[test.pk]),
        settings_data(is_published="on", title="Renamed"),
    )

    assert response.status_code == 400
    assert "Add questions before publishing the test." in response.text
    test.refresh_from_db()
    assert (test.is_published, test.title) == (False, "Radiology fundamentals")
    assert not AuditEvent.objects.filter(action="qualification_test.update").exists()


def test_creating_a_published_test_without_questions_stores_nothing(client, vetter):
    response = client.post(reverse("vetting:test_create"), settings_data(is_published="on"))

    assert response.status_code == 400
    assert "Add questions before publishing the test." in response.text
    assert not QualificationTest.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"title": "  "}, "This field is required."),
        ({"pass_mark_percent": "101"}, "less than or equal to 100"),
        ({"time_limit_minutes": "0"}, "greater than or equal to 1"),
        ({"domain": "999999"}, "Select a valid choice."),
    ],
)
def test_bad_test_settings_are_refused(client, vetter, overrides, error):
    response = client.post(reverse("vetting:test_create"), settings_data(**overrides))

    assert response.status_code == 400
    assert error in response.text
    assert not QualificationTest.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"option_2": "", "option_3": ""}, "This field is required."),
        ({"correct": ""}, "Mark the correct option."),
        ({"correct": "5"}, "Option 5 is marked correct but it is empty."),
        ({"prompt": ""}, "This field is required."),
        ({"points": "0"}, "greater than or equal to 1"),
    ],
)
def test_bad_multiple_choice_questions_are_refused(client, vetter, overrides, error):
    test = ef.qualification_test(publish=False, author=vetter)
    before = Question.objects.count()

    response = client.post(
        reverse("vetting:question_add", args=[test.pk, "multiple-choice"]), mc_data(**overrides)
    )

    assert response.status_code == 400
    assert error in response.text
    assert Question.objects.count() == before
    assert Choice.objects.filter(question__test=test).count() == 4


def test_a_short_answer_needs_a_reference_answer(client, vetter):
    test = ef.qualification_test(publish=False, author=vetter)

    response = client.post(
        reverse("vetting:question_add", args=[test.pk, "short-answer"]),
        {"prompt": "Explain.", "points": "2", "reference_answer": ""},
    )

    assert response.status_code == 400
    assert test.questions.count() == 2


def test_an_unknown_question_kind_or_test_is_404(client, vetter):
    test = ef.qualification_test(publish=False, author=vetter)
    assert client.post(reverse("vetting:question_add", args=[test.pk, "essay"])).status_code == 404
    assert client.get(reverse("vetting:test_detail", args=[999999])).status_code == 404


def test_experts_never_reach_the_answer_key(client):
    test = ef.qualification_test()
    correct = Choice.objects.filter(question__test=test, is_correct=True)
    assert correct.count() == 2
    client.force_login(expert())

    response = client.get(reverse("vetting:test_detail", args=[test.pk]))

    assert response.status_code == 404
    assert "correct" not in response.text
    assert "Radiology fundamentals" not in response.text


def test_tests_list_has_bounded_queries(client, vetter, django_assert_num_queries):
    for slug in ("medicine-radiology", "medicine-cardiology", "law-contracts"):
        test = ef.qualification_test(on=ef.domain(slug), written=True, author=vetter)
        awaiting_grading(expert(), test)
    ef.qualification_test(publish=False, author=vetter)
    client.get(reverse("vetting:tests"))

    # session, user, TOTP, tests with counts, unread count
    with django_assert_num_queries(5):
        page = client.get(reverse("vetting:tests")).text

    assert page.count('data-testid="test-row"') == 4
    assert page.count('<span class="badge ok">Published</span>') == 3
    assert page.count('<span class="badge muted">Draft</span>') == 1
    assert page.count(">1 attempt</a>") == 3


def test_test_detail_has_bounded_queries(client, vetter, django_assert_num_queries):
    test = ef.qualification_test(written=True, author=vetter)
    client.get(reverse("vetting:test_detail", args=[test.pk]))

    # session, user, TOTP, test, questions, choices, domains (for the picker), unread count
    with django_assert_num_queries(8):
        page = client.get(reverse("vetting:test_detail", args=[test.pk])).text

    assert page.count('data-testid="question"') == 3
    assert page.count('data-testid="correct-choice"') == 2


# Grading -----------------------------------------------------------------------------------


def test_grading_queue_lists_attempts_waiting_with_bounded_queries(
    client, vetter, django_assert_num_queries
):
    test = ef.qualification_test(written=True)
    for _ in range(3):
        awaiting_grading(expert(), test)
    ef.pass_test(expert(), ef.qualification_test(on=ef.domain("law-contracts")))
    client.get(reverse("vetting:grading"))

    # session, user, TOTP, attempts with their ungraded counts, unread count
    with django_assert_num_queries(5):
        page = client.get(reverse("vetting:grading")).text

    assert page.count('data-testid="attempt-row"') == 3
    assert page.count(">Grade</a>") == 3


def test_grading_shows_each_written_answer_beside_the_reference(
    client, vetter, django_assert_num_queries
):
    attempt = awaiting_grading(expert(full_name="Ines Ito"), ef.qualification_test(written=True))
    client.get(reverse("vetting:grade", args=[attempt.pk]))

    # session, user, TOTP, attempt, answers with questions and choices, unread count
    with django_assert_num_queries(6):
        page = client.get(reverse("vetting:grade", args=[attempt.pk])).text

    answer = Answer.objects.get(attempt=attempt, points_awarded__isnull=True)
    assert "Ines Ito" in page
    assert "Describe the finding." in page
    assert "A pneumothorax on the left." in page
    assert "Pneumothorax" in page
    assert f'name="points_{answer.pk}"' in page
    assert 'max="2"' in page
    assert "2 of 2 points, scored automatically" in page


def test_full_marks_pass_and_qualify_the_expert(client, vetter, django_capture_on_commit_callbacks):
    person = expert()
    test = ef.qualification_test(written=True)
    attempt = awaiting_grading(person, test)
    answer = Answer.objects.get(attempt=attempt, points_awarded__isnull=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("vetting:grade", args=[attempt.pk]), {f"points_{answer.pk}": "2"}
        )

    assert response.url == reverse("vetting:grading")
    attempt.refresh_from_db()
    assert (attempt.status, attempt.score_percent, attempt.graded_by) == (
        AttemptStatus.PASSED,
        100,
        vetter,
    )
    qualification = DomainQualification.objects.get(expert=person, domain=test.domain)
    assert (qualification.passed, qualification.best_score_percent) == (True, 100)
    assert qualification.passed_at is not None
    assert Notification.objects.get(recipient=person, kind="qualification.graded")
    follow = client.get(response.url).text
    assert f"{person.email} passed “{test.title}” with 100%." in follow
    assert 'data-testid="attempt-row"' not in follow


def test_low_marks_fail_and_record_the_score(client, vetter):
    person = expert()
    test = ef.qualification_test(written=True)
    attempt = awaiting_grading(person, test)
    answer = Answer.objects.get(attempt=attempt, points_awarded__isnull=True)

    client.post(reverse("vetting:grade", args=[attempt.pk]), {f"points_{answer.pk}": "0"})

    attempt.refresh_from_db()
    assert (attempt.status, attempt.score_percent) == (AttemptStatus.FAILED, 50)
    qualification = DomainQualification.objects.get(expert=person, domain=test.domain)
    assert (qualification.passed, qualification.best_score_percent) == (False, 50)
    page = client.get(reverse("vetting:grade", args=[attempt.pk])).text
    assert "This attempt is failed with 50%" in page
    assert 'name="points_' not in page


@pytest.mark.parametrize("points", ["3", "-1", ""])
def test_points_outside_the_range_are_refused(client, vetter, points):
    attempt = awaiting_grading(expert(), ef.qualification_test(written=True))
    answer = Answer.objects.get(attempt=attempt, points_awarded__isnull=True)

    response = client.post(
        reverse("vetting:grade", args=[attempt.pk]), {f"points_{answer.pk}": points}
    )

    assert response.status_code == 400
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.AWAITING_GRADING
    assert Answer.objects.get(pk=answer.pk).points_awarded is None
    assert not DomainQualification.objects.exists()


def test_staff_cannot_grade_their_own_attempt(client):
    person = expert()
    attempt = awaiting_grading(person, ef.qualification_test(written=True))
    answer = Answer.objects.get(attempt=attempt, points_awarded__isnull=True)
    User.objects.filter(pk=person.pk).update(is_staff=True)
    person.refresh_from_db()
    secret = generate_totp_secret()
    TOTP.activate(person, secret)
    log_in_staff(client, person, secret)

    page = client.get(reverse("vetting:grade", args=[attempt.pk])).text
    assert "This is your own attempt." in page
    assert 'name="points_' not in page
    response = client.post(
        reverse("vetting:grade", args=[attempt.pk]), {f"points_{answer.pk}": "2"}
    )

    assert "You cannot grade your own attempt." in client.get(response.url).text
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.AWAITING_GRADING
    assert not DomainQualification.objects.exists()


def test_an_attempt_graded_meanwhile_is_not_graded_twice(client, vetter):
    other, _ = staff_user()
    attempt = awaiting_grading(expert(), ef.qualification_test(written=True))
    answer = Answer.objects.get(attempt=attempt, points_awarded__isnull=True)
    services.attempt_grade(staff=other, attempt_id=attempt.pk, points={answer.pk: 2})

    response = client.post(
        reverse("vetting:grade", args=[attempt.pk]), {f"points_{answer.pk}": "0"}
    )

    attempt.refresh_from_db()
    assert (attempt.status, attempt.score_percent, attempt.graded_by) == (
        AttemptStatus.PASSED,
        100,
        other,
    )
    assert Answer.objects.get(pk=answer.pk).points_awarded == 2
    assert "graded by" in client.get(response.url).text


def test_the_answer_key_is_not_reachable_outside_staff_with_mfa(client):
    test = ef.qualification_test(written=True)
    url = reverse("vetting:test_detail", args=[test.pk])
    staff_without_mfa, _ = staff_user()

    for user in (expert(), lab_user(), staff_without_mfa):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code in (302, 404)
        assert "Pneumothorax" not in response.content.decode()
