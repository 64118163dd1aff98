"""The load's summaries (ACTIVE_IN, ACTIVE_IN_CHAIN, TechNode and Patent counts) and the saved queries reading them.

Checked on two graphs: the hand-built fixture and the demo build. The summaries must equal a pandas
computation from the contract tables; each rewritten saved query must return what its former
path-walking text (kept below, verbatim) returns on the same graph.
"""

from __future__ import annotations

import pandas as pd
import pytest
from graph_fixtures import F_CHIP, F_SHELL, F_VISION, expected_summaries, write_fixture_workspace

from graph.catalog import get_query
from graph.cypher import run_cypher
from graph.load import build_embedded_graph, open_reader
from graph.transform import GRANTED_KINDS, SOURCE_TABLES
from graph.workspace import Workspace

pytestmark = pytest.mark.ladybug

# The saved queries as they were before the summaries existed: each walks Firm <- Applicant -> Patent -> TechNode.
OLD_QUERIES = {
    "firms_in_several_nodes": """
MATCH (a:Applicant)-[m:RESOLVES_TO]->(f:Firm)
WHERE m.decision IN ['auto', 'manual']
WITH a, f
MATCH (c:Chain {chain_id: $chain_id})-[:HAS_NODE]->(t:TechNode)<-[:IN_NODE]-(p:Patent)<-[:FILED]-(a)
WITH f, count(DISTINCT t) AS node_count, collect(DISTINCT t.key) AS nodes, count(DISTINCT p) AS patents
WHERE node_count >= $min_nodes
RETURN f.firm_id AS firm_id, f.name AS firm, node_count, nodes, patents
ORDER BY node_count DESC, patents DESC, firm_id""",
    "region_node_counts": """
MATCH (a:Applicant)-[m:RESOLVES_TO]->(f:Firm)-[:LOCATED_IN]->(r:Region)
WHERE m.decision IN ['auto', 'manual']
WITH a, f, r
MATCH (c:Chain {chain_id: $chain_id})-[:HAS_NODE]->(t:TechNode)<-[:IN_NODE]-(:Patent)<-[:FILED]-(a)
RETURN r.province AS province, t.key AS node_key, t.name_en AS node, count(DISTINCT f) AS firms
ORDER BY province, node_key""",
    "node_patents_unresolved": """
MATCH (p:Patent)-[:IN_NODE]->(t:TechNode {key: $node_key})
WHERE NOT EXISTS {
  MATCH (p)<-[:FILED]-(:Applicant)-[m:RESOLVES_TO]->(:Firm)
  WHERE m.decision IN ['auto', 'manual']
}
OPTIONAL MATCH (a:Applicant)-[:FILED]->(p)
RETURN p.publication_number AS publication_number, p.title AS title, p.year AS year,
       collect(a.name) AS applicants, collect(a.applicant_type) AS applicant_types
ORDER BY publication_number""",
    "top_cited_patents_in_node": """
MATCH (p:Patent)-[:IN_NODE]->(t:TechNode {key: $node_key})
OPTIONAL MATCH (citing:Patent)-[:CITES]->(p)
WITH p, count(citing) AS forward_citations
RETURN p.publication_number AS publication_number, p.title AS title, p.year AS year, forward_citations
ORDER BY forward_citations DESC, publication_number
LIMIT $limit""",
    "chain_overview": """
MATCH (c:Chain {chain_id: $chain_id})-[:HAS_NODE]->(t:TechNode)
OPTIONAL MATCH (p:Patent)-[:IN_NODE]->(t)
WITH t, count(DISTINCT p) AS patents
OPTIONAL MATCH (f:Firm)-[r:RANKED_IN]->(t)
WITH t, patents, count(DISTINCT f) AS ranked_firms, min(r.rank) AS best_rank
OPTIONAL MATCH (top:Firm)-[best:RANKED_IN]->(t)
WHERE best.rank = best_rank
RETURN t.key AS node_key, t.name_en AS node, t.segment AS segment, patents, ranked_firms, top.name AS top_firm
ORDER BY node_key""",
    "group_subsidiaries_nodes": """
MATCH (s:Firm)-[:SUBSIDIARY_OF*1..3]->(g:Firm {firm_id: $group_id})
OPTIONAL MATCH (s)<-[m:RESOLVES_TO]-(:Applicant)-[:FILED]->(:Patent)-[:IN_NODE]->(t:TechNode)
WHERE m.decision IN ['auto', 'manual']
RETURN s.firm_id AS firm_id, s.name AS firm, s.status AS status, collect(DISTINCT t.key) AS nodes
ORDER BY firm_id""",
}


