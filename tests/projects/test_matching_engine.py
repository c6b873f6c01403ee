"""The matching engine: eligibility rules, the fit score, the global assignment, runs and
invitations."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from experts.models import Domain, ExpertDomain, ExpertLanguage, ExpertProfile
from experts.states import CredentialKind
from marketplace.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from marketplace.models import Notification
from projects.access import LabActor
from projects.matching import scoring, selectors, services
from projects.matching.candidates import load_pool
from projects.matching.eligibility import RULES, eligible_experts, failed_rules
from projects.matching.models import (
    ExpertDomainRecord,
    LabExclusion,
    MatchingRun,
    ProjectInvitation,
    ProjectMember,
)
from projects.matching.solver import Problem, cut, exact_milp, greedy, solve
from projects.states import InvitationStatus, MemberStatus, RunStatus
from tests import factories
from tests.projects.factories import active_project, manager_actor
from tests.projects.matching_factories import public_id, vetted_expert

pytestmark = pytest.mark.django_db


def run() -> MatchingRun:
    return services.matching_run(trigger="schedule")


def invited(project) -> set[int]:
    return set(
        ProjectInvitation.objects.filter(
            project=project, status__in=["pending", "accepted"]
        ).values_list("expert_id", flat=True)
    )


def bulk_failed_rule(project, expert) -> str | None:
    """What the global run's array path says about one expert: None (eligible) or the rule."""
    pool = load_pool(project_ids=[project.pk], explain=True)
    candidates = pool.candidates[0]
    if expert.pk in {int(pool.expert_ids[i]) for i in candidates.experts}:
        return None
    return candidates.failed.get(expert.pk, "vetted")


# Eligibility --------------------------------------------------------------------------------


def _break(rule: str, *, expert, project, actor: LabActor) -> None:
    """Make ``expert`` fail ``rule`` for ``project`` (and nothing else)."""
    profile = expert.expert_profile
    if rule == "vetted":
        expert.qualifications.update(passed=False)
    elif rule == "accepting":
        ExpertProfile.objects.filter(pk=profile.pk).update(accepting_invitations=False)
    elif rule == "capacity":
        ExpertProfile.objects.filter(pk=profile.pk).update(weekly_availability_hours=4)
    elif rule == "credentials":
        expert.credentials.update(kind=CredentialKind.EMPLOYMENT)
    elif rule == "seniority":
        ExpertDomain.objects.filter(profile=profile).update(seniority="junior")
    elif rule == "languages":
        ExpertLanguage.objects.filter(profile=profile, language="fr").update(proficiency="B1")
    elif rule == "country":
        ExpertProfile.objects.filter(pk=profile.pk).update(country="BR")
    elif rule == "excluded":
        services.lab_exclusion_create(actor=actor, expert_public_id=public_id(expert))
    elif rule == "conflict":
        ExpertProfile.objects.filter(pk=profile.pk).update(
            employer=f"  {actor.organization.name.upper()} "
        )
    elif rule == "on_project":
        services.invitation_direct_create(
            actor=actor, project=project, expert_public_id=public_id(expert)
        )
    elif rule == "turned_down":
        invitation = services.invitation_direct_create(
            actor=actor, project=project, expert_public_id=public_id(expert)
        )
        services.invitation_decline(expert=expert, invitation=invitation, reason="no_time")
    else:  # pragma: no cover - every rule has a case
        raise AssertionError(rule)


@pytest.fixture
def strict_project():
    """A live project that uses every rule: credential kind, seniority, languages, country."""
    actor = manager_actor()
    project = active_project(
        actor,
        seats=5,
        required_credential_kinds=[CredentialKind.DEGREE],
        min_seniority="senior",
        languages=["en", "fr"],
        language_level="C1",
        allowed_countries=["US", "CA"],
    )
    return actor, project


@pytest.mark.parametrize("rule", [rule.name for rule in RULES])
def test_each_rule_lets_a_qualified_expert_in_and_keeps_the_breaker_out(strict_project, rule):
    actor, project = strict_project
    expert = vetted_expert(languages={"en": "native", "fr": "C1"})
    assert list(eligible_experts(project=project)) == [expert]
    assert failed_rules(project=project, expert=expert) == []
    assert bulk_failed_rule(project, expert) is None

    _break(rule, expert=expert, project=project, actor=actor)

    assert list(eligible_experts(project=project)) == []
    assert [r.name for r in failed_rules(project=project, expert=expert)] == [rule]
    assert bulk_failed_rule(project, expert) == rule


