"""The saved query catalog: headers parse, parameters bind, and every query answers the fixture correctly."""

from __future__ import annotations

import re

import pytest
from graph_fixtures import (
    F_ALGO,
    F_CHIP,
    F_CLOUD,
    F_GROUP,
    F_ROBOT,
    F_SHELL,
    F_VISION,
    pub,
    write_fixture_workspace,
)

from graph.catalog import PARAM_TYPES, get_query, list_queries, parse_query_file
from graph.cypher import run_cypher
from graph.load import build_embedded_graph, open_reader

pytestmark = pytest.mark.ladybug
NAMES = [q.name for q in list_queries()]


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    workspace = write_fixture_workspace(tmp_path_factory.mktemp("ws"))
    build_embedded_graph(workspace, "catalog-tests")
    with open_reader(workspace) as graph_reader:
        yield graph_reader


def answer(reader, name: str, **params) -> list[dict]:
    query = get_query(name)
    result = run_cypher(query.cypher, query.bind({**query.example_params(), **params}), backend=reader,
                        timeout_s=10, row_cap=1000)
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def test_catalog_has_at_least_twelve_documented_queries():
    queries = list_queries()
    assert len(queries) >= 12
    for query in queries:
        assert query.description and query.cypher.lstrip().upper().startswith(("MATCH", "OPTIONAL", "WITH"))
        declared = {p.name for p in query.params}
        used = set(re.findall(r"\$(\w+)", query.cypher))
        assert used == declared, query.name
        assert all(p.type in PARAM_TYPES and p.description for p in query.params)


@pytest.mark.parametrize("name", NAMES)
def test_every_query_runs_on_ladybug_with_its_example_and_finds_rows(reader, name):
    assert answer(reader, name), f"{name} returned no rows on the fixture"


@pytest.mark.parametrize("name", NAMES)
def test_queries_stay_in_the_cypher_both_backends_share(name):
    text = get_query(name).cypher
    for construct in ("apoc.", "gds.", "label(", "CALL ", "[0]", "toString(", "type(", "elementId("):
        assert construct not in text, f"{name} uses {construct!r}, which one backend lacks"


def test_node_firms_ranked(reader):
    rows = answer(reader, "node_firms_ranked", node_key="ai/chip")
    assert [(r["rank"], r["firm_id"], r["tier"]) for r in rows] == [(1, F_CHIP, "A"), (2, F_GROUP, "B"),
                                                                     (3, F_SHELL, "C")]
    assert rows[0]["region"] == "广东省/深圳市"
    assert len(answer(reader, "node_firms_ranked", node_key="ai/chip", limit=1)) == 1


def test_firm_patents_and_nodes_follows_subsidiary_links(reader):
    rows = {r["publication_number"]: r for r in answer(reader, "firm_patents_and_nodes", firm_id=F_CHIP)}
    assert set(rows) == {pub(n) for n in (1, 2, 3, 4, 11, 29)}
    assert rows[pub(4)]["filed_as"] == ["华芯控股集团有限公司"] and rows[pub(4)]["link_types"] == ["subsidiary"]
    assert sorted(rows[pub(29)]["nodes"]) == ["ai/chip", "ai/vision"]


def test_firms_in_several_nodes(reader):
    rows = answer(reader, "firms_in_several_nodes", chain_id="ai", min_nodes=2)
    assert {r["firm_id"] for r in rows} == {F_CHIP, F_ALGO, F_CLOUD}
    assert answer(reader, "firms_in_several_nodes", chain_id="bio", min_nodes=2) == []


def test_upstream_suppliers_of_robots(reader):
    rows = answer(reader, "upstream_suppliers", node_key="ai/robot", max_rank=1)
    assert {(r["supplier_node"], r["firm_id"]) for r in rows} == {
        ("ai/chip", F_CHIP), ("ai/data", F_CLOUD), ("ai/nlp", F_ALGO), ("ai/vision", F_CHIP)}


def test_cited_firms_skip_links_still_in_review(reader):
    # 广州智造 cites 深圳芯智 (accepted) and 杭州视觉智能 (link only in review): only the first counts.
    assert [(r["firm_id"], r["cited"]) for r in answer(reader, "cited_firms_of_firm", firm_id=F_ROBOT)] == [
        (F_CHIP, [pub(1)])]
    assert [r["firm_id"] for r in answer(reader, "cited_firms_of_firm", firm_id=F_CLOUD)] == [F_ALGO]


def test_deregistered_firm_appears_with_its_successor(reader):
    rows = answer(reader, "applicants_of_deregistered_firms")
    assert [(r["applicant_id"], r["firm_id"], r["successor_id"]) for r in rows] == [("A04", F_SHELL, F_CHIP)]
    assert str(rows[0]["deregistered_date"]) == "2021-06-30"


