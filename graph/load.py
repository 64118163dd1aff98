"""The edge of the graph layer: build or load a graph from the workspace, open a reader on it."""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from graph.config import Settings
from graph.cypher import GraphReader
from graph.embedded import (
    LadybugReader,
    current_version,
    publish_version,
    read_saved_tables,
    save_tables,
    saved_table_files,
    saved_tables_dir,
    write_delta_version,
    write_version,
)
from graph.report import LoadReport
from graph.schema import RELS
from graph.transform import TableDelta, diff_table, graph_tables, key_columns
from graph.workspace import Workspace

if TYPE_CHECKING:
    from neo4j import Driver

# graph.neo4j_backend is imported where it is used: the neo4j driver takes seconds to import,
# which the embedded default should not pay.


# A delta is applied when its estimated cost is at most this share of a full build's (estimates below;
# at 1M the refresh's delta was estimated at 0.83 and cost 0.85-0.88 of the full build's CPU seconds,
# 0.93-1.02 of its wall time, same sitting: docs/performance.md "Delta load by estimated cost").
# PATENTGRAPH_GRAPH_DELTA_MAX overrides it.
_DELTA_MAX_SHARE = 0.9

# What a delta costs whatever changed, as a share of a full build: copying the previous database file,
# reading and diffing the saved tables, saving the new ones (1M: 0.8 + 5.9 + 1.4 s of a 59 s build).
_DELTA_FIXED_SHARE = 0.15

# Deleting relationships costs more than COPYing their table whole: LadybugDB's checkpoint then rewrites the
# relationship storage of every node group a deletion touches, and a refresh's deletions are spread over
# all of them. 1M graph, 300-1,000 random rows deleted, checkpointed, against the table's COPY in a full
# build: RANKED_IN 55.3 s vs 21.4, ACTIVE_IN_CHAIN 13.0 vs 2.3, RESOLVES_TO 10.2 vs 10.7, CITES 4.8 vs 2.6,
# IN_NODE 4.2 vs 4.0, FILED 3.3 vs 4.9, ACTIVE_IN 1.8 vs 2.8, LOCATED_IN 0.4 vs 0.8 (and a changed row is
# a deletion plus an insert). So a relationship table with a deleted or changed row is replaced whole
# (docs/performance.md "Small refreshes: the graph load").
#
# Inserts alone are cheaper: 0.25-0.5 of the COPY for 1,000 rows (1.1 for RESOLVES_TO, whose evidence texts
# are most of its bytes). Above this share of the rows they are COPYed with the table instead.
REWRITE_SHARE = 0.01

# Applying changes row by row to a table costs about this much of its COPY for each changed share of its
# rows: at 1M, 1 % of the rows changed cost Patent 0.52 of its COPY, Firm 0.30, FILED 0.38, IN_NODE 0.10
# (one delta and one full build under the same load, 00:59-01:02 UTC) ...
_ROW_DELTA_WEIGHT = 30
# ... and at least this much once any row changed: the checkpoint rewrites whole column chunks. 0.1 % of
# the rows changed: Patent 0.19, IN_NODE 0.25, FILED 0.24, Applicant 0.42, Firm 0.55.
_ROW_DELTA_FLOOR = 0.25


def delta_max_share() -> float:
    override = os.environ.get("PATENTGRAPH_GRAPH_DELTA_MAX")
    return float(override) if override else _DELTA_MAX_SHARE


def copy_cost(table: pa.Table) -> int:
    """A full build's cost of COPYing `table`, in its Arrow bytes: COPY time follows them (1M full build,
    the big tables: 24-45 ns a byte; RANKED_IN 17.1 s for 380 MB, RESOLVES_TO 10.2 s for 332 MB, CITES
    3.0 s for 80 MB), while rows alone do not (RESOLVES_TO: 268k rows, three times CITES' time per row)."""
    return table.nbytes


def replaced_whole(name: str, table: pa.Table, delta: TableDelta) -> bool:
    """Whether a delta drops and re-COPYs this table instead of applying its changed rows (relationship
    tables only: a node table cannot be dropped under its relationships)."""
    if name not in RELS:
        return False
    return bool(delta.deleted.num_rows or delta.updated.num_rows) or delta.changes > REWRITE_SHARE * table.num_rows


