"""The streaming XLSX reader gives the rows openpyxl gives, for workbooks from openpyxl and hand-written XML."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from graph.workspace import Workspace
from ingest import IngestError, ingest_firms
from ingest.xlsx import XlsxWorkbook

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def openpyxl_rows(path: Path) -> dict[str, list[list]]:
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    out = {}
    for sheet in book.worksheets:
        sheet.reset_dimensions()
        out[sheet.title] = [list(row) for row in sheet.iter_rows(values_only=True)]
    book.close()
    return out


def streamed_rows(path: Path) -> dict[str, list[list]]:
    with open(path, "rb") as handle:
        book = XlsxWorkbook(handle)
        try:
            return {sheet.name: list(book.rows(sheet)) for sheet in book.sheets}
        finally:
            book.close()


def test_openpyxl_workbook_with_dates_numbers_formulas_and_gaps(tmp_path):
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "说明"
    notes.append(["本表由系统导出"])
    sheet = book.create_sheet("企业")
    sheet.append(["企业名称", "统一社会信用代码", "成立日期", "注册资本", "参保人数", "上市", "备注"])
    sheet.append(["深圳一号科技有限公司", "91440300MA5G7TUW5H", dt.datetime(2018, 5, 20), 1200.5, 35, True, "=SUM(A1:A2)"])
    sheet.append(["A & B <公司>", "91310115MA1K4PQR3K", dt.date(1999, 12, 31), 1e-7, -4, False, "  前后空格  "])
    sheet.append([])
    sheet.cell(row=6, column=5, value=12)  # a sparse row after a gap of one
    sheet.cell(row=7, column=2, value=dt.datetime(2020, 1, 2, 13, 45, 30))
    sheet.cell(row=7, column=3, value=dt.time(8, 30))
    sheet.cell(row=7, column=4, value=dt.timedelta(hours=30))
    sheet.cell(row=7, column=1, value="line one\nline two\r\nthree")
    sheet.cell(row=8, column=1, value="=HYPERLINK(\"x\")有限公司").data_type = "s"  # text that looks like a formula
    sheet.cell(row=8, column=2, value="@SUM(1)")
    path = tmp_path / "book.xlsx"
    book.save(path)

    expected = openpyxl_rows(path)
    assert streamed_rows(path) == expected
    assert expected["企业"][1][2] == dt.datetime(2018, 5, 20) and expected["企业"][1][6] is None  # a formula has no value
    assert expected["企业"][7][:2] == ['=HYPERLINK("x")有限公司', "@SUM(1)"]


def test_1904_date_system(tmp_path):
    book = openpyxl.Workbook()
    book.epoch = CALENDAR_MAC_1904
    book.active.append(["名称", "日期"])
    book.active.append(["甲", dt.datetime(2021, 3, 4)])
    path = tmp_path / "mac.xlsx"
    book.save(path)
    rows = streamed_rows(path)["Sheet"]
    assert rows == openpyxl_rows(path)["Sheet"] and rows[1][1] == dt.datetime(2021, 3, 4)


def write_workbook(path: Path, sheets: list[tuple[str, str]], shared: str = "", styles: str = "",
                   workbook_pr: str = "") -> Path:
    """A workbook from hand-written sheet XML, as other writers (and hand-edits) produce it."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", f"""<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
{"".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(1, len(sheets) + 1))}
<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>
<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
</Types>""")
        archive.writestr("_rels/.rels", """<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>""")
        entries = "".join(f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>' for i, (name, _) in enumerate(sheets, 1))
        archive.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" '
                                            f'xmlns:r="{RELS}">{workbook_pr}<sheets>{entries}</sheets></workbook>')
        rels = "".join(f'<Relationship Id="rId{i}" Type="{RELS}/worksheet" Target="/xl/worksheets/sheet{i}.xml"/>'
                       for i in range(1, len(sheets) + 1))
        n = len(sheets)
        rels += (f'<Relationship Id="rId{n + 1}" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
                 f'<Relationship Id="rId{n + 2}" Type="{RELS}/styles" Target="styles.xml"/>')
        archive.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships '
                         f'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>')
        for i, (_name, xml) in enumerate(sheets, 1):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", xml)
        archive.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">{shared}</sst>')
        archive.writestr("xl/styles.xml", f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{MAIN}">{styles}'
                                          '</styleSheet>')
    return path


STYLES = ('<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/>'
          '</numFmts><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="4"/>'
          '</cellXfs>')
SHARED = ('<si><t>名称</t></si><si><t xml:space="preserve"> 日期 </t></si>'
          '<si><r><t>富</t></r><r><rPr><b/></rPr><t>文本</t></r><rPh sb="0" eb="1"><t>ふ</t></rPh></si>'
          '<si><t>A_x005F_x000D_B &amp; C</t></si>')


def test_hand_written_sheet_xml_every_cell_type(tmp_path):
    sheet = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="{MAIN}" xmlns:r="{RELS}" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">
