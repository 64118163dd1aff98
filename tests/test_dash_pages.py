"""What the Map, Review, Cypher and Runs pages compute (pure functions), on the small UI workspace."""

from __future__ import annotations

import json
import shutil

import plotly
import pytest
import ui_fixtures
from ui_fixtures import FIRMS, HOLDING

from dash_app import cypher_view, data, tilemap
from dash_app.pages import firm
from graph.cypher import CypherResult
from graph.workspace import Workspace

ui_workspace = ui_fixtures.ui_workspace


@pytest.mark.parametrize(("raw", "tile"), [
    ("广东省", "广东"), ("广东", "广东"), ("北京市", "北京"), ("广西壮族自治区", "广西"), ("新疆维吾尔自治区", "新疆"),
    ("香港特别行政区", "香港"), ("Guangdong", "广东"), ("inner mongolia", "内蒙古"), ("加州", None), (None, None),
])  # fmt: skip
def test_province_names_as_registers_write_them_find_their_tile(raw, tile):
    assert tilemap.province_short(raw) == tile


def test_tile_grid_has_every_province_level_division_once_on_its_own_square():
    assert len(tilemap.TILES) == 34
    squares = [(row, column) for row, column, _ in tilemap.TILES.values()]
    assert len(set(squares)) == len(squares)
    position = {name: (row, column) for name, (row, column, _) in tilemap.TILES.items()}
    # north-east top right, west on the left, Hainan at the bottom
    assert position["黑龙江"][0] == 0 and position["新疆"][1] == 0 and position["海南"][0] == tilemap.ROWS - 1
    assert position["上海"][1] > position["江苏"][1] > position["安徽"][1]


def test_map_counts_distinct_target_firms_per_province(ui_workspace):
    tiles = {t["province"]: t for t in data.map_tiles(ui_workspace)["tiles"]}
    # ranked firms: 广东 云芯 + 广州数据港 (the holding and the shell are not ranked), 江苏 苏州驾智 + 南京知语
    assert tiles["广东"]["firms"] == 2 and tiles["江苏"]["firms"] == 2 and tiles["北京"]["firms"] == 1
    assert tiles["西藏"]["firms"] == 0 and tiles["西藏"]["colour"] == data.NO_TARGETS_COLOUR
    assert tiles["广东"]["colour"] == data.TARGET_COLOURS[-1]
    assert sum(t["firms"] for t in tiles.values()) == data.map_tiles(ui_workspace)["total"] == 9


def test_province_firms_lists_each_firm_once_with_its_best_node(ui_workspace):
    firms = data.province_firms(ui_workspace, "广东")
    assert [f["name"] for f in firms] == [FIRMS[0][1], FIRMS[5][1]]
    leader = firms[0]
    assert (leader["best_score"], leader["best_tier"], leader["best_node"], leader["nodes"]) == (92.5, "A", "AI芯片", 3)
    assert leader["href"] == f"/firm/{FIRMS[0][0]}" and leader["city"] == "深圳"
    assert data.province_firms(ui_workspace, "西藏") == []


def test_runs_newest_first_with_what_changed_since_the_stage_ran_before(ui_workspace):
    runs = data.run_history(ui_workspace)
    assert [r["stage"] for r in runs] == ["rank", "ingest-patents", "ingest-patents"]
    latest_ingest, first_ingest = runs[1], runs[2]
    assert latest_ingest["inputs"] == ["cnipa_2024.csv", "cnipa_2025.csv"]
    assert latest_ingest["changes"] == ["read 30 → 42", "written 28 → 40"]
    assert first_ingest["changes"] is None and runs[0]["counts"] == {"nodes_ranked": 6, "firm_rows": 19}


def test_review_queue_and_detail_show_the_link_its_evidence_and_other_candidates(ui_workspace, tmp_path):
    items = data.review_items(ui_workspace)
    assert [(i["applicant_id"], i["firm_id"], i["decided"]) for i in items] == [(HOLDING[0], FIRMS[0][0], None)]
    detail = data.review_detail(ui_workspace, HOLDING[0], FIRMS[0][0])
    assert detail["applicant"]["name"] == HOLDING[1] and detail["firm"]["name"] == FIRMS[0][1]
    assert ("note", "IP-holding parent; chip patents") in detail["evidence_items"]
    assert [c["firm_id"] for c in detail["candidates"]] == [FIRMS[0][0], FIRMS[3][0]]
    assert data.review_detail(ui_workspace, HOLDING[0], FIRMS[5][0]) is None


def test_a_recorded_decision_shows_in_the_queue_and_the_count(ui_workspace, tmp_path):
    from matching import record_decision

    root = tmp_path / "ws"
    shutil.copytree(ui_workspace.root, root)
    workspace = Workspace(root)
    record_decision(workspace, HOLDING[0], "choose", FIRMS[3][0], "admin", "the GPU subsidiary files these")
    decided = data.review_items(workspace)[0]["decided"]
    assert (decided["action"], decided["firm_id"], decided["reviewer"]) == ("choose", FIRMS[3][0], "admin")
    assert data.latest_decisions(workspace)[1] == 1