def delta_cost(name: str, table: pa.Table, delta: TableDelta) -> float:
    """A delta's cost for one table, in the units of `copy_cost`."""
    if not delta.changes:
        return 0.0
    if replaced_whole(name, table, delta):
        return copy_cost(table)
    share = delta.changes / max(table.num_rows, 1)
    return copy_cost(table) * min(1.0, _ROW_DELTA_FLOOR + _ROW_DELTA_WEIGHT * share)


def _probe_columns(name: str, table: pa.Table) -> list[str]:
    """The key columns and the short ones (numbers, dates, flags): their changes are a lower bound of the
    table's, found without reading the long texts and lists of the saved table (a re-rank changes the
    numbers of nearly every RANKED_IN row)."""
    keys = key_columns(name)
    return [f.name for f in table.schema
            if f.name in keys or not (pa.types.is_string(f.type) or pa.types.is_list(f.type))]


def build_embedded_graph(workspace: Workspace, run_id: str, *, mode: str = "auto") -> LoadReport:
    """Make a new graph version from the contract tables and make it current.

    mode "full" rebuilds it; "delta" applies the rows changed since the current version's saved
    tables to a copy of it; "auto" (the default) applies a delta when there is a current version
    with saved tables of this schema and the delta's estimated cost is at most `delta_max_share()`
    of a full build's, and rebuilds otherwise (diffing stops as soon as the delta is known to be too
    dear). Both produce the same graph; the manifest records which was done and why.
    """
    if mode not in ("auto", "full", "delta"):
        raise ValueError(f"load mode {mode!r}: expected auto, full or delta")
    started = time.perf_counter()
    tables = graph_tables(workspace)
    steps = {"transform": time.perf_counter() - started, "read saved tables": 0.0}
    previous = current_version(workspace.graph_dir)
    saved = saved_table_files(saved_tables_dir(previous)) if previous is not None and mode != "full" else None
    done, reason = "full", "full build asked for" if mode == "full" else "no saved tables of this schema"
    changes: dict[str, int] = {}
    replace: set[str] = set()
    if saved is not None:
        all_tables = {**tables.nodes, **tables.rels}
        full_cost = sum(copy_cost(t) for t in all_tables.values())
        limit = math.inf if mode == "delta" else delta_max_share() * full_cost
        estimate = _DELTA_FIXED_SHARE * full_cost
        deltas, at_least, steps["diff"] = {}, {}, 0.0
        # Dearest tables first, so that a delta too dear is found after one or two of them. A relationship
        # table whose long columns are most of it is first compared on its short ones: a deleted or changed
        # row there is enough to replace it whole (then its long texts are never read).
        for name in sorted(all_tables, key=lambda n: copy_cost(all_tables[n]), reverse=True):
            new = all_tables[name]
            probe = _probe_columns(name, new)
            found = None
            if name in RELS and 2 * new.select(probe).nbytes < new.nbytes:
                found = _diff(name, saved[name], new.select(probe), steps, probe)
            if found is None or not replaced_whole(name, new, found):
                found = deltas[name] = _diff(name, saved[name], new, steps)
            if replaced_whole(name, new, found):
                replace.add(name)
            at_least[name] = found.changes
            estimate += delta_cost(name, new, found)
            if estimate > limit:
                break
        share = f"a delta estimated at {estimate / max(full_cost, 1):.0%} of a full build's cost"
        if estimate <= limit:
            changes = {name: count for name, count in at_least.items() if count}
            rows = sum(t.num_rows for t in all_tables.values())
            done, reason = "delta", f"{share} ({sum(changes.values()) / max(rows, 1):.2%} of the rows changed or more)"
            path, nodes, rels = write_delta_version(workspace.graph_dir, previous, tables, deltas, steps,
                                                    replace=frozenset(replace))
        else:
            reason = (f"{share} or more, over the {delta_max_share():.0%} limit, after comparing "
                      f"{', '.join(at_least)}")
    elif mode == "delta":
        raise ValueError(f"{workspace.graph_dir}: no current version with saved tables of this schema to apply"
                         " a delta to; run `patentgraph load --full`")
    if done == "full":
        path, nodes, rels = write_version(workspace.graph_dir, tables, steps)
    report = LoadReport("ladybug", run_id, nodes, rels, dict(tables.skipped), tables.missing_tables,
                        time.perf_counter() - started, path)
    publish_version(workspace.graph_dir, path, {
        **asdict(report), "version_path": path.name, "step_seconds": steps,
        "build": {"mode": done, "reason": reason, "base": previous.name if done == "delta" else None,
                  "changed_rows": changes, "replaced": sorted(replace) if done == "delta" else []},
    })
    return report


