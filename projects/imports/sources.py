"""Read the rows of an uploaded file of tasks one at a time (files reach 200 MB).

Three formats, each yielding ``SourceRow`` objects numbered the way the lab counts them:

- JSON Lines: one task object per line; a row's number is its line number in the file
  (blank lines are skipped but counted).
- CSV: a header row naming the columns, then one task per row; numbered as a spreadsheet
  shows them, so the header is row 1 and the first task row 2. Cells of text fields hold the
  text as is; cells of other fields (``history``, ``metadata``, ``gold``, ...) hold JSON text.
  An empty cell counts as not given.
- Label Studio JSON: an array of tasks, either Label Studio's ``{"id": .., "data": {..}}``
  objects or plain task objects; numbered by position in the array, from 1. Streamed with
  ijson, so the array is never held in memory.

A row that cannot be read (a line that is not JSON, a CSV row with the wrong number of cells)
is a row problem; a file that cannot be read at all raises ``UnreadableFile``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Annotated, Any, Literal, Union, get_args, get_origin

import ijson
import orjson

from projects.states import ImportFormat, ImportKind
from projects.task_types.base import Problem, TaskType

# Keys of a row that are not task data.
EXTERNAL_ID_KEYS = ("external_id", "id")
GOLD_KEYS = ("gold", "gold_explanation")
# ``priority``: tasks with a higher one are handed out first (default 0).
RESERVED_KEYS = frozenset((*EXTERNAL_ID_KEYS, *GOLD_KEYS, "priority"))

# One task is bounded by its type's schema (a few MB at most); a longer line is refused
# rather than read into memory.
MAX_LINE_BYTES = 32 * 1024 * 1024
CHUNK_BYTES = 256 * 1024
csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE_BYTES))


class UnreadableFile(Exception):
    """The file cannot be read as a whole; ``reason`` tells the lab why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class SourceRow:
    """One row as read: its number, the raw value (None when unreadable) and read problems.

    ``bad_fields`` names fields whose cell could not be read (already reported), so the
    row's validation does not report them a second time.
    """

    number: int
    raw: Any
    problems: list[Problem] = field(default_factory=list)
    bad_fields: frozenset[str] = frozenset()


def row_numbering_note(format: str) -> str:
    """How the rows of a report are numbered, in words for the lab."""
    if format == ImportFormat.CSV:
        return "Rows are numbered as in a spreadsheet: the header is row 1, the first task row 2."
    if format == ImportFormat.LABEL_STUDIO:
        return "Rows are the tasks' positions in the JSON array, from 1."
    return "Rows are line numbers in the file, from 1."


def parse_json(text: str) -> Any:
    """Standard JSON only: NaN and Infinity are refused (the database would refuse them).

    orjson parses a 2 KB task about three times faster than the standard library.
    """
    return orjson.loads(text)


