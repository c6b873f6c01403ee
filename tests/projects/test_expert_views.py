"""Experts read a project's guidelines and acknowledge a material change."""

from __future__ import annotations

import pytest
from django.urls import reverse

from marketplace.models import AuditEvent
from projects import services
from projects.models import Annotation, GuidelineAcknowledgement
from tests import factories
from tests.projects import factories as pf

pytestmark = pytest.mark.django_db


def worked_on(project, expert):
    Annotation.objects.create(
        task=project.tasks.first(),
        project=project,
        expert=expert,
        result={},
        confidence=70,
        guidelines_version=project.guidelines_version,
    )


def test_expert_reads_changes_and_acknowledges(client):
    actor = pf.manager_actor()
    project = pf.active_project(actor)
    expert = factories.expert()
    worked_on(project, expert)
    services.guidelines_acknowledge(expert=expert, project=project)
    services.guidelines_publish(
        actor=actor,
        project=project,
        guidelines="Never <script>alert(1)</script> **ties**.",
        changelog="Ties are forbidden.",
        is_material=True,
    )
    client.force_login(expert)
    url = reverse("project_guidelines", args=[project.public_id])

    page = client.get(url).content.decode()
    assert "Ties are forbidden." in page
    assert "<strong>ties</strong>" in page
    assert "<script>alert(1)" not in page
    assert "I have read the current guidelines" in page

    response = client.post(url)
    assert response.status_code == 302
    assert GuidelineAcknowledgement.objects.get(expert=expert, project=project).version == 2
    event = AuditEvent.objects.filter(action="project.guidelines_acknowledge").latest("id")
    assert (event.actor, event.after) == (expert, {"version": 2})
    assert "You are up to date with version 2" in client.get(url).content.decode()


def test_other_experts_and_lab_members_get_404(client):
    actor = pf.manager_actor()
    project = pf.active_project(actor)
    url = reverse("project_guidelines", args=[project.public_id])
    for user in (factories.expert(), actor.user):
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    assert not GuidelineAcknowledgement.objects.exists()
