"""Dataset exports: row shapes of every task type, provenance, filters, the three formats
(empty and odd-Unicode files too), background runs with manifest and card, streamed
downloads, signed links and expiry."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from django.utils import timezone

from marketplace.errors import Conflict, InvalidInput, NotFound
from projects.access import LabActor
from projects.exports import services
from projects.exports.models import DatasetExport
from projects.exports.provenance import lab_pseudonym, member_pseudonym
from projects.exports.rows import columns_for, field_names
from projects.exports.tasks import run_dataset_export
from projects.models import (
    Annotation,
    ExpertDomainRecord,
    Project,
    ProjectQuality,
    Task,
    TaskConsensus,
)
from projects.review import services as review
from projects.states import AnnotationStatus, ExportStatus
from projects.task_types import task_type_for
from tests.projects import factories as project_factories
from tests.projects.workspace_factories import submit_next, workspace

pytestmark = pytest.mark.django_db

ODD = (
    "Emoji 🧪👩🏽‍⚕️, RTL עִבְרִית and العربية, combining e\u0301 a\u0308, "
    "a bell\x07 and tab\t, line\u2028separator, paragraph\u2029separator, next\x85line, "
    "quotes \"double\" and 'single', comma, semicolon; CRLF\r\nend"
)


def streamed(actor: LabActor, project: Project, **options: Any) -> tuple[bytes, DatasetExport]:
    filters = options.pop("filters", {})
    result = services.export_stream(
        actor=actor,
        project=project,
        format=options.pop("format", "jsonl"),
        shape=options.pop("shape", "training"),
        filters=filters,
    )
    content = b"".join(result.content)
    return content, DatasetExport.objects.get(pk=result.export.pk)


def jsonl_rows(content: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in content.split(b"\n") if line]


def export_rows(actor: LabActor, project: Project, **options: Any) -> list[dict[str, Any]]:
    return jsonl_rows(streamed(actor, project, **options)[0])


# Row shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "task_type",
    ["pairwise", "rubric", "demonstration", "critique", "safety", "classification"],
)
def test_training_rows_are_the_task_types_export_row_with_provenance(task_type):
    actor, project, experts = workspace(task_type=task_type, task_count=1)
    annotation = submit_next(experts[0], project)
    kind = task_type_for(task_type)
    task = annotation.task

    (row,) = export_rows(actor, project)

    provenance = row.pop("provenance")
    settings = kind.settings_with_defaults(project.task_settings)
    assert row == kind.export_row(task.data, annotation.result, settings)
    assert provenance["annotation_id"] == str(annotation.public_id)
    assert provenance["external_id"] == task.external_id


def test_each_task_type_exports_the_fields_training_code_reads():
    shapes = {}
    for task_type in ("pairwise", "rubric", "demonstration", "critique", "safety"):
        actor, project, experts = workspace(task_type=task_type, task_count=1)
        submit_next(experts[0], project)
        shapes[task_type] = (export_rows(actor, project)[0], Task.objects.get(project=project))
    (pairwise, task) = shapes["pairwise"]
    assert (pairwise["prompt"], pairwise["chosen"], pairwise["rejected"]) == (
        task.data["prompt"],
        task.data["response_a"],  # the example: "a_much_better"
        task.data["response_b"],
    )
    assert (pairwise["preference"], pairwise["margin"]) == ("a_much_better", 2)
    rubric, _ = shapes["rubric"]
    assert rubric["scores"] == {"accuracy": 5, "completeness": 4, "clarity": 5}
    assert rubric["overall"] == 5
    demonstration, task = shapes["demonstration"]
    assert demonstration["messages"] == [
        {"role": "user", "content": task.data["prompt"]},
        {"role": "assistant", "content": demonstration["completion"]},
    ]
    critique, task = shapes["critique"]
    assert critique["rejected"] == task.data["response"]
    assert critique["chosen"] == critique["corrected_response"] != task.data["response"]
    assert critique["max_severity"] == "critical"
    safety, _ = shapes["safety"]
    assert (safety["mode"], safety["severity"], safety["harm_categories"]) == (
        "evaluation",
        "none",
        [],
    )


def test_classification_rows_carry_the_label_and_label_set():
    actor, project, experts = workspace(task_type="classification", task_count=1)
    submit_next(experts[0], project)

    (row,) = export_rows(actor, project)

    assert (row["label"], row["labels"]) == ("neutral", ["neutral"])
    assert "neutral" in row["label_set"]


def test_pairwise_rows_are_dpo_rows_with_the_preference_strength():
    actor, project, experts = workspace(experts=3, task_count=1, overlap=3)
    much = submit_next(experts[0], project, preference="a_much_better")
    tie = submit_next(experts[1], project, preference="tie")
    slight = submit_next(experts[2], project, preference="b_better")
    data = much.task.data

    rows = {row["provenance"]["annotation_id"]: row for row in export_rows(actor, project)}

    assert {key: rows[str(much.public_id)][key] for key in ("chosen", "rejected", "margin")} == {
        "chosen": data["response_a"],
        "rejected": data["response_b"],
        "margin": 2,
    }
    assert (rows[str(tie.public_id)]["chosen"], rows[str(tie.public_id)]["rejected"]) == (
        None,
        None,
    )
    assert rows[str(tie.public_id)]["margin"] == 0
    assert rows[str(slight.public_id)]["chosen"] == data["response_b"]
    without_ties = export_rows(actor, project, filters={"exclude_ties": True})
    assert {row["provenance"]["annotation_id"] for row in without_ties} == {
        str(much.public_id),
        str(slight.public_id),
    }


def test_raw_rows_hold_the_task_and_the_stored_result():
    actor, project, experts = workspace(task_count=1)
    annotation = submit_next(experts[0], project, rationale="Raw rationale")

    (row,) = export_rows(actor, project, shape="raw")

    assert row["task"] == annotation.task.data
    assert row["result"] == annotation.result
    assert row["result"]["rationale"] == "Raw rationale"
    assert (row["external_id"], row["annotation_id"], row["status"]) == (
        annotation.task.external_id,
        str(annotation.public_id),
        AnnotationStatus.SUBMITTED,
    )


def test_consensus_rows_are_one_per_item_with_the_consensus_preference():
    actor, project, experts = workspace(experts=2, task_count=2, overlap=2)
    first = submit_next(experts[0], project, preference="a_better")
    second = submit_next(experts[1], project, preference="a_much_better")
    other = submit_next(experts[0], project, preference="tie")
    TaskConsensus.objects.create(
        task=first.task,
        project=project,
        answers={"preference": -1.6},
        majority=-1,
        confidence=0.93,
        agreement=0.5,
        annotations=2,
    )
    assert second.task_id == first.task_id != other.task_id

    rows = {row["external_id"]: row for row in export_rows(actor, project, shape="consensus")}

    settled = rows[first.task.external_id]
    assert {key: settled[key] for key in ("chosen", "rejected", "preference", "margin")} == {
        "chosen": first.task.data["response_a"],
        "rejected": first.task.data["response_b"],
        "preference": "a_much_better",
        "margin": 2,
    }
    assert (settled["confidence"], settled["agreement"], settled["annotation_count"]) == (
        0.93,
        0.5,
        2,
    )
    assert settled["data"] == first.task.data
    annotators = settled["provenance"]["annotators"]
    assert {a["annotation_id"] for a in annotators} == {str(first.public_id), str(second.public_id)}
    assert {a["expert"] for a in annotators} == {
        lab_pseudonym(project.organization_id, experts[0].pk),
        lab_pseudonym(project.organization_id, experts[1].pk),
    }
    unsettled = rows[other.task.external_id]
    assert (unsettled["answers"], unsettled["chosen"], unsettled["margin"]) == (None, None, None)
    assert unsettled["annotation_count"] == 1


# Provenance -------------------------------------------------------------------------------


def test_every_row_carries_its_provenance():
    actor, project, experts = workspace(experts=2, task_count=2, overlap=2)
    expert = experts[0]
    annotation = submit_next(expert, project, confidence=72)
    Annotation.objects.filter(pk=annotation.pk).update(
        time_spent_seconds=95,
        paste_count=2,
        pasted_chars=340,
        focus_loss_count=3,
        ai_used=False,
        ai_disclosure="None used.",
        edit_count=4,
        behaviour_flags=["fast"],
        consensus_agreement=1.0,
    )
    review.annotation_accept(actor=actor, annotation=annotation)
    gold = Task.objects.exclude(pk=annotation.task_id).get(project=project)
    graded = submit_next(expert, project)
    assert graded.task_id == gold.pk
    Task.objects.filter(pk=gold.pk).update(is_gold=True)
    Annotation.objects.filter(pk=graded.pk).update(gold_score=0.5)
    ExpertDomainRecord.objects.create(expert=expert, domain=project.domain, quality_score=0.8123456)
    TaskConsensus.objects.create(
        task=annotation.task, project=project, answers={}, confidence=0.9, agreement=0.75
    )
    credential = expert.credentials.get()

    content, export = streamed(actor, project)

    rows = {row["provenance"]["annotation_id"]: row for row in jsonl_rows(content)}
    provenance = rows[str(annotation.public_id)]["provenance"]
    annotation.refresh_from_db()
    assert provenance == {
        "project_id": str(project.public_id),
        "export_id": str(export.public_id),
        "annotation_id": str(annotation.public_id),
        "external_id": annotation.task.external_id,
        "is_gold": False,
        "status": "accepted",
        "expert": lab_pseudonym(project.organization_id, expert.pk),
        "credentials": [
            {
                "kind": "degree",
                "specialties": ["Medicine"],
                "verified_on": credential.verified_at.date().isoformat(),
            }
        ],
        "guidelines_version": project.guidelines_version,
        "confidence": 72,
        "active_seconds": 95,
        "ai": {
            "paste_count": 2,
            "pasted_chars": 340,
            "focus_loss_count": 3,
            "ai_used": False,
            "ai_disclosure": "None used.",
        },
        "behaviour_flags": ["fast"],
        "edit_count": 4,
        "is_edge_case": False,
        "review": {
            "decision": "accept",
            "reviewer": member_pseudonym(project.organization_id, actor.user.pk),
            "reviewed_at": annotation.reviews.get().created_at.isoformat(),
        },
        "reviews": [
            {
                "decision": "accept",
                "reviewer": member_pseudonym(project.organization_id, actor.user.pk),
                "reviewed_at": annotation.reviews.get().created_at.isoformat(),
            }
        ],
        "gold_score": None,
        "answer_agreement": 1.0,
        "item_agreement": 0.75,
        "gold_accuracy": 0.5,
        "gold_tasks": 1,
        "quality_score": 0.8123,
        "submitted_at": annotation.submitted_at.isoformat(),
    }
    on_gold = rows[str(graded.public_id)]["provenance"]
    assert (on_gold["is_gold"], on_gold["gold_score"], on_gold["review"]) == (True, 0.5, None)
    assert export.manifest["counts"]["gold_rows"] == 1


def test_pseudonyms_are_stable_within_a_lab_and_differ_between_labs():
    first = lab_pseudonym(1, 42)
    assert first == lab_pseudonym(1, 42)
    assert first.startswith("ex_")
    assert len(first) == 15
    assert first != lab_pseudonym(2, 42)
    assert first != lab_pseudonym(1, 43)
    assert member_pseudonym(1, 42) != first


def test_rows_name_no_expert_and_no_reviewer():
    actor, project, experts = workspace(task_count=1)
    annotation = submit_next(experts[0], project)
    review.annotation_accept(actor=actor, annotation=annotation)

    content, export = streamed(actor, project)

    text = content.decode() + export.dataset_card + orjson.dumps(export.manifest).decode()
    for person in (experts[0], actor.user):
        assert person.email not in text
        assert person.get_full_name() not in text if person.get_full_name() else True


# Filters ----------------------------------------------------------------------------------


def test_filters_keep_accepted_regular_items_above_the_agreement():
    actor, project, experts = workspace(experts=2, task_count=3, overlap=2)
    accepted = submit_next(experts[0], project)
    waiting = submit_next(experts[1], project)
    on_gold = submit_next(experts[0], project)
    review.annotation_accept(actor=actor, annotation=accepted)
    review.annotation_accept(actor=actor, annotation=on_gold)
    Task.objects.filter(pk=on_gold.task_id).update(is_gold=True)
    TaskConsensus.objects.create(
        task=accepted.task, project=project, answers={}, confidence=0.9, agreement=0.9
    )
    if waiting.task_id != accepted.task_id:
        TaskConsensus.objects.create(
            task=waiting.task, project=project, answers={}, confidence=0.5, agreement=0.2
        )

    def ids(**filters: Any) -> set[str]:
        rows = export_rows(actor, project, filters=filters)
        return {row["provenance"]["annotation_id"] for row in rows}

    assert ids() == {str(a.public_id) for a in (accepted, waiting, on_gold)}
    assert ids(accepted_only=True) == {str(accepted.public_id), str(on_gold.public_id)}
    assert ids(exclude_gold=True) == {str(accepted.public_id), str(waiting.public_id)}
    expected = {str(accepted.public_id)}
    if waiting.task_id == accepted.task_id:
        expected.add(str(waiting.public_id))
    assert ids(min_agreement=0.8) == expected
    assert ids(accepted_only=True, exclude_gold=True, min_agreement="0.8") == {
        str(accepted.public_id)
    }


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"format": "xml"}, "format"),
        ({"shape": "everything"}, "shape"),
        ({"filters": {"min_agreement": "1.5"}}, "min_agreement"),
        ({"filters": {"min_agreement": "high"}}, "min_agreement"),
        ({"filters": {"accepted_only": "maybe"}}, "accepted_only"),
        ({"filters": {"colour": "blue"}}, "colour"),
        ({"filters": {"exclude_ties": True}, "shape": "consensus"}, "exclude_ties"),
    ],
)
def test_wrong_options_are_refused_naming_the_field(options, field):
    actor, project, _ = workspace(task_count=1)
    options = {"format": "jsonl", "shape": "training", "filters": {}, **options}

    with pytest.raises(InvalidInput) as refused:
        services.export_create(actor=actor, project=project, **options)

    assert refused.value.field == field
    assert not DatasetExport.objects.exists()


def test_ties_are_only_a_filter_of_pairwise_projects():
    actor, project, _ = workspace(task_type="rubric", task_count=1)

    with pytest.raises(InvalidInput) as refused:
        services.export_stream(
            actor=actor,
            project=project,
            format="jsonl",
            shape="training",
            filters={"exclude_ties": "1"},
        )

    assert refused.value.field == "exclude_ties"


def test_another_labs_project_cannot_be_exported():
    _, project, experts = workspace(task_count=1)
    submit_next(experts[0], project)
    stranger = project_factories.manager_actor()

    for create in (services.export_create, services.export_stream):
        with pytest.raises(NotFound):
            create(actor=stranger, project=project, format="jsonl", shape="training")
    assert not DatasetExport.objects.exists()


# Formats ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["training", "raw", "consensus"])
def test_an_export_without_rows_is_a_valid_empty_file(shape):
    actor, project, _ = workspace(task_count=1)
    names = field_names(columns_for(project, shape))

    jsonl, export = streamed(actor, project, shape=shape, format="jsonl")
    csv_file, _ = streamed(actor, project, shape=shape, format="csv")
    parquet_file, _ = streamed(actor, project, shape=shape, format="parquet")

    assert jsonl == b""
    assert (export.status, export.written_rows, export.size) == (ExportStatus.READY, 0, 0)
    assert export.sha256 == hashlib.sha256(b"").hexdigest()
    assert list(csv.reader(io.StringIO(csv_file.decode()))) == [names]
    table = pq.read_table(io.BytesIO(parquet_file))
    assert table.num_rows == 0
    assert table.schema.names == [column.name for column in columns_for(project, shape)]


def odd_project() -> tuple[LabActor, Project, Annotation]:
    actor, project, experts = workspace(task_count=1)
    task = Task.objects.get(project=project)
    Task.objects.filter(pk=task.pk).update(
        data={**task.data, "prompt": ODD, "response_a": "A " + ODD, "response_b": "B 🧪"}
    )
    annotation = submit_next(experts[0], project, rationale=ODD, preference="a_better")
    return actor, project, annotation


def test_odd_unicode_round_trips_through_jsonl_one_row_per_line():
    actor, project, _ = odd_project()

    content, _ = streamed(actor, project)

    assert content.count(b"\n") == 1
    assert len(content.decode().splitlines()) == 1  # U+2028, U+2029 and U+0085 are escaped
    (row,) = jsonl_rows(content)
    assert (row["prompt"], row["chosen"], row["rationale"]) == (ODD, "A " + ODD, ODD)


def test_odd_unicode_round_trips_through_csv():
    actor, project, _ = odd_project()

    content, _ = streamed(actor, project, format="csv")

    (row,) = list(csv.DictReader(io.StringIO(content.decode(), newline="")))
    assert (row["prompt"], row["chosen"], row["rationale"]) == (ODD, "A " + ODD, ODD)
    assert row["provenance.review.decision"] == ""
    assert orjson.loads(row["provenance.credentials"])[0]["kind"] == "degree"
    assert row["provenance.ai.ai_used"] == ""
    assert row["provenance.is_gold"] == "false"


def test_odd_unicode_round_trips_through_parquet_with_nested_provenance():
    actor, project, annotation = odd_project()

    content, _ = streamed(actor, project, format="parquet")

    (row,) = pq.read_table(io.BytesIO(content)).to_pylist()
    assert (row["prompt"], row["chosen"], row["rationale"]) == (ODD, "A " + ODD, ODD)
    assert row["history"] == []
    assert row["provenance"]["annotation_id"] == str(annotation.public_id)
    assert row["provenance"]["credentials"][0]["specialties"] == ["Medicine"]
    frame = pq.read_table(io.BytesIO(content)).to_pandas()
    assert frame.loc[0, "provenance"]["expert"].startswith("ex_")


def test_csv_flattens_provenance_into_dotted_columns():
    actor, project, _ = workspace(task_count=1)

    content, _ = streamed(actor, project, format="csv")

    header = next(csv.reader(io.StringIO(content.decode())))
    assert header[:3] == ["prompt", "history", "chosen"]
    assert "provenance.ai.paste_count" in header
    assert "provenance.review.reviewer" in header
    assert "provenance" not in header


# Streamed exports ---------------------------------------------------------------------------


def test_a_streamed_export_is_recorded_with_its_checksum():
    actor, project, experts = workspace(experts=2, task_count=2, overlap=2)
    for expert in experts:
        submit_next(expert, project)

    content, export = streamed(actor, project)

    assert export.status == ExportStatus.READY
    assert (export.written_rows, export.total_rows, export.size) == (2, 2, len(content))
    assert export.sha256 == hashlib.sha256(content).hexdigest()
    assert export.manifest["delivery"] == "stream"
    assert export.manifest["file"]["sha256"] == export.sha256
    assert export.manifest["rows"] == 2
    assert not export.file
    assert all(
        row["provenance"]["export_id"] == str(export.public_id) for row in jsonl_rows(content)
    )


def test_a_download_left_halfway_is_marked_failed():
    actor, project, experts = workspace(task_count=1)
    submit_next(experts[0], project)
    result = services.export_stream(actor=actor, project=project, format="csv", shape="training")

    next(result.content)  # the header
    result.content.close()

    export = DatasetExport.objects.get(pk=result.export.pk)
    assert export.status == ExportStatus.FAILED
    assert export.error == services.STREAM_INTERRUPTED


def test_big_exports_are_not_streamed(settings):
    settings.EXPORT_STREAM_MAX_ROWS = 1
    actor, project, experts = workspace(experts=2, task_count=1, overlap=2)
    for expert in experts:
        submit_next(expert, project)

    with pytest.raises(Conflict):
        services.export_stream(actor=actor, project=project, format="jsonl", shape="training")

    assert not DatasetExport.objects.exists()


# Background exports -----------------------------------------------------------------------


def test_a_background_export_writes_its_file_manifest_and_card(
    django_capture_on_commit_callbacks, storage
):
    actor, project, experts = workspace(experts=2, task_count=2, overlap=2)
    first = submit_next(experts[0], project)
    submit_next(experts[1], project)
    review.annotation_accept(actor=actor, annotation=first)
    ProjectQuality.objects.create(
        project=project,
        figures={
            "computed_at": "2025-03-01T10:00:00+00:00",
            "annotations": 2,
            "items": 1,
            "questions": [
                {"key": "preference", "label": "Overall preference", "kind": "ordinal",
                 "alpha": 0.71, "pairwise": 0.8, "items": 1, "answers": 2},
            ],
            "calibration": {"n": 12, "brier": 0.12, "ece": 0.05, "bins": []},
            "consensus": {"items": 1, "confident": 1, "low_confidence": 0,
                          "majority_differs": 0, "mean_confidence": 0.9},
            "experts": [{"expert_id": experts[0].pk, "gold_accuracy": 0.9}],
        },
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        export = services.export_create(
            actor=actor, project=project, format="jsonl", shape="training"
        )
    assert len(callbacks) == 1

    export.refresh_from_db()
    assert export.status == ExportStatus.READY
    content = export.file.read()
    export.file.close()
    assert (storage / export.file.name).read_bytes() == content
    assert export.sha256 == hashlib.sha256(content).hexdigest()
    assert export.size == len(content)
    assert (export.total_rows, export.written_rows) == (2, 2)
    assert len(jsonl_rows(content)) == 2
    assert timedelta(days=6, hours=23) < export.expires_at - timezone.now() <= timedelta(days=7)
    manifest = export.manifest
    assert manifest["schema_version"] == 1
    assert manifest["export_id"] == str(export.public_id)
    assert manifest["project_id"] == str(project.public_id)
    assert manifest["file"] == {
        "name": export.file.name.rsplit("/", 1)[-1],
        "bytes": len(content),
        "sha256": export.sha256,
    }
    assert manifest["file"]["name"].startswith("medication-safety-preferences-training-")
    assert manifest["counts"]["annotations_by_status"] == {"accepted": 1, "submitted": 1}
    assert manifest["counts"]["experts"] == 2
    assert manifest["fields"] == field_names(columns_for(project, "training"))
    assert (
        manifest["dataset_card"]["sha256"]
        == hashlib.sha256(export.dataset_card.encode()).hexdigest()
    )
    card = export.dataset_card
    assert "| Degree | 2 |" in card
    assert "| Medicine | 2 |" in card
    assert "| Overall preference | ordinal | 0.710 | 0.800 | 1 |" in card
    assert "Brier score 0.120" in card
    assert export.sha256 in card
    for expert in experts:
        assert expert.email not in card


def test_running_a_finished_export_again_changes_nothing(django_capture_on_commit_callbacks):
    actor, project, experts = workspace(task_count=1)
    submit_next(experts[0], project)
    with django_capture_on_commit_callbacks(execute=True):
        export = services.export_create(actor=actor, project=project, format="csv", shape="raw")
    export.refresh_from_db()

    again = run_dataset_export(export.pk)

    assert again == ExportStatus.READY
    fresh = DatasetExport.objects.get(pk=export.pk)
    assert (fresh.file.name, fresh.sha256, fresh.finished_at) == (
        export.file.name,
        export.sha256,
        export.finished_at,
    )


def test_a_failing_export_is_marked_failed(monkeypatch):
    _, project, experts = workspace(task_count=1)
    submit_next(experts[0], project)
    export = DatasetExport.objects.create(project=project, format="jsonl", shape="training")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.writers, "write", broken)
    with pytest.raises(RuntimeError):
        services.export_run(export_id=export.pk)

    export.refresh_from_db()
    assert (export.status, export.error) == (ExportStatus.FAILED, services.UNEXPECTED_FAILURE)
    assert services.export_run(export_id=export.pk).status == ExportStatus.FAILED


def test_background_parquet_and_csv_files_match_their_checksums(
    django_capture_on_commit_callbacks,
):
    actor, project, experts = workspace(experts=2, task_count=1, overlap=2)
    for expert in experts:
        submit_next(expert, project)

    for format in ("parquet", "csv"):
        with django_capture_on_commit_callbacks(execute=True):
            export = services.export_create(
                actor=actor, project=project, format=format, shape="training"
            )
        export.refresh_from_db()
        content = export.file.read()
        export.file.close()
        assert hashlib.sha256(content).hexdigest() == export.manifest["file"]["sha256"]
        assert export.written_rows == 2


# Links and expiry -------------------------------------------------------------------------


def ready_export(django_capture_on_commit_callbacks) -> tuple[Project, DatasetExport]:
    actor, project, experts = workspace(task_count=1)
    submit_next(experts[0], project)
    with django_capture_on_commit_callbacks(execute=True):
        export = services.export_create(
            actor=actor, project=project, format="jsonl", shape="training"
        )
    export.refresh_from_db()
    return project, export


def test_a_signed_link_finds_its_export_and_nothing_else(django_capture_on_commit_callbacks):
    project, export = ready_export(django_capture_on_commit_callbacks)
    token = services.export_download_token(export)
    slug = project.organization.slug

    found = services.export_for_download(
        organization_slug=slug, project_id=project.public_id, export_id=export.public_id,
        token=token,
    )  # fmt: skip

    assert found == export
    for wrong in (
        {"token": token[:-2] + ("AA" if not token.endswith("AA") else "BB")},
        {"token": "nonsense"},
        {"organization_slug": "someone-else"},
        {"export_id": DatasetExport.objects.create(project=project, format="csv",
                                                   shape="raw").public_id},
    ):  # fmt: skip
        arguments = {
            "organization_slug": slug,
            "project_id": project.public_id,
            "export_id": export.public_id,
            "token": token,
            **wrong,
        }
        with pytest.raises(NotFound):
            services.export_for_download(**arguments)


def test_exports_past_their_expiry_lose_their_file(django_capture_on_commit_callbacks, storage):
    project, export = ready_export(django_capture_on_commit_callbacks)
    path = storage / export.file.name
    assert path.exists()
    token = services.export_download_token(export)

    assert services.exports_expire() == 0
    assert services.exports_expire(now=export.expires_at + timedelta(seconds=1)) == 1

    export.refresh_from_db()
    assert (export.status, export.file.name) == (ExportStatus.EXPIRED, "")
    assert not path.exists()
    assert export.manifest["rows"] == 1  # the manifest and card stay
    with pytest.raises(services.ExportExpired):
        services.export_for_download(
            organization_slug=project.organization.slug,
            project_id=project.public_id,
            export_id=export.public_id,
            token=token,
        )


def test_a_link_past_its_time_is_expired_before_the_sweep(django_capture_on_commit_callbacks):
    project, export = ready_export(django_capture_on_commit_callbacks)
    DatasetExport.objects.filter(pk=export.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    with pytest.raises(services.ExportExpired):
        services.export_for_download(
            organization_slug=project.organization.slug,
            project_id=project.public_id,
            export_id=export.public_id,
            token=services.export_download_token(export),
        )
