"""Classification-code lists read column-wise (`columnar.classification_lists`) give exactly what the
per-value parser (`normalize.classification_codes`) gives: the same lists, the same reasons."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import shared_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import columnar
from ingest import normalize as nz
from ingest.headers import PATENT_HEADERS, map_headers

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"
CODE_FIELDS = ("ipc", "cpc", "main_ipc", "main_cpc")


def per_value(cells: list[str | None]) -> tuple[list, list]:
    """What the row builder makes of each cell: (codes or None, reason or None)."""
    lists, reasons = [], []
    for cell in cells:
        try:
            lists.append(nz.classification_codes(cell))
            reasons.append(None)
        except ValueError as exc:
            lists.append(None)
            reasons.append(str(exc))
    return lists, reasons


def column_wise(cells: list[str | None]) -> tuple[list, list]:
    lists, reasons = columnar.classification_lists(columnar.clean(pa.array(cells, pa.string())))
    return lists.to_pylist(), reasons.to_pylist()


def assert_same(cells: list[str | None]) -> None:
    assert column_wise(cells) == per_value(cells)


def test_canonical_lists_and_every_other_spelling_in_one_column():
    cells = ["G06N3/08;G06F17/30", "G06N3/08 ; G06N3/08", "H01L", "A01B1/000000|A01B1/000000,A01B", None, "",
             "g06n3/08", "Ｇ０６Ｎ３／０８", "G06N0003080000", "G06N03/08", "G06N 3/08", "G06N3/08,,G06F",
             "G06N3/08 (2006.01)", "X99Z", "G06N3/08;人工智能", "G06N0/1", "G06N\u0663/08", "-"]
    lists, reasons = column_wise(cells)
    assert lists[0] == ["G06N3/08", "G06F17/30"] and lists[1] == ["G06N3/08"] and lists[3] == ["A01B1/000000", "A01B"]
    assert lists[4] == lists[5] == [] and lists[9] == ["G06N3/08"]  # null and empty cells: no codes
    assert lists[14] is None and "人工智能" in reasons[14]
    assert (lists, reasons) == per_value(cells)


def test_all_canonical_all_other_and_empty_columns():
    assert_same(["G06N3/08", "H04L29/06;H04L12/24", "G06N3/08"])
    assert_same(["G06N 3/08", "h04l29/06"])
    assert_same([None, None])
    assert_same([])


SECTIONS = "ABCDEFGHYZ"
# every piece a code can be spelled with: separators, spaces, full-width forms, version suffixes, junk
SEPARATORS = [";", ",", "|", "；", " ; ", ";;", "\n", " ", "  ", ",\t", " | "]
SUFFIXES = ["", "", "", " (2006.01)", "(2006.01)I", " "]


@st.composite
def code(draw) -> str:
    subclass = (draw(st.sampled_from(SECTIONS)) + draw(st.from_regex(r"\A[0-9]{2}\Z"))
                + draw(st.sampled_from("ABFGHLNZ")))
    form = draw(st.sampled_from(["slash", "slash", "fixed", "subclass", "spaced"]))
    main = draw(st.from_regex(r"\A[0-9]{1,5}\Z"))
    sub = draw(st.from_regex(r"\A[0-9]{1,7}\Z"))
    text = {"slash": f"{subclass}{main}/{sub}", "fixed": f"{subclass}{main.zfill(4)[:4]}{sub.ljust(6, '0')[:6]}",
            "subclass": subclass, "spaced": f"{subclass} {main} / {sub}"}[form]
    if draw(st.booleans()):
        text = text.lower()
    if draw(st.integers(0, 5)) == 0:  # full width, as some CN exports print codes
        text = text.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    return text + draw(st.sampled_from(SUFFIXES))


@st.composite
def code_list(draw) -> str | None:
    pool = draw(st.lists(code(), min_size=1, max_size=4))
    picks = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=6))  # repeats on purpose
    if draw(st.integers(0, 9)) == 0:
        picks.insert(draw(st.integers(0, len(picks))), draw(st.sampled_from(["人工智能", "n/a", "G06", "-", ""])))
    cell = picks[0]
    for pick in picks[1:]:
        cell += draw(st.sampled_from(SEPARATORS)) + pick
    return draw(st.sampled_from(["", " ", "\t"])) + cell + draw(st.sampled_from(["", " ", ";"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.one_of(code_list(), st.none()), max_size=12))
def test_generated_code_lists_read_the_same_both_ways(cells):
    assert_same(cells)


def code_cells(path: Path, encoding: str = "utf-8-sig") -> list[str]:
    """Every IPC/CPC cell of a CSV whose headers name classification columns."""
    with open(path, encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle))
    header_line = next(i for i, row in enumerate(rows) if map_headers(row, PATENT_HEADERS).columns.keys() & set(CODE_FIELDS))
    columns = map_headers(rows[header_line], PATENT_HEADERS).columns
    indices = [i for field in CODE_FIELDS for i in columns.get(field, [])]
    return [row[i] for row in rows[header_line + 1:] for i in indices if i < len(row)]


@pytest.mark.parametrize(("name", "encoding"), [("cnipa_bom.csv", "utf-8-sig"), ("incopat_gb18030.csv", "gb18030"),
                                                ("lens_export.csv", "utf-8-sig")])
def test_fixture_exports_read_the_same_both_ways(name, encoding):
    cells = code_cells(FIXTURES / name, encoding)
    assert cells
    assert_same(cells)


@pytest.mark.parametrize(("relative", "columns"), [
    ("cn_cnipa_style_sample/cnipa_style_patents.csv", ("主分类号", "分类号")),
    ("pv_assignee_hand_disamb/samples_with_data.csv", ("cpc_group_id", "cpc_subgroup_id")),
    ("pvdb_name_and_ipc_resources/ipc_technology.csv", ("IPC_code",)),
])
def test_real_samples_read_the_same_both_ways(relative, columns):
    path = shared_data(relative)
    with open(path, encoding="utf-8-sig", newline="", errors="replace") as handle:
        rows = list(csv.DictReader(handle))
    cells = [row[column] for row in rows for column in columns if row.get(column) is not None]
    assert cells
    assert_same(cells)