def _json_problem(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"Not valid JSON: {error.msg} (column {error.colno})."
    return f"Not valid JSON: {error}."


# JSON Lines ------------------------------------------------------------------------------


def _skip_rest_of_line(stream: IO[bytes]) -> None:
    while True:
        chunk = stream.readline(CHUNK_BYTES)
        if not chunk or chunk.endswith(b"\n"):
            return


def jsonl_rows(stream: IO[bytes]) -> Iterator[SourceRow]:
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            _skip_rest_of_line(stream)
            yield SourceRow(number, None, [Problem("(row)", "The line is longer than 32 MB.")])
            continue
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise UnreadableFile(f"The file is not UTF-8 text (line {number:,}).") from None
        if not text or text.isspace():
            continue
        try:
            value = parse_json(text)
        except ValueError as error:
            yield SourceRow(number, None, [Problem("(row)", _json_problem(error))])
            continue
        yield SourceRow(number, value)


def _count_jsonl(stream: IO[bytes]) -> int:
    count = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return count
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            _skip_rest_of_line(stream)
            count += 1
        elif line.strip() and line != codecs.BOM_UTF8:
            count += 1


# CSV -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """The CSV columns of a task type: all allowed, those required, and those holding JSON."""

    allowed: tuple[str, ...]
    required: frozenset[str]
    json: frozenset[str]

    def describe(self) -> str:
        return ", ".join(self.allowed)


def _is_text(annotation: Any) -> bool:
    """Whether a field takes text as is (a ``str`` or a choice of strings)."""
    if annotation is str:
        return True
    origin = get_origin(annotation)
    if origin is Literal:
        return all(isinstance(arg, str) for arg in get_args(annotation))
    if origin is Annotated:
        return _is_text(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return bool(args) and all(_is_text(arg) for arg in args)
    return False


def columns_for(task_type: TaskType, kind: str) -> Columns:
    fields = task_type.input_model.model_fields
    required = {name for name, info in fields.items() if info.is_required()}
    if kind == ImportKind.GOLD:
        required.add("gold")
    json_columns = {name for name, info in fields.items() if not _is_text(info.annotation)}
    json_columns.add("gold")
    return Columns(
        allowed=(*EXTERNAL_ID_KEYS, *fields, *GOLD_KEYS, "priority"),
        required=frozenset(required),
        json=frozenset(json_columns),
    )


def _check_header(header: list[str], columns: Columns) -> list[str]:
    names = [name.strip() for name in header]
    if not any(names):
        raise UnreadableFile("The first row must name the columns; it is empty.")
    seen: set[str] = set()
    for name in names:
        if not name:
            raise UnreadableFile("Every column needs a name in the header row.")
        if name in seen:
            raise UnreadableFile(f"The column “{name}” appears twice in the header row.")
        seen.add(name)
    unknown = [name for name in names if name not in columns.allowed]
    if unknown:
        raise UnreadableFile(
            f"Unknown column{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"The columns are: {columns.describe()}."
        )
    missing = [name for name in columns.allowed if name in columns.required - seen]
    if missing:
        raise UnreadableFile(
            f"Missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}."
        )
    return names


def _csv_records(stream: IO[bytes]) -> Iterator[list[str]]:
    """The records of a CSV file, with decoding and syntax errors turned into UnreadableFile."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text, strict=True)
    number = 0
    try:
        for record in reader:
            number += 1
            yield record
    except UnicodeDecodeError:
        raise UnreadableFile(f"The file is not UTF-8 text (near row {number + 1:,}).") from None
    except csv.Error as error:
        raise UnreadableFile(
            f"The CSV file cannot be read at row {number + 1:,}: {error}."
        ) from None


def _blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def csv_rows(stream: IO[bytes], columns: Columns) -> Iterator[SourceRow]:
    records = _csv_records(stream)
    header = next(records, None)
    if header is None:
        raise UnreadableFile("The file holds no tasks.")
    names = _check_header(header, columns)
    for number, record in enumerate(records, start=2):
        if _blank(record):
            continue
        if len(record) != len(names):
            problem = f"Expected {len(names)} cells, found {len(record)}."
            yield SourceRow(number, None, [Problem("(row)", problem)])
            continue
        raw: dict[str, Any] = {}
        problems: list[Problem] = []
        bad: set[str] = set()
        for name, cell in zip(names, record, strict=True):
            if not cell.strip():
                continue
            if name in columns.json:
                try:
                    raw[name] = parse_json(cell)
                except ValueError as error:
                    problems.append(Problem(name, _json_problem(error)))
                    bad.add(name)
            else:
                raw[name] = cell
        yield SourceRow(number, raw, problems, frozenset(bad))


def _count_csv(stream: IO[bytes]) -> int:
    records = _csv_records(stream)
    next(records, None)
    return sum(1 for record in records if not _blank(record))


# Label Studio JSON -----------------------------------------------------------------------


class CheckedUtf8:
    """A binary reader that passes bytes through, stopping at the first byte that is not
    UTF-8 (drops a leading byte-order mark). ijson reads it in chunks."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._pending = b""
        self._offset = 0
        self._started = False

    def _next_chunk(self, size: int) -> bytes:
        chunk = self._raw.read(size)
        if not self._started:
            self._started = True
            if chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8) :]
        try:
            self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:
            raise UnreadableFile(
                f"The file is not UTF-8 text (byte {self._offset + error.start + 1:,})."
            ) from None
        self._offset += len(chunk)
        return chunk

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson reads nothing first, to learn whether the file gives bytes
            return b""
        if self._pending:
            chunk, self._pending = self._pending, b""
            return chunk
        return self._next_chunk(size if size and size > 0 else CHUNK_BYTES)

    def first_byte(self) -> bytes:
        """The first byte that is not white space (b"" for an empty file); not consumed."""
        while True:
            chunk = self._next_chunk(CHUNK_BYTES)
            if not chunk:
                return b""
            stripped = chunk.lstrip()
            if stripped:
                self._pending = stripped
                return stripped[:1]


