"""Firm registry ingest: Chinese and English headers, CSV and XLSX, credit-code validation, merging."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from graph.workspace import Workspace
from ingest import ingest_firms
from ingest.normalize import FX_TO_CNY

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"
REGISTRY_CN = FIXTURES / "registry_cn.csv"
REGISTRY_EN = FIXTURES / "registry_en.csv"


def firms_by_id(workspace: Workspace) -> dict[str, dict]:
    return {row["firm_id"]: row for row in workspace.read("firms").to_pylist()}


def firm_quarantine(workspace: Workspace) -> list[dict]:
    rows = workspace.read("quarantine").to_pylist()
    return sorted((r for r in rows if r["stage"] == "ingest-firms"), key=lambda r: (r["source_file"], r["position"]))


def test_chinese_registry_csv(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    report = ingest_firms(workspace, [REGISTRY_CN], "run-1")

    (count,) = report.per_file
    assert (count.encoding, count.read, count.written, count.quarantined, count.merged) == ("utf-8", 7, 6, 1, 1)
    assert report.records == 5

    (bad,) = firm_quarantine(workspace)
    assert (bad["position"], bad["field"]) == (4, "firm_id")
    assert "统一社会信用代码" in bad["reason"] and "GB 32100-2015" in bad["reason"]
    assert "杭州错码科技有限公司" in bad["raw"]

    firms = firms_by_id(workspace)
    yuntu = firms["91440300MA5F1ABC15"]
    assert yuntu["status"] == "operating"
    assert yuntu["registered_capital"] == 5000.0
    assert yuntu["former_names"] == ["深圳市云图科技有限公司", "深圳云图网络有限公司", "深圳市云图视觉有限公司"]  # row 7 merged
    assert yuntu["english_name"] == "Shenzhen Yuntu Intelligent Technology Co., Ltd."
    assert (yuntu["size_band"], yuntu["employees"], yuntu["established_date"]) == ("small", 35, dt.date(2018, 5, 20))
    assert yuntu["parent_firm_id"] == "91440300MA5G7TUW5H"
    assert yuntu["source_position"] == 1

    shell = firms["91110108MA01XYW22D"]
    assert (shell["status"], shell["deregistered_date"]) == ("deregistered", dt.date(2020, 12, 31))
    assert shell["registered_capital"] == pytest.approx(100 * FX_TO_CNY["USD"])
    assert shell["successor_firm_id"] == "91310115MA1K4PQR3K"
    chip = firms["91310115MA1K4PQR3K"]
    assert chip["registered_capital"] == pytest.approx(500 * FX_TO_CNY["HKD"])
    assert (chip["employees"], chip["size_band"], chip["established_date"]) == (120, "medium", dt.date(2019, 11, 1))
    assert firms["91330106MA2H0LMN46"]["status"] == "revoked"
    assert firms["91440300MA5G7TUW5H"]["registered_capital"] == 12000.0


def test_registry_xlsx_with_date_cells_and_english_headers_merge(tmp_path):
    with open(REGISTRY_CN, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["企业信息导出（示例）"])  # a title line above the header, as Qichacha exports have
    sheet.append(rows[0])
    established = [dt.datetime(2018, 5, 20), dt.datetime(2015, 3, 1), dt.datetime(2019, 11, 1)]  # as date cells
    for row, date_cell in zip(rows[1:4], established, strict=True):
        sheet.append([*row[:5], date_cell, *row[6:]])
    xlsx = tmp_path / "registry.xlsx"
    book.save(xlsx)
    workspace = Workspace(tmp_path / "ws")

    report = ingest_firms(workspace, [xlsx, REGISTRY_EN], "run-1")

    sheet_count, english = report.per_file
    assert (sheet_count.format, sheet_count.read, sheet_count.written, sheet_count.quarantined) == ("xlsx", 3, 3, 0)
    assert (english.read, english.written, english.quarantined, english.merged) == (2, 1, 1, 0)
    firms = firms_by_id(workspace)
    assert firms["91310115MA1K4PQR3K"]["established_date"] == dt.date(2019, 11, 1)
    robot = firms["91320594MA1MXQ7T25"]
    assert (robot["name"], robot["status"], robot["size_band"]) == ("苏州精工机器人有限公司", "operating", "small")
    (bad,) = firm_quarantine(workspace)
    assert (bad["position"], bad["field"]) == (2, "name")
    assert "Company Name is empty" in bad["reason"]


def test_a_later_registry_file_updates_status_and_renames(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    ingest_firms(workspace, [REGISTRY_CN], "run-1")
    before = firms_by_id(workspace)["91440300MA5F1ABC15"]
    update = tmp_path / "update.csv"
    with open(update, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["企业名称", "统一社会信用代码", "登记状态", "注销日期"])
        writer.writerow(["深圳市云图新视界科技有限公司", "91440300MA5F1ABC15", "注销", "2026-10-30"])
    report = ingest_firms(workspace, [update], "run-2")
    assert (report.read, report.written, report.merged) == (1, 1, 1)

    after = firms_by_id(workspace)["91440300MA5F1ABC15"]
    assert (after["status"], after["deregistered_date"]) == ("deregistered", dt.date(2026, 10, 30))
    assert after["name"] == "深圳市云图新视界科技有限公司"
    assert after["former_names"] == [*before["former_names"], before["name"]]
    assert (after["registered_capital"], after["parent_firm_id"]) == (5000.0, "91440300MA5G7TUW5H"), "gaps keep old facts"
