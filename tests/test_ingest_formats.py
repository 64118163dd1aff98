"""Vendor export layouts (Google Patents, Lens.org, PPUBS, PatentsView, GLEIF links), --format, and the
column-at-a-time CSV path checked against the row-at-a-time builders."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import shared_data

from graph.workspace import Workspace
from ingest import IngestError, columnar, generate, headers, ingest_firms, ingest_patents, records, sources
from ingest import normalize as nz
from ingest.columnar import patent_batch

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"


def by_number(workspace: Workspace) -> dict[str, dict]:
    return {row["publication_number"]: row for row in workspace.read("patents").to_pylist()}


def quarantined(workspace: Workspace) -> list[dict]:
    return sorted(workspace.read("quarantine").to_pylist(), key=lambda r: (r["source_file"], r["position"]))


def test_google_patents_export_after_its_search_url_line(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    (count,) = ingest_patents(workspace, [FIXTURES / "google_patents.csv"], "run-1").per_file
    assert (count.read, count.written, count.quarantined) == (4, 3, 1)
    patents = by_number(workspace)
    us = patents["US11842263B2"]
    assert us["inventors"] == ["Yijun Li", "Richard Zhang"]  # Google joins names with ", "
    assert us["grant_date"] == us["publication_date"] == dt.date(2023, 12, 12)
    assert patents["WO2023123456A1"]["applicants"] == ["Foo, Inc."]  # a legal form stays with its name
    assert patents["CN114549683A"]["inventors"] == ["李明", "王强"]
    (bad,) = quarantined(workspace)
    assert (bad["position"], bad["field"]) == (4, "publication_number") and "not-a-number" in bad["reason"]


def test_lens_export_with_double_semicolon_lists(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    (count,) = ingest_patents(workspace, [FIXTURES / "lens_export.csv"], "run-1").per_file
    assert (count.read, count.written, count.quarantined) == (3, 2, 1)
    patents = by_number(workspace)
    us = patents["US20200012345A1"]  # Display Key `US 2020/0012345 A1`
    assert us["applicants"] == ["HUAWEI TECH CO LTD", "HISILICON TECH CO LTD"]
    assert us["ipc"] == ["G06N3/063", "G06F9/50"] and us["cpc"] == ["G06N3/063", "G06F9/50"]
    assert patents["CN110123456B"]["ipc"] == ["H01L23/367"]
    (bad,) = quarantined(workspace)
    assert (bad["position"], bad["field"]) == (3, "publication_date") and "2020-02-30" in bad["reason"]


def test_ppubs_ai_pregrant_export(tmp_path):
    path = shared_data("us_ai_pgpub_tsukoyami/ai_patents.csv")
    workspace = Workspace(tmp_path / "ws")
    (count,) = ingest_patents(workspace, [path], "run-1").per_file
    assert (count.read, count.written, count.quarantined) == (499, 499, 0)
    first = by_number(workspace)["US20240338799A1"]  # Patent Number 20240338799, Source US-PGPUB
    assert first["applicants"] == ["Adobe Inc."] and first["inventors"] == ["Yijun Li"]  # `Li; Yijun et al.`
    assert (first["application_date"], first["publication_date"]) == (dt.date(2023, 3, 3), dt.date(2024, 10, 10))


def test_patentsview_denormalised_sample_merges_to_one_record_per_patent(tmp_path):
    path = shared_data("pv_assignee_hand_disamb/samples_with_data.csv")
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [path], "run-1")
    (count,) = report.per_file
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert (count.read, count.written, count.quarantined) == (len(rows), len(rows), 0)
    assert report.records == len({r["patent_id"] for r in rows}) == count.written - count.merged
    patents = by_number(workspace)
    inkjet = patents["US9162460B2"]
    assert inkjet["applicants"] == ["BROTHER KOGYO KABUSHIKI KAISHA"]
    assert inkjet["grant_date"] == dt.date(2015, 10, 20) and inkjet["application_date"] == dt.date(2014, 11, 7)
    expected_cpc = {r["cpc_subgroup_id"] for r in rows if r["patent_id"] == "9162460"}
    assert set(inkjet["cpc"]) == expected_cpc and inkjet["inventors"] == ["Kohei Terada"]


def test_gleif_relationship_file_adds_parents_and_quarantines_unknown_children(tmp_path):
    folder = shared_data("gleif_lei_samples")
    workspace = Workspace(tmp_path / "ws")
    report = ingest_firms(workspace, [folder / "lei_entities.csv", folder / "lei_relationships.csv"], "run-1")
    entities, links = report.per_file
    with open(folder / "lei_relationships.csv", encoding="utf-8", newline="") as handle:
        pairs = list(csv.DictReader(handle))
    firms = {row["firm_id"]: row for row in workspace.read("firms").to_pylist()}
    assert links.read == len(pairs) == links.written + links.quarantined
    assert report.records == entities.written == 94
    direct = {p["child_lei"]: p["parent_lei"] for p in pairs if p["relation"].startswith("direct")}
    known = [child for child in direct if child in firms]
    assert known and all(firms[child]["parent_firm_id"] == direct[child] for child in known)
    assert firms["2138004VFYZFYLELHT92"]["country"] == "GB"  # the legal-address country


def test_gleif_links_alone_are_quarantined_naming_the_missing_name(tmp_path):
    path = shared_data("gleif_lei_samples/lei_relationships.csv")
    workspace = Workspace(tmp_path / "ws")
    report = ingest_firms(workspace, [path], "run-1")
    (count,) = report.per_file
    assert report.records == 0 and count.read == count.written + count.quarantined and count.quarantined > 0
    rows = quarantined(workspace)
    assert rows and all(r["field"] == "name" and "no source gives name" in r["reason"] for r in rows)


@pytest.mark.parametrize(("fmt", "fixture", "message"), [
    ("lens", "google_patents.csv", "no lens id, display key column"),
    ("google-patents", "lens_export.csv", "no id, result link column"),
    ("xlsx", "lens_export.csv", "not an XLSX workbook"),
    ("lens", "uspto_weekly.xml", "it is an XML document"),
    ("csv", "uspto_weekly.xml", "no header row"),
])
def test_a_file_that_is_not_the_format_it_is_given_as_fails_with_one_clear_error(tmp_path, fmt, fixture, message):
    with pytest.raises(IngestError, match=message) as caught:
        ingest_patents(Workspace(tmp_path / "ws"), [FIXTURES / fixture], "run-1", fmt)
    assert fixture in str(caught.value)


@pytest.mark.parametrize(("fmt", "fixture", "records_written"), [
    ("google-patents", "google_patents.csv", 3), ("lens", "lens_export.csv", 2), ("csv", "cnipa_bom.csv", 5),
    ("uspto-xml", "uspto_weekly.xml", None),
])
def test_format_override_reads_the_file_as_given(tmp_path, fmt, fixture, records_written):
    (count,) = ingest_patents(Workspace(tmp_path / "ws"), [FIXTURES / fixture], "run-1", fmt).per_file
    assert count.format == fmt and count.read == count.written + count.quarantined
    if records_written is not None:
        assert count.written == records_written


def test_arrow_trimming_strips_exactly_what_python_strip_does():
    """columnar.clean relies on this; checked over every code point."""
    values = [chr(c) + "x" + chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    trimmed = pc.utf8_trim_whitespace(pa.array(values)).to_pylist()
    assert [v for v, t in zip(values, trimmed, strict=True) if v.strip() != t] == []


def test_a_csv_row_is_blank_exactly_when_every_cell_strips_to_nothing():
    """sources._blank_rows, checked over every code point as a whole cell and next to another cell."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    block = pa.RecordBatch.from_pydict({"c0": [c + c for c in chars] + ["", " ", "", " 　x"],
                                        "c1": [" " if i % 2 else "" for i in range(len(chars))] + ["", "\t", "x", ""]})
    cells = zip(block.column("c0").to_pylist(), block.column("c1").to_pylist(), strict=True)
    assert sources._blank_rows(block).to_pylist() == [not (a + b).strip() for a, b in cells]
    assert sources._blank_rows(block.slice(len(chars) + 2)) is None  # no blank row: nothing to drop


