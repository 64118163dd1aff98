"""The embedded graph: LadybugDB database files, one per build, under `<workspace>/graph/`.

    graph/v0007.lbug      a complete build (a single database file)
    graph/v0007.json      its load report, written before it becomes current
    graph/CURRENT         the name of the version readers open ("v0007.lbug")

A build writes a new version file and, only once it is complete, replaces CURRENT atomically
(temporary file + os.replace). A reader opens the version CURRENT names, read-only, and keeps
reading it while later builds come and go; a build that dies never changes CURRENT. After a
switch, versions older than the current and the one before it are removed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import ladybug as lb
import pyarrow.parquet as pq

from graph.cypher import CypherError, QueryTimeout, ReadOnlyViolation
from graph.schema import NODE_TYPES, REL_TYPES
from graph.transform import GraphTables

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
    for rel in REL_TYPES:
        columns = "".join(f", {p.name} {p.ladybug_type}" for p in rel.props)
        statements.append(f"CREATE REL TABLE {rel.type}(FROM {rel.start} TO {rel.end}{columns})")
    return statements


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


def write_version(graph_dir: Path, tables: GraphTables,
                  step_seconds: dict[str, float] | None = None) -> tuple[Path, dict[str, int], dict[str, int]]:
    """Create the next version file from `tables`; return its path and the node / rel counts found in it.

    Does not touch CURRENT. On failure the partial file is removed. `step_seconds`, when given,
    receives the time of each step ("COPY Patent", ..., "count").
    """
    steps = step_seconds if step_seconds is not None else {}
    graph_dir.mkdir(parents=True, exist_ok=True)
    numbers = [n for n in (version_number(p) for p in graph_dir.iterdir()) if n is not None]
    path = graph_dir / f"v{max(numbers, default=0) + 1:04d}.lbug"
    staging = graph_dir / f"staging-{path.stem}"
    if "'" in str(staging) or "\\" in str(staging):
        raise ValueError(f"{staging}: the workspace path must not contain quotes or backslashes (COPY needs it)")
    try:
        staging.mkdir()
        database = lb.Database(str(path), buffer_pool_size=build_buffer_pool())
        try:
            connection = lb.Connection(database)
            for statement in ddl():
                connection.execute(statement)
            for name, table in [*tables.nodes.items(), *tables.rels.items()]:
                if table.num_rows:
                    started = time.perf_counter()
                    _copy(connection, staging, name, table)
                    steps[f"COPY {name}"] = time.perf_counter() - started
            started = time.perf_counter()
            nodes, rels = _counts(connection)
            steps["count"] = time.perf_counter() - started
            connection.close()
        finally:
            database.close()
    except BaseException:
        for leftover in graph_dir.glob(f"{path.name}*"):
            leftover.unlink()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path, nodes, rels


def _copy(connection: lb.Connection, staging: Path, name: str, table) -> None:
    file = staging / f"{name}.parquet"
    pq.write_table(table, file)
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
