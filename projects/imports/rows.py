"""Check one row of an import and prepare it for the database.

A row is a JSON object: the task type's input fields (with optional ``metadata``), an optional
external id (``external_id``, else ``id``), an optional ``priority`` (a whole number from
-1,000 to 1,000; higher goes out first), and for gold tasks ``gold`` (the known-correct
result) with an optional ``gold_explanation``. Without an external id, the id is the SHA-256
of the task's canonical JSON, so importing the same task again still finds it.

Clean rows are written to a ``Spool`` (local temporary files in PostgreSQL's COPY text
format), which the writer streams into the database without parsing them again.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from marketplace.errors import InvalidInput
from projects.imports.sources import RESERVED_KEYS, SourceRow
from projects.states import ImportKind
from projects.task_types.base import MAX_TEXT, Problem, TaskType

MAX_EXTERNAL_ID = 200
MAX_PRIORITY = 1_000
# A gold answer is certain by definition: when it gives no confidence, it is 100.
GOLD_CONFIDENCE = 100
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# json.dumps writes U+0000 as \u0000, which PostgreSQL's jsonb refuses; an even run of
# backslashes before it is a literal backslash followed by the text "u0000".
JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def has_json_nul(text: str) -> bool:
    """Whether serialised JSON holds U+0000 (the substring test first: it is much faster)."""
    return "\\u0000" in text and JSON_NUL.search(text) is not None


@dataclass(frozen=True)
class CleanRow:
    """A valid row, ready to save. JSON values are already serialised."""

    number: int
    external_id: str
    data_json: str
    gold_json: str | None
    explanation: str
    priority: int = 0

    @property
    def is_gold(self) -> bool:
        return self.gold_json is not None


def _priority(raw: dict[str, Any], problems: list[Problem]) -> int:
    """The row's dispatch priority: 0 when absent, else a whole number within bounds."""
    value = raw.get("priority")
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())  # CSV cells are text
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(Problem("priority", "The priority is a whole number."))
        return 0
    if not -MAX_PRIORITY <= value <= MAX_PRIORITY:
        problems.append(
            Problem("priority", f"The priority is between -{MAX_PRIORITY:,} and {MAX_PRIORITY:,}.")
        )
        return 0
    return value


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text: equal data gives equal text (and equal ids)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def derived_external_id(data_json: str) -> str:
    """The id of a task imported without one: the SHA-256 of its canonical JSON, in hex."""
    return hashlib.sha256(data_json.encode()).hexdigest()


# The spool: PostgreSQL COPY text format ----------------------------------------------------

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_COPY_UNESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def copy_text(value: str) -> str:
    """Text as a field of PostgreSQL's COPY text format."""
    return value.translate(_COPY_ESCAPES)


def _copy_json(value: str) -> str:
    # Serialised JSON holds no raw line breaks or tabs; only backslashes need doubling.
    return value.replace("\\", "\\\\")


def _uncopy(value: str) -> str:
    return _COPY_UNESCAPE.sub(lambda match: _UNESCAPED.get(match[1], match[1]), value)


class Spool:
    """The clean rows of an import, kept in local temporary files until they are saved.

    Three files in PostgreSQL's COPY text format, so the writer streams them into the
    database without parsing them again:

    - ``ids``: ``index, external_id`` for every row (small; finds the ids already known),
    - ``tasks``: ``external_id, is_gold, priority, data`` for every row, in file order,
    - ``gold``: ``external_id, answer, explanation`` for the gold rows.
    """

    TASK_COLUMNS = ("external_id", "is_gold", "priority", "data")

    def __init__(self, *, in_memory: bool = False) -> None:
        def new() -> IO[bytes]:
            return io.BytesIO() if in_memory else tempfile.TemporaryFile(prefix="task-import-")

        self.ids, self.tasks, self.gold = new(), new(), new()
        self.count = 0
        self.gold_count = 0

    def add(self, row: CleanRow) -> None:
        external_id = copy_text(row.external_id)
        self.ids.write(f"{self.count}\t{external_id}\n".encode())
        flag = "t" if row.is_gold else "f"
        self.tasks.write(
            f"{external_id}\t{flag}\t{row.priority}\t{_copy_json(row.data_json)}\n".encode()
        )
        if row.gold_json is not None:
            answer = _copy_json(row.gold_json)
            self.gold.write(f"{external_id}\t{answer}\t{copy_text(row.explanation)}\n".encode())
            self.gold_count += 1
        self.count += 1

    def rewind(self) -> None:
        for file in (self.ids, self.tasks, self.gold):
            file.flush()
            file.seek(0)

    def rows(self) -> Iterator[CleanRow]:
        """The rows as added (for writers without COPY)."""
        self.rewind()
        for index, line in enumerate(self.tasks):
            external_id, flag, priority, data = line.decode().rstrip("\n").split("\t")
            gold_json, explanation = None, ""
            if flag == "t":
                _, answer, note = self.gold.readline().decode().rstrip("\n").split("\t")
                gold_json, explanation = _uncopy(answer), _uncopy(note)
            yield CleanRow(
                number=index + 1,
                external_id=_uncopy(external_id),
                data_json=_uncopy(data),
                gold_json=gold_json,
                explanation=explanation,
                priority=int(priority),
            )

    def close(self) -> None:
        for file in (self.ids, self.tasks, self.gold):
            file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Checking --------------------------------------------------------------------------------


def _field_root(path: str) -> str:
    return path.split(".", 1)[0]


def _problem_text(error: InvalidInput) -> str:
    """The problem without the "field: " prefix the task types put before it."""
    prefix = f"{error.field}: "
    return error.message[len(prefix) :] if error.message.startswith(prefix) else error.message


