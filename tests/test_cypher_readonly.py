"""The read-only Cypher entry point on the embedded graph: refusals, bound parameters, caps, timeouts, output."""

from __future__ import annotations

import csv
import io
import json

import pytest
from graph_fixtures import F_SHELL, write_fixture_workspace
from rich.console import Console

from graph.cypher import (
    CypherError,
    QueryTimeout,
    ReadOnlyViolation,
    check_read_only,
    run_cypher,
    to_csv,
    to_dataframe,
    to_json,
    to_rich_table,
)
from graph.load import build_embedded_graph, open_reader

pytestmark = pytest.mark.ladybug


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    workspace = write_fixture_workspace(tmp_path_factory.mktemp("ws"))
    build_embedded_graph(workspace, "cypher-tests")
    with open_reader(workspace) as graph_reader:
        yield graph_reader


def run(reader, query, params=None, *, timeout_s=5.0, row_cap=1000):
    return run_cypher(query, params or {}, backend=reader, timeout_s=timeout_s, row_cap=row_cap)


def firm_count(reader) -> int:
    return run(reader, "MATCH (f:Firm) RETURN count(f)").rows[0][0]


WRITES = [
    ("CREATE (f:Firm {firm_id: 'x', name: 'x'})", "CREATE"),
    ("MATCH (f:Firm) MERGE (f)-[:SUBSIDIARY_OF]->(f)", "MERGE"),
    ("MATCH (n) DETACH DELETE n", "DETACH"),
    ("match (f:Firm) delete f", "DELETE"),
    ("MATCH (f:Firm) SET f.name = 'x'", "SET"),
    ("MATCH (f:Firm) REMOVE f.name", "REMOVE"),
    ("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", "LOAD"),
    ("LOAD FROM '/etc/passwd' RETURN *", "LOAD"),
    ("COPY Firm FROM '/tmp/firms.parquet'", "COPY"),
    ("DROP TABLE Firm", "DROP"),
    ("INSTALL httpfs", "INSTALL"),
    ("EXPORT DATABASE '/tmp/dump'", "EXPORT"),
    ("CALL db.createLabel('X')", "CALL db.createLabel"),
    ("CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DELETE n', {})", "CALL apoc.periodic.iterate"),
    ("MATCH (n) RETURN n; MATCH (n) DELETE n", "DELETE"),
    ("MATCH (n) RETURN count(n); MATCH (f:Firm) RETURN f", "several statements"),
    ("MATCH (f:Firm) /* looks harmless */ DELETE f", "DELETE"),
    ("MATCH (f:Firm)\nWITH f\nFOREACH (x IN [1] | CREATE (:Firm {firm_id: 'y'}))", "FOREACH"),
]


@pytest.mark.parametrize(("query", "named"), WRITES)
def test_writing_queries_are_refused_and_nothing_changes(reader, query, named):
    before = firm_count(reader)
    with pytest.raises(ReadOnlyViolation, match=named):
        run(reader, query)
    assert firm_count(reader) == before == 10


def test_the_database_itself_refuses_writes_that_slip_past_the_check(reader):
    # Straight to the backend, skipping check_read_only: the read-only open is the guarantee.
    with pytest.raises(ReadOnlyViolation, match="read-only"):
        reader.fetch("CREATE (f:Firm {firm_id: 'x', name: 'x'})", {}, timeout_s=5, row_cap=10)
    assert firm_count(reader) == 10


@pytest.mark.parametrize("query", [
    "MATCH (f:Firm) WHERE f.name <> 'CREATE DELETE SET' RETURN f.name",
    "MATCH (f:Firm) // DELETE f\nRETURN count(f)",
    "MATCH (f:Firm) WHERE f.status <> \"MERGE\" RETURN f.firm_id",
    "MATCH (`set`:Firm) RETURN count(`set`)",
    "CALL show_tables() RETURN *",
    "MATCH (p:Patent) WHERE p.title STARTS WITH '专利' RETURN count(p);",
])
def test_reads_that_mention_write_words_in_data_run(reader, query):
    assert run(reader, query).rows


def test_parameters_are_data_not_query_text(reader):
    injection = {"name": "x'}) DELETE n //"}
    result = run(reader, "MATCH (f:Firm) WHERE f.name = $name RETURN f.firm_id", injection)
    assert result.rows == []
    assert firm_count(reader) == 10
    found = run(reader, "MATCH (f:Firm) WHERE f.name = $name RETURN f.firm_id", {"name": "苏州旧芯电子有限公司"})
    assert found.rows == [[F_SHELL]]


def test_bad_parameter_names_and_empty_queries_are_refused(reader):
    with pytest.raises(CypherError, match="identifiers"):
        run(reader, "MATCH (f:Firm) RETURN f", {"x y": 1})
    with pytest.raises(CypherError, match="empty"):
        run(reader, "   ")


def test_syntax_errors_come_back_as_cypher_errors(reader):
    with pytest.raises(CypherError) as caught:
        run(reader, "MATCH (f:Firm RETURN f")
    assert not isinstance(caught.value, (ReadOnlyViolation, QueryTimeout))


def test_row_cap_truncates_and_says_so(reader):
    query = "MATCH (p:Patent) RETURN p.publication_number ORDER BY p.publication_number"
    capped = run(reader, query, row_cap=5)
    assert len(capped.rows) == 5 and capped.truncated
    assert capped.rows[0] == ["CN1000001A"]
    exact = run(reader, query, row_cap=30)
    assert len(exact.rows) == 30 and not exact.truncated


def test_timeout_stops_an_expensive_query(reader):
    # ~10^9 rows: several seconds unless the time limit stops it (bounded, so a broken timeout fails, not hangs)
    expensive = ("UNWIND range(1, 30000) AS a UNWIND range(1, 30000) AS b "
                 "WITH a, b WHERE (a * b) % 7 = 3 RETURN count(*)")
    with pytest.raises(QueryTimeout, match="time limit"):
        run(reader, expensive, timeout_s=0.3)
    assert firm_count(reader) == 10  # the reader still works afterwards


def test_nodes_come_back_as_plain_maps(reader):
    row = run(reader, "MATCH (a:Applicant)-[r:FILED]->(p:Patent {publication_number: 'CN1000011A'}) "
                      "RETURN a, r ORDER BY r.position").rows[0]
    applicant, filed = row
    assert applicant["_label"] == "Applicant" and applicant["applicant_id"] == "A01"
    assert filed == {"_type": "FILED", "position": 1, "raw_name": "深圳芯智科技有限公司"}


def test_check_read_only_allows_names_that_look_like_clauses():
    check_read_only("MATCH (n:Firm) RETURN n.set, n.copy, $load, {delete: 1} AS m")


def test_output_helpers(reader):
    result = run(reader, "MATCH (f:Firm {firm_id: $id}) RETURN f.name AS name, f.former_names AS former, "
                         "f.deregistered_date AS gone", {"id": F_SHELL})
    rows = list(csv.reader(io.StringIO(to_csv(result))))
    assert rows == [["name", "former", "gone"], ["苏州旧芯电子有限公司", "[]", "2021-06-30"]]
    data = json.loads(to_json(result))
    assert data["rows"] == [{"name": "苏州旧芯电子有限公司", "former": [], "gone": "2021-06-30"}]
    assert data["truncated"] is False
    assert to_dataframe(result).shape == (1, 3)
    console = Console(record=True, width=120)
    console.print(to_rich_table(result, title="shell"))
    text = console.export_text()
    assert "苏州旧芯电子有限公司" in text and "1 rows" in text
