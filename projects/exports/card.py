"""The dataset card: a markdown description shipped with every export.

What was collected, how the rows are shaped, who answered (in credential terms only: counts
of experts by credential kind and specialty, never names), the guidelines, the quality
figures of the project's last quality run, the filters, and a usage line left to the lab.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from experts.states import CredentialKind
from projects.exports.provenance import ProvenanceContext
from projects.exports.rows import ExportPlan, ExportStats
from projects.models import Project
from projects.states import AnnotationStatus, ExportFormat, ExportShape

SHAPE_NOTES = {
    ExportShape.TRAINING: (
        "One row per annotation, in the row shape training code reads for this task type, "
        "with its provenance under `provenance`."
    ),
    ExportShape.RAW: (
        "One row per annotation: the task as imported (`task`), the expert's stored result "
        "(`result`) and its provenance."
    ),
    ExportShape.CONSENSUS: (
        "One row per regular item: the consensus the quality engine computed (reliability-"
        "weighted answers, the plain majority, the posterior confidence and the share of "
        "agreeing pairs), with the item's annotators as provenance."
    ),
}


def _text(value: str) -> str:
    """Lab-entered text on one line, with markdown's active characters escaped."""
    line = " ".join(str(value).split())
    for char in "\\`*_[]<>#|":
        line = line.replace(char, "\\" + char)
    return line


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _credential_lines(context: ProvenanceContext, experts: set[int]) -> list[str]:
    kinds: Counter[str] = Counter()
    specialties: Counter[str] = Counter()
    without = 0
    for expert_id in experts:
        credentials = context.credentials.get(expert_id, [])
        if not credentials:
            without += 1
        for kind in {credential["kind"] for credential in credentials}:
            kinds[kind] += 1
        for name in {n for credential in credentials for n in credential["specialties"]}:
            specialties[name] += 1
    lines = [f"{len(experts):,} expert{'s' if len(experts) != 1 else ''} answered the rows.", ""]
    if kinds:
        lines += ["| Verified credential | Experts |", "|---|---:|"]
        labels = dict(CredentialKind.choices)
        lines += [
            f"| {labels.get(kind, kind)} | {count:,} |" for kind, count in sorted(kinds.items())
        ]
        lines.append("")
    if specialties:
        lines += ["| Field or specialty of a verified credential | Experts |", "|---|---:|"]
        lines += [
            f"| {_text(name)} | {count:,} |"
            for name, count in sorted(specialties.items(), key=lambda item: (-item[1], item[0]))
        ]
        lines.append("")
    if without:
        lines += [f"{without:,} of them hold no verified credential on file now.", ""]
    return lines


def _quality_lines(figures: dict[str, Any]) -> list[str]:
    if not figures or not figures.get("computed_at"):
        return ["The project's quality figures have not been computed yet.", ""]
    lines = [
        f"From the quality run of {figures.get('computed_at')}, over "
        f"{_number(figures.get('annotations', 0))} annotations of "
        f"{_number(figures.get('items', 0))} items.",
        "",
    ]
    questions = figures.get("questions") or []
    if questions:
        lines += [
            "| Question | Level | Krippendorff's alpha | Pairwise agreement | Items |",
            "|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| {_text(question.get('label') or question.get('key', ''))} | "
            f"{question.get('kind', '')} | {_number(question.get('alpha'))} | "
            f"{_number(question.get('pairwise'))} | {_number(question.get('items', 0))} |"
            for question in questions
        ]
        lines.append("")
    experts = figures.get("experts") or []
    accuracies = [e["gold_accuracy"] for e in experts if e.get("gold_accuracy") is not None]
    if accuracies:
        mean = sum(accuracies) / len(accuracies)
        lines.append(
            f"- Gold accuracy: mean {mean:.3f} over {len(accuracies):,} experts "
            f"(lowest {min(accuracies):.3f}, highest {max(accuracies):.3f})."
        )
    calibration = figures.get("calibration") or {}
    if calibration.get("n"):
        lines.append(
            f"- Calibration of stated confidence on {calibration['n']:,} gold answers: "
            f"Brier score {_number(calibration.get('brier'))}, expected calibration error "
            f"{_number(calibration.get('ece'))}."
        )
    consensus = figures.get("consensus") or {}
    if consensus.get("items"):
        lines.append(
            f"- Consensus: {consensus['items']:,} items, {consensus.get('confident', 0):,} "
            f"settled confidently, mean posterior confidence "
            f"{_number(consensus.get('mean_confidence'))}; the reliability-weighted answer "
            f"differs from the plain majority on {consensus.get('majority_differs', 0):,}."
        )
    flags = figures.get("flags") or {}
    if any(flags.values()):
        lines.append(
            f"- Behaviour signals: {flags.get('fast', 0):,} much faster than the median, "
            f"{flags.get('repeat', 0):,} same answer many times in a row, "
            f"{flags.get('pasted', 0):,} written answers mostly pasted in."
        )
    lines.append("")
    return lines


