"""Matching records: runs, invitations to seats, project members, lab exclusions, and the
per-domain track record the fit score reads."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from experts.models import Domain
from marketplace.models import Organization, TimeStampedModel
from projects.states import (
    DeclineReason,
    InvitationSource,
    InvitationStatus,
    MemberStatus,
    RunStatus,
    RunTrigger,
)


class MatchingRun(TimeStampedModel):
    """One global assignment run: what it read, what it decided, how long it took."""

    trigger = models.CharField(max_length=24, choices=RunTrigger.choices)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    invitations_expired = models.PositiveIntegerField(default=0)
    projects_considered = models.PositiveIntegerField(default=0)
    open_seats = models.PositiveIntegerField(default=0)
    experts_considered = models.PositiveIntegerField(default=0)
    candidate_pairs = models.PositiveBigIntegerField(default=0)
    invitations_created = models.PositiveIntegerField(default=0)
    # Sum over the invitations made of fit minus the fairness penalty (the solver's objective).
    objective = models.FloatField(default=0)
    total_fit = models.FloatField(default=0)
    read_seconds = models.FloatField(default=0)
    solve_seconds = models.FloatField(default=0)
    write_seconds = models.FloatField(default=0)
    total_seconds = models.FloatField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering: ClassVar = ["-started_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=RunStatus.values), name="matching_run_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"Matching run {self.pk} ({self.status})"


class MatchingLock(models.Model):
    """A single row that a run holds locked while it runs, so runs never overlap."""

    name = models.CharField(max_length=32, unique=True)

    def __str__(self) -> str:
        return self.name


class ProjectInvitation(TimeStampedModel):
    """A seat on a project offered to one expert, with the score breakdown that explains it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="invitations"
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_invitations"
    )
    run = models.ForeignKey(
        MatchingRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="invitations"
    )
    source = models.CharField(max_length=12, choices=InvitationSource.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    status = models.CharField(
        max_length=12, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    score = models.FloatField()
    # {component name: value in [0, 1]} as the fit score saw them; weights in scoring.py.
    components = models.JSONField(default=dict)
    weekly_hours = models.PositiveSmallIntegerField()
    estimated_hours = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=20, choices=DeclineReason.choices, blank=True)
    decline_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(status__in=InvitationStatus.values),
                name="project_invitation_status_valid",
            ),
            # Re-runs never offer the same expert a second open seat on one project.
            models.UniqueConstraint(
                fields=["project", "expert"],
                condition=Q(status__in=["pending", "accepted"]),
                name="project_invitation_one_open",
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["expert", "status"]),
            models.Index(fields=["project", "status"]),
            models.Index(fields=["status", "expires_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.expert} → {self.project} ({self.status})"


class ProjectMember(TimeStampedModel):
    """An expert who accepted a seat: the workspace gives tasks to active members only."""

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="members"
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    invitation = models.OneToOneField(
        ProjectInvitation, on_delete=models.PROTECT, related_name="member"
    )
    status = models.CharField(
        max_length=12, choices=MemberStatus.choices, default=MemberStatus.ACTIVE
    )
    status_reason = models.CharField(max_length=300, blank=True)
    # The quality pause: when it happened, and when staff lifted it. After a lift the rule
    # judges only gold answers given since, so a lifted pause is not undone at once.
    paused_at = models.DateTimeField(null=True, blank=True)
    quality_paused = models.BooleanField(default=False)
    pause_lifted_at = models.DateTimeField(null=True, blank=True)
    pause_lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering: ClassVar = ["created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["project", "expert"], name="project_member_once"),
            models.CheckConstraint(
                condition=Q(status__in=MemberStatus.values), name="project_member_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.expert} on {self.project} ({self.status})"


class LabExclusion(TimeStampedModel):
    """An expert a lab does not want on any of its projects."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="expert_exclusions"
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lab_exclusions"
    )
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering: ClassVar = ["-created_at"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organization", "expert"], name="lab_exclusion_once")
        ]

    def __str__(self) -> str:
        return f"{self.organization} excludes {self.expert}"


class ExpertDomainRecord(TimeStampedModel):
    """An expert's track record in a domain: annotations, gold results and quality score.

    The quality engine keeps it up to date; matching reads it (with a neutral prior for
    newcomers, so a short record neither sinks nor lifts anyone).
    """

    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="domain_records"
    )
    domain = models.ForeignKey(Domain, on_delete=models.PROTECT, related_name="expert_records")
    annotations = models.PositiveIntegerField(default=0)
    gold_scored = models.PositiveIntegerField(default=0)
    # Sum of gold scores (each 0–1) over ``gold_scored`` gold tasks.
    gold_score_sum = models.FloatField(default=0)
    quality_score = models.FloatField(null=True, blank=True)
    # The parts of the quality score, each a posterior mean in [0, 1] with its evidence:
    # {"gold": {"value": .., "n": ..}, "agreement": .., "reviews": .., "calibration": ..,
    #  "behaviour": ..}; see projects.quality.scoring.
    components = models.JSONField(default=dict, blank=True)
    brier = models.FloatField(null=True, blank=True)
    ece = models.FloatField(null=True, blank=True)
    quality_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["expert", "domain"], name="expert_domain_record_once")
        ]

    def __str__(self) -> str:
        return f"{self.expert} in {self.domain}"
