"""Patent ingest over hand-made vendor exports (tests/fixtures/ingest) and files built from them."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest

from graph.workspace import Workspace
from ingest import IngestError, ingest_patents

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"
CNIPA = FIXTURES / "cnipa_bom.csv"
INCOPAT = FIXTURES / "incopat_gb18030.csv"
PATSNAP_HEADERS = ["公开(公告)号", "申请号", "申请日", "公开(公告)日", "标题", "摘要", "申请(专利权)人", "发明人",
                   "申请(专利权)人地址", "IPC主分类号", "IPC分类号", "引用专利", "权利要求数量", "法律状态/事件", "专利类型"]


def patents_by_number(workspace: Workspace) -> dict[str, dict]:
    return {row["publication_number"]: row for row in workspace.read("patents").to_pylist()}


def quarantine_rows(workspace: Workspace) -> list[dict]:
    rows = workspace.read("quarantine").to_pylist()
    return sorted((r for r in rows if r["stage"] == "ingest-patents"), key=lambda r: (r["source_file"], r["position"]))


def write_patsnap_xlsx(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(PATSNAP_HEADERS)
    sheet.append(["CN117000001A", "CN202310000001.2", dt.datetime(2023, 1, 5), dt.datetime(2023, 4, 7), "一种无人机避障方法",
                  "无人机避障。", "大疆创新科技有限公司; 深圳大学", "刘一", "广东省深圳市南山区西丽街道仙元路55号",
                  "G05D1/10", "G05D1/10;G06N3/04", "", 7, "实质审查", "发明申请"])
    sheet.append(["CN117000002A", "202310000002.7", "2023-02-30", dt.datetime(2023, 5, 1), "坏日期", "", "某公司", "", "",
                  "", "", "", 2, "公开", "发明申请"])
    sheet.append([None] * len(PATSNAP_HEADERS))  # a blank row keeps its number but is not a record
    sheet.append(["CN217000003U", 2023200000035, 20230301, dt.datetime(2023, 6, 9), "一种传感器支架", "", "苏州精工机器人有限公司",
                  "王五", "", "G01D11/30", "", "", 3.0, "有效", "实用新型"])
    book.save(path)
    return path


def test_cnipa_bom_export_accounting_and_quarantine(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [CNIPA], "run-1")

    (count,) = report.per_file
    assert (count.format, count.encoding) == ("csv", "utf-8-sig")
    assert (count.read, count.written, count.quarantined, count.merged) == (8, 5, 3, 1)
    assert count.read == count.written + count.quarantined
    assert report.records == 4

    bad = [(r["position"], r["field"]) for r in quarantine_rows(workspace)]
    assert bad == [(4, "publication_number"), (5, "application_date"), (6, "columns")]
    reasons = {r["field"]: r["reason"] for r in quarantine_rows(workspace)}
    assert "公开（公告）号 is empty" in reasons["publication_number"]
    assert "申请日" in reasons["application_date"] and "2021-02-30" in reasons["application_date"]
    assert "has 3 columns, the header has 15" in reasons["columns"]
    assert all(r["source_file"] == str(CNIPA.resolve()) for r in quarantine_rows(workspace))
    assert report.quarantine_path is not None and report.quarantine_path.exists()


def test_cnipa_values_are_normalised(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    ingest_patents(workspace, [CNIPA], "run-1")
    patents = patents_by_number(workspace)

    first = patents["CN114123456A"]
    assert first["application_number"] == "CN202110123456.7"
    assert first["application_date"] == dt.date(2021, 3, 5)
    assert first["ipc"] == ["G06N3/08", "G06V10/82", "G06T7/00"]  # main class first; row 7 added G06T7/00
    assert first["applicants"] == ["深圳市云图智能科技有限公司", "北京大学"]
    assert first["applicant_addresses"] == ["518000 广东省深圳市南山区科技园科苑路15号"]
    assert first["cited_publications"] == ["CN110123456A", "CN109876543B"]
    assert (first["patent_type"], first["kind"], first["claims_count"]) == ("invention", "A", 10)
    assert first["source_position"] == 1  # the duplicate at row 7 merged into row 1's record

    granted = patents["CN114223344B"]
    assert granted["applicants"] == ["Foo, Inc.", "Bar Technologies Co., Ltd."]
    assert granted["inventors"] == ["John Smith", "Mary Lee"]
    assert granted["publication_date"] == dt.date(2022, 3, 15)
    assert granted["application_date"] == dt.date(2021, 4, 12)

    utility = patents["CN215000001U"]
    assert utility["patent_type"] == "utility_model"
    assert utility["abstract"] == "一种工业机器人夹爪，\r\n包括夹持臂和驱动气缸。"  # a quoted multi-line cell is one record
    assert utility["source_position"] == 3
    assert patents["CN306000001S"]["patent_type"] == "design"  # from the kind code when 专利类型 is empty


def test_gb18030_incopat_export_merges_with_cnipa(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [CNIPA, INCOPAT], "run-1")

    incopat = report.per_file[1]
    assert (incopat.format, incopat.encoding) == ("csv", "gb18030")
    assert (incopat.read, incopat.written, incopat.quarantined, incopat.merged) == (3, 3, 0, 1)
    assert (report.read, report.written, report.quarantined, report.merged) == (11, 8, 3, 2)
    assert report.records == 6

    merged = patents_by_number(workspace)["CN114223344B"]
    assert merged["source_file"] == str(CNIPA.resolve())  # provenance of the first source
    assert merged["claims_count"] == 9  # a gap in the CNIPA row, filled by incoPat
    assert merged["title"] == "一种5G基站天线装置"  # the first source's value wins
    assert merged["ipc"] == ["H01Q1/24", "H04W88/08"]
    assert patents_by_number(workspace)["CN116000002A"]["applicants"] == ["上海交通大学", "华为技术有限公司"]


def test_reingesting_the_same_content_is_a_no_op(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    ingest_patents(workspace, [CNIPA], "run-1")
    before = workspace.read("patents")
    copy = tmp_path / "renamed.csv"
    shutil.copy(CNIPA, copy)

    report = ingest_patents(workspace, [CNIPA, copy], "run-2")

    assert report.skipped_unchanged == [CNIPA, copy] and report.unchanged_files == 2
    assert report.per_file == [] and report.read == 0
    assert workspace.run_id_of("patents") == "run-1"
    assert workspace.read("patents").equals(before)
    assert len(quarantine_rows(workspace)) == 3


def test_later_run_keeps_earlier_quarantine_and_records(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    ingest_patents(workspace, [CNIPA], "run-1")
    report = ingest_patents(workspace, [INCOPAT], "run-2")

    assert report.records == 6 and report.merged == 1
    assert [r["position"] for r in quarantine_rows(workspace)] == [4, 5, 6]


def test_gzip_and_zip_are_read_transparently(tmp_path):
    gz_path = tmp_path / "cnipa.csv.gz"
    gz_path.write_bytes(gzip.compress(CNIPA.read_bytes()))
    zip_path = tmp_path / "exports.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(INCOPAT, "vendor/incopat.csv")
        archive.write(write_patsnap_xlsx(tmp_path / "p.xlsx"), "vendor/patsnap.xlsx")
    workspace = Workspace(tmp_path / "ws")

    report = ingest_patents(workspace, [gz_path, zip_path], "run-1")

    formats = [(c.format, c.encoding, c.read, c.written, c.quarantined) for c in report.per_file]
    assert formats == [("csv+gzip", "utf-8-sig", 8, 5, 3), ("csv+zip", "gb18030", 3, 3, 0), ("xlsx+zip", None, 3, 2, 1)]
    assert str(report.per_file[2].path).endswith("exports.zip!vendor/patsnap.xlsx")
    assert report.records == 8


def test_xlsx_date_cells_numbers_and_quarantine(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    path = write_patsnap_xlsx(tmp_path / "patsnap.xlsx")

    report = ingest_patents(workspace, [path], "run-1")

    (count,) = report.per_file
    assert (count.format, count.read, count.written, count.quarantined) == ("xlsx", 3, 2, 1)
    patents = patents_by_number(workspace)
    drone = patents["CN117000001A"]
    assert (drone["application_date"], drone["publication_date"]) == (dt.date(2023, 1, 5), dt.date(2023, 4, 7))
    assert drone["applicants"] == ["大疆创新科技有限公司", "深圳大学"]
    assert drone["ipc"] == ["G05D1/10", "G06N3/04"]
    bracket = patents["CN217000003U"]
    assert bracket["application_number"] == "CN202320000003.5"  # a numeric cell
    assert bracket["application_date"] == dt.date(2023, 3, 1)
    assert bracket["claims_count"] == 3 and bracket["source_position"] == 4  # row 3 was blank
    (bad,) = quarantine_rows(workspace)
    assert (bad["position"], bad["field"]) == (2, "application_date")
    assert "2023-02-30" in bad["reason"]


def test_a_png_named_csv_fails_alone_with_a_clear_error(tmp_path):
    fake = tmp_path / "patents.csv"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    workspace = Workspace(tmp_path / "ws")

    with pytest.raises(IngestError, match=r"patents\.csv: this is a PNG image"):
        ingest_patents(workspace, [fake], "run-1")
    assert not workspace.has("patents")

    report = ingest_patents(workspace, [fake, CNIPA], "run-2")
    failed, good = report.per_file
    assert failed.error is not None and "PNG image" in failed.error and failed.read == 0
    assert report.failed_files == 1
    assert good.written == 5 and report.records == 4


def test_an_xlsx_that_is_not_a_zip(tmp_path):
    fake = tmp_path / "export.xlsx"
    fake.write_text("公开号,申请号\nCN114123456A,CN202110123456.7\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"export\.xlsx: named or forced as XLSX but is not an XLSX workbook"):
        ingest_patents(Workspace(tmp_path / "ws"), [fake], "run-1")


def test_a_csv_without_patent_headers_is_rejected_naming_the_file(tmp_path):
    other = tmp_path / "customers.csv"
    other.write_text("客户,金额\n张三,100\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"customers\.csv: no header row naming publication_number"):
        ingest_patents(Workspace(tmp_path / "ws"), [other], "run-1")


def test_undecodable_text_is_rejected(tmp_path):
    bad = tmp_path / "latin.csv"
    bad.write_bytes("公开号\nCN114123456A\n".encode() + b"\xff\xfe\xfa\n")
    with pytest.raises(IngestError, match=r"latin\.csv: not a text export in a supported encoding"):
        ingest_patents(Workspace(tmp_path / "ws"), [bad], "run-1")


def test_a_folder_is_searched_for_exports(tmp_path):
    folder = tmp_path / "in" / "nested"
    folder.mkdir(parents=True)
    shutil.copy(CNIPA, folder / "a.csv")
    shutil.copy(INCOPAT, tmp_path / "in" / "b.csv")
    (tmp_path / "in" / "notes.md").write_text("not an export")

    report = ingest_patents(Workspace(tmp_path / "ws"), [tmp_path / "in"], "run-1")

    assert sorted(Path(c.path).name for c in report.per_file) == ["a.csv", "b.csv"]
    assert report.records == 6


def test_missing_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        ingest_patents(Workspace(tmp_path / "ws"), [tmp_path / "nowhere.csv"], "run-1")


def test_uspto_weekly_xml_documents(tmp_path):
    path = FIXTURES / "uspto_weekly.xml"
    workspace = Workspace(tmp_path / "ws")

    report = ingest_patents(workspace, [path], "run-1")

    (count,) = report.per_file
    assert (count.format, count.read, count.written, count.quarantined) == ("uspto-xml", 4, 2, 2)
    grant = patents_by_number(workspace)["US8888888B2"]
    assert grant["title"] == "Neural network training accelerator"
    assert grant["abstract"] == "An accelerator for training neural networks."
    assert (grant["application_number"], grant["application_date"]) == ("US13123456", dt.date(2012, 3, 15))
    assert (grant["ipc"], grant["cpc"]) == (["G06N3/08"], ["G06N3/084"])
    assert grant["applicants"] == ["Shenzhen Yuntu Intelligent Technology Co., Ltd."]
    assert grant["applicant_addresses"] == ["Shenzhen, CN"]
    assert grant["inventors"] == ["San Zhang"]
    assert grant["cited_publications"] == ["US7654321B1", "CN114123456A"]  # the literature citation has no number
    assert (grant["claims_count"], grant["patent_type"]) == (20, "invention")
    application = patents_by_number(workspace)["US20140000001A1"]
    assert application["applicants"] == ["Mary Lee"] and application["inventors"] == ["Mary Lee"]
    bad = [(r["position"], r["field"]) for r in quarantine_rows(workspace)]
    assert bad == [(2, "document"), (4, "application_date")]


def test_older_uspto_formats_are_named_and_refused(tmp_path):
    pre_2005 = tmp_path / "pap.xml"
    pre_2005.write_text('<?xml version="1.0"?>\n<patent-application-publication><subdoc-bibliographic-information/>'
                        "</patent-application-publication>\n", encoding="utf-8")
    greenbook = tmp_path / "grant.txt"
    greenbook.write_text("PATN\nWKU  039373754\nAPN  5184541\n", encoding="ascii")
    with pytest.raises(IngestError, match=r"pap\.xml: USPTO pre-grant publication XML v1\.x .* not supported"):
        ingest_patents(Workspace(tmp_path / "ws"), [pre_2005], "run-1")
    with pytest.raises(IngestError, match=r"grant\.txt: USPTO greenbook"):
        ingest_patents(Workspace(tmp_path / "ws"), [greenbook], "run-1")


def test_excel_unicode_text_utf16_tab_separated(tmp_path):
    with open(INCOPAT, encoding="gb18030", newline="") as handle:
        rows = list(csv.reader(handle))
    path = tmp_path / "incopat.txt"
    path.write_text("\r\n".join("\t".join(row) for row in rows) + "\r\n", encoding="utf-16")

    report = ingest_patents(Workspace(tmp_path / "ws"), [path], "run-1")

    (count,) = report.per_file
    assert (count.format, count.encoding, count.read, count.written) == ("csv", "utf-16", 3, 3)


CNIPA_HEADER = CNIPA.read_text(encoding="utf-8-sig").splitlines()[0].split(",")


def write_cnipa_csv(path: Path, rows: list[dict]) -> Path:
    """A CNIPA export (UTF-8 BOM) of `rows`: each names a number and optionally a title and legal status."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(CNIPA_HEADER)
        for row in rows:
            out.writerow(row.get("cells") or [
                row["number"], "", "2021-03-05", "2021-06-08", row.get("title", "一种图像识别方法"),
                row.get("abstract", "本发明公开了一种图像识别方法。" * 20), "深圳市云图智能科技有限公司", "张三", "",
                "G06N3/08", "G06N3/08", "", "10", row.get("status", ""), "发明申请"])
    return path


