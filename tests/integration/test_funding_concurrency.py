"""Two funding calls with the same idempotency key at the same moment charge once."""

from __future__ import annotations

import pytest

from projects import services
from projects.models import Project, ProjectFunding
from projects.states import ProjectStatus
from tests.integration.concurrency import race
from tests.payments.factories import fund_lab
from tests.projects import factories as pf

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_fundings_with_one_key_charge_once():
    actor = pf.manager_actor()
    project = pf.project(actor)
    fund_lab(actor.organization, 5000)

    outcomes = race(
        *[
            lambda: services.project_fund(
                actor=actor, project=project, amount_cents=5000, idempotency_key="order-7"
            )
            for _ in range(3)
        ]
    )

    assert all(isinstance(o, ProjectFunding) for o in outcomes), outcomes
    assert len({o.pk for o in outcomes}) == 1
    assert ProjectFunding.objects.count() == 1
    project = Project.objects.get(pk=project.pk)
    assert (project.funded_cents, project.status) == (5000, ProjectStatus.FUNDED)


def test_simultaneous_fundings_with_different_keys_add_up():
    actor = pf.manager_actor()
    project = pf.project(actor)
    fund_lab(actor.organization, 3000)

    outcomes = race(
        *[
            lambda key=key: services.project_fund(
                actor=actor, project=project, amount_cents=1000, idempotency_key=key
            )
            for key in ("a", "b", "c")
        ]
    )

    assert all(isinstance(o, ProjectFunding) for o in outcomes), outcomes
    assert Project.objects.get(pk=project.pk).funded_cents == 3000
