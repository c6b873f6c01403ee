"""The lab REST API for experts on projects: invitations (list, invite directly, withdraw),
more seats, excluded experts, the project's matching settings, scope and query counts."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from marketplace import services as core_services
from marketplace.models import Membership, Organization, User
from marketplace.states import MembershipRole
from projects.access import LabActor
from projects.matching import scoring
from projects.matching import services as matching
from projects.matching.models import LabExclusion, ProjectInvitation
from projects.models import Project
from projects.states import InvitationStatus, ProjectStatus
from tests import factories
from tests.projects.factories import active_project, manager_actor, project
from tests.projects.matching_factories import public_id, vetted_expert

pytestmark = pytest.mark.django_db

SECRET_NAME = "Zebulon Quartermain"


@dataclass
class Lab:
    organization: Organization
    owner: User
    key: str

    @property
    def header(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Api-Key {self.key}"}

    @property
    def actor(self) -> LabActor:
        return manager_actor(self.organization, self.owner)


def new_lab(name: str) -> Lab:
    owner = factories.lab_user()
    organization = factories.organization(owner=owner, name=name)
    membership = Membership.objects.get(organization=organization, user=owner)
    issued = core_services.api_key_create(membership=membership, name="ci")
    return Lab(organization=organization, owner=owner, key=issued.secret)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def lab() -> Lab:
    return new_lab("Helix Labs")


@pytest.fixture
def other_lab() -> Lab:
    return new_lab("Other Lab")


def url(name: str, *args: Any) -> str:
    return reverse(f"api:{name}", args=args)


def named_expert(n: int, **fields: Any) -> User:
    return vetted_expert(
        full_name=f"{SECRET_NAME} {n}", email=f"zebulon{n}@private.example", **fields
    )


def invited(lab: Lab, count: int, *, seats: int | None = None) -> tuple[Project, list[User]]:
    """A live project of ``lab`` whose seats a run offered to ``count`` vetted experts."""
    live = active_project(lab.actor, seats=seats or count)
    experts = [named_expert(n) for n in range(count)]
    matching.matching_run(trigger="schedule")
    assert ProjectInvitation.objects.filter(project=live).count() == count
    return live, experts


def invitation_of(expert: User) -> ProjectInvitation:
    return ProjectInvitation.objects.get(expert=expert)


def viewer_of(lab: Lab) -> User:
    viewer = factories.lab_user()
    factories.add_member(lab.organization, viewer, MembershipRole.VIEWER)
    return viewer


# Invitations -------------------------------------------------------------------------------


def test_the_invitation_list_shows_pseudonyms_scores_and_credentials(api, lab):
    live, (accepted, declined, pending) = invited(lab, 3)
    matching.invitation_accept(expert=accepted, invitation=invitation_of(accepted))
    matching.invitation_decline(
        expert=declined, invitation=invitation_of(declined), reason="no_time", note="Private"
    )

    response = api.get(url("project-invitation-list", live.public_id), **lab.header)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    text = json.dumps(body)
    assert SECRET_NAME not in text
    assert "private.example" not in text
    assert "Private" not in text
    by_expert = {row["expert"]: row for row in body["results"]}
    assert set(by_expert) == {public_id(e) for e in (accepted, declined, pending)}
    row = by_expert[public_id(pending)]
    invitation = invitation_of(pending)
    assert row["id"] == str(invitation.public_id)
    assert row["pseudonym"] == f"Expert {pending.expert_profile.public_id.hex[:8]}"
    assert row["status"] == "pending"
    assert row["source"] == "matching"
    assert row["score"] == invitation.score
    assert row["weekly_hours"] == invitation.weekly_hours
    assert row["estimated_hours"] == invitation.estimated_hours
    assert row["responded_at"] is None
    assert row["decline_reason"] == ""
    assert row["seniority"] == "Senior (7 to 15 years)"
    assert row["country"] == "United States of America"
    assert row["languages"] == "English (native)"
    assert row["credentials"] == [
        {
            "kind": "Degree",
            "title": "degree in Medicine",
            "domains": "Medicine",
            "verified_on": row["credentials"][0]["verified_on"],
        }
    ]
    assert row["credentials"][0]["verified_on"] is not None
    assert [c["name"] for c in row["components"]] == [c.name for c in scoring.COMPONENTS]
    assert sum(c["weight"] for c in row["components"]) == pytest.approx(1.0)
    assert sum(c["weight"] * c["value"] for c in row["components"]) == pytest.approx(
        invitation.score, abs=1e-3
    )
    assert by_expert[public_id(accepted)]["status"] == "accepted"
    assert by_expert[public_id(declined)]["decline_reason"] == "no_time"
    assert by_expert[public_id(declined)]["responded_at"] is not None


def test_the_invitation_list_filters_by_status(api, lab):
    live, (accepted, _, _) = invited(lab, 3)
    matching.invitation_accept(expert=accepted, invitation=invitation_of(accepted))
    path = url("project-invitation-list", live.public_id)

    only = api.get(path + "?status=accepted", **lab.header).json()
    assert [row["expert"] for row in only["results"]] == [public_id(accepted)]
    assert api.get(path + "?status=pending", **lab.header).json()["count"] == 2
    assert api.get(path + "?status=bogus", **lab.header).status_code == 400


def test_inviting_an_expert_directly(api, lab):
    live = active_project(lab.actor, seats=2)
    expert = named_expert(1)

    response = api.post(
        url("project-invitation-list", live.public_id),
        {"expert_id": public_id(expert)},
        format="json",
        **lab.header,
    )

    assert response.status_code == 201, response.json()
    invitation = ProjectInvitation.objects.get()
    assert invitation.project == live
    assert invitation.expert == expert
    assert invitation.source == "direct"
    assert invitation.invited_by is None  # an API key, not a person
    body = response.json()
    assert body["id"] == str(invitation.public_id)
    assert body["expert"] == public_id(expert)
    assert body["source"] == "direct"
    assert body["status"] == "pending"
    assert SECRET_NAME not in json.dumps(body)


def test_inviting_an_ineligible_expert_names_the_rules_and_creates_nothing(api, lab):
    live = active_project(lab.actor, seats=2, languages=["fr"])
    expert = named_expert(1, languages={"en": "native"}, accepting=False)
    path = url("project-invitation-list", live.public_id)

    response = api.post(path, {"expert_id": public_id(expert)}, format="json", **lab.header)

    assert response.status_code == 400
    assert response.json() == {
        "detail": "This expert cannot be invited: does not speak a required language at the "
        "required level.",
        "field": "expert_id",
    }
    for body in ({"expert_id": "nope"}, {}, {"expert_id": public_id(expert), "extra": 1}):
        assert api.post(path, body, format="json", **lab.header).status_code == 400
    unknown = api.post(path, {"expert_id": str(uuid.uuid4())}, format="json", **lab.header)
    assert unknown.json() == {"detail": "No expert has this id.", "field": "expert_id"}
    assert not ProjectInvitation.objects.exists()


def test_inviting_needs_a_live_project_with_an_open_seat(api, lab):
    draft = project(lab.actor, seats=2)
    expert = named_expert(1)

    response = api.post(
        url("project-invitation-list", draft.public_id),
        {"expert_id": public_id(expert)},
        format="json",
        **lab.header,
    )

    assert response.status_code == 409
    assert not ProjectInvitation.objects.exists()


def test_withdrawing_an_invitation(api, lab):
    live, (expert, other) = invited(lab, 2)
    invitation = invitation_of(expert)
    path = url("project-invitation-withdraw", live.public_id, invitation.public_id)
    sibling = active_project(lab.actor, seats=1, title="Sibling")
    under_sibling = url("project-invitation-withdraw", sibling.public_id, invitation.public_id)
    assert api.post(under_sibling, **lab.header).status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING

    response = api.post(path, **lab.header)

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert response.json()["id"] == str(invitation.public_id)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.WITHDRAWN
    assert invitation_of(other).status == InvitationStatus.PENDING
    again = api.post(path, **lab.header)
    assert again.status_code == 409
    assert again.json()["detail"].startswith("Only a pending invitation can be withdrawn")


# Seats -------------------------------------------------------------------------------------


def test_asking_for_more_seats(api, lab):
    live, _ = invited(lab, 2)
    path = url("project-seats", live.public_id)

    response = api.post(path, {"add": 3}, format="json", **lab.header)

    assert response.status_code == 200
    assert response.json()["seats"] == 5
    assert response.json()["id"] == str(live.public_id)
    live.refresh_from_db()
    assert live.seats == 5
    for body in ({"add": 0}, {"add": 501}, {"add": "x"}, {}, {"add": 1, "seats": 2}):
        assert api.post(path, body, format="json", **lab.header).status_code == 400, body
    live.refresh_from_db()
    assert live.seats == 5


def test_seats_of_a_draft_cannot_be_added(api, lab):
    draft = project(lab.actor, seats=2)

    response = api.post(
        url("project-seats", draft.public_id), {"add": 3}, format="json", **lab.header
    )

    assert response.status_code == 409
    draft.refresh_from_db()
    assert draft.seats == 2
    assert draft.status == ProjectStatus.DRAFT


# Exclusions --------------------------------------------------------------------------------


def test_excluding_listing_and_removing_an_expert(api, lab):
    _live, (excluded, kept) = invited(lab, 2)

    response = api.post(
        url("exclusion-list"),
        {"expert_id": public_id(excluded), "reason": "Copied answers"},
        format="json",
        **lab.header,
    )

    assert response.status_code == 201, response.json()
    exclusion = LabExclusion.objects.get()
    assert exclusion.organization == lab.organization
    assert exclusion.expert == excluded
    assert exclusion.reason == "Copied answers"
    body = response.json()
    assert body == {
        "id": exclusion.pk,
        "expert": public_id(excluded),
        "pseudonym": f"Expert {excluded.expert_profile.public_id.hex[:8]}",
        "reason": "Copied answers",
        "created_by": None,
        "created_at": body["created_at"],
    }
    assert invitation_of(excluded).status == InvitationStatus.WITHDRAWN
    assert invitation_of(kept).status == InvitationStatus.PENDING

    listed = api.get(url("exclusion-list"), **lab.header).json()
    assert [row["id"] for row in listed["results"]] == [exclusion.pk]
    assert SECRET_NAME not in json.dumps(listed)

    removed = api.delete(url("exclusion-detail", exclusion.pk), **lab.header)
    assert removed.status_code == 204
    assert not LabExclusion.objects.exists()
    assert api.delete(url("exclusion-detail", exclusion.pk), **lab.header).status_code == 404


def test_a_member_session_records_who_excluded(api, lab):
    expert = named_expert(1)
    api.force_login(lab.owner)

    response = api.post(url("exclusion-list"), {"expert_id": public_id(expert)}, format="json")

    assert response.status_code == 201
    assert response.json()["created_by"] == lab.owner.email
    assert LabExclusion.objects.get().created_by == lab.owner


def test_excluding_an_unknown_expert_is_refused(api, lab):
    response = api.post(
        url("exclusion-list"), {"expert_id": str(uuid.uuid4())}, format="json", **lab.header
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "No expert has this id.", "field": "expert_id"}
    assert not LabExclusion.objects.exists()


# Who may do what ---------------------------------------------------------------------------


def test_viewers_may_list_but_not_change(api, lab):
    live, (expert, other) = invited(lab, 2)
    exclusion = matching.lab_exclusion_create(actor=lab.actor, expert_public_id=public_id(other))
    outsider = named_expert(9)
    api.force_login(viewer_of(lab))
    invitation = invitation_of(expert)

    assert api.get(url("project-invitation-list", live.public_id)).status_code == 200
    assert api.get(url("exclusion-list")).status_code == 200
    writes = [
        api.post(
            url("project-invitation-list", live.public_id),
            {"expert_id": public_id(outsider)},
            format="json",
        ),
        api.post(url("project-invitation-withdraw", live.public_id, invitation.public_id)),
        api.post(url("project-seats", live.public_id), {"add": 2}, format="json"),
        api.post(url("exclusion-list"), {"expert_id": public_id(expert)}, format="json"),
        api.delete(url("exclusion-detail", exclusion.pk)),
    ]

    assert [response.status_code for response in writes] == [403] * 5
    live.refresh_from_db()
    assert live.seats == 2
    assert ProjectInvitation.objects.filter(project=live).count() == 2
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert list(LabExclusion.objects.all()) == [exclusion]


def test_another_labs_project_invitation_and_exclusion_are_404(api, lab, other_lab):
    theirs, (expert,) = invited(other_lab, 1)
    their_exclusion = matching.lab_exclusion_create(
        actor=other_lab.actor, expert_public_id=public_id(named_expert(5))
    )
    mine = active_project(lab.actor, seats=1, title="Mine")
    invitation = invitation_of(expert)

    responses = [
        api.get(url("project-invitation-list", theirs.public_id), **lab.header),
        api.post(
            url("project-invitation-list", theirs.public_id),
            {"expert_id": public_id(expert)},
            format="json",
            **lab.header,
        ),
        api.post(
            url("project-invitation-withdraw", theirs.public_id, invitation.public_id),
            **lab.header,
        ),
        api.post(
            url("project-invitation-withdraw", mine.public_id, invitation.public_id),
            **lab.header,
        ),
        api.post(url("project-seats", theirs.public_id), {"add": 2}, format="json", **lab.header),
        api.delete(url("exclusion-detail", their_exclusion.pk), **lab.header),
    ]

    assert [response.status_code for response in responses] == [404] * 6
    listed = api.get(url("exclusion-list"), **lab.header).json()
    assert listed["count"] == 0
    theirs.refresh_from_db()
    assert theirs.seats == 1
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert ProjectInvitation.objects.count() == 1
    assert LabExclusion.objects.filter(pk=their_exclusion.pk).exists()


def test_experts_and_anonymous_callers_get_nothing(api, lab):
    live, (expert,) = invited(lab, 1)

    assert api.get(url("project-invitation-list", live.public_id)).status_code == 401
    assert api.get(url("exclusion-list")).status_code == 401
    api.force_login(expert)
    assert api.get(url("project-invitation-list", live.public_id)).status_code == 404
    assert api.get(url("exclusion-list")).status_code == 404
    response = api.post(url("exclusion-list"), {"expert_id": public_id(expert)}, format="json")
    assert response.status_code == 404
    assert not LabExclusion.objects.exists()


# Query counts ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 7])
def test_the_invitation_list_takes_a_fixed_number_of_queries(
    api, lab, django_assert_num_queries, count
):
    live, experts = invited(lab, count)
    matching.invitation_accept(expert=experts[0], invitation=invitation_of(experts[0]))
    path = url("project-invitation-list", live.public_id)
    api.get(path, **lab.header)  # the key's last use is recorded once a minute at most

    with django_assert_num_queries(9):
        response = api.get(path, **lab.header)

    assert response.json()["count"] == count


@pytest.mark.parametrize("count", [2, 7])
def test_the_exclusion_list_takes_a_fixed_number_of_queries(
    api, lab, django_assert_num_queries, count
):
    for n in range(count):
        matching.lab_exclusion_create(actor=lab.actor, expert_public_id=public_id(named_expert(n)))
    path = url("exclusion-list")
    api.get(path, **lab.header)

    with django_assert_num_queries(3):
        response = api.get(path, **lab.header)

    assert response.json()["count"] == count


# The project's matching settings -----------------------------------------------------------


PROJECT_BODY: dict[str, Any] = {
    "title": "Dutch medical triage",
    "domain": "medicine",
    "task_type": "pairwise",
    "price_per_annotation_cents": 500,
    "languages": ["nl"],
    "language_level": "C2",
    "allowed_countries": ["nl", "BE", "NL"],
}


def test_a_project_takes_a_language_level_and_allowed_countries(api, lab):
    response = api.post(url("project-list"), PROJECT_BODY, format="json", **lab.header)

    assert response.status_code == 201, response.json()
    assert response.json()["language_level"] == "C2"
    assert response.json()["allowed_countries"] == ["NL", "BE"]
    created = Project.objects.get()
    assert created.language_level == "C2"
    assert created.allowed_countries == ["NL", "BE"]

    patched = api.patch(
        url("project-detail", created.public_id),
        {"language_level": "B2", "allowed_countries": []},
        format="json",
        **lab.header,
    )
    assert patched.status_code == 200, patched.json()
    created.refresh_from_db()
    assert (created.language_level, created.allowed_countries) == ("B2", [])


@pytest.mark.parametrize(
    ("change", "field"),
    [({"language_level": "fluent"}, "language_level"), ({"allowed_countries": ["XX"]}, None)],
)
def test_unknown_levels_and_countries_are_refused(api, lab, change, field):
    response = api.post(
        url("project-list"), {**PROJECT_BODY, **change}, format="json", **lab.header
    )

    assert response.status_code == 400
    body = response.json()
    if field:
        assert field in body
    else:
        assert body == {"detail": "Unknown country code “XX”.", "field": "allowed_countries"}
    assert not Project.objects.exists()


def test_a_live_projects_matching_settings_are_fixed(api, lab):
    live = active_project(lab.actor, seats=1)

    response = api.patch(
        url("project-detail", live.public_id),
        {"allowed_countries": ["DE"]},
        format="json",
        **lab.header,
    )

    assert response.status_code == 409
    live.refresh_from_db()
    assert live.allowed_countries == []


def test_the_schema_documents_the_matching_endpoints(client):
    body = client.get(reverse("api_schema")).content.decode()

    for path in (
        "/api/v1/projects/{project_id}/invitations/",
        "/api/v1/projects/{project_id}/invitations/{invitation_id}/withdraw/",
        "/api/v1/projects/{project_id}/seats/",
        "/api/v1/exclusions/",
        "/api/v1/exclusions/{exclusion_id}/",
    ):
        assert path in body