@pytest.fixture(scope="module", params=["fixture", "demo"])
def graph(request, tmp_path_factory):
    """(reader, contract frames) of a built graph: the hand-built fixture, then the demo build."""
    if request.param == "fixture":
        workspace = write_fixture_workspace(tmp_path_factory.mktemp("ws"))
        build_embedded_graph(workspace, "summaries-tests")
    else:
        workspace = Workspace(request.getfixturevalue("demo_build")[0])
    frames = {name: workspace.read_df(name) for name in SOURCE_TABLES}
    with open_reader(workspace) as reader:
        yield reader, frames


def rows(reader, query: str, params: dict | None = None) -> list[list]:
    return run_cypher(query, params or {}, backend=reader, timeout_s=30, row_cap=100_000).rows


def frame(reader, query: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows(reader, query), columns=columns)


def test_active_in_counts_equal_a_pandas_computation_from_the_tables(graph):
    reader, tables = graph
    expected = expected_summaries(tables)["active_in"]
    found = frame(reader, "MATCH (f:Firm)-[r:ACTIVE_IN]->(t:TechNode) RETURN f.firm_id, t.key, r.patents, r.inventions,"
                  " r.granted, r.first_year, r.last_year ORDER BY f.firm_id, t.key", list(expected.columns))
    assert len(expected) > 5 and (expected.patents > 1).any() and (expected.granted > 0).any()
    pd.testing.assert_frame_equal(found, expected, check_dtype=False)


def test_active_in_chain_counts_distinct_patents_and_nodes(graph):
    reader, tables = graph
    expected = expected_summaries(tables)["active_in_chain"]
    found = frame(reader, "MATCH (f:Firm)-[r:ACTIVE_IN_CHAIN]->(c:Chain) RETURN f.firm_id, c.chain_id, r.patents,"
                  " r.node_count, r.nodes ORDER BY f.firm_id, c.chain_id", list(expected.columns))
    assert (expected.node_count > 1).any()
    pd.testing.assert_frame_equal(found, expected, check_dtype=False)


def test_node_and_patent_counts_equal_a_pandas_computation(graph):
    reader, tables = graph
    expected = expected_summaries(tables)
    nodes = frame(reader, "MATCH (t:TechNode) RETURN t.key, t.patent_count, t.firm_count, t.unresolved_count"
                  " ORDER BY t.key", list(expected["tech_nodes"].columns))
    pd.testing.assert_frame_equal(nodes, expected["tech_nodes"], check_dtype=False)
    patents = frame(reader, "MATCH (p:Patent) RETURN p.publication_number, p.forward_citations, p.resolved"
                    " ORDER BY p.publication_number", list(expected["patents"].columns))
    pd.testing.assert_frame_equal(patents, expected["patents"], check_dtype=False)
    assert (nodes.unresolved_count > 0).any() and (patents.forward_citations > 0).any()


def test_fixture_summaries_by_hand(tmp_path):
    workspace = write_fixture_workspace(tmp_path)
    build_embedded_graph(workspace, "by-hand")
    with open_reader(workspace) as reader:
        active = {(f, t): tuple(counts) for f, t, *counts in rows(
            reader, "MATCH (f:Firm)-[r:ACTIVE_IN]->(t:TechNode) RETURN f.firm_id, t.key, r.patents, r.inventions,"
            " r.granted")}
        chain = rows(reader, "MATCH (f:Firm {firm_id: $id})-[r:ACTIVE_IN_CHAIN]->(c:Chain) RETURN c.chain_id,"
                     " r.patents, r.node_count, r.nodes", {"id": F_CHIP})
        chip = rows(reader, "MATCH (t:TechNode {key: 'ai/chip'}) RETURN t.patent_count, t.firm_count,"
                    " t.unresolved_count")
    # 深圳芯智 in ai/chip: patents 1, 2, 3, 29 filed itself and 3, 4 through its parent's subsidiary link
    # (patent 3 once); all inventions; patent 4 has a grant date.
    assert active[(F_CHIP, "ai/chip")] == (5, 5, 1)
    assert active[(F_SHELL, "ai/chip")] == (2, 0, 2)  # two utility models (kind U: granted)
    assert not any(firm == F_VISION for firm, _ in active)  # its only link is still in review
    assert chain == [["ai", 6, 2, ["ai/chip", "ai/vision"]]]  # patent 29 sits in two nodes and counts once
    assert chip == [[7, 3, 0]]