def _diff(name: str, saved: Path, new: pa.Table, steps: dict[str, float],
          columns: list[str] | None = None) -> TableDelta:
    """diff_table of `new` against the saved table's file (its `columns` only), timing the read and the diff."""
    started = time.perf_counter()
    old = pq.read_table(saved, columns=columns)
    steps["read saved tables"] += time.perf_counter() - started
    started = time.perf_counter()
    delta = diff_table(name, old, new)
    steps["diff"] += time.perf_counter() - started
    return delta


def load_neo4j(workspace: Workspace, settings: Settings, run_id: str, driver: Driver | None = None) -> LoadReport:
    """Bring the configured Neo4j database up to the workspace tables.

    The tables last loaded into that database are saved under `<workspace>/graph/neo4j/<database>/`;
    when they are there, only the difference is sent: relationships and nodes no longer in the
    tables are deleted, new and changed ones MERGEd. Without them (first load, other schema) every
    row is MERGEd (an upsert: nothing already in the database is removed).
    """
    from neo4j.exceptions import AuthError, DriverError, TransientError

    from graph.neo4j_backend import Neo4jGraph, neo4j_driver

    started = time.perf_counter()
    tables = graph_tables(workspace)
    saved_dir = neo4j_saved_tables_dir(workspace, settings.neo4j.database)
    saved = read_saved_tables(saved_dir)
    deltas = {name: diff_table(name, saved[name], table)
              for name, table in [*tables.nodes.items(), *tables.rels.items()]} if saved else None
    own_driver = driver is None
    driver = driver or neo4j_driver(settings)
    try:
        graph = Neo4jGraph(driver, settings.neo4j.database, settings.neo4j.batch_size)
        graph.ensure_constraints()
        if deltas:
            for rel_type in tables.rels:
                graph.delete_rels(RELS[rel_type], deltas[rel_type].deleted)
            for label in tables.nodes:
                graph.delete_nodes(label, deltas[label].deleted)
        for label, table in tables.nodes.items():
            graph.write_nodes(label, _changed(deltas, label, table))
        for rel_type, table in tables.rels.items():
            graph.write_rels(RELS[rel_type], _changed(deltas, rel_type, table))
        nodes, rels = graph.counts()
    except (DriverError, AuthError, TransientError) as exc:  # unreachable, restarted past the retries, refused
        raise ConnectionError(
            f"Neo4j load into database {settings.neo4j.database!r} at {settings.neo4j.uri} stopped: {exc}. This load"
            " is not recorded, so the next one sends its changes again (MERGE and the deletes are safe to repeat)"
        ) from None
    finally:
        if own_driver:
            driver.close()
    save_tables(saved_dir, tables)  # only once the database holds them
    return LoadReport("neo4j", run_id, nodes, rels, dict(tables.skipped), tables.missing_tables,
                      time.perf_counter() - started)


def neo4j_saved_tables_dir(workspace: Workspace, database: str) -> Path:
    return workspace.graph_dir / "neo4j" / re.sub(r"[^\w.-]", "_", database)


def _changed(deltas: dict[str, TableDelta] | None, name: str, table: pa.Table) -> pa.Table:
    """The rows to MERGE: all of them without a saved base, else the new and changed ones."""
    if deltas is None:
        return table
    return pa.concat_tables([deltas[name].inserted, deltas[name].updated])


def open_reader(source: Settings | Workspace) -> GraphReader:
    """A read-only reader on the configured backend (a Workspace means its embedded graph); use with `with`."""
    if isinstance(source, Settings) and source.backend == "neo4j":
        from graph.neo4j_backend import Neo4jReader, neo4j_driver

        return Neo4jReader(neo4j_driver(source), source.neo4j.database, owns_driver=True)
    workspace = source if isinstance(source, Workspace) else Workspace(source.workspace)
    path = current_version(workspace.graph_dir)
    if path is None:
        raise FileNotFoundError(f"{workspace.graph_dir}: no graph built yet; run `patentgraph load` first")
    return LadybugReader(path)
