"""Classification into chain nodes, on hand-built patents written to a real workspace."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_chains import write_chain
from typer.testing import CliRunner

from graph.cli import app
from graph.workspace import Workspace
from industry_chains import load_chains, run_classify
from industry_chains.keywords import Keyword, find_keywords

CHAIN = """\
id: demo
name_zh: 演示链
name_en: Demo chain
nodes:
  - id: demo.up
    segment: upstream
    name_zh: 上游
    name_en: Upstream
    children:
      - id: demo.up.ai
        name_zh: 人工智能
        name_en: AI
        children:
          - id: demo.up.ai.neural
            name_zh: 神经网络
            name_en: Neural networks
            expression: ipc:G06N3 OR ab:"神经网络" OR ti:"neural net*"
          - id: demo.up.ai.vision
            name_zh: 视觉
            name_en: Vision
            expression: cls:G06V OR tiab:"图像识别"
  - id: demo.mid
    segment: midstream
    name_zh: 中游
    name_en: Midstream
    children:
      - id: demo.mid.bio
        name_zh: 生物药
        name_en: Biologics
        children:
          - id: demo.mid.bio.vaccines
            name_zh: 疫苗
            name_en: Vaccines
            expression: ipc:A61K39 AND NOT ipc:A61K39/395
          - id: demo.mid.bio.antibodies
            name_zh: 抗体
            name_en: Antibodies
            expression: (ipc:A61K39/395 OR cl:"antibody") AND NOT ti:"veterinary"
supply_links:
  - {from: demo.up.ai, to: demo.mid.bio}