def test_a_credential_for_the_field_covers_its_specialty_projects():
    radiology = Domain.objects.get(slug="medicine-radiology")
    project = active_project(domain=radiology)
    # An MD (for medicine) plus the radiology test: vetted for radiology.
    expert = vetted_expert(radiology, credential_domain=Domain.objects.get(slug="medicine"))
    assert list(eligible_experts(project=project)) == [expert]
    assert bulk_failed_rule(project, expert) is None


def test_a_past_employment_at_the_lab_is_no_conflict_but_a_current_one_is():
    actor = manager_actor()
    project = active_project(actor)
    expert = vetted_expert(kinds=(CredentialKind.DEGREE, CredentialKind.EMPLOYMENT))
    employment = expert.credentials.get(kind=CredentialKind.EMPLOYMENT)
    employment.issuer = actor.organization.name
    employment.expires_on = timezone.localdate() - timedelta(days=1)
    employment.issued_on = timezone.localdate() - timedelta(days=400)
    employment.save()
    assert failed_rules(project=project, expert=expert) == []
    employment.expires_on = None
    employment.save()
    assert [r.name for r in failed_rules(project=project, expert=expert)] == ["conflict"]
    assert bulk_failed_rule(project, expert) == "conflict"


def test_database_rules_and_the_array_path_agree_on_a_mixed_population():
    actor = manager_actor()
    project = active_project(
        actor, seats=3, min_seniority="mid", languages=["en"], language_level="C1"
    )
    rng = np.random.default_rng(7)
    experts = [
        vetted_expert(
            weekly_hours=int(rng.choice([0, 4, 5, 10, 20])),
            seniority=str(rng.choice(["junior", "mid", "senior"])),
            languages={"en": str(rng.choice(["B2", "C1", "native"]))},
            accepting=bool(rng.random() > 0.2),
            employer=actor.organization.name if n % 11 == 0 else "",
        )
        for n in range(24)
    ]
    database = set(eligible_experts(project=project).values_list("pk", flat=True))
    pool = load_pool(project_ids=[project.pk], explain=True)
    arrays = {int(pool.expert_ids[i]) for i in pool.candidates[0].experts}
    assert database == arrays
    assert 0 < len(database) < len(experts)
    for expert in experts:
        if expert.pk not in database:
            first = failed_rules(project=project, expert=expert)[0].name
            assert pool.candidates[0].failed[expert.pk] == first


# Score ---------------------------------------------------------------------------------------


def test_score_components_are_stored_with_the_invitation_and_add_up():
    radiology = Domain.objects.get(slug="medicine-radiology")
    project = active_project(
        seats=1,
        price_per_annotation_cents=600,  # pairwise: 6 minutes → $60/h
        specialties=[radiology],
        languages=["en"],
        language_level="C1",
    )
    expert = vetted_expert(
        qualification=85,
        seniority="principal",
        languages={"en": "C2"},
        rate_cents=12000,
    )
    ExpertDomain.objects.create(profile=expert.expert_profile, domain=radiology, seniority="senior")
    ExpertDomainRecord.objects.create(
        expert=expert,
        domain=project.domain,
        annotations=math.ceil(math.expm1(math.log1p(500) / 2)),
        gold_scored=30,
        gold_score_sum=27.0,
        quality_score=0.9,
    )
    run()
    invitation = ProjectInvitation.objects.get(project=project, expert=expert)
    components = invitation.components
    assert components["qualification"] == 0.85
    assert components["gold_accuracy"] == round((27 + 0.8 * 10) / (30 + 10), 4)
    assert components["quality"] == 0.9
    assert components["specialty"] == 1.0
    assert components["seniority"] == 1.0
    assert components["experience"] == pytest.approx(0.5, abs=0.01)
    assert components["language"] == 0.9
    assert components["rate"] == 0.5  # $60/h against an expected $120/h
    assert components["deadline"] == 1.0  # no deadline
    assert invitation.score == pytest.approx(
        sum(scoring.WEIGHTS[name] * value for name, value in components.items()), abs=1e-3
    )
    assert set(components) == {c.name for c in scoring.COMPONENTS}
    assert sum(scoring.WEIGHTS.values()) == pytest.approx(1.0)


