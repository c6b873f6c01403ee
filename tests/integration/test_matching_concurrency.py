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


def test_a_direct_invitation_waits_for_a_run_and_never_overfills_a_seat(monkeypatch):
    import threading
    import time

    from projects.matching import solver
    from tests.projects.matching_factories import public_id

    actor = manager_actor()
    project = active_project(actor, seats=1)
    vetted_expert(qualification=99)
    chosen_by_lab = vetted_expert(qualification=60)
    read = threading.Event()
    real_solve = solver.solve

    def slow_solve(problem):
        read.set()  # the run has read the open seat; let the lab try now
        time.sleep(1.0)
        return real_solve(problem)

    monkeypatch.setattr("projects.matching.services.solve", slow_solve)

    def lab_invites():
        read.wait(10)
        return services.invitation_direct_create(
            actor=actor, project=project, expert_public_id=public_id(chosen_by_lab)
        )

    outcomes = race(lambda: services.matching_run(trigger="schedule"), lab_invites)

    assert isinstance(outcomes[0], MatchingRun), outcomes
    assert outcomes[0].invitations_created == 1
    # The lab waited for the run, then found the only seat offered.
    assert type(outcomes[1]).__name__ == "Conflict", outcomes
    assert ProjectInvitation.objects.filter(project=project).count() == 1
