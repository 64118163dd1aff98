"""Target lists for marketers: ranked operating firms per node, as CSV or XLSX.

Rows are written as they are produced (csv writer / openpyxl write-only), so a large list
is never built in memory twice. Every text cell that a spreadsheet would read as a formula
is neutralised with a leading apostrophe.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from graph.workspace import Workspace

COLUMNS = (
    ("chain_id", "Chain"),
    ("node_name", "Node 节点"),
    ("rank", "Rank 排名"),
    ("score", "Score 评分"),
    ("tier", "Tier 等级"),
    ("firm_id", "Credit code 统一社会信用代码"),
    ("name", "Firm 企业名称"),
    ("province", "Province 省份"),
    ("city", "City 城市"),
    ("address", "Address 地址"),
    ("legal_representative", "Legal rep. 法定代表人"),
    ("size_band", "Size 规模"),
    ("registered_capital", "Capital (10k CNY) 注册资本(万元)"),
    ("patents_in_node", "Patents in node"),
    ("match_confidence", "Match confidence"),
    ("explanation", "Why 推荐理由"),
    ("run_id", "Run"),
)
_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Stop a spreadsheet from evaluating a text cell (CSV/XLSX formula injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_LEAD):
        return "'" + value
    return value


def target_rows(workspace: Workspace, chain_id: str | None = None, node_id: str | None = None) -> pd.DataFrame:
    """The target list as a frame, best first within each node."""
    scores = workspace.read_df("firm_scores")
    if chain_id:
        scores = scores[scores["chain_id"] == chain_id]
    if node_id:
        scores = scores[scores["node_id"] == node_id]
    firms = workspace.read_df(
        "firms",
        ["firm_id", "name", "province", "city", "address", "legal_representative", "size_band", "registered_capital"],
    )
    nodes = workspace.read_df("tech_nodes", ["chain_id", "node_id", "name_zh", "name_en"])
    nodes["node_name"] = nodes["name_zh"] + " " + nodes["name_en"]
    rows = scores.merge(firms, on="firm_id", how="left").merge(
        nodes[["chain_id", "node_id", "node_name"]], on=["chain_id", "node_id"], how="left"
    )
    rows["run_id"] = workspace.run_id_of("firm_scores")
    return rows.sort_values(["chain_id", "node_id", "rank"]).reset_index(drop=True)


def write_targets(
    workspace: Workspace,
    out_path: Path,
    chain_id: str | None = None,
    node_id: str | None = None,
    fmt: str | None = None,
) -> tuple[Path, int]:
    """Write the target list for a chain / node (or everything) to `out_path`; return (path, rows)."""
    fmt = (fmt or out_path.suffix.lstrip(".") or "csv").lower()
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"{out_path}: export format must be csv or xlsx, not {fmt!r}")
    rows = target_rows(workspace, chain_id, node_id)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    writer = _write_csv if fmt == "csv" else _write_xlsx
    writer(tmp, _records(rows))
    tmp.replace(out_path)
    return out_path, len(rows)


def _records(rows: pd.DataFrame) -> Iterator[list]:
    keys = [key for key, _ in COLUMNS]
    for record in rows[keys].itertuples(index=False, name=None):
        yield [None if pd.isna(value) else neutralise(value) for value in record]


def _write_csv(path: Path, records: Iterator[list]) -> None:
    # utf-8-sig: Excel opens Chinese text correctly only with the BOM.
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([title for _, title in COLUMNS])
        writer.writerows(records)


def _write_xlsx(path: Path, records: Iterator[list]) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Targets")
    sheet.freeze_panes = "A2"
    for index, (_, title) in enumerate(COLUMNS):
        sheet.column_dimensions[chr(ord("A") + index)].width = 60 if title.startswith("Why") else 18
    header_font, header_fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E79")
    header = []
    for _, title in COLUMNS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font, cell.fill = header_font, header_fill
        header.append(cell)
    sheet.append(header)
    for record in records:
        sheet.append(record)
    book.save(path)
