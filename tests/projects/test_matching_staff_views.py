"""The staff matching console: runs, one run's invitations, a project's ranked candidates."""

from __future__ import annotations

import pytest
from django.http import Http404
from django.test import RequestFactory
from django.urls import resolve, reverse

from experts import services as expert_services
from experts.models import Domain, QualificationTest
from marketplace.models import AuditEvent, User
from marketplace.states import MembershipRole
from projects.access import LabActor
from projects.matching import services as matching
from projects.matching.models import LabExclusion, MatchingRun, ProjectInvitation
from projects.models import Project
from projects.states import RunStatus, RunTrigger
from tests.experts import factories as ef
from tests.factories import expert, lab_user, log_in_staff, organization, staff_user
from tests.projects import factories as pf

pytestmark = pytest.mark.django_db

RUNS = reverse("matching:runs")
RUN_NOW = reverse("matching:run_request")
# session, user, MFA authenticator, the project, the engine's pool for it (related domains,
# project, specialties, qualifications, profiles, held seats, languages, domains,
# credentials, track records, invitations, members, exclusions), the users shown, unread count
CANDIDATE_PAGE_QUERIES = 22


@pytest.fixture
def staff(client) -> User:
    """A staff member logged in with password and TOTP, as the browser does it."""
    person, secret = staff_user(with_totp=True)
    assert secret is not None
    log_in_staff(client, person, secret)
    return person


@pytest.fixture
def radiology() -> Domain:
    return ef.domain()


@pytest.fixture
def radiology_test(radiology) -> QualificationTest:
    return ef.qualification_test(on=radiology)


def vetted_expert(domain: Domain, test: QualificationTest, **profile) -> User:
    person = expert()
    expert_services.profile_update(
        expert=person,
        data={"headline": "Radiologist", "weekly_availability_hours": 40, **profile},
        languages=[("en", "C2")],
        domains=[(domain, "senior")],
    )
    ef.verified_credential(person, domains=[domain])
    ef.pass_test(person, test)
    return person


def live_project(domain: Domain, *, title: str, org: str = "Helix Labs", seats: int = 10):
    owner = lab_user()
    actor = LabActor(
        organization=organization(owner=owner, name=org),
        user=owner,
        api_key=None,
        role=MembershipRole.OWNER,
    )
    return actor, pf.active_project(actor, domain=domain, title=title, seats=seats)


def candidates_url(project: Project) -> str:
    return reverse("matching:candidates", args=[project.public_id])


def run_url(run: MatchingRun) -> str:
    return reverse("matching:run", args=[run.pk])


# Access ------------------------------------------------------------------------------------


def _urls(radiology) -> list[str]:
    _, project = live_project(radiology, title="Chest CT triage")
    run = matching.matching_run(trigger=RunTrigger.SCHEDULE)
    return [RUNS, RUN_NOW, run_url(run), candidates_url(project)]


@pytest.mark.parametrize("make_user", [expert, lab_user], ids=["expert", "lab member"])
def test_non_staff_get_404_on_every_matching_page(
    client, radiology, make_user, django_capture_on_commit_callbacks
):
    urls = _urls(radiology)
    client.force_login(make_user())
    runs_before = MatchingRun.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        for url in urls:
            assert client.get(url).status_code == 404, url
            assert client.post(url).status_code == 404, url

    assert callbacks == []
    assert MatchingRun.objects.count() == runs_before


def test_each_matching_view_refuses_non_staff_even_without_the_middleware(radiology):
    urls = _urls(radiology)
    person = expert()
    factory = RequestFactory()

    for url in urls:
        request = factory.post(url) if url == RUN_NOW else factory.get(url)
        request.user = person
        match = resolve(url)
        with pytest.raises(Http404):
            match.func(request, *match.args, **match.kwargs)


def test_staff_without_a_totp_session_are_sent_to_confirm_their_code(client):
    person, _ = staff_user(with_totp=True)
    client.force_login(person)

    response = client.get(RUNS)

    assert response.status_code == 302
    assert response.url.startswith(reverse("mfa_reauthenticate"))


def test_the_console_and_the_staff_dashboard_link_to_matching(client, staff):
    for url in (reverse("staff_dashboard"), reverse("vetting:queue")):
        assert f'href="{RUNS}"' in client.get(url).content.decode(), url


# Runs --------------------------------------------------------------------------------------


def test_the_runs_list_shows_each_run_with_bounded_queries(
    client, staff, radiology, radiology_test, django_assert_num_queries
):
    for _ in range(2):
        vetted_expert(radiology, radiology_test)
    live_project(radiology, title="Chest CT triage", seats=2)
    first = matching.matching_run(trigger=RunTrigger.SCHEDULE)
    matching.matching_run(trigger=RunTrigger.STAFF, started_by=staff)
    matching.matching_run(trigger=RunTrigger.SCHEDULE)
    MatchingRun.objects.create(
        trigger=RunTrigger.SEATS_ADDED,
        status=RunStatus.FAILED,
        started_at=first.started_at,
        error="OperationalError: the database went away",
    )
    client.get(RUNS)

    # session, user, MFA authenticator, runs (with who started them), unread count
    with django_assert_num_queries(5):
        page = client.get(RUNS).content.decode()

    assert page.count('data-testid="run-row"') == 4
    assert f'href="{run_url(first)}"' in page
    assert "Started by staff" in page
    assert f"by {staff.email}" in page
    assert "OperationalError: the database went away" in page
    first.refresh_from_db()
    assert first.invitations_created == 2
    assert first.open_seats == 2


