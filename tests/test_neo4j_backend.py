"""Neo4j backend: query builders as text, neo4j-admin CSV export, and (with NEO4J_URI) a real server."""

from __future__ import annotations

import csv
import os
import re

import pyarrow as pa
import pytest
from graph_fixtures import F_SHELL, pub, write_fixture_workspace

from graph.admin_import import export_admin_import_csvs, node_header, rel_header
from graph.catalog import list_queries
from graph.config import Settings, load_settings
from graph.cypher import ReadOnlyViolation, run_cypher
from graph.load import build_embedded_graph, load_neo4j, neo4j_saved_tables_dir, open_reader
from graph.neo4j_backend import (
    Neo4jReader,
    batches,
    constraint_statements,
    delete_nodes_query,
    delete_rels_query,
    merge_nodes_query,
    merge_rels_query,
    neo4j_driver,
)
from graph.schema import NODE_TYPES, NODES, REL_TYPES, RELS


def test_one_idempotent_uniqueness_constraint_per_label():
    statements = constraint_statements()
    assert len(statements) == len(NODE_TYPES)
    for node, statement in zip(NODE_TYPES, statements, strict=True):
        assert statement.startswith("CREATE CONSTRAINT ") and " IF NOT EXISTS " in statement
        assert f"FOR (n:{node.label}) REQUIRE n.{node.key} IS UNIQUE" in statement
    assert len(set(statements)) == len(statements)


@pytest.mark.parametrize("node", NODE_TYPES, ids=lambda n: n.label)
def test_node_merge_is_one_parameterised_unwind(node):
    query = merge_nodes_query(node)
    lines = query.splitlines()
    assert lines[0] == "UNWIND $rows AS row"
    assert lines[1] == f"MERGE (n:{node.label} {{{node.key}: row.{node.key}}})"
    for prop in node.props:
        if prop.name != node.key:
            assert f"n.{prop.name} = row.{prop.name}" in lines[2]
    assert not re.search(r"['\"]|\d", query), "values must travel as parameters, not text"


@pytest.mark.parametrize("rel", REL_TYPES, ids=lambda r: r.type)
def test_relationship_merge_matches_endpoints_by_key(rel):
    query = merge_rels_query(rel)
    start, end = NODES[rel.start], NODES[rel.end]
    assert query.startswith("UNWIND $rows AS row\n")
    assert f"MATCH (a:{start.label} {{{start.key}: row.src}})" in query
    assert f"MATCH (b:{end.label} {{{end.key}: row.dst}})" in query
    assert f"MERGE (a)-[r:{rel.type}" in query
    for prop in rel.props:
        assert f"row.{prop.name}" in query
    assert not re.search(r"['\"]|\d", query)


def test_resolves_to_merges_one_relationship_per_link_type():
    assert "MERGE (a)-[r:RESOLVES_TO {link_type: row.link_type}]->(b)" in merge_rels_query(RELS["RESOLVES_TO"])
    assert "MERGE (a)-[r:CITES]->(b)" in merge_rels_query(RELS["CITES"])


@pytest.mark.parametrize("rel", REL_TYPES, ids=lambda r: r.type)
def test_relationship_delete_matches_ends_and_identity(rel):
    query = delete_rels_query(rel)
    start, end = NODES[rel.start], NODES[rel.end]
    lines = query.splitlines()
    assert lines[0] == "UNWIND $rows AS row"
    assert lines[1] == f"MATCH (a:{start.label} {{{start.key}: row.src}})-[r:{rel.type}]->(b:{end.label} {{{end.key}: row.dst}})"
    assert lines[-1] == "DELETE r"  # the relationship only, never its end nodes
    for name in rel.identity:
        assert f"r.{name} = row.{name}" in query and f"r.{name} IS NULL AND row.{name} IS NULL" in query
    assert not re.search(r"['\"]|\d", query)


@pytest.mark.parametrize("node", NODE_TYPES, ids=lambda n: n.label)
def test_node_delete_detaches_by_key(node):
    assert delete_nodes_query(node).splitlines() == [
        "UNWIND $rows AS row", f"MATCH (n:{node.label} {{{node.key}: row.{node.key}}})", "DETACH DELETE n"]