def test_firm_search_matches_name_or_credit_code_prefix_operating_first(ui_workspace):
    by_name = data.search_firms(ui_workspace, "芯")
    assert [o["value"] for o in by_name][-1] == FIRMS[10][0]  # the deregistered shell comes last
    assert {FIRMS[0][0], FIRMS[3][0], FIRMS[9][0]} <= {o["value"] for o in by_name}
    assert [o["value"] for o in data.search_firms(ui_workspace, FIRMS[4][0][:12])] == [FIRMS[4][0]]
    assert data.search_firms(ui_workspace, "  ") == []


def test_cypher_grid_cells_are_json_safe_and_columns_may_repeat():
    import datetime as dt

    result = CypherResult(["name", "name", "nodes", "since"], [["a", "b", ["x", "y"], dt.date(2020, 1, 2)]], False, 0.01)
    columns, rows = cypher_view.grid(result)
    assert [c["headerName"] for c in columns] == ["name", "name", "nodes", "since"]
    assert rows == [{"c0": "a", "c1": "b", "c2": '["x", "y"]', "c3": "2020-01-02"}]


def test_cypher_graph_from_nodes_and_relationships():
    firm_node = {"_label": "Firm", "firm_id": "F1", "name": "云芯"}
    parent = {"_label": "Firm", "firm_id": "F0", "name": "控股"}
    result = CypherResult(["f", "r", "p"], [[firm_node, {"_type": "SUBSIDIARY_OF"}, parent]], False, 0.01)
    elements = cypher_view.graph_elements(result)
    nodes = {e["data"]["id"]: e["data"]["label"] for e in elements if "source" not in e["data"]}
    edges = [(e["data"]["source"], e["data"]["target"], e["data"]["label"]) for e in elements if "source" in e["data"]]
    assert nodes == {"Firm:F1": "云芯", "Firm:F0": "控股"} and edges == [("Firm:F1", "Firm:F0", "SUBSIDIARY_OF")]


def test_cypher_graph_from_id_pairs_uses_name_columns_as_labels_and_only_when_graph_like():
    result = CypherResult(["applicant_id", "applicant", "firm_id", "firm", "score"],
                          [["A1", "张伟", "F1", "云芯", 0.7], ["A2", "李强", "F1", "云芯", 0.6]], False, 0.01)
    elements = cypher_view.graph_elements(result)
    labels = {e["data"]["id"]: e["data"]["label"] for e in elements if "source" not in e["data"]}
    assert labels == {"A1": "张伟", "F1": "云芯", "A2": "李强"}
    assert len([e for e in elements if "source" in e["data"]]) == 2
    assert cypher_view.graph_elements(CypherResult(["firm", "patents"], [["云芯", 3]], False, 0.01)) == []
    many = CypherResult(["a_id", "b_id"], [[f"a{i}", f"b{i}"] for i in range(500)], False, 0.01)
    assert len(cypher_view.graph_elements(many)) == 3 * cypher_view.MAX_GRAPH_ROWS


def test_cypher_parameters_are_typed_by_the_saved_query_or_parsed_as_json():
    from dash_app.pages import cypher

    assert cypher.bind_params("node_firms_ranked", {"node_key": "ai/up.chips", "limit": "5"}) == {
        "node_key": "ai/up.chips", "limit": 5}
    with pytest.raises(ValueError, match="needs limit"):
        cypher.bind_params("node_firms_ranked", {"node_key": "ai/up.chips", "limit": ""})
    assert cypher.bind_params(cypher.CUSTOM, {"json": '{"firm_id": "F1"}'}) == {"firm_id": "F1"}
    with pytest.raises(ValueError, match="JSON object"):
        cypher.bind_params(cypher.CUSTOM, {"json": "[1]"})


def test_scorecard_shows_dimension_bars_and_reasons_only_when_the_ranking_wrote_them():
    plain = {"score": 80.0}
    assert firm._dimensions(plain) is None
    scored = {"dim_strength": 91.0, "dim_quality": 40.5, "dim_growth": None, "reasons": ["发明专利占比 80%", ""]}
    text = json.dumps(firm._dimensions(scored), cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)
    assert "Strength" in text and '"width": "91%"' in text and '"width": "40%"' in text
    assert "Growth" not in text and "发明专利占比 80%" in text


def test_node_summary_is_recomputed_when_a_table_it_reads_changes(ui_workspace, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(ui_workspace.root, root)
    workspace = Workspace(root)
    assert data.node_summary(workspace, "ai", "up.chips")["firm_count"] == 6
    scores = workspace.read_df("firm_scores")
    workspace.write("firm_scores", scores[scores["firm_id"] != FIRMS[0][0]], ui_fixtures.RUN_ID)
    assert data.node_summary(workspace, "ai", "up.chips")["firm_count"] == 5