def dataset_card(
    *,
    project: Project,
    plan: ExportPlan,
    format: str,
    stats: ExportStats,
    context: ProvenanceContext | None,
    figures: dict[str, Any],
    items: int,
    created_at: str,
    sha256: str,
    size: int,
) -> str:
    """The card of one finished export, in markdown."""
    task_type = plan.task_type
    filters = plan.filters
    lines = [
        f"# {_text(project.title)}",
        "",
        f"{ExportShape(plan.shape).label} from {_text(project.organization.name)}, as "
        f"{ExportFormat(format).label}. Export `{plan.export_public_id}` of project "
        f"`{project.public_id}`, created {created_at}.",
        "",
        "## What was collected",
        "",
        f"**{task_type.label}.** {task_type.description}",
        "",
        SHAPE_NOTES[ExportShape(plan.shape)],
        "",
        f"- Rows: {stats.rows:,}",
        f"- Items: {items:,}",
        f"- Domain: {_text(str(project.domain))}",
    ]
    statuses = dict(AnnotationStatus.choices)
    if stats.by_status:
        counted = ", ".join(
            f"{statuses.get(status, status).lower()} {count:,}"
            for status, count in sorted(stats.by_status.items())
        )
        lines.append(f"- Annotations by review status: {counted}")
    if plan.shape != ExportShape.CONSENSUS:
        lines.append(f"- Rows on gold items (known answers): {stats.gold_rows:,}")
    if plan.is_pairwise:
        lines.append(
            f'- Ties ("about the same"): {stats.ties:,}. Their `chosen` and `rejected` are '
            "null; drop them (or export with *exclude ties*) before DPO training."
        )
    lines += ["", "## Who annotated", ""]
    if context is not None:
        lines += _credential_lines(context, stats.experts)
    lines += [
        "Experts appear under pseudonyms (`ex_…`) that are stable across this lab's exports "
        "and mean nothing elsewhere; reviewers under `lm_…`, automatic acceptance as `auto`.",
        "",
        "## Guidelines",
        "",
        f"The project's guidelines are at version {project.guidelines_version}.",
    ]
    if stats.guidelines_versions:
        versions = ", ".join(
            f"v{version}: {count:,}" for version, count in sorted(stats.guidelines_versions.items())
        )
        lines.append(f"Annotations by the version they were made under: {versions}.")
    lines += ["", "## Quality", ""]
    lines += _quality_lines(figures)
    lines += [
        "## Filters",
        "",
        f"- Accepted annotations only: {'yes' if filters.accepted_only else 'no'}",
        f"- Gold items left out: {'yes' if filters.exclude_gold else 'no'}",
        "- Minimum item agreement: "
        + (f"{filters.min_agreement:.2f}" if filters.min_agreement is not None else "none"),
    ]
    if plan.is_pairwise:
        lines.append(f"- Ties left out: {'yes' if filters.exclude_ties else 'no'}")
    lines += [
        "",
        "## Provenance of each row",
        "",
        "Every row carries `provenance`: the expert's pseudonym and verified credentials "
        "(kind, specialties, date verified), the guidelines version, stated confidence, "
        "active seconds, AI-assistance signals (pastes, pasted characters, focus losses, the "
        "expert's disclosure), behaviour flags, review decisions and reviewer, edit count, "
        "the expert's gold accuracy and quality score at export time, the item's agreement, "
        "and the project, export, item and annotation ids.",
        "",
        "## File",
        "",
        f"- Size: {size:,} bytes",
        f"- SHA-256: `{sha256}`",
        "",
        "## License and intended use",
        "",
        "_To be completed by the lab._",
        "",
    ]
    return "\n".join(lines)