def test_without_matches_nothing_is_resolved_and_no_firm_is_active(tmp_path):
    report = build_embedded_graph(write_fixture_workspace(tmp_path, without=("matches",)), "no-matches")
    assert report.missing_tables == ["matches"]
    assert report.relationships["ACTIVE_IN"] == report.relationships["ACTIVE_IN_CHAIN"] == 0
    with open_reader(Workspace(tmp_path)) as reader:
        # 30 patent-in-node rows: patent 29 sits in two nodes, patent 30 in none
        counts = rows(reader, "MATCH (t:TechNode) RETURN t.patent_count, t.unresolved_count, t.firm_count")
        assert rows(reader, "MATCH (p:Patent) WHERE p.resolved RETURN count(p)") == [[0]]
    assert sum(c[0] for c in counts) == 30 and all(c[0] == c[1] and c[2] == 0 for c in counts)


def test_graph_builds_without_chains(tmp_path):
    report = build_embedded_graph(write_fixture_workspace(tmp_path, without=("tech_nodes", "node_patents")), "bare")
    assert report.nodes["TechNode"] == 0 and report.nodes["Patent"] == 30
    assert report.relationships["ACTIVE_IN"] == 0 and report.relationships["RESOLVES_TO"] == 10


def test_granted_kinds_are_those_ranking_uses():
    from graph.ranking.features import GRANTED_KINDS as RANKING_GRANTED_KINDS

    assert set(GRANTED_KINDS) == set(RANKING_GRANTED_KINDS)


def _canonical(result: list[list]) -> list[str]:
    return sorted(repr([sorted(v, key=repr) if isinstance(v, list) else v for v in row]) for row in result)


def _parameter_sets(reader, name: str) -> list[dict]:
    chains = [r[0] for r in rows(reader, "MATCH (c:Chain) RETURN c.chain_id ORDER BY c.chain_id")]
    nodes = [r[0] for r in rows(reader, "MATCH (t:TechNode) RETURN t.key ORDER BY t.key")]
    groups = [r[0] for r in rows(reader, "MATCH (:Firm)-[:SUBSIDIARY_OF]->(g:Firm) RETURN DISTINCT g.firm_id"
                                         " ORDER BY g.firm_id")]
    return {
        "firms_in_several_nodes": [{"chain_id": c, "min_nodes": k} for c in chains for k in (1, 2, 3)],
        "region_node_counts": [{"chain_id": c} for c in chains],
        "chain_overview": [{"chain_id": c} for c in chains],
        "node_patents_unresolved": [{"node_key": n} for n in nodes],
        "top_cited_patents_in_node": [{"node_key": n, "limit": k} for n in nodes for k in (3, 1000)],
        "group_subsidiaries_nodes": [{"group_id": g} for g in groups],
    }[name]


@pytest.mark.parametrize("name", sorted(set(OLD_QUERIES) - {"group_subsidiaries_nodes"}))
def test_rewritten_query_returns_what_the_path_walk_returned(graph, name):
    reader, _ = graph
    new = get_query(name)
    assert new.cypher.strip() != OLD_QUERIES[name].strip()
    answered = 0
    for params in _parameter_sets(reader, name):
        old_rows, new_rows = rows(reader, OLD_QUERIES[name], params), rows(reader, new.cypher, params)
        assert _canonical(new_rows) == _canonical(old_rows), (name, params)
        assert [r[0] for r in new_rows] == [r[0] for r in old_rows], (name, params)  # same order
        answered += bool(new_rows)
    assert answered, f"{name}: no parameter set gave rows, so the comparison proves nothing"


