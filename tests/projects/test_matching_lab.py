"""The lab's pages for experts on a project: seats and invitations under pseudonyms, asking for
more seats, inviting an expert directly, withdrawing, excluding, the excluded-experts page,
scoping to the organisation, and query counts; plus the project form's matching settings."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from experts import services as expert_services
from experts.states import CredentialKind
from marketplace.models import User
from marketplace.states import MembershipRole
from projects.access import LabActor
from projects.matching import services as matching
from projects.matching.models import LabExclusion, ProjectInvitation
from projects.models import Project
from projects.states import InvitationSource, InvitationStatus, ProjectStatus
from tests import factories as core
from tests.experts import factories as expert_factories
from tests.projects import factories
from tests.projects.matching_factories import public_id, vetted_expert

pytestmark = pytest.mark.django_db

SECRET_NAME = "Zebulon Quartermain"


def url(name: str, project: Project, *args: Any) -> str:
    return reverse(f"projects:{name}", args=[project.organization.slug, project.public_id, *args])


def exclusions_url(actor: LabActor) -> str:
    return reverse("projects:exclusions", args=[actor.organization.slug])


def viewer_of(actor: LabActor) -> User:
    viewer = core.lab_user()
    core.add_member(actor.organization, viewer, MembershipRole.VIEWER)
    return viewer


def named_expert(n: int, **fields: Any) -> User:
    """A vetted expert whose name and e-mail must never reach a lab."""
    return vetted_expert(
        full_name=f"{SECRET_NAME} {n}", email=f"zebulon{n}@private.example", **fields
    )


def invited_project(
    count: int = 3, *, seats: int | None = None
) -> tuple[LabActor, Project, list[User]]:
    """A live project whose seats a matching run offered to ``count`` vetted experts."""
    actor = factories.manager_actor()
    project = factories.active_project(actor, seats=seats or count)
    experts = [named_expert(n) for n in range(count)]
    matching.matching_run(trigger="schedule")
    assert ProjectInvitation.objects.filter(project=project).count() == count
    return actor, project, experts


def invitation_of(expert: User) -> ProjectInvitation:
    return ProjectInvitation.objects.get(expert=expert)


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# The experts page --------------------------------------------------------------------------


def test_the_page_lists_every_invitation_under_a_pseudonym(client):
    actor, project, (accepted, declined, pending) = invited_project(3)
    matching.invitation_accept(expert=accepted, invitation=invitation_of(accepted))
    matching.invitation_decline(
        expert=declined, invitation=invitation_of(declined), reason="rate_too_low", note="Private"
    )
    client.force_login(actor.user)

    response = client.get(url("experts", project))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-testid="seat-row"') == 3
    for expert in (accepted, declined, pending):
        profile_id = expert.expert_profile.public_id
        assert f"Expert {profile_id.hex[:8]}" in page
        assert str(profile_id) in page
        assert expert.email not in page
        assert expert.full_name not in page
    assert SECRET_NAME not in page
    assert "private.example" not in page
    assert "Private" not in page  # the decline note is the expert's, not the lab's
    assert "The pay is too low for the work" in page
    assert 'data-testid="seats-total">3<' in page
    assert 'data-testid="seats-accepted">1<' in page
    assert 'data-testid="seats-pending">1<' in page
    assert 'data-testid="seats-open">1<' in page
    row = invitation_of(pending)
    assert f">{round(row.score * 100)}%<" in page
    assert "Qualification test" in page  # the breakdown's component labels
    assert "degree in Medicine" in page  # the verified credential's title
    assert "Senior (7 to 15 years)" in page
    assert "United States of America" in page
    assert "Matching" in page
    # Managers get every action.
    assert url("seats_add", project) in page
    assert url("invite_direct", project) in page
    assert url("expert_exclude", project) in page
    assert url("invitation_withdraw", project, row.public_id) in page
    assert url("invitation_withdraw", project, invitation_of(accepted).public_id) not in page


def test_viewer_reads_the_page_without_any_action(client):
    actor, project, experts = invited_project(2)
    client.force_login(viewer_of(actor))

    response = client.get(url("experts", project))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-testid="seat-row"') == 2
    assert "<form" not in page.split('<main id="main"')[1].split("</main>")[0]
    assert url("seats_add", project) not in page
    assert url("invite_direct", project) not in page
    assert url("expert_exclude", project) not in page
    assert "withdraw" not in page
    assert str(experts[0].expert_profile.public_id) not in page


def test_viewer_actions_change_nothing(client):
    actor, project, (expert, other) = invited_project(2)
    outsider = named_expert(9)
    client.force_login(viewer_of(actor))
    invitation = invitation_of(expert)

    posts = [
        (url("seats_add", project), {"seats": "5"}, "ask for more seats"),
        (url("invite_direct", project), {"expert_id": public_id(outsider)}, "invite experts"),
        (url("expert_exclude", project), {"expert_id": public_id(expert)}, "exclude experts"),
        (url("invitation_withdraw", project, invitation.public_id), {}, "withdraw invitations"),
        (exclusions_url(actor), {"expert_id": public_id(other)}, "exclude experts"),
    ]
    for address, data, what in posts:
        response = client.post(address, data, follow=True)
        assert response.status_code == 200, address
        assert f"Only owners and managers can {what}." in messages_of(response), address

    project.refresh_from_db()
    assert project.seats == 2
    assert not LabExclusion.objects.exists()
    assert ProjectInvitation.objects.filter(project=project).count() == 2
    assert set(ProjectInvitation.objects.values_list("status", flat=True)) == {"pending"}


def test_a_viewer_cannot_remove_an_exclusion(client):
    actor, _project, (expert,) = invited_project(1)
    exclusion = matching.lab_exclusion_create(actor=actor, expert_public_id=public_id(expert))
    client.force_login(viewer_of(actor))

    page = client.get(exclusions_url(actor)).content.decode()
    remove = reverse("projects:exclusion_remove", args=[actor.organization.slug, exclusion.pk])
    assert remove not in page
    assert 'data-testid="exclusion-form"' not in page
    response = client.post(remove, follow=True)

    assert "Only owners and managers can change excluded experts." in messages_of(response)
    assert LabExclusion.objects.filter(pk=exclusion.pk).exists()


# Seats -------------------------------------------------------------------------------------


def test_asking_for_more_seats_adds_them(client):
    actor, project, _ = invited_project(2)
    client.force_login(actor.user)

    response = client.post(url("seats_add", project), {"seats": "4"})

    assert response.status_code == 302
    assert response.url == url("experts", project)
    project.refresh_from_db()
    assert project.seats == 6
    page = client.get(response.url).content.decode()
    assert "4 more seats" in page
    assert 'data-testid="seats-open">4<' in page


@pytest.mark.parametrize("value", ["0", "501", "many", ""])
def test_a_wrong_number_of_seats_is_refused_inline(client, value):
    actor, project, _ = invited_project(1)
    client.force_login(actor.user)

    response = client.post(url("seats_add", project), {"seats": value})

    assert response.status_code == 400
    assert 'data-testid="seats-form"' in response.content.decode()
    assert response.context["seats_form"].errors["seats"]
    project.refresh_from_db()
    assert project.seats == 1


def test_seats_cannot_be_added_before_the_project_is_live(client):
    actor = factories.manager_actor()
    project = factories.project(actor, seats=3)
    client.force_login(actor.user)

    response = client.post(url("seats_add", project), {"seats": "2"}, follow=True)

    assert any("Seats can be added while the project is live" in m for m in messages_of(response))
    project.refresh_from_db()
    assert project.seats == 3
    assert project.status == ProjectStatus.DRAFT


# Excluding and withdrawing -----------------------------------------------------------------


def test_excluding_from_a_row_records_it_and_withdraws_the_pending_invitation(client):
    actor, project, (excluded, kept) = invited_project(2)
    client.force_login(actor.user)

    response = client.post(
        url("expert_exclude", project),
        {"expert_id": public_id(excluded), "reason": "  Rushed   answers "},
        follow=True,
    )

    assert response.redirect_chain == [(url("experts", project), 302)]
    exclusion = LabExclusion.objects.get()
    assert exclusion.organization == actor.organization
    assert exclusion.expert == excluded
    assert exclusion.reason == "Rushed answers"
    assert exclusion.created_by == actor.user
    assert invitation_of(excluded).status == InvitationStatus.WITHDRAWN
    assert invitation_of(kept).status == InvitationStatus.PENDING
    pseudonym = f"Expert {excluded.expert_profile.public_id.hex[:8]}"
    assert any(m.startswith(f"{pseudonym} is excluded") for m in messages_of(response))


def test_excluding_an_unknown_expert_creates_nothing(client):
    actor, project, (expert,) = invited_project(1)
    client.force_login(actor.user)

    response = client.post(
        url("expert_exclude", project),
        {"expert_id": "1f0c1d2e-3a4b-4c5d-8e6f-708192a3b4c5"},
        follow=True,
    )

    assert "No expert has this id." in messages_of(response)
    assert not LabExclusion.objects.exists()
    assert invitation_of(expert).status == InvitationStatus.PENDING


def test_withdrawing_a_pending_invitation(client):
    actor, project, (expert, other) = invited_project(2)
    client.force_login(actor.user)
    invitation = invitation_of(expert)

    response = client.post(url("invitation_withdraw", project, invitation.public_id))

    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.WITHDRAWN
    assert invitation.responded_at is not None
    assert invitation_of(other).status == InvitationStatus.PENDING


def test_an_accepted_invitation_cannot_be_withdrawn(client):
    actor, project, (expert,) = invited_project(1)
    invitation = invitation_of(expert)
    matching.invitation_accept(expert=expert, invitation=invitation)
    client.force_login(actor.user)

    response = client.post(url("invitation_withdraw", project, invitation.public_id), follow=True)

    assert any("Only a pending invitation can be withdrawn" in m for m in messages_of(response))
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED


def test_an_invitation_of_another_project_of_the_lab_is_404_under_this_one(client):
    actor, _project, (expert,) = invited_project(1)
    sibling = factories.active_project(actor, title="Sibling", seats=1)
    client.force_login(actor.user)
    invitation = invitation_of(expert)

    response = client.post(url("invitation_withdraw", sibling, invitation.public_id))

    assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


# Direct invitations ------------------------------------------------------------------------


def test_inviting_an_ineligible_expert_names_the_rules_and_creates_nothing(client):
    actor = factories.manager_actor()
    project = factories.active_project(actor, seats=2, allowed_countries=["DE"])
    paused = vetted_expert(accepting=False, country="FR")
    client.force_login(actor.user)

    response = client.post(url("invite_direct", project), {"expert_id": public_id(paused)})

    assert response.status_code == 400
    errors = response.context["invite_form"].errors["expert_id"]
    # The project's requirement is named; the expert's private pause is not.
    assert errors == [
        "This expert cannot be invited: lives outside the project's allowed countries."
    ]
    assert "lives outside the project" in response.content.decode()
    assert "paused" not in response.content.decode()
    assert not ProjectInvitation.objects.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not-an-id", "Paste the expert's full id, e.g. from a table of experts."),
        ("1f0c1d2e-3a4b-4c5d-8e6f-708192a3b4c5", "No expert has this id."),
    ],
)
def test_inviting_an_unknown_id_is_refused_inline(client, value, message):
    actor = factories.manager_actor()
    project = factories.active_project(actor, seats=1)
    client.force_login(actor.user)

    response = client.post(url("invite_direct", project), {"expert_id": value})

    assert response.status_code == 400
    assert response.context["invite_form"].errors["expert_id"] == [message]
    assert not ProjectInvitation.objects.exists()


def vetted_through_services(domain_slug: str = "medicine") -> User:
    """An expert vetted the way the product does it: profile, verified credential, passed
    qualification test."""
    expert = core.expert(full_name=f"{SECRET_NAME} direct", email="direct@private.example")
    domain = factories.domain(domain_slug)
    expert_services.profile_update(
        expert=expert,
        data={"country": "US", "timezone": "Europe/Berlin", "weekly_availability_hours": 20},
        languages=[("en", "native")],
        domains=[(domain, "senior")],
    )
    expert_factories.verified_credential(expert, domains=[domain])
    expert_factories.pass_test(expert, expert_factories.qualification_test(on=domain))
    return expert


def test_inviting_an_eligible_expert_directly(client):
    actor = factories.manager_actor()
    project = factories.active_project(actor, seats=2)
    expert = vetted_through_services()
    client.force_login(actor.user)

    response = client.post(
        url("invite_direct", project), {"expert_id": public_id(expert)}, follow=True
    )

    invitation = ProjectInvitation.objects.get()
    assert invitation.project == project
    assert invitation.expert == expert
    assert invitation.source == InvitationSource.DIRECT
    assert invitation.invited_by == actor.user
    assert invitation.status == InvitationStatus.PENDING
    page = response.content.decode()
    assert "Invited by you" in page
    assert "Board certified in radiology" in page
    assert "direct@private.example" not in page
    assert SECRET_NAME not in page


def test_the_invite_form_offers_experts_who_held_a_seat(client):
    actor, project, (member, pending) = invited_project(2)
    matching.invitation_accept(expert=member, invitation=invitation_of(member))
    client.force_login(actor.user)

    page = client.get(url("experts", project)).content.decode()

    datalist = page.split('<datalist id="known-experts">')[1].split("</datalist>")[0]
    assert f'value="{public_id(member)}"' in datalist
    assert public_id(pending) not in datalist


# Excluded experts --------------------------------------------------------------------------


def test_the_exclusions_page_lists_and_removes_exclusions(client):
    actor, _project, experts = invited_project(3)
    for n, expert in enumerate(experts):
        matching.lab_exclusion_create(
            actor=actor, expert_public_id=public_id(expert), reason=f"Reason <b>{n}</b>"
        )
    client.force_login(actor.user)

    page = client.get(exclusions_url(actor)).content.decode()

    assert page.count('data-testid="exclusion-row"') == 3
    assert "Reason &lt;b&gt;1&lt;/b&gt;" in page
    assert actor.user.email in page
    for expert in experts:
        assert f"Expert {expert.expert_profile.public_id.hex[:8]}" in page
        assert expert.email not in page
    assert SECRET_NAME not in page
    assert "Excluded experts" in page

    removed = LabExclusion.objects.get(expert=experts[0])
    response = client.post(
        reverse("projects:exclusion_remove", args=[actor.organization.slug, removed.pk])
    )
    assert response.status_code == 302
    assert set(LabExclusion.objects.values_list("expert_id", flat=True)) == {
        experts[1].pk,
        experts[2].pk,
    }


def test_excluding_by_id_on_the_exclusions_page(client):
    actor = factories.manager_actor()
    expert = vetted_expert()
    client.force_login(actor.user)

    response = client.post(
        exclusions_url(actor), {"expert_id": public_id(expert), "reason": "Conflict"}
    )
    assert response.status_code == 302
    assert LabExclusion.objects.get().reason == "Conflict"

    response = client.post(
        exclusions_url(actor), {"expert_id": "1f0c1d2e-3a4b-4c5d-8e6f-708192a3b4c5"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["expert_id"] == ["No expert has this id."]
    assert LabExclusion.objects.count() == 1


# Scope -------------------------------------------------------------------------------------


def test_another_labs_project_invitation_and_exclusion_are_404(client):
    theirs, their_project, (expert,) = invited_project(1)
    their_exclusion = matching.lab_exclusion_create(
        actor=theirs, expert_public_id=public_id(named_expert(7))
    )
    mine = factories.manager_actor()
    my_project = factories.active_project(mine, seats=1, title="Mine")
    invitation = invitation_of(expert)
    client.force_login(mine.user)
    slug = mine.organization.slug

    def under_mine(name: str, project: Project, *args: Any) -> str:
        return reverse(f"projects:{name}", args=[slug, project.public_id, *args])

    assert client.get(under_mine("experts", their_project)).status_code == 404
    assert client.get(under_mine("seat_summary", their_project)).status_code == 404
    assert client.post(under_mine("seats_add", their_project), {"seats": "3"}).status_code == 404
    assert (
        client.post(
            under_mine("invite_direct", their_project), {"expert_id": public_id(expert)}
        ).status_code
        == 404
    )
    assert (
        client.post(
            under_mine("invitation_withdraw", their_project, invitation.public_id)
        ).status_code
        == 404
    )
    assert (
        client.post(under_mine("invitation_withdraw", my_project, invitation.public_id)).status_code
        == 404
    )
    remove = reverse("projects:exclusion_remove", args=[slug, their_exclusion.pk])
    assert client.post(remove).status_code == 404
    # Their own organisation's pages are not mine either.
    assert client.get(url("experts", their_project)).status_code == 404
    assert client.get(exclusions_url(theirs)).status_code == 404

    their_project.refresh_from_db()
    assert their_project.seats == 1
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert LabExclusion.objects.filter(pk=their_exclusion.pk).exists()
    assert ProjectInvitation.objects.count() == 1


def test_experts_and_anonymous_visitors_get_no_lab_page(client):
    actor, project, (expert,) = invited_project(1)
    address = url("experts", project)

    response = client.get(address)
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    client.force_login(expert)
    assert client.get(address).status_code == 404
    assert client.get(exclusions_url(actor)).status_code == 404


# The project page --------------------------------------------------------------------------


def test_the_project_page_links_to_the_experts_and_loads_the_seat_summary(client):
    actor, project, (expert, _) = invited_project(2, seats=5)
    matching.invitation_accept(expert=expert, invitation=invitation_of(expert))
    client.force_login(actor.user)

    page = client.get(url("detail", project)).content.decode()
    assert f'href="{url("experts", project)}"' in page
    assert f'hx-get="{url("seat_summary", project)}"' in page

    fragment = client.get(url("seat_summary", project), HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert fragment.status_code == 200
    assert "<html" not in body
    assert 'data-testid="seats-total">5<' in body
    assert 'data-testid="seats-accepted">1<' in body
    assert 'data-testid="seats-pending">1<' in body
    assert 'data-testid="seats-open">3<' in body


# Query counts ------------------------------------------------------------------------------


def test_the_experts_page_takes_a_fixed_number_of_queries(client, django_assert_num_queries):
    actor = factories.manager_actor()
    project = factories.active_project(actor, seats=8)
    for n in range(2):
        named_expert(n, kinds=(CredentialKind.DEGREE, CredentialKind.LICENCE))
    matching.matching_run(trigger="schedule")
    client.force_login(actor.user)
    address = url("experts", project)
    client.get(address)

    with django_assert_num_queries(13):
        client.get(address)
    for n in range(2, 8):
        named_expert(n, kinds=(CredentialKind.DEGREE, CredentialKind.LICENCE))
    matching.matching_run(trigger="schedule")
    member = ProjectInvitation.objects.filter(project=project).first()
    assert member is not None
    matching.invitation_accept(expert=member.expert, invitation=member)

    with django_assert_num_queries(13):
        response = client.get(address)
    assert response.content.decode().count('data-testid="seat-row"') == 8


def test_the_seat_summary_and_exclusions_pages_take_a_fixed_number_of_queries(
    client, django_assert_num_queries
):
    actor, project, experts = invited_project(2)
    matching.lab_exclusion_create(actor=actor, expert_public_id=public_id(experts[0]))
    client.force_login(actor.user)
    summary, exclusions = url("seat_summary", project), exclusions_url(actor)
    client.get(summary)

    with django_assert_num_queries(6):
        client.get(summary)
    with django_assert_num_queries(5):
        client.get(exclusions)
    for n in range(10, 16):
        matching.lab_exclusion_create(actor=actor, expert_public_id=public_id(named_expert(n)))
    with django_assert_num_queries(5):
        response = client.get(exclusions)
    assert response.content.decode().count('data-testid="exclusion-row"') == 7


# The project form's matching settings ------------------------------------------------------


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "title": "Dutch medical triage",
        "summary": "",
        "domain": str(factories.domain("medicine").pk),
        "min_seniority": "",
        "languages": ["nl"],
        "language_level": "C2",
        "allowed_countries": ["NL", "BE", "NL"],
        "task_type": "pairwise",
        "settings_lines": "",
        "task_settings_json": "",
        "guidelines": "# Guidelines",
        "rubric": "",
        "overlap": "3",
        "price": "5.00",
        "seats": "4",
        "budget": "",
        "deadline": (timezone.localdate() + datetime.timedelta(days=10)).isoformat(),
        "gold_rate_percent": "10",
        "min_gold_accuracy_percent": "70",
    }
    data.update(overrides)
    return data


def test_a_lab_sets_the_language_level_and_countries_on_the_project_form(client):
    actor = factories.manager_actor()
    client.force_login(actor.user)
    create = reverse("projects:create", args=[actor.organization.slug])
    assert 'name="language_level"' in client.get(create).content.decode()

    response = client.post(create, form_data())

    assert response.status_code == 302
    project = Project.objects.get()
    assert project.language_level == "C2"
    assert project.allowed_countries == ["NL", "BE"]
    edit = url("edit", project)
    page = client.get(edit).content.decode()
    assert '<option value="BE" selected>' in page
    assert '<option value="C2" selected>' in page

    response = client.post(edit, form_data(language_level="B2", allowed_countries=[]))
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.language_level == "B2"
    assert project.allowed_countries == []


def test_unknown_levels_and_countries_are_refused(client):
    actor = factories.manager_actor()
    client.force_login(actor.user)
    create = reverse("projects:create", args=[actor.organization.slug])

    response = client.post(create, form_data(language_level="fluent", allowed_countries=["XX"]))

    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"language_level", "allowed_countries"}
    assert not Project.objects.exists()
