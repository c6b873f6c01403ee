"""The expert's side of matching in the browser: invitations, answers, projects joined, the
dashboard card and the two profile settings matching reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from experts import services as expert_services
from experts.models import Domain, ExpertProfile, QualificationTest
from marketplace.models import AuditEvent, User
from marketplace.states import MembershipRole
from projects.access import LabActor
from projects.matching import services as matching
from projects.matching.models import ProjectInvitation, ProjectMember
from projects.models import Project
from projects.services import project_complete, project_pause
from projects.states import DeclineReason, InvitationStatus
from tests.experts import factories as ef
from tests.factories import expert, lab_user, organization, staff_user
from tests.projects import factories as pf

pytestmark = pytest.mark.django_db

INVITATIONS = reverse("expert_invitations")
PROJECTS = reverse("expert_projects")


@pytest.fixture
def radiology() -> Domain:
    return ef.domain()


@pytest.fixture
def radiology_test(radiology) -> QualificationTest:
    return ef.qualification_test(on=radiology)


def vetted_expert(domain: Domain, test: QualificationTest, **fields) -> User:
    """An expert vetted for ``domain``, with 40 free hours a week, set up through services."""
    person = expert(**fields)
    expert_services.profile_update(
        expert=person,
        data={"headline": "Radiologist", "weekly_availability_hours": 40, "country": "PT"},
        languages=[("en", "C2")],
        domains=[(domain, "senior")],
    )
    ef.verified_credential(person, domains=[domain])
    ef.pass_test(person, test)
    return person


def live_project(
    domain: Domain, *, title: str, org: str = "Helix Labs"
) -> tuple[LabActor, Project]:
    owner = lab_user()
    actor = LabActor(
        organization=organization(owner=owner, name=org),
        user=owner,
        api_key=None,
        role=MembershipRole.OWNER,
    )
    return actor, pf.active_project(
        actor,
        domain=domain,
        title=title,
        summary=f"Summary of {title}",
        price_per_annotation_cents=650,
    )


def invite(actor: LabActor, project: Project, person: User) -> ProjectInvitation:
    return matching.invitation_direct_create(
        actor=actor, project=project, expert_public_id=str(person.expert_profile.public_id)
    )


def offer_url(invitation: ProjectInvitation) -> str:
    return reverse("expert_invitation", args=[invitation.public_id])


def accept_url(invitation: ProjectInvitation) -> str:
    return reverse("expert_invitation_accept", args=[invitation.public_id])


def decline_url(invitation: ProjectInvitation) -> str:
    return reverse("expert_invitation_decline", args=[invitation.public_id])


def snapshot(invitation: ProjectInvitation) -> tuple:
    invitation.refresh_from_db()
    return (
        invitation.status,
        invitation.responded_at,
        invitation.decline_reason,
        invitation.decline_note,
    )


# The list ----------------------------------------------------------------------------------


def test_invitations_list_pending_first_then_history_with_bounded_queries(
    client, radiology, radiology_test, django_assert_num_queries
):
    person = vetted_expert(radiology, radiology_test)
    invitations = {}
    for n, title in enumerate(["Chest CT triage", "Fracture review", "MRI protocols", "Old one"]):
        actor, project = live_project(radiology, title=title, org=f"Lab {n}")
        invitations[title] = invite(actor, project, person)
    matching.invitation_decline(
        expert=person,
        invitation=invitations["Old one"],
        reason=DeclineReason.NO_TIME,
    )
    matching.invitation_accept(expert=person, invitation=invitations["MRI protocols"])
    # The fracture review expires sooner than the chest CT triage: it comes first.
    ProjectInvitation.objects.filter(pk=invitations["Fracture review"].pk).update(
        expires_at=timezone.now() + timedelta(hours=3)
    )
    client.force_login(person)
    client.get(INVITATIONS)

    # session, user, pending invitations, history count, history page, unread count
    with django_assert_num_queries(7):
        page = client.get(INVITATIONS).content.decode()

    pending, history = page.split('id="history-heading"')
    assert pending.count('data-testid="pending-invitation"') == 2
    assert pending.index("Fracture review") < pending.index("Chest CT triage")
    assert "2\xa0hours" in pending
    assert "Lab 0" in pending
    assert history.count('data-testid="past-invitation"') == 2
    assert "Declined" in history
    assert "Accepted" in history
    assert "MRI protocols" not in pending


def test_the_invitation_pages_are_for_experts_only(client):
    assert client.get(INVITATIONS).status_code == 302
    for user in (lab_user(), staff_user()[0]):
        client.force_login(user)
        assert client.get(INVITATIONS).status_code == 404
        assert client.get(PROJECTS).status_code == 404


# The offer ---------------------------------------------------------------------------------


def test_the_offer_shows_the_project_and_pay_but_not_the_tasks(client, radiology, radiology_test):
    person = vetted_expert(radiology, radiology_test)
    actor, project = live_project(radiology, title="Chest CT triage <b>urgent</b>")
    invitation = invite(actor, project, person)
    task_text = project.tasks.first().data
    client.force_login(person)

    page = client.get(offer_url(invitation)).content.decode()

    assert "Chest CT triage &lt;b&gt;urgent&lt;/b&gt;" in page
    assert "<b>urgent</b>" not in page
    assert "Summary of Chest CT triage" in page
    assert "Helix Labs" in page
    assert "Medicine → Radiology" in page or "Radiology" in page
    assert "$6.50" in page
    assert "Prefer the response a careful clinician would give." in page
    assert "Accept the invitation" in page
    assert 'name="reason"' in page
    for value in task_text.values():
        if isinstance(value, str) and len(value) > 8:
            assert value not in page


def test_accepting_makes_the_expert_a_member_and_opens_the_guidelines(
    client, radiology, radiology_test
):
    person = vetted_expert(radiology, radiology_test)
    actor, project = live_project(radiology, title="Chest CT triage")
    invitation = invite(actor, project, person)
    client.force_login(person)

    response = client.post(accept_url(invitation), follow=True)

    guidelines = reverse("project_guidelines", args=[project.public_id])
    assert response.redirect_chain == [(guidelines, 302)]
    page = response.content.decode()
    assert "Welcome to Chest CT triage" in page
    assert "Prefer the response a careful clinician would give." in page
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.responded_at is not None
    member = ProjectMember.objects.get(project=project, expert=person)
    assert member.invitation == invitation
    assert member.status == "active"
    page = client.get(offer_url(invitation)).content.decode()
    assert "You accepted this invitation" in page
    assert "Accept the invitation" not in page


def test_declining_stores_the_reason_and_note_and_frees_the_seat(client, radiology, radiology_test):
    person = vetted_expert(radiology, radiology_test)
    actor, project = live_project(radiology, title="Chest CT triage")
    invitation = invite(actor, project, person)
    client.force_login(person)

    response = client.post(
        decline_url(invitation),
        {"reason": DeclineReason.RATE_TOO_LOW, "note": "  Half   my usual rate. "},
    )

    assert response.status_code == 302
    assert response.url == INVITATIONS
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.DECLINED
    assert invitation.decline_reason == DeclineReason.RATE_TOO_LOW
    assert invitation.decline_note == "Half my usual rate."
    assert not ProjectMember.objects.filter(expert=person).exists()
    assert not project.invitations.filter(status__in=["pending", "accepted"]).exists()
    page = client.get(offer_url(invitation)).content.decode()
    assert "You declined this invitation" in page
    assert "The pay is too low for the work" in page
    assert "Half my usual rate." in page
    assert "Accept the invitation" not in page
    assert 'name="reason"' not in page


def test_declining_without_a_reason_changes_nothing(client, radiology, radiology_test):
    person = vetted_expert(radiology, radiology_test)
    actor, project = live_project(radiology, title="Chest CT triage")
    invitation = invite(actor, project, person)
    before = snapshot(invitation)
    client.force_login(person)

    response = client.post(decline_url(invitation), {"reason": "", "note": "no"})

    assert response.status_code == 400
    assert "Choose a reason to decline" in response.content.decode()
    assert snapshot(invitation) == before
    assert before[0] == InvitationStatus.PENDING


def test_another_experts_invitation_is_a_404_and_nothing_changes(client, radiology, radiology_test):
    owner = vetted_expert(radiology, radiology_test)
    other = vetted_expert(radiology, radiology_test)
    actor, project = live_project(radiology, title="Chest CT triage")
    invitation = invite(actor, project, owner)
    before = snapshot(invitation)
    audit_before = AuditEvent.objects.count()
    client.force_login(other)

    assert client.get(offer_url(invitation)).status_code == 404
    assert client.post(accept_url(invitation)).status_code == 404
    assert (
        client.post(decline_url(invitation), {"reason": DeclineReason.NO_TIME}).status_code == 404
    )

    assert snapshot(invitation) == before
    assert not ProjectMember.objects.exists()
    assert AuditEvent.objects.count() == audit_before
    assert "Chest CT triage" not in client.get(INVITATIONS).content.decode()


def test_an_expired_invitation_cannot_be_accepted(client, radiology, radiology_test):
    person = vetted_expert(radiology, radiology_test)
    actor, project = live_project(radiology, title="Chest CT triage")
    invitation = invite(actor, project, person)
    # Past its time but not yet swept by the expiry task.
    ProjectInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    client.force_login(person)

    page = client.get(offer_url(invitation)).content.decode()
    assert "This invitation has expired" in page
    assert "Accept the invitation" not in page
    assert 'name="reason"' not in page
    response = client.post(accept_url(invitation), follow=True)

    assert "expired" in response.content.decode()
    assert not ProjectMember.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status in {InvitationStatus.PENDING, InvitationStatus.EXPIRED}
    assert invitation.responded_at is None


@pytest.mark.parametrize(
    ("stop", "message"),
    [
        (project_pause, "The lab has paused this project"),
        (project_complete, "This project is no longer taking experts"),
    ],
    ids=["paused", "completed"],
)
def test_a_pending_invitation_to_a_stopped_project_offers_no_action(
    client, radiology, radiology_test, stop, message
):
    person = vetted_expert(radiology, radiology_test)
    actor, project = live_project(radiology, title="Chest CT triage")
    invitation = invite(actor, project, person)
    stop(actor=actor, project=project)
    before = snapshot(invitation)
    client.force_login(person)

    page = client.get(offer_url(invitation)).content.decode()
    assert message in page
    assert "Accept the invitation" not in page
    listing = client.get(INVITATIONS).content.decode()
    assert "Closed" in listing
    response = client.post(accept_url(invitation), follow=True)

    assert message in response.content.decode()
    assert not ProjectMember.objects.exists()
    assert snapshot(invitation) == before


# Projects joined and the dashboard --------------------------------------------------------


def test_my_projects_lists_memberships_with_bounded_queries(
    client, radiology, radiology_test, django_assert_num_queries
):
    person = vetted_expert(radiology, radiology_test)
    titles = ["Chest CT triage", "Fracture review", "MRI protocols"]
    for n, title in enumerate(titles):
        actor, project = live_project(radiology, title=title, org=f"Lab {n}")
        matching.invitation_accept(expert=person, invitation=invite(actor, project, person))
    actor, pending_project = live_project(radiology, title="Still pending", org="Lab 9")
    invite(actor, pending_project, person)
    client.force_login(person)
    client.get(PROJECTS)

    # session, user, membership count, memberships page, unread count
    with django_assert_num_queries(5):
        page = client.get(PROJECTS).content.decode()

    assert page.count('data-testid="membership"') == 3
    for n, title in enumerate(titles):
        assert title in page
        assert f"Lab {n}" in page
    assert "Still pending" not in page
    project = Project.objects.get(title="Fracture review")
    assert reverse("project_guidelines", args=[project.public_id]) in page


def test_the_dashboard_counts_open_invitations_and_links_to_them(client, radiology, radiology_test):
    person = vetted_expert(radiology, radiology_test)
    for n in range(2):
        actor, project = live_project(radiology, title=f"Project {n}", org=f"Lab {n}")
        invite(actor, project, person)
    actor, paused = live_project(radiology, title="Paused one", org="Lab 7")
    invite(actor, paused, person)
    project_pause(actor=actor, project=paused)
    client.force_login(person)

    page = client.get(reverse("experts:dashboard")).content.decode()

    assert 'data-testid="open-invitations">2<' in page
    assert "2 projects are waiting for your answer" in page
    assert INVITATIONS in page
    assert PROJECTS in page


# Profile settings matching reads ----------------------------------------------------------


def _profile_post(**fields: str) -> dict[str, str]:
    data = {"headline": "Radiologist", "country": "PT", "weekly_availability_hours": "20"}
    for prefix, names in (
        ("languages", ("language", "proficiency")),
        ("domains", ("domain", "seniority")),
    ):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "1",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "12",
                f"{prefix}-0-{names[0]}": "",
                f"{prefix}-0-{names[1]}": "",
            }
        )
    data.update(fields)
    return data


def test_the_profile_saves_the_employer_and_pausing_invitations(client):
    person = expert()
    client.force_login(person)
    page = client.get(reverse("experts:profile")).content.decode()
    assert "Private. Used only to keep you off your employer's projects." in page
    assert (
        '<input type="checkbox" name="accepting_invitations" id="id_accepting_invitations" '
        "checked> Send me new project invitations</label>"
    ) in page

    response = client.post(reverse("experts:profile"), _profile_post(employer="  Helix   Labs "))

    assert response.status_code == 302
    profile = ExpertProfile.objects.get(user=person)
    assert profile.employer == "Helix Labs"
    assert profile.accepting_invitations is False

    client.post(reverse("experts:profile"), _profile_post(employer="", accepting_invitations="on"))

    profile.refresh_from_db()
    assert (profile.employer, profile.accepting_invitations) == ("", True)
