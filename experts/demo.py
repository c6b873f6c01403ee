"""Demo data for the experts app: profiles, credentials in every vetting state with generated
documents, qualification tests and attempts. Built through the services, once per natural key.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from experts import selectors as expert_selectors
from experts import services as expert_services
from experts.models import Credential, Domain, ExpertProfile, QualificationTest, TestAttempt
from experts.states import CredentialKind, CredentialStatus, QuestionKind, Seniority
from marketplace.models import User

VETTER = "vetter@demo.example"
TEST_AUTHOR = "admin@demo.example"
RIVERA, OKAFOR, CHEN = "dr.rivera@demo.example", "j.okafor@demo.example", "m.chen@demo.example"
# More vetted radiologists, so matching has candidates to rank and seats to share.
HADDAD, NAKAMURA, LINDQVIST = (
    "dr.haddad@demo.example",
    "dr.nakamura@demo.example",
    "dr.lindqvist@demo.example",
)
RADIOLOGISTS: list[tuple[str, str, str, str, str, int, int | None, str, str, frozenset[int]]] = [
    # email, name, country, time zone, other language, hours a week, rate (cents),
    # seniority in radiology, second specialty, questions answered wrong on the test
    (
        HADDAD,
        "Samir Haddad",
        "GB",
        "Europe/London",
        "ar",
        20,
        12_000,
        Seniority.PRINCIPAL,
        "medicine-emergency-medicine",
        frozenset(),
    ),
    (
        NAKAMURA,
        "Yuki Nakamura",
        "JP",
        "Asia/Tokyo",
        "ja",
        10,
        9_000,
        Seniority.SENIOR,
        "medicine-oncology",
        frozenset({1}),
    ),
    (
        LINDQVIST,
        "Anna Lindqvist",
        "SE",
        "Europe/Stockholm",
        "sv",
        15,
        None,
        Seniority.SENIOR,
        "medicine-cardiology",
        frozenset({2}),
    ),
]

# The demo experts' profiles: profile fields, (language, level), (domain slug, seniority).
PROFILES: dict[str, tuple[dict[str, Any], list[tuple[str, str]], list[tuple[str, str]]]] = {
    RIVERA: (
        {
            "headline": "Attending radiologist: thoracic and emergency imaging",
            "bio": (
                "Consultant radiologist at a Madrid teaching hospital. Twelve years reading "
                "chest CT, trauma and emergency studies; I teach residents to write structured "
                "reports and review AI triage tools for our department."
            ),
            "country": "ES",
            "timezone": "Europe/Madrid",
            "weekly_availability_hours": 12,
            "expected_hourly_rate_cents": 14_000,
            "years_of_experience": 14,
            "links": [
                "https://orcid.org/0000-0002-1825-0097",
                "https://www.linkedin.com/in/elena-rivera-demo",
            ],
        },
        [("es", "native"), ("en", "C2"), ("fr", "B1")],
        [
            ("medicine-radiology", Seniority.PRINCIPAL),
            ("medicine-emergency-medicine", Seniority.SENIOR),
        ],
    ),
    OKAFOR: (
        {
            "headline": "Commercial contracts lawyer, New York and England & Wales",
            "bio": (
                "Nine years drafting and negotiating supply, licensing and SaaS agreements, "
                "first in a Lagos firm, now in-house at a New York fintech."
            ),
            "country": "US",
            "timezone": "America/New_York",
            "weekly_availability_hours": 20,
            "expected_hourly_rate_cents": 9_500,
            "years_of_experience": 9,
            "links": ["https://www.linkedin.com/in/james-okafor-demo"],
        },
        [("en", "native"), ("fr", "B2")],
        [
            ("law-contracts", Seniority.SENIOR),
            ("law-intellectual-property", Seniority.MID),
        ],
    ),
    CHEN: (
        {
            "headline": "Clinical pharmacologist and oncology researcher",
            "bio": (
                "PhD in pharmacology; seven years in oncology drug development, dose-finding "
                "studies and drug-interaction reviews."
            ),
            "country": "GB",
            "timezone": "Europe/London",
            "weekly_availability_hours": 8,
            "expected_hourly_rate_cents": 11_000,
            "years_of_experience": 7,
            "links": ["https://orcid.org/0000-0001-5109-3700"],
        },
        [("en", "C2"), ("zh-hans", "native")],
        [
            ("medicine-pharmacology", Seniority.SENIOR),
            ("medicine-oncology", Seniority.MID),
        ],
    ),
}


PROFILES.update(
    {
        email: (
            {
                "headline": f"Consultant radiologist ({seniority} in radiology)",
                "bio": f"Dr. {name} reports cross-sectional imaging and teaches residents.",
                "country": country,
                "timezone": zone,
                "weekly_availability_hours": hours,
                "expected_hourly_rate_cents": rate,
                "years_of_experience": 16 if seniority == Seniority.PRINCIPAL else 9,
                "links": [f"https://orcid.org/0000-0003-{n:04d}-000{n}"],
            },
            [("en", "C2"), (language, "native")],
            [("medicine-radiology", seniority), (second, Seniority.MID)],
        )
        for n, (email, name, country, zone, language, hours, rate, seniority, second, _) in (
            enumerate(RADIOLOGISTS, start=1)
        )
    }
)


@dataclass(frozen=True)
class DemoCredential:
    """A credential brought to ``state`` through the services, with a generated document."""

    expert: str
    kind: str
    title: str
    issuer: str
    identifier: str
    country: str
    issued_on: date
    domains: tuple[str, ...]
    state: str
    file_name: str
    document: tuple[str, ...]  # the lines printed on the document, heading first
    expires_in_days: int | None = None
    message: str = ""  # the reviewer's message with the decision


CREDENTIALS: list[DemoCredential] = [
    DemoCredential(
        RIVERA,
        CredentialKind.DEGREE,
        "MD",
        "Universidad Complutense de Madrid",
        "MED-28-114562",
        "ES",
        date(2008, 6, 30),
        ("medicine",),
        CredentialStatus.VERIFIED,
        "rivera-md-diploma.pdf",
        (
            "Universidad Complutense de Madrid",
            "Faculty of Medicine",
            "Doctor of Medicine (MD)",
            "awarded to Elena Rivera Soto",
            "30 June 2008",
            "Registry no. MED-28-114562",
        ),
        message="Checked against the university's degree register.",
    ),
    DemoCredential(
        RIVERA,
        CredentialKind.BOARD_CERTIFICATION,
        "Board certified in radiology",
        "European Board of Radiology",
        "EDiR-2014-0871",
        "ES",
        date(2014, 11, 15),
        ("medicine-radiology",),
        CredentialStatus.VERIFIED,
        "rivera-board-certificate.pdf",
        (
            "European Board of Radiology",
            "Certificate of Board Certification",
            "Diagnostic Radiology",
            "Dr. Elena Rivera",
            "Valid until the date shown on the register",
            "Certificate no. EDiR-2014-0871",
        ),
        expires_in_days=21,
        message="Confirmed on the EBR public register; renewal due soon.",
    ),
    DemoCredential(
        RIVERA,
        CredentialKind.LICENCE,
        "Licence to practise medicine, Madrid",
        "Ilustre Colegio Oficial de Médicos de Madrid",
        "28-2811456",
        "ES",
        date(2009, 1, 12),
        ("medicine",),
        CredentialStatus.IN_REVIEW,
        "rivera-licence.png",
        (
            "Colegio Oficial de Médicos de Madrid",
            "Licence to Practise Medicine",
            "Dr. Elena Rivera Soto",
            "Member since 12 January 2009",
            "Licence no. 28-2811456",
        ),
        expires_in_days=540,
    ),
    DemoCredential(
        OKAFOR,
        CredentialKind.DEGREE,
        "JD",
        "Columbia Law School",
        "CLS-2015-33817",
        "US",
        date(2015, 5, 20),
        ("law",),
        CredentialStatus.VERIFIED,
        "okafor-jd-diploma.pdf",
        (
            "Columbia Law School",
            "Juris Doctor",
            "conferred upon James Chukwuemeka Okafor",
            "20 May 2015",
            "Diploma no. CLS-2015-33817",
        ),
        message="Verified through the National Student Clearinghouse.",
    ),
    DemoCredential(
        OKAFOR,
        CredentialKind.LICENCE,
        "Attorney admitted in New York",
        "New York State Unified Court System",
        "NY-5123456",
        "US",
        date(2016, 1, 27),
        ("law-contracts",),
        CredentialStatus.VERIFIED,
        "okafor-ny-registration.pdf",
        (
            "New York State Unified Court System",
            "Attorney Registration",
            "James C. Okafor, Esq.",
            "Admitted 27 January 2016 — Registration current",
            "Registration no. NY-5123456",
        ),
        expires_in_days=400,
        message="Registration current on the NY attorney search.",
    ),
    DemoCredential(
        OKAFOR,
        CredentialKind.LICENCE,
        "Solicitor of England and Wales",
        "Solicitors Regulation Authority",
        "SRA-648213",
        "GB",
        date(2019, 9, 2),
        ("law-contracts",),
        CredentialStatus.NEEDS_INFO,
        "okafor-sra-certificate.png",
        (
            "Solicitors Regulation Authority",
            "Certificate of Admission",
            "James Okafor",
            "Admitted 2 September 2019",
            "SRA no. 648213",
        ),
        message=(
            "The scan is cut off at the bottom and the SRA number is not readable. Please "
            "upload the full certificate, or a current Solicitors Register extract."
        ),
    ),
    DemoCredential(
        OKAFOR,
        CredentialKind.PROFESSIONAL_CERTIFICATION,
        "Certified Commercial Contract Manager",
        "World Commerce & Contracting",
        "",
        "US",
        date(2021, 3, 4),
        ("law-contracts",),
        CredentialStatus.DRAFT,
        "okafor-ccm.pdf",
        (
            "World Commerce & Contracting",
            "Certified Commercial Contract Manager",
            "James Okafor",
            "4 March 2021",
        ),
    ),
    DemoCredential(
        CHEN,
        CredentialKind.DEGREE,
        "PhD in Pharmacology",
        "University of Cambridge",
        "CAM-PHD-2017-0452",
        "GB",
        date(2017, 7, 21),
        ("medicine-pharmacology",),
        CredentialStatus.SUBMITTED,
        "chen-phd-certificate.pdf",
        (
            "University of Cambridge",
            "Doctor of Philosophy",
            "Department of Pharmacology",
            "Mei Chen",
            "21 July 2017",
            "Certificate no. CAM-PHD-2017-0452",
        ),
    ),
    DemoCredential(
        CHEN,
        CredentialKind.BOARD_CERTIFICATION,
        "Board Certified Oncology Pharmacist",
        "Board of Pharmacy Specialties",
        "BCOP-2290114",
        "US",
        date(2020, 10, 1),
        ("medicine-oncology", "medicine-pharmacology"),
        CredentialStatus.REJECTED,
        "chen-bcop.png",
        (
            "Board of Pharmacy Specialties",
            "Board Certified Oncology Pharmacist",
            "Mei Chen, PhD",
            "Certified 1 October 2020",
            "Certificate no. BCOP-2290114",
        ),
        expires_in_days=700,
        message=(
            "The certificate number is not on the BPS public directory and the name differs "
            "from your account. Upload the certificate the board issued, or ask BPS to "
            "correct the directory, then resubmit."
        ),
    ),
    DemoCredential(
        CHEN,
        CredentialKind.EMPLOYMENT,
        "Senior research scientist, Helix Therapeutics",
        "Helix Therapeutics Ltd",
        "",
        "GB",
        date(2019, 2, 1),
        ("medicine-oncology",),
        CredentialStatus.SUBMITTED,
        "chen-employment-letter.pdf",
        (
            "Helix Therapeutics Ltd — Human Resources",
            "Letter of Employment",
            "Dr. Mei Chen has been employed as Senior Research Scientist,",
            "Oncology Clinical Pharmacology, since 1 February 2019.",
        ),
    ),
]

CREDENTIALS += [
    credential
    for n, (email, name, country, *_rest) in enumerate(RADIOLOGISTS, start=1)
    for credential in (
        DemoCredential(
            email,
            CredentialKind.DEGREE,
            "MD",
            "Faculty of Medicine",
            f"MD-{country}-{4100 + n}",
            country,
            date(2004 + n, 6, 30),
            ("medicine",),
            CredentialStatus.VERIFIED,
            f"{email.split('@')[0].split('.')[-1]}-md-diploma.pdf",
            ("Faculty of Medicine", "Doctor of Medicine (MD)", f"awarded to {name}"),
            message="Checked against the university's degree register.",
        ),
        DemoCredential(
            email,
            CredentialKind.BOARD_CERTIFICATION,
            "Board certified in radiology",
            "European Board of Radiology",
            f"EDiR-{2010 + n}-{1200 + n}",
            country,
            date(2010 + n, 11, 15),
            ("medicine-radiology",),
            CredentialStatus.VERIFIED,
            f"{email.split('@')[0].split('.')[-1]}-board-certificate.pdf",
            ("European Board of Radiology", "Diagnostic Radiology", f"Dr. {name}"),
            message="Confirmed on the EBR public register.",
        ),
    )
]


@dataclass(frozen=True)
class DemoQuestion:
    prompt: str
    choices: tuple[str, ...] = ()  # the first one is correct; shuffled by ``rotate``
    rotate: int = 0  # where the correct option lands, so it is not always the first
    points: int = 1
    reference_answer: str = ""  # a written question when there are no choices


@dataclass(frozen=True)
class DemoTest:
    domain: str
    title: str
    instructions: str
    time_limit_minutes: int
    pass_mark_percent: int
    questions: tuple[DemoQuestion, ...]


TESTS: list[DemoTest] = [
    DemoTest(
        "medicine-radiology",
        "Radiology fundamentals",
        "Four cases from everyday reporting. Choose the single best answer.",
        20,
        70,
        (
            DemoQuestion(
                "A 24-year-old tall, thin man has sudden pleuritic chest pain. The erect chest "
                "radiograph shows a thin visceral pleural line with no lung markings beyond it. "
                "What is the most likely diagnosis?",
                (
                    "Primary spontaneous pneumothorax",
                    "Pleural effusion",
                    "Right middle lobe pneumonia",
                    "Pulmonary embolism",
                ),
                rotate=0,
            ),
            DemoQuestion(
                "Which imaging study is first-line for suspected acute appendicitis in a child?",
                (
                    "Graded-compression ultrasound",
                    "Contrast-enhanced CT of the abdomen",
                    "MRI of the abdomen",
                    "Plain abdominal radiograph",
                ),
                rotate=2,
            ),
            DemoQuestion(
                "On non-contrast head CT, an acute subdural haematoma typically appears as:",
                (
                    "A crescent-shaped hyperdense collection that crosses suture lines",
                    "A biconvex hyperdense collection limited by sutures",
                    "A hypodense wedge in a vascular territory",
                    "Hyperdense blood in the basal cisterns",
                ),
                rotate=1,
            ),
            DemoQuestion(
                "Which sign on a supine chest radiograph suggests a pneumothorax?",
                (
                    "A deep sulcus sign",
                    "Kerley B lines",
                    "An air bronchogram",
                    "A silhouette sign at the right heart border",
                ),
                rotate=3,
            ),
        ),
    ),
    DemoTest(
        "law-contracts",
        "Contract law essentials",
        (
            "Four multiple-choice questions on formation and remedies, then one short "
            "written answer that a reviewer grades. Common-law jurisdictions unless stated."
        ),
        30,
        70,
        (
            DemoQuestion(
                "Under the mirror-image rule, a reply to an offer that adds materially "
                "different terms is:",
                (
                    "A counter-offer that rejects the original offer",
                    "An acceptance on the original terms",
                    "An acceptance including the new terms",
                    "Void for uncertainty",
                ),
                rotate=1,
            ),
            DemoQuestion(
                "Which of these is NOT normally required to form an enforceable contract?",
                (
                    "A written document signed by both parties",
                    "Offer and acceptance",
                    "Consideration",
                    "Intention to create legal relations",
                ),
                rotate=3,
            ),
            DemoQuestion(
                "A liquidated damages clause is most likely unenforceable when:",
                (
                    "It is a penalty out of all proportion to the interest it protects",
                    "It was agreed between two businesses",
                    "It fixes a sum per day of delay",
                    "The actual loss turns out smaller than the sum",
                ),
                rotate=0,
            ),
            DemoQuestion(
                "Under UCC Article 2, a contract for the sale of goods for $500 or more "
                "generally needs:",
                (
                    "A writing signed by the party against whom enforcement is sought",
                    "Notarisation",
                    "Registration with the state",
                    "A deposit paid by the buyer",
                ),
                rotate=2,
            ),
            DemoQuestion(
                "A supplier's terms cap its liability at the price paid; the buyer's purchase "
                "order says liability is unlimited. Both performed without resolving the "
                "conflict. In a few sentences, explain how a court decides which terms govern.",
                points=3,
                reference_answer=(
                    "Battle of the forms. England: the 'last shot' doctrine, the last terms "
                    "sent before performance are accepted by conduct (Butler v Ex-Cell-O). US: "
                    "UCC 2-207, conflicting terms knock each other out and gap-fillers apply. "
                    "Full marks for naming the doctrine and the difference between the two."
                ),
            ),
        ),
    ),
]

# (expert, test title, indexes of questions answered wrongly, written answer)
ATTEMPTS: list[tuple[str, str, frozenset[int], str]] = [
    (RIVERA, "Radiology fundamentals", frozenset({3}), ""),
    *[(email, "Radiology fundamentals", wrong, "") for email, *_, wrong in RADIOLOGISTS],
    (
        OKAFOR,
        "Contract law essentials",
        frozenset(),
        (
            "This is the battle of the forms. In England the last shot usually wins: the last "
            "set of terms sent before performance is accepted by conduct, as in Butler Machine "
            "Tool v Ex-Cell-O. Under UCC 2-207 the conflicting liability terms knock each "
            "other out and the Code's default rules fill the gap, so liability is not capped."
        ),
    ),
]


def seed(users: dict[str, User]) -> None:
    """Profiles, credentials in every state, qualification tests and attempts, each made
    through the services once (keyed by profile headline, credential title per expert,
    test title, attempt per expert and test)."""
    slugs = {slug for _, _, domains in PROFILES.values() for slug, _ in domains}
    slugs |= {slug for spec in CREDENTIALS for slug in spec.domains}
    slugs |= {test.domain for test in TESTS}
    domains = Domain.objects.in_bulk(list(slugs), field_name="slug")
    for email, (data, languages, expertise) in PROFILES.items():
        expert = users[email]
        if ExpertProfile.objects.filter(user=expert).exclude(headline="").exists():
            continue
        expert_services.profile_update(
            expert=expert,
            data=data,
            languages=languages,
            domains=[(domains[slug], seniority) for slug, seniority in expertise],
        )
    vetter = users[VETTER]
    for spec in CREDENTIALS:
        _credential(spec, users[spec.expert], vetter, domains)
    tests = {test.title: _qualification_test(test, users[TEST_AUTHOR], domains) for test in TESTS}
    for email, title, wrong, written in ATTEMPTS:
        _attempt(users[email], tests[title], wrong, written)
    # Tell the owners of credentials that expire within 30 days, as the nightly job does.
    expert_services.credentials_warn_expiring()


def _credential(
    spec: DemoCredential, expert: User, vetter: User, domains: dict[str, Domain]
) -> Credential:
    existing = Credential.objects.filter(expert=expert, title=spec.title).first()
    if existing is not None:
        return existing
    expires_on = (
        timezone.localdate() + timedelta(days=spec.expires_in_days)
        if spec.expires_in_days is not None
        else None
    )
    credential = expert_services.credential_create(
        expert=expert,
        data={
            "kind": spec.kind,
            "title": spec.title,
            "issuer": spec.issuer,
            "identifier": spec.identifier,
            "country": spec.country,
            "issued_on": spec.issued_on,
            "expires_on": expires_on,
            "domains": [domains[slug] for slug in spec.domains],
        },
    )
    expert_services.document_add(
        expert=expert,
        credential_id=credential.pk,
        name=spec.file_name,
        data=demo_document(spec.document, pdf=spec.file_name.endswith(".pdf")),
    )
    if spec.state == CredentialStatus.DRAFT:
        return credential
    expert_services.credential_submit(expert=expert, credential_id=credential.pk)
    if spec.state == CredentialStatus.SUBMITTED:
        return credential
    credential = expert_services.credential_start_review(staff=vetter, credential_id=credential.pk)
    if spec.state == CredentialStatus.VERIFIED:
        return expert_services.credential_verify(
            staff=vetter, credential_id=credential.pk, message=spec.message
        )
    if spec.state == CredentialStatus.REJECTED:
        return expert_services.credential_reject(
            staff=vetter, credential_id=credential.pk, reason=spec.message
        )
    if spec.state == CredentialStatus.NEEDS_INFO:
        return expert_services.credential_request_info(
            staff=vetter, credential_id=credential.pk, message=spec.message
        )
    return credential


def _qualification_test(
    spec: DemoTest, author: User, domains: dict[str, Domain]
) -> QualificationTest:
    existing = QualificationTest.objects.filter(title=spec.title).first()
    if existing is not None:
        return existing
    settings_ = {
        "domain": domains[spec.domain],
        "title": spec.title,
        "instructions": spec.instructions,
        "time_limit_minutes": spec.time_limit_minutes,
        "pass_mark_percent": spec.pass_mark_percent,
        "cooldown_days": 30,
    }
    test = expert_services.qualification_test_save(
        staff=author, data={**settings_, "is_published": False}
    )
    for question in spec.questions:
        if question.choices:
            correct, *others = question.choices
            options = [(text, False) for text in others]
            options.insert(question.rotate, (correct, True))
            expert_services.question_add(
                staff=author,
                test_id=test.pk,
                kind=QuestionKind.MULTIPLE_CHOICE,
                prompt=question.prompt,
                points=question.points,
                choices=options,
            )
        else:
            expert_services.question_add(
                staff=author,
                test_id=test.pk,
                kind=QuestionKind.SHORT_ANSWER,
                prompt=question.prompt,
                points=question.points,
                reference_answer=question.reference_answer,
            )
    return expert_services.qualification_test_save(
        staff=author, test_id=test.pk, data={**settings_, "is_published": True}
    )


def _attempt(expert: User, test: QualificationTest, wrong: frozenset[int], written: str) -> None:
    if TestAttempt.objects.filter(expert=expert, test=test).exists():
        return
    answers: dict[int, str] = {}
    for index, question in enumerate(test.questions.prefetch_related("choices")):
        if question.kind == QuestionKind.SHORT_ANSWER:
            answers[question.pk] = written
            continue
        pick = next(c for c in question.choices.all() if c.is_correct != (index in wrong))
        answers[question.pk] = str(pick.pk)
    attempt = expert_services.attempt_start(expert=expert, test_id=test.pk)
    expert_services.attempt_submit(expert=expert, attempt_id=attempt.pk, answers=answers)


def summary_lines(users: dict[str, User]) -> list[str]:
    """What the demo holds for experts, for the command's closing summary."""
    lines = []
    experts = [users[email] for email in PROFILES]
    counts = dict(
        Credential.objects.filter(expert__in=experts)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    states = ", ".join(
        f"{counts.get(status, 0)} {label.lower()}" for status, label in CredentialStatus.choices
    )
    lines.append(f"Credentials of the demo experts: {states}.")
    published = QualificationTest.objects.filter(is_published=True).count()
    lines.append(f"Qualification tests published: {published}.")
    for expert in experts:
        vetted = ", ".join(
            str(domain) for domain in expert_selectors.vetted_domains_of_expert(expert=expert)
        )
        lines.append(f"  {expert.full_name}: vetted for {vetted or 'nothing yet'}")
    return lines


def _drawable(text: str) -> str:
    """Spell ``text`` in ASCII: the font bundled with Pillow has no accents or dashes."""
    text = text.replace("\u2014", "-").replace("\u2019", "'")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def demo_document(lines: tuple[str, ...], *, pdf: bool) -> bytes:
    """Draw a certificate-like page with ``lines`` (heading first) as a PDF or a PNG."""
    width, height = 1100, 760
    page = Image.new("RGB", (width, height), (252, 250, 244))
    draw = ImageDraw.Draw(page)
    draw.rectangle((28, 28, width - 28, height - 28), outline=(30, 64, 112), width=6)
    draw.rectangle((44, 44, width - 44, height - 44), outline=(176, 141, 62), width=2)
    heading = ImageFont.load_default(size=44)
    body = ImageFont.load_default(size=28)
    y = 130
    for index, text in enumerate(lines):
        line = _drawable(text)
        font = heading if index == 0 else body
        left = (width - draw.textlength(line, font=font)) / 2
        draw.text((left, y), line, font=font, fill=(30, 64, 112) if index == 0 else (40, 40, 40))
        y += 100 if index == 0 else 62
    draw.text(
        (80, height - 110), "DEMO DOCUMENT, NOT A REAL CREDENTIAL", font=body, fill=(150, 40, 40)
    )
    out = io.BytesIO()
    if pdf:
        page.save(out, format="PDF", resolution=100.0)
    else:
        page.save(out, format="PNG")
    return out.getvalue()
