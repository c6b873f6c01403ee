"""The quality benchmark's marketplace simulation, at a tiny size, so its code keeps working
with the services it drives (benchmarks/quality.py runs it at full size)."""

from __future__ import annotations

import pytest

from benchmarks._quality_marketplace import (
    LABELS,
    MarketplaceConfig,
    pause_rule_check,
    run_marketplace,
)
from projects.models import Annotation, Project, Task
from projects.quality.models import ProjectQuality, TaskConsensus
from projects.states import MemberStatus

pytestmark = pytest.mark.django_db

TINY = MarketplaceConfig(
    experts=8,
    clicker_share=0.25,
    items=24,
    gold_items=20,
    overlap=3,
    gold_rate_percent=25,
    min_gold_accuracy_percent=65,
    min_gold_tasks=4,
    batch=40,
    seed=3,
)


def test_marketplace_simulation_works_every_item_and_reports_its_outcome():
    outcome = run_marketplace(TINY)

    project = Project.objects.get(title="Variant classification (synthetic)")
    assert project.task_type == "classification"
    assert project.task_settings["labels"] == LABELS
    # Every regular item got its three answers through the services, and was scored.
    assert outcome.items_open == 0
    assert outcome.regular_answers == TINY.items * TINY.overlap
    assert Annotation.objects.filter(project=project, task__is_gold=False).count() == 72
    assert not Task.objects.filter(project=project, is_gold=False, annotation_count__lt=3).exists()
    assert (
        outcome.gold_answers
        == Annotation.objects.filter(project=project, task__is_gold=True).count()
    )
    assert outcome.gold_answers > 0
    assert outcome.items_scored == TaskConsensus.objects.filter(project=project).count() == 24
    # A quality run after every batch, and one at the end.
    assert outcome.refreshes >= (outcome.regular_answers + outcome.gold_answers) // TINY.batch
    quality = ProjectQuality.objects.get(project=project)
    assert quality.annotations == outcome.regular_answers + outcome.gold_answers

    # The accuracies are shares of the scored items, from the consensus rows.
    assert outcome.majority_accuracy == outcome.majority_correct / 24
    assert outcome.weighted_accuracy == outcome.weighted_correct / 24
    assert 0 <= outcome.items_differ <= 24

    # The roles add up, and the paused ones are the members the engine paused.
    assert (outcome.experts, outcome.clickers, outcome.reliable) == (8, 2, 6)
    paused = project.members.filter(status=MemberStatus.PAUSED, quality_paused=True).count()
    assert outcome.clickers_paused + outcome.reliable_paused == paused
    assert len(outcome.clicker_pause_gold) == outcome.clickers_paused
    assert outcome.clickers_paused + len(outcome.clickers_unpaused_gold) == 2
    assert all(n >= TINY.min_gold_tasks for n in outcome.clicker_pause_gold)
    assert outcome.reliable_paused_share == outcome.reliable_paused / 6
    assert set(outcome.requirements) == {
        "weighted consensus more accurate than majority",
        "every clicker paused within its first 30 gold answers",
        "at most 2% of reliable experts paused",
    }
    assert all(isinstance(ok, bool) for ok in outcome.requirements.values())
    assert outcome.claims >= outcome.regular_answers + outcome.gold_answers
    assert outcome.as_dict()["config"]["experts"] == 8


def test_pause_rule_check_catches_clickers_and_spares_most_reliable_experts():
    check = pause_rule_check(TINY, horizon=30, experts=500)

    assert (check.reliable, check.clickers, check.horizon) == (500, 500, 30)
    assert check.clickers_paused > 450
    assert TINY.min_gold_tasks <= check.clicker_gold_median <= check.clicker_gold_max <= 30
    assert check.reliable_paused < 50
