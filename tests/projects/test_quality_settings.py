"""The project's quality settings: the pause rule and adaptive overlap, in the form and the API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from marketplace import services as core_services
from marketplace.errors import InvalidInput
from marketplace.models import Membership
from projects import services
from projects.models import Project
from tests import factories
from tests.projects import factories as project_factories
from tests.projects.test_review_views import _form_data

pytestmark = pytest.mark.django_db


def test_the_project_form_saves_the_quality_settings_and_the_page_explains_them(client):
    actor = project_factories.manager_actor()
    project = project_factories.project(actor)
    client.force_login(actor.user)
    address = reverse("projects:edit", args=[actor.organization.slug, project.public_id])
    assert 'name="adaptive_overlap"' in client.get(address).content.decode()

    response = client.post(
        address,
        _form_data(
            project,
            min_gold_tasks="15",
            adaptive_overlap="on",
            max_overlap="5",
            consensus_threshold_percent="90",
            stop_early="on",
        ),
    )

    assert response.status_code == 302
    project.refresh_from_db()
    assert (
        project.min_gold_tasks,
        project.adaptive_overlap,
        project.max_overlap,
        project.consensus_threshold_percent,
        project.stop_early,
    ) == (15, True, 5, 90, True)
    page = client.get(
        reverse("projects:detail", args=[actor.organization.slug, project.public_id])
    ).content.decode()
    assert "after 15 gold answers" in page
    assert "up to 5 answers while the consensus is below 90%; stops early once settled" in page


def test_a_ceiling_below_the_overlap_is_refused_and_nothing_changes(client):
    actor = project_factories.manager_actor()
    project = project_factories.project(actor, overlap=3)
    client.force_login(actor.user)
    address = reverse("projects:edit", args=[actor.organization.slug, project.public_id])

    response = client.post(address, _form_data(project, adaptive_overlap="on", max_overlap="2"))

    assert response.status_code == 400
    assert "cannot be below the overlap (3)" in response.content.decode()
    project.refresh_from_db()
    assert (project.adaptive_overlap, project.max_overlap) == (False, 5)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_gold_tasks", 0, "between 1 and 200"),
        ("consensus_threshold_percent", 100, "between 50 and 99"),
        ("max_overlap", 10, "between 1 and 9"),
        ("adaptive_overlap", "yes", "true or false"),
    ],
)
def test_the_service_names_a_bad_quality_setting(field, value, message):
    actor = project_factories.manager_actor()
    project = project_factories.project(actor)
    with pytest.raises(InvalidInput, match=message) as error:
        services.project_update(actor=actor, project=project, changes={field: value})
    assert error.value.field == field
    assert Project.objects.get(pk=project.pk).min_gold_tasks == 10


def test_the_api_reads_and_writes_the_quality_settings():
    owner = factories.lab_user()
    organization = factories.organization(owner=owner)
    membership = Membership.objects.get(organization=organization, user=owner)
    key = core_services.api_key_create(membership=membership, name="ci").secret
    actor = project_factories.manager_actor(organization, owner)
    project = project_factories.project(actor)
    api = APIClient()
    address = reverse("api:project-detail", args=[project.public_id])

    response = api.patch(
        address,
        {"adaptive_overlap": True, "max_overlap": 4, "min_gold_tasks": 20},
        format="json",
        HTTP_AUTHORIZATION=f"Api-Key {key}",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["adaptive_overlap"], body["max_overlap"], body["min_gold_tasks"]) == (True, 4, 20)
    assert body["consensus_threshold_percent"] == 80
    assert body["stop_early"] is False
    project.refresh_from_db()
    assert (project.adaptive_overlap, project.max_overlap, project.min_gold_tasks) == (True, 4, 20)
