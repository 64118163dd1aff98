"""The embedded graph updated by a delta: the same graph as a full build from the same tables, switched in atomically."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest
from graph_fixtures import F_ALGO, F_CHIP, F_OPTIC, F_ROBOT, F_VISION, RUN_ID, frames, pub

import graph.embedded as embedded
import graph.load
from graph.catalog import list_queries
from graph.cypher import run_cypher
from graph.embedded import current_version, read_manifest
from graph.load import build_embedded_graph, delta_cost, open_reader, replaced_whole
from graph.schema import NODE_TYPES, NODES, REL_TYPES
from graph.transform import TableDelta, diff_table
from graph.workspace import Workspace

pytestmark = pytest.mark.ladybug
NEW_PATENTS = [pub(n) for n in (28, 29, 30)]


def before_refresh() -> dict[str, pd.DataFrame]:
    """The fixture as it stood before the refresh: three patents not yet filed, old firm facts and scores."""
    t = frames()
    t["patents"] = t["patents"][~t["patents"].publication_number.isin(NEW_PATENTS)]
    t["filings"] = t["filings"][~t["filings"].publication_number.isin(NEW_PATENTS)]
    t["node_patents"] = t["node_patents"][~t["node_patents"].publication_number.isin(NEW_PATENTS)]
    t["matches"] = pd.concat([t["matches"], pd.DataFrame([  # a link the refresh no longer finds
        {"applicant_id": "A02", "firm_id": F_VISION, "score": 0.91, "decision": "auto", "link_type": "former_name",
         "evidence": "{}", "method_version": "test-1"}])], ignore_index=True)
    firms = t["firms"].copy()
    firms.loc[firms.firm_id == F_ALGO, "name"] = "北京算法旧名有限公司"  # renamed since
    t["firms"] = firms
    t["firm_scores"] = t["firm_scores"].assign(score=t["firm_scores"].score - 5.0)
    return t


def after_refresh() -> dict[str, pd.DataFrame]:
    """The fixture after it: one firm deregistered, one gone from the register (with its links and scores)."""
    t = frames()
    firms = t["firms"].copy()
    robot = firms.firm_id == F_ROBOT
    firms.loc[robot, "status"] = "deregistered"
    firms.loc[robot, "deregistered_date"] = dt.date(2025, 5, 1)
    t["firms"] = firms[firms.firm_id != F_OPTIC]
    t["matches"] = pd.concat([t["matches"], pd.DataFrame([
        {"applicant_id": "A08", "firm_id": F_CHIP, "score": 0.8, "decision": "manual", "link_type": "direct",
         "evidence": "{}", "method_version": "test-1"}])], ignore_index=True)
    return t


def write_tables(workspace: Workspace, tables: dict[str, pd.DataFrame]) -> None:
    for name, frame in tables.items():
        workspace.write(name, frame.reset_index(drop=True), RUN_ID)


def graph_contents(workspace: Workspace) -> dict[str, list]:
    """Every node and relationship with every property, sorted: two graphs are the same iff these are equal."""
    contents = {}
    with open_reader(workspace) as reader:
        for node in NODE_TYPES:
            props = ", ".join(f"n.{p.name}" for p in node.props)
            contents[node.label] = sorted(map(repr, run_cypher(
                f"MATCH (n:{node.label}) RETURN {props}", {}, backend=reader, timeout_s=60, row_cap=10**6).rows))
        for rel in REL_TYPES:
            start, end = NODES[rel.start], NODES[rel.end]
            props = "".join(f", r.{p.name}" for p in rel.props)
            query = f"MATCH (a:{start.label})-[r:{rel.type}]->(b:{end.label}) RETURN a.{start.key}, b.{end.key}{props}"
            contents[rel.type] = sorted(map(repr, run_cypher(query, {}, backend=reader, timeout_s=60,
                                                              row_cap=10**6).rows))
    return contents


# Saved queries whose answer has one fixed order, lists included: compared row for row.
FIXED_ORDER_QUERIES = {"group_subsidiaries_nodes", "firm_patents_and_nodes", "firm_profile", "cited_firms_of_firm",
                       "node_patents_unresolved"}


def catalog_answers(workspace: Workspace) -> dict[str, list]:
    """Each saved query's rows; the other queries' lists compared as sets (their order is the storage order)."""
    def unordered(row: list) -> str:
        return repr([sorted(map(repr, v)) if isinstance(v, list) else v for v in row])

    answers = {}
    with open_reader(workspace) as reader:
        for q in list_queries():
            found = run_cypher(q.cypher, q.bind(q.example_params()), backend=reader, timeout_s=30, row_cap=10**6).rows
            answers[q.name] = found if q.name in FIXED_ORDER_QUERIES else sorted(map(unordered, found))
    return answers


@pytest.fixture(scope="module", params=["changed tables replaced", "changed rows applied"])
def graphs(request, tmp_path_factory):
    """A graph built before the refresh then updated by a delta, and one built in full after it.

    The fixture's refresh adds more than REWRITE_SHARE of the rows of FILED and IN_NODE (its new patents),
    so by default they are COPYed whole; with the share at 1 their new rows are inserted instead. Tables
    that lost or changed rows are replaced whole either way.
    """
    delta = Workspace(tmp_path_factory.mktemp("delta"))
    write_tables(delta, before_refresh())
    build_embedded_graph(delta, "before", mode="full")
    write_tables(delta, after_refresh())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATENTGRAPH_GRAPH_DELTA_MAX", "10")  # small fixture: its change is dear for its size
        if request.param == "changed rows applied":
            patch.setattr(graph.load, "REWRITE_SHARE", 1.0)
        build_embedded_graph(delta, "after")
    replaced = set(read_manifest(delta.graph_dir)["build"]["replaced"])
    assert {"RANKED_IN", "RESOLVES_TO"} <= replaced  # re-scored; a link lost
    assert ({"FILED", "IN_NODE"} & replaced) == (set() if request.param == "changed rows applied" else {"FILED", "IN_NODE"})
    full = Workspace(tmp_path_factory.mktemp("full"))
    write_tables(full, after_refresh())
    build_embedded_graph(full, "after", mode="full")
    return delta, full


def test_delta_was_applied_and_counted(graphs):
    delta, _ = graphs
    build = read_manifest(delta.graph_dir)["build"]
    assert build["mode"] == "delta" and build["base"] == "v0001.lbug"
    assert build["changed_rows"]["Patent"] >= len(NEW_PATENTS)
    assert build["changed_rows"]["Firm"] == 3  # renamed back, deregistered, gone
    assert build["changed_rows"]["RESOLVES_TO"] >= 2  # the lost former_name link and the new manual one


def test_delta_gives_the_same_graph_as_a_full_build(graphs):
    delta, full = graphs
    got, want = graph_contents(delta), graph_contents(full)
    assert got == want
    assert not any(F_OPTIC in row for rows in got.values() for row in rows)  # the firm gone, with its edges
    assert not any("former_name" in row for row in got["RESOLVES_TO"])  # the link the refresh lost


def test_catalog_queries_answer_the_same_on_delta_and_full_graphs(graphs):
    delta, full = graphs
    assert catalog_answers(delta) == catalog_answers(full)


def test_a_delta_without_changes_is_a_no_op(graphs, tmp_path):
    delta, _ = graphs
    before = graph_contents(delta)
    build_embedded_graph(delta, "again")
    build = read_manifest(delta.graph_dir)["build"]
    assert build["mode"] == "delta" and build["changed_rows"] == {}
    assert graph_contents(delta) == before


def test_a_large_change_falls_back_to_a_full_build(tmp_path, monkeypatch):
    workspace = Workspace(tmp_path / "ws")
    write_tables(workspace, before_refresh())
    build_embedded_graph(workspace, "before")
    assert read_manifest(workspace.graph_dir)["build"]["mode"] == "full"  # nothing to apply a delta to
    monkeypatch.setenv("PATENTGRAPH_GRAPH_DELTA_MAX", "0.001")
    write_tables(workspace, after_refresh())
    build_embedded_graph(workspace, "after")
    build = read_manifest(workspace.graph_dir)["build"]
    assert build["mode"] == "full" and "over" in build["reason"]


def test_a_failed_delta_leaves_the_previous_version_current(tmp_path, monkeypatch):
    workspace = Workspace(tmp_path / "ws")
    write_tables(workspace, before_refresh())
    build_embedded_graph(workspace, "before")
    version, contents = current_version(workspace.graph_dir), graph_contents(workspace)
    write_tables(workspace, after_refresh())
    real = embedded._load_from
    calls = []

    def apply_then_die(*args):
        calls.append(args[2])
        real(*args)
        if len(calls) == 3:
            raise OSError("disk full")

    monkeypatch.setattr(embedded, "_load_from", apply_then_die)
    with pytest.raises(OSError, match="disk full"):
        build_embedded_graph(workspace, "after", mode="delta")
    assert current_version(workspace.graph_dir) == version
    assert graph_contents(workspace) == contents
    assert sorted(p.name for p in workspace.graph_dir.iterdir()) == ["CURRENT", "v0001.json", "v0001.lbug",
                                                                     "v0001.tables"]


def test_delta_without_a_saved_base_is_refused_with_a_clear_message(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    write_tables(workspace, before_refresh())
    with pytest.raises(ValueError, match="load --full"):
        build_embedded_graph(workspace, "first", mode="delta")


def test_diff_finds_inserts_updates_and_deletes_by_key():
    old = pa.table({"from": ["a1", "a2", "a3"], "to": ["f1", "f2", "f3"], "score": [0.9, 0.8, None],
                    "decision": ["auto"] * 3, "link_type": ["direct", None, "direct"], "evidence": ["{}"] * 3,
                    "method_version": ["m"] * 3})
    new = pa.table({"from": ["a1", "a2", "a4"], "to": ["f1", "f2", "f4"], "score": [0.95, 0.8, 0.7],
                    "decision": ["auto"] * 3, "link_type": ["direct", None, "direct"], "evidence": ["{}"] * 3,
                    "method_version": ["m"] * 3})
    delta = diff_table("RESOLVES_TO", old, new)
    assert delta.inserted["from"].to_pylist() == ["a4"]
    assert delta.updated["from"].to_pylist() == ["a1"]  # a2: same row, a null link_type included
    assert delta.deleted.to_pylist() == [{"from": "a3", "to": "f3", "link_type": "direct"}]


def test_diff_compares_list_properties_element_by_element():
    names = ["f1", "f2", "f3", "f4", "f5"]
    old = pa.table({"from": names, "to": ["ai/chip"] * 5, "patents": [1] * 5, "node_count": [1] * 5,
                    "nodes": [["ai/a", "ai/b"], ["ai/a\x1fai/b"], None, [], ["ai/a"]]})
    new = pa.table({"from": names, "to": ["ai/chip"] * 5, "patents": [1] * 5, "node_count": [1] * 5,
                    "nodes": [["ai/a", "ai/b"], ["ai/a", "ai/b"], None, None, ["ai/c"]]})
    delta = diff_table("ACTIVE_IN_CHAIN", old, new)
    # f2: the same characters split differently; f4: an empty list became null; f5: an element changed
    assert delta.updated["from"].to_pylist() == ["f2", "f4", "f5"]
    assert delta.inserted.num_rows == 0 and delta.deleted.num_rows == 0


def test_diff_of_a_table_appended_to_finds_new_and_changed_rows_in_any_row_order():
    old = pa.table({"from": ["a1", "a2", "a3"], "to": ["p1", "p2", "p3"], "position": [1, 1, 2],
                    "raw_name": ["甲", "乙", None]})
    new = pa.table({"from": ["a1", "a2", "a3", "a4", "a1"], "to": ["p1", "p2", "p3", "p4", "p5"],
                    "position": [1, 1, 2, 1, 1], "raw_name": ["甲", "乙公司", None, "丁", "甲"]})
    for rows in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0]):  # appended to (compared row by row), then reordered
        delta = diff_table("FILED", old, new.take(rows))
        assert sorted(delta.inserted["to"].to_pylist()) == ["p4", "p5"]
        assert delta.updated.to_pylist() == [{"from": "a2", "to": "p2", "position": 1, "raw_name": "乙公司"}]
        assert delta.deleted.num_rows == 0


def test_a_relationship_table_that_lost_or_changed_a_row_is_replaced_whole():
    """LadybugDB deletes relationships at more than the cost of a COPY: one lost or changed row is enough."""
    rows = pa.table({"from": [f"a{i}" for i in range(1000)], "to": ["f"] * 1000})
    keys = rows.slice(0, 0)
    one_gone = TableDelta(keys, keys, rows.slice(0, 1))
    one_changed = TableDelta(keys, rows.slice(0, 1), keys)
    few_new = TableDelta(rows.slice(0, 5), keys, keys)
    many_new = TableDelta(rows.slice(0, 50), keys, keys)
    assert replaced_whole("LOCATED_IN", rows, one_gone) and replaced_whole("LOCATED_IN", rows, one_changed)
    assert not replaced_whole("LOCATED_IN", rows, few_new)  # 0.5 % of the rows: inserted
    assert replaced_whole("LOCATED_IN", rows, many_new)  # 5 %: COPYed whole
    assert not replaced_whole("Firm", rows, one_gone)  # a node table cannot be dropped under its relationships
    assert delta_cost("LOCATED_IN", rows, one_gone) == rows.nbytes
    assert 0.25 * rows.nbytes < delta_cost("LOCATED_IN", rows, few_new) < rows.nbytes
    assert delta_cost("LOCATED_IN", rows, TableDelta(keys, keys, keys)) == 0
