"""Target lists for marketers: ranked operating firms per node, as CSV or XLSX.

A list covers a node, a chain, a region (province / city) or a branch territory (a YAML file
mapping regions to branches, see docs/ranking.md). Rows are written as they are produced
(csv writer / openpyxl write-only) while `firm_scores` is streamed block by block, so a large list
is never held in memory. Every text
cell that a spreadsheet would read as a formula is neutralised with a leading apostrophe.
"""

from __future__ import annotations

import csv
import difflib
import itertools
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import yaml
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from pydantic import BaseModel, ConfigDict, ValidationError

from graph.workspace import Workspace, run_id_in

COLUMNS = (
    ("chain_id", "Chain"),
    ("node_name", "Node 节点"),
    ("rank", "Rank 排名"),
    ("score", "Score 评分"),
    ("tier", "Tier 等级"),
    ("firm_id", "Credit code 统一社会信用代码"),
    ("name", "Firm 企业名称"),
    ("branch", "Branch 分支机构"),
    ("province", "Province 省份"),
    ("city", "City 城市"),
    ("address", "Address 地址"),
    ("legal_representative", "Legal rep. 法定代表人"),
    ("established_date", "Established 成立日期"),
    ("size_band", "Size 规模"),
    ("employees", "Insured staff 参保人数"),
    ("registered_capital", "Capital (10k CNY) 注册资本(万元)"),
    ("dim_strength", "Strength 技术实力"),
    ("dim_quality", "Quality 专利质量"),
    ("dim_growth", "Growth 成长性"),
    ("dim_chain_position", "Chain position 链上地位"),
    ("dim_soundness", "Soundness 经营稳健"),
    ("patents_in_node", "Patents in node 节点专利"),
    ("top_patents", "Strongest patents 核心专利"),
    ("match_confidence", "Match confidence 匹配置信度"),
    ("explanation", "Why 推荐理由"),
    ("run_id", "Run"),
)
_WIDE = {"explanation": 90, "name": 32, "address": 36, "top_patents": 40, "node_name": 28}
_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Administrative suffixes people leave out ("广东" for "广东省", "深圳" for "深圳市").
_REGION_SUFFIX = re.compile(r"(省|市|特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区|地区|自治州|盟)$")


def neutralise(value: object) -> object:
    """Stop a spreadsheet from evaluating a text cell (CSV/XLSX formula injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_LEAD):
        return "'" + value
    return value


def region_key(name: object) -> str:
    """A province or city name without its administrative suffix, for comparing regions."""
    return _REGION_SUFFIX.sub("", str(name).strip()) if isinstance(name, str) else ""


class _BranchFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    branches: dict[str, list[str]]


@dataclass(frozen=True)
class BranchMap:
    """Regions → branch. A city entry ("广东省/深圳市") beats a province entry ("广东省")."""

    by_city: dict[tuple[str, str], str]
    by_province: dict[str, str]
    names: tuple[str, ...]

    def branch_of(self, province: object, city: object) -> str | None:
        key = region_key(province)
        return self.by_city.get((key, region_key(city))) or self.by_province.get(key)


def load_branches(path: Path) -> BranchMap:
    """Read a branch territory file; a region listed under two branches is an error naming both."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        parsed = _BranchFile.model_validate(data)
    except FileNotFoundError:
        raise ValueError(f"{path}: branch file not found") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{path}: invalid branch file: {problems}") from None
    by_city: dict[tuple[str, str], str] = {}
    by_province: dict[str, str] = {}
    for branch, regions in parsed.branches.items():
        for region in regions:
            province, _, city = region.partition("/")
            key: tuple[str, str] | str = (region_key(province), region_key(city)) if city else region_key(province)
            table: dict = by_city if city else by_province
            if key in table:
                raise ValueError(f"{path}: region {region!r} is listed under both {table[key]!r} and {branch!r}")
            table[key] = branch
    return BranchMap(by_city, by_province, tuple(parsed.branches))


_SCORE_COLUMNS = ["chain_id", "node_id", "rank", "score", "tier", "firm_id", "dim_strength", "dim_quality",
                  "dim_growth", "dim_chain_position", "dim_soundness", "patents_in_node", "top_patents",
                  "match_confidence", "explanation"]
