"""Cypher access on every entry point: run_cypher, the CLI (exit code 2) and the UI's Cypher callback (risk role).

A read-only LadybugDB still runs `COPY (…) TO 'file'`, `EXPORT DATABASE`, `INSTALL` (network),
`CALL project_graph` and `CHECKPOINT` (which wedges the database until restart), so the statement
check is load-bearing, not a nicety: these tests try to get writes, file access and procedure
calls past it, and check that nothing in the graph or on disk changed. Neo4j: the reader's
session is in READ access mode with a server-side timeout (checked on the real driver objects);
with NEO4J_URI set, the server itself refuses the same writes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
import ui_fixtures
from graph_fixtures import write_fixture_workspace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from ui_fixtures import callback_headers, login_client

from dash_app import create_app, ids
from graph.cli import app as cli_app
from graph.cypher import CypherError, ReadOnlyViolation, run_cypher
from graph.load import build_embedded_graph, open_reader
from graph.workspace import Workspace

pytestmark = pytest.mark.ladybug
ui_workspace = ui_fixtures.ui_workspace
COUNTS = "MATCH (n) RETURN label(n) AS label, count(*) AS n ORDER BY label"
EXPENSIVE = "UNWIND range(1, 30000) AS a UNWIND range(1, 30000) AS b WITH a, b WHERE (a * b) % 7 = 3 RETURN count(*)"
CYPHER_RUN_OUTPUT = "..cypher-status.children...cypher-grid.columnDefs...cypher-grid.rowData...cypher-graph.elements.."


@pytest.fixture(scope="module")
def graph_root(tmp_path_factory) -> Path:
    workspace = write_fixture_workspace(tmp_path_factory.mktemp("ws"))
    build_embedded_graph(workspace, "security-tests")
    return workspace.root


@pytest.fixture(scope="module")
def trap(tmp_path_factory) -> Path:
    """Where the attacks below try to write files; it must stay empty."""
    return tmp_path_factory.mktemp("trap")


@pytest.fixture(scope="module")
def reader(graph_root):
    with open_reader(Workspace(graph_root)) as graph_reader:
        yield graph_reader


def attacks(trap: Path) -> list[tuple[str, str]]:
    """(query, what the refusal names): beyond tests/test_cypher_readonly.py's list."""
    return [
        (f"COPY (MATCH (f:Firm) RETURN f.name) TO '{trap}/firms.csv'", "COPY"),
        (f"EXPORT DATABASE '{trap}/dump'", "EXPORT"),
        (f"ATTACH '{trap}/other.lbug' AS other (dbtype lbug)", "ATTACH"),
        ("CHECKPOINT", "CHECKPOINT"),
        ("BEGIN TRANSACTION", "BEGIN"),
        ("ALTER TABLE Firm ADD secret STRING", "ALTER"),
        ("CREATE MACRO leak(x) AS x", "CREATE"),
        ("INSTALL fts", "INSTALL"),
        ("LOAD EXTENSION fts", "LOAD"),
        ("LOAD WITH HEADERS (x STRING) FROM '/etc/hostname' RETURN *", "LOAD"),
        ("CALL threads=1", "CALL threads"),
        ("CALL `threads`=1", "CALL (unnamed or quoted procedure)"),
        ("CALL `project_graph`('g', ['Firm'], [])", "CALL (unnamed or quoted procedure)"),
        ("CALL project_graph('g', ['Firm'], [])", "CALL project_graph"),
        ("CALL show_tables() RETURN *; MATCH (f:Firm) DELETE f", "DELETE"),
        ("MATCH (f:Firm) WITH f LIMIT 1 CALL { CREATE (:Firm {firm_id: 'x'}) } RETURN f", "CREATE"),
        ("MATCH (f:Firm) RETURN f.name AS n UNION MATCH (f:Firm) SET f.name = 'x' RETURN f.name AS n", "SET"),
        ("UNWIND [1, 2] AS x MERGE (:Firm {firm_id: toString(x)})", "MERGE"),
        ("MATCH (f:Firm) REMOVE f.status", "REMOVE"),
        ("DROP TABLE Firm", "DROP"),
        ("create (f:Firm {firm_id: 'lower-case'})", "CREATE"),
    ]