@pytest.mark.parametrize("distinct", [True, False])  # cells nearly all different (inventors), or a few over and over
def test_lists_split_column_wise_as_the_row_builder_splits_them(distinct):
    cells = ["张三；李四 | 王五\n赵六;", "Foo, Inc.; Bar Co., Ltd.", "甲;;乙", " 丙 ；- ; 丁\r\n戊", "己|"]
    column = [None if i % 20 == 7 else "无" if i % 20 == 9 else cells[i % 5] + (str(i) if distinct else "")
              for i in range(600)]
    values = columnar.clean(pa.array(column, pa.string()))
    assert columnar._mostly_distinct(values) == distinct
    assert columnar.split_multi(values).to_pylist() == [nz.split_multi(cell) for cell in column]
    raw = [f" {cell}\n" if cell and i % 3 else cell for i, cell in enumerate(column)] + ["n/a", " - ", "无；", "\u3000"]
    assert columnar.split_multi(pa.array(raw, pa.string())).to_pylist() == [nz.split_multi(cell) for cell in raw]


def test_column_path_equals_the_row_builder_on_generated_exports(tmp_path):
    dataset = generate(tmp_path / "in", n_patents=400, n_firms=120, seed=9)
    for path, encoding in ((dataset.patent_files[0], "utf-8-sig"), (dataset.patent_files[1], "gb18030")):
        with open(path, encoding=encoding, newline="") as handle:
            header, *rows = list(csv.reader(handle))
        rows = [r for r in rows if len(r) == len(header)]
        batch, rejections, expected, expected_rejections = _column_and_row_paths(header, rows)
        assert batch.to_pylist() == expected
        assert [(r.row, r.field, r.reason) for r in rejections] == expected_rejections