@pytest.fixture
def small_batches(monkeypatch):
    """CSV batches of a few rows, so a file of a hundred rows spans many batches and row groups."""
    from ingest import sources

    monkeypatch.setattr(sources, "_BLOCK_BYTES", 4096)
    monkeypatch.setattr(sources, "_BATCH_BYTES", 8192)


def scratch_left(workspace: Workspace) -> list[Path]:
    return [p for p in (workspace.root / "ingest").iterdir() if p.name != "ledger.json"]


def test_a_number_repeated_batches_later_in_one_file_merges_into_the_first_record(tmp_path, small_batches):
    rows = [{"number": f"CN1170{i:05d}A", "title": f"一种图像识别方法{i}"} for i in range(120)]
    rows.append({"number": "CN117000003A", "title": "另一个标题", "status": "有效"})  # fills the first one's gap
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [write_cnipa_csv(tmp_path / "export.csv", rows)], "run-1")

    assert (report.read, report.written, report.merged, report.records) == (121, 121, 1, 120)
    table = workspace.read("patents").to_pylist()
    assert len(table) == 120 and len({r["publication_number"] for r in table}) == 120
    merged = patents_by_number(workspace)["CN117000003A"]
    assert (merged["title"], merged["legal_status"], merged["source_position"]) == ("一种图像识别方法3", "有效", 4)
    others = [r["source_position"] for r in table if r["publication_number"] != "CN117000003A"]
    assert others == sorted(others), "records keep file order"
    assert scratch_left(workspace) == []