def _snapshot(reader) -> list:
    return run_cypher(COUNTS, {}, backend=reader, timeout_s=10, row_cap=100).rows


def test_run_cypher_refuses_every_attack_and_nothing_changes(reader, trap):
    before = _snapshot(reader)
    for query, named in attacks(trap):
        with pytest.raises(ReadOnlyViolation, match=re.escape(named)):
            run_cypher(query, {}, backend=reader, timeout_s=5, row_cap=10)
    assert _snapshot(reader) == before
    assert list(trap.iterdir()) == []


# Pieces an attacker would combine: clauses, quoting and comment tricks, statement separators.
PIECES = st.sampled_from([
    "MATCH (f:Firm)", "RETURN f.name", "RETURN *", "WITH f", "CREATE (:Firm {firm_id: 'z'})", "SET f.name = 'z'",
    "DETACH DELETE f", "COPY (MATCH (f:Firm) RETURN f.name) TO '{trap}/x.csv'", "EXPORT DATABASE '{trap}/d'",
    "CALL", "`threads`=1", "project_graph('g', ['Firm'], [])", "show_tables()", ";", "'", '"', "`", "\\", "//", "/*",
    "*/", "\n", "{", "}", "(", ")", "LOAD FROM '/etc/hostname' RETURN *", "UNION", "$x", "f.set", "CHECKPOINT",
])  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(PIECES, min_size=1, max_size=10))
def test_no_combination_of_pieces_writes_or_touches_files(reader, trap, parts):
    query = " ".join(parts).replace("{trap}", str(trap))
    before = _snapshot(reader)
    try:
        run_cypher(query, {"x": 1}, backend=reader, timeout_s=5, row_cap=10)
    except CypherError:
        pass  # refused, or a syntax error: either way nothing ran
    assert _snapshot(reader) == before
    assert list(trap.iterdir()) == [], f"{query!r} wrote {list(trap.iterdir())}"


@pytest.mark.parametrize("value", [
    "x'}) DETACH DELETE n //", "'; DROP TABLE Firm; //", "$other", "` CREATE (:Firm) `", {"nested": "') SET f.x=1"},
])  # fmt: skip
def test_parameter_values_are_data_never_query_text(reader, value):
    before = _snapshot(reader)
    result = run_cypher("MATCH (f:Firm) WHERE f.name = $name RETURN f.firm_id", {"name": value}, backend=reader,
                        timeout_s=5, row_cap=10) if isinstance(value, str) else None
    assert result is None or result.rows == []
    assert _snapshot(reader) == before


# ---------------------------------------------------------------- the CLI


def cli(root: Path, *args: str, config: Path | None = None):
    options = ["--workspace", str(root)] + (["--config", str(config)] if config else [])
    return CliRunner().invoke(cli_app, [*options, "cypher", *args])


@pytest.mark.parametrize(("query", "named"), [
    ("MATCH (f:Firm) DETACH DELETE f", "DETACH"),
    ("CREATE (:Firm {firm_id: 'x', name: 'x'})", "CREATE"),
    ("MATCH (f:Firm) SET f.name = 'x'", "SET"),
    ("MERGE (:Firm {firm_id: 'x'})", "MERGE"),
    ("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", "LOAD"),
    ("COPY (MATCH (f:Firm) RETURN f) TO '/tmp/patentgraph-leak.csv'", "COPY"),
    ("CALL `project_graph`('g', ['Firm'], [])", "CALL"),
    ("CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DELETE n', {})", "CALL apoc.periodic.iterate"),
])  # fmt: skip
def test_cli_refuses_writes_with_exit_code_2_and_the_clause(graph_root, reader, query, named):
    before = _snapshot(reader)
    result = cli(graph_root, query)
    assert result.exit_code == 2, result.output
    assert "refused" in result.output and named in result.output
    assert "Traceback" not in result.output
    assert _snapshot(reader) == before
    assert not Path("/tmp/patentgraph-leak.csv").exists()