class RowChecker:
    """Validate rows one by one, remembering external ids to catch duplicates in the file.

    Keeps at most ``report_limit`` problems; ``problem_count`` and ``bad_rows`` count all.
    Memory grows with the number of rows only by the external-id index (about 150 bytes a
    row), never with the size of the tasks.
    """

    def __init__(
        self, *, task_type: TaskType, settings: dict[str, Any], kind: str, report_limit: int
    ) -> None:
        self.task_type = task_type
        self.settings = settings
        self.kind = kind
        self.report_limit = report_limit
        self.rows = 0
        self.bad_rows = 0
        self.problem_count = 0
        self.problems: list[dict[str, Any]] = []
        self._first_row_of: dict[str, int] = {}

    def check(self, row: SourceRow) -> CleanRow | None:
        """Return the clean row, or None after recording its problems."""
        self.rows += 1
        problems = list(row.problems)
        clean = self._check(row, problems) if row.raw is not None or not problems else None
        if problems:
            self._record(row.number, problems)
            return None
        return clean

    def check_into(self, row: SourceRow, spool: Spool) -> None:
        """Check the row and spool it while every row so far is clean (a file with any bad
        row saves nothing, so later rows need no spooling)."""
        clean = self.check(row)
        if clean is not None and not self.problem_count:
            spool.add(clean)

    def _record(self, number: int, problems: list[Problem]) -> None:
        self.bad_rows += 1
        self.problem_count += len(problems)
        room = self.report_limit - len(self.problems)
        self.problems.extend(
            {"row": number, "field": p.field, "problem": p.problem} for p in problems[:room]
        )

    def _check(self, row: SourceRow, problems: list[Problem]) -> CleanRow | None:
        raw = row.raw
        if not isinstance(raw, dict):
            problems.append(Problem("(row)", "A task must be a JSON object."))
            return None
        external_id = self._external_id(raw, row.number, problems)
        priority = _priority(raw, problems)
        data = {key: value for key, value in raw.items() if key not in RESERVED_KEYS}
        clean, input_problems = self.task_type.validate_input(data, self.settings)
        problems.extend(p for p in input_problems if _field_root(p.field) not in row.bad_fields)
        gold_json = self._gold(raw, clean, row.bad_fields, problems)
        explanation = self._explanation(raw, gold_given=raw.get("gold") is not None, out=problems)
        if clean is None:
            return None
        data_json = canonical_json(clean)
        if has_json_nul(data_json):
            problems.append(Problem("(row)", "Text cannot contain NUL characters (\\u0000)."))
        if external_id is None:
            external_id = derived_external_id(data_json)
            first = self._first_row_of.setdefault(external_id, row.number)
            if first != row.number:
                problems.append(
                    Problem("(row)", f"The same task as row {first:,} (same content, no id).")
                )
        if problems:
            return None
        return CleanRow(
            number=row.number,
            external_id=external_id,
            data_json=data_json,
            gold_json=gold_json,
            explanation=explanation,
            priority=priority,
        )

    def _external_id(self, raw: dict[str, Any], number: int, problems: list[Problem]) -> str | None:
        """The row's own external id (None when it has none), checked and made unique."""
        key = "external_id"
        value = raw.get(key)
        if value is None or value == "":
            key = "id"
            value = raw.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            problems.append(Problem(key, "An external id is text or a whole number."))
            return None
        text = str(value).strip()
        if not text:
            return None
        if len(text) > MAX_EXTERNAL_ID:
            problems.append(Problem(key, f"At most {MAX_EXTERNAL_ID} characters."))
            return None
        if CONTROL_CHARACTERS.search(text):
            problems.append(Problem(key, "Cannot contain control characters (tabs, line breaks)."))
            return None
        first = self._first_row_of.setdefault(text, number)
        if first != number:
            problems.append(Problem(key, f"“{text}” is also the id of row {first:,}."))
        return text

    def _gold(
        self,
        raw: dict[str, Any],
        clean: dict[str, Any] | None,
        bad_fields: frozenset[str],
        problems: list[Problem],
    ) -> str | None:
        given = raw.get("gold")
        if given is None:
            if self.kind == ImportKind.GOLD and "gold" not in bad_fields:
                problems.append(Problem("gold", "A gold task needs its answer."))
            return None
        if clean is None:
            return None  # the answer is checked against the task, which has problems
        answer = {"confidence": GOLD_CONFIDENCE, **given} if isinstance(given, dict) else given
        try:
            result = self.task_type.validate_result(
                answer, task=clean, settings=self.settings, prefix="gold"
            )
        except InvalidInput as error:
            problems.append(Problem(error.field or "gold", _problem_text(error)))
            return None
        gold_json = canonical_json(result)
        if has_json_nul(gold_json):
            problems.append(Problem("gold", "Text cannot contain NUL characters (\\u0000)."))
        return gold_json

    def _explanation(self, raw: dict[str, Any], *, gold_given: bool, out: list[Problem]) -> str:
        value = raw.get("gold_explanation")
        if value is None or value == "":
            return ""
        if not gold_given:
            out.append(Problem("gold_explanation", "Only gold tasks carry an explanation."))
            return ""
        if not isinstance(value, str):
            out.append(Problem("gold_explanation", "Must be text."))
            return ""
        text = value.strip()
        if len(text) > MAX_TEXT:
            out.append(Problem("gold_explanation", f"At most {MAX_TEXT:,} characters."))
        if "\x00" in text:
            out.append(Problem("gold_explanation", "Text cannot contain NUL characters."))
        return text
