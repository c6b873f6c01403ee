"""Lab API: a project's quality figures (the Quality tab's numbers) and recomputing them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from projects.api import FORBIDDEN, NOT_FOUND, LabApiView, project_and_actor
from projects.exports.provenance import lab_pseudonym
from projects.models import Project
from projects.quality.models import ProjectQuality
from projects.quality.services import project_quality_recompute


def quality_data(project: Project, quality: ProjectQuality | None) -> dict[str, Any]:
    """The figures as a lab may read them: experts under the lab's pseudonyms only."""
    if quality is None:
        return {"computed_at": None, "figures": None}
    figures = dict(quality.figures)
    figures["experts"] = [
        {
            "expert": lab_pseudonym(project.organization_id, row["expert_id"]),
            **{key: value for key, value in row.items() if key != "expert_id"},
        }
        for row in figures.get("experts", [])
    ]
    return {"computed_at": quality.computed_at, "seconds": quality.seconds, "figures": figures}


class ProjectQualityView(LabApiView):
    @extend_schema(
        summary="A project's quality figures",
        description=(
            "From the last quality run (it runs about a minute after new answers): "
            "Krippendorff's alpha and pairwise agreement per question, the consensus "
            "(reliability-weighted Dawid-Skene vs majority vote), calibration on gold "
            "(Brier, ECE, reliability bins), the experts' gold accuracy distribution, "
            "per-expert figures under the lab's pseudonyms, behaviour signals and what "
            "adaptive overlap asked or saved. `figures` is null before the first run."
        ),
        responses={200: OpenApiTypes.OBJECT, 404: NOT_FOUND},
    )
    def get(self, request: Request, project_id: UUID) -> Response:
        project, _ = project_and_actor(request, project_id)
        quality = ProjectQuality.objects.filter(project=project).first()
        return Response(quality_data(project, quality))

    @extend_schema(
        summary="Recompute a project's quality figures now",
        description=(
            "Runs the quality engine at once (owners, managers and API keys); on a project "
            "with more than 20,000 answers the run is queued and the answer is 202 with the "
            "figures of the last run."
        ),
        request=None,
        responses={
            200: OpenApiTypes.OBJECT,
            202: OpenApiTypes.OBJECT,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, project_id: UUID) -> Response:
        project, actor = project_and_actor(request, project_id)
        actor.require_manager("recompute quality figures")
        quality = project_quality_recompute(project=project)
        if quality is None:  # a big project: the worker runs it
            current = ProjectQuality.objects.filter(project=project).first()
            return Response(quality_data(project, current), status=status.HTTP_202_ACCEPTED)
        return Response(quality_data(project, quality))