def test_batches_split_rows_and_rename_relationship_ends():
    table = pa.table({"from": ["a", "b", "c"], "to": ["x", "y", "z"], "position": [1, 2, 3]})
    chunks = list(batches(table, 2, rel=True))
    assert [len(c) for c in chunks] == [2, 1]
    assert chunks[0][0] == {"src": "a", "dst": "x", "position": 1}


def test_driver_needs_a_configured_server(tmp_path):
    with pytest.raises(ValueError, match="NEO4J_URI"):
        neo4j_driver(Settings(workspace=tmp_path, backend="neo4j"))


def test_retry_window_comes_from_the_config_file_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("NEO4J_RETRY_SECONDS", raising=False)
    config = tmp_path / "patentgraph.toml"
    config.write_text("[neo4j]\nuri = 'bolt://db.example:7687'\nretry_seconds = 5\n", encoding="utf-8")
    assert load_settings(config).neo4j.retry_seconds == 5
    monkeypatch.setenv("NEO4J_RETRY_SECONDS", "0.5")
    assert load_settings(config).neo4j.retry_seconds == 0.5
    monkeypatch.setenv("NEO4J_RETRY_SECONDS", "-1")
    with pytest.raises(ValueError, match="retry_seconds"):
        load_settings(config)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    workspace = write_fixture_workspace(tmp_path_factory.mktemp("ws"))
    return export_admin_import_csvs(workspace, tmp_path_factory.mktemp("import"))


def _read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_admin_import_headers(exported):
    patents = _read(exported.node_files["Patent"])
    assert patents[0] == node_header("Patent")
    assert patents[0][0] == "publication_number:ID(Patent)" and patents[0][-1] == ":LABEL"
    assert {"year:long", "ipc:string[]", "application_date:date", "title"} <= set(patents[0])
    ranked = _read(exported.rel_files["RANKED_IN"])[0]
    assert ranked == rel_header("RANKED_IN")
    assert ranked[:2] == [":START_ID(Firm)", ":END_ID(TechNode)"] and ranked[-1] == ":TYPE"
    assert {"score:double", "rank:long", "tier", "explanation"} <= set(ranked)


def test_admin_import_rows(exported):
    patents = _read(exported.node_files["Patent"])
    first = dict(zip(patents[0], patents[1], strict=True))
    assert len(patents) - 1 == exported.rows["Patent"] == 30
    assert first["publication_number:ID(Patent)"] == pub(1) and first[":LABEL"] == "Patent"
    assert first["ipc:string[]"] == "G06N3/08;G06F17/00"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", first["application_date:date"])
    firms = {row[0]: dict(zip(_read(exported.node_files["Firm"])[0], row, strict=True))
             for row in _read(exported.node_files["Firm"])[1:]}
    assert firms[F_SHELL]["deregistered_date:date"] == "2021-06-30"
    assert firms[F_SHELL]["former_names:string[]"] == ""  # empty list: no value
    assert {first["resolved:boolean"], patents[9][patents[0].index("resolved:boolean")]} == {"true", "false"}
    active = _read(exported.rel_files["ACTIVE_IN"])
    assert active[0] == [":START_ID(Firm)", ":END_ID(TechNode)", "patents:long", "inventions:long", "granted:long",
                         "first_year:long", "last_year:long", ":TYPE"]
    assert len(active) - 1 == exported.rows["ACTIVE_IN"] == 11
    cites = _read(exported.rel_files["CITES"])
    assert len(cites) - 1 == exported.rows["CITES"] == 12
    assert all(row[-1] == "CITES" for row in cites[1:])


def test_admin_import_command_names_every_file(exported):
    command = exported.command
    assert command.startswith("neo4j-admin database import full neo4j ")
    assert "--array-delimiter=;" in command or "'--array-delimiter=;'" in command
    for path in [*exported.node_files.values(), *exported.rel_files.values()]:
        assert str(path) in command


def test_an_unreachable_server_stops_the_load_with_a_clear_error_and_records_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")  # nothing listens on port 1
    monkeypatch.setenv("NEO4J_DATABASE", "scratch")
    monkeypatch.setenv("NEO4J_RETRY_SECONDS", "1")  # the default retries 30 s before giving up
    settings = load_settings(workspace=tmp_path)
    workspace = write_fixture_workspace(tmp_path)
    with pytest.raises(ConnectionError, match=r"database 'scratch' at bolt://127.0.0.1:1 stopped: .*127.0.0.1:1"):
        load_neo4j(workspace, settings, "unreachable")
    assert not neo4j_saved_tables_dir(workspace, "scratch").exists()  # the next load resends every row