def test_newcomers_get_the_neutral_prior_and_unknown_rates_a_fair_value():
    project = active_project(seats=1)
    vetted_expert(rate_cents=None)
    run()
    components = ProjectInvitation.objects.get(project=project).components
    assert components["gold_accuracy"] == scoring.GOLD_PRIOR_MEAN
    assert components["quality"] == scoring.QUALITY_PRIOR
    assert components["experience"] == 0.0
    assert components["rate"] == scoring.UNKNOWN_RATE


def test_a_near_deadline_lowers_the_deadline_component():
    project = active_project(
        seats=1, task_count=40, deadline=timezone.localdate() + timedelta(days=2)
    )
    vetted_expert()
    run()
    deadline = ProjectInvitation.objects.get(project=project).components["deadline"]
    assert 0 < deadline < 1


def test_the_better_fit_wins_the_only_seat():
    project = active_project(seats=1)
    weaker = vetted_expert(qualification=70)
    stronger = vetted_expert(qualification=99)
    run()
    assert invited(project) == {stronger.pk}
    assert weaker.pk not in invited(project)


# Assignment ----------------------------------------------------------------------------------


def test_a_run_fills_seats_but_never_more_than_a_project_has():
    project = active_project(seats=2)
    for _ in range(5):
        vetted_expert()
    made = run()
    assert made.status == RunStatus.FINISHED
    assert made.invitations_created == 2
    assert made.open_seats == 2
    assert len(invited(project)) == 2
    invitation = ProjectInvitation.objects.filter(project=project).first()
    assert invitation.expires_at - invitation.created_at == timedelta(hours=48)
    assert invitation.weekly_hours == 5
    assert Notification.objects.filter(
        recipient=invitation.expert,
        kind="matching.invited",
        link__contains=str(invitation.public_id),
    ).exists()


def test_an_expert_is_never_given_more_seats_than_their_hours_allow():
    actor = manager_actor()
    first = active_project(actor, seats=1, title="First")
    second = active_project(actor, seats=1, title="Second")
    only = vetted_expert(weekly_hours=9)  # one 5-hour seat
    run()
    assert ProjectInvitation.objects.filter(expert=only).count() == 1
    assert {first.pk, second.pk} & set(
        ProjectInvitation.objects.filter(expert=only).values_list("project_id", flat=True)
    )


def test_seats_already_held_count_against_the_hours():
    actor = manager_actor()
    first = active_project(actor, seats=1, title="First")
    expert = vetted_expert(weekly_hours=10)
    run()
    assert invited(first) == {expert.pk}
    second = active_project(actor, seats=1, title="Second")
    third = active_project(actor, seats=1, title="Third")
    run()
    assert ProjectInvitation.objects.filter(expert=expert).count() == 2
    assert len(invited(second)) + len(invited(third)) == 1


def test_fairness_spreads_seats_between_equally_fit_experts():
    actor = manager_actor()
    projects = [active_project(actor, seats=1, title=f"P{n}") for n in range(3)]
    top = vetted_expert(qualification=92, weekly_hours=40)
    others = [vetted_expert(qualification=91, weekly_hours=40) for _ in range(2)]
    run()
    per_expert = {
        expert.pk: ProjectInvitation.objects.filter(expert=expert).count()
        for expert in [top, *others]
    }
    assert per_expert == {top.pk: 1, others[0].pk: 1, others[1].pk: 1}
    assert all(len(invited(project)) == 1 for project in projects)


def test_solver_fairness_term_on_a_small_problem():
    # Two one-seat projects; A fits both slightly better than B.
    problem = Problem(
        pair_project=np.array([0, 0, 1, 1]),
        pair_expert=np.array([0, 1, 0, 1]),
        pair_fit=np.array([0.90, 0.89, 0.90, 0.89]),
        seats=np.array([1, 1]),
        capacity=np.array([2, 2]),
        held=np.array([0, 0]),
    )
    fair = solve(problem)
    assert sorted(problem.pair_expert[fair.chosen].tolist()) == [0, 1]
    problem.fairness = 0.0
    unfair = solve(problem)
    assert unfair.objective == pytest.approx(1.80)


