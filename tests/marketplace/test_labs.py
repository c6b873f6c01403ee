"""Lab organisations: creation, invitations, roles, and scoping."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse

from marketplace import services
from marketplace.errors import Conflict, InvalidInput
from marketplace.models import AuditEvent, LabInvitation, Membership, Notification, Organization
from marketplace.states import InvitationStatus, MembershipRole
from tests.factories import (
    PASSWORD,
    add_member,
    expert,
    invitation_token_from_mail,
    lab_user,
    organization,
)

pytestmark = pytest.mark.django_db


def test_lab_user_creates_an_organisation_and_owns_it(client):
    user = lab_user()
    client.force_login(user)

    response = client.post(reverse("lab_home"), {"name": "  Helix <Labs>  "})

    membership = Membership.objects.get(user=user)
    assert membership.role == MembershipRole.OWNER
    assert membership.organization.name == "Helix <Labs>"
    assert response.url == reverse("lab_dashboard", args=[membership.organization.slug])
    page = client.get(response.url).content.decode()
    assert "Helix &lt;Labs&gt;" in page
    assert "Helix <Labs>" not in page
    assert AuditEvent.objects.filter(action="organization.create", actor=user).count() == 1


def test_experts_cannot_create_organisations(client):
    client.force_login(expert())

    response = client.post(reverse("lab_home"), {"name": "Sneaky"})

    assert response.status_code == 404
    assert not Membership.objects.exists()


def test_owner_invites_a_colleague_who_joins_with_the_given_role(
    client, django_capture_on_commit_callbacks
):
    owner = lab_user(email="owner@helix.example")
    org = organization(owner=owner)
    client.force_login(owner)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("lab_invite", args=[org.slug]),
            {"email": "Colleague@Helix.example", "role": MembershipRole.MANAGER},
        )

    invitation = LabInvitation.objects.get(organization=org)
    assert invitation.email == "colleague@helix.example"
    assert invitation.status == InvitationStatus.PENDING
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["colleague@helix.example"]
    token = invitation_token_from_mail(mail.outbox)
    assert token not in (invitation.token_hash or "")

    colleague = lab_user(email="colleague@helix.example")
    client.force_login(colleague)
    page = client.get(reverse("lab_invitation_accept", args=[token])).content.decode()
    assert "Accept and join" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("lab_invitation_accept", args=[token]))

    assert response.url == reverse("lab_dashboard", args=[org.slug])
    membership = Membership.objects.get(organization=org, user=colleague)
    assert membership.role == MembershipRole.MANAGER
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.accepted_by == colleague
    assert Notification.objects.get(recipient=owner).kind == "lab.member_joined"
    # The link works once.
    client.post(reverse("lab_invitation_accept", args=[token]))
    assert Membership.objects.filter(organization=org).count() == 2


def test_an_invitation_for_another_address_changes_nothing(
    client, django_capture_on_commit_callbacks
):
    org = organization()
    owner = Membership.objects.get(organization=org)
    client.force_login(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("lab_invite", args=[org.slug]),
            {"email": "right@example.org", "role": MembershipRole.VIEWER},
        )
    token = invitation_token_from_mail(mail.outbox)
    intruder = lab_user(email="wrong@example.org")
    client.force_login(intruder)

    response = client.post(reverse("lab_invitation_accept", args=[token]), follow=True)

    assert "sent to another address" in response.content.decode()
    assert not Membership.objects.filter(user=intruder).exists()
    assert LabInvitation.objects.get().status == InvitationStatus.PENDING


def test_unknown_invitation_token_is_404(client):
    assert client.get(reverse("lab_invitation_accept", args=["nope"])).status_code == 404


def test_owner_changes_a_role_and_the_member_is_notified(client):
    org = organization()
    owner = Membership.objects.get(organization=org).user
    colleague = lab_user()
    member = add_member(org, colleague, MembershipRole.VIEWER)
    client.force_login(owner)

    client.post(
        reverse("lab_member_role", args=[org.slug, member.pk]), {"role": MembershipRole.MANAGER}
    )

    member.refresh_from_db()
    assert member.role == MembershipRole.MANAGER
    event = AuditEvent.objects.get(action="membership.change_role")
    assert (event.actor, event.before, event.after) == (
        owner,
        {"role": "viewer"},
        {"role": "manager"},
    )
    assert Notification.objects.filter(recipient=colleague, kind="lab.role_changed").exists()


def test_a_viewer_cannot_change_roles(client):
    org = organization()
    owner_membership = Membership.objects.get(organization=org)
    viewer = lab_user()
    add_member(org, viewer, MembershipRole.VIEWER)
    client.force_login(viewer)
    events_before = AuditEvent.objects.count()

    response = client.post(
        reverse("lab_member_role", args=[org.slug, owner_membership.pk]),
        {"role": MembershipRole.VIEWER},
    )

    assert response.status_code == 403
    owner_membership.refresh_from_db()
    assert owner_membership.role == MembershipRole.OWNER
    assert AuditEvent.objects.count() == events_before
    members_page = client.get(reverse("lab_members", args=[org.slug])).content.decode()
    assert "Invite a colleague" not in members_page
    assert "lab_member_role" not in members_page


def test_a_viewer_cannot_invite(client):
    org = organization()
    viewer = lab_user()
    add_member(org, viewer, MembershipRole.VIEWER)
    client.force_login(viewer)
    outbox_before = len(mail.outbox)

    response = client.post(
        reverse("lab_invite", args=[org.slug]),
        {"email": "friend@example.org", "role": MembershipRole.OWNER},
        follow=True,
    )

    assert "Only an organisation owner" in response.content.decode()
    assert not LabInvitation.objects.filter(email="friend@example.org").exists()
    assert len(mail.outbox) == outbox_before


def test_the_last_owner_cannot_step_down(client):
    org = organization()
    owner = Membership.objects.get(organization=org)
    client.force_login(owner.user)

    response = client.post(
        reverse("lab_member_role", args=[org.slug, owner.pk]),
        {"role": MembershipRole.VIEWER},
        follow=True,
    )

    assert "at least one owner" in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == MembershipRole.OWNER


def test_owner_revokes_a_pending_invitation(client, django_capture_on_commit_callbacks):
    org = organization()
    owner = Membership.objects.get(organization=org)
    client.force_login(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("lab_invite", args=[org.slug]),
            {"email": "late@example.org", "role": MembershipRole.VIEWER},
        )
    invitation = LabInvitation.objects.get()
    token = invitation_token_from_mail(mail.outbox)

    client.post(reverse("lab_invitation_revoke", args=[org.slug, invitation.pk]))

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.REVOKED
    client.force_login(lab_user(email="late@example.org"))
    client.post(reverse("lab_invitation_accept", args=[token]))
    assert not Membership.objects.filter(user__email="late@example.org").exists()


@pytest.mark.parametrize("name", ["lab_dashboard", "lab_members", "lab_api_keys"])
def test_organisation_pages_are_404_outside_the_members(client, name):
    org = organization()
    client.force_login(lab_user())

    assert client.get(reverse(name, args=[org.slug])).status_code == 404


def test_organisation_actions_are_404_outside_the_members(client):
    org = organization()
    member = Membership.objects.get(organization=org)
    client.force_login(lab_user())

    response = client.post(
        reverse("lab_member_role", args=[org.slug, member.pk]), {"role": "viewer"}
    )

    assert response.status_code == 404
    member.refresh_from_db()
    assert member.role == MembershipRole.OWNER


def test_members_page_runs_a_bounded_number_of_queries(client, django_assert_num_queries):
    org = organization()
    owner = Membership.objects.get(organization=org).user
    for _ in range(4):
        add_member(org, lab_user(), MembershipRole.VIEWER)
    client.force_login(owner)
    client.get(reverse("lab_members", args=[org.slug]))

    # session, user, membership, unread count, members, invitations
    with django_assert_num_queries(6):
        response = client.get(reverse("lab_members", args=[org.slug]))
    assert response.content.decode().count('name="role"') == 5 + 1


def test_a_newcomer_signs_up_from_the_invitation_and_joins(
    client, django_capture_on_commit_callbacks
):
    org = organization(name="Helix Labs")
    owner = Membership.objects.get(organization=org)
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_create(membership=owner, email="new@helix.example", role="manager")
    token = invitation_token_from_mail(mail.outbox)
    invitation_page = client.get(reverse("lab_invitation_accept", args=[token])).content.decode()
    signup_link = re.search(r'href="(/accounts/signup/[^"]+)"', invitation_page).group(1)
    signup_link = signup_link.replace("&amp;", "&")
    assert "role=lab" in signup_link
    assert "email=new%40helix.example" in signup_link

    client.post(
        signup_link,
        {
            "role": "lab",
            "email": "new@helix.example",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    confirm = re.search(r"(/accounts/confirm-email/[^/\s]+/)", mail.outbox[-1].body).group(1)
    client.post(confirm)
    client.post(reverse("account_login"), {"login": "new@helix.example", "password": PASSWORD})
    lab_home = client.get(reverse("lab_home")).content.decode()
    assert "Helix Labs" in lab_home
    assert "Accept and join" in lab_home

    invitation = LabInvitation.objects.get(email="new@helix.example")
    response = client.post(reverse("lab_invitation_accept_pending", args=[invitation.pk]))

    assert response.url == reverse("lab_dashboard", args=[org.slug])
    membership = Membership.objects.get(user__email="new@helix.example")
    assert (membership.organization, membership.role) == (org, MembershipRole.MANAGER)


def test_accepting_by_id_only_works_for_the_addressee(client):
    org = organization()
    owner = Membership.objects.get(organization=org)
    invitation = services.invitation_create(
        membership=owner, email="right@example.org", role="viewer"
    )
    client.force_login(lab_user(email="other@example.org"))

    response = client.post(reverse("lab_invitation_accept_pending", args=[invitation.pk]))

    assert response.status_code == 404
    assert Membership.objects.filter(organization=org).count() == 1


def test_inviting_an_expert_address_is_refused_up_front(client):
    org = organization()
    owner = Membership.objects.get(organization=org)
    expert_user = expert(email="doc@example.org")
    client.force_login(owner.user)

    response = client.post(
        reverse("lab_invite", args=[org.slug]),
        {"email": "doc@example.org", "role": MembershipRole.VIEWER},
        follow=True,
    )

    assert "belongs to an expert or staff account" in response.content.decode()
    assert not LabInvitation.objects.exists()
    assert not Membership.objects.filter(user=expert_user).exists()


def test_invitations_are_rate_limited_per_sender():
    org = organization()
    owner = Membership.objects.get(organization=org)
    for i in range(services.INVITATIONS_PER_HOUR):
        services.invitation_create(membership=owner, email=f"p{i}@example.org", role="viewer")

    with pytest.raises(Conflict, match="many invitations"):
        services.invitation_create(membership=owner, email="one-more@example.org", role="viewer")

    assert LabInvitation.objects.count() == services.INVITATIONS_PER_HOUR


@pytest.mark.parametrize("name", ["Acme\r\nBcc: victim@example.org", "Tab\there"])
def test_organisation_names_with_control_characters_are_refused(name):
    with pytest.raises(InvalidInput, match="letters, digits and punctuation"):
        organization(name=name)

    assert not Organization.objects.exists()


def test_lab_home_and_invitation_page_run_bounded_queries(client, django_assert_num_queries):
    org = organization()
    owner = Membership.objects.get(organization=org)
    user = lab_user(email="invitee@example.org")
    for i in range(3):
        other = organization(name=f"Other {i}")
        services.invitation_create(
            membership=Membership.objects.get(organization=other),
            email=user.email,
            role="viewer",
        )
    client.force_login(owner.user)
    client.get(reverse("lab_home"))

    # session, user, memberships, pending invitations, unread count
    with django_assert_num_queries(5):
        client.get(reverse("lab_home"))

    client.force_login(user)
    with django_assert_num_queries(5):
        page = client.get(reverse("lab_home")).content.decode()
    assert page.count("Accept and join") == 3

    with TestCase.captureOnCommitCallbacks(execute=True):
        services.invitation_create(membership=owner, email="late@example.org", role="viewer")
    token = invitation_token_from_mail(mail.outbox)
    client.logout()
    # invitation (with organisation and inviter)
    with django_assert_num_queries(1):
        client.get(reverse("lab_invitation_accept", args=[token]))


def test_owner_removes_a_member_who_is_told(client):
    org = organization()
    owner = Membership.objects.get(organization=org)
    colleague = lab_user()
    member = add_member(org, colleague, MembershipRole.MANAGER)
    client.force_login(owner.user)

    client.post(reverse("lab_member_remove", args=[org.slug, member.pk]))

    assert not Membership.objects.filter(pk=member.pk).exists()
    event = AuditEvent.objects.get(action="membership.remove")
    assert event.before == {"user": colleague.email, "role": "manager"}
    assert Notification.objects.filter(recipient=colleague, kind="lab.member_removed").exists()
    client.force_login(colleague)
    assert client.get(reverse("lab_dashboard", args=[org.slug])).status_code == 404


def test_members_cannot_be_removed_by_viewers_nor_the_last_owner(client):
    org = organization()
    owner = Membership.objects.get(organization=org)
    viewer = lab_user()
    add_member(org, viewer, MembershipRole.VIEWER)

    client.force_login(viewer)
    client.post(reverse("lab_member_remove", args=[org.slug, owner.pk]))
    client.force_login(owner.user)
    response = client.post(reverse("lab_member_remove", args=[org.slug, owner.pk]), follow=True)

    assert "at least one owner" in response.content.decode()
    assert Membership.objects.filter(organization=org).count() == 2
    assert not AuditEvent.objects.filter(action="membership.remove").exists()