def test_unresolved_patents_of_a_node(reader):
    rows = answer(reader, "node_patents_unresolved", node_key="ai/vision")
    assert [r["publication_number"] for r in rows] == [pub(9), pub(10), pub(12)]
    robots = answer(reader, "node_patents_unresolved", node_key="ai/robot")
    assert [(r["publication_number"], r["applicant_types"]) for r in robots] == [(pub(20), ["research_institute"])]


def test_group_subsidiaries_and_their_nodes(reader):
    rows = [(r["firm_id"], r["chain_id"], r["nodes"]) for r in answer(reader, "group_subsidiaries_nodes", group_id=F_GROUP)]
    # rows by firm then chain, node keys in key order: the same list every run, on either backend
    assert rows == [(F_CLOUD, "ai", ["ai/data", "ai/robot"]), (F_CHIP, "ai", ["ai/chip", "ai/vision"])]


def test_region_node_counts(reader):
    rows = {(r["province"], r["node_key"]): r["firms"] for r in answer(reader, "region_node_counts", chain_id="ai")}
    assert rows[("广东省", "ai/chip")] == 2  # 深圳芯智 and 华芯控股
    assert rows[("江苏省", "ai/chip")] == 1  # the deregistered shell in 苏州
    assert ("浙江省", "ai/vision") not in rows  # 杭州视觉智能's link is still in review


def test_top_cited_patents_in_node(reader):
    rows = answer(reader, "top_cited_patents_in_node", node_key="ai/chip", limit=2)
    assert [(r["publication_number"], r["forward_citations"]) for r in rows] == [(pub(1), 4), (pub(2), 1)]


def test_applicants_needing_review(reader):
    rows = answer(reader, "applicants_needing_review")
    assert [(r["applicant_id"], r["firm_id"], r["score"]) for r in rows] == [("A03", F_VISION, 0.72)]


def test_chain_node_tree(reader):
    rows = answer(reader, "chain_node_tree", chain_id="bio")
    assert {r["node_key"]: r["parent_key"] for r in rows} == {
        "bio/up": None, "bio/reagent": "bio/up", "bio/mid": None, "bio/drug": "bio/mid", "bio/down": None}
    assert [r["segment"] for r in rows] == ["downstream", "midstream", "midstream", "upstream", "upstream"]


def test_chain_overview(reader):
    rows = {r["node_key"]: r for r in answer(reader, "chain_overview", chain_id="ai")}
    assert (rows["ai/chip"]["patents"], rows["ai/chip"]["ranked_firms"], rows["ai/chip"]["top_firm"]) == (
        7, 3, "深圳芯智科技有限公司")
    assert rows["ai/up"]["patents"] == 0 and rows["ai/up"]["top_firm"] is None


def test_person_applicants_linked(reader):
    rows = answer(reader, "person_applicants_linked")
    assert [(r["person"], r["firm_id"], r["patents"]) for r in rows] == [("张伟", F_ROBOT, 2)]


def test_firm_profile(reader):
    (row,) = answer(reader, "firm_profile", firm_id=F_CHIP)
    assert (row["region"], row["parent"], row["best_rank"]) == ("广东省/深圳市", "华芯控股集团有限公司", 1)
    assert sorted(row["ranked_in"]) == ["ai/chip", "ai/vision"]


def test_bind_types_values_and_names_what_is_wrong():
    query = get_query("node_firms_ranked")
    assert query.bind({"node_key": "ai/nlp", "limit": "5"}) == {"node_key": "ai/nlp", "limit": 5}
    with pytest.raises(ValueError, match=r"needs limit \(int, e.g. 20\)"):
        query.bind({"node_key": "ai/nlp"})
    with pytest.raises(ValueError, match="no parameter chain"):
        query.bind({"node_key": "ai/nlp", "limit": 5, "chain": "ai"})
    with pytest.raises(ValueError, match="'limit' must be int"):
        query.bind({"node_key": "ai/nlp", "limit": "many"})
    with pytest.raises(KeyError, match="no saved query 'nope'"):
        get_query("nope")


def test_malformed_header_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "broken.cypher"
    path.write_text("// name: broken\n// description: x\n// param limit int 5\nMATCH (n) RETURN n\n")
    with pytest.raises(ValueError, match=r"broken.cypher:3"):
        parse_query_file(path)
    path.write_text("// name: other\n// description: x\nMATCH (n) RETURN n\n")
    with pytest.raises(ValueError, match="must be 'broken'"):
        parse_query_file(path)