_FIRM_COLUMNS = ["firm_id", "name", "province", "city", "address", "legal_representative", "established_date",
                 "size_band", "employees", "registered_capital"]
_BATCH_ROWS = 20_000


def target_batches(
    workspace: Workspace,
    chain_id: str | None = None,
    node_id: str | None = None,
    province: str | None = None,
    city: str | None = None,
    branches: BranchMap | None = None,
    branch: str | None = None,
) -> Iterator[pd.DataFrame]:
    """The target list block by block, best first within each node, filtered as asked.

    `firm_scores` is stored node by node, best first (its contract's `order`, kept on every write), so
    streaming it in stored order gives the list in order while holding one block of scores and the firm register's
    contact columns, never the whole table.
    """
    if branch and branches is None:
        raise ValueError("--branch needs a branch file (--branches FILE)")
    if branch and branch not in branches.names:
        raise ValueError(f"unknown branch {branch!r}; the branch file has: {', '.join(branches.names)}")
    firms = workspace.read_df("firms", _FIRM_COLUMNS)
    nodes = workspace.read_df("tech_nodes", ["chain_id", "node_id", "name_zh", "name_en"])
    # A mistyped filter would otherwise write an empty list and report success.
    _known_or_fail("chain", chain_id, nodes["chain_id"])
    _known_or_fail("node", node_id, nodes.loc[nodes["chain_id"] == chain_id, "node_id"] if chain_id else nodes["node_id"],
                   f" in chain {chain_id!r}" if chain_id else "")
    for field, wanted in (("province", province), ("city", city)):
        if wanted:
            keys = firms[field].map(region_key)
            _known_or_fail(field, region_key(wanted), keys, " among the registry's firms", shown=wanted)
            firms = firms[keys == region_key(wanted)]
    firms = firms.assign(branch=[branches.branch_of(p, c) for p, c in zip(firms["province"], firms["city"], strict=True)]
                         if branches else None)
    if branch:
        firms = firms[firms["branch"] == branch]
    region_filtered = bool(province or city or branch)
    nodes["node_name"] = nodes["name_zh"] + " " + nodes["name_en"]
    nodes = nodes[["chain_id", "node_id", "node_name"]]
    for batch in workspace.iter_batches("firm_scores", _SCORE_COLUMNS, _BATCH_ROWS):
        mask = None
        if chain_id:
            mask = pc.equal(batch["chain_id"], chain_id)
        if node_id:
            at_node = pc.equal(batch["node_id"], node_id)
            mask = at_node if mask is None else pc.and_(mask, at_node)
        scores = (batch.filter(mask) if mask is not None else batch).to_pandas()
        if scores.empty:
            continue
        rows = scores.merge(firms, on="firm_id", how="inner" if region_filtered else "left")
        if rows.empty:
            continue
        rows = rows.merge(nodes, on=["chain_id", "node_id"], how="left")
        rows["top_patents"] = rows["top_patents"].map(lambda pubs: ", ".join(pubs) if pubs is not None else None)
        rows["run_id"] = run_id_in(batch.schema)  # the same open file as the rows
        yield rows