def test_solver_matches_the_exact_optimum_and_beats_greedy_on_random_instances():
    rng = np.random.default_rng(11)
    for _ in range(3):
        experts, projects = 60, 8
        pairs = [(p, e) for p in range(projects) for e in range(experts) if rng.random() < 0.4]
        problem = Problem(
            pair_project=np.array([p for p, _ in pairs]),
            pair_expert=np.array([e for _, e in pairs]),
            pair_fit=rng.random(len(pairs)),
            seats=rng.integers(1, 8, projects),
            capacity=rng.integers(0, 4, experts),
            held=rng.integers(0, 3, experts),
        )
        ours, exact, baseline = solve(problem), exact_milp(problem), greedy(problem)
        assert ours.objective == pytest.approx(exact.objective, abs=1e-5)
        assert ours.objective >= baseline.objective - 1e-9
        taken = np.bincount(problem.pair_project[ours.chosen], minlength=projects)
        assert (taken <= problem.seats).all()
        load = np.bincount(problem.pair_expert[ours.chosen], minlength=experts)
        assert (load <= problem.capacity).all()


def test_re_running_does_not_duplicate_invitations():
    project = active_project(seats=3)
    for _ in range(4):
        vetted_expert()
    first = run()
    second = run()
    assert first.invitations_created == 3
    assert second.invitations_created == 0
    assert ProjectInvitation.objects.filter(project=project).count() == 3


def test_a_failed_run_is_recorded_with_its_error(monkeypatch):
    active_project(seats=1)
    vetted_expert()

    def broken(problem):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr("projects.matching.services.solve", broken)
    with pytest.raises(RuntimeError):
        run()
    failed = MatchingRun.objects.get()
    assert failed.status == RunStatus.FAILED
    assert failed.error == "RuntimeError: solver exploded"
    assert not ProjectInvitation.objects.exists()


def test_paused_and_draft_projects_get_no_invitations():
    actor = manager_actor()
    paused = active_project(actor, seats=2, title="Paused")
    from projects import services as project_services

    project_services.project_pause(actor=actor, project=paused)
    vetted_expert()
    made = run()
    assert made.projects_considered == 0
    assert not ProjectInvitation.objects.exists()


# Invitations --------------------------------------------------------------------------------


