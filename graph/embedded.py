"""The embedded graph: LadybugDB database files, one per build, under `<workspace>/graph/`.

    graph/v0007.lbug      a complete build (a single database file)
    graph/v0007.tables/   the node and relationship tables it was built from (Parquet), for the next delta
    graph/v0007.json      its load report, written before it becomes current
    graph/CURRENT         the name of the version readers open ("v0007.lbug")

A build writes a new version file and, only once it is complete, replaces CURRENT atomically
(temporary file + os.replace). A reader opens the version CURRENT names, read-only, and keeps
reading it while later builds come and go; a build that dies never changes CURRENT. After a
switch, versions older than the current and the one before it are removed.

A delta build (`write_delta_version`) copies the current version's file, applies the node rows that
changed since its saved tables (deletes, property updates, inserts) and the relationships added,
COPYs a relationship table that lost or changed rows (or gained many) whole, and is published the
same way, so readers see either the old complete version or the new complete one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import ladybug as lb
import pyarrow as pa
import pyarrow.parquet as pq

from graph.cypher import CypherError, QueryTimeout, ReadOnlyViolation
from graph.schema import NODE_TYPES, REL_TYPES
from graph.transform import GraphTables, TableDelta

CURRENT = "CURRENT"
_VERSION = re.compile(r"^v(\d{4,})\.lbug$")
_BUILD_POOL_CAP = 6 << 30  # a 1M-patent pipeline graph (9.4M nodes + relationships) builds within this
_READ_BUFFER_POOL = 512 << 20


def build_buffer_pool() -> int:
    """Bytes the graph build may use: PATENTGRAPH_GRAPH_BUILD_MB if set, else half the machine, at most 6 GiB."""
    override = os.environ.get("PATENTGRAPH_GRAPH_BUILD_MB")
    if override:
        return int(override) << 20
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1 << 30, min(_BUILD_POOL_CAP, physical // 2))


def ddl() -> list[str]:
    """CREATE statements for every node and relationship table of the schema."""
    statements = []
    for node in NODE_TYPES:
        columns = ", ".join(f"{p.name} {p.ladybug_type}" for p in node.props)
        statements.append(f"CREATE NODE TABLE {node.label}({columns}, PRIMARY KEY({node.key}))")
    return statements + [rel_table_statement(rel) for rel in REL_TYPES]


def rel_table_statement(rel) -> str:
    columns = "".join(f", {p.name} {p.ladybug_type}" for p in rel.props)
    return f"CREATE REL TABLE {rel.type}(FROM {rel.start} TO {rel.end}{columns})"


def version_number(path: Path) -> int | None:
    match = _VERSION.match(path.name)
    return int(match.group(1)) if match else None


def current_version(graph_dir: Path) -> Path | None:
    """The database file CURRENT names, or None before the first complete build."""
    pointer = graph_dir / CURRENT
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    path = graph_dir / name
    if version_number(path) is None or not path.exists():
        raise FileNotFoundError(f"{pointer}: names {name!r}, which is not a graph version in {graph_dir}")
    return path


def schema_fingerprint() -> str:
    """Changes whenever the schema does: saved tables from another schema cannot seed a delta."""
    return hashlib.sha256("\n".join(ddl()).encode()).hexdigest()[:16]


def saved_tables_dir(version: Path) -> Path:
    return version.with_suffix(".tables")


def saved_table_files(saved: Path) -> dict[str, Path] | None:
    """The Parquet file of each node and relationship table saved in `saved`, or None (none saved, other schema)."""
    fingerprint = saved / "SCHEMA"
    if not fingerprint.exists() or fingerprint.read_text(encoding="utf-8").strip() != schema_fingerprint():
        return None
    files = {name: saved / f"{name}.parquet" for name in [n.label for n in NODE_TYPES] + [r.type for r in REL_TYPES]}
    return files if all(file.exists() for file in files.values()) else None


def read_saved_tables(saved: Path) -> dict[str, pa.Table] | None:
    """The node and relationship tables saved in the directory `saved`, or None (none saved, other schema)."""
    files = saved_table_files(saved)
    return None if files is None else {name: pq.read_table(file) for name, file in files.items()}


def save_tables(target: Path, tables: GraphTables) -> None:
    """Write `tables` as the saved tables at `target` (a directory), replacing what was there atomically."""
    fresh, stale = target.with_name(f".{target.name}.new"), target.with_name(f".{target.name}.old")
    for leftover in (fresh, stale):
        shutil.rmtree(leftover, ignore_errors=True)
    fresh.mkdir(parents=True)
    for name, table in [*tables.nodes.items(), *tables.rels.items()]:
        pq.write_table(table, fresh / f"{name}.parquet")
    (fresh / "SCHEMA").write_text(schema_fingerprint() + "\n", encoding="utf-8")
    if target.exists():
        os.replace(target, stale)
    os.replace(fresh, target)
    shutil.rmtree(stale, ignore_errors=True)


def _next_version(graph_dir: Path) -> tuple[Path, Path]:
    graph_dir.mkdir(parents=True, exist_ok=True)
    numbers = [n for n in (version_number(p) for p in graph_dir.iterdir()) if n is not None]
    path = graph_dir / f"v{max(numbers, default=0) + 1:04d}.lbug"
    staging = graph_dir / f"staging-{path.stem}"
    if "'" in str(staging) or "\\" in str(staging):
        raise ValueError(f"{staging}: the workspace path must not contain quotes or backslashes (COPY needs it)")
    shutil.rmtree(saved_tables_dir(path), ignore_errors=True)  # a killed build's leftover of the same number
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "tables").mkdir(parents=True)
    return path, staging


def _discard(graph_dir: Path, path: Path) -> None:
    for leftover in graph_dir.glob(f"{path.name}*"):
        leftover.unlink()
    shutil.rmtree(saved_tables_dir(path), ignore_errors=True)


def _keep_tables(staging: Path, path: Path) -> None:
    """The tables this version was built from become its saved tables (the last step before publishing)."""
    (staging / "tables" / "SCHEMA").write_text(schema_fingerprint() + "\n", encoding="utf-8")
    os.replace(staging / "tables", saved_tables_dir(path))


def write_version(graph_dir: Path, tables: GraphTables,
                  step_seconds: dict[str, float] | None = None) -> tuple[Path, dict[str, int], dict[str, int]]:
    """Create the next version file from `tables`; return its path and the node / rel counts found in it.

    Does not touch CURRENT. On failure the partial file is removed. `step_seconds`, when given,
    receives the time of each step ("COPY Patent", ..., "count"). The staged tables are kept
    beside the version (`v000N.tables/`) so that the next load can apply a delta.
    """
    steps = step_seconds if step_seconds is not None else {}
    path, staging = _next_version(graph_dir)
    try:
        database = lb.Database(str(path), buffer_pool_size=build_buffer_pool())
        try:
            connection = lb.Connection(database)
            for statement in ddl():
                connection.execute(statement)
            for name, table in [*tables.nodes.items(), *tables.rels.items()]:
                started = time.perf_counter()
                _copy(connection, staging / "tables", name, table)
                steps[f"COPY {name}"] = time.perf_counter() - started
            started = time.perf_counter()
            nodes, rels = _counts(connection)
            steps["count"] = time.perf_counter() - started
            connection.close()
        finally:
            database.close()
        _keep_tables(staging, path)
    except BaseException as exc:
        _discard(graph_dir, path)
        _raise_io_error(exc, path)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path, nodes, rels


def _raise_io_error(exc: BaseException, path: Path) -> None:
    """LadybugDB reports a full disk or a read-only folder as a RuntimeError: make it the OSError it is."""
    if isinstance(exc, RuntimeError) and str(exc).startswith("IO exception"):
        raise OSError(f"{path}: the graph build could not write ({exc}); the current version is unchanged") from None


def write_delta_version(graph_dir: Path, previous: Path, tables: GraphTables, deltas: dict[str, TableDelta],
                        step_seconds: dict[str, float] | None = None, *,
                        replace: frozenset[str] = frozenset()) -> tuple[Path, dict[str, int], dict[str, int]]:
    """Create the next version as a copy of `previous` with `deltas` applied; return path and counts.

    `deltas` holds every node table and the relationship tables that only gained rows; the relationship
    tables in `replace` (any with a deleted or changed row: deleting relationships costs LadybugDB more
    than a COPY, graph/load.py) are dropped, recreated and COPYed whole from `tables` instead. Order: the
    replaced tables dropped, removed nodes detach-deleted, changed node properties SET, new nodes and
    relationships COPYed in. Does not touch CURRENT; on failure the partial copy is removed.
    """
    kept = [rel.type for rel in REL_TYPES if rel.type not in replace]
    if any(deltas[name].deleted.num_rows or deltas[name].updated.num_rows for name in kept):
        raise ValueError("a relationship table with deleted or changed rows must be replaced whole")
    steps = step_seconds if step_seconds is not None else {}
    path, staging = _next_version(graph_dir)
    saved = saved_tables_dir(previous)
    try:
        started = time.perf_counter()
        shutil.copyfile(previous, path)
        steps["copy previous version"] = time.perf_counter() - started
        database = lb.Database(str(path), buffer_pool_size=build_buffer_pool())
        try:
            connection = lb.Connection(database)
            for rel in REL_TYPES:
                if rel.type in replace:
                    started = time.perf_counter()
                    connection.execute(f"DROP TABLE {rel.type}")
                    connection.execute(rel_table_statement(rel))
                    steps[f"drop {rel.type}"] = time.perf_counter() - started
            for node in NODE_TYPES:
                delta = deltas[node.label]
                started = time.perf_counter()
                _load_from(connection, staging, f"delete-{node.label}", delta.deleted, delete_nodes_statement(node))
                _load_from(connection, staging, f"update-{node.label}", delta.updated, update_nodes_statement(node))
                _copy(connection, staging, node.label, delta.inserted)
                steps[f"apply {node.label}"] = time.perf_counter() - started
            for rel in REL_TYPES:
                started = time.perf_counter()
                if rel.type in replace:
                    _copy(connection, staging, rel.type, tables.rels[rel.type])
                    steps[f"COPY {rel.type}"] = time.perf_counter() - started
                else:
                    _copy(connection, staging, rel.type, deltas[rel.type].inserted)
                    steps[f"insert {rel.type}"] = time.perf_counter() - started
            started = time.perf_counter()
            nodes, rels = _counts(connection)
            steps["count"] = time.perf_counter() - started
            connection.close()
        finally:
            database.close()
        started = time.perf_counter()
        for name, table in [*tables.nodes.items(), *tables.rels.items()]:
            target = staging / "tables" / f"{name}.parquet"
            if name in replace:  # COPYed whole from this very file
                os.replace(staging / f"{name}.parquet", target)
            elif deltas[name].changes:
                pq.write_table(table, target)
            else:  # unchanged: share the previous version's file
                os.link(saved / f"{name}.parquet", target)
        _keep_tables(staging, path)
        steps["save tables"] = time.perf_counter() - started
    except BaseException as exc:
        _discard(graph_dir, path)
        _raise_io_error(exc, path)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path, nodes, rels


def delete_nodes_statement(node) -> str:
    """LOAD FROM a file of keys (c0): delete those nodes with any relationship still attached."""
    return f"MATCH (n:{node.label} {{{node.key}: c0}}) DETACH DELETE n"


def update_nodes_statement(node) -> str:
    """LOAD FROM a file of whole node rows (c0 = key, c1... = properties in schema order): SET every property."""
    assignments = ", ".join(f"n.{p.name} = c{i}" for i, p in enumerate(node.props) if p.name != node.key)
    return f"MATCH (n:{node.label} {{{node.key}: c0}}) SET {assignments}"


def _load_from(connection: lb.Connection, staging: Path, name: str, table: pa.Table, statement: str) -> None:
    """Run `statement` once per row of `table`, read by LadybugDB from a Parquet file (columns c0, c1, ...)."""
    if not table.num_rows:
        return
    file = staging / f"{name}.parquet"
    pq.write_table(table.rename_columns([f"c{i}" for i in range(table.num_columns)]), file)
    connection.execute(f"LOAD FROM '{file}' {statement}")


def _copy(connection: lb.Connection, staging: Path, name: str, table) -> None:
    """Write `table` to `<staging>/<name>.parquet` and COPY it in (nothing to COPY when it has no rows)."""
    file = staging / f"{name}.parquet"
    pq.write_table(table, file)
    if table.num_rows:
        connection.execute(f"COPY {name} FROM '{file}'")


def _counts(connection: lb.Connection) -> tuple[dict[str, int], dict[str, int]]:
    def count(query: str) -> int:
        return connection.execute(query).get_next()[0]

    nodes = {n.label: count(f"MATCH (n:{n.label}) RETURN count(n)") for n in NODE_TYPES}
    rels = {r.type: count(f"MATCH ()-[r:{r.type}]->() RETURN count(r)") for r in REL_TYPES}
    return nodes, rels


def publish_version(graph_dir: Path, path: Path, manifest: dict) -> None:
    """Record the version's manifest, point CURRENT at it atomically, then prune old versions."""
    _write_atomically(path.with_suffix(".json"), json.dumps(manifest, ensure_ascii=False, indent=2, default=str))
    previous = current_version(graph_dir)
    _write_atomically(graph_dir / CURRENT, path.name + "\n")
    _prune(graph_dir, path, previous)


