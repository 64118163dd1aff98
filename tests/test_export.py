"""Target-list exports read back the way a marketer's spreadsheet would read them."""

from __future__ import annotations

import csv

import pytest
from openpyxl import load_workbook
from test_ranking import FIRMS, MANUAL, RUN, STRONG, WEAK, P, Q, R, build_ranking_workspace, write_yaml
from typer.testing import CliRunner

from graph.cli import app
from graph.export import load_branches, neutralise, write_targets
from graph.ranking import rank_firms

BRANCHES = """\
branches:
  深圳分行: [广东省/深圳市]
  广东分行: [广东]            # the rest of the province
  北京分行: [北京市, 天津市]
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = build_ranking_workspace(tmp_path_factory.mktemp("export"))
    rank_firms(ws, RUN)
    return ws


def _csv(path):
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_of_a_node_reads_back_with_formula_neutralised(workspace, tmp_path):
    path, rows = write_targets(workspace, tmp_path / "t.csv", chain_id="ai", node_id="ai.vision")
    records = _csv(path)
    assert rows == 3 and [r["Credit code 统一社会信用代码"] for r in records] == [STRONG, MANUAL, WEAK]
    first = records[0]
    assert first["Firm 企业名称"].startswith("'=HYPERLINK")
    assert first["Run"] == RUN and first["Node 节点"] == "计算机视觉 Vision" and first["Rank 排名"] == "1"
    assert first["Strongest patents 核心专利"] == "CN1A, CN2A, CN3A"
    explanation = workspace.read_df("firm_scores").set_index(["node_id", "firm_id"]).loc[("ai.vision", STRONG),
                                                                                         "explanation"]
    assert first["Why 推荐理由"] == explanation  # the same text as the UI shows
    assert first["Legal rep. 法定代表人"] == "张伟" and first["Established 成立日期"] == "2010-06-01"
    assert "Branch 分支机构" not in first


def test_xlsx_opens_with_a_frozen_bold_header_and_no_formulas(workspace, tmp_path):
    path, rows = write_targets(workspace, tmp_path / "t.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["Targets"]
    sheet = book.active
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(values) == rows == len(workspace.read_df("firm_scores"))
    assert all(not str(cell).startswith("=") for row in values for cell in row if cell is not None)
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_one_sheet_per_node(workspace, tmp_path):
    path, rows = write_targets(workspace, tmp_path / "nodes.xlsx", chain_id="ai", sheet_per_node=True)
    book = load_workbook(path)
    assert book.sheetnames == ["ai.chips", "ai.speech", "ai.vision"]
    header = [c.value for c in book["ai.speech"][1]]
    speech = [dict(zip(header, row, strict=True)) for row in book["ai.speech"].iter_rows(min_row=2, values_only=True)]
    assert [r["Rank 排名"] for r in speech] == [1, 2, 3]
    assert {r["Credit code 统一社会信用代码"] for r in speech} == {P, Q, R}
    assert all(book[name].freeze_panes == "A2" for name in book.sheetnames)
    assert sum(book[name].max_row - 1 for name in book.sheetnames) == rows


def test_branch_territory_and_region_filters(workspace, tmp_path):
    branches = write_yaml(tmp_path / "branches.yaml", BRANCHES)
    path, _ = write_targets(workspace, tmp_path / "gd.csv", branches_file=branches, branch="广东分行")
    records = _csv(path)
    # Guangzhou falls to the province-wide branch; Shenzhen firms belong to 深圳分行.
    assert {r["Credit code 统一社会信用代码"] for r in records} == {WEAK}
    assert {r["Branch 分支机构"] for r in records} == {"广东分行"}
    path, _ = write_targets(workspace, tmp_path / "sz.csv", branches_file=branches, branch="深圳分行")
    assert {r["Credit code 统一社会信用代码"] for r in _csv(path)} == {STRONG, MANUAL, R}
    path, _ = write_targets(workspace, tmp_path / "gd-province.csv", province="广东")
    assert {r["Province 省份"] for r in _csv(path)} == {"广东省"}
    path, rows = write_targets(workspace, tmp_path / "bj.csv", city="北京")
    assert rows == 2 and {r["Credit code 统一社会信用代码"] for r in _csv(path)} == {P}
    assert FIRMS[P][6] == "北京市"


def test_branch_file_errors_name_the_file_and_the_problem(workspace, tmp_path):
    twice = write_yaml(tmp_path / "twice.yaml", "branches:\n  甲: [广东省]\n  乙: [广东]\n")
    with pytest.raises(ValueError, match=r"twice.yaml: region '广东' is listed under both '甲' and '乙'"):
        load_branches(twice)
    typo = write_yaml(tmp_path / "typo.yaml", "branchs: {甲: [广东省]}\n")
    with pytest.raises(ValueError, match=r"typo.yaml: invalid branch file: branches: Field required"):
        load_branches(typo)
    good = write_yaml(tmp_path / "good.yaml", BRANCHES)
    with pytest.raises(ValueError, match="unknown branch '上海分行'; the branch file has: 深圳分行, 广东分行, 北京分行"):
        write_targets(workspace, tmp_path / "x.csv", branches_file=good, branch="上海分行")


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)", "\t=1", "\r=1"])
def test_neutralise_formula_like_text(text):
    assert neutralise(text) == "'" + text


def test_plain_text_and_numbers_are_left_alone():
    assert neutralise("深圳市科技有限公司") == "深圳市科技有限公司" and neutralise(-2) == -2


def test_unknown_format_and_sheets_in_csv_are_refused(workspace, tmp_path):
    with pytest.raises(ValueError, match="csv or xlsx"):
        write_targets(workspace, tmp_path / "t.pdf")
    with pytest.raises(ValueError, match="one sheet per node needs an .xlsx file"):
        write_targets(workspace, tmp_path / "t.csv", sheet_per_node=True)
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


@pytest.mark.parametrize(("filters", "message"), [
    ({"chain_id": "a1"}, r"unknown chain 'a1'; did you mean ai\?"),
    ({"node_id": "ai.visoin"}, r"unknown node 'ai.visoin'; did you mean ai.vision"),
    ({"chain_id": "ai", "node_id": "bio.drug"}, r"unknown node 'bio.drug' in chain 'ai'; known: ai.chips, ai.speech, ai.vision$"),
    ({"province": "广栋"}, r"unknown province '广栋' among the registry's firms; did you mean 广东\?"),
    ({"city": "北凉"}, r"unknown city '北凉' among the registry's firms; did you mean 北京\?"),
])
def test_a_filter_naming_nothing_is_refused_with_suggestions_not_written_empty(workspace, tmp_path, filters, message):
    with pytest.raises(ValueError, match=message):
        write_targets(workspace, tmp_path / "t.csv", **filters)
    assert not list(tmp_path.iterdir())


def test_cli_exports_a_branch_sheet_per_node(workspace, tmp_path):
    branches = write_yaml(tmp_path / "branches.yaml", BRANCHES)
    out = tmp_path / "sz.xlsx"
    result = CliRunner().invoke(app, ["--workspace", str(workspace.root), "export", "--out", str(out),
                                      "--branches", str(branches), "--branch", "深圳分行", "--sheet-per-node"])
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames == ["ai.speech", "ai.vision"]
    result = CliRunner().invoke(app, ["--workspace", str(workspace.root), "export", "--out", str(out),
                                      "--branch", "深圳分行"])
    assert result.exit_code == 2 and "--branch needs a branch file" in result.output


def test_a_list_streamed_in_small_blocks_is_the_same_list(workspace, tmp_path, monkeypatch):
    """Exports read firm_scores block by block; a node split over blocks stays one sheet, in rank order."""
    whole, _ = write_targets(workspace, tmp_path / "whole.xlsx", sheet_per_node=True)
    whole_csv, rows = write_targets(workspace, tmp_path / "whole.csv")
    monkeypatch.setattr("graph.export._BATCH_ROWS", 2)
    small, _ = write_targets(workspace, tmp_path / "small.xlsx", sheet_per_node=True)
    small_csv, small_rows = write_targets(workspace, tmp_path / "small.csv")
    assert small_rows == rows == len(workspace.read_df("firm_scores")) > 2
    assert _csv(small_csv) == _csv(whole_csv)
    sheets = _sheets(small)
    assert sheets == _sheets(whole) and len(sheets) > 1
    for values in sheets.values():
        ranks = [row[2] for row in values[1:]]
        assert ranks == list(range(1, len(ranks) + 1))


def _sheets(path):
    book = load_workbook(path)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def test_firm_scores_are_stored_node_by_node_best_first_whatever_order_they_are_written(tmp_path):
    workspace = build_ranking_workspace(tmp_path / "ws")
    rank_firms(workspace, RUN)
    scores = workspace.read_df("firm_scores")
    shuffled = scores.sample(frac=1, random_state=3)
    assert list(shuffled.index) != list(scores.index)
    workspace.write("firm_scores", shuffled, RUN)
    stored = workspace.read_df("firm_scores")
    assert stored[["chain_id", "node_id", "rank"]].values.tolist() == sorted(scores[["chain_id", "node_id",
                                                                                    "rank"]].values.tolist())
    path, _ = write_targets(workspace, tmp_path / "after.csv", chain_id="ai", node_id="ai.vision")
    assert [r["Credit code 统一社会信用代码"] for r in _csv(path)] == [STRONG, MANUAL, WEAK]
