"""Fair pay in the lab API: every project representation carries its effective hourly rate,
and activating a project below the floor answers 200 with the warning (never a refusal)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.urls import reverse
from rest_framework.test import APIClient

from marketplace import services as core_services
from marketplace.models import Membership
from projects import services
from projects.access import LabActor
from projects.models import Annotation, Project
from projects.selectors import required_funds_cents
from projects.states import ProjectStatus
from tests.payments.factories import fund_lab
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import submit_next, workspace

pytestmark = pytest.mark.django_db

FLOOR = 2000
# Pairwise preferences usually take 6 minutes: $1.50 each is $15.00 an hour.
LOW_WARNING = (
    "Below the fair-pay floor: this project pays experts about $15.00 an hour (estimated), "
    "under the platform's floor of $20.00 an hour. Experts see the hourly rate on their "
    "invitations and are likely to decline; consider raising the price."
)


@pytest.fixture(autouse=True)
def _floor(settings):
    settings.FAIR_PAY_FLOOR_CENTS_PER_HOUR = FLOOR


def _url(name: str, *args: Any) -> str:
    return reverse(f"api:{name}", args=args)


def _header(actor: LabActor) -> dict[str, str]:
    """An API key of the actor's organisation, as the Authorization header."""
    membership = Membership.objects.get(organization=actor.organization, user=actor.user)
    issued = core_services.api_key_create(membership=membership, name="ci")
    return {"HTTP_AUTHORIZATION": f"Api-Key {issued.secret}"}


def _estimate(cents_per_hour: int, warning: str | None) -> dict[str, Any]:
    return {
        "cents_per_hour": cents_per_hour,
        "median_seconds": None,
        "basis": "estimate",
        "floor_cents_per_hour": FLOOR,
        "below_floor": warning is not None,
        "warning": warning,
    }


def _ready(actor: LabActor, price: int) -> Project:
    """A draft with three tasks and guidelines, the lab's balance covering it."""
    project = project_factories.project(actor, price_per_annotation_cents=price)
    project_factories.tasks(project, 3)
    fund_lab(actor.organization, required_funds_cents(project=project, task_count=3))
    return project


def _timed(actor: LabActor, seconds: list[int], **fields: Any) -> Project:
    """An active project whose experts submitted one answer each, taking ``seconds``."""
    _, project, experts = workspace(
        actor=actor, experts=len(seconds), task_count=len(seconds), overlap=1, **fields
    )
    for person, spent in zip(experts, seconds, strict=True):
        annotation = submit_next(person, project)
        Annotation.objects.filter(pk=annotation.pk).update(time_spent_seconds=spent)
    return project


def test_creating_a_project_below_the_floor_answers_its_estimate_with_a_warning():
    actor = project_factories.manager_actor()
    api = APIClient()
    body = {
        "title": "Medication safety preferences",
        "domain": "medicine",
        "task_type": "pairwise",
        "task_settings": {"criteria": ["accuracy", "safety"], "require_rationale": True},
        "overlap": 1,
        "price_per_annotation_cents": 150,
    }

    response = api.post(_url("project-list"), body, format="json", **_header(actor))

    assert response.status_code == 201, response.json()
    assert response.json()["fair_pay"] == _estimate(1500, LOW_WARNING)


def test_funding_and_activating_below_the_floor_warn_but_activation_goes_through():
    actor = project_factories.manager_actor()
    project = _ready(actor, price=150)
    header = _header(actor)
    api = APIClient()
    needed = required_funds_cents(project=project, task_count=3)

    funded = api.post(
        _url("project-fund", project.public_id), {"amount_cents": needed}, format="json", **header
    )
    activated = api.post(_url("project-activate", project.public_id), **header)

    assert funded.status_code == 201, funded.json()
    assert funded.json()["project"]["fair_pay"] == _estimate(1500, LOW_WARNING)
    assert activated.status_code == 200, activated.json()
    assert activated.json()["status"] == "active"
    assert activated.json()["fair_pay"] == _estimate(1500, LOW_WARNING)
    project.refresh_from_db()
    assert project.status == ProjectStatus.ACTIVE


def test_a_project_at_or_above_the_floor_has_no_warning():
    actor = project_factories.manager_actor()
    at_floor = _ready(actor, price=200)  # 6 minutes each: exactly $20.00 an hour
    services.project_fund(
        actor=actor,
        project=at_floor,
        amount_cents=required_funds_cents(project=at_floor, task_count=3),
    )
    api = APIClient()

    activated = api.post(_url("project-activate", at_floor.public_id), **_header(actor))

    assert activated.status_code == 200, activated.json()
    assert activated.json()["fair_pay"] == _estimate(2000, None)


def test_the_project_shows_its_measured_rate_once_enough_answers_are_timed():
    actor = project_factories.manager_actor()
    # $1.50 for a median of 600 s is $9.00 an hour; an answer without measured time (0) does
    # not count.
    project = _timed(actor, [300, 600, 0, 900, 1200, 450], price_per_annotation_cents=150)

    response = APIClient().get(_url("project-detail", project.public_id), **_header(actor))

    assert response.status_code == 200
    assert response.json()["fair_pay"] == {
        "cents_per_hour": 900,
        "median_seconds": 600,
        "basis": "measured",
        "floor_cents_per_hour": FLOOR,
        "below_floor": True,
        "warning": (
            "Below the fair-pay floor: this project pays experts about $9.00 an hour "
            "(measured), under the platform's floor of $20.00 an hour. Experts see the hourly "
            "rate on their invitations and are likely to decline; consider raising the price."
        ),
    }


def test_the_project_list_reads_every_rate_in_one_query(django_assert_num_queries):
    actor = project_factories.manager_actor()
    header = _header(actor)
    api = APIClient()
    measured = _timed(actor, [60] * 5)  # $5.00 a minute of work: $300.00 an hour
    cheap = project_factories.project(actor, price_per_annotation_cents=150)
    api.get(_url("project-list"), **header)  # the key's last use is recorded once a minute

    # key, count, page, specialties, the page's fair-pay medians
    with django_assert_num_queries(5):
        first = api.get(_url("project-list"), **header).json()

    for n in range(3):
        project_factories.project(actor, title=f"More {n}", price_per_annotation_cents=500)
    with django_assert_num_queries(5):
        second = api.get(_url("project-list"), **header).json()

    by_id = {row["id"]: row["fair_pay"] for row in first["results"]}
    assert by_id == {
        str(measured.public_id): {
            "cents_per_hour": 30000,
            "median_seconds": 60,
            "basis": "measured",
            "floor_cents_per_hour": FLOOR,
            "below_floor": False,
            "warning": None,
        },
        str(cheap.public_id): _estimate(1500, LOW_WARNING),
    }
    assert second["count"] == 5
    assert [row["fair_pay"]["cents_per_hour"] for row in second["results"]].count(5000) == 3


def test_the_schema_documents_the_field(client):
    schemas = yaml.safe_load(client.get(reverse("api_schema")).content)["components"]["schemas"]

    field = schemas["Project"]["properties"]["fair_pay"]
    assert field["allOf"] == [{"$ref": "#/components/schemas/ProjectFairPay"}]
    assert (
        "activating such a project is allowed and its response carries the warning"
        in (field["description"])
    )
    shape = schemas["ProjectFairPay"]
    assert sorted(shape["required"]) == [
        "basis",
        "below_floor",
        "cents_per_hour",
        "floor_cents_per_hour",
        "median_seconds",
        "warning",
    ]
    assert all(part.get("description") for part in shape["properties"].values())
    assert shape["properties"]["warning"]["nullable"] is True
