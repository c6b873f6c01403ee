"""Where every exported row comes from: who answered (by pseudonym and credentials), under
which guidelines, how, how it was reviewed, and how reliable that expert is.

Pseudonyms are stable per lab and meaningless elsewhere: an HMAC of the organisation and
the person under ``SECRET_KEY``. Two exports of one lab name the same expert the same way,
so rows can be grouped by expert across exports; two labs cannot join their exports on it.

The context is loaded once per export (expert figures) and per chunk of rows (credentials
of experts not seen yet, review decisions of the chunk), so the queries an export runs do
not grow with its rows.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count

from experts.models import Credential
from experts.states import CredentialStatus
from projects.models import Annotation, AnnotationReview, ExpertDomainRecord, Project

EXPERT_PREFIX = "ex_"
MEMBER_PREFIX = "lm_"
AUTOMATIC_REVIEWER = "auto"
API_KEY_REVIEWER = "api_key"


def _digest(*parts: object) -> str:
    message = ":".join(str(part) for part in parts).encode()
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:12]


def lab_pseudonym(organization_id: int, expert_id: int) -> str:
    """The expert as one lab sees them: ``ex_`` and 12 hex digits, stable for that lab."""
    return EXPERT_PREFIX + _digest("expert", organization_id, expert_id)


def member_pseudonym(organization_id: int, user_id: int) -> str:
    """A lab member who reviewed (``lm_`` and 12 hex digits): datasets carry no staff names."""
    return MEMBER_PREFIX + _digest("member", organization_id, user_id)


# Field layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field of an export row, so CSV and Parquet can lay rows out before the first one.

    ``kind``: string, int, float, bool, json (any JSON value), strings (list of text), ints,
    struct (a mapping of ``children``; CSV flattens it to dotted columns), records (a list of
    mappings of ``children``).
    """

    name: str
    kind: str
    children: tuple[Field, ...] = ()


REVIEW_FIELDS = (
    Field("decision", "string"),
    Field("reviewer", "string"),
    Field("reviewed_at", "string"),
)
CREDENTIAL_FIELDS = (
    Field("kind", "string"),
    Field("specialties", "strings"),
    Field("verified_on", "string"),
)
AI_FIELDS = (
    Field("paste_count", "int"),
    Field("pasted_chars", "int"),
    Field("focus_loss_count", "int"),
    Field("ai_used", "bool"),
    Field("ai_disclosure", "string"),
)

# The provenance of a row that is one annotation (training and raw shapes).
ANNOTATION_PROVENANCE = Field(
    "provenance",
    "struct",
    (
        Field("project_id", "string"),
        Field("export_id", "string"),
        Field("annotation_id", "string"),
        Field("external_id", "string"),
        Field("is_gold", "bool"),
        Field("status", "string"),
        Field("expert", "string"),
        Field("credentials", "records", CREDENTIAL_FIELDS),
        Field("guidelines_version", "int"),
        Field("confidence", "int"),
        Field("active_seconds", "int"),
        Field("ai", "struct", AI_FIELDS),
        Field("behaviour_flags", "strings"),
        Field("edit_count", "int"),
        Field("is_edge_case", "bool"),
        Field("review", "struct", REVIEW_FIELDS),
        Field("reviews", "records", REVIEW_FIELDS),
        Field("gold_score", "float"),
        Field("answer_agreement", "float"),
        Field("item_agreement", "float"),
        Field("gold_accuracy", "float"),
        Field("gold_tasks", "int"),
        Field("quality_score", "float"),
        Field("submitted_at", "string"),
    ),
)

ANNOTATOR_FIELDS = (
    Field("expert", "string"),
    Field("annotation_id", "string"),
    Field("status", "string"),
    Field("confidence", "int"),
    Field("guidelines_version", "int"),
    Field("gold_accuracy", "float"),
    Field("quality_score", "float"),
    Field("credentials", "records", CREDENTIAL_FIELDS),
)

# The provenance of a row that is one item's consensus.
CONSENSUS_PROVENANCE = Field(
    "provenance",
    "struct",
    (
        Field("project_id", "string"),
        Field("export_id", "string"),
        Field("external_id", "string"),
        Field("is_gold", "bool"),
        Field("item_agreement", "float"),
        Field("consensus_confidence", "float"),
        Field("annotation_count", "int"),
        Field("guidelines_versions", "ints"),
        Field("annotators", "records", ANNOTATOR_FIELDS),
    ),
)


# Context --------------------------------------------------------------------------------


