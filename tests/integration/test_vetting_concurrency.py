"""Two reviewers acting on one credential at the same moment, on real PostgreSQL row locks."""

from __future__ import annotations

import pytest

from experts import services
from experts.models import Credential
from experts.states import CredentialStatus
from marketplace.errors import Conflict
from marketplace.models import AuditEvent
from tests.experts import factories as ef
from tests.factories import expert, staff_user
from tests.integration.concurrency import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_only_one_of_two_simultaneous_reviewers_gets_the_credential():
    first, _ = staff_user()
    second, _ = staff_user()
    submitted = ef.credential(expert(), submit=True)

    outcomes = race(
        lambda: services.credential_verify(staff=first, credential_id=submitted.pk),
        lambda: services.credential_reject(
            staff=second, credential_id=submitted.pk, reason="Blurry scan."
        ),
    )

    successes = [o for o in outcomes if isinstance(o, Credential)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(successes), len(conflicts)) == (1, 1), outcomes
    final = Credential.objects.get(pk=submitted.pk)
    assert final.status == successes[0].status
    assert final.status in (CredentialStatus.VERIFIED, CredentialStatus.REJECTED)
    decisions = AuditEvent.objects.filter(
        target_id=str(submitted.pk), action__in=["credential.verified", "credential.rejected"]
    )
    assert decisions.count() == 1


def test_two_simultaneous_claims_leave_one_reviewer():
    first, _ = staff_user()
    second, _ = staff_user()
    submitted = ef.credential(expert(), submit=True)

    outcomes = race(
        lambda: services.credential_start_review(staff=first, credential_id=submitted.pk),
        lambda: services.credential_start_review(staff=second, credential_id=submitted.pk),
    )

    winners = [o for o in outcomes if isinstance(o, Credential)]
    assert len(winners) == 1, outcomes
    assert any(isinstance(o, Conflict) for o in outcomes)
    final = Credential.objects.get(pk=submitted.pk)
    assert (final.status, final.reviewer_id) == (CredentialStatus.IN_REVIEW, winners[0].reviewer_id)
    claims = AuditEvent.objects.filter(
        target_id=str(submitted.pk), action="credential.start_review"
    )
    assert claims.count() == 1
