"""The explorer in headless Chromium: chain graph → node page → ranked firms → firm page → CSV export."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
import ui_fixtures
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from ui_fixtures import FIRMS

from dash_app import create_app

pytestmark = pytest.mark.browser  # tests/conftest.py skips it when chromedriver is absent
ui_workspace = ui_fixtures.ui_workspace
SCREENSHOTS = Path(__file__).parent / "screenshots"
LEADER_ID, LEADER_NAME = FIRMS[0][0], FIRMS[0][1]  # rank 1 in AI chips
FORMER_NAME = FIRMS[10][1]


def _screenshot(dash_duo, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def _grid_cell(dash_duo, row: int, column: str) -> str:
    return dash_duo.find_element(f"#node-firms-grid .ag-row[row-index='{row}'] .ag-cell[col-id='{column}']").text


def test_analyst_goes_from_chain_to_node_to_firm(dash_duo, ui_workspace):
    dash_duo.driver.set_window_size(1400, 1050)
    dash_duo.start_server(create_app(ui_workspace.root))

    # Home: the chain graph and its node table
    dash_duo.wait_for_element("#chain-graph canvas", timeout=15)
    dash_duo.wait_for_contains_text("#chain-node-table", "AI芯片", timeout=10)
    dash_duo.wait_for_contains_text("#chain-header", "Target firms", timeout=10)
    time.sleep(0.5)  # let cytoscape finish fitting before the picture
    _screenshot(dash_duo, "chains")

    # Click the AI-chips node where cytoscape drew it
    x, y = dash_duo.driver.execute_script(
        "const box = document.querySelector('#chain-graph');"
        "const p = box._cyreg.cy.getElementById('up.chips').renderedPosition();"
        "const r = box.getBoundingClientRect(); return [r.left + p.x, r.top + p.y];"
    )
    ActionChains(dash_duo.driver).move_to_location(int(x), int(y)).click().perform()
    dash_duo.wait_for_contains_text("#node-firms-count", "6 firms match", timeout=15)
    assert dash_duo.driver.current_url.endswith("/node/ai/up.chips")
    dash_duo.wait_for_contains_text("#node-firms-grid", LEADER_NAME, timeout=10)
    assert (_grid_cell(dash_duo, 0, "rank"), _grid_cell(dash_duo, 0, "firm")) == ("1", LEADER_NAME)
    _screenshot(dash_duo, "node")

    # Filter on the server: tier A only, then sort by score ascending via the column header
    dash_duo.driver.find_element(By.XPATH, "//*[@id='node-filter-tier']//label[normalize-space()='A']").click()
    dash_duo.wait_for_contains_text("#node-firms-count", "2 firms match", timeout=10)
    rows = dash_duo.find_elements("#node-firms-grid .ag-center-cols-container .ag-row")
    assert len(rows) == 2
    dash_duo.find_element("#node-firms-grid .ag-header-cell[col-id='score'] .ag-header-cell-label").click()
    dash_duo.wait_for_text_to_equal(
        "#node-firms-grid .ag-center-cols-container .ag-row[row-index='0'] .ag-cell[col-id='score']", "85.0", timeout=10
    )

    # Export what the node page lists
    dash_duo.find_element("#node-export-button").click()
    dash_duo.wait_for_contains_text("#node-export-status", "Exported 6 firms", timeout=15)
    exported = Path(dash_duo.download_path) / "targets_ai_up.chips.csv"
    deadline = time.monotonic() + 10
    while not exported.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    with open(exported, encoding="utf-8-sig", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == 6 and records[0]["Firm 企业名称"] == LEADER_NAME

    # Open the leader's firm page from the grid
    dash_duo.driver.get(dash_duo.server_url + "/node/ai/up.chips")
    dash_duo.wait_for_contains_text("#node-firms-grid", LEADER_NAME, timeout=15)
    dash_duo.find_element("#node-firms-grid .ag-row[row-index='0'] .ag-cell[col-id='firm'] a").click()
    dash_duo.wait_for_text_to_equal("#firm-name", LEADER_NAME, timeout=15)
    assert dash_duo.driver.current_url.endswith(f"/firm/{LEADER_ID}")
    evidence = dash_duo.find_element("#firm-evidence-table").text
    assert FORMER_NAME in evidence and "Former name" in evidence and "shell deregistered 2019" in evidence
    assert "云芯控股集团有限公司" in dash_duo.find_element("#firm-group").text
    assert "AI芯片" in dash_duo.find_element("#firm-scorecard").text
    dash_duo.wait_for_contains_text("#firm-patents-grid", "CN114", timeout=10)
    _screenshot(dash_duo, "firm")
    assert dash_duo.get_logs() == [], "browser console errors"