def _day(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return None


@dataclass
class ExpertFigures:
    gold_accuracy: float | None = None
    gold_tasks: int = 0
    quality_score: float | None = None


@dataclass
class ProvenanceContext:
    """What provenance needs beyond a row's own columns: each expert's pseudonym,
    credentials and figures, loaded the first time a chunk names the expert."""

    organization_id: int
    project_pk: int
    domain_id: int
    project_public_id: str
    export_public_id: str
    figures: dict[int, ExpertFigures] = field(default_factory=dict)
    credentials: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    _pseudonyms: dict[int, str] = field(default_factory=dict)
    _members: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, *, project: Project, export_public_id: str) -> ProvenanceContext:
        """An empty context; experts are loaded as chunks name them (``experts_of``)."""
        return cls(
            organization_id=project.organization_id,
            project_pk=project.pk,
            domain_id=project.domain_id,
            project_public_id=str(project.public_id),
            export_public_id=export_public_id,
        )

    def load_figures(self, expert_ids: set[int]) -> None:
        """Gold accuracy (the mean score of the expert's graded gold answers in this project,
        now) and quality score (the expert's record in the project's domain) of these
        experts (two queries)."""
        for expert_id in expert_ids:
            self.figures[expert_id] = ExpertFigures()
        gold = (
            Annotation.objects.filter(
                project_id=self.project_pk, expert_id__in=expert_ids, gold_score__isnull=False
            )
            .order_by()
            .values("expert_id")
            .annotate(accuracy=Avg("gold_score"), n=Count("id"))
            .values_list("expert_id", "accuracy", "n")
        )
        for expert_id, accuracy, n in gold:
            figures = self.figures[expert_id]
            figures.gold_accuracy = round(accuracy, 4) if accuracy is not None else None
            figures.gold_tasks = n
        records = ExpertDomainRecord.objects.filter(
            domain_id=self.domain_id, expert_id__in=expert_ids
        ).values_list("expert_id", "quality_score")
        for expert_id, score in records:
            self.figures[expert_id].quality_score = round(score, 4) if score is not None else None

    def expert(self, expert_id: int) -> str:
        name = self._pseudonyms.get(expert_id)
        if name is None:
            name = self._pseudonyms[expert_id] = lab_pseudonym(self.organization_id, expert_id)
        return name

    def member(self, user_id: int) -> str:
        name = self._members.get(user_id)
        if name is None:
            name = self._members[user_id] = member_pseudonym(self.organization_id, user_id)
        return name

    def experts_of(
        self, expert_ids: Iterable[int]
    ) -> dict[int, tuple[str, list[dict[str, Any]], float | None, int, float | None]]:
        """Per expert: pseudonym, credentials, gold accuracy, gold tasks, quality score
        (loads experts not seen yet: three queries, or none)."""
        expert_ids = set(expert_ids)
        missing = expert_ids - self.figures.keys()
        if missing:
            self.load_credentials(missing)
            self.load_figures(missing)
        found = {}
        for expert_id in expert_ids:
            figures = self.figures_of(expert_id)
            found[expert_id] = (
                self.expert(expert_id),
                self.credentials.get(expert_id, []),
                figures.gold_accuracy,
                figures.gold_tasks,
                figures.quality_score,
            )
        return found

    def figures_of(self, expert_id: int) -> ExpertFigures:
        return self.figures.get(expert_id) or ExpertFigures()

    def load_credentials(self, expert_ids: Iterable[int]) -> None:
        """Read the verified credentials of experts not seen yet (one query, or none)."""
        missing = {expert_id for expert_id in expert_ids if expert_id not in self.credentials}
        if not missing:
            return
        for expert_id in missing:
            self.credentials[expert_id] = []
        rows = (
            Credential.objects.filter(expert_id__in=missing, status=CredentialStatus.VERIFIED)
            .order_by("expert_id", "verified_at", "id", "domains__name")
            .values_list("expert_id", "id", "kind", "verified_at", "domains__name")
        )
        by_credential: dict[int, dict[str, Any]] = {}
        for expert_id, credential_id, kind, verified_at, domain_name in rows:
            summary = by_credential.get(credential_id)
            if summary is None:
                summary = by_credential[credential_id] = {
                    "kind": kind,
                    "specialties": [],
                    "verified_on": _day(verified_at),
                }
                self.credentials[expert_id].append(summary)
            if domain_name and domain_name not in summary["specialties"]:
                summary["specialties"].append(domain_name)

    def reviews_for(self, annotation_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Every review decision of these annotations (ids ascending, all of the context's
        project), oldest first: one query over the id range, so no long list of ids is
        sent; decisions on annotations of the range that are not in the list are dropped."""
        decisions: dict[int, list[dict[str, Any]]] = {}
        if not annotation_ids:
            return decisions
        wanted = set(annotation_ids)
        rows = (
            AnnotationReview.objects.filter(
                annotation_id__gte=annotation_ids[0],
                annotation_id__lte=annotation_ids[-1],
                annotation__project_id=self.project_pk,
            )
            .order_by("annotation_id", "created_at", "id")
            .values_list(
                "annotation_id", "decision", "reviewer_id", "api_key_id", "is_automatic",
                "created_at",
            )
        )  # fmt: skip
        for annotation_id, decision, reviewer_id, api_key_id, automatic, created_at in rows:
            if annotation_id not in wanted:
                continue
            if automatic:
                reviewer = AUTOMATIC_REVIEWER
            elif reviewer_id is not None:
                reviewer = self.member(reviewer_id)
            elif api_key_id is not None:
                reviewer = API_KEY_REVIEWER
            else:
                reviewer = None
            decisions.setdefault(annotation_id, []).append(
                {
                    "decision": decision,
                    "reviewer": reviewer,
                    "reviewed_at": created_at.isoformat() if created_at else None,
                }
            )
        return decisions
