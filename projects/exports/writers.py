"""Serialise chunks of export rows as JSON Lines, CSV or Parquet, yielding bytes.

Every writer takes the row chunks lazily and yields one block of bytes per chunk, so a
file of any size is produced in the memory of one chunk. The layout of CSV and Parquet
comes from the shape's fields (``rows.columns_for``), so an export without rows still
carries its header or schema.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any

import orjson

from projects.exports.provenance import Field

if TYPE_CHECKING:
    import pyarrow as pa
from projects.exports.rows import field_names
from projects.states import ExportFormat

PARQUET_BATCH_ROWS = 5000
CONTENT_TYPES: dict[str, str] = {
    ExportFormat.JSONL: "application/x-ndjson; charset=utf-8",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
}
EXTENSIONS: dict[str, str] = {
    ExportFormat.JSONL: "jsonl",
    ExportFormat.CSV: "csv",
    ExportFormat.PARQUET: "parquet",
}
# Characters JSON allows raw inside strings that Python's ``str.splitlines`` (and other
# line readers) treat as line ends: escaped, so one row stays one line for every reader.
LINE_BREAKS = (
    (b"\xe2\x80\xa8", b"\\u2028"),
    (b"\xe2\x80\xa9", b"\\u2029"),
    (b"\xc2\x85", b"\\u0085"),
)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# JSON Lines -----------------------------------------------------------------------------


def jsonl(
    columns: list[Field], chunks: Iterable[list[dict[str, Any]]]
) -> Generator[bytes, None, None]:
    """One JSON object per line (UTF-8, ``\\n`` line ends)."""
    dumps = orjson.dumps
    for chunk in chunks:
        if not chunk:
            continue
        block = b"\n".join([dumps(row) for row in chunk]) + b"\n"
        for raw, escaped in LINE_BREAKS:
            if raw in block:
                block = block.replace(raw, escaped)
        yield block


# CSV ------------------------------------------------------------------------------------


Getter = Callable[[dict[str, Any]], Any]


def _flag_cell(value: Any) -> Any:
    return "" if value is None else ("true" if value else "false")


def _json_cell(value: Any) -> Any:
    return "" if value is None else _dumps(value)


def _plain_cell(value: Any) -> Any:
    return "" if value is None else value


def _cell_for(column: Field) -> Callable[[Any], Any]:
    if column.kind == "bool":
        return _flag_cell
    if column.kind in {"json", "strings", "ints", "records"}:
        return _json_cell
    return _plain_cell


def _leaf(name: str, cell: Callable[[Any], Any]) -> Getter:
    def get(row: dict[str, Any]) -> Any:
        return cell(row.get(name))

    return get


def _nested(name: str, inner: Getter) -> Getter:
    def get(row: dict[str, Any]) -> Any:
        return inner(row.get(name) or {})

    return get


def _csv_getters(columns: list[Field]) -> list[Getter]:
    """One function per CSV column reading its (possibly nested) value from a row."""
    getters: list[Getter] = []
    for column in columns:
        if column.kind == "struct":
            getters.extend(
                _nested(column.name, inner) for inner in _csv_getters(list(column.children))
            )
        else:
            getters.append(_leaf(column.name, _cell_for(column)))
    return getters


def csv_rows(
    columns: list[Field], chunks: Iterable[list[dict[str, Any]]]
) -> Generator[bytes, None, None]:
    """A header of dotted column names (``provenance.review.decision``), then one line per
    row; lists and mappings are JSON text, booleans ``true``/``false``, null empty."""
    getters = _csv_getters(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(field_names(columns))
    yield buffer.getvalue().encode()
    for chunk in chunks:
        if not chunk:
            continue
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([[get(row) for get in getters] for row in chunk])
        yield buffer.getvalue().encode()


# Parquet --------------------------------------------------------------------------------

# pyarrow is imported when a Parquet file is written: it weighs ~100 MB in every process.


def _scalar_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    return {
        "string": pa.string,
        "int": pa.int64,
        "float": pa.float64,
        "bool": pa.bool_,
        "json": pa.string,
        "strings": lambda: pa.list_(pa.string()),
        "ints": lambda: pa.list_(pa.int64()),
    }[kind]()


def arrow_type(column: Field) -> pa.DataType:
    import pyarrow as pa

    if column.kind == "struct":
        return pa.struct([arrow_field(child) for child in column.children])
    if column.kind == "records":
        return pa.list_(pa.struct([arrow_field(child) for child in column.children]))
    return _scalar_type(column.kind)


def arrow_field(column: Field) -> pa.Field:
    import pyarrow as pa

    return pa.field(column.name, arrow_type(column))


def arrow_schema(columns: list[Field]) -> pa.Schema:
    """Nested provenance as a struct, lists of turns as lists of structs, free-form JSON
    values (criteria, scores, task data) as JSON text: columns pandas and ``datasets`` read
    as they are."""
    import pyarrow as pa

    return pa.schema([arrow_field(column) for column in columns])


def _prepare(value: Any, column: Field) -> Any:
    if value is None:
        return None
    kind = column.kind
    if kind == "json":
        return _dumps(value)
    if kind == "string" and not isinstance(value, str):
        return _dumps(value)
    if kind == "struct":
        return {child.name: _prepare(value.get(child.name), child) for child in column.children}
    if kind == "records":
        return [
            {child.name: _prepare(item.get(child.name), child) for child in column.children}
            for item in value
        ]
    return value


class _Drain:
    """A write-only file that hands over what was written since the last ``take``."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        block = bytes(data)
        self.parts.append(block)
        self.position += len(block)
        return len(block)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def take(self) -> bytes:
        block = b"".join(self.parts)
        self.parts.clear()
        return block


def parquet(
    columns: list[Field], chunks: Iterable[list[dict[str, Any]]]
) -> Generator[bytes, None, None]:
    """Parquet with a fixed schema per shape, a row group per ``PARQUET_BATCH_ROWS`` rows
    (zstd), streamed as the groups are written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(columns)
    drain = _Drain()
    writer = pq.ParquetWriter(pa.PythonFile(drain, mode="w"), schema, compression="zstd")
    pending: list[dict[str, Any]] = []

    def flush() -> bytes:
        table = pa.Table.from_pylist(pending, schema=schema)
        writer.write_table(table, row_group_size=PARQUET_BATCH_ROWS)
        pending.clear()
        return drain.take()

    try:
        for chunk in chunks:
            pending.extend(
                {column.name: _prepare(row.get(column.name), column) for column in columns}
                for row in chunk
            )
            if len(pending) >= PARQUET_BATCH_ROWS:
                yield flush()
        if pending:
            yield flush()
    finally:
        writer.close()
    yield drain.take()


WRITERS: dict[
    str, Callable[[list[Field], Iterable[list[dict[str, Any]]]], Generator[bytes, None, None]]
] = {
    ExportFormat.JSONL: jsonl,
    ExportFormat.CSV: csv_rows,
    ExportFormat.PARQUET: parquet,
}


def write(
    format: str, columns: list[Field], chunks: Iterable[list[dict[str, Any]]]
) -> Generator[bytes, None, None]:
    """The export file's bytes, block by block."""
    return WRITERS[format](columns, chunks)
