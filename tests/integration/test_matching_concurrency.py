"""Matching runs started at the same moment are serialised on PostgreSQL: one waits for the
other and then finds the seats filled, so no seat is offered twice."""

from __future__ import annotations

import pytest

from projects.matching import services
from projects.matching.models import MatchingRun, ProjectInvitation
from projects.states import RunStatus
from tests.integration.concurrency import race
from tests.projects.factories import active_project, manager_actor
from tests.projects.matching_factories import vetted_expert

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_runs_are_serialised_and_invite_once():
    actor = manager_actor()
    projects = [active_project(actor, seats=2, title=f"Project {n}") for n in range(3)]
    for _ in range(8):
        vetted_expert()

    outcomes = race(*[lambda: services.matching_run(trigger="schedule") for _ in range(3)])

    assert all(isinstance(o, MatchingRun) for o in outcomes), outcomes
    runs = outcomes
    assert all(r.status == RunStatus.FINISHED for r in runs)
    # The first run to take the lock fills every seat; the others wait, then find none open.
    assert sorted(r.invitations_created for r in runs) == [0, 0, 6]
    for project in projects:
        assert ProjectInvitation.objects.filter(project=project).count() == 2
