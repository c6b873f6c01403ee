"""Projects: create, edit, publish guidelines, fund, and move through their states."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_countries import countries

from experts.models import Domain
from experts.states import CredentialKind, Proficiency, Seniority
from marketplace.errors import Conflict, InvalidInput
from marketplace.models import User
from marketplace.services import audit_record, notification_create
from projects.access import LabActor, lab_audit_record
from projects.models import GuidelineAcknowledgement, GuidelineVersion, Project
from projects.selectors import experts_on_project
from projects.states import (
    EDITABLE_PROJECT_STATES,
    AiPolicy,
    DispatchOrder,
    ProjectStatus,
)
from projects.task_types import task_type_for

MAX_PRICE_CENTS = 100_000  # $1,000 per annotation
MAX_BUDGET_CENTS = 100_000_000_000
MAX_SEATS = 10_000

# Fields a lab may change once the project is live (experts are not affected by them).
ALWAYS_EDITABLE_FIELDS = frozenset(
    {
        "title",
        "summary",
        "deadline",
        "seats",
        "budget_cents",
        # Workspace settings: they change how work is handed out, not what it is.
        "lease_minutes",
        "dispatch_order",
        "auto_accept_days",
        # Quality settings: how strictly experts are judged and how many answers items get.
        "min_gold_tasks",
        "adaptive_overlap",
        "max_overlap",
        "consensus_threshold_percent",
        "stop_early",
    }
)
SETUP_FIELDS = frozenset(
    {
        "domain",
        "specialties",
        "required_credential_kinds",
        "min_seniority",
        "languages",
        "language_level",
        "allowed_countries",
        "task_type",
        "task_settings",
        "overlap",
        "price_per_annotation_cents",
        "gold_rate_percent",
        "min_gold_accuracy_percent",
        "ai_policy",
    }
)
EDITABLE_FIELDS = ALWAYS_EDITABLE_FIELDS | SETUP_FIELDS
FINISHED_STATES = frozenset({ProjectStatus.COMPLETED, ProjectStatus.ARCHIVED})


# Validation ------------------------------------------------------------------------------


def _int_in(values: dict[str, Any], name: str, low: int, high: int, label: str) -> None:
    if name not in values:
        return
    value = values[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{label} must be a whole number.", field=name)
    if not low <= value <= high:
        raise InvalidInput(f"{label} must be between {low:,} and {high:,}.", field=name)


def _clean(values: dict[str, Any], *, current: Project | None) -> dict[str, Any]:
    """Check every given field; return them ready to set on the project."""
    unknown = set(values) - EDITABLE_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInput(f"“{name}” cannot be set.", field=name)
    clean = dict(values)
    if "title" in clean:
        clean["title"] = " ".join(str(clean["title"] or "").split())
        if not clean["title"]:
            raise InvalidInput("Give the project a title.", field="title")
        if len(clean["title"]) > 160:
            raise InvalidInput("The title is too long (160 characters at most).", field="title")
    if "summary" in clean:
        clean["summary"] = " ".join(str(clean["summary"] or "").split())
        if len(clean["summary"]) > 300:
            raise InvalidInput("The summary is too long (300 characters at most).", field="summary")
    domain = clean.get("domain", current.domain if current else None)
    if "domain" in clean and (not isinstance(domain, Domain) or not domain.is_active):
        raise InvalidInput("Choose a domain.", field="domain")
    if "specialties" in clean:
        specialties = list(clean["specialties"])
        parent_id = domain.parent_id or domain.pk if domain is not None else None
        if any(s.parent_id != parent_id for s in specialties):
            raise InvalidInput(
                "Specialties must belong to the project's field.", field="specialties"
            )
        clean["specialties"] = specialties
    if "required_credential_kinds" in clean:
        kinds = list(dict.fromkeys(clean["required_credential_kinds"] or []))
        bad = [k for k in kinds if k not in CredentialKind.values]
        if bad:
            raise InvalidInput(
                f"Unknown credential kind “{bad[0]}”.", field="required_credential_kinds"
            )
        clean["required_credential_kinds"] = kinds
    if clean.get("min_seniority") and clean["min_seniority"] not in Seniority.values:
        raise InvalidInput(f"Unknown seniority “{clean['min_seniority']}”.", field="min_seniority")
    if "min_seniority" in clean:
        clean["min_seniority"] = clean["min_seniority"] or ""
    if "languages" in clean:
        codes = dict(settings.LANGUAGES)
        languages = list(dict.fromkeys(clean["languages"] or []))
        bad = [code for code in languages if code not in codes]
        if bad:
            raise InvalidInput(f"Unknown language code “{bad[0]}”.", field="languages")
        clean["languages"] = languages
    if "language_level" in clean and clean["language_level"] not in Proficiency.values:
        raise InvalidInput(
            f"Unknown language level “{clean['language_level']}”.", field="language_level"
        )
    if "allowed_countries" in clean:
        known = dict(countries)
        allowed = list(
            dict.fromkeys(str(code).upper() for code in clean["allowed_countries"] or [])
        )
        bad = [code for code in allowed if code not in known]
        if bad:
            raise InvalidInput(f"Unknown country code “{bad[0]}”.", field="allowed_countries")
        clean["allowed_countries"] = allowed
    task_type_key = clean.get("task_type", current.task_type if current else None)
    if "task_type" in clean or "task_settings" in clean:
        task_type = task_type_for(str(task_type_key))
        type_changes = current is None or task_type_key != current.task_type
        # A new type starts from its defaults; the same type keeps the settings it has.
        raw_settings = clean.get(
            "task_settings", {} if type_changes or current is None else current.task_settings
        )
        clean["task_settings"] = task_type.clean_settings(raw_settings)
    _int_in(clean, "overlap", 1, 9, "Overlap (annotations per task)")
    _int_in(clean, "price_per_annotation_cents", 1, MAX_PRICE_CENTS, "The price per annotation")
    _int_in(clean, "seats", 1, MAX_SEATS, "Seats")
    _int_in(clean, "budget_cents", 0, MAX_BUDGET_CENTS, "The budget")
    _int_in(clean, "gold_rate_percent", 0, 50, "The gold rate (percent)")
    _int_in(clean, "min_gold_accuracy_percent", 0, 100, "The minimum gold accuracy (percent)")
    _int_in(clean, "lease_minutes", 5, 240, "The time an expert holds a task (minutes)")
    _int_in(clean, "auto_accept_days", 0, 90, "Auto-accept after (days)")
    _int_in(clean, "min_gold_tasks", 1, 200, "Gold tasks before the pause rule applies")
    _int_in(clean, "max_overlap", 1, 9, "The most answers per item (adaptive overlap)")
    _int_in(clean, "consensus_threshold_percent", 50, 99, "The consensus confidence (percent)")
    for flag in ("adaptive_overlap", "stop_early"):
        if flag in clean and not isinstance(clean[flag], bool):
            raise InvalidInput("Must be true or false.", field=flag)
    adaptive = clean.get("adaptive_overlap", current.adaptive_overlap if current else False)
    overlap = clean.get("overlap", current.overlap if current else 3)
    ceiling = clean.get("max_overlap", current.max_overlap if current else 5)
    if adaptive and ceiling < overlap:
        raise InvalidInput(
            f"The most answers per item ({ceiling}) cannot be below the overlap ({overlap}).",
            field="max_overlap",
        )
    if "dispatch_order" in clean and clean["dispatch_order"] not in DispatchOrder.values:
        raise InvalidInput(
            f"Unknown dispatch order “{clean['dispatch_order']}”.", field="dispatch_order"
        )
    if "ai_policy" in clean and clean["ai_policy"] not in AiPolicy.values:
        raise InvalidInput(f"Unknown AI policy “{clean['ai_policy']}”.", field="ai_policy")
    if clean.get("deadline") is not None:
        deadline = clean["deadline"]
        if not isinstance(deadline, datetime.date):
            raise InvalidInput("The deadline must be a date.", field="deadline")
        if deadline < timezone.localdate() and (current is None or deadline != current.deadline):
            raise InvalidInput("The deadline is in the past.", field="deadline")
    return clean


def _snapshot(project: Project, fields: set[str]) -> dict[str, Any]:
    snapshot: dict[str, Any] = {}
    for name in sorted(fields):
        if name == "specialties":
            snapshot[name] = sorted(project.specialties.values_list("slug", flat=True))
        elif name == "domain":
            snapshot[name] = project.domain.slug
        elif name == "deadline":
            snapshot[name] = project.deadline.isoformat() if project.deadline else None
        else:
            snapshot[name] = getattr(project, name)
    return snapshot


# Create and edit -------------------------------------------------------------------------


def project_create(
    *,
    actor: LabActor,
    title: str,
    domain: Domain,
    task_type: str,
    price_per_annotation_cents: int,
    summary: str = "",
    specialties: list[Domain] | None = None,
    required_credential_kinds: list[str] | None = None,
    min_seniority: str = "",
    languages: list[str] | None = None,
    language_level: str = Proficiency.C1,
    allowed_countries: list[str] | None = None,
    task_settings: dict[str, Any] | None = None,
    overlap: int = 3,
    seats: int = 10,
    budget_cents: int = 0,
    deadline: datetime.date | None = None,
    gold_rate_percent: int = 10,
    min_gold_accuracy_percent: int = 70,
    lease_minutes: int = 30,
    dispatch_order: str = DispatchOrder.DEPTH,
    ai_policy: str = AiPolicy.FORBIDDEN,
    auto_accept_days: int = 7,
    min_gold_tasks: int = 10,
    adaptive_overlap: bool = False,
    max_overlap: int = 5,
    consensus_threshold_percent: int = 80,
    stop_early: bool = False,
    guidelines: str = "",
    rubric: str = "",
    ip_address: str | None = None,
) -> Project:
    """Create a draft project; with guidelines, also their first version."""
    actor.require_manager("create projects")
    values = _clean(
        {
            "title": title,
            "summary": summary,
            "domain": domain,
            "specialties": specialties or [],
            "required_credential_kinds": required_credential_kinds or [],
            "min_seniority": min_seniority,
            "languages": languages or [],
            "language_level": language_level,
            "allowed_countries": allowed_countries or [],
            "task_type": task_type,
            "task_settings": task_settings or {},
            "overlap": overlap,
            "price_per_annotation_cents": price_per_annotation_cents,
            "seats": seats,
            "budget_cents": budget_cents,
            "deadline": deadline,
            "gold_rate_percent": gold_rate_percent,
            "min_gold_accuracy_percent": min_gold_accuracy_percent,
            "lease_minutes": lease_minutes,
            "dispatch_order": dispatch_order,
            "ai_policy": ai_policy,
            "auto_accept_days": auto_accept_days,
            "min_gold_tasks": min_gold_tasks,
            "adaptive_overlap": adaptive_overlap,
            "max_overlap": max(max_overlap, overlap) if not adaptive_overlap else max_overlap,
            "consensus_threshold_percent": consensus_threshold_percent,
            "stop_early": stop_early,
        },
        current=None,
    )
    specialties = values.pop("specialties", [])
    with transaction.atomic():
        project = Project.objects.create(
            organization=actor.organization, created_by=actor.user, **values
        )
        if specialties:
            project.specialties.set(specialties)
        lab_audit_record(
            actor=actor,
            action="project.create",
            target=project,
            after={
                "title": project.title,
                "task_type": project.task_type,
                "status": project.status,
            },
            ip_address=ip_address,
        )
        if guidelines.strip():
            _publish(
                actor=actor,
                project=project,
                guidelines=guidelines,
                rubric=rubric,
                changelog="First version.",
                is_material=False,
                ip_address=ip_address,
            )
    return project


def project_update(
    *, actor: LabActor, project: Project, changes: dict[str, Any], ip_address: str | None = None
) -> Project:
    """Change settings. Requirements, pricing and type are fixed once the project is live."""
    actor.require_manager("edit projects")
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.status in FINISHED_STATES:
            raise Conflict("A completed or archived project cannot be changed.")
        setup = set(changes) & SETUP_FIELDS
        if setup and locked.status not in EDITABLE_PROJECT_STATES:
            name = sorted(setup)[0]
            raise Conflict(
                f"“{name}” cannot change once the project is {locked.get_status_display()}.",
            )
        has_tasks = locked.tasks.exists()
        if "task_type" in changes and changes["task_type"] != locked.task_type and has_tasks:
            raise Conflict("The task type cannot change once the project has tasks.")
        clean = _clean(changes, current=locked)
        if has_tasks and clean.get("task_settings", locked.task_settings) != locked.task_settings:
            # Tasks and gold answers were checked against these settings (labels, criteria).
            raise Conflict("The task-type settings cannot change once the project has tasks.")
        before = _snapshot(locked, set(clean))
        specialties = clean.pop("specialties", None)
        for name, value in clean.items():
            setattr(locked, name, value)
        locked.save()
        if specialties is not None:
            locked.specialties.set(specialties)
        after = _snapshot(
            locked, set(clean) | ({"specialties"} if specialties is not None else set())
        )
        changed = {k: v for k, v in after.items() if before.get(k) != v}
        if changed:
            lab_audit_record(
                actor=actor,
                action="project.update",
                target=locked,
                before={k: before.get(k) for k in changed},
                after=changed,
                ip_address=ip_address,
            )
    return locked


# Guidelines ------------------------------------------------------------------------------


def _publish(
    *,
    actor: LabActor,
    project: Project,
    guidelines: str,
    rubric: str,
    changelog: str,
    is_material: bool,
    ip_address: str | None,
) -> GuidelineVersion:
    number = project.guidelines_version + 1
    version = GuidelineVersion.objects.create(
        project=project,
        number=number,
        guidelines=guidelines,
        rubric=rubric,
        changelog=changelog,
        is_material=is_material,
        created_by=actor.user,
    )
    project.guidelines_version = number
    if is_material:
        project.material_guidelines_version = number
    project.save(update_fields=["guidelines_version", "material_guidelines_version", "updated_at"])
    lab_audit_record(
        actor=actor,
        action="project.guidelines_publish",
        target=project,
        after={"version": number, "material": is_material, "changelog": changelog},
        ip_address=ip_address,
    )
    return version


def guidelines_publish(
    *,
    actor: LabActor,
    project: Project,
    guidelines: str,
    rubric: str = "",
    changelog: str,
    is_material: bool = False,
    ip_address: str | None = None,
) -> GuidelineVersion:
    """Publish a new version. A material change asks every expert to re-read before work."""
    actor.require_manager("change guidelines")
    guidelines = guidelines.strip()
    changelog = " ".join(changelog.split())
    if not guidelines:
        raise InvalidInput("The guidelines cannot be empty.", field="guidelines")
    if len(guidelines) > 200_000 or len(rubric) > 200_000:
        raise InvalidInput(
            "The guidelines are too long (200,000 characters at most).", field="guidelines"
        )
    if not changelog:
        raise InvalidInput("Say in one line what changed.", field="changelog")
    if len(changelog) > 300:
        raise InvalidInput("The changelog line is too long (300 characters).", field="changelog")
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.status in FINISHED_STATES:
            raise Conflict("A completed or archived project cannot be changed.")
        current = GuidelineVersion.objects.filter(
            project=locked, number=locked.guidelines_version
        ).first()
        if current is not None and (current.guidelines, current.rubric) == (
            guidelines,
            rubric.strip(),
        ):
            raise InvalidInput("Nothing changed since the current version.", field="guidelines")
        version = _publish(
            actor=actor,
            project=locked,
            guidelines=guidelines,
            rubric=rubric.strip(),
            changelog=changelog,
            is_material=is_material,
            ip_address=ip_address,
        )
        if is_material:
            link = reverse("project_guidelines", args=[locked.public_id])
            for expert in experts_on_project(project=locked):
                notification_create(
                    recipient=expert,
                    kind="project.guidelines_changed",
                    text=(
                        f"The guidelines of “{locked.title}” changed ({changelog}). "
                        "Please re-read them before your next task."
                    ),
                    link=link,
                )
    project.refresh_from_db()
    return version


def guidelines_acknowledge(*, expert: User, project: Project) -> GuidelineAcknowledgement:
    """Record that the expert read the current version."""
    if not project.guidelines_version:
        raise Conflict("This project has no guidelines yet.")
    with transaction.atomic():
        acknowledgement, _ = GuidelineAcknowledgement.objects.update_or_create(
            project=project, expert=expert, defaults={"version": project.guidelines_version}
        )
        audit_record(
            actor=expert,
            action="project.guidelines_acknowledge",
            target=project,
            after={"version": project.guidelines_version},
        )
    return acknowledgement