def _known_or_fail(what: str, value: str | None, known: pd.Series, where: str = "", shown: str | None = None) -> None:
    """Refuse a filter value that names nothing, suggesting the closest known values."""
    if not value:
        return
    values = sorted({v for v in known.dropna().unique() if v})
    if value in values:
        return
    close = difflib.get_close_matches(value, values, n=5, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else (
        f"known: {', '.join(values[:12])}{' …' if len(values) > 12 else ''}" if values else "none is known")
    raise ValueError(f"unknown {what} {shown or value!r}{where}; {hint}")


def write_targets(
    workspace: Workspace,
    out_path: Path,
    chain_id: str | None = None,
    node_id: str | None = None,
    fmt: str | None = None,
    *,
    province: str | None = None,
    city: str | None = None,
    branches_file: Path | None = None,
    branch: str | None = None,
    sheet_per_node: bool = False,
) -> tuple[Path, int]:
    """Write the target list to `out_path` (csv or xlsx, from `fmt` or the suffix); return (path, rows)."""
    fmt = (fmt or out_path.suffix.lstrip(".") or "csv").lower()
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"{out_path}: export format must be csv or xlsx, not {fmt!r}")
    if sheet_per_node and fmt != "xlsx":
        raise ValueError(f"{out_path}: one sheet per node needs an .xlsx file")
    branches = load_branches(branches_file) if branches_file else None
    blocks = target_batches(workspace, chain_id, node_id, province, city, branches, branch)
    columns = [(key, title) for key, title in COLUMNS if key != "branch" or branches]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own per writer: two users exporting the same node at once must not share a file.
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    written = _Counter()
    try:
        if fmt == "csv":
            _write_csv(tmp, columns, written.count(_records(blocks, columns)))
        else:
            _write_xlsx(tmp, columns, written.count(_keyed_records(blocks, columns)), sheet_per_node)
        tmp.replace(out_path)
    except OSError as exc:  # disk full, read-only folder: say which file, not just the errno
        raise OSError(exc.errno, f"cannot write the export {out_path} ({exc.strerror or exc});"
                                 " no file was written there") from None
    finally:
        if tmp.exists():  # unlink() of a missing file still fails on a read-only file system
            tmp.unlink()
    return out_path, written.rows


class _Counter:
    """Counts the records a writer takes from a stream."""

    def __init__(self) -> None:
        self.rows = 0

    def count(self, records: Iterator) -> Iterator:
        for record in records:
            self.rows += 1
            yield record


def _records(blocks: Iterator[pd.DataFrame], columns: list[tuple[str, str]]) -> Iterator[list]:
    for _node, record in _keyed_records(blocks, columns):
        yield record


def _keyed_records(blocks: Iterator[pd.DataFrame], columns: list[tuple[str, str]]) -> Iterator[tuple[str, list]]:
    """(node id, spreadsheet-safe cells) per row."""
    keys = [key for key, _ in columns]
    for rows in blocks:
        for node, record in zip(rows["node_id"], rows[keys].itertuples(index=False, name=None), strict=True):
            yield node, [None if _missing(value) else neutralise(_plain(value)) for value in record]


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, (list, tuple, str)) and bool(pd.isna(value)))


def _plain(value: object) -> object:
    """numpy scalars and timestamps as the Python values spreadsheets take."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value.item() if hasattr(value, "item") else value


def _write_csv(path: Path, columns: list[tuple[str, str]], records: Iterator[list]) -> None:
    # utf-8-sig: Excel opens Chinese text correctly only with the BOM.
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([title for _, title in columns])
        writer.writerows(records)


def _write_xlsx(path: Path, columns: list[tuple[str, str]], records: Iterator[tuple[str, list]],
                sheet_per_node: bool) -> None:
    book = Workbook(write_only=True)
    if not sheet_per_node:
        _sheet(book, "Targets", columns, (record for _, record in records))
    else:
        used: set[str] = set()
        for node_id, group in itertools.groupby(records, key=lambda keyed: keyed[0]):
            _sheet(book, _sheet_title(node_id, used), columns, (record for _, record in group))
        if not used:
            _sheet(book, "Targets", columns, iter(()))
    book.save(path)


def _sheet(book: Workbook, title: str, columns: list[tuple[str, str]], records: Iterator[list]) -> None:
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    for index, (key, _) in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _WIDE.get(key, 16)
    header_font, header_fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E79")
    header = []
    for _, title_text in columns:
        cell = WriteOnlyCell(sheet, value=title_text)
        cell.font, cell.fill = header_font, header_fill
        header.append(cell)
    sheet.append(header)
    for record in records:
        sheet.append(record)


def _sheet_title(node_id: str, used: set[str]) -> str:
    """A valid, unique sheet name (at most 31 characters, none of []:*?/\\)."""
    base = _SHEET_FORBIDDEN.sub("_", node_id)[:31] or "node"
    title, n = base, 1
    while title.lower() in used:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    used.add(title.lower())
    return title
