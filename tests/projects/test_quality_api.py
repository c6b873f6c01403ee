"""The lab API's quality figures: pseudonyms only, the lab's own projects only."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from marketplace import services as core_services
from marketplace.models import Membership
from projects.exports.provenance import lab_pseudonym
from projects.models import ProjectQuality
from projects.quality import services as quality_services
from tests.projects.test_quality_services import regular
from tests.projects.workspace_factories import answer_task, lab_viewer, workspace

pytestmark = pytest.mark.django_db


def _key(actor) -> str:
    membership = Membership.objects.get(organization=actor.organization, user=actor.user)
    return core_services.api_key_create(membership=membership, name="ci").secret


def _answered():
    actor, project, experts = workspace(experts=2, task_count=1, overlap=2)
    (task,) = regular(project)
    answer_task(experts[0], task, project, preference="a_better")
    answer_task(experts[1], task, project, preference="a_better")
    return actor, project, experts


def test_an_api_key_recomputes_and_reads_the_figures_under_pseudonyms(django_assert_num_queries):
    actor, project, experts = _answered()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {_key(actor)}")
    address = reverse("api:project-quality", args=[project.public_id])
    assert api.get(address).json() == {"computed_at": None, "figures": None}

    recomputed = api.post(address)

    assert recomputed.status_code == 200
    assert ProjectQuality.objects.filter(project=project).exists()
    with django_assert_num_queries(3):  # the key, the project, the figures
        body = api.get(address).json()
    rows = body["figures"]["experts"]
    assert sorted(row["expert"] for row in rows) == sorted(
        lab_pseudonym(actor.organization.pk, expert.pk) for expert in experts
    )
    assert all("expert_id" not in row for row in rows)
    assert body["figures"]["questions"][0]["pairwise"] == 1.0


def test_a_viewer_reads_but_cannot_recompute_and_another_lab_sees_nothing():
    actor, project, _experts = _answered()
    api = APIClient()
    api.force_authenticate(lab_viewer(actor))
    address = reverse("api:project-quality", args=[project.public_id])
    assert api.get(address).status_code == 200
    assert api.post(address).status_code == 403
    assert not ProjectQuality.objects.filter(project=project).exists()

    other, _project, _ = workspace()
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"Api-Key {_key(other)}")
    assert stranger.get(address).status_code == 404
    assert stranger.post(address).status_code == 404
    assert not ProjectQuality.objects.filter(project=project).exists()


def test_a_big_project_is_recomputed_by_the_worker(monkeypatch, django_capture_on_commit_callbacks):
    actor, project, _experts = _answered()
    monkeypatch.setattr(quality_services, "INLINE_REFRESH_MAX_ANSWERS", 1)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {_key(actor)}")
    address = reverse("api:project-quality", args=[project.public_id])

    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(address)

    assert response.status_code == 202
    assert response.json() == {"computed_at": None, "figures": None}
    assert not ProjectQuality.objects.filter(project=project).exists()
    assert len(callbacks) == 1
    callbacks[0]()  # the queued run (eager here)
    assert ProjectQuality.objects.get(project=project).annotations == 2
