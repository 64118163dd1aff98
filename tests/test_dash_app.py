"""The explorer app without a browser: routes, local-only assets, pages on incomplete workspaces."""

from __future__ import annotations

import json
import re

import dash
import plotly
import ui_fixtures
from ui_fixtures import FIRMS, RUN_ID, login_client

from dash_app import create_app
from dash_app.pages import firm, node
from graph.workspace import Workspace

ui_workspace = ui_fixtures.ui_workspace


def _text(component) -> str:
    return json.dumps(component.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder, ensure_ascii=False)


def test_every_script_and_stylesheet_is_served_by_the_app_itself(ui_workspace):
    client = create_app(ui_workspace.root).server.test_client()
    login_client(client, "analyst")
    page = client.get("/").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(u.startswith("/assets/patentgraph.css") for u in urls)
    assert [u for u in urls if re.match(r"^(https?:)?//", u)] == []  # no CDN: analysts' networks are closed
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_pages_answer_at_their_paths(ui_workspace):
    client = create_app(ui_workspace.root).server.test_client()
    login_client(client, "admin")
    assert {page["path_template"] or page["path"] for page in dash.page_registry.values()} >= {
        "/", "/node/<chain_id>/<node_id>", "/firm/<firm_id>", "/map", "/review", "/cypher", "/runs"
    }  # fmt: skip
    for path in ("/", "/node/ai/up.chips", f"/firm/{FIRMS[0][0]}", "/map?province=广东", "/review", "/cypher", "/runs"):
        assert client.get(path).status_code == 200, path


def test_node_page_of_a_workspace_not_yet_ranked_says_what_is_missing(ui_workspace, tmp_path):
    partial = Workspace(tmp_path / "partial")
    for name in ("tech_nodes", "supply_links", "node_patents", "patents", "filings", "applicants", "firms"):
        partial.write(name, ui_workspace.read_df(name), RUN_ID)
    app = create_app(partial.root)
    with app.server.test_request_context("/node/ai/up.chips"):
        text = _text(node.layout(chain_id="ai", node_id="up.chips"))
    assert "Data not available" in text and "'firm_scores' is not in the workspace yet" in text


def test_firm_page_of_an_unknown_firm_says_so(ui_workspace):
    app = create_app(ui_workspace.root)
    with app.server.test_request_context("/firm/X"):
        assert "No firm 'X' in the register" in _text(firm.layout(firm_id="X"))
        assert FIRMS[0][1] in _text(firm.layout(firm_id=FIRMS[0][0]))


def test_untouched_filter_panel_does_not_filter():
    assert node.firm_filter(None, [], None, [0, 100], 0, None) == node.data.FirmFilter()
    narrowed = node.firm_filter(["广东"], ["A"], ["small"], [40, 100], 0.8, " 云芯 ")
    assert (narrowed.regions, narrowed.tiers, narrowed.score_min, narrowed.score_max) == (("广东",), ("A",), 40, None)
    assert narrowed.min_confidence == 0.8 and narrowed.name_contains == " 云芯 "