def _from_label_studio(item: Any) -> Any:
    """A Label Studio task as a row: its ``data``, with ``data.external_id`` or else the
    task's ``id`` as external id; a plain object stays as it is."""
    if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
        return item
    row = dict(item["data"])
    if row.get("external_id") in (None, "") and item.get("id") is not None:
        row["external_id"] = item["id"]
    for key in GOLD_KEYS:
        if key in item and key not in row:
            row[key] = item[key]
    return row


def _open_array(stream: IO[bytes]) -> CheckedUtf8:
    checked = CheckedUtf8(stream)
    first = checked.first_byte()
    if not first:
        raise UnreadableFile("The file holds no tasks.")
    if first != b"[":
        raise UnreadableFile(
            "A Label Studio file is a JSON array of tasks ([{...}, ...]); "
            "this file does not start with “[”."
        )
    return checked


def _json_error(error: Exception, after: int) -> UnreadableFile:
    detail = " ".join(str(error).split())[:120]
    return UnreadableFile(f"The file is not a valid JSON array after task {after:,}: {detail}")


def label_studio_rows(stream: IO[bytes]) -> Iterator[SourceRow]:
    checked = _open_array(stream)
    number = 0
    items: Iterable[Any] = ijson.items(checked, "item", use_float=True)
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except ijson.JSONError as error:
            raise _json_error(error, number) from None
        number += 1
        yield SourceRow(number, _from_label_studio(item))


_ITEM_EVENTS = frozenset({"start_map", "start_array", "string", "number", "boolean", "null"})


def _count_label_studio(stream: IO[bytes]) -> int:
    checked = _open_array(stream)
    return sum(
        1
        for prefix, event, _ in ijson.parse(checked, use_float=True)
        if prefix == "item" and event in _ITEM_EVENTS
    )


# Dispatch --------------------------------------------------------------------------------


def file_rows(format: str, stream: IO[bytes], columns: Columns) -> Iterator[SourceRow]:
    """The rows of a file in ``format``; raises UnreadableFile as soon as it cannot go on."""
    if format == ImportFormat.CSV:
        return csv_rows(stream, columns)
    if format == ImportFormat.LABEL_STUDIO:
        return label_studio_rows(stream)
    return jsonl_rows(stream)


def count_rows(format: str, stream: IO[bytes]) -> int:
    """How many task rows the file holds, read quickly; 0 when it cannot tell (the full read
    reports why)."""
    try:
        if format == ImportFormat.CSV:
            return _count_csv(stream)
        if format == ImportFormat.LABEL_STUDIO:
            return _count_label_studio(stream)
        return _count_jsonl(stream)
    except (UnreadableFile, ijson.JSONError, ValueError):
        return 0


def list_rows(rows: list[Any]) -> Iterator[SourceRow]:
    """Rows sent in a request body, numbered by position from 1."""
    for number, raw in enumerate(rows, start=1):
        yield SourceRow(number, raw)
