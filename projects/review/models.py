"""Review decisions: every accept, rejection and request for revision, kept in order."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from marketplace.models import TimeStampedModel
from projects.states import ReviewDecision


class AnnotationReview(TimeStampedModel):
    """One decision on one annotation, by a lab member, an API key or the auto-accept rule.

    An annotation is accepted at most once (a partial unique constraint): the payments
    issue pays from this row, so a retried or raced accept cannot pay twice.
    """

    annotation = models.ForeignKey(
        "projects.Annotation", on_delete=models.CASCADE, related_name="reviews"
    )
    decision = models.CharField(max_length=8, choices=ReviewDecision.choices)
    feedback = models.TextField(blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="annotation_reviews",
    )
    api_key = models.ForeignKey(
        "marketplace.ApiKey",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="annotation_reviews",
    )
    is_automatic = models.BooleanField(default=False)

    class Meta:
        ordering: ClassVar = ["created_at", "id"]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(decision__in=ReviewDecision.values), name="review_decision_valid"
            ),
            models.UniqueConstraint(
                fields=["annotation"],
                condition=Q(decision="accept"),
                name="review_accept_once",
            ),
            models.UniqueConstraint(
                fields=["annotation"],
                condition=Q(decision="reject"),
                name="review_reject_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.annotation}"
