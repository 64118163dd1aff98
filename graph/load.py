"""The edge of the graph layer: build or load a graph from the workspace, open a reader on it."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING

from graph.config import Settings
from graph.cypher import GraphReader
from graph.embedded import LadybugReader, current_version, publish_version, write_version
from graph.report import LoadReport
from graph.schema import RELS
from graph.transform import graph_tables
from graph.workspace import Workspace

if TYPE_CHECKING:
    from neo4j import Driver

# graph.neo4j_backend is imported where it is used: the neo4j driver takes seconds to import,
# which the embedded default should not pay.


def build_embedded_graph(workspace: Workspace, run_id: str) -> LoadReport:
    """Rebuild the embedded graph from the contract tables as a new version and make it current."""
    started = time.perf_counter()
    tables = graph_tables(workspace)
    steps = {"transform": time.perf_counter() - started}
    path, nodes, rels = write_version(workspace.graph_dir, tables, steps)
    report = LoadReport("ladybug", run_id, nodes, rels, dict(tables.skipped), tables.missing_tables,
                        time.perf_counter() - started, path)
    publish_version(workspace.graph_dir, path, {**asdict(report), "version_path": path.name, "step_seconds": steps})
    return report


def load_neo4j(workspace: Workspace, settings: Settings, run_id: str, driver: Driver | None = None) -> LoadReport:
    """MERGE the graph into the configured Neo4j database (an upsert: nothing already there is removed)."""
    from graph.neo4j_backend import Neo4jGraph, neo4j_driver

    started = time.perf_counter()
    tables = graph_tables(workspace)
    own_driver = driver is None
    driver = driver or neo4j_driver(settings)
    try:
        graph = Neo4jGraph(driver, settings.neo4j.database, settings.neo4j.batch_size)
        graph.ensure_constraints()
        for label, table in tables.nodes.items():
            graph.write_nodes(label, table)
        for rel_type, table in tables.rels.items():
            graph.write_rels(RELS[rel_type], table)
        nodes, rels = graph.counts()
    finally:
        if own_driver:
            driver.close()
    return LoadReport("neo4j", run_id, nodes, rels, dict(tables.skipped), tables.missing_tables,
                      time.perf_counter() - started)


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
