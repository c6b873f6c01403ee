"""What the quality engine stores: each item's consensus and each project's latest figures."""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from marketplace.models import TimeStampedModel


class TaskConsensus(models.Model):
    """The consensus of one regular task's answers, as the last quality run saw them.

    ``answers`` holds the consensus value of every question (keys as the task type's
    ``questions``); ``confidence`` is the reliability-weighted model's posterior probability
    of the primary question's consensus; ``majority`` the plain majority vote of it and
    ``agreement`` the share of pairs of answers that agree on it.
    """

    task = models.OneToOneField(
        "projects.Task", on_delete=models.CASCADE, related_name="consensus", primary_key=True
    )
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="consensus_rows"
    )
    answers = models.JSONField(default=dict)
    majority = models.JSONField(null=True, blank=True)
    confidence = models.FloatField()
    agreement = models.FloatField(null=True, blank=True)
    annotations = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [models.Index(fields=["project", "confidence"])]

    def __str__(self) -> str:
        return f"consensus of task {self.task_id}"


class ProjectQuality(TimeStampedModel):
    """A project's quality figures from the last run, for the dashboards and the exports.

    ``figures`` is a JSON document (see ``projects.quality.services.project_quality_refresh``):
    agreement per question, gold accuracy and calibration per expert, the reliability
    diagram, behaviour signals and what adaptive overlap saved or added.
    """

    project = models.OneToOneField(
        "projects.Project", on_delete=models.CASCADE, related_name="quality"
    )
    figures = models.JSONField(default=dict)
    annotations = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"quality of {self.project}"
