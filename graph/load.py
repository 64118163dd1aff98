"""The edge of the graph layer: build or load a graph from the workspace, open a reader on it."""

from __future__ import annotations

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
from graph.transform import TableDelta, diff_table, graph_tables
from graph.workspace import Workspace

if TYPE_CHECKING:
    from neo4j import Driver

# graph.neo4j_backend is imported where it is used: the neo4j driver takes seconds to import,
# which the embedded default should not pay.


# Above this share of changed rows (all tables together) a full build is faster than a delta. A re-rank
# replaces RANKED_IN whole (7 % of the rows at 1M): at 10.7 % changed rows the delta took 102.6 s and the
# full build 74.8 s (1M, quiet; docs/performance.md "Delta load"), so a refresh that re-ranks is built
# whole and the delta serves small changes. PATENTGRAPH_GRAPH_DELTA_MAX overrides it.
_DELTA_MAX_FRACTION = 0.05

# Diffed first, so that a change too large for a delta is found after one or two tables: a re-rank
# rewrites RANKED_IN, a re-match RESOLVES_TO and the summaries.
_MOST_CHANGED_FIRST = ("RANKED_IN", "ACTIVE_IN_CHAIN", "ACTIVE_IN", "RESOLVES_TO")


def delta_max_fraction() -> float:
    override = os.environ.get("PATENTGRAPH_GRAPH_DELTA_MAX")
    return float(override) if override else _DELTA_MAX_FRACTION


def build_embedded_graph(workspace: Workspace, run_id: str, *, mode: str = "auto") -> LoadReport:
    """Make a new graph version from the contract tables and make it current.

    mode "full" rebuilds it; "delta" applies the rows changed since the current version's saved
    tables to a copy of it; "auto" (the default) applies a delta when there is a current version
    with saved tables of this schema and the change is at most `delta_max_fraction()` of the rows,
    and rebuilds otherwise (diffing stops as soon as the change is known to be too large). Both
    produce the same graph; the manifest records which was done.
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
    if saved is not None:
        all_tables = {**tables.nodes, **tables.rels}
        total = sum(t.num_rows for t in all_tables.values())
        budget = total if mode == "delta" else delta_max_fraction() * total
        order = [*_MOST_CHANGED_FIRST, *(name for name in all_tables if name not in _MOST_CHANGED_FIRST)]
        deltas, changed, steps["diff"] = {}, 0, 0.0
        for name in order:
            read_started = time.perf_counter()
            old = pq.read_table(saved[name])
            diff_started = time.perf_counter()
            deltas[name] = diff_table(name, old, all_tables[name])
            steps["read saved tables"] += diff_started - read_started
            steps["diff"] += time.perf_counter() - diff_started
            changed += deltas[name].changes
            if mode != "delta" and changed > budget:
                break
        if changed <= budget or mode == "delta":
            changes = {name: delta.changes for name, delta in deltas.items() if delta.changes}
            done, reason = "delta", f"{changed / max(total, 1):.2%} of the rows changed"
            path, nodes, rels = write_delta_version(workspace.graph_dir, previous, tables, deltas, steps)
        else:
            reason = (f"over {delta_max_fraction():.0%} of the rows changed ({changed / total:.2%} in "
                      f"{', '.join(deltas)} alone)")
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
                  "changed_rows": changes},
    })
    return report


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
