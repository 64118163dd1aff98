"""Ranking and target-list export on a small workspace whose right answer is known by hand."""

import csv
import datetime as dt
import json

import pandas as pd
import pytest
from openpyxl import load_workbook

from graph.export import neutralise, write_targets
from graph.ranking import rank_firms
from graph.workspace import Workspace


def _patent(pub, kind, ptype, year, cites=()):
    return {
        "publication_number": pub, "application_number": None, "kind": kind, "patent_type": ptype,
        "title": f"title {pub}", "abstract": None, "application_date": dt.date(year, 3, 1),
        "publication_date": dt.date(year + 1, 3, 1), "ipc": ["G06N3/08"], "cpc": [], "applicants": [],
        "applicant_addresses": [], "inventors": [], "cited_publications": list(cites), "claims_count": 10,
        "legal_status": None, "source_file": "fixture.csv", "source_position": 1,
    }


def _firm(firm_id, name, status="operating"):
    return {
        "firm_id": firm_id, "name": name, "former_names": [], "english_name": None, "status": status,
        "established_date": dt.date(2010, 1, 1), "deregistered_date": None, "registered_capital": 1000.0,
        "province": "广东省", "city": "深圳市", "address": "深圳市南山区", "industry_code": "I65", "size_band": "small",
        "employees": 50, "parent_firm_id": None, "legal_representative": "张伟", "successor_firm_id": None,
        "source_file": "registry.xlsx", "source_position": 1,
    }


@pytest.fixture
def workspace(tmp_path):
    """Node ai.vision: Strong Co holds 3 granted inventions cited by others; Weak Co 1 utility model;
    Shell Co (deregistered) 2 patents; a university 1 patent. Node ai.speech: only Weak Co."""
    ws = Workspace(tmp_path)
    patents = [
        _patent("CN1A", "B", "invention", 2023), _patent("CN2A", "B", "invention", 2024),
        _patent("CN3A", "B", "invention", 2015), _patent("CN4U", "U", "utility_model", 2016, cites=["CN1A"]),
        _patent("CN5A", "A", "invention", 2018, cites=["CN1A", "CN2A"]), _patent("CN6A", "A", "invention", 2019),
        _patent("CN7A", "A", "invention", 2020), _patent("CN8U", "U", "utility_model", 2024),
    ]
    ws.write("patents", pd.DataFrame(patents), "r")
    ws.write("firms", pd.DataFrame([
        _firm("F-STRONG", "=HYPERLINK(\"http://x\")强科技有限公司"), _firm("F-WEAK", "弱科技有限公司"),
        _firm("F-SHELL", "壳科技有限公司", status="deregistered"),
    ]), "r")
    filings = [("CN1A", "A-STRONG"), ("CN2A", "A-STRONG"), ("CN3A", "A-STRONG"), ("CN4U", "A-WEAK"),
               ("CN5A", "A-SHELL"), ("CN6A", "A-SHELL"), ("CN7A", "A-UNIV"), ("CN8U", "A-WEAK")]
    ws.write("filings", pd.DataFrame([
        {"publication_number": p, "position": 1, "applicant_id": a, "raw_name": a.lower(), "address": None}
        for p, a in filings
    ]), "r")
    ws.write("matches", pd.DataFrame([
        {"applicant_id": a, "firm_id": f, "score": s, "decision": d, "link_type": "direct",
         "evidence": json.dumps({"name": a}), "method_version": "t"}
        for a, f, s, d in [("A-STRONG", "F-STRONG", 0.99, "auto"), ("A-WEAK", "F-WEAK", 0.91, "manual"),
                           ("A-SHELL", "F-SHELL", 0.97, "auto"), ("A-UNIV", None, 0.0, "rejected")]
    ]), "r")
    ws.write("node_patents", pd.DataFrame([
        {"chain_id": "ai", "node_id": n, "publication_number": p, "matched_rule": "ipc:G06N3/*"}
        for n, p in [("ai.vision", x) for x in ("CN1A", "CN2A", "CN3A", "CN4U", "CN5A", "CN6A", "CN7A")]
        + [("ai.speech", "CN8U")]
    ]), "r")
    ws.write("tech_nodes", pd.DataFrame([
        {"chain_id": "ai", "chain_name_zh": "人工智能", "chain_name_en": "AI", "node_id": n, "parent_id": None,
         "name_zh": zh, "name_en": en, "level": 1, "segment": "midstream", "expression": "ipc:G06N3/*", "weight": 1.0}
        for n, zh, en in [("ai.vision", "计算机视觉", "Vision"), ("ai.speech", "语音", "Speech")]
    ]), "r")
    rank_firms(ws, "rank-run")
    return ws


def test_only_operating_firms_are_ranked_best_first(workspace):
    vision = workspace.read_df("firm_scores").query("node_id == 'ai.vision'").sort_values("rank")
    assert vision["firm_id"].tolist() == ["F-STRONG", "F-WEAK"], "deregistered shell and university excluded"
    strong = vision.iloc[0]
    assert (strong.patents_in_node, strong.inventions_in_node, strong.granted_in_node) == (3, 3, 3)
    assert strong.forward_citations == 3  # CN1A cited twice, CN2A once
    assert strong.recent_filings == 2  # 2023 and 2024 within 3 years of the newest filing (2024)
    assert strong.node_share == pytest.approx(3 / 7)
    assert strong.tier == "A" and 0 <= vision["score"].min() < strong.score <= 100


def test_every_ranked_firm_holds_patents_in_its_node(workspace):
    scores = workspace.read_df("firm_scores")
    held = workspace.read_df("node_patents").merge(workspace.read_df("filings"), on="publication_number").merge(
        workspace.read_df("matches"), on="applicant_id")
    for row in scores.itertuples():
        assert ((held.node_id == row.node_id) & (held.firm_id == row.firm_id)).any()


def test_explanation_names_the_link_and_the_evidence(workspace):
    weak = workspace.read_df("firm_scores").query("node_id == 'ai.speech'").iloc[0]
    assert weak.firm_id == "F-WEAK" and weak["rank"] == 1
    assert "1 patents in node" in weak.explanation and "'a-weak' (manual, confidence 0.91)" in weak.explanation


def test_ranking_is_deterministic(workspace):
    first = workspace.read_df("firm_scores")
    rank_firms(workspace, "again")
    pd.testing.assert_frame_equal(first, workspace.read_df("firm_scores"))


def test_csv_export_reads_back_with_formula_neutralised(workspace, tmp_path):
    path, rows = write_targets(workspace, tmp_path / "t.csv", chain_id="ai", node_id="ai.vision")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert rows == 2 and [r["Credit code 统一社会信用代码"] for r in records] == ["F-STRONG", "F-WEAK"]
    assert records[0]["Firm 企业名称"].startswith("'=HYPERLINK")
    assert records[0]["Run"] == "rank-run" and records[0]["Node 节点"] == "计算机视觉 Vision"


def test_xlsx_export_opens_with_frozen_bold_header(workspace, tmp_path):
    path, rows = write_targets(workspace, tmp_path / "t.xlsx")
    sheet = load_workbook(path).active
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(values) == rows == 3
    assert all(not str(cell).startswith("=") for row in values for cell in row if cell is not None)


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)", "\t=1"])
def test_neutralise_formula_like_text(text):
    assert neutralise(text) == "'" + text


def test_unknown_export_format_is_refused(workspace, tmp_path):
    with pytest.raises(ValueError, match="csv or xlsx"):
        write_targets(workspace, tmp_path / "t.pdf")
