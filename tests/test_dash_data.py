"""The explorer's data layer (dash_app.data) on a small realistic workspace."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import ui_fixtures
from ui_fixtures import FIRMS, RUN_ID

from dash_app import data
from graph.workspace import Workspace

CHIPS_LEADER = FIRMS[0]  # 深圳云芯, rank 1 in up.chips
SHELL = FIRMS[10]  # deregistered former-name shell
ui_workspace = ui_fixtures.ui_workspace


def _nodes(graph: data.ChainGraph) -> dict[str, dict]:
    return {e["data"]["id"]: e for e in graph.elements if "source" not in e["data"]}


def _edges(graph: data.ChainGraph, kind: str) -> set[tuple[str, str]]:
    return {(e["data"]["source"], e["data"]["target"]) for e in graph.elements if e.get("classes") == kind}


def test_chains_are_listed_with_names_and_node_counts(ui_workspace):
    assert data.list_chains(ui_workspace) == [
        {"chain_id": "ai", "chain_name_zh": "人工智能", "chain_name_en": "Artificial intelligence", "nodes": 9}
    ]


def test_chain_graph_lays_segments_out_upstream_to_downstream_and_colours_by_target_firms(ui_workspace):
    graph = data.chain_elements(ui_workspace, "ai")
    nodes = _nodes(graph)
    assert len(nodes) == graph.nodes_shown == graph.nodes_total == 9
    assert _edges(graph, "supply") == {
        ("up.chips", "mid.cv"), ("up.chips", "mid.nlp"), ("up.chips.gpu", "mid.cv"), ("up.data", "mid.nlp"),
        ("mid.cv", "down.auto"), ("mid.nlp", "down.auto"),
    }  # fmt: skip
    assert _edges(graph, "hierarchy") == {("up.chips", "up.chips.gpu")}
    # segment boxes hold their descendants; columns run upstream → midstream → downstream
    assert {nodes[n]["data"]["parent"] for n in ("up.chips", "up.chips.gpu", "up.data")} == {"up"}
    assert nodes["down.auto"]["data"]["parent"] == "down"
    x = {n: e["position"]["x"] for n, e in nodes.items() if "position" in e}
    assert max(x["up.chips"], x["up.chips.gpu"], x["up.data"]) < min(x["mid.cv"], x["mid.nlp"]) < x["down.auto"]
    # colours by share of the busiest node (6 firms): 5 and 6 darkest, 3 (half) second lightest, none grey
    assert nodes["up.chips"]["data"]["colour"] == nodes["mid.cv"]["data"]["colour"] == data.TARGET_COLOURS[-1]
    assert nodes["mid.nlp"]["data"]["colour"] == data.TARGET_COLOURS[1]
    assert nodes["up.data"]["data"]["colour"] == data.TARGET_COLOURS[0]
    assert nodes["mid"]["data"]["colour"] == data.NO_TARGETS_COLOUR
    assert nodes["mid.cv"]["data"]["firms"] == 5
    assert nodes["up.chips"]["data"]["href"] == "/node/ai/up.chips"
    assert graph.legend[0] == (data.NO_TARGETS_COLOUR, "0") and graph.legend[-1] == (data.TARGET_COLOURS[-1], "5–6")


def test_a_node_ranked_only_through_its_sub_nodes_shows_their_firms_not_zero(ui_workspace, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(ui_workspace.root, root)
    workspace = Workspace(root)
    scores = workspace.read_df("firm_scores")
    workspace.write("firm_scores", scores[scores["node_id"] != "up.chips"], RUN_ID)  # a field node with no expression
    gpu_firms = set(scores.loc[scores["node_id"] == "up.chips.gpu", "firm_id"])
    upstream_firms = set(scores.loc[scores["node_id"].isin(["up.chips.gpu", "up.data"]), "firm_id"])
    assert gpu_firms and upstream_firms > gpu_firms

    graph = data.chain_elements(workspace, "ai")
    chips = _nodes(graph)["up.chips"]["data"]
    assert chips["firms"] == 0 and chips["firms_below"] == len(gpu_firms)
    assert chips["label"].endswith(f"{len(gpu_firms)} firms in sub-nodes") and chips["colour"] == data.ROLLED_UP_COLOUR
    assert f"({len(upstream_firms)} firms in sub-nodes)" in _nodes(graph)["up"]["data"]["label"]
    assert (data.ROLLED_UP_COLOUR, "only in sub-nodes 仅子节点") in graph.legend
    rows = {r["node_id"]: r for r in data.chain_node_rows(workspace, "ai")}
    assert (rows["up.chips"]["firms"], rows["up.chips"]["firms_below"]) == (0, len(gpu_firms))
    assert rows["up.chips.gpu"]["firms_below"] == 0  # a leaf has nothing below it


def test_chain_graph_drops_deepest_level_and_lifts_its_links_when_over_the_element_cap(ui_workspace):
    full = data.chain_elements(ui_workspace, "ai")
    capped = data.chain_elements(ui_workspace, "ai", max_elements=len(full.elements) - 1)
    assert len(capped.elements) <= len(full.elements) - 1
    assert capped.deepest_level_shown == 2 and capped.nodes_shown == 8 and capped.nodes_total == 9
    assert "up.chips.gpu" not in _nodes(capped)
    # GPU → CV is now carried by its parent, once
    assert _edges(capped, "supply") == _edges(full, "supply") - {("up.chips.gpu", "mid.cv")}
    assert _edges(capped, "hierarchy") == set()


def test_target_colour_never_gets_lighter_as_the_count_grows():
    scale = [data.NO_TARGETS_COLOUR, *data.TARGET_COLOURS]
    for max_count in (1, 2, 7, 40, 1000):
        steps = [scale.index(data.colour_for(count, max_count)) for count in range(max_count + 1)]
        assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == len(scale) - 1


def test_node_rows_list_every_node_depth_first_with_patents_and_firms(ui_workspace):
    rows = data.chain_node_rows(ui_workspace, "ai")
    assert [r["node_id"] for r in rows] == [
        "up", "up.chips", "up.chips.gpu", "up.data", "mid", "mid.cv", "mid.nlp", "down", "down.auto"
    ]  # fmt: skip
    chips = rows[1]
    assert (chips["patents"], chips["firms"]) == (14, 6)  # 10 own + 4 GPU patents also classed as chips


def test_node_summary_counts_patents_years_applicant_types_and_firms(ui_workspace):
    summary = data.node_summary(ui_workspace, "ai", "up.chips")
    assert (summary["name_zh"], summary["segment"], summary["level"]) == ("AI芯片", "upstream", 2)
    assert summary["patent_count"] == 14
    assert sum(y["patents"] for y in summary["patents_by_year"]) == 14
    assert [y["year"] for y in summary["patents_by_year"]] == sorted(y["year"] for y in summary["patents_by_year"])
    mix = {m["applicant_type"]: m["applicants"] for m in summary["applicant_types"]}
    assert mix["university"] == 1 and mix["company"] >= 6
    assert summary["firm_count"] == 6
    assert summary["tier_counts"] == {"A": 2, "B": 2, "C": 1, "D": 1}
    assert [a["node_id"] for a in summary["ancestors"]] == ["up"]
    assert [c["node_id"] for c in summary["customers"]] == ["mid.cv", "mid.nlp"]
    assert [c["node_id"] for c in summary["children"]] == ["up.chips.gpu"]
    assert "广东" in summary["regions"] and "small" in summary["size_bands"]


def test_a_node_without_supply_links_shows_its_nearest_ancestors(ui_workspace, tmp_path):
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(ui_workspace.root, copy.root)
    direct = data.node_summary(copy, "ai", "up.chips.gpu")
    assert [c["node_id"] for c in direct["customers"]] == ["mid.cv"] and direct["customers_via"] is None
    links = copy.read_df("supply_links")
    copy.write("supply_links", links[links["from_node"] != "up.chips.gpu"], RUN_ID)
    inherited = data.node_summary(copy, "ai", "up.chips.gpu")
    assert [c["node_id"] for c in inherited["customers"]] == ["mid.cv", "mid.nlp"]  # those of AI芯片, its parent
    assert inherited["customers_via"] == "AI芯片"
    assert inherited["suppliers"] == [] and inherited["suppliers_via"] is None  # no ancestor has suppliers


def test_node_summary_of_an_unknown_node_names_it(ui_workspace):
    with pytest.raises(KeyError, match="no node 'nope' in chain 'ai'"):
        data.node_summary(ui_workspace, "ai", "nope")


def test_ranked_firms_pages_in_rank_order_and_reports_the_total(ui_workspace):
    first = data.ranked_firms(ui_workspace, "ai", "up.chips", start=0, end=2)
    assert first.total == 6
    assert [(r["rank"], r["name"]) for r in first.rows] == [(1, CHIPS_LEADER[1]), (2, FIRMS[3][1])]
    second = data.ranked_firms(ui_workspace, "ai", "up.chips", start=2, end=4)
    assert [r["rank"] for r in second.rows] == [3, 4] and second.total == 6
    past_end = data.ranked_firms(ui_workspace, "ai", "up.chips", start=100, end=200)
    assert past_end.rows == [] and past_end.total == 6


def test_ranked_firms_sort_on_the_server(ui_workspace):
    by_score = data.ranked_firms(ui_workspace, "ai", "up.chips", sort=[{"colId": "score", "sort": "asc"}])
    scores = [r["score"] for r in by_score.rows]
    assert scores == sorted(scores) and scores[0] == 35.0
    by_confidence = data.ranked_firms(ui_workspace, "ai", "mid.cv", sort=[{"colId": "match_confidence", "sort": "desc"}])
    assert by_confidence.rows[0]["name"] == CHIPS_LEADER[1]  # 0.97, though ranked 3rd there
    with pytest.raises(ValueError, match="cannot sort ranked firms by \\['address'\\]"):
        data.ranked_firms(ui_workspace, "ai", "up.chips", sort=[{"colId": "address", "sort": "asc"}])


@pytest.mark.parametrize(
    ("filters", "expected_ranks"),
    [
        (data.FirmFilter(tiers=("A",)), [1, 2]),
        (data.FirmFilter(regions=("广东",)), [1, 5]),
        (data.FirmFilter(size_bands=("medium",)), [2, 3, 4]),
        (data.FirmFilter(score_min=40, score_max=80), [3, 4, 5]),
        (data.FirmFilter(min_confidence=0.9), [1, 2, 5]),
        (data.FirmFilter(name_contains="图芯"), [2]),
        (data.FirmFilter(name_contains=FIRMS[7][0].lower()), [3]),  # credit code, any case
        (data.FirmFilter(regions=("广东",), tiers=("A", "B")), [1]),
        (data.FirmFilter(regions=("西藏",)), []),
    ],
)
def test_ranked_firms_filter_on_the_server(ui_workspace, filters, expected_ranks):
    page = data.ranked_firms(ui_workspace, "ai", "up.chips", filters=filters)
    assert [r["rank"] for r in page.rows] == expected_ranks
    assert page.total == len(expected_ranks)


def test_firm_profile_shows_registry_group_scores_evidence_and_patents(ui_workspace):
    profile = data.firm_profile(ui_workspace, CHIPS_LEADER[0])
    firm = profile["firm"]
    assert (firm["name"], firm["status"], firm["former_names"]) == (CHIPS_LEADER[1], "operating", [SHELL[1]])
    assert profile["parent"]["name"] == "云芯控股集团有限公司"
    assert [p["name"] for p in profile["predecessors"]] == [SHELL[1]]
    assert [s["node_id"] for s in profile["scores"]] == ["up.chips", "up.chips.gpu", "mid.cv"]  # best score first
    assert profile["scores"][0]["firms_in_node"] == 6 and profile["scores"][0]["rank"] == 1
    evidence = {(e["name"], e["link_type"]): e for e in profile["evidence"]}
    assert set(evidence) == {(CHIPS_LEADER[1], "direct"), (SHELL[1], "former_name"), ("云芯控股集团有限公司", "subsidiary")}
    former = evidence[(SHELL[1], "former_name")]
    assert former["decision"] == "auto"
    assert ("note", "former name of the successor; shell deregistered 2019") in former["evidence_items"]
    assert ("features.name_similarity", "1") in former["evidence_items"]
    assert [e["decision"] for e in profile["evidence"]] == ["auto", "auto", "review"]
    # patents come from accepted links only: the former-name filing counts, the holding's (under review) does not
    filed_as = {p["raw_name"] for p in profile["patents"]}
    assert filed_as == {CHIPS_LEADER[1], SHELL[1]}
    assert profile["patent_total"] == len(profile["patents"]) == 7
    dates = [p["application_date"] for p in profile["patents"]]
    assert dates == sorted(dates, reverse=True)


def test_deregistered_shell_profile_points_to_its_successor_and_shows_the_rejected_link(ui_workspace):
    profile = data.firm_profile(ui_workspace, SHELL[0])
    assert profile["firm"]["status"] == "deregistered"
    assert profile["successor"]["firm_id"] == CHIPS_LEADER[0]
    assert [(e["decision"], e["link_type"]) for e in profile["evidence"]] == [("rejected", "direct")]
    assert profile["patents"] == [] and profile["scores"] == []


def _neighbours(graph: data.Neighbourhood, kind: str) -> dict[str, dict]:
    """label → node element of one kind (firm, technode, applicant), without the firm in the middle."""
    return {e["data"]["label"]: e for e in graph.elements
            if "source" not in e["data"] and e["data"]["id"] != "firm" and e["classes"].split()[0] == kind}


def test_firm_neighbourhood_joins_group_nodes_and_applicants_to_the_firm(ui_workspace):
    graph = data.firm_neighbourhood(data.firm_profile(ui_workspace, CHIPS_LEADER[0]))
    neighbours = _neighbours(graph, "firm")
    ids_by_label = {label: e["data"]["id"] for label, e in neighbours.items()}
    edges = {(e["data"]["source"], e["data"]["target"]): e for e in graph.elements if "source" in e["data"]}
    # group: the holding is the parent (parent → firm), the deregistered shell a predecessor (shell → firm)
    assert neighbours["云芯控股集团有限公司"]["data"]["href"] == data.firm_href("91440300MA5F000101")
    assert edges[(ids_by_label["云芯控股集团有限公司"], "firm")]["data"]["label"] == "母公司 parent"
    assert "deregistered" in neighbours[SHELL[1]]["classes"].split()
    assert edges[(ids_by_label[SHELL[1]], "firm")]["data"]["label"] == "前身 predecessor"
    # the three nodes it ranks in, named with their chain, rank, tier and score, each opening its node page
    nodes = _neighbours(graph, "technode")
    assert list(nodes) == ["人工智能 · AI芯片\n#1 A · 92.5", "人工智能 · 图形处理器\n#2 B · 70.0",
                           "人工智能 · 计算机视觉\n#3 C · 58.8"]
    assert nodes["人工智能 · AI芯片\n#1 A · 92.5"]["data"]["href"] == data.node_href("ai", "up.chips")
    assert set(_neighbours(graph, "applicant")) == {CHIPS_LEADER[1], SHELL[1], "云芯控股集团有限公司"}
    # applicants filed under it: its own name, its former name, and the holding (still under review: dashed)
    applicant_edges = {e["data"]["label"]: e["classes"] for (source, _), e in edges.items()
                       if source.startswith("applicant")}
    assert applicant_edges == {"direct": "filed auto", "former name": "filed auto", "subsidiary": "filed review"}
    assert (graph.neighbours_shown, graph.neighbours_total) == (8, 8)
    # every edge joins drawn nodes, and no two nodes share a spot
    drawn = {e["data"]["id"] for e in graph.elements if "source" not in e["data"]}
    assert all({source, target} <= drawn for source, target in edges)
    spots = [(e["position"]["x"], e["position"]["y"]) for e in graph.elements if "position" in e]
    assert len(spots) == len(set(spots)) == len(drawn)


def test_firm_neighbourhood_leaves_out_rejected_links_and_stops_at_the_cap(ui_workspace):
    shell = data.firm_neighbourhood(data.firm_profile(ui_workspace, SHELL[0]))
    assert list(_neighbours(shell, "firm")) == [CHIPS_LEADER[1]]  # its successor; the rejected applicant is left out
    assert _neighbours(shell, "applicant") == {} and _neighbours(shell, "technode") == {}

    profile = data.firm_profile(ui_workspace, CHIPS_LEADER[0])
    profile["subsidiaries"] = [{"firm_id": f"SUB{i:03d}", "name": f"子公司{i}", "status": "operating",
                                "href": data.firm_href(f"SUB{i:03d}")} for i in range(45)]  # fmt: skip
    capped = data.firm_neighbourhood(profile, max_neighbours=40)
    assert (capped.neighbours_shown, capped.neighbours_total) == (40, 53)
    assert len(capped.elements) == 1 + 2 * 40  # the firm, and one node and one edge per neighbour
    assert len(_neighbours(capped, "firm")) == 40 and _neighbours(capped, "technode") == {}  # group came first


def test_unknown_firm_has_no_profile(ui_workspace):
    assert data.firm_profile(ui_workspace, "000000000000000000") is None


def test_evidence_that_is_not_json_is_shown_raw():
    assert data.evidence_items("name matched, city differs") == [("raw", "name matched, city differs")]
    assert data.evidence_items('{"scores": [0.9, 0.8], "ok": true}') == [("scores", "0.9, 0.8"), ("ok", "True")]


def test_evidence_lists_of_candidates_read_one_per_row():
    evidence = '{"candidates": [{"name": "深圳云芯", "score": 0.81234, "via": "key"}, {"name": "上海图芯", "score": 0.64}]}'
    assert data.evidence_items(evidence) == [("candidates[1]", "name: 深圳云芯, score: 0.812, via: key"),
                                             ("candidates[2]", "name: 上海图芯, score: 0.64")]


def test_a_rewritten_table_is_picked_up_without_restarting(ui_workspace, tmp_path):
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(ui_workspace.root, copy.root)
    assert data.ranked_firms(copy, "ai", "up.data").rows[0]["score"] == 75.0
    scores = copy.read_df("firm_scores")
    scores.loc[scores["node_id"] == "up.data", "score"] = 12.5
    copy.write("firm_scores", scores, RUN_ID)
    assert data.ranked_firms(copy, "ai", "up.data").rows[0]["score"] == 12.5


def test_a_missing_table_is_named_with_the_stage_to_run(ui_workspace, tmp_path):
    partial = Workspace(tmp_path / "partial")
    partial.write("tech_nodes", ui_workspace.read_df("tech_nodes"), RUN_ID)
    partial.write("supply_links", ui_workspace.read_df("supply_links"), RUN_ID)
    assert len(data.list_chains(partial)) == 1
    with pytest.raises(FileNotFoundError, match="table 'firm_scores' is not in the workspace yet"):
        data.chain_elements(partial, "ai")


def test_records_are_json_safe(ui_workspace):
    profile = data.firm_profile(ui_workspace, CHIPS_LEADER[0])
    pd.io.json.ujson_dumps(profile)  # no numpy scalars, NaN or Timestamps left for Dash to choke on
    assert profile["firm"]["deregistered_date"] is None and profile["firm"]["established_date"] == "2012-01-15"


def test_warm_reads_the_first_visit_tables_ahead_so_the_first_visit_reads_none(ui_workspace, tmp_path, monkeypatch):
    copy = Workspace(tmp_path / "ws")
    shutil.copytree(ui_workspace.root, copy.root)
    assert data.warm(copy) > 0
    assert data.warm(copy) == 0  # nothing changed: a stat per table
    reads = []
    original = Workspace.read_df
    monkeypatch.setattr(Workspace, "read_df", lambda self, name, columns=None: reads.append(name) or original(
        self, name, columns))
    copy.write("firm_scores", copy.read_df("firm_scores"), RUN_ID)  # a refresh rewrote one table
    reads.clear()
    assert data.warm(copy) == 2 and reads == ["firm_scores", "firm_scores"]  # whole, and the (chain, node, firm) slice
    reads.clear()
    data.node_summary(copy, "ai", "up.chips")
    data.ranked_firms(copy, "ai", "up.chips")
    assert data.chain_elements(copy, "ai").elements
    assert reads == []  # the visitor's page read nothing from Parquet