def test_cli_parameters_are_bound_not_spliced(graph_root, reader):
    before = _snapshot(reader)
    result = cli(graph_root, "MATCH (f:Firm) WHERE f.name = $name RETURN f.firm_id", "--param",
                 "name=x'}) DETACH DELETE f //", "--output", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"] == []
    assert _snapshot(reader) == before
    bad_name = cli(graph_root, "MATCH (f:Firm) RETURN f", "--param", "x y=1")
    assert bad_name.exit_code == 2 and "identifiers" in bad_name.output


def _config(path: Path, **values) -> Path:
    path.write_text("".join(f"{key} = {value}\n" for key, value in values.items()))
    return path


def test_cli_row_cap_from_the_settings_holds(graph_root, tmp_path):
    config = _config(tmp_path / "patentgraph.toml", row_cap=3)
    result = cli(graph_root, "MATCH (p:Patent) RETURN p.publication_number", "--output", "csv", config=config)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 1 + 3
    assert "truncated at the row cap (3 rows)" in result.output


def test_cli_timeout_from_the_settings_stops_the_query_with_exit_code_2(graph_root, tmp_path):
    config = _config(tmp_path / "patentgraph.toml", query_timeout_s=0.3)
    result = cli(graph_root, EXPENSIVE, config=config)
    assert result.exit_code == 2, result.output
    assert "time limit" in result.output


# ---------------------------------------------------------------- the UI (risk role)


def _custom_query_body(query: str, params: dict) -> dict:
    field_id = {"type": ids.CYPHER_PARAM, "name": "json"}
    return {"output": CYPHER_RUN_OUTPUT,
            "outputs": [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
                        for part in CYPHER_RUN_OUTPUT.strip(".").split("...")],
            "inputs": [{"id": ids.CYPHER_RUN, "property": "n_clicks", "value": 1}],
            "state": [{"id": ids.CYPHER_QUERY_PICKER, "property": "value", "value": "__custom__"},
                      {"id": ids.CYPHER_EDITOR, "property": "value", "value": query},
                      [{"id": field_id, "property": "value", "value": json.dumps(params)}],
                      [{"id": field_id, "property": "id", "value": field_id}]],
            "changedPropIds": [f"{ids.CYPHER_RUN}.n_clicks"]}  # fmt: skip


@pytest.fixture(scope="module")
def risk_client(ui_workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("ui-graph") / "ws"
    shutil.copytree(ui_workspace.root, root)
    build_embedded_graph(Workspace(root), "20250101T000000Z-load-000000")
    client = create_app(root).server.test_client()
    return client, callback_headers(login_client(client, "risk")), root


def _ui_run(risk_client, query: str, params: dict | None = None) -> tuple[str, list]:
    """(what the status line and grid show, the grid's rows)."""
    client, headers, _ = risk_client
    response = client.post("/_dash-update-component", json=_custom_query_body(query, params or {}), headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    out = response.get_json()["response"]
    return json.dumps(out, ensure_ascii=False), out["cypher-grid"]["rowData"]


def test_ui_refuses_every_attack_for_the_risk_role(risk_client, trap):
    count = "MATCH (f:Firm) RETURN count(f) AS firms"
    _, before = _ui_run(risk_client, count)
    for query, named in attacks(trap):
        shown, _ = _ui_run(risk_client, query)
        assert f"refused: {named.split(' ')[0]}" in shown, (query, shown[:300])
    assert _ui_run(risk_client, count)[1] == before == [{"c0": 12}]
    assert list(trap.iterdir()) == []


def test_ui_parameters_are_bound_not_spliced(risk_client):
    shown, rows = _ui_run(risk_client, "MATCH (f:Firm) WHERE f.name = $name RETURN f.firm_id AS id",
                          {"name": "x'}) DETACH DELETE f //"})
    assert "refused" not in shown and rows == []


# ---------------------------------------------------------------- Neo4j


class _SessionSpy:
    """Wraps a real neo4j Driver and records the real Session objects it opens and the work they are given."""

    def __init__(self, driver):
        self.driver, self.sessions, self.work = driver, [], []

    def session(self, **config):
        session = self.driver.session(**config)
        self.sessions.append(session)
        for mode in ("execute_read", "execute_write"):
            real = getattr(session, mode)
            setattr(session, mode, self._recording(mode, real))
        return session

    def _recording(self, mode, real):
        def call(work, *args, **kwargs):
            self.work.append((mode, work))
            return real(work, *args, **kwargs)
        return call

    def close(self):
        self.driver.close()


def test_neo4j_reader_uses_read_sessions_and_read_transactions_with_the_timeout():
    import neo4j

    from graph.neo4j_backend import Neo4jReader

    # Nothing listens on port 1: the session is configured, the transaction function handed over, then it fails.
    spy = _SessionSpy(neo4j.GraphDatabase.driver("neo4j://127.0.0.1:1", auth=("neo4j", "x"),
                                                 max_transaction_retry_time=0))
    with pytest.raises(Exception):  # noqa: B017 - which connection error is the driver's business
        Neo4jReader(spy, "graphdb").fetch("MATCH (n) RETURN n", {}, timeout_s=7, row_cap=5)
    spy.close()
    (session,) = spy.sessions
    assert session._config.default_access_mode == neo4j.READ_ACCESS
    assert session._config.database == "graphdb"
    assert [mode for mode, _ in spy.work] == ["execute_read"]
    assert spy.work[0][1].timeout == 7



def test_an_unreachable_neo4j_server_is_a_clear_cypher_error():
    import neo4j

    from graph.neo4j_backend import Neo4jReader

    driver = neo4j.GraphDatabase.driver("neo4j://127.0.0.1:1", max_transaction_retry_time=0)
    try:
        with pytest.raises(CypherError, match="127.0.0.1:1"):
            Neo4jReader(driver, "neo4j").fetch("RETURN 1", {}, timeout_s=5, row_cap=1)
    finally:
        driver.close()


@pytest.mark.slow  # the driver retries for about a minute before giving up
def test_cli_says_clearly_when_neo4j_is_unreachable(graph_root, tmp_path, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", "neo4j://127.0.0.1:1")
    monkeypatch.setenv("NEO4J_RETRY_SECONDS", "1")  # the default retries 30 s before giving up
    config = _config(tmp_path / "patentgraph.toml", backend='"neo4j"')
    result = cli(graph_root, "RETURN 1", config=config)
    assert result.exit_code in (1, 2)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "127.0.0.1:1" in result.output


@pytest.mark.neo4j
@pytest.mark.skipif(not os.environ.get("NEO4J_URI"), reason="NEO4J_URI not set: no Neo4j server")
def test_neo4j_server_refuses_writes_that_slip_past_the_check():
    from graph.config import load_settings
    from graph.neo4j_backend import Neo4jReader, neo4j_driver

    settings = load_settings()
    driver = neo4j_driver(settings)
    try:
        reader = Neo4jReader(driver, settings.neo4j.database)
        before = reader.fetch("MATCH (n) RETURN count(n)", {}, timeout_s=10, row_cap=1)
        for query in ("CREATE (:Firm {firm_id: 'pg-security-test'})", "MATCH (n) SET n.pg_security_test = 1",
                      "MERGE (:Firm {firm_id: 'pg-security-test'})"):
            with pytest.raises(ReadOnlyViolation):
                reader.fetch(query, {}, timeout_s=10, row_cap=1)  # straight to the server, no statement check
            with pytest.raises(ReadOnlyViolation):
                run_cypher(query, {}, backend=reader, timeout_s=10, row_cap=1)
        assert reader.fetch("MATCH (n) RETURN count(n)", {}, timeout_s=10, row_cap=1) == before
    finally:
        driver.close()