def test_run_matching_now_queues_a_run(
    client, staff, radiology, radiology_test, django_capture_on_commit_callbacks
):
    person = vetted_expert(radiology, radiology_test)
    _, project = live_project(radiology, title="Chest CT triage")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RUN_NOW)

    assert response.status_code == 302
    assert response.url == RUNS
    run = MatchingRun.objects.get()
    assert run.trigger == RunTrigger.STAFF
    assert run.started_by == staff
    assert run.status == RunStatus.FINISHED
    assert run.invitations_created == 1
    invitation = ProjectInvitation.objects.get()
    assert (invitation.expert, invitation.project) == (person, project)
    page = client.get(RUNS).content.decode()
    assert "A matching run is queued" in page
    assert 'data-testid="run-row"' in page


def test_running_matching_needs_a_post(client, staff):
    assert client.get(RUN_NOW).status_code == 405
    assert not MatchingRun.objects.exists()


def test_a_run_page_lists_its_invitations_with_bounded_queries(
    client, staff, radiology, radiology_test, django_assert_num_queries
):
    experts = [vetted_expert(radiology, radiology_test) for _ in range(3)]
    projects = [
        live_project(radiology, title=title, org=f"Lab {n}", seats=2)[1]
        for n, title in enumerate(["Chest CT triage", "Fracture review"])
    ]
    run = matching.matching_run(trigger=RunTrigger.SCHEDULE)
    assert run.invitations_created == 4
    url = run_url(run)
    client.get(url)

    # session, user, MFA authenticator, the run, invitation count, invitations page, unread
    with django_assert_num_queries(7):
        page = client.get(url).content.decode()

    assert page.count('data-testid="run-invitation"') == 4
    for project in projects:
        assert project.title in page
        assert candidates_url(project) in page
    invited = {i.expert.email for i in run.invitations.select_related("expert")}
    assert invited <= {person.email for person in experts}
    for email in invited:
        assert email in page
    best = run.invitations.order_by("-score").first()
    assert f"{best.score:.3f}" in page


def test_an_unknown_run_is_a_404(client, staff):
    assert client.get(reverse("matching:run", args=[999999])).status_code == 404


# Candidates --------------------------------------------------------------------------------


def test_the_candidates_page_ranks_experts_and_says_why_others_are_excluded(
    client, staff, radiology, radiology_test, django_assert_num_queries
):
    actor, project = live_project(radiology, title="Chest CT triage", org="Helix Labs")
    eligible = [vetted_expert(radiology, radiology_test) for _ in range(3)]
    paused = vetted_expert(radiology, radiology_test, accepting_invitations=False)
    employee = vetted_expert(radiology, radiology_test, employer="helix labs")
    unvetted = expert()
    excluded = vetted_expert(radiology, radiology_test)
    matching.lab_exclusion_create(
        actor=actor, expert_public_id=str(excluded.expert_profile.public_id)
    )
    assert LabExclusion.objects.count() == 1
    url = candidates_url(project)
    client.get(url)

    with django_assert_num_queries(CANDIDATE_PAGE_QUERIES):
        page = client.get(url).content.decode()

    eligible_part, excluded_part = page.split('id="excluded-heading"')
    assert eligible_part.count('data-testid="candidate"') == 3
    for person in eligible:
        assert person.email in eligible_part
        assert f"Expert {person.expert_profile.public_id.hex[:8]}" in eligible_part
    assert "Qualification test" in eligible_part
    assert "Gold accuracy" in eligible_part
    rows = dict(_excluded_rows(excluded_part))
    assert rows[paused.email] == "Has paused new invitations"
    assert rows[employee.email] == "Conflict of interest: works for the lab"
    assert rows[excluded.email] == "Excluded by the lab"
    # Only experts vetted for the domain are considered at all.
    assert unvetted.email not in page

    more = [vetted_expert(radiology, radiology_test) for _ in range(3)]
    with django_assert_num_queries(CANDIDATE_PAGE_QUERIES):
        page = client.get(url).content.decode()
    assert page.count('data-testid="candidate"') == 6
    assert all(person.email in page for person in more)


def _excluded_rows(html: str) -> list[tuple[str, str]]:
    import re

    return re.findall(
        r'data-testid="excluded">\s*<td>[^<]*<br><span class="small muted">([^<]+)</span></td>'
        r"\s*<td>([^<]+)</td>",
        html,
    )


def test_an_unknown_project_has_no_candidates_page(client, staff):
    import uuid

    response = client.get(reverse("matching:candidates", args=[uuid.uuid4()]))

    assert response.status_code == 404
    assert AuditEvent.objects.filter(action__startswith="matching").count() == 0
