"""Builders for expert state, going through the same services as the product."""

from __future__ import annotations

import io
from datetime import date

from PIL import Image

from experts import services
from experts.models import Credential, Domain, QualificationTest, TestAttempt
from experts.states import CredentialKind, QuestionKind
from marketplace.models import User
from tests.factories import staff_user


def pdf_bytes(text_colour: str = "white", pages: int = 1) -> bytes:
    """A small, valid PDF (Pillow writes real PDFs)."""
    images = [Image.new("RGB", (200, 280), text_colour) for _ in range(pages)]
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


def png_bytes(colour: str = "navy", size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(out, format="JPEG")
    return out.getvalue()


def domain(slug: str = "medicine-radiology") -> Domain:
    return Domain.objects.get(slug=slug)


def credential(
    expert: User,
    *,
    domains: list[Domain] | None = None,
    title: str = "Board certified in radiology",
    identifier: str = "",
    expires_on: date | None = None,
    document: bytes | None = None,
    submit: bool = False,
) -> Credential:
    """A draft credential with one PDF document; submitted when asked."""
    created = services.credential_create(
        expert=expert,
        data={
            "kind": CredentialKind.BOARD_CERTIFICATION,
            "title": title,
            "issuer": "American Board of Radiology",
            "identifier": identifier,
            "country": "US",
            "issued_on": date(2015, 6, 1),
            "expires_on": expires_on,
            "domains": domains or [domain()],
        },
    )
    services.document_add(
        expert=expert,
        credential_id=created.pk,
        name="certificate.pdf",
        data=document if document is not None else pdf_bytes(),
    )
    if submit:
        services.credential_submit(expert=expert, credential_id=created.pk)
    created.refresh_from_db()
    return created


def verified_credential(expert: User, *, reviewer: User | None = None, **kwargs) -> Credential:
    submitted = credential(expert, submit=True, **kwargs)
    reviewer = reviewer or staff_user()[0]
    return services.credential_verify(staff=reviewer, credential_id=submitted.pk)


def qualification_test(
    *, on: Domain | None = None, written: bool = False, publish: bool = True, author=None
) -> QualificationTest:
    """A test with two multiple-choice questions (first option correct) and, when asked,
    one written answer."""
    author = author or staff_user()[0]
    test = services.qualification_test_save(
        staff=author,
        data={
            "domain": on or domain(),
            "title": "Radiology fundamentals",
            "instructions": "Answer every question.",
            "time_limit_minutes": 20,
            "pass_mark_percent": 60,
            "cooldown_days": 14,
            "is_published": False,
        },
    )
    for n in (1, 2):
        services.question_add(
            staff=author,
            test_id=test.pk,
            kind=QuestionKind.MULTIPLE_CHOICE,
            prompt=f"Question {n}?",
            choices=[("Right", True), ("Wrong", False)],
        )
    if written:
        services.question_add(
            staff=author,
            test_id=test.pk,
            kind=QuestionKind.SHORT_ANSWER,
            prompt="Describe the finding.",
            points=2,
            reference_answer="Pneumothorax",
        )
    if publish:
        test = services.qualification_test_save(
            staff=author,
            test_id=test.pk,
            data={**_settings_of(test), "is_published": True},
        )
    return test


def _settings_of(test: QualificationTest) -> dict:
    return {
        "domain": test.domain,
        "title": test.title,
        "instructions": test.instructions,
        "time_limit_minutes": test.time_limit_minutes,
        "pass_mark_percent": test.pass_mark_percent,
        "cooldown_days": test.cooldown_days,
    }


def right_answers(test: QualificationTest) -> dict[int, str]:
    answers = {}
    for question in test.questions.prefetch_related("choices"):
        if question.kind == QuestionKind.MULTIPLE_CHOICE:
            answers[question.pk] = str(next(c.pk for c in question.choices.all() if c.is_correct))
        else:
            answers[question.pk] = "A pneumothorax on the left."
    return answers


def pass_test(expert: User, test: QualificationTest) -> TestAttempt:
    attempt = services.attempt_start(expert=expert, test_id=test.pk)
    return services.attempt_submit(
        expert=expert, attempt_id=attempt.pk, answers=right_answers(test)
    )