def _column_and_row_paths(header: list[str], rows: list[list[str]]):
    """The rows as one batch through `patent_batch`, and one by one through `records.build_patent`:
    (batch, rejections, expected records, expected (row, field, reason))."""
    columns = headers.map_headers(header, headers.PATENT_HEADERS)
    cells = [pa.array([r[i] for r in rows]) for i in range(len(header))]
    fields = {f: [cells[i] for i in idx] for f, idx in columns.columns.items()}
    batch, rejections = patent_batch(fields, columns.header_of, len(rows), "f", np.arange(1, len(rows) + 1))
    expected, expected_rejections = [], []
    for index, row in enumerate(rows):
        try:
            expected.append(records.build_patent(sources._pick(columns, row), columns.header_of, "f", index + 1))
        except records.RowRejected as exc:
            expected_rejections.append((index, exc.field, exc.reason))
    return batch, rejections, expected, expected_rejections


def test_cells_spelled_differently_in_one_batch_give_what_the_row_builder_gives():
    """A column read once per distinct raw cell: cells differing only by surrounding spaces or placeholder
    spelling, in the same batch, must come out as each row alone would."""
    header = ["公开（公告）号", "申请号", "申请日", "公开（公告）日", "主分类号", "分类号", "引证专利",
              "申请（专利权）人", "地址", "法律状态", "专利类型", "权利要求数量", "发明（设计）人"]
    variants = [[" 2021-03-05", "2021-03-05", "2021-03-05\u3000", "-", "无", "", "2021-02-30"],
                [" G06N3/08", "G06N3/08", "G06N 3/08 ", "N/A", "G06N3/08;G06N3/08"],
                [" CN1234567A", "CN1234567A；CN1234567A", "-", "CN1234567A, ", "XX"],
                [" 甲公司", "甲公司", "无", "甲公司；乙公司 "], [" 北京市", "北京市", "--"],
                [" 有效", "有效", "NA", "有效 "], [" 发明", "发明", "none", "实用新型 "], [" 12", "12", "12项", "-"]]
    rows = [[f"CN{1000000 + i}A", "CN202110123456.7", variants[0][i % 7], variants[0][i % 5], variants[1][i % 5],
             variants[1][i % 3], variants[2][i % 5], variants[3][i % 4], variants[4][i % 3], variants[5][i % 4],
             variants[6][i % 4], variants[7][i % 4], "张三；李四"] for i in range(140)]
    batch, rejections, expected, expected_rejections = _column_and_row_paths(header, rows)
    assert len(expected_rejections) > 10 and len(expected) > 10  # both kinds of row are there
    assert batch.to_pylist() == expected
    assert [(r.row, r.field, r.reason) for r in rejections] == expected_rejections


def test_dates_computed_together_are_what_the_date_parser_gives():
    """columnar parses plain dates (2021-03-05, 20210305 …) of a batch together; every other value, and every
    date that does not exist, is left to normalize.parse_date."""
    values = [f"{y:04d}{sep}{m:02d}{sep}{d:02d}" for y in (0, 1, 1900, 1970, 2000, 2021, 2024, 2100, 9999)
              for m in range(14) for d in range(33) for sep in ("-", ".", "/", "")]
    values += ["2021-3-5", "２０２１-03-05", "20210305\0\0", "2021-03-05 ", "2021_03_05", "202103051", "", None]
    computed = columnar._plain_dates(values)
    assert {"2021-03-05", "2024.02.29", "20001231", "0001/01/01"} <= computed.keys()
    assert "2021-02-29" not in computed and "19000229" not in computed and "2021-3-5" not in computed
    for value, date in computed.items():
        assert nz.parse_date(value) == date


def test_positions_stay_exact_across_many_small_csv_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_BLOCK_BYTES", 4096)  # ~6 rows a block: bad rows fall in every block
    dataset = generate(tmp_path / "in", n_patents=300, n_firms=120, seed=5)
    manifest = json.loads(dataset.manifest.read_text(encoding="utf-8"))
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, dataset.patent_files[:2], "run-1")
    where = {(Path(r["source_file"]).name, r["position"]) for r in quarantined(workspace)}
    expected = {(Path(name).name, bad["position"]) for name, spec in manifest["files"].items()
                if name.endswith(".csv") and spec["kind"] == "patents" for bad in spec["bad_rows"]}
    assert where == expected
    positions = [row["source_position"] for row in workspace.read("patents").to_pylist()]
    assert report.read == sum(manifest["files"][f"patents/{p.name}"]["rows"] for p in dataset.patent_files[:2])
    assert len(positions) == report.records and min(positions) >= 1