<dimension ref="A1:B2"/><sheetData>
<row r="2" spans="1:6" x14ac:dyDescent="0.25"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c><c r="F2" t="s"><v>2</v></c></row>
<row r="3"><c r="A3" s="1"><v>44197</v></c><c r="B3" s="2"><v>44197.5</v></c><c r="C3" s="3"><v>1234.5</v></c><c r="D3"><v>7</v></c><c r="E3"><v>1E3</v></c></row>
<row><c t="b"><v>1</v></c><c t="e"><v>#N/A</v></c><c t="str"><f>A1&amp;"x"</f><v>名称x</v></c><c><f>1/0</f></c><c t="inlineStr"><is><t>行内 &lt;b&gt; &#x4E2D;</t></is></c></row>
<row r="6"><c r="C6" t="s"><v>3</v></c><c r="A6" t="inlineStr"><is><r><t>甲</t></r><r><t>乙</t></r></is></c><c r="B6" t="inlineStr"/></row>
<row r="7"/>
<row r="8"><c r="A8" t="inlineStr"><is><t><![CDATA[<未转义>]]></t></is></c><!-- a comment --><c r="B8" t="d"><v>2021-03-04T05:06:07</v></c></row>
<row r="8"><c r="A8"><v>9</v></c></row>
<row r="9"><c r="A9" t="inlineStr"><is><t>a\r\nb</t></is></c><c r="B9" s="1"><v>99999999</v></c></row>
</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>"""
    path = write_workbook(tmp_path / "hand.xlsx", [("数据", sheet)], SHARED, STYLES)
    expected = openpyxl_rows(path)
    got = streamed_rows(path)
    assert got == expected
    rows = got["数据"]
    assert rows[0] == [] and rows[1][:2] == ["名称", " 日期 "] and rows[1][5] == "富文本"
    assert rows[2][:2] == [dt.datetime(2021, 1, 1), dt.datetime(2021, 1, 1, 12)] and rows[2][3:] == [7, 1000.0]
    assert rows[3] == [True, "#N/A", "名称x", None, "行内 <b> 中"]


def test_prefixed_namespace_and_no_row_numbers(tmp_path):
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="{MAIN}"><x:sheetData>'
             '<x:row><x:c t="inlineStr"><x:is><x:t>名称</x:t></x:is></x:c><x:c><x:v>3</x:v></x:c></x:row>'
             '<x:row><x:c r="C2" t="inlineStr"><x:is><x:t>丙</x:t></x:is></x:c></x:row>'
             '</x:sheetData></x:worksheet>')
    path = write_workbook(tmp_path / "prefixed.xlsx", [("S", sheet)], workbook_pr='<workbookPr date1904="1"/>')
    assert streamed_rows(path) == openpyxl_rows(path) == {"S": [["名称", 3], [None, None, "丙"]]}


def test_ingest_reads_the_first_sheet_with_a_header(tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["说明：示例"])
    firms = book.create_sheet("firms")
    firms.append(["企业名称", "统一社会信用代码", "成立日期"])
    firms.append(["深圳一号科技有限公司", "91440300MA5G7TUW5H", dt.datetime(2018, 5, 20)])
    firms.append([None, None, None])
    firms.append(["=1+1", "91310115MA1K4PQR3K", "2015-03-01"])  # a real formula: no value, quarantined
    book.create_sheet("other").append(["企业名称", "统一社会信用代码"])
    path = tmp_path / "registry.xlsx"
    book.save(path)
    workspace = Workspace(tmp_path / "ws")
    report = ingest_firms(workspace, [path], "run-1")
    (count,) = report.per_file
    assert (count.format, count.read, count.written, count.quarantined) == ("xlsx", 2, 1, 1)
    table = workspace.read_df("firms")
    assert table["established_date"].tolist() == [dt.date(2018, 5, 20)]
    assert workspace.read_df("quarantine")["position"].tolist() == [3]  # the blank row keeps its number


def test_strict_open_xml_falls_back_to_openpyxl_and_says_why(tmp_path):
    path = write_workbook(tmp_path / "strict.xlsx", [("S", f'<worksheet xmlns="{MAIN}"><sheetData/></worksheet>')])
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(MAIN.encode(), b"http://purl.oclc.org/ooxml/spreadsheetml/main")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    with pytest.warns(UserWarning, match="strict.xlsx: read with openpyxl.*Strict Open XML"), \
            pytest.raises(IngestError, match="strict.xlsx"):
        ingest_firms(Workspace(tmp_path / "ws"), [path], "run-1")


def test_a_cell_that_cannot_be_read_names_the_sheet_and_row(tmp_path):
    sheet = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>'
             '<row r="1"><c r="A1" t="inlineStr"><is><t>企业名称</t></is></c>'
             '<c r="B1" t="inlineStr"><is><t>统一社会信用代码</t></is></c></row>'
             '<row r="2"><c r="A2" t="s"><v>7</v></c><c r="B2"><v>91440300MA5G7TUW5H</v></c></row>'
             '</sheetData></worksheet>')
    path = write_workbook(tmp_path / "damaged.xlsx", [("企业", sheet)])
    with pytest.raises(IngestError, match=r"damaged.xlsx: sheet '企业', row 2: a cell cannot be read"):
        ingest_firms(Workspace(tmp_path / "ws"), [path], "run-1")