def test_one_file_alone_gives_the_records_it_gives_next_to_another_file(tmp_path, small_batches):
    export = write_cnipa_csv(tmp_path / "export.csv", [{"number": f"CN1170{i:05d}A"} for i in range(150)])
    other = write_cnipa_csv(tmp_path / "other.csv", [{"number": "CN119999999A"}])
    alone, beside = Workspace(tmp_path / "alone"), Workspace(tmp_path / "beside")
    ingest_patents(alone, [export], "run-1")  # written as it is read
    ingest_patents(beside, [export, other], "run-1")  # staged, then written by the merge pass

    from_export = [r for r in beside.read("patents").to_pylist() if r["publication_number"] != "CN119999999A"]
    assert alone.read("patents").to_pylist() == from_export
    assert len(from_export) == 150
    assert scratch_left(alone) == []


def test_a_table_write_failing_midway_leaves_no_table_and_no_scratch(tmp_path, small_batches, monkeypatch):
    import pyarrow.parquet as pq

    export = write_cnipa_csv(tmp_path / "export.csv", [{"number": f"CN1170{i:05d}A"} for i in range(150)])
    real_write, calls = pq.ParquetWriter.write_table, []

    def disk_full_on_third_block(self, table, *args, **kwargs):
        calls.append(table.num_rows)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", disk_full_on_third_block)
    workspace = Workspace(tmp_path / "ws")
    with pytest.raises(OSError, match=r"cannot write table 'patents'.*No space left on device"):
        ingest_patents(workspace, [export], "run-1")
    assert not workspace.has("patents")
    assert scratch_left(workspace) == []


