"""Matching in Chromium: a lab manager makes a project live, the run it triggers invites the
vetted radiologist, the radiologist reads the offer and accepts it, and the lab sees the
accepted seat (by pseudonym, never by name).

Celery runs eagerly here, so the run triggered by activation has finished when the page loads.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from experts.models import Domain
from experts.states import CredentialKind
from projects import services
from projects.matching.models import ProjectInvitation, ProjectMember
from projects.selectors import required_funds_cents
from projects.states import InvitationStatus, ProjectStatus
from tests.e2e.conftest import log_in, save_screenshot
from tests.payments.factories import fund_lab
from tests.projects.factories import manager_actor, project, tasks
from tests.projects.matching_factories import vetted_expert

pytestmark = pytest.mark.e2e


def test_activation_invites_the_expert_who_accepts_and_the_lab_sees_the_seat(open_page):
    radiology = Domain.objects.get(slug="medicine-radiology")
    radiologist = vetted_expert(
        radiology, full_name="Dr. Elena Rivera", kinds=(CredentialKind.BOARD_CERTIFICATION,)
    )
    actor = manager_actor()
    ready = project(
        actor,
        title="Imaging report explanations",
        summary="Choose the answer a radiologist would rather a patient read.",
        domain=radiology,
        seats=2,
        required_credential_kinds=[CredentialKind.BOARD_CERTIFICATION],
    )
    tasks(ready, 4)
    needed = required_funds_cents(project=ready, task_count=4)
    fund_lab(actor.organization, needed)
    services.project_fund(actor=actor, project=ready, amount_cents=needed)
    slug = actor.organization.slug

    lab = open_page()
    log_in(lab, actor.user.email)
    lab.goto(f"/labs/{slug}/projects/{ready.public_id}/")
    lab.get_by_role("button", name="Activate", exact=True).click()
    lab.wait_for_load_state()
    ready.refresh_from_db()
    assert ready.status == ProjectStatus.ACTIVE
    invitation = ProjectInvitation.objects.get(project=ready)
    assert invitation.expert == radiologist
    assert invitation.status == InvitationStatus.PENDING

    expert_page = open_page()
    log_in(expert_page, radiologist.email)
    expert_page.goto("/expert/invitations/")
    expert_page.get_by_role("link", name=re.compile("Imaging report explanations")).first.click()
    expect(expert_page.get_by_text("Choose the answer a radiologist")).to_be_visible()
    save_screenshot(expert_page, "matching-offer")
    expert_page.get_by_role("button", name=re.compile("^Accept")).click()
    expert_page.wait_for_load_state()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert ProjectMember.objects.filter(project=ready, expert=radiologist).exists()

    lab.goto(f"/labs/{slug}/projects/{ready.public_id}/experts/")
    pseudonym = f"Expert {radiologist.expert_profile.public_id.hex[:8]}"
    row = lab.locator("tr", has_text=pseudonym)
    expect(row).to_contain_text("Accepted")
    expect(lab.locator("body")).not_to_contain_text("Elena Rivera")
    expect(lab.locator("body")).not_to_contain_text(radiologist.email)
    save_screenshot(lab, "matching-accepted-seat")
