"""A streaming XLSX reader: each sheet's rows as lists of cell values, as openpyxl's read-only mode gives them.

openpyxl builds a dict and a cell object per cell and reads about 600 rows a second; this
reader walks the sheet XML with lxml's iterparse and keeps nothing but the current row, so a
registry of 300k firms reads in seconds. Values are those openpyxl yields with `data_only=True`
(a formula's cached result, dates by the cell style's number format, 1900/1904 date systems,
ints and floats as openpyxl casts them), so both readers give the same output tables.
Anything this reader does not know (Strict OOXML, a workbook without relationships) raises
`XlsxUnsupported`; the caller then reads the file with openpyxl.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import BinaryIO

from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, from_excel, from_ISO8601

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_STRICT_MAIN = "http://purl.oclc.org/ooxml/spreadsheetml/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_ROW, _CELL = f"{{{_MAIN}}}row", f"{{{_MAIN}}}c"
_VALUE, _FORMULA, _INLINE = f"{{{_MAIN}}}v", f"{{{_MAIN}}}f", f"{{{_MAIN}}}is"
_TEXT, _RUN = f"{{{_MAIN}}}t", f"{{{_MAIN}}}r"
_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "huge_tree": True}
_READ_BYTES = 4 << 20
_ROOT = re.compile(r"<(\w+:)?worksheet\b[^>]*>")
_ENCODING = re.compile(rb"""<\?xml[^>]*encoding=["']([\w\-]+)""")
_ROW_TEXT = re.compile(r"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_ROW_NUMBER = re.compile(r"""(?:^|\s)r=["']([^"']*)""")
# A cell as Excel, openpyxl and xlsxwriter write it: r, s, t in this order; a value or an inline string.
_USUAL_CELL = re.compile(r'<c r="([A-Z]+)\d+"(?: s="(\d+)")?(?: t="(\w+)")?(?:/>|>(?:<v>([^<]*)</v>|'
                         r'<is><t[^>]*>([^<]+)</t></is>|)</c>)')
_UNUSUAL = ("<![CDATA[", "<!--", "<?", "<rPh")  # rows holding these are parsed by lxml


class XlsxUnsupported(Exception):
    """The workbook uses something this reader does not handle; the message says what."""


class XlsxCellError(ValueError):
    """A cell whose value cannot be read (a number that is not one, a shared string that does not exist)."""


@dataclass(frozen=True)
class Sheet:
    name: str
    part: str  # the sheet's XML file in the archive


class XlsxWorkbook:
    """An open workbook: its worksheets in workbook order, and their rows on demand."""

    def __init__(self, handle: BinaryIO):
        self.archive = zipfile.ZipFile(handle)
        try:
            self._read_parts()
        except BaseException:
            self.archive.close()
            raise

    def _read_parts(self) -> None:
        names = set(self.archive.namelist())
        workbook = _parse(self.archive.read("xl/workbook.xml"))
        if workbook.tag.startswith(f"{{{_STRICT_MAIN}}}"):
            raise XlsxUnsupported("Strict Open XML spreadsheet")
        if workbook.tag != f"{{{_MAIN}}}workbook":
            raise XlsxUnsupported(f"workbook root <{workbook.tag}>")
        if "xl/_rels/workbook.xml.rels" not in names:
            raise XlsxUnsupported("the workbook has no relationships part")
        targets: dict[str, tuple[str, str]] = {}
        for rel in _parse(self.archive.read("xl/_rels/workbook.xml.rels")).iter(f"{{{_PACKAGE_RELS}}}Relationship"):
            target = rel.get("Target", "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
            targets[rel.get("Id", "")] = (rel.get("Type", ""), part)
        properties = workbook.find(f"{{{_MAIN}}}workbookPr")
        date1904 = properties is not None and properties.get("date1904", "").lower() in ("1", "true")
        self.epoch = CALENDAR_MAC_1904 if date1904 else WINDOWS_EPOCH
        self.sheets: list[Sheet] = []
        for sheet in workbook.iter(f"{{{_MAIN}}}sheet"):
            rel_type, part = targets.get(sheet.get(f"{{{_REL_NS}}}id") or "", ("", ""))
            if rel_type.endswith("/worksheet") and part in names:  # chartsheets and dangling entries hold no rows
                self.sheets.append(Sheet(sheet.get("name", ""), part))
        parts_of = {rel_type.rsplit("/", 1)[-1]: part for rel_type, part in targets.values()}
        strings_part, styles_part = parts_of.get("sharedStrings"), parts_of.get("styles")
        self.shared_strings = self._shared_strings(strings_part) if strings_part in names else []
        self.date_styles, self.timedelta_styles = self._date_styles(styles_part) if styles_part in names else (set(), set())

    def close(self) -> None:
        self.archive.close()

    def _shared_strings(self, part: str) -> list[str]:
        """Each <si>'s text: its <t>, or its runs' <t> joined (phonetic guides left out), as openpyxl reads it."""
        strings = []
        with self.archive.open(part) as source:
            for _event, item in etree.iterparse(source, tag=f"{{{_MAIN}}}si", **_PARSER_OPTIONS):
                strings.append(_string_item(item).replace("x005F_", ""))
                _drop(item)
        return strings

    def _date_styles(self, part: str) -> tuple[set[int], set[int]]:
        """Indices of the cell styles (cellXfs) whose number format shows a date, and a duration."""
        styles = _parse(self.archive.read(part))
        custom = {int(f.get("numFmtId")): f.get("formatCode", "")
                  for f in styles.iterfind(f"{{{_MAIN}}}numFmts/{{{_MAIN}}}numFmt")}
        dates, durations = set(), set()
        for index, xf in enumerate(styles.iterfind(f"{{{_MAIN}}}cellXfs/{{{_MAIN}}}xf")):
            number_format = int(xf.get("numFmtId", 0))
            code = custom.get(number_format, BUILTIN_FORMATS.get(number_format))
            if code is None:
                continue
            if is_date_format(code):
                dates.add(index)
            if is_timedelta_format(code):
                durations.add(index)
        return dates, durations

    def rows(self, sheet: Sheet) -> Iterator[list]:
        """Every row from row 1 to the last, missing rows as [], each as long as its last cell's column."""
        next_row = 1
        row_number = 0
        for numbered, cells in self._numbered_rows(sheet):
            row_number = _row_number(numbered) if numbered else row_number + 1
            if row_number < next_row:  # a row number going back: openpyxl skips the row
                continue
            while next_row < row_number:
                next_row += 1
                yield []
            next_row += 1
            try:
                values = cells()
            except (ValueError, IndexError) as exc:
                raise XlsxCellError(f"sheet {sheet.name!r}, row {row_number}: a cell cannot be read ({exc})") from None
            yield values

    def _numbered_rows(self, sheet: Sheet) -> Iterator[tuple[str | None, Callable[[], list]]]:
        """(`r` attribute, cells) of each <row>; rows in the usual writers' form are cut out with regular
        expressions (lxml's element objects cost more than the rest of the reading), any other row is
        parsed by lxml on its own, wrapped in the sheet's root element for its namespace declarations."""
        with self.archive.open(sheet.part) as source:
            head = source.read(_READ_BYTES)
            root = _ROOT.search(head[:4096].decode("utf-8", errors="replace"))
            encoding = _ENCODING.search(head[:200])
            if root is None or root.group(1) or (encoding and encoding.group(1).lower() not in (b"utf-8", b"utf8")):
                yield from self._element_rows(head, source)  # a prefixed main namespace or another encoding
                return
            wrapper = root.group(0)
            pending = head
            while pending:
                data = source.read(_READ_BYTES)
                cut = pending.rfind(b"</row>") + len(b"</row>") if data else len(pending)
                if data and cut < len(b"</row>"):  # no complete row yet
                    pending += data
                    continue
                text = pending[:cut].decode("utf-8")
                pending = pending[cut:] + data
                maybe_unusual = any(mark in text for mark in _UNUSUAL)  # the prolog has `<?`: then look per row
                for attributes, content in _ROW_TEXT.findall(text):
                    numbered = _ROW_NUMBER.search(attributes)
                    unusual = maybe_unusual and any(mark in content for mark in _UNUSUAL)
                    cells = None if unusual else _USUAL_CELL.findall(content)
                    if cells is not None and len(cells) == content.count("<c"):
                        yield (numbered.group(1) if numbered else None), partial(self._usual_cells, cells)
                    else:
                        row = f"{wrapper}<sheetData><row{attributes}>{content}</row></sheetData></worksheet>"
                        element = _parse(row.encode()).find(f"{{{_MAIN}}}sheetData/{{{_MAIN}}}row")
                        yield element.get("r"), partial(self._cells, element)

    def _element_rows(self, head: bytes, source: BinaryIO) -> Iterator[tuple[str | None, Callable[[], list]]]:
        for _event, row in etree.iterparse(_Prepended(head, source), tag=_ROW, **_PARSER_OPTIONS):
            cells = self._cells(row)
            yield row.get("r"), lambda cells=cells: cells
            _drop(row)

    def _usual_cells(self, cells: list[tuple[str, ...]]) -> list:
        if not cells:
            return []
        columns = _COLUMNS
        width = columns.get(cells[-1][0]) or _column(cells[-1][0])
        values: list = [None] * width
        for letters, style, kind, text, inline in cells:
            index = columns.get(letters) or _column(letters)
            if index > width:
                continue
            if kind == "inlineStr":
                value = _xml_text(inline) if inline else None  # no <is>: openpyxl reads nothing
            elif not text:
                continue
            elif not kind or kind == "n":
                number = float(text) if ("." in text or "E" in text or "e" in text) else int(text)
                value = self._number(number, int(style) if style else 0)
            else:
                value = self._typed(kind, _xml_text(text))
            values[index - 1] = value
        return values

    def _cells(self, row) -> list:
        placed: list[tuple[int, object]] = []
        column = 0
        for cell in row.iterchildren(_CELL):
            reference = cell.get("r")
            column = _column(reference) if reference else column + 1
            placed.append((column, self._value(cell)))
        if not placed:
            return []
        width = placed[-1][0]
        values: list = [None] * width
        for index, value in placed:
            if 1 <= index <= width:
                values[index - 1] = value
        return values

    def _value(self, cell) -> object:
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            inline = cell.find(_INLINE)
            return _string_item(inline) if inline is not None else None
        text = cell.findtext(_VALUE) or None
        if text is None:
            return None
        if kind == "n":
            number = float(text) if ("." in text or "E" in text or "e" in text) else int(text)
            return self._number(number, int(cell.get("s") or 0))
        return self._typed(kind, text)

    def _number(self, number: int | float, style: int) -> object:
        if style not in self.date_styles:
            return number
        try:
            return from_excel(number, self.epoch, timedelta=style in self.timedelta_styles)
        except (OverflowError, ValueError):
            return "#VALUE!"  # a date serial out of range: openpyxl's error value

    def _typed(self, kind: str, text: str) -> object:
        if kind == "s":
            return self.shared_strings[int(text)]
        if kind == "b":
            return bool(int(text))
        if kind == "d":
            return from_ISO8601(text)
        return text  # "str" (a formula's text result) and "e" (an error such as #N/A)


def _string_item(item) -> str:
    plain = item.find(_TEXT)
    parts = [plain.text or ""] if plain is not None else []
    parts += [run.findtext(_TEXT) or "" for run in item.iterchildren(_RUN)]
    return "".join(parts)


def _row_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        number = float(text)
        if not number.is_integer():
            raise XlsxUnsupported(f"row number {text!r}") from None
        return int(number)


def _column(reference: str) -> int:
    letters = reference.rstrip("0123456789")
    return column_index_from_string(letters)


_COLUMNS = {letters: column_index_from_string(letters)  # A … ZZ, looked up instead of computed per cell
            for letters in (f"{a}{b}".strip() for a in " ABCDEFGHIJKLMNOPQRSTUVWXYZ" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")}


def _xml_text(text: str) -> str:
    """Character data as an XML parser gives it: line ends folded to \\n, entity and character references replaced."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in text:
        text = _REFERENCE.sub(_dereference, text)
    return text


_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_REFERENCE = re.compile(r"&(#x[0-9A-Fa-f]+|#\d+|lt|gt|amp|quot|apos);")


def _dereference(match: re.Match) -> str:
    name = match.group(1)
    if name.startswith("#x"):
        return chr(int(name[2:], 16))
    if name.startswith("#"):
        return chr(int(name[1:]))
    return _ENTITIES[name]


class _Prepended(io.RawIOBase):
    """A stream with bytes already read put back in front, for lxml's iterparse."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head = head
        self.rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data, self.head = self.head, b""
            return data
        return self.rest.read(size)


def _drop(element) -> None:
    """Free a parsed element and the siblings before it, so memory holds one row at a time."""
    element.clear()
    while element.getprevious() is not None:
        del element.getparent()[0]


def _parse(data: bytes):
    return etree.fromstring(data, etree.XMLParser(**_PARSER_OPTIONS))