def test_the_neo4j_password_reaches_neither_the_output_nor_the_workspace(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from graph.cli import app

    secret = "s3cret-Pa55-4711"
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    monkeypatch.setenv("NEO4J_PASSWORD", secret)
    monkeypatch.setenv("NEO4J_RETRY_SECONDS", "1")
    workspace = write_fixture_workspace(tmp_path / "ws")
    result = CliRunner().invoke(app, ["--workspace", str(workspace.root), "load", "--backend", "neo4j"])
    assert result.exit_code == 1 and "Neo4j load into database 'neo4j'" in result.output, result.output
    assert "127.0.0.1:1" in result.output and secret not in result.output
    assert secret not in repr(load_settings(workspace=workspace.root))
    written = [p for p in workspace.root.rglob("*") if p.is_file()]
    assert written and not [p for p in written if secret.encode() in p.read_bytes()]


# A real server: runs only when NEO4J_URI is set --------------------------------------------------

needs_server = pytest.mark.skipif(not os.environ.get("NEO4J_URI"), reason="NEO4J_URI not set: no Neo4j server")


@pytest.fixture(scope="module")
def neo4j_loaded(tmp_path_factory):
    settings = load_settings(workspace=tmp_path_factory.mktemp("ws"))
    workspace = write_fixture_workspace(settings.workspace)
    driver = neo4j_driver(settings)
    try:
        existing = driver.execute_query("MATCH (n) RETURN count(n) AS n", database_=settings.neo4j.database)
        if existing.records[0]["n"]:
            pytest.skip(f"Neo4j database {settings.neo4j.database!r} is not empty; point NEO4J_DATABASE at a scratch one")
        report = load_neo4j(workspace, settings, "neo4j-test", driver=driver)
        embedded = build_embedded_graph(workspace, "neo4j-compare")
        yield settings, workspace, report, embedded, driver
    finally:
        driver.close()


@pytest.mark.neo4j
@needs_server
def test_neo4j_load_counts_equal_the_embedded_graph(neo4j_loaded):
    _, _, report, embedded, _ = neo4j_loaded
    assert report.nodes == embedded.nodes and report.relationships == embedded.relationships
    assert report.skipped == embedded.skipped


@pytest.mark.neo4j
@needs_server
def test_saved_queries_answer_the_same_on_both_backends(neo4j_loaded):
    settings, workspace, _, _, driver = neo4j_loaded
    neo = Neo4jReader(driver, settings.neo4j.database)
    with open_reader(workspace) as lite:
        for query in list_queries():
            params = query.example_params()
            a = run_cypher(query.cypher, params, backend=lite, timeout_s=10, row_cap=1000)
            b = run_cypher(query.cypher, params, backend=neo, timeout_s=10, row_cap=1000)
            assert a.columns == b.columns, query.name
            assert _canonical(a.rows) == _canonical(b.rows), query.name
            if query.name == "group_subsidiaries_nodes":  # its rows and lists have one fixed order
                assert a.rows == b.rows


@pytest.mark.neo4j
@needs_server
def test_a_second_load_sends_the_difference_and_removes_what_no_longer_holds(neo4j_loaded):
    settings, workspace, _, _, driver = neo4j_loaded
    scores = workspace.read_df("firm_scores")
    workspace.write("firm_scores", scores[scores.firm_id != scores.firm_id.iloc[0]], "neo4j-delta")
    report = load_neo4j(workspace, settings, "neo4j-delta", driver=driver)
    embedded = build_embedded_graph(workspace, "neo4j-delta-compare", mode="full")
    assert report.relationships["RANKED_IN"] < len(scores)  # the removed firm's scores are gone from the server
    assert report.nodes == embedded.nodes and report.relationships == embedded.relationships


@pytest.mark.neo4j
@needs_server
def test_neo4j_reads_refuse_writes_at_the_database(neo4j_loaded):
    settings, _, _, _, driver = neo4j_loaded
    with pytest.raises(ReadOnlyViolation):
        Neo4jReader(driver, settings.neo4j.database).fetch("CREATE (:Firm {firm_id: 'x'})", {}, timeout_s=5,
                                                          row_cap=1)


def _canonical(rows):
    return sorted(repr([sorted(v, key=repr) if isinstance(v, list) else v for v in row]) for row in rows)
