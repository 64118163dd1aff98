"""`patentgraph demo --no-serve` on a generated dataset, checked the way a user would check it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from graph.cli import app
from graph.cypher import run_cypher
from graph.load import open_reader
from graph.workspace import Workspace
from matching import evaluate_matching, review_queue

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(demo_build):
    root, output = demo_build
    return Workspace(root), output


def _graph_rows(workspace: Workspace, query: str, **params) -> list[tuple]:
    with open_reader(workspace) as reader:
        return [tuple(row) for row in run_cypher(query, params, backend=reader, timeout_s=30, row_cap=1_000_000).rows]


def test_every_input_row_is_written_or_quarantined(built):
    workspace, _ = built
    manifest = json.loads((workspace.root / "demo-input" / "manifest.json").read_text(encoding="utf-8"))
    patents = workspace.read_df("patents", ["source_file"])
    firms = workspace.read_df("firms", ["source_file"])
    quarantine = workspace.read_df("quarantine")
    inputs = {name: facts for name, facts in manifest["files"].items() if facts["kind"] in ("patents", "firms")}
    assert len(inputs) == 5
    for relative, facts in inputs.items():
        table = patents if facts["kind"] == "patents" else firms
        written = table["source_file"].str.replace("\\", "/").str.endswith(relative).sum()
        rejected = quarantine[quarantine["source_file"].str.replace("\\", "/").str.endswith(relative)]
        assert written + rejected["position"].nunique() == facts["rows"], relative
        assert {bad["position"] for bad in facts["bad_rows"]} == set(rejected["position"]), relative


def test_matching_meets_the_company_targets_and_finds_a_messy_variant(built):
    workspace, _ = built
    labels = workspace.root / "demo-input" / "labels.csv"
    company = evaluate_matching(workspace, labels).by_type["company"]
    assert company.precision >= 0.99 and company.recall >= 0.97

    firms = workspace.read_df("firms", ["firm_id", "name", "former_names"])
    registered = {fid: {name, *former} for fid, name, former in firms.itertuples(index=False)}
    with open(labels, encoding="utf-8") as handle:
        variants = [row for row in csv.DictReader(handle) if row["applicant_type"] == "company"
                    and row["expected_firm_id"] in registered
                    and row["applicant_name"] not in registered[row["expected_firm_id"]]]
    assert variants, "the generator writes name variants that are not any registered name"
    linked = set(_graph_rows(
        workspace,
        "MATCH (a:Applicant)-[r:RESOLVES_TO]->(f:Firm), (a)-[p:FILED]->(:Patent) "
        "WHERE r.decision IN ['auto', 'manual'] RETURN DISTINCT p.raw_name, f.firm_id",
    ))
    found = [row for row in variants if (row["applicant_name"], row["expected_firm_id"]) in linked]
    assert len(found) >= 0.97 * len(variants)


def test_ranked_firms_are_operating_and_hold_patents_in_their_node(built):
    workspace, _ = built
    ranked = _graph_rows(workspace, "MATCH (f:Firm)-[:RANKED_IN]->(t:TechNode) RETURN t.key, f.firm_id, f.status")
    assert len(ranked) == len(workspace.read_df("firm_scores", ["firm_id"]))
    assert {status for _, _, status in ranked} == {"operating"}
    holders = set(_graph_rows(
        workspace,
        "MATCH (f:Firm)<-[r:RESOLVES_TO]-(:Applicant)-[:FILED]->(:Patent)-[:IN_NODE]->(t:TechNode) "
        "WHERE r.decision IN ['auto', 'manual'] RETURN DISTINCT t.key, f.firm_id",
    ))
    assert {(node, firm) for node, firm, _ in ranked} <= holders


def test_all_four_chains_have_ranked_targets(built):
    workspace, _ = built
    chains = _graph_rows(
        workspace, "MATCH (c:Chain)-[:HAS_NODE]->(t:TechNode)<-[:RANKED_IN]-(f:Firm) RETURN DISTINCT c.chain_id"
    )
    assert len(chains) == 4


def test_demo_writes_a_target_list_matching_the_rankings(built):
    workspace, output = built
    exported = pd.read_csv(workspace.exports_dir / "demo-targets.csv", encoding="utf-8-sig")
    assert len(exported) == len(workspace.read_df("firm_scores", ["firm_id"]))
    assert exported["Rank 排名"].min() == 1
    assert "demo built" in output


def test_demo_output_stays_short_and_says_how_to_list_every_matching_error(built):
    workspace, output = built
    errors = [line for line in output.splitlines() if line.startswith(("  missed", "  wrong_firm", "  false_link"))]
    evaluation = evaluate_matching(workspace, workspace.root / "demo-input" / "labels.csv")
    assert len(errors) == min(5, len(evaluation.errors))
    if len(evaluation.errors) > 5:
        assert f"... {len(evaluation.errors) - 5} more" in output
        assert "evaluate-matching --labels" in output and "--all-errors" in output


def test_cli_runs_a_saved_query_as_csv(built):
    workspace, _ = built
    node = workspace.read_df("firm_scores").sort_values("rank").iloc[0]
    result = CliRunner().invoke(app, [
        "--workspace", str(workspace.root), "cypher", "--saved", "node_firms_ranked", "--output", "csv",
        "--param", f"node_key={node.chain_id}/{node.node_id}", "--param", "limit=5",
    ])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert rows[0]["rank"] == "1" and rows[0]["firm_id"] == node.firm_id


def test_cli_refuses_a_write_with_exit_code_2(built):
    workspace, _ = built
    result = CliRunner().invoke(app, ["--workspace", str(workspace.root), "cypher", "MATCH (f:Firm) DETACH DELETE f"])
    assert result.exit_code == 2
    assert _graph_rows(workspace, "MATCH (f:Firm) RETURN count(f)")[0][0] == len(workspace.read_df("firms", ["firm_id"]))


def test_ui_serves_the_node_page_of_the_demo(built, dash_duo):
    from ui_fixtures import add_test_users, start_logged_in

    from dash_app import create_app

    workspace, _ = built
    scores = workspace.read_df("firm_scores")
    busiest = scores.groupby(["chain_id", "node_id"]).size().idxmax()
    top = scores[(scores.chain_id == busiest[0]) & (scores.node_id == busiest[1]) & (scores["rank"] == 1)].iloc[0]
    name = workspace.read_df("firms").set_index("firm_id").loc[top.firm_id, "name"]
    add_test_users(workspace.root)
    start_logged_in(dash_duo, create_app(workspace.root), "analyst", f"/node/{busiest[0]}/{busiest[1]}")
    dash_duo.wait_for_contains_text("body", name, timeout=20)
    Path("tests/screenshots").mkdir(parents=True, exist_ok=True)
    dash_duo.driver.save_screenshot("tests/screenshots/demo-node.png")
    dash_duo.driver.get(f"{dash_duo.server.url}/?chain={busiest[0]}")
    chain_name = workspace.read_df("tech_nodes").query("chain_id == @busiest[0]").iloc[0].chain_name_zh
    dash_duo.wait_for_contains_text("body", chain_name, timeout=20)
    dash_duo.wait_for_element("canvas", timeout=20)
    dash_duo.driver.save_screenshot("tests/screenshots/demo-chains.png")


def test_review_queue_shows_whole_ids_a_reviewer_can_type_back_even_in_a_narrow_terminal(built):
    workspace, _ = built
    queue = review_queue(workspace).head(3)
    assert len(queue), "the demo leaves links in review"
    result = CliRunner().invoke(app, ["--workspace", str(workspace.root), "review", "--limit", "3"],
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    for applicant_id, firm_id in zip(queue["applicant_id"], queue["firm_id"], strict=True):
        assert applicant_id in result.output and firm_id in result.output
    assert f"{len(review_queue(workspace))} links wait for review" in result.output