def test_accepting_makes_the_expert_a_member():
    project = active_project(seats=1)
    expert = vetted_expert()
    run()
    invitation = ProjectInvitation.objects.get(expert=expert)
    member = services.invitation_accept(expert=expert, invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    assert invitation.responded_at is not None
    assert member.project == project
    assert member.status == MemberStatus.ACTIVE
    with pytest.raises(Conflict):
        services.invitation_accept(expert=expert, invitation=invitation)
    assert ProjectMember.objects.count() == 1


def test_invitations_to_a_paused_project_wait_for_it_to_resume():
    actor = manager_actor()
    project = active_project(actor, seats=1)
    expert = vetted_expert()
    run()
    invitation = ProjectInvitation.objects.get(expert=expert)
    from projects import services as project_services

    project_services.project_pause(actor=actor, project=project)
    with pytest.raises(Conflict, match="paused"):
        services.invitation_accept(expert=expert, invitation=invitation)
    assert not ProjectMember.objects.exists()
    project_services.project_resume(actor=actor, project=project)
    services.invitation_accept(expert=expert, invitation=invitation)
    assert ProjectMember.objects.filter(expert=expert, project=project).exists()


def test_declining_frees_the_seat_for_the_next_run():
    project = active_project(seats=1)
    first = vetted_expert(qualification=99)
    second = vetted_expert(qualification=80)
    run()
    invitation = ProjectInvitation.objects.get(project=project)
    assert invitation.expert == first
    with pytest.raises(InvalidInput):
        services.invitation_decline(expert=first, invitation=invitation, reason="bored")
    services.invitation_decline(
        expert=first, invitation=invitation, reason="no_time", note="  Back   in May "
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.decline_reason, invitation.decline_note) == (
        "declined",
        "no_time",
        "Back in May",
    )
    run()
    assert invited(project) == {second.pk}


def test_expired_invitations_return_their_seat_and_cannot_be_accepted():
    project = active_project(seats=1)
    first = vetted_expert(qualification=99)
    second = vetted_expert(qualification=80)
    run()
    invitation = ProjectInvitation.objects.get(project=project)
    ProjectInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    with pytest.raises(Conflict):
        services.invitation_accept(expert=first, invitation=invitation)
    assert not ProjectMember.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.EXPIRED
    run()
    assert invited(project) == {second.pk}


def test_the_expiry_task_expires_only_due_invitations():
    active_project(seats=2)
    vetted_expert()
    vetted_expert()
    run()
    due, fresh = ProjectInvitation.objects.all()[:2]
    ProjectInvitation.objects.filter(pk=due.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.invitations_expire() == 1
    due.refresh_from_db()
    fresh.refresh_from_db()
    assert (due.status, fresh.status) == ("expired", "pending")


def test_another_experts_invitation_is_not_found():
    active_project(seats=1)
    expert = vetted_expert()
    stranger = vetted_expert(qualification=10, weekly_hours=0)
    run()
    invitation = ProjectInvitation.objects.get(expert=expert)
    with pytest.raises(NotFound):
        services.invitation_accept(expert=stranger, invitation=invitation)
    with pytest.raises(NotFound):
        services.invitation_decline(expert=stranger, invitation=invitation, reason="no_time")
    with pytest.raises(NotFound):
        selectors.invitation_for_expert(expert=stranger, public_id=invitation.public_id)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


def test_other_labs_invitations_are_not_found():
    project = active_project(seats=1)
    vetted_expert()
    run()
    invitation = ProjectInvitation.objects.get(project=project)
    other = manager_actor()
    with pytest.raises(NotFound):
        selectors.invitation_for_lab(actor=other, public_id=invitation.public_id)
    with pytest.raises(NotFound):
        services.invitation_withdraw(actor=other, invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


# Lab actions ---------------------------------------------------------------------------------


def test_an_excluded_expert_is_withdrawn_and_never_invited_again():
    actor = manager_actor()
    project = active_project(actor, seats=1)
    expert = vetted_expert(qualification=99)
    backup = vetted_expert(qualification=70)
    run()
    assert invited(project) == {expert.pk}
    exclusion = services.lab_exclusion_create(
        actor=actor, expert_public_id=public_id(expert), reason="Rushed work"
    )
    assert ProjectInvitation.objects.get(expert=expert).status == InvitationStatus.WITHDRAWN
    run()
    assert invited(project) == {backup.pk}
    other_lab_project = active_project(seats=1, title="Other lab")
    run()
    assert expert.pk in invited(other_lab_project)  # exclusions are per lab
    assert LabExclusion.objects.get() == exclusion


def test_direct_invitation_applies_the_rules_and_names_the_failure():
    actor = manager_actor()
    project = active_project(actor, seats=2, languages=["fr"], language_level="C1")
    speaker = vetted_expert(languages={"fr": "native"})
    non_speaker = vetted_expert(languages={"en": "native"})
    with pytest.raises(InvalidInput, match="does not speak a required language"):
        services.invitation_direct_create(
            actor=actor, project=project, expert_public_id=public_id(non_speaker)
        )
    with pytest.raises(InvalidInput, match="not an expert id"):
        services.invitation_direct_create(actor=actor, project=project, expert_public_id="x")
    assert not ProjectInvitation.objects.exists()
    invitation = services.invitation_direct_create(
        actor=actor, project=project, expert_public_id=public_id(speaker)
    )
    assert invitation.source == "direct"
    assert invitation.invited_by == actor.user
    assert invitation.components["language"] == 1.0
    with pytest.raises(InvalidInput, match="already invited"):
        services.invitation_direct_create(
            actor=actor, project=project, expert_public_id=public_id(speaker)
        )


def test_viewers_cannot_change_seats_or_exclusions():
    owner = manager_actor()
    project = active_project(owner, seats=1)
    expert = vetted_expert()
    viewer = LabActor(
        organization=owner.organization, user=factories.lab_user(), api_key=None, role="viewer"
    )
    with pytest.raises(PermissionDenied):
        services.project_seats_add(actor=viewer, project=project, seats=2)
    with pytest.raises(PermissionDenied):
        services.lab_exclusion_create(actor=viewer, expert_public_id=public_id(expert))
    project.refresh_from_db()
    assert project.seats == 1
    assert not LabExclusion.objects.exists()


def test_more_seats_are_filled_by_the_next_run():
    actor = manager_actor()
    project = active_project(actor, seats=1)
    for _ in range(3):
        vetted_expert()
    run()
    with pytest.raises(InvalidInput):
        services.project_seats_add(actor=actor, project=project, seats=0)
    services.project_seats_add(actor=actor, project=project, seats=2)
    assert project.seats == 3
    run()
    assert len(invited(project)) == 3


def test_activation_queues_a_run_that_invites(django_capture_on_commit_callbacks):
    expert = vetted_expert()
    with django_capture_on_commit_callbacks(execute=True):
        project = active_project(seats=1)
    made = MatchingRun.objects.get()
    assert made.trigger == "project_activated"
    assert invited(project) == {expert.pk}


def test_the_cut_spreads_candidate_lists_over_the_experts_capacity():
    # Four one-seat projects rank the same twelve one-seat experts in the same order.
    experts, projects = 12, 4
    problem = Problem(
        pair_project=np.repeat(np.arange(projects), experts),
        pair_expert=np.tile(np.arange(experts), projects),
        pair_fit=np.tile(np.linspace(0.9, 0.4, experts), projects),
        seats=np.ones(projects, dtype=np.int64),
        capacity=np.ones(experts, dtype=np.int64),
        held=np.zeros(experts, dtype=np.int64),
        pair_index=np.tile(np.arange(experts), projects),
    )
    cut_problem = cut(problem, per_seat=1, lists_per_capacity=2)
    # Each project keeps max(1 × 1, 1 + 5) = 6 candidates, and no expert is on more than
    # two lists: the last two projects get the next six experts instead of the same ones.
    assert np.bincount(cut_problem.pair_project).tolist() == [6, 6, 6, 6]
    assert np.bincount(cut_problem.pair_expert, minlength=experts).max() == 2
    assert set(cut_problem.pair_expert[cut_problem.pair_project == 3].tolist()) == set(range(6, 12))
    assert cut_problem.pair_index.tolist() == cut_problem.pair_expert.tolist()
    assert len(solve(cut_problem).chosen) == projects


def test_large_runs_solve_the_cut_and_small_ones_every_pair(settings):
    active_project(seats=1)
    for _ in range(12):
        vetted_expert()
    pool = load_pool()
    assert len(services.run_problem(pool).pair_fit) == 12
    settings.MATCHING_MAX_UNCUT_PAIRS = 5
    settings.MATCHING_CANDIDATES_PER_SEAT = 1
    assert len(services.run_problem(pool).pair_fit) == 6  # max(1 × 1 seat, 1 + 5)
    assert run().invitations_created == 1


def test_a_lab_may_ask_again_an_expert_who_declined_but_a_run_does_not():
    actor = manager_actor()
    project = active_project(actor, seats=1)
    expert = vetted_expert()
    run()
    invitation = ProjectInvitation.objects.get(expert=expert)
    services.invitation_decline(expert=expert, invitation=invitation, reason="no_time")
    run()
    assert not invited(project)
    again = services.invitation_direct_create(
        actor=actor, project=project, expert_public_id=public_id(expert)
    )
    assert again.status == InvitationStatus.PENDING
    assert invited(project) == {expert.pk}


def test_a_lab_is_not_told_an_experts_private_circumstances():
    actor = manager_actor()
    project = active_project(actor, seats=2)
    busy = vetted_expert(weekly_hours=0)
    employee = vetted_expert(employer=actor.organization.name)
    for expert in (busy, employee):
        with pytest.raises(InvalidInput) as refused:
            services.invitation_direct_create(
                actor=actor, project=project, expert_public_id=public_id(expert)
            )
        assert str(refused.value.message) == (
            "This expert cannot be invited: they are not available for this project."
        )
    assert not ProjectInvitation.objects.exists()


def test_both_eligibility_paths_trim_and_ignore_case_of_employers():
    actor = manager_actor()
    project = active_project(actor)
    expert = vetted_expert(kinds=(CredentialKind.DEGREE, CredentialKind.EMPLOYMENT))
    expert.credentials.filter(kind=CredentialKind.EMPLOYMENT).update(
        issuer=f"  {actor.organization.name.upper()}  "
    )
    assert [r.name for r in failed_rules(project=project, expert=expert)] == ["conflict"]
    assert bulk_failed_rule(project, expert) == "conflict"
