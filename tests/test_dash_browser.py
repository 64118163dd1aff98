"""The explorer in headless Chromium, as each role uses it: log in, click through, run, decide, export.

Every page leaves a screenshot in tests/screenshots/ (look at them after a UI change).
"""

from __future__ import annotations

import csv
import shutil
import time
from pathlib import Path

import pytest
import ui_fixtures
from dash.testing.wait import until
from openpyxl import load_workbook
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from ui_fixtures import FIRMS, HOLDING, login, start_logged_in

from dash_app import create_app
from graph.catalog import get_query
from graph.load import build_embedded_graph
from graph.workspace import Workspace

pytestmark = pytest.mark.browser  # tests/conftest.py skips it when chromedriver is absent
ui_workspace = ui_fixtures.ui_workspace
SCREENSHOTS = Path(__file__).parent / "screenshots"
LEADER_ID, LEADER_NAME = FIRMS[0][0], FIRMS[0][1]  # rank 1 in AI chips
FORMER_NAME = FIRMS[10][1]


@pytest.fixture
def private_workspace(ui_workspace, tmp_path) -> Workspace:
    """A copy that decisions and exports may change."""
    shutil.copytree(ui_workspace.root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def _screenshot(dash_duo, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def _grid_cell(dash_duo, row: int, column: str) -> str:
    return dash_duo.find_element(f"#node-firms-grid .ag-row[row-index='{row}'] .ag-cell[col-id='{column}']").text


def _click_cytoscape_node(dash_duo, graph: str, label: str) -> None:
    """A real mouse click where cytoscape drew the node labelled `label` in the graph `graph`."""
    x, y = dash_duo.driver.execute_script(
        "const box = document.querySelector(arguments[0]);"
        "const node = box._cyreg.cy.nodes().filter(n => n.data('label') === arguments[1])[0];"
        "const p = node.renderedPosition(), r = box.getBoundingClientRect(); return [r.left + p.x, r.top + p.y];",
        graph, label,
    )
    ActionChains(dash_duo.driver).move_to_location(int(x), int(y)).click().perform()


def _wait_for_file(path: Path, timeout: float = 10) -> Path:
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return path


def test_analyst_logs_in_and_goes_from_chain_to_node_to_firm_and_the_map(dash_duo, ui_workspace):
    dash_duo.driver.set_window_size(1400, 1050)
    dash_duo.start_server(create_app(ui_workspace.root), navigate=False)

    # Anonymous: the login page, whatever was asked for
    dash_duo.driver.get(dash_duo.server.url + "/node/ai/up.chips")
    dash_duo.wait_for_element("#login-username", timeout=15)
    assert "/login?next=" in dash_duo.driver.current_url
    _screenshot(dash_duo, "login")
    login(dash_duo, "analyst")
    nav = dash_duo.find_element(".app-navbar").text
    assert "Map" in nav and "Runs" in nav and "Cypher" not in nav and "Review" not in nav

    # Home: the chain graph and its node table
    dash_duo.wait_for_element("#chain-graph canvas", timeout=15)
    dash_duo.wait_for_contains_text("#chain-node-table", "AI芯片", timeout=10)
    dash_duo.wait_for_contains_text("#chain-header", "Target firms", timeout=10)
    time.sleep(0.5)  # let cytoscape finish fitting before the picture
    _screenshot(dash_duo, "chains")

    # Click the AI-chips node where cytoscape drew it
    _click_cytoscape_node(dash_duo, "#chain-graph", "AI芯片\nAI chips\n6 firms")
    dash_duo.wait_for_contains_text("#node-firms-count", "6 firms match", timeout=15)
    assert dash_duo.driver.current_url.endswith("/node/ai/up.chips")
    dash_duo.wait_for_contains_text("#node-firms-grid", LEADER_NAME, timeout=10)
    assert (_grid_cell(dash_duo, 0, "rank"), _grid_cell(dash_duo, 0, "firm")) == ("1", LEADER_NAME)
    assert dash_duo.find_elements("#node-export-button") == []  # analysts browse; marketers export
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

    # Open the leader's firm page from the grid
    dash_duo.driver.get(dash_duo.server.url + "/node/ai/up.chips")
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

    # Its neighbourhood graph: group, nodes and applicants around it; clicking a node opens that node
    graph = dash_duo.wait_for_element("#firm-graph canvas", timeout=10)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", graph)
    labels = dash_duo.driver.execute_script(
        "return document.querySelector('#firm-graph')._cyreg.cy.nodes().map(n => n.data('label'))")
    assert "云芯控股集团有限公司" in labels and "人工智能 · 计算机视觉\n#3 C · 58.8" in labels and len(labels) == 9
    time.sleep(0.5)
    _screenshot(dash_duo, "firm-graph")
    _click_cytoscape_node(dash_duo, "#firm-graph", "人工智能 · 计算机视觉\n#3 C · 58.8")
    dash_duo.wait_for_contains_text("#node-firms-count", "5 firms match", timeout=15)
    assert dash_duo.driver.current_url.endswith("/node/ai/mid.cv")

    # Map: click Guangdong, see its target firms; then the run ledger
    dash_duo.find_element("a.nav-link[href='/map']").click()
    dash_duo.wait_for_contains_text("#tile-guangdong", "2", timeout=10)
    dash_duo.find_element("#tile-guangdong").click()
    dash_duo.wait_for_contains_text("#map-firms", LEADER_NAME, timeout=10)
    assert "广州数据港信息技术有限公司" in dash_duo.find_element("#map-firms").text
    _screenshot(dash_duo, "map")
    dash_duo.find_element("a.nav-link[href='/runs']").click()
    dash_duo.wait_for_contains_text("#runs-table", "read 30 → 42", timeout=10)
    _screenshot(dash_duo, "runs")
    assert dash_duo.get_logs() == [], "browser console errors"


def test_marketer_exports_csv_and_xlsx_and_may_not_open_cypher(dash_duo, private_workspace):
    dash_duo.driver.set_window_size(1400, 1050)
    start_logged_in(dash_duo, create_app(private_workspace.root), "marketer", "/node/ai/up.chips")
    dash_duo.wait_for_contains_text("#node-firms-count", "6 firms match", timeout=15)

    dash_duo.find_element("#node-export-button").click()
    dash_duo.wait_for_contains_text("#node-export-status", "Exported 6 firms", timeout=15)
    with open(_wait_for_file(Path(dash_duo.download_path) / "targets_ai_up.chips.csv"), encoding="utf-8-sig",
              newline="") as handle:
        records = list(csv.DictReader(handle))
    assert len(records) == 6 and records[0]["Firm 企业名称"] == LEADER_NAME

    dash_duo.find_element("#node-export-xlsx-button").click()
    dash_duo.wait_for_contains_text("#node-export-status", "targets_ai_up.chips.xlsx", timeout=15)
    sheet = load_workbook(_wait_for_file(Path(dash_duo.download_path) / "targets_ai_up.chips.xlsx"),
                          read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 7 and LEADER_NAME in rows[1]
    _screenshot(dash_duo, "node-export")

    dash_duo.driver.get(dash_duo.server.url + "/cypher")
    dash_duo.wait_for_contains_text(".forbidden", "Not allowed", timeout=10)
    assert dash_duo.find_elements("#cypher-run") == []


def test_risk_runs_a_catalog_query_and_sees_rows_and_a_graph(dash_duo, private_workspace):
    build_embedded_graph(private_workspace, "20250101T000000Z-load-000000")
    dash_duo.driver.set_window_size(1400, 1050)
    start_logged_in(dash_duo, create_app(private_workspace.root), "risk", "/cypher")
    dash_duo.wait_for_element("#cypher-query-picker", timeout=15)
    saved = get_query("chain_node_tree")
    dash_duo.select_dcc_dropdown("#cypher-query-picker", value=f"{saved.name} — {saved.description}")
    until(lambda: "{chain_id: $chain_id}" in dash_duo.find_element("#cypher-editor").get_attribute("value"), timeout=10)
    chain_field = dash_duo.find_element("#cypher-params input")
    chain_field.send_keys(Keys.CONTROL, "a")
    chain_field.send_keys("ai")
    dash_duo.find_element("#cypher-run").click()
    dash_duo.wait_for_contains_text("#cypher-status", "9 rows", timeout=20)
    dash_duo.wait_for_contains_text("#cypher-grid", "ai/up.chips.gpu", timeout=10)
    nodes = dash_duo.driver.execute_script("return document.querySelector('#cypher-graph')._cyreg.cy.nodes().length")
    assert nodes == 9
    time.sleep(0.5)
    _screenshot(dash_duo, "cypher")


def test_admin_accepts_a_review_item_and_it_lands_in_the_decisions_file(dash_duo, private_workspace):
    dash_duo.driver.set_window_size(1400, 1050)
    start_logged_in(dash_duo, create_app(private_workspace.root), "admin", "/review")
    dash_duo.wait_for_contains_text("#review-queue", HOLDING[1], timeout=15)
    detail = dash_duo.find_element("#review-detail").text
    assert HOLDING[1] in detail and LEADER_NAME in detail and FIRMS[3][1] in detail  # the other candidate
    dash_duo.find_element("#review-note").send_keys("IP holding of the chip maker")
    dash_duo.find_element("#review-accept").click()
    dash_duo.wait_for_contains_text("#review-status", "Recorded", timeout=15)
    dash_duo.wait_for_text_to_equal("#review-count", "1 decisions in review/decisions.csv", timeout=10)
    dash_duo.driver.execute_script("document.querySelector('#review-status').scrollIntoView({block: 'end'})")
    _screenshot(dash_duo, "review")
    with open(private_workspace.decisions_path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["applicant_id"], r["action"], r["firm_id"], r["reviewer"], r["note"]) for r in rows] == [
        (HOLDING[0], "accept", LEADER_ID, "admin", "IP holding of the chip maker")]