"""


def patent(number: str, position: int, title: str = "", abstract: str | None = None, ipc=(), cpc=()) -> dict:
    return {
        "publication_number": number, "application_number": None, "kind": "A", "patent_type": "invention",
        "title": title, "abstract": abstract, "application_date": None, "publication_date": None,
        "ipc": list(ipc), "cpc": list(cpc), "applicants": ["某公司"], "applicant_addresses": [], "inventors": [],
        "cited_publications": [], "claims_count": None, "legal_status": None, "source_file": "hand.csv",
        "source_position": position,
    }


PATENTS = [
    patent("CN1A", 1, "一种基于神经网络的图像识别方法", "本发明涉及神经网络", ipc=["G06V10/82", "G06N3/08"]),
    patent("CN2A", 2, "一种计算装置", "无关", ipc=["G06N31/00", "G6N/XX", "??"]),
    patent("CN3A", 3, "疫苗组合物", None, ipc=["A61K39/12"]),
    patent("CN4A", 4, "抗体", None, ipc=["A61K39/395", "A61K39/12"]),
    patent("US5B", 5, "Neural Networks for ranking", None, cpc=["G06Q30/02"]),
    patent("US6B", 6, "Veterinary antibody", None, ipc=["A61K39/395"]),
    patent("CN7U", 7, "图像识别装置", "关键词匹配，无分类号"),
]


@pytest.fixture()
def classified(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    workspace.write("patents", pd.DataFrame(PATENTS), "ingest-1")
    chains_dir = tmp_path / "chains"
    write_chain(chains_dir, CHAIN)
    report = run_classify(workspace, "classify-1", chains_dir)
    rows = workspace.read_df("node_patents")
    members = {(row.node_id, row.publication_number): row.matched_rule for row in rows.itertuples()}
    return workspace, report, members


def test_patents_land_in_every_node_they_satisfy_with_the_matching_clauses(classified):
    _, report, members = classified
    assert members == {
        ("demo.up.ai.neural", "CN1A"): 'ipc:G06N3; ab:"神经网络"',
        ("demo.up.ai.vision", "CN1A"): 'cls:G06V; tiab:"图像识别"',
        ("demo.up.ai.neural", "US5B"): 'ti:"neural net*"',
        ("demo.up.ai.vision", "CN7U"): 'tiab:"图像识别"',
        ("demo.mid.bio.vaccines", "CN3A"): "ipc:A61K39",
        ("demo.mid.bio.antibodies", "CN4A"): "ipc:A61K39/395",
    }
    assert report.node_patent_rows == 6 and report.patents_read == 7


def test_not_clauses_exclude(classified):
    _, _, members = classified
    assert ("demo.mid.bio.vaccines", "CN4A") not in members  # has A61K39/395
    assert ("demo.mid.bio.antibodies", "US6B") not in members  # title says veterinary


def test_group_3_does_not_take_group_31(classified):
    _, _, members = classified
    assert not any(number == "CN2A" for _, number in members)


def test_unreadable_codes_are_quarantined_and_the_patent_still_classified(classified):
    workspace, report, _ = classified
    quarantine = workspace.read_df("quarantine")
    assert report.quarantined == 1
    row = quarantine.iloc[0]
    assert (row.stage, row.source_file, row.position, row.field) == ("classify", "hand.csv", 2, "ipc")
    assert "'G6N/XX', '??'" in row.reason and row.raw == "CN2A: G6N/XX; ??"


def test_claims_clauses_are_reported_when_patents_have_no_claims_text(classified):
    _, report, _ = classified
    assert report.warnings == ["the patents table has no claims text, so those keyword clauses matched nothing"
                               " (in demo:demo.mid.bio.antibodies)"]


def test_tree_tables_and_per_node_counts(classified):
    workspace, report, _ = classified
    nodes = workspace.read_df("tech_nodes").set_index("node_id")
    assert nodes.loc["demo.up.ai.vision", ["parent_id", "level", "segment"]].tolist() == ["demo.up.ai", 3, "upstream"]
    assert pd.isna(nodes.loc["demo.mid", "expression"])
    assert workspace.read_df("supply_links").values.tolist() == [["demo", "demo.up.ai", "demo.mid.bio"]]
    counts = {n.node_id: n for n in report.nodes}
    assert counts["demo.up.ai.neural"].patent_count == 2
    assert counts["demo.up.ai"].patent_count is None and counts["demo.up.ai"].subtree_count == 3
    assert counts["demo.up"].subtree_count == 3 and counts["demo.mid"].subtree_count == 2
    assert counts["demo.up.ai.neural"].applicant_type_share is None
    assert report.classified_by_chain == {"demo": 5}
    assert report.counts() == {"patents_read": 7, "node_patents": 6, "quarantined": 1, "classified_demo": 5}


def test_applicant_type_and_operating_firm_shares(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    workspace.write("patents", pd.DataFrame(PATENTS), "ingest-1")
    workspace.write("applicants", pd.DataFrame([
        {"applicant_id": "a1", "name": "甲公司", "raw_variants": ["甲公司"], "normalized_name": "甲",
         "applicant_type": "company", "country": "CN", "region": None, "city": None, "patent_count": 2},
        {"applicant_id": "a2", "name": "乙大学", "raw_variants": ["乙大学"], "normalized_name": "乙大学",
         "applicant_type": "university", "country": "CN", "region": None, "city": None, "patent_count": 1},
    ]), "m-1")
    workspace.write("filings", pd.DataFrame([
        {"publication_number": "CN1A", "position": 1, "applicant_id": "a1", "raw_name": "甲公司", "address": None},
        {"publication_number": "US5B", "position": 1, "applicant_id": "a2", "raw_name": "乙大学", "address": None},
        {"publication_number": "US5B", "position": 2, "applicant_id": "a1", "raw_name": "甲公司", "address": None},
    ]), "m-1")
    workspace.write("firms", pd.DataFrame([
        {"firm_id": "91110000000000001X", "name": "甲公司", "former_names": [], "status": "operating",
         "source_file": "firms.csv", "source_position": 1},
    ]), "m-1")
    workspace.write("matches", pd.DataFrame([
        {"applicant_id": "a1", "firm_id": "91110000000000001X", "score": 0.97, "decision": "auto",
         "link_type": "direct", "evidence": json.dumps({}), "method_version": "t"},
    ]), "m-1")
    chains_dir = tmp_path / "chains"
    write_chain(chains_dir, CHAIN)

    report = run_classify(workspace, "classify-1", chains_dir)

    neural = next(n for n in report.nodes if n.node_id == "demo.up.ai.neural")  # CN1A (a1) and US5B (a2 first)
    assert neural.applicant_type_share == {"company": 0.5, "university": 0.5}
    assert neural.operating_firm_share == 1.0  # a1 is on both patents and resolves to an operating firm
    vision = next(n for n in report.nodes if n.node_id == "demo.up.ai.vision")  # CN1A (a1), CN7U (no filing)
    assert vision.applicant_type_share == {"company": 0.5, "unknown": 0.5}
    assert vision.operating_firm_share == 0.5

    # `patentgraph classify` prints the same per-node report and saves it as CSV for the analyst
    result = CliRunner().invoke(app, ["--workspace", str(workspace.root), "classify", "--chains", str(chains_dir)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "demo.up.ai.neural" in result.output
    (saved,) = (workspace.root / "reports").glob("*-nodes.csv")
    assert str(saved) in result.output.replace("\n", "")
    table = pd.read_csv(saved, encoding="utf-8-sig").set_index("node_id")
    assert table.loc["demo.up.ai.neural", ["patents", "share_company", "share_university", "share_operating_firm"]
                     ].tolist() == [2, 0.5, 0.5, 1.0]
    assert table.loc["demo.up.ai.vision", ["share_unknown", "share_operating_firm"]].tolist() == [0.5, 0.5]
    assert pd.isna(table.loc["demo.up.ai", "patents"]) and table.loc["demo.up.ai", "patents_with_sub_nodes"] == 3
    assert pd.isna(table.loc["demo.up.ai", "share_company"])  # no expression of its own: no shares


def test_shipped_chains_classify_chinese_and_english_patents(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    workspace.write("patents", pd.DataFrame([
        patent("CN9A", 1, "一种谐波减速器及工业机器人", "本实用新型公开了一种谐波减速器"),
        patent("US9B", 2, "Beamforming for massive MIMO base stations", None, cpc=["H04B7/0617"]),
        patent("CN8A", 3, "一种中药组合物", None, ipc=["A61K36/8969", "A61P1/00"]),
    ]), "ingest-1")
    report = run_classify(workspace, "classify-1")
    members = {(row.node_id, row.publication_number): row.matched_rule
               for row in workspace.read_df("node_patents").itertuples()}
    assert members[("sm.up.drives.reducers", "CN9A")] == 'tiab:"谐波减速器"'
    assert members[("sm.mid.robots.manipulators", "CN9A")] == 'tiab:"工业机器人"'
    assert members[("5g.mid.air.mimo", "US9B")] == 'cls:H04B7/04..7/06; tiab:"beamforming"; tiab:"mimo"'
    assert members[("bio.mid.tcm.preparations", "CN8A")] == 'cls:A61K36; tiab:"中药"'
    assert ("ai.tech.learning.neural", "CN9A") not in members
    assert set(report.classified_by_chain) == {chain.id for chain in load_chains()}


def test_claims_text_is_searched_by_cl_clauses(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    claimed = {**patent("CN10A", 1, "一种蛋白制剂", "本发明涉及一种蛋白"), "claims": "1. An isolated Antibody that binds PD-1."}
    workspace.write("patents", pd.DataFrame([claimed, patent("US6B", 2, "Veterinary antibody", None)]), "ingest-1")
    write_chain(tmp_path / "chains", CHAIN)
    report = run_classify(workspace, "classify-1", tmp_path / "chains")
    rows = workspace.read_df("node_patents")
    assert rows[["node_id", "publication_number", "matched_rule"]].values.tolist() == [
        ["demo.mid.bio.antibodies", "CN10A", 'cl:"antibody"']]
    assert report.warnings == []


def test_shipped_chains_keep_generator_location_medical_network_and_management_codes_out(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    workspace.write("patents", pd.DataFrame([
        patent("US1B", 1, "Overload control of an electric power generation system", ipc=["H02P9/00", "H02P11/00"]),
        patent("US2B", 2, "Brushless motor controller", ipc=["H02P6/08"]),
        patent("US3B", 3, "Location-based services", ipc=["H04W4/02"]),
        patent("US4B", 4, "Triggering of devices", ipc=["H04W4/70"]),
        patent("US5B", 5, "Message relay between vehicles", ipc=["H04W4/46"]),
        patent("US6B", 6, "Wireless physiological sensor patches", ipc=["A61B5/00", "H04L67/12"]),
        patent("US7B", 7, "Remote monitoring of equipment", ipc=["H04L67/12", "G05B23/02"]),
        patent("US8B", 8, "Backhaul management system", ipc=["H04L41/0816", "H04W24/02"]),
        patent("US9B", 9, "Orchestration of network entities", ipc=["H04L41/40"]),
    ]), "ingest-1")
    run_classify(workspace, "classify-1")
    rows = workspace.read_df("node_patents")
    wanted = {"sm.up.drives.servo", "5g.down.apps.iot", "sm.down.integration.iiot", "5g.mid.core.slicing"}
    members = {(row.node_id, row.publication_number): row.matched_rule
               for row in rows.itertuples() if row.node_id in wanted}
    assert members == {
        ("sm.up.drives.servo", "US2B"): "cls:H02P1..8",
        ("5g.down.apps.iot", "US4B"): "cls:H04W4/70",
        ("5g.down.apps.iot", "US5B"): "cls:H04W4/40..4/48",
        ("sm.down.integration.iiot", "US7B"): "cls:H04L67/12; cls:G05B",
        ("5g.mid.core.slicing", "US9B"): "cls:H04L41/40",
    }


PIECES = ["ai", "芯片", "组", "robot", "s", " ", "-", "5g", "nr", "神经", "网络", "learn", "ing", "x"]
KEYWORDS = [
    Keyword("ai芯片", False, "ai芯片"), Keyword("芯片组", False, "芯片组"), Keyword(r"\brobot\b", True, "robot"),
    Keyword(r"\brobot", True, "robot"), Keyword(r"\brobots\b", True, "robots"), Keyword("神经网络", False, "神经网络"),
    Keyword("网络", False, "网络"), Keyword(r"\blearn", True, "learn"), Keyword(r"\blearning\b", True, "learning"),
    Keyword(r"\b5g\b", True, "5g"), Keyword(r"\b5g\s+nr\b", True, "5g nr"), Keyword(r"\bnr\b", True, "nr"),
    Keyword(r"\bs\s+5g\b", True, "s 5g"), Keyword(r"\bx\-ai\b", True, "x-ai"),
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=12).map("".join), min_size=1, max_size=30))
def test_one_pass_keyword_scan_equals_a_scan_per_keyword(texts):
    column = pa.chunked_array([pa.array(texts, pa.string())])
    found = find_keywords(column, KEYWORDS)
    for keyword in KEYWORDS:
        search = pc.match_substring_regex if keyword.is_regex else pc.match_substring
        expected = np.flatnonzero(search(column, keyword.pattern).to_numpy(zero_copy_only=False))
        assert found[keyword].tolist() == expected.tolist(), (keyword, texts)


def test_generic_and_generative_ai_patents_find_an_ai_node(tmp_path):
    """Found missing by the real-sample spot check: titles saying only "artificial intelligence", or "generative"."""
    workspace = Workspace(tmp_path / "ws")
    workspace.write("patents", pd.DataFrame([
        patent("CN21A", 1, "一种基于人工智能的客服应答系统", "本发明公开了一种客服应答系统"),
        patent("US22A", 2, "Artificial intelligence co-pilot for aircraft", None),
        patent("US23A", 3, "Fine-tuning large language models with retrieval", None),
        patent("CN24A", 4, "一种基于扩散模型的图像生成方法", None, ipc=["G06N3/0475"]),
        patent("CN25A", 5, "一种变压器绕组结构", "电力变压器", ipc=["H01F27/28"]),
    ]), "ingest-1")
    run_classify(workspace, "classify-1")
    ai = workspace.read_df("node_patents").query("chain_id == 'ai'")
    members = {(row.node_id, row.publication_number): row.matched_rule for row in ai.itertuples()}
    assert members[("ai.tech", "CN21A")] == 'tiab:"人工智能"'
    assert members[("ai.tech", "US22A")] == 'tiab:"artificial intelligen*"'
    assert members[("ai.tech.learning.generative", "US23A")] == 'tiab:"large language model*"'
    assert members[("ai.tech.learning.generative", "CN24A")] == 'cls:G06N3/0475; tiab:"扩散模型"'
    assert "CN25A" not in set(ai["publication_number"])