def test_a_second_import_failing_midway_leaves_the_first_table_as_it_was(tmp_path, small_batches, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    workspace = Workspace(tmp_path / "ws")
    ingest_patents(workspace, [write_cnipa_csv(tmp_path / "a.csv", [{"number": f"CN1170{i:05d}A"}
                                                                     for i in range(50)])], "run-1")
    first = pq.read_table(workspace.table_path("patents"))
    # The second file repeats ten numbers, so its batches spill for the merge pass.
    second = write_cnipa_csv(tmp_path / "b.csv", [{"number": f"CN1170{i:05d}A"} for i in range(40, 190)])
    real_write, calls = pa.ipc.RecordBatchFileWriter.write_batch, []

    def disk_full_on_third_batch(self, batch, *args, **kwargs):
        calls.append(batch.num_rows)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(self, batch, *args, **kwargs)

    monkeypatch.setattr(pa.ipc.RecordBatchFileWriter, "write_batch", disk_full_on_third_batch)
    with pytest.raises(OSError, match=r"ingest stopped writing its scratch files.*No space left on device"):
        ingest_patents(workspace, [second], "run-2")
    assert pq.read_table(workspace.table_path("patents")).equals(first)
    assert scratch_left(workspace) == []


@pytest.mark.parametrize("checked", ["before parsing", "while parsing"])
def test_a_row_longer_than_a_parse_block_midway_keeps_every_row_once_at_its_position(tmp_path, small_batches,
                                                                                     monkeypatch, checked):
    # 4 KB parse blocks: the 160 KB row makes Arrow's reader stop twice; the file is read again with
    # larger blocks from the first row not yet handed on.
    if checked == "while parsing":  # 4 KB encoding windows: the reader checks all but the first as it reads
        from ingest import sources

        monkeypatch.setattr(sources, "_CHUNK", 512)
    rows = [{"number": f"CN1170{i:05d}A"} for i in range(60)]
    rows[20] = {"cells": ["CN119000001A", "too", "few"]}  # set aside by the reader
    rows[39] = {"cells": ["CN119000005A", "too", "few"]}  # just before the long row
    rows[40] = {"number": "CN119000002A", "abstract": "一种神经网络芯片。" * 6000}
    rows += [{"cells": ["CN119000003A", "too", "few"]}, {"number": "CN119000004A"}]
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [write_cnipa_csv(tmp_path / "export.csv", rows)], "run-1")

    expected = {row["number"]: position for position, row in enumerate(rows, start=1) if "number" in row}
    stored = {r["publication_number"]: r["source_position"] for r in workspace.read("patents").to_pylist()}
    assert stored == expected
    assert (report.read, report.quarantined, report.records) == (len(rows), 3, len(expected))
    assert [(r["position"], r["field"]) for r in quarantine_rows(workspace)] == [(21, "columns"), (40, "columns"),
                                                                                 (61, "columns")]
    assert patents_by_number(workspace)["CN119000002A"]["abstract"] == "一种神经网络芯片。" * 6000
