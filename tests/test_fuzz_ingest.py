"""Bad input to ingest: arbitrary bytes, damaged exports, wrong encodings, enormous fields, hostile XML.

Every outcome must be one of two: an IngestError naming the file, or a report in which every
file's rows add up (read = written + quarantined) and the table holds what was written.
Never another exception, never a silent loss.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from graph.workspace import Workspace
from ingest import IngestError, generate, ingest_firms, ingest_patents
from ingest.normalize import uscc_check_char

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RUN = "20250101T000000Z-fuzz-000000"
PATENT_HEADER = ["公开（公告）号", "申请号", "申请日", "发明名称", "摘要", "申请（专利权）人", "主分类号"]
FIRM_HEADER = ["企业名称", "统一社会信用代码", "登记状态", "所属省份", "所属城市"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("fuzz-input"), n_patents=200, n_firms=60, seed=3)


def outcome(ingest, path: Path, fmt: str | None = None):
    """Ingest `path` into a fresh workspace; return the report, or the IngestError (checked to name the file)."""
    with tempfile.TemporaryDirectory() as root:
        workspace = Workspace(root)
        try:
            report = ingest(workspace, [path], RUN, fmt)
        except IngestError as exc:
            assert path.name in str(exc), f"error does not name the file: {exc}"
            return exc
        assert_accounted(report, workspace)
        return report


def assert_accounted(report, workspace: Workspace) -> None:
    for count in report.per_file:
        assert count.read == count.written + count.quarantined, count
    assert report.read == report.written + report.quarantined
    if report.written:
        table = workspace.read(report.table)
        # merged rows fold into an earlier record with the same key; nothing else may vanish
        assert table.num_rows == report.written - report.merged == report.records
    if report.quarantined:
        stage_rows = workspace.read_df("quarantine")
        assert len(stage_rows) == report.quarantined


def csv_bytes(header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def credit_code(n: int) -> str:
    first17 = f"91440300MA5F{n:05d}"
    return first17 + uscc_check_char(first17)


def patent_row(number: int, applicants: str = "深圳云芯智能科技有限公司", abstract: str = "一种芯片") -> list[str]:
    return [f"CN1{number:08d}A", f"CN2020{number:07d}.X", "2020-01-15", "一种神经网络芯片", abstract, applicants,
            "G06N3/063"]


# ---------------------------------------------------------------- arbitrary bytes


@FUZZ
@given(content=st.binary(max_size=4096), suffix=st.sampled_from([".csv", ".tsv", ".xlsx", ".xml", ".txt", ".gz", ".zip"]))
def test_arbitrary_bytes_are_refused_naming_the_file_or_accounted_for(content, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export{suffix}"
        path.write_bytes(content)
        outcome(ingest_patents, path)
        outcome(ingest_firms, path)


@FUZZ
@given(rows=st.lists(st.lists(st.text(max_size=40), min_size=0, max_size=9), max_size=30),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
def test_arbitrary_rows_under_a_real_header_are_written_or_quarantined(rows, encoding):
    content = csv_bytes(PATENT_HEADER, rows, encoding)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.csv"
        path.write_bytes(content)
        result = outcome(ingest_patents, path)
    if not isinstance(result, IngestError):
        assert result.read == sum(1 for row in rows if any(cell.strip() for cell in row))


@FUZZ
@given(data=st.data())
def test_generated_exports_with_random_bytes_flipped(generated, data):
    source = data.draw(st.sampled_from([*generated.patent_files, *generated.firm_files]))
    content = bytearray(source.read_bytes())
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(content) - 1), st.integers(0, 255)), min_size=1,
                               max_size=8))
    for offset, value in flips:
        content[offset] = value
    ingest = ingest_patents if source in generated.patent_files else ingest_firms
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / source.name
        path.write_bytes(bytes(content))
        outcome(ingest, path)


# ---------------------------------------------------------------- truncated files


@FUZZ
@given(data=st.data())
def test_truncated_exports_fail_clearly_or_account_for_every_row(generated, data):
    source = data.draw(st.sampled_from([*generated.patent_files, *generated.firm_files]))
    content = source.read_bytes()
    cut = data.draw(st.integers(0, len(content) - 1))
    wrap = data.draw(st.sampled_from(["", ".gz", ".zip"]))
    ingest = ingest_patents if source in generated.patent_files else ingest_firms
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (source.name + wrap)
        if wrap == ".gz":
            packed = gzip.compress(content)
            path.write_bytes(packed[: max(10, len(packed) * cut // len(content))])
        elif wrap == ".zip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(source.name, content)
            packed = buffer.getvalue()
            path.write_bytes(packed[: max(4, len(packed) * cut // len(content))])
        else:
            path.write_bytes(content[:cut])
        outcome(ingest, path)


def test_a_csv_cut_mid_row_keeps_every_complete_row(tmp_path):
    content = csv_bytes(PATENT_HEADER, [patent_row(n) for n in range(50)])
    cut = content.rindex(b"\n", 0, len(content) - 5) + 20  # 20 bytes into the last row
    path = tmp_path / "cut.csv"
    path.write_bytes(content[:cut])
    report = outcome(ingest_patents, path)
    assert report.read == 50 and report.written + report.quarantined == 50
    assert report.written >= 49


# ---------------------------------------------------------------- encodings


def test_a_gb18030_export_is_read_as_gb18030(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(csv_bytes(PATENT_HEADER, [patent_row(n) for n in range(5)], "gb18030"))
    report = outcome(ingest_patents, path)
    assert report.per_file[0].encoding == "gb18030" and report.written == 5


def test_mixed_utf8_and_gb18030_lines_are_one_clear_error_or_read_whole(tmp_path):
    # Concatenated exports: a UTF-8 half and a GB18030 half. Neither decoding is right for the whole
    # file, so either it fails naming the file, or every row is accounted for.
    utf8 = csv_bytes(PATENT_HEADER, [patent_row(n) for n in range(5)], "utf-8")
    gbk = csv_bytes(PATENT_HEADER, [patent_row(n) for n in range(5, 10)], "gb18030").split(b"\n", 1)[1]
    path = tmp_path / "mixed.csv"
    path.write_bytes(utf8 + gbk)
    result = outcome(ingest_patents, path)
    if not isinstance(result, IngestError):
        assert result.read == 10


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_forcing_a_text_format_on_a_gb18030_file_still_decodes_it(tmp_path, fmt):
    path = tmp_path / "gbk.txt"
    delimiter = "\t" if fmt == "tsv" else ","
    text = "\n".join(delimiter.join(row) for row in [PATENT_HEADER, *(patent_row(n) for n in range(3))])
    path.write_bytes(text.encode("gb18030"))
    report = outcome(ingest_patents, path, fmt)
    assert report.written == 3


def test_utf16_without_a_bom_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "utf16le.csv"
    path.write_bytes(csv_bytes(PATENT_HEADER, [patent_row(1)], "utf-16-le"))
    assert isinstance(outcome(ingest_patents, path), IngestError)


# ---------------------------------------------------------------- enormous fields


def test_a_5_mb_abstract_and_a_1_mb_applicant_name(tmp_path):
    abstract = "一种神经网络芯片的训练方法。" * (5 * 2**20 // 42)
    giant_name = "深圳" + "超" * (2**20 // 3) + "科技有限公司"
    path = tmp_path / "huge.csv"
    path.write_bytes(csv_bytes(PATENT_HEADER, [patent_row(1, abstract=abstract), patent_row(2, applicants=giant_name),
                                               patent_row(3)]))
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [path], RUN)
    assert_accounted(report, workspace)
    stored = workspace.read_df("patents").set_index("publication_number")
    assert report.written == 3
    assert stored.loc["CN100000001A", "abstract"] == abstract
    assert stored.loc["CN100000002A", "applicants"].tolist() == [giant_name]


CROWD = 100_000


@pytest.fixture(scope="module")
def crowded_workspace(tmp_path_factory) -> Workspace:
    """One patent filed by 100k applicants (and an ordinary one), plus a registry naming one of them."""
    folder = tmp_path_factory.mktemp("crowd")
    applicants = ";".join(f"深圳第{n}号科技有限公司" for n in range(CROWD))
    patents = folder / "crowd.csv"
    patents.write_bytes(csv_bytes(PATENT_HEADER, [patent_row(1, applicants=applicants), patent_row(2)]))
    registry = folder / "registry.csv"
    registry.write_bytes(csv_bytes(FIRM_HEADER, [["深圳第7号科技有限公司", credit_code(7), "存续", "广东省", "深圳市"]]))
    workspace = Workspace(folder / "ws")
    ingest_patents(workspace, [patents], RUN)
    ingest_firms(workspace, [registry], RUN)
    return workspace


def test_100k_applicants_on_one_patent_are_ingested(crowded_workspace):
    stored = crowded_workspace.read_df("patents").set_index("publication_number")
    assert len(stored) == 2
    assert len(stored.loc["CN100000001A", "applicants"]) == CROWD


@pytest.mark.slow
def test_100k_applicants_on_one_patent_can_be_matched(crowded_workspace):
    # In a child process under a 4 GB address-space limit: a quadratic blow-up (10^10 pairs) must not take the run with it.
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))"  # peak RSS is ~0.85 GB
    result = subprocess.run([sys.executable, "-c", f"{limit}; from graph.cli import app; app()", "--workspace",
                             str(crowded_workspace.root), "match"], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PATENTGRAPH_NO_PROGRESS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    filings = crowded_workspace.read_df("filings")
    assert (filings["publication_number"] == "CN100000001A").sum() == CROWD


# ---------------------------------------------------------------- hostile XML

USPTO_DOC = """<?xml version="1.0" encoding="UTF-8"?>
{doctype}<us-patent-grant lang="EN" file="US10000001-20180619.XML">
<us-bibliographic-data-grant>
<publication-reference><document-id><country>US</country><doc-number>{number}</doc-number><kind>B2</kind>
<date>20180619</date></document-id></publication-reference>
<application-reference appl-type="utility"><document-id><country>US</country><doc-number>15000001</doc-number>
<date>20160101</date></document-id></application-reference>
<invention-title>{title}</invention-title>
<assignees><assignee><addressbook><orgname>Acme Robotics Inc.</orgname></addressbook></assignee></assignees>
</us-bibliographic-data-grant>
<abstract><p>{abstract}</p></abstract>
</us-patent-grant>
"""
LAUGHS = """<!DOCTYPE us-patent-grant [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
EXTERNAL = """<!DOCTYPE us-patent-grant [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
"""


def xml_document(number: str, title: str = "Robot arm", abstract: str = "An arm.", doctype: str = "") -> str:
    return USPTO_DOC.format(number=number, title=title, abstract=abstract, doctype=doctype)


def test_billion_laughs_is_not_expanded(tmp_path):
    path = tmp_path / "laughs.xml"
    path.write_text(xml_document("10000001", title="&lol9;", doctype=LAUGHS) + xml_document("10000002"))
    report = outcome(ingest_patents, path)
    assert report.read == 2
    assert all(len(t or "") < 1000 for t in _titles(path))


def test_external_entities_are_not_resolved(tmp_path):
    path = tmp_path / "xxe.xml"
    path.write_text(xml_document("10000001", title="&secret;", doctype=EXTERNAL) + xml_document("10000002"))
    outcome(ingest_patents, path)
    assert all("root:" not in (t or "") for t in _titles(path))


def test_10k_deep_nesting_is_quarantined_or_read_without_a_crash(tmp_path):
    deep = "<i>" * 10_000 + "x" + "</i>" * 10_000
    path = tmp_path / "deep.xml"
    path.write_text(xml_document("10000001", abstract=deep) + xml_document("10000002"))
    report = outcome(ingest_patents, path)
    assert report.read == 2 and report.written >= 1


@FUZZ
@given(noise=st.text(max_size=200).filter(lambda text: "<?xml" not in text), at=st.integers(0, 900))
def test_damaged_xml_documents_are_quarantined_one_by_one(noise, at):
    good = xml_document("10000003")
    damaged = xml_document("10000001")
    # inside the document: documents are split at lines that open with an XML declaration
    at = max(damaged.index("\n") + 1, min(at, damaged.rindex("</us-patent-grant>")))
    damaged = damaged[:at] + noise + damaged[at:]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weekly.xml"
        path.write_text(good + damaged + xml_document("10000002"), encoding="utf-8")
        result = outcome(ingest_patents, path)
    if not isinstance(result, IngestError):
        assert result.written >= 2  # the intact documents get through whatever happened to their neighbour


def _titles(path: Path) -> list[str | None]:
    with tempfile.TemporaryDirectory() as root:
        workspace = Workspace(root)
        ingest_patents(workspace, [path], RUN)
        return workspace.read_df("patents")["title"].tolist()


# ---------------------------------------------------------------- formula-looking cells

FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", "=HYPERLINK(\"http://x\",\"y\")"]


def _registry_workbook(path: Path, rows: list[list[str]], names_as_text: bool) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(FIRM_HEADER)
    for row in rows:
        sheet.append(row)  # openpyxl stores a string starting with '=' as a formula
        if names_as_text:
            sheet.cell(row=sheet.max_row, column=1).data_type = "s"
    book.save(path)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_formula_looking_cells_are_stored_as_the_text_given(tmp_path, kind):
    rows = [[f"{formula}有限公司", credit_code(n), "存续", "广东省", "深圳市"] for n, formula in enumerate(FORMULAS)]
    path = tmp_path / f"registry.{kind}"
    if kind == "csv":
        path.write_bytes(csv_bytes(FIRM_HEADER, rows))
    else:
        _registry_workbook(path, rows, names_as_text=True)
    workspace = Workspace(tmp_path / "ws")
    report = ingest_firms(workspace, [path], RUN)
    assert_accounted(report, workspace)
    assert sorted(workspace.read_df("firms")["name"]) == sorted(row[0] for row in rows)


def test_real_formula_cells_in_xlsx_are_never_evaluated_and_their_rows_are_quarantined(tmp_path):
    rows = [[f"{formula}有限公司", credit_code(n), "存续", "广东省", "深圳市"] for n, formula in enumerate(FORMULAS)]
    path = tmp_path / "registry.xlsx"
    _registry_workbook(path, rows, names_as_text=False)
    workspace = Workspace(tmp_path / "ws")
    report = ingest_firms(workspace, [path], RUN)
    assert_accounted(report, workspace)
    formulas = [row for row in rows if row[0].startswith("=")]
    assert report.quarantined == len(formulas)  # a formula has no value to read: its row is set aside, named
    quarantine = workspace.read_df("quarantine")
    assert set(quarantine["field"]) == {"name"} and all("企业名称" in reason for reason in quarantine["reason"])
    assert all(any(row[1] in raw for raw in quarantine["raw"]) for row in formulas)
    assert sorted(workspace.read_df("firms")["name"]) == sorted(row[0] for row in rows if row not in formulas)