def test_group_subsidiaries_rows_hold_the_path_walks_nodes_in_a_fixed_order(graph):
    """One row per subsidiary and chain now: merged per firm they give the old one-row-per-firm answer."""
    reader, _ = graph
    name = "group_subsidiaries_nodes"
    answered = 0
    for params in _parameter_sets(reader, name):
        new_rows = rows(reader, get_query(name).cypher, params)
        assert [r[:4] for r in new_rows] == sorted((r[:4] for r in new_rows), key=lambda r: (r[0], r[3] or ""))
        merged: dict[str, tuple] = {}
        for firm_id, firm, status, chain_id, nodes in new_rows:
            assert firm_id not in merged or chain_id is not None, (params, firm_id)  # no chain: its only row
            assert nodes == sorted(nodes or []) or nodes is None, (params, firm_id)  # key order, not storage order
            held = merged.get(firm_id, (firm, status, []))[2]
            merged[firm_id] = (firm, status, held + (nodes or []))
        old = {firm_id: (firm, status, sorted(nodes))
               for firm_id, firm, status, nodes in rows(reader, OLD_QUERIES[name], params)}
        assert {f: (firm, status, sorted(nodes)) for f, (firm, status, nodes) in merged.items()} == old, params
        answered += any(nodes for _, _, _, _, nodes in new_rows)
    assert answered, "no group has a subsidiary holding node patents, so the comparison proves nothing"


def _firms_with_accepted_links(reader) -> list[str]:
    return [r[0] for r in rows(reader, "MATCH (:Applicant)-[m:RESOLVES_TO]->(f:Firm) WHERE m.decision IN ['auto', 'manual']"
                                       " RETURN DISTINCT f.firm_id ORDER BY f.firm_id LIMIT 60")]


def test_saved_queries_list_values_in_their_stated_order_not_storage_order(graph):
    """filed_as, nodes, ranked_in and cited sorted; a patent's applicants in their filing position."""
    reader, _ = graph
    firms = _firms_with_accepted_links(reader)
    nodes = [r[0] for r in rows(reader, "MATCH (t:TechNode) RETURN t.key ORDER BY t.key")]
    longer_lists = {"filed_as": 0, "nodes": 0, "ranked_in": 0, "cited": 0, "applicants": 0}

    def check_sorted(name: str, values: list) -> None:
        assert values == sorted(values), (name, values)
        longer_lists[name] += len(values) > 1

    for firm_id in firms:
        for row in rows(reader, get_query("firm_patents_and_nodes").cypher, {"firm_id": firm_id}):
            pairs = list(zip(row[4], row[5], strict=True))  # filed_as[i] links to the firm by link_types[i]
            assert len(set(pairs)) == len(pairs), row
            check_sorted("filed_as", pairs)
            check_sorted("nodes", row[6])
        for row in rows(reader, get_query("firm_profile").cypher, {"firm_id": firm_id}):
            check_sorted("ranked_in", row[7])
        for row in rows(reader, get_query("cited_firms_of_firm").cypher, {"firm_id": firm_id}):
            assert row[2] == len(row[3])
            check_sorted("cited", row[3])
    for node_key in nodes:
        for number, _, _, applicants, types in rows(reader, get_query("node_patents_unresolved").cypher,
                                                    {"node_key": node_key}):
            filed = rows(reader, "MATCH (a:Applicant)-[f:FILED]->(:Patent {publication_number: $n})"
                                 " RETURN a.name, a.applicant_type ORDER BY f.position", {"n": number})
            assert [applicants, types] == [[a for a, _ in filed], [t for _, t in filed]], number
            longer_lists["applicants"] += len(applicants) > 1
    # every list kind was seen with two or more values somewhere, so the order checks can fail
    # on the demo build every sorted kind was seen with two or more values, so those checks can fail (neither graph
    # has an unresolved patent with two applicants: the position check there guards the names/types alignment)
    if len(firms) > 20:
        assert all(longer_lists[kind] for kind in ("filed_as", "nodes", "ranked_in", "cited")), longer_lists
