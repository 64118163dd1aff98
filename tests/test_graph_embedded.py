"""Building the embedded LadybugDB graph from contract tables: counts, left-out rows, versions."""

from __future__ import annotations

import pandas as pd
import pytest
from graph_fixtures import F_SHELL, RUN_ID, expected_summaries, frames, pub, write_fixture_workspace

import graph.embedded as embedded
from graph.config import Settings
from graph.cypher import run_cypher
from graph.embedded import current_version, read_manifest
from graph.load import build_embedded_graph, open_reader
from graph.workspace import Workspace

pytestmark = pytest.mark.ladybug


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workspace = write_fixture_workspace(tmp_path_factory.mktemp("ws"))
    return workspace, build_embedded_graph(workspace, "graph-run-1")


def _expected_counts() -> tuple[dict[str, int], dict[str, int]]:
    """Counts worked out from the fixture frames directly, independently of graph.transform."""
    t = frames()
    nodes_keys = set(t["tech_nodes"].chain_id + "/" + t["tech_nodes"].node_id)
    pubs, firm_ids = set(t["patents"].publication_number), set(t["firms"].firm_id)
    applicant_ids = set(t["applicants"].applicant_id)
    links = t["supply_links"]
    located = t["firms"][t["firms"].province.notna()]
    citations = {(row.publication_number, cited) for row in t["patents"].itertuples()
                 for cited in row.cited_publications if cited in pubs}
    matches = t["matches"]
    nodes = {
        "Chain": t["tech_nodes"].chain_id.nunique(), "TechNode": len(t["tech_nodes"]), "Patent": len(pubs),
        "Applicant": len(applicant_ids), "Firm": len(firm_ids),
        "Region": len(set(zip(located.province, located.city.fillna(""), strict=True))),
    }
    rels = {
        "HAS_NODE": len(t["tech_nodes"]),
        "CHILD_OF": int(t["tech_nodes"].parent_id.notna().sum()),
        "SUPPLIES": sum(f"{c}/{a}" in nodes_keys and f"{c}/{b}" in nodes_keys
                        for c, a, b in links.itertuples(index=False)),
        "IN_NODE": int(t["node_patents"].publication_number.isin(pubs).sum()),
        "CITES": len(citations),
        "FILED": int(t["filings"].applicant_id.isin(applicant_ids).sum()),
        "RESOLVES_TO": int((matches.firm_id.notna() & (matches.decision != "rejected")).sum()),
        "SUBSIDIARY_OF": int(t["firms"].parent_firm_id.isin(firm_ids).sum()),
        "LOCATED_IN": len(located),
        "RANKED_IN": int(t["firm_scores"].firm_id.isin(firm_ids).sum()),
        "ACTIVE_IN": len(expected_summaries(t)["active_in"]),
        "ACTIVE_IN_CHAIN": len(expected_summaries(t)["active_in_chain"]),
    }
    return nodes, rels


def test_counts_per_label_and_type_match_the_tables(built):
    _, report = built
    nodes, rels = _expected_counts()
    assert report.nodes == nodes
    assert report.relationships == rels
    # the fixture's sizes, so an empty graph cannot pass by matching empty expectations
    assert report.nodes["Patent"] == 30 and report.relationships["CITES"] == 12
    assert report.relationships["ACTIVE_IN"] == 11


def test_rows_left_out_are_counted_by_reason(built):
    _, report = built
    assert report.skipped == {
        "SUPPLIES: start TechNode not in the graph": 1,
        "IN_NODE: start Patent not in the graph": 1,
        "CITES: end Patent not in the graph": 1,
        "CITES: duplicate relationship": 1,
        "FILED: start Applicant not in the graph": 1,
        "RESOLVES_TO: applicant resolves to no firm": 1,
        "RESOLVES_TO: rejected candidate": 1,
        "SUBSIDIARY_OF: end Firm not in the graph": 1,
        "RANKED_IN: start Firm not in the graph": 1,
    }
    assert report.missing_tables == []
    assert report.counts()["skipped.CITES: duplicate relationship"] == 1


def test_counts_are_those_found_in_the_database(built):
    workspace, report = built
    with open_reader(workspace) as reader:
        for label, expected in report.nodes.items():
            result = run_cypher(f"MATCH (n:{label}) RETURN count(n)", {}, backend=reader, timeout_s=5, row_cap=1)
            assert result.rows == [[expected]]


def test_reader_opens_from_settings_too(built):
    workspace, report = built
    with open_reader(Settings(workspace=workspace.root)) as reader:
        assert reader.backend == "ladybug" and reader.path == report.version_path
        assert _patent_count(reader) == 30


