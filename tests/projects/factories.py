"""Projects set up through services, as a lab would."""

from __future__ import annotations

from typing import Any

from experts.models import Domain
from marketplace.models import Organization, User
from marketplace.states import MembershipRole
from projects import services
from projects.access import LabActor
from projects.models import GoldAnswer, Project, Task
from projects.selectors import required_funds_cents
from projects.task_types import task_type_for
from tests import factories
from tests.payments.factories import fund_lab

GUIDELINES = "# Guidelines\n\nPrefer the response a careful clinician would give."


def manager_actor(organization: Organization | None = None, user: User | None = None) -> LabActor:
    """An owner of a (new) organisation, acting for it."""
    if organization is None:
        user = user or factories.lab_user()
        organization = factories.organization(owner=user)
    elif user is None:
        user = factories.lab_user()
        factories.add_member(organization, user, MembershipRole.MANAGER)
    return LabActor(organization=organization, user=user, api_key=None, role=MembershipRole.OWNER)


def domain(slug: str = "medicine") -> Domain:
    return Domain.objects.get(slug=slug)


def project(
    actor: LabActor | None = None,
    *,
    task_type: str = "pairwise",
    title: str = "Medication safety preferences",
    guidelines: str = GUIDELINES,
    **fields: Any,
) -> Project:
    actor = actor or manager_actor()
    fields.setdefault("price_per_annotation_cents", 500)
    fields.setdefault("overlap", 3)
    return services.project_create(
        actor=actor,
        title=title,
        domain=fields.pop("domain", None) or domain(),
        task_type=task_type,
        guidelines=guidelines,
        **fields,
    )


def tasks(project: Project, count: int = 3, *, gold: bool = False, prefix: str = "t") -> list[Task]:
    """Valid tasks of the project's type (examples with a numbered prompt), added directly."""
    task_type = task_type_for(project.task_type)
    rows = []
    for n in range(count):
        data = dict(task_type.example_input())
        first_key = next(iter(data))
        data[first_key] = f"{data[first_key]} #{n}"
        rows.append(
            Task(
                project=project,
                external_id=f"{prefix}{'g' if gold else ''}-{n}",
                data=data,
                is_gold=gold,
            )
        )
    created = Task.objects.bulk_create(rows)
    if gold:
        GoldAnswer.objects.bulk_create(
            GoldAnswer(task=task, answer=task_type.example_result()) for task in created
        )
    return list(Task.objects.filter(project=project, external_id__in=[t.external_id for t in rows]))


def active_project(actor: LabActor | None = None, *, task_count: int = 3, **fields: Any) -> Project:
    """A project with tasks, funded to cover them, and active."""
    actor = actor or manager_actor()
    created = project(actor, **fields)
    tasks(created, task_count)
    needed = required_funds_cents(project=created, task_count=task_count)
    fund_lab(actor.organization, needed)
    services.project_fund(actor=actor, project=created, amount_cents=needed)
    return services.project_activate(actor=actor, project=created)
