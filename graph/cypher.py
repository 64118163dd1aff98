"""Read-only Cypher over either backend: one entry point, a timeout, a row cap.

The real guarantee is the database's own read-only mode (LadybugDB opened read-only; Neo4j
sessions in READ access mode running read transactions). `check_read_only` comes first and
refuses obviously writing statements with a message that says which clause was refused.
Parameters are always bound by the driver, never formatted into the text.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
from rich.table import Table


class CypherError(ValueError):
    """The query could not run: syntax, unknown label, bad parameter... (the message says which)."""


class ReadOnlyViolation(CypherError):
    """The query would write; only reads are allowed."""


class QueryTimeout(CypherError):
    """The query ran longer than its time limit and was stopped."""


@dataclass(frozen=True)
class CypherResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool  # more rows existed than the row cap allowed
    elapsed_s: float


class GraphReader(Protocol):
    """A read-only connection to one graph (see `graph.embedded`, `graph.neo4j_backend`)."""

    backend: str

    def fetch(self, query: str, params: dict[str, Any], *, timeout_s: float,
              row_cap: int) -> tuple[list[str], list[list[Any]], bool]:
        """Run `query`; return columns, at most `row_cap` rows, and whether more existed."""

    def close(self) -> None: ...

    def __enter__(self) -> GraphReader: ...

    def __exit__(self, *exc: object) -> None: ...


# Clauses that write data or schema, touch files or extensions, or manage transactions.
_WRITING_CLAUSES = (
    "CREATE", "MERGE", "DELETE", "DETACH", "SET", "REMOVE", "DROP", "ALTER", "COPY", "LOAD", "INSTALL",
    "ATTACH", "FOREACH", "IMPORT", "EXPORT", "CHECKPOINT", "USE", "GRANT", "DENY", "REVOKE", "TERMINATE",
    "BEGIN", "COMMIT", "ROLLBACK", "RENAME",
)
# Procedures known to only read (schema introspection on either backend).
READ_PROCEDURES = frozenset({
    "show_tables", "table_info", "show_connection", "db.labels", "db.relationshiptypes", "db.propertykeys",
    "db.schema.visualization", "db.schema.nodetypeproperties", "db.schema.reltypeproperties",
})
_LITERAL_OR_COMMENT = re.compile(
    r"'(?:[^'\\]|\\.)*'"  # 'string'
    r'|"(?:[^"\\]|\\.)*"'  # "string"
    r"|`[^`]*`"  # `quoted identifier`
    r"|//[^\n]*"  # line comment
    r"|/\*.*?\*/",  # block comment
    re.DOTALL,
)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Every CALL must name its procedure plainly: a `quoted` name would hide it from the allowlist.
_CALL = re.compile(r"\bCALL\b\s*([A-Za-z_][\w.]*)?", re.IGNORECASE)


def check_read_only(query: str) -> None:
    """Raise ReadOnlyViolation if `query` has a writing clause, a non-read procedure or several statements."""
    code = _LITERAL_OR_COMMENT.sub(" ", query)
    for match in _WORD.finditer(code):
        word = match.group().upper()
        if word not in _WRITING_CLAUSES:
            continue
        before = code[: match.start()].rstrip()[-1:]
        after = code[match.end():].lstrip()[:1]
        # `n.set`, `$copy`, `(load:Patent)`, `{delete: 1}`: a name, not a clause.
        if before in (".", "$", "(", "[", ",", ":") or after in (":", ")", "]", ","):
            continue
        raise ReadOnlyViolation(
            f"refused: {word} at offset {match.start()} would change the graph or reach outside it;"
            " only read queries (MATCH ... RETURN) can run here"
        )
    for match in _CALL.finditer(code):
        name = match.group(1)
        if code[: match.start()].rstrip()[-1:] in (".", "$"):  # `n.call`, `$call`: a name, not a clause
            continue
        if name is None or name.lower() not in READ_PROCEDURES:
            raise ReadOnlyViolation(
                f"refused: CALL {name or '(unnamed or quoted procedure)'} at offset {match.start()} is not a known"
                f" read-only procedure; allowed: {', '.join(sorted(READ_PROCEDURES))}"
            )
    statements = [part for part in code.split(";") if part.strip()]
    if len(statements) > 1:
        raise ReadOnlyViolation("refused: several statements separated by ';'; run one query at a time")


def run_cypher(query: str, params: dict[str, Any] | None = None, *, backend: GraphReader, timeout_s: float,
               row_cap: int) -> CypherResult:
    """Run one read-only query with bound parameters, stopping it after `timeout_s` and at `row_cap` rows."""
    if not query.strip():
        raise CypherError("empty query")
    if timeout_s <= 0 or row_cap <= 0:
        raise ValueError(f"timeout_s and row_cap must be positive, got {timeout_s} and {row_cap}")
    params = dict(params or {})
    bad = [name for name in params if not isinstance(name, str) or not name.isidentifier()]
    if bad:
        raise CypherError(f"parameter names must be identifiers: {bad}")
    check_read_only(query)
    started = time.perf_counter()
    columns, rows, truncated = backend.fetch(query.strip().rstrip(";"), params, timeout_s=timeout_s,
                                             row_cap=row_cap)
    return CypherResult(columns, rows, truncated, time.perf_counter() - started)


# Output helpers --------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def to_dataframe(result: CypherResult) -> pd.DataFrame:
    return pd.DataFrame(result.rows, columns=result.columns)


def to_csv(result: CypherResult) -> str:
    """CSV text; lists and maps are written as JSON."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(result.columns)
    writer.writerows([_text(v) for v in row] for row in result.rows)
    return out.getvalue()


def to_json(result: CypherResult) -> str:
    """JSON text: {"columns", "rows" (one object per row), "truncated", "elapsed_s"}."""
    return json.dumps(
        {"columns": result.columns, "rows": [dict(zip(result.columns, row, strict=True)) for row in result.rows],
         "truncated": result.truncated, "elapsed_s": round(result.elapsed_s, 4)},
        ensure_ascii=False, default=str, indent=2,
    )


def to_rich_table(result: CypherResult, title: str | None = None) -> Table:
    caption = f"{len(result.rows)} rows in {result.elapsed_s:.3f} s"
    if result.truncated:
        caption += f" (truncated at {len(result.rows)}; raise the row cap to see more)"
    table = Table(title=title, caption=caption)
    for name in result.columns:
        table.add_column(name, overflow="fold")
    for row in result.rows:
        table.add_row(*[_text(v) for v in row])
    return table
