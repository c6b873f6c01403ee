"""Demo quality: a radiology panel answers a larger pairwise project over two weeks, so the
quality dashboard, the expert's quality page, the staff overview and the exports show real
figures. One panel member clicks at random and is paused by the gold rule; the lab accepted
most answers. Runs once (keyed by the project's title)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from django.db.models import F
from django.utils import timezone

from experts import services as expert_services
from experts.demo import VETTER, DemoCredential, _credential
from experts.models import Domain
from experts.states import CredentialKind, CredentialStatus, Seniority
from marketplace.errors import Conflict
from marketplace.models import Organization, User
from marketplace.states import UserRole
from payments.demo import ensure_balance
from projects import services
from projects.access import lab_actor_for_member
from projects.demo.radiology import RADIOLOGY_GUIDELINES, RADIOLOGY_RUBRIC
from projects.dispatch import services as dispatch
from projects.models import (
    Annotation,
    Assignment,
    GoldAnswer,
    Project,
    ProjectInvitation,
    ProjectMember,
    Task,
    WebhookEndpoint,
)
from projects.pricing import suggested_price_cents
from projects.quality.services import project_quality_refresh
from projects.review import services as review
from projects.selectors import required_funds_cents
from projects.states import InvitationSource, InvitationStatus, MemberStatus, ReviewDecision
from projects.task_types.pairwise import PREFERENCE_SCALE

TITLE = "Imaging follow-up advice (panel)"
DAYS = 14
# The panel: name, country, how often they pick the better answer (None: at random).
PANEL: list[tuple[str, str, float | None]] = [
    ("Dr. Ines Moreau", "FR", 0.95),
    ("Dr. Kwame Mensah", "GH", 0.9),
    ("Dr. Priya Raman", "IN", 0.85),
    ("Dr. Tomas Novak", "CZ", 0.8),
    ("Dr. Lena Fischer", "DE", 0.88),
    ("Dr. Rex Quickly", "US", None),
]
FINDINGS: list[tuple[str, str, str]] = [
    (
        "a 6 mm gallbladder polyp",
        "Polyps under 10 mm are usually harmless; a follow-up ultrasound is often advised to "
        "check it does not grow.",
        "Gallbladder polyps are cancer and the gallbladder must come out this month.",
    ),
    (
        "mild degenerative change at L4/5",
        "This is ordinary wear of the spine that most adults have; it does not explain every "
        "back pain and usually improves with activity.",
        "Your spine is degenerating and you should stop exercising to protect it.",
    ),
    (
        "a thyroid nodule, TI-RADS 2",
        "TI-RADS 2 means the nodule looks benign; no biopsy or follow-up is usually needed.",
        "Any thyroid nodule needs surgery.",
    ),
    (
        "hepatic steatosis",
        "It means fat in the liver, common and often reversible with weight loss, less alcohol "
        "and exercise; your doctor may check your liver tests.",
        "Hepatic steatosis is liver cirrhosis and cannot be reversed.",
    ),
    (
        "a small pleural effusion",
        "A little fluid around the lung; its cause matters more than its size, so your doctor "
        "will look for why it is there.",
        "Fluid around the lung always means heart failure.",
    ),
    (
        "diverticulosis of the sigmoid colon",
        "Small pouches in the bowel wall, very common with age; most people never have "
        "problems. Seek care for fever or severe belly pain.",
        "Diverticulosis is an infection and needs antibiotics now.",
    ),
]
ASKS = [
    "My report says {finding}. What does that mean?",
    "The radiologist wrote '{finding}'. Should I worry?",
    "What happens next if a scan shows {finding}?",
    "Is {finding} serious?",
    "My doctor has not called yet. The scan found {finding}. What should I do?",
    "Can you explain {finding} in plain words?",
    "Does {finding} need treatment?",
    "My mother's scan shows {finding}. Is she in danger?",
]


def _panel_expert(name: str, country: str, number: int, radiology: Domain) -> User:
    email = f"panel{number}@demo.example"
    user, created = User.objects.get_or_create(
        email=email, defaults={"full_name": name, "role": UserRole.EXPERT}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        expert_services.profile_update(
            expert=user,
            data={
                "headline": "Consultant radiologist",
                "bio": f"{name} reports cross-sectional imaging.",
                "country": country,
                "timezone": "UTC",
                "weekly_availability_hours": 10,
                "years_of_experience": 10 + number,
            },
            languages=[("en", "C2")],
            domains=[(radiology, Seniority.SENIOR)],
        )
        _credential(
            DemoCredential(
                email,
                CredentialKind.BOARD_CERTIFICATION,
                "Board certified in radiology",
                "European Board of Radiology",
                f"EBR-{4100 + number}",
                country,
                date(2012 + number, 9, 1),
                ("medicine-radiology",),
                CredentialStatus.VERIFIED,
                f"panel{number}-board.pdf",
                ("European Board of Radiology", "Diploma", f"awarded to {name}"),
            ),
            user,
            User.objects.get(email=VETTER),
            {"medicine-radiology": radiology},
        )
    return user


def _seat(project: Project, expert: User) -> None:
    invitation, _ = ProjectInvitation.objects.get_or_create(
        project=project,
        expert=expert,
        defaults={
            "source": InvitationSource.DIRECT,
            "status": InvitationStatus.ACCEPTED,
            "score": 0.8,
            "weekly_hours": 10,
            "expires_at": timezone.now() + timedelta(days=2),
            "responded_at": timezone.now(),
        },
    )
    ProjectMember.objects.get_or_create(
        project=project, expert=expert, defaults={"invitation": invitation}
    )
    services.guidelines_acknowledge(expert=expert, project=project)


def _tasks(rng: random.Random) -> list[tuple[dict[str, Any], str]]:
    """(task data, the better answer's preference) for every finding and way of asking."""
    rows = []
    for finding, good, bad in FINDINGS:
        for ask in ASKS:
            a_is_good = rng.random() < 0.5
            rows.append(
                (
                    {
                        "prompt": ask.format(finding=finding),
                        "response_a": good if a_is_good else bad,
                        "response_b": bad if a_is_good else good,
                        "metadata": {"finding": finding},
                    },
                    "a_much_better" if a_is_good else "b_much_better",
                )
            )
    return rows


def _answer(truth: str, accuracy: float | None, rng: random.Random, key: str) -> dict[str, Any]:
    if accuracy is None:  # a random clicker, always "sure" (the same click for a task)
        return {
            "preference": random.Random(key).choice(list(PREFERENCE_SCALE)),  # noqa: S311
            "rationale": "ok",
            "confidence": 95,
        }
    side = truth.split("_")[0]
    if rng.random() < accuracy:
        preference = truth if rng.random() < 0.85 else f"{side}_better"
        confidence = rng.choice([80, 85, 90, 95])
    else:
        preference = rng.choice(["tie", f"{'b' if side == 'a' else 'a'}_better"])
        confidence = rng.choice([55, 60, 70])
    return {
        "preference": preference,
        "rationale": "One answer reads the finding correctly and says when to seek care.",
        "confidence": confidence,
    }


def _gold_answer(preference: str) -> dict[str, Any]:
    return {
        "preference": preference,
        "criteria": {},
        "rationale": "The other answer misreads the finding or gives unsafe advice.",
        "confidence": 100,
        "is_edge_case": False,
        "edge_case_note": "",
    }


def _seconds(accuracy: float | None, rng: random.Random) -> int:
    return rng.randint(15, 25) if accuracy is None else rng.randint(150, 330)


def _clicker_gold(
    project: Project, clicker: User, truth: dict[int, str], rng: random.Random
) -> None:
    """The clicker meets the gold tasks dispatch has not yet given them, one by one, until
    the pause rule stops them (the gold rate alone may leave too few for a small demo)."""
    for number, task in enumerate(
        project.tasks.filter(is_gold=True).exclude(assignments__expert=clicker)
    ):
        if not ProjectMember.objects.filter(
            project=project, expert=clicker, status=MemberStatus.ACTIVE
        ).exists():
            return
        now = timezone.now()
        assignment = Assignment.objects.create(
            task=task,
            project=project,
            expert=clicker,
            holds_slot=False,
            leased_at=now - timedelta(minutes=1),
            expires_at=now + timedelta(minutes=29),
        )
        dispatch.annotation_submit(
            expert=clicker,
            assignment=assignment,
            result=_answer(truth[task.pk], None, rng, task.external_id),
            signals=dispatch.PageSignals(active_seconds=_seconds(None, rng)),
        )
        if number % 3 == 2:
            project_quality_refresh(project=project)


def seed_quality(*, organization: Organization, manager: User) -> Project | None:
    """Create the panel project, have the panel work through it, and run the quality engine.

    The panel's two weeks are history written at once, not live events: the lab's webhook
    endpoints are switched off meanwhile, so no delivery is queued for them."""
    if Project.objects.filter(organization=organization, title=TITLE).exists():
        return None
    endpoints = list(
        WebhookEndpoint.objects.filter(organization=organization, is_active=True).values_list(
            "pk", flat=True
        )
    )
    WebhookEndpoint.objects.filter(pk__in=endpoints).update(is_active=False)
    try:
        return _seed_panel(organization=organization, manager=manager)
    finally:
        WebhookEndpoint.objects.filter(pk__in=endpoints).update(is_active=True)


def _seed_panel(*, organization: Organization, manager: User) -> Project:
    rng = random.Random(2026)  # noqa: S311 - demo answers, not secrets
    radiology = Domain.objects.get(slug="medicine-radiology")
    actor = lab_actor_for_member(user=manager, organization_slug=organization.slug)
    project = services.project_create(
        actor=actor,
        title=TITLE,
        summary="A radiology panel compares answers about common incidental findings.",
        domain=radiology,
        task_type="pairwise",
        price_per_annotation_cents=suggested_price_cents(task_type="pairwise", domain=radiology),
        overlap=3,
        seats=len(PANEL),
        gold_rate_percent=30,
        min_gold_accuracy_percent=60,
        min_gold_tasks=5,
        adaptive_overlap=True,
        max_overlap=5,
        consensus_threshold_percent=95,
        guidelines=RADIOLOGY_GUIDELINES,
        rubric=RADIOLOGY_RUBRIC,
    )
    rows = _tasks(rng)
    regular = rows[:36]
    gold = rows[36:]
    truth: dict[int, str] = {}
    created = Task.objects.bulk_create(
        Task(project=project, external_id=f"panel-{n:03d}", data=data, is_gold=False)
        for n, (data, _) in enumerate(regular, start=1)
    )
    truth |= {task.pk: preference for task, (_, preference) in zip(created, regular, strict=True)}
    golds = Task.objects.bulk_create(
        Task(project=project, external_id=f"panel-gold-{n:03d}", data=data, is_gold=True)
        for n, (data, _) in enumerate(gold, start=1)
    )
    GoldAnswer.objects.bulk_create(
        GoldAnswer(task=task, answer=_gold_answer(preference))
        for task, (_, preference) in zip(golds, gold, strict=True)
    )
    truth |= {task.pk: preference for task, (_, preference) in zip(golds, gold, strict=True)}
    needed = required_funds_cents(project=project, task_count=len(regular))
    ensure_balance(actor=actor, cents=needed)
    services.project_fund(actor=actor, project=project, amount_cents=needed)
    services.project_activate(actor=actor, project=project)
    panel = []
    for number, (name, country, accuracy) in enumerate(PANEL, start=1):
        expert = _panel_expert(name, country, number, radiology)
        _seat(project, expert)
        panel.append((expert, accuracy))
    start = timezone.now() - timedelta(days=DAYS)
    step = 0
    for _round in range(30):
        for expert, accuracy in panel:
            try:
                assignment = dispatch.task_claim(expert=expert, project=project)
            except Conflict:  # paused for quality
                continue
            if assignment is None:
                continue
            Assignment.objects.filter(pk=assignment.pk).update(
                leased_at=F("leased_at") - timedelta(minutes=6)
            )
            annotation = dispatch.annotation_submit(
                expert=expert,
                assignment=assignment,
                result=_answer(
                    truth[assignment.task_id], accuracy, rng, assignment.task.external_id
                ),
                signals=dispatch.PageSignals(
                    active_seconds=rng.randint(15, 25)
                    if accuracy is None
                    else rng.randint(150, 330)
                ),
            )
            # Spread the work over the last two weeks, a little more each day.
            when = start + timedelta(days=DAYS * (step / 170) ** 0.8, minutes=rng.randint(0, 300))
            Annotation.objects.filter(pk=annotation.pk).update(submitted_at=when, created_at=when)
            step += 1
        if _round % 6 == 5:
            project_quality_refresh(project=project)
    _clicker_gold(project, panel[-1][0], truth, rng)
    for annotation in Annotation.objects.filter(project=project, task__is_gold=False).order_by(
        "id"
    )[: step // 2]:
        review.annotation_review(actor=actor, annotation=annotation, decision=ReviewDecision.ACCEPT)
    project_quality_refresh(project=project)
    return project


def summary_lines(*, organization: Organization) -> list[str]:
    """What the quality demo shows, for the seed's closing summary."""
    project = Project.objects.filter(organization=organization, title=TITLE).first()
    if project is None:
        return []
    paused = ProjectMember.objects.filter(project=project, quality_paused=True).count()
    return [
        f"Quality: “{TITLE}” has {project.annotations.count()} annotations from a panel of "
        f"{len(PANEL)}; {paused} expert paused by the gold rule. Its Quality tab: "
        f"/labs/{organization.slug}/projects/{project.public_id}/quality/"
    ]
