"""Task imports: files (JSONL, CSV, Label Studio JSON) and API batches, all or nothing."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace.errors import Conflict, InvalidInput, PermissionDenied
from marketplace.models import AuditEvent
from marketplace.states import MembershipRole
from projects import services
from projects.access import LabActor
from projects.imports import import_progress_percent
from projects.models import GoldAnswer, Task, TaskImport
from projects.selectors import required_funds_cents
from projects.services import imports as imports_service
from projects.services.imports import (
    ImportRejected,
    task_import_create,
    task_import_run,
    tasks_create_batch,
)
from projects.states import ImportFormat, ImportKind, ImportStatus, ProjectStatus
from tests import factories as core
from tests.payments.factories import fund_lab
from tests.projects import factories

pytestmark = pytest.mark.django_db

GOLD = {"preference": "a_better", "rationale": "A names the interaction."}


def stored_files(storage) -> list[str]:
    if not storage.exists():
        return []
    return sorted(str(p.relative_to(storage)) for p in storage.rglob("*") if p.is_file())


def row(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": f"ext-{n}",
        "prompt": f"Question {n}: is ibuprofen safe with lisinopril?",
        "response_a": f"Answer A {n}",
        "response_b": f"Answer B {n}",
        **extra,
    }


def jsonl(*rows: Any) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def csv_bytes(header: list[str], *records: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(records)
    return out.getvalue().encode()


def upload_and_run(
    actor: LabActor, project, name: str, content: bytes, capture, **kwargs: Any
) -> TaskImport:
    with capture(execute=True) as callbacks:
        task_import = task_import_create(
            actor=actor, project=project, upload=SimpleUploadedFile(name, content), **kwargs
        )
    assert len(callbacks) == 1
    task_import.refresh_from_db()
    return task_import


@pytest.fixture
def lab():
    actor = factories.manager_actor()
    return actor, factories.project(actor)


@pytest.fixture
def run(lab, django_capture_on_commit_callbacks):
    actor, project = lab

    def _run(name: str, content: bytes, **kwargs: Any) -> TaskImport:
        return upload_and_run(
            actor, project, name, content, django_capture_on_commit_callbacks, **kwargs
        )

    return _run


def project_tasks(project) -> list[tuple[str, bool]]:
    return list(Task.objects.filter(project=project).values_list("external_id", "is_gold"))


# Good paths ------------------------------------------------------------------------------


def test_a_jsonl_file_imports_every_task(lab, run, storage):
    _, project = lab
    content = jsonl(row(1), "", row(2, metadata={"source": "batch-7"}), row(3))

    task_import = run("tasks.jsonl", content)

    assert task_import.status == ImportStatus.SUCCEEDED
    assert (task_import.format, task_import.kind) == (ImportFormat.JSONL, ImportKind.TASKS)
    assert task_import.original_name == "tasks.jsonl"
    assert task_import.size == len(content)
    assert (task_import.total_rows, task_import.processed_rows) == (3, 3)
    assert (task_import.created_count, task_import.skipped_count) == (3, 0)
    assert (task_import.error_count, task_import.errors, task_import.failure_reason) == (0, [], "")
    assert task_import.started_at is not None
    assert task_import.finished_at is not None
    tasks = list(Task.objects.filter(project=project))
    assert [t.external_id for t in tasks] == ["ext-1", "ext-2", "ext-3"]
    assert tasks[1].data == {
        "prompt": "Question 2: is ibuprofen safe with lisinopril?",
        "response_a": "Answer A 2",
        "response_b": "Answer B 2",
        "metadata": {"source": "batch-7"},
    }
    assert {t.source_import_id for t in tasks} == {task_import.pk}
    assert not any(t.is_gold for t in tasks)
    assert GoldAnswer.objects.count() == 0
    # The file is kept privately under a generated name, never the uploaded one.
    assert task_import.file.name.startswith("task-imports/")
    assert "tasks.jsonl" not in task_import.file.name
    assert stored_files(storage) == [task_import.file.name]
    actions = list(
        AuditEvent.objects.filter(action__startswith="project.tasks_")
        .order_by("id")
        .values_list("action", "after")
    )
    assert actions == [
        (
            "project.tasks_upload",
            {
                "import": str(task_import.public_id),
                "kind": "tasks",
                "format": "jsonl",
                "name": "tasks.jsonl",
                "size": len(content),
            },
        ),
        (
            "project.tasks_import",
            {
                "import": str(task_import.public_id),
                "kind": "tasks",
                "format": "jsonl",
                "rows": 3,
                "created": 3,
                "gold": 0,
                "skipped": 0,
            },
        ),
    ]
    assert import_progress_percent(task_import) == 100


def test_a_csv_file_reads_json_cells_and_makes_rows_with_gold_gold_tasks(lab, run):
    _, project = lab
    history = [{"role": "user", "content": "I take lisinopril."}]
    content = csv_bytes(
        ["id", "prompt", "history", "response_a", "response_b", "metadata", "gold"],
        ["c-1", "Is it safe?", json.dumps(history), "Maybe, ask.", "Yes.", '{"k": 1}', ""],
        ["c-2", "Line one\nline two", "", "A, with a comma", 'B "quoted"', "", json.dumps(GOLD)],
    )

    task_import = run("tasks.csv", content)

    assert task_import.status == ImportStatus.SUCCEEDED
    assert (task_import.format, task_import.total_rows, task_import.created_count) == (
        ImportFormat.CSV,
        2,
        2,
    )
    first, second = Task.objects.filter(project=project)
    assert (first.external_id, first.is_gold) == ("c-1", False)
    assert first.data == {
        "prompt": "Is it safe?",
        "history": history,
        "response_a": "Maybe, ask.",
        "response_b": "Yes.",
        "metadata": {"k": 1},
    }
    assert (second.external_id, second.is_gold) == ("c-2", True)
    assert second.data == {
        "prompt": "Line one\nline two",
        "response_a": "A, with a comma",
        "response_b": 'B "quoted"',
    }
    assert second.gold_answer.answer == {
        "preference": "a_better",
        "rationale": "A names the interaction.",
        "confidence": 100,
        "criteria": {},
        "is_edge_case": False,
        "edge_case_note": "",
    }


def test_a_label_studio_file_takes_tasks_and_plain_objects(lab, run):
    _, project = lab
    data = [
        {"id": 17, "data": row(1, external_id=None), "annotations": [], "predictions": []},
        {"id": 18, "data": row(2, external_id="own-2")},
        row(3),
        {"data": {**row(4), "external_id": None, "id": "inner-4"}, "meta": {}},
    ]
    content = ("\ufeff" + json.dumps(data, indent=2)).encode()

    task_import = run("export.json", content)

    assert task_import.status == ImportStatus.SUCCEEDED, task_import.failure_reason
    assert task_import.format == ImportFormat.LABEL_STUDIO
    assert (task_import.total_rows, task_import.created_count) == (4, 4)
    assert project_tasks(project) == [
        ("17", False),
        ("own-2", False),
        ("ext-3", False),
        ("inner-4", False),
    ]
    assert Task.objects.get(external_id="17").data["prompt"] == row(1)["prompt"]


def test_rows_without_an_external_id_get_a_stable_one_from_their_content(lab, run):
    _, project = lab
    task = {"prompt": "Is it safe?", "response_a": "A", "response_b": "B", "metadata": {"x": 1}}

    first = run("a.jsonl", jsonl(task))
    # The same task, written differently: other key order, spaces, surrounding white space.
    again = run(
        "b.jsonl",
        b'{"metadata": {"x": 1},  "response_b": " B ", "response_a": "A", '
        b'"prompt": "Is it safe?"}\n',
    )

    canonical = json.dumps(
        {"metadata": {"x": 1}, "prompt": "Is it safe?", "response_a": "A", "response_b": "B"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert project_tasks(project) == [(expected, False)]
    assert (first.created_count, again.created_count, again.skipped_count) == (1, 0, 1)


def test_importing_the_same_file_twice_skips_every_row_the_second_time(lab, run):
    _, project = lab
    content = jsonl(row(1), row(2), row(3))
    run("tasks.jsonl", content)
    before = list(Task.objects.filter(project=project).values_list("id", "data"))

    again = run("tasks.jsonl", jsonl(row(1, prompt="Changed"), row(2), row(3), row(4)))

    assert again.status == ImportStatus.SUCCEEDED
    assert (again.created_count, again.skipped_count) == (1, 3)
    # Known rows are never updated.
    assert list(Task.objects.filter(project=project).values_list("id", "data"))[:3] == before
    assert Task.objects.filter(project=project).count() == 4


def test_a_gold_import_stores_the_answers_apart_from_the_tasks(lab, run):
    _, project = lab
    content = jsonl(
        row(1, gold={**GOLD, "confidence": 80}, gold_explanation="  NSAIDs blunt ACE-I.  "),
        row(2, gold={"preference": "tie", "rationale": "Both fine."}),
    )

    task_import = run("gold.jsonl", content, kind=ImportKind.GOLD)

    assert task_import.status == ImportStatus.SUCCEEDED
    assert task_import.kind == ImportKind.GOLD
    assert project_tasks(project) == [("ext-1", True), ("ext-2", True)]
    answers = {
        a.task.external_id: (a.answer["preference"], a.answer["confidence"], a.explanation)
        for a in GoldAnswer.objects.select_related("task")
    }
    assert answers == {
        "ext-1": ("a_better", 80, "NSAIDs blunt ACE-I."),
        "ext-2": ("tie", 100, ""),
    }
    # The answer never travels with the task's data.
    assert "gold" not in Task.objects.get(external_id="ext-1").data


def test_a_gold_row_for_a_known_task_adds_no_answer(lab, run):
    _, project = lab
    run("tasks.jsonl", jsonl(row(1)))

    task_import = run("gold.jsonl", jsonl(row(1, gold=GOLD), row(2, gold=GOLD)), kind="gold")

    assert (task_import.created_count, task_import.skipped_count) == (1, 1)
    assert project_tasks(project) == [("ext-1", False), ("ext-2", True)]
    assert list(GoldAnswer.objects.values_list("task__external_id", flat=True)) == ["ext-2"]


def test_task_text_with_markup_is_stored_verbatim(lab, run):
    _, project = lab
    text = '<script>alert("x")</script> & <b>bold</b>'

    run("tasks.jsonl", jsonl(row(1, prompt=text)))

    assert Task.objects.get(project=project).data["prompt"] == text


# Bad rows --------------------------------------------------------------------------------


def test_a_file_with_bad_rows_is_rejected_whole_with_every_problem(lab, run):
    _, project = lab
    content = jsonl(
        row(1),
        {k: v for k, v in row(2).items() if k != "response_b"},
        "{not json",
        row(4, history=[{"role": "robot", "content": "hi"}], extra_field=1),
        "",
        row(1),
        [1, 2],
        row(8, external_id="x" * 201),
        {"prompt": "p", "response_a": "a", "response_b": "b"},
        {"prompt": "p", "response_a": "a", "response_b": "b"},
        row(11, gold_explanation="Why."),
    )

    task_import = run("tasks.jsonl", content)

    assert task_import.status == ImportStatus.FAILED
    assert task_import.errors == [
        {"row": 2, "field": "response_b", "problem": "This field is required."},
        {
            "row": 3,
            "field": "(row)",
            "problem": "Not valid JSON: unexpected character, expected a string key (column 2).",
        },
        {
            "row": 4,
            "field": "history.0.role",
            "problem": "Input should be 'system', 'user' or 'assistant'",
        },
        {"row": 4, "field": "extra_field", "problem": "Unknown field."},
        {"row": 6, "field": "external_id", "problem": "“ext-1” is also the id of row 1."},
        {"row": 7, "field": "(row)", "problem": "A task must be a JSON object."},
        {"row": 8, "field": "external_id", "problem": "At most 200 characters."},
        {"row": 10, "field": "(row)", "problem": "The same task as row 9 (same content, no id)."},
        {
            "row": 11,
            "field": "gold_explanation",
            "problem": "Only gold tasks carry an explanation.",
        },
    ]
    assert task_import.error_count == 9
    assert task_import.failure_reason == (
        "8 rows have problems; nothing was imported. Rows are line numbers in the file, from 1."
    )
    assert (task_import.total_rows, task_import.processed_rows) == (10, 10)
    assert (task_import.created_count, task_import.skipped_count) == (0, 0)
    assert Task.objects.filter(project=project).count() == 0
    assert not AuditEvent.objects.filter(action="project.tasks_import").exists()


def test_csv_reports_count_the_header_as_row_one(lab, run):
    _, project = lab
    content = csv_bytes(
        ["external_id", "prompt", "response_a", "response_b", "history"],
        ["a", "p", "x", "y", ""],
        ["b", "p", "", "y", "[not json"],
        ["c", "p", "x"],
    )

    task_import = run("tasks.csv", content)

    assert task_import.status == ImportStatus.FAILED
    assert task_import.errors == [
        {
            "row": 3,
            "field": "history",
            "problem": "Not valid JSON: invalid literal, expected 'null' (column 2).",
        },
        {"row": 3, "field": "response_a", "problem": "This field is required."},
        {"row": 4, "field": "(row)", "problem": "Expected 5 cells, found 3."},
    ]
    assert task_import.failure_reason == (
        "2 rows have problems; nothing was imported. Rows are numbered as in a spreadsheet: "
        "the header is row 1, the first task row 2."
    )
    assert Task.objects.filter(project=project).count() == 0


def test_the_report_keeps_the_first_problems_and_counts_them_all(lab, run, settings):
    settings.MAX_IMPORT_REPORT_PROBLEMS = 3
    _, project = lab

    task_import = run("tasks.jsonl", jsonl(*[{"external_id": f"e{n}"} for n in range(5)]))

    assert task_import.status == ImportStatus.FAILED
    assert task_import.error_count == 15  # prompt, response_a and response_b on 5 rows
    assert task_import.errors == [
        {"row": 1, "field": "prompt", "problem": "This field is required."},
        {"row": 1, "field": "response_a", "problem": "This field is required."},
        {"row": 1, "field": "response_b", "problem": "This field is required."},
    ]
    assert task_import.failure_reason.startswith("5 rows have problems; nothing was imported.")
    assert Task.objects.filter(project=project).count() == 0


def test_a_gold_import_needs_a_valid_answer_on_every_row(lab, run):
    _, project = lab
    content = jsonl(
        row(1, gold=GOLD),
        row(2),
        row(3, gold={"preference": "a_best", "rationale": "r"}),
        row(4, gold={"preference": "tie"}),
        row(5, gold="tie"),
    )

    task_import = run("gold.jsonl", content, kind=ImportKind.GOLD)

    assert task_import.status == ImportStatus.FAILED
    assert task_import.errors == [
        {"row": 2, "field": "gold", "problem": "A gold task needs its answer."},
        {
            "row": 3,
            "field": "gold.preference",
            "problem": "Input should be 'a_much_better', 'a_better', 'tie', 'b_better' or "
            "'b_much_better'",
        },
        {"row": 4, "field": "gold.rationale", "problem": "Explain your preference."},
        {"row": 5, "field": "gold", "problem": "Must be a JSON object."},
    ]
    assert Task.objects.filter(project=project).count() == 0
    assert GoldAnswer.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "tasks.jsonl",
            jsonl(row(1)) + b'{"prompt": "caf\xe9"}\n',
            "The file is not UTF-8 text (line 2).",
        ),
        ("tasks.jsonl", b"\n  \n\n", "The file holds no tasks."),
        (
            "tasks.json",
            json.dumps({"tasks": [row(1)]}).encode(),
            "A Label Studio file is a JSON array of tasks ([{...}, ...]); "
            "this file does not start with “[”.",
        ),
        (
            "tasks.json",
            json.dumps([row(1), row(2)]).encode()[:-30],
            "The file is not a valid JSON array after task 1: parse error: premature EOF",
        ),
        ("tasks.json", b"[]", "The file holds no tasks."),
        (
            "tasks.json",
            b"[" + json.dumps(row(1)).encode() + b", \xff]",
            "The file is not UTF-8 text",
        ),
        (
            "tasks.csv",
            csv_bytes(
                ["prompt", "response_a", "response_b", "answer", "notes"], ["p", "a", "b", "", ""]
            ),
            "Unknown columns: answer, notes. The columns are: external_id, id, metadata, prompt, "
            "history, response_a, response_b, gold, gold_explanation, priority.",
        ),
        (
            "tasks.csv",
            csv_bytes(["external_id", "prompt"], ["e", "p"]),
            "Missing columns: response_a, response_b.",
        ),
        (
            "tasks.csv",
            csv_bytes(["prompt", "prompt", "response_a", "response_b"]),
            "The column “prompt” appears twice in the header row.",
        ),
        (
            "tasks.csv",
            csv_bytes(["prompt", "response_a", "response_b"]),
            "The file holds no tasks.",
        ),
    ],
)
def test_a_file_that_cannot_be_read_fails_with_a_reason(lab, run, name, content, reason):
    _, project = lab

    task_import = run(name, content)

    assert task_import.status == ImportStatus.FAILED
    assert task_import.failure_reason.startswith(reason), task_import.failure_reason
    assert task_import.finished_at is not None
    assert Task.objects.filter(project=project).count() == 0


def test_a_gold_csv_needs_the_gold_column(lab, run):
    task_import = run(
        "gold.csv", csv_bytes(["prompt", "response_a", "response_b"], ["p", "a", "b"]), kind="gold"
    )

    assert (task_import.status, task_import.failure_reason) == (
        ImportStatus.FAILED,
        "Missing column: gold.",
    )


def test_nul_characters_are_refused_but_the_text_backslash_u0000_is_kept(lab, run):
    _, project = lab

    refused = run("tasks.jsonl", jsonl(row(1, prompt="a\x00b")))
    kept = run("tasks.jsonl", jsonl(row(2, prompt="a\\u0000b")))

    assert refused.errors == [
        {"row": 1, "field": "(row)", "problem": "Text cannot contain NUL characters (\\u0000)."}
    ]
    assert kept.status == ImportStatus.SUCCEEDED
    assert Task.objects.get(project=project).data["prompt"] == "a\\u0000b"


def test_a_label_studio_report_numbers_tasks_by_position(lab, run):
    content = json.dumps([{"id": 1, "data": row(1)}, {"id": 2, "data": {"prompt": "p"}}])

    task_import = run("export.json", content.encode())

    assert [(e["row"], e["field"]) for e in task_import.errors] == [
        (2, "response_a"),
        (2, "response_b"),
    ]
    assert task_import.failure_reason == (
        "1 row has problems; nothing was imported. "
        "Rows are the tasks' positions in the JSON array, from 1."
    )


# Upload guards ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("tasks.jsonl", b"", "The file is empty."),
        ("tasks.jsonl", b"x" * 101, "The file is larger than 0 MB."),
        ("tasks.xlsx", b"{}", "Upload a .jsonl (or .ndjson), .csv or .json (Label Studio) file."),
    ],
)
def test_uploads_that_are_refused_store_nothing(lab, settings, storage, name, content, message):
    settings.MAX_TASK_IMPORT_SIZE = 100
    actor, project = lab

    with pytest.raises(InvalidInput) as refused:
        task_import_create(actor=actor, project=project, upload=SimpleUploadedFile(name, content))

    assert (refused.value.field, refused.value.message) == ("file", message)
    assert TaskImport.objects.count() == 0
    assert stored_files(storage) == []


def test_a_file_at_the_size_cap_is_accepted(lab, settings, django_capture_on_commit_callbacks):
    actor, project = lab
    content = jsonl(row(1))
    settings.MAX_TASK_IMPORT_SIZE = len(content)

    task_import = upload_and_run(
        actor, project, "tasks.ndjson", content, django_capture_on_commit_callbacks
    )

    assert (task_import.status, task_import.created_count) == (ImportStatus.SUCCEEDED, 1)


def test_the_format_can_be_given_whatever_the_name(lab, run):
    task_import = run("export.txt", jsonl(row(1)), format=ImportFormat.JSONL)

    assert (task_import.format, task_import.status) == (ImportFormat.JSONL, ImportStatus.SUCCEEDED)


def test_an_archived_project_takes_no_file(lab, storage, django_capture_on_commit_callbacks):
    actor, project = lab
    services.project_archive(actor=actor, project=project)

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(Conflict) as refused:
        task_import_create(
            actor=actor, project=project, upload=SimpleUploadedFile("t.jsonl", jsonl(row(1)))
        )

    assert refused.value.message == "A archived project takes no more tasks."
    assert callbacks == []
    assert TaskImport.objects.count() == 0
    assert stored_files(storage) == []


def test_a_viewer_cannot_import(lab, storage, django_capture_on_commit_callbacks):
    owner, project = lab
    viewer = core.lab_user()
    core.add_member(owner.organization, viewer, MembershipRole.VIEWER)
    actor = LabActor(
        organization=owner.organization, user=viewer, api_key=None, role=MembershipRole.VIEWER
    )
    audit_before = AuditEvent.objects.count()

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(PermissionDenied):
        task_import_create(
            actor=actor, project=project, upload=SimpleUploadedFile("t.jsonl", jsonl(row(1)))
        )
    with pytest.raises(PermissionDenied):
        tasks_create_batch(actor=actor, project=project, rows=[row(1)])

    assert callbacks == []
    assert TaskImport.objects.count() == 0
    assert Task.objects.count() == 0
    assert stored_files(storage) == []
    assert AuditEvent.objects.count() == audit_before


# Running ---------------------------------------------------------------------------------


def test_running_a_finished_import_again_changes_nothing(lab, run, django_assert_num_queries):
    _, project = lab
    task_import = run("tasks.jsonl", jsonl(row(1), row(2)))
    finished_at = task_import.finished_at

    with django_assert_num_queries(1):
        again = task_import_run(import_id=task_import.pk)

    again.refresh_from_db()
    assert (again.status, again.created_count, again.finished_at) == (
        ImportStatus.SUCCEEDED,
        2,
        finished_at,
    )
    assert Task.objects.filter(project=project).count() == 2
    assert AuditEvent.objects.filter(action="project.tasks_import").count() == 1


def test_an_interrupted_import_starts_again(lab, run):
    _, project = lab
    task_import = run("tasks.jsonl", jsonl(row(1), row(2)))
    Task.objects.filter(project=project).delete()
    # As if the worker died while saving (the transaction rolled back).
    TaskImport.objects.filter(pk=task_import.pk).update(
        status=ImportStatus.SAVING, processed_rows=1, created_count=0
    )

    again = task_import_run(import_id=task_import.pk)

    assert (again.status, again.created_count, again.skipped_count) == (
        ImportStatus.SUCCEEDED,
        2,
        0,
    )
    assert Task.objects.filter(project=project).count() == 2


def test_a_missing_file_fails_the_import(lab, storage):
    actor, project = lab
    task_import = task_import_create(
        actor=actor, project=project, upload=SimpleUploadedFile("t.jsonl", jsonl(row(1)))
    )
    (storage / task_import.file.name).unlink()

    task_import = task_import_run(import_id=task_import.pk)

    assert (task_import.status, task_import.failure_reason) == (
        ImportStatus.FAILED,
        "The uploaded file is missing; upload it again.",
    )
    assert Task.objects.count() == 0


def test_an_unexpected_error_fails_the_import_and_saves_nothing(lab, monkeypatch):
    actor, project = lab
    task_import = task_import_create(
        actor=actor, project=project, upload=SimpleUploadedFile("t.jsonl", jsonl(row(1)))
    )

    def broken_writer(**kwargs):
        Task.objects.create(project=project, external_id="half", data={})
        raise RuntimeError("disk full")

    monkeypatch.setattr(imports_service, "write_rows", broken_writer)
    with pytest.raises(RuntimeError):
        task_import_run(import_id=task_import.pk)

    task_import.refresh_from_db()
    assert (task_import.status, task_import.failure_reason) == (
        ImportStatus.FAILED,
        "The import stopped on an unexpected error; nothing was imported. Try again.",
    )
    assert Task.objects.count() == 0


def test_a_project_archived_before_the_run_gets_nothing(lab):
    actor, project = lab
    with_callbacks = task_import_create(
        actor=actor, project=project, upload=SimpleUploadedFile("t.jsonl", jsonl(row(1)))
    )
    services.project_archive(actor=actor, project=project)

    task_import = task_import_run(import_id=with_callbacks.pk)

    assert (task_import.status, task_import.failure_reason) == (
        ImportStatus.FAILED,
        "A archived project takes no more tasks.",
    )
    assert Task.objects.count() == 0


def test_progress_follows_the_rows_checked():
    task_import = TaskImport(status=ImportStatus.PENDING)
    assert import_progress_percent(task_import) == 0
    task_import.status, task_import.total_rows = ImportStatus.VALIDATING, 0
    assert import_progress_percent(task_import) == 0
    task_import.total_rows, task_import.processed_rows = 4000, 2000
    assert import_progress_percent(task_import) == 32
    task_import.status = ImportStatus.SAVING
    assert import_progress_percent(task_import) == 65
    task_import.status = ImportStatus.FAILED
    assert import_progress_percent(task_import) == 100


# Funds -----------------------------------------------------------------------------------


def test_a_live_project_takes_only_the_tasks_its_funds_cover(
    django_capture_on_commit_callbacks,
):
    actor = factories.manager_actor()
    project = factories.active_project(actor, task_count=3)
    content = jsonl(row(1), row(2))

    refused = upload_and_run(
        actor, project, "more.jsonl", content, django_capture_on_commit_callbacks
    )

    assert refused.status == ImportStatus.FAILED
    needed = required_funds_cents(project=project, task_count=5)
    assert refused.failure_reason == (
        f"The 2 new tasks would bring the project to 5 tasks, which need ${needed / 100:,.2f} "
        f"in funds; ${project.funded_cents / 100:,.2f} is funded. Add funds to the project, "
        "then import again. Nothing was imported."
    )
    assert Task.objects.filter(project=project).count() == 3
    # Gold tasks cost nothing, so they always fit.
    gold = upload_and_run(
        actor,
        project,
        "gold.jsonl",
        jsonl(row(1, gold=GOLD)),
        django_capture_on_commit_callbacks,
        kind="gold",
    )
    assert (gold.status, gold.created_count) == (ImportStatus.SUCCEEDED, 1)

    fund_lab(project.organization, needed - project.funded_cents)
    services.project_fund(actor=actor, project=project, amount_cents=needed - project.funded_cents)
    project.refresh_from_db()
    accepted = upload_and_run(
        actor, project, "more.jsonl", content, django_capture_on_commit_callbacks
    )
    assert (accepted.status, accepted.created_count, accepted.skipped_count) == (
        ImportStatus.SUCCEEDED,
        1,
        1,
    )
    assert project.status == ProjectStatus.ACTIVE


# API batches -----------------------------------------------------------------------------


def test_a_batch_imports_at_once_and_skips_what_it_already_has(lab):
    actor, project = lab

    first = tasks_create_batch(actor=actor, project=project, rows=[row(1), row(2, gold=GOLD)])
    again = tasks_create_batch(actor=actor, project=project, rows=[row(1), row(2, gold=GOLD)])

    assert (first.status, first.format, first.file.name) == (
        ImportStatus.SUCCEEDED,
        ImportFormat.JSONL,
        "",
    )
    assert (first.created_count, first.skipped_count, first.total_rows) == (2, 0, 2)
    assert (again.created_count, again.skipped_count) == (0, 2)
    assert project_tasks(project) == [("ext-1", False), ("ext-2", True)]
    assert GoldAnswer.objects.count() == 1
    assert AuditEvent.objects.filter(action="project.tasks_import").count() == 2


def test_a_batch_with_bad_rows_raises_and_leaves_nothing(lab):
    actor, project = lab
    rows = [row(1), {"prompt": "p"}, "text", row(1)]

    with pytest.raises(ImportRejected) as rejected:
        tasks_create_batch(actor=actor, project=project, rows=rows)

    assert isinstance(rejected.value, InvalidInput)
    assert rejected.value.message == "3 rows have problems; nothing was imported."
    assert rejected.value.field == "tasks"
    assert rejected.value.problems == [
        {"row": 2, "field": "response_a", "problem": "This field is required."},
        {"row": 2, "field": "response_b", "problem": "This field is required."},
        {"row": 3, "field": "(row)", "problem": "A task must be a JSON object."},
        {"row": 4, "field": "external_id", "problem": "“ext-1” is also the id of row 1."},
    ]
    assert rejected.value.problem_count == 4
    assert TaskImport.objects.count() == 0
    assert Task.objects.count() == 0


@pytest.mark.parametrize("rows", [[], "not a list", None])
def test_a_batch_needs_a_list_of_tasks(lab, rows):
    actor, project = lab

    with pytest.raises(InvalidInput) as refused:
        tasks_create_batch(actor=actor, project=project, rows=rows)

    assert (refused.value.field, refused.value.message) == (
        "tasks",
        "Send a list of at least one task.",
    )


def test_a_batch_is_capped(lab, settings):
    settings.MAX_TASKS_PER_API_BATCH = 2
    actor, project = lab

    with pytest.raises(InvalidInput) as refused:
        tasks_create_batch(actor=actor, project=project, rows=[row(1), row(2), row(3)])

    assert refused.value.field == "tasks"
    assert refused.value.message.startswith("Send at most 2 tasks per request")
    assert TaskImport.objects.count() == 0


def test_a_batch_beyond_the_funds_of_a_live_project_is_refused():
    actor = factories.manager_actor()
    project = factories.active_project(actor, task_count=3)

    with pytest.raises(Conflict) as refused:
        tasks_create_batch(actor=actor, project=project, rows=[row(1)])

    assert "Add funds to the project" in refused.value.message
    assert TaskImport.objects.count() == 0
    assert Task.objects.filter(project=project).count() == 3


def test_a_batch_into_an_archived_project_is_refused(lab):
    actor, project = lab
    services.project_archive(actor=actor, project=project)

    with pytest.raises(Conflict):
        tasks_create_batch(actor=actor, project=project, rows=[row(1)])

    assert TaskImport.objects.count() == 0


def test_a_batch_runs_the_same_queries_for_20_or_200_rows(lab):
    actor, project = lab

    def queries_for(rows: list[dict[str, Any]]) -> int:
        with CaptureQueriesContext(connection) as captured:
            tasks_create_batch(actor=actor, project=project, rows=rows)
        return len(captured)

    small = queries_for([row(n, gold=GOLD) if n % 5 == 0 else row(n) for n in range(20)])
    large = queries_for([row(n, gold=GOLD) if n % 5 == 0 else row(n) for n in range(1000, 1200)])

    assert small == large
    assert large <= 13  # 9 on SQLite, 13 on PostgreSQL (temporary tables for COPY)
    assert Task.objects.filter(project=project).count() == 220
    assert GoldAnswer.objects.count() == 44


def test_rows_may_carry_a_priority_for_dispatch(lab, run):
    actor, project = lab
    tasks_create_batch(
        actor=actor, project=project, rows=[row(1), row(2, priority=5), row(3, priority="-2")]
    )
    run(
        "more.csv",
        csv_bytes(
            ["external_id", "prompt", "response_a", "response_b", "priority"],
            ["ext-4", "Q", "A", "B", "7"],
        ),
    )

    priorities = dict(Task.objects.values_list("external_id", "priority"))
    assert priorities == {"ext-1": 0, "ext-2": 5, "ext-3": -2, "ext-4": 7}
    assert "priority" not in Task.objects.get(external_id="ext-2").data


@pytest.mark.parametrize("priority", ["soon", 1.5, True, 5000])
def test_a_bad_priority_is_named(lab, priority):
    actor, project = lab

    with pytest.raises(ImportRejected) as rejected:
        tasks_create_batch(actor=actor, project=project, rows=[row(1, priority=priority)])

    assert rejected.value.problems[0]["field"] == "priority"
    assert Task.objects.count() == 0