def _write_atomically(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _prune(graph_dir: Path, current: Path, previous: Path | None) -> None:
    """Remove versions older than `current` except `previous` (so two versions stay), and killed builds' leftovers."""
    keep = {current.stem} | ({previous.stem} if previous else set())
    newest = version_number(current)
    for path in graph_dir.iterdir():
        stem = path.name.split(".")[0]
        number = version_number(graph_dir / f"{stem}.lbug")
        if number is None or number >= newest or stem in keep:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for staging in graph_dir.glob("staging-v*"):
        number = version_number(graph_dir / f"{staging.name.removeprefix('staging-')}.lbug")
        if number is not None and number < newest:
            shutil.rmtree(staging, ignore_errors=True)


def read_manifest(graph_dir: Path) -> dict | None:
    """The load report of the current version, as written at build time."""
    path = current_version(graph_dir)
    if path is None or not path.with_suffix(".json").exists():
        return None
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


class LadybugReader:
    """A read-only LadybugDB database; one connection per query, so threads (Dash callbacks) can share it."""

    backend = "ladybug"

    def __init__(self, path: Path):
        self.path = path
        self._database = lb.Database(str(path), read_only=True, buffer_pool_size=_READ_BUFFER_POOL)

    def fetch(self, query: str, params: dict[str, Any], *, timeout_s: float,
              row_cap: int) -> tuple[list[str], list[list[Any]], bool]:
        connection = lb.Connection(self._database)
        try:
            connection.set_query_timeout(max(1, round(timeout_s * 1000)))
            try:
                result = connection.execute(query, params)
            except RuntimeError as exc:
                raise _translate(exc, timeout_s) from None
            if isinstance(result, list):
                raise CypherError("several statements in one query; run one at a time")
            columns = result.get_column_names()
            rows = []
            while result.has_next() and len(rows) <= row_cap:
                rows.append([_plain(value) for value in result.get_next()])
            result.close()
        finally:
            connection.close()
        truncated = len(rows) > row_cap
        return columns, rows[:row_cap], truncated

    def close(self) -> None:
        self._database.close()

    def __enter__(self) -> LadybugReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _translate(exc: RuntimeError, timeout_s: float) -> CypherError:
    message = str(exc)
    if message.strip().rstrip(".") == "Interrupted":
        return QueryTimeout(f"query stopped after the {timeout_s:g} s time limit; narrow it or add LIMIT")
    if "read-only" in message:
        return ReadOnlyViolation(f"refused by the database: {message}")
    return CypherError(message)


def _plain(value: Any) -> Any:
    """LadybugDB nodes, relationships and paths as plain maps: internal ids dropped, label kept."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "_nodes" in value and "_rels" in value:
        return {"nodes": _plain(value["_nodes"]), "relationships": _plain(value["_rels"])}
    if "_SRC" in value:
        out = {"_type": value.get("_LABEL")}
    elif "_ID" in value:
        out = {"_label": value.get("_LABEL")}
    else:
        return {k: _plain(v) for k, v in value.items()}
    out.update({k: _plain(v) for k, v in value.items() if not k.startswith("_")})
    return out