def test_properties_keep_their_types(built):
    workspace, _ = built
    with open_reader(workspace) as reader:
        patent = run_cypher("MATCH (p:Patent {publication_number: $pub}) RETURN p", {"pub": pub(1)},
                            backend=reader, timeout_s=5, row_cap=5).rows[0][0]
        shell = run_cypher("MATCH (f:Firm {firm_id: $id})-[:LOCATED_IN]->(r:Region) RETURN f, r.key",
                           {"id": F_SHELL}, backend=reader, timeout_s=5, row_cap=5).rows[0]
        node = run_cypher("MATCH (t:TechNode {key: 'ai/chip'})-[:CHILD_OF]->(p:TechNode) RETURN t.level, t.weight, p.key",
                          {}, backend=reader, timeout_s=5, row_cap=5).rows
    source = frames()["patents"].iloc[0]
    assert patent["_label"] == "Patent" and "_ID" not in patent
    assert patent["ipc"] == list(source.ipc) and patent["main_ipc"] == source.ipc[0]
    assert patent["application_date"] == source.application_date
    assert patent["year"] == source.application_date.year
    assert shell[0]["status"] == "deregistered" and str(shell[0]["deregistered_date"]) == "2021-06-30"
    assert shell[1] == "江苏省/苏州市"
    assert node == [[2, 1.5, "ai/up"]]


def test_missing_table_is_loaded_as_empty_and_reported(tmp_path):
    workspace = write_fixture_workspace(tmp_path, without=("firm_scores",))
    report = build_embedded_graph(workspace, "graph-run-2")
    assert report.missing_tables == ["firm_scores"]
    assert report.relationships["RANKED_IN"] == 0
    assert report.relationships["FILED"] == _expected_counts()[1]["FILED"]


def test_empty_workspace_is_refused_with_a_clear_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="no contract tables"):
        build_embedded_graph(Workspace(tmp_path), "graph-run-3")
    with pytest.raises(FileNotFoundError, match="no graph built yet"):
        open_reader(Workspace(tmp_path))


def _add_patent(workspace: Workspace) -> None:
    patents = frames()["patents"]
    extra = patents.iloc[[0]].assign(publication_number=pub(31), cited_publications=[[pub(1)]])
    workspace.write("patents", pd.concat([patents, extra], ignore_index=True), RUN_ID)


def _patent_count(reader) -> int:
    return run_cypher("MATCH (p:Patent) RETURN count(p)", {}, backend=reader, timeout_s=5, row_cap=1).rows[0][0]


def test_reader_keeps_its_version_while_a_new_build_becomes_current(tmp_path):
    workspace = write_fixture_workspace(tmp_path)
    first = build_embedded_graph(workspace, "v1")
    with open_reader(workspace) as old_reader:
        assert _patent_count(old_reader) == 30
        _add_patent(workspace)
        second = build_embedded_graph(workspace, "v2")
        assert current_version(workspace.graph_dir) == second.version_path != first.version_path
        assert _patent_count(old_reader) == 30  # still reading the version it opened
        with open_reader(workspace) as new_reader:
            assert _patent_count(new_reader) == 31
    assert (workspace.graph_dir / "CURRENT").read_text().strip() == "v0002.lbug"
    assert read_manifest(workspace.graph_dir)["run_id"] == "v2"


def test_build_failing_before_the_switch_leaves_current_unchanged(tmp_path, monkeypatch):
    workspace = write_fixture_workspace(tmp_path)
    build_embedded_graph(workspace, "good")
    real_copy, calls = embedded._copy, []

    def copy_then_die(connection, staging, name, table):
        calls.append(name)
        if len(calls) == 4:
            raise KeyboardInterrupt("killed mid-build")
        real_copy(connection, staging, name, table)

    monkeypatch.setattr(embedded, "_copy", copy_then_die)
    _add_patent(workspace)
    with pytest.raises(KeyboardInterrupt):
        build_embedded_graph(workspace, "killed", mode="full")
    assert (workspace.graph_dir / "CURRENT").read_text().strip() == "v0001.lbug"
    assert sorted(p.name for p in workspace.graph_dir.iterdir()) == ["CURRENT", "v0001.json", "v0001.lbug",
                                                                     "v0001.tables"]
    with open_reader(workspace) as reader:
        assert _patent_count(reader) == 30
    monkeypatch.undo()
    assert build_embedded_graph(workspace, "retry").version_path.name == "v0002.lbug"


def test_old_versions_are_pruned_keeping_the_last_two(tmp_path):
    workspace = write_fixture_workspace(tmp_path)
    for run in ("a", "b"):
        build_embedded_graph(workspace, run)
    (workspace.graph_dir / "v0000.lbug").write_bytes(b"left by a killed build")
    build_embedded_graph(workspace, "c")
    names = sorted(p.name for p in workspace.graph_dir.iterdir())
    assert names == ["CURRENT", "v0002.json", "v0002.lbug", "v0002.tables", "v0003.json", "v0003.lbug",
                     "v0003.tables"]


def test_current_naming_a_missing_version_is_a_clear_error(tmp_path):
    graph_dir = tmp_path / "graph"
    graph_dir.mkdir()
    (graph_dir / "CURRENT").write_text("v0009.lbug\n")
    with pytest.raises(FileNotFoundError, match="v0009.lbug"):
        open_reader(Workspace(tmp_path))
