"""An expert's hold on one task: the lease, the draft kept while they work, and the page's
signals (active time, pastes, focus changes) until the answer is handed in."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.models import TimeStampedModel
from projects.states import AssignmentStatus, SkipReason


class Assignment(TimeStampedModel):
    """One expert's turn at one task, from the claim to the submission or skip.

    There is one row per (task, expert): it is also the record that the expert has seen the
    task, so dispatch never offers it to them again. ``holds_slot`` says whether the row
    counts in the task's ``reserved_count`` (a live lease or the annotation it became, never
    a gold task): every change to it changes the counter in the same transaction.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, related_name="assignments")
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="assignments"
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(
        max_length=12, choices=AssignmentStatus.choices, default=AssignmentStatus.LEASED
    )
    holds_slot = models.BooleanField(default=False)
    leased_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # The unsent answer as the form holds it (field name → values), saved every few seconds.
    draft = models.JSONField(null=True, blank=True)
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    active_seconds = models.PositiveIntegerField(default=0)
    paste_count = models.PositiveIntegerField(default=0)
    pasted_chars = models.PositiveIntegerField(default=0)
    focus_loss_count = models.PositiveIntegerField(default=0)
    skip_reason = models.CharField(max_length=20, choices=SkipReason.choices, blank=True)
    skip_note = models.CharField(max_length=500, blank=True)
    annotation = models.OneToOneField(
        "projects.Annotation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assignment",
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["leased_at", "id"]
        indexes: ClassVar = [
            models.Index(
                fields=["expert", "project", "leased_at"],
                condition=Q(status="leased"),
                name="assignment_live_by_expert",
            ),
            models.Index(
                fields=["project", "expires_at"],
                condition=Q(status="leased"),
                name="assignment_live_by_expiry",
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(status="leased"),
                name="assignment_live_expiry",
            ),
            models.Index(
                fields=["expert", "project", "-draft_saved_at"],
                condition=Q(status="expired", draft__isnull=False),
                name="assignment_kept_drafts",
            ),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["task", "expert"], name="assignment_once_per_expert"),
            models.CheckConstraint(
                condition=Q(status__in=AssignmentStatus.values), name="assignment_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(skip_reason="") | Q(skip_reason__in=SkipReason.values),
                name="assignment_skip_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.expert} on {self.task} ({self.status})"
