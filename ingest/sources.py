"""Opening export files: what a file really is, its encoding, its header, and its rows, streamed.

A file's kind is decided by its first bytes, not its name: gzip and zip are opened
transparently, an XLSX is a zip holding `xl/workbook.xml`, anything else must be text in
UTF-8 (with or without BOM), UTF-16 (BOM) or GB18030. A file that is none of these raises
IngestError naming the file. Rows are yielded one at a time with their 1-based data-row
position (the header row is row 0; blank rows keep their number but are not records).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gzip
import io
import shutil
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingest.headers import ColumnMap, map_headers
from ingest.normalize import clean

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # abstracts and claims can exceed the 128 KiB default

FORMATS = ("csv", "tsv", "xlsx", "uspto-xml")
TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".gz", ".zip", ".xml"}
_HEADER_SEARCH_ROWS = 20
_CHUNK = 1 << 20
_NOT_EXPORTS = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "a legacy Excel .xls / OLE file (save it as .xlsx or CSV)"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
)


class IngestError(ValueError):
    """An input file cannot be read at all; the message names the file and why."""


@dataclass
class SourceRow:
    """One data row: canonical field → raw cell value, or a problem that rejects the whole row."""

    position: int
    values: dict[str, object] | None
    cells: list  # the row as read, for the quarantine
    problem: str | None = None
    problem_field: str = "row"

    def raw(self) -> str:
        if len(self.cells) == 1:
            return _cell_text(self.cells[0])
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow([_cell_text(c) for c in self.cells])
        return out.getvalue()


@dataclass
class SourceTable:
    label: str  # what records name as their source_file
    format: str
    encoding: str | None
    columns: ColumnMap
    rows: Iterator[SourceRow]


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, folders recursed (sorted) for supported files; a missing path raises."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _is_table_file(p))
            if not found:
                raise IngestError(f"{path}: folder holds no CSV, XLSX, XML, gzip or zip files")
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return out


def _is_table_file(path: Path) -> bool:
    return not path.name.startswith(".") and path.suffix.lower() in TABLE_SUFFIXES


def open_tables(
    path: Path,
    synonyms: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    fmt: str | None = None,
    xml_reader: Callable[[str, Callable[[], BinaryIO]], SourceTable] | None = None,
) -> Iterator[SourceTable]:
    """Yield the tables in `path` (one, or one per member of a zip archive); consume each in turn."""
    if fmt is not None and fmt not in FORMATS:
        raise IngestError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    reader = _TableReader(synonyms, required, fmt, xml_reader)
    yield from reader.open(str(path), lambda: open(path, "rb"), path.suffix.lower())


class _TableReader:
    def __init__(self, synonyms, required, fmt, xml_reader):
        self.synonyms = synonyms
        self.required = required
        self.fmt = fmt
        self.xml_reader = xml_reader

    def open(self, label: str, opener: Callable[[], BinaryIO], suffix: str, wrapper: str = "") -> Iterator[SourceTable]:
        with opener() as handle:
            head = handle.read(8)
        for magic, what in _NOT_EXPORTS:
            if head.startswith(magic):
                raise IngestError(f"{label}: this is {what}, not a patent or registry export")
        if head.startswith(b"\x1f\x8b"):
            inner_suffix = Path(label[:-3]).suffix.lower() if label.lower().endswith(".gz") else ""
            yield from self.open(label, lambda: _gunzip(opener), inner_suffix, "gzip")
            return
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            yield from self._open_zip(label, opener, wrapper)
            return
        if suffix in (".xlsx", ".xlsm") or self.fmt == "xlsx":
            raise IngestError(f"{label}: named or forced as XLSX but is not an XLSX workbook (not a zip archive)")
        encoding = detect_encoding(label, opener)
        kind = self.fmt or _text_kind(label, opener, encoding, suffix)
        fmt_label = f"{kind}+{wrapper}" if wrapper else kind
        if kind == "uspto-xml":
            if self.xml_reader is None:
                raise IngestError(f"{label}: an XML document; only patent ingest reads XML (USPTO full text)")
            table = self.xml_reader(label, opener)
            table.format, table.encoding = fmt_label, encoding
            yield table
            return
        yield self._csv_table(label, opener, encoding, fmt_label, "\t" if kind == "tsv" else None)

    def _open_zip(self, label: str, opener: Callable[[], BinaryIO], wrapper: str) -> Iterator[SourceTable]:
        with contextlib.ExitStack() as stack:
            handle = stack.enter_context(opener())
            if wrapper:  # inside gzip or another zip: zipfile needs to seek, so spool it to disk
                spool = stack.enter_context(tempfile.TemporaryFile())
                shutil.copyfileobj(handle, spool, _CHUNK)
                handle = spool
            try:
                archive = stack.enter_context(zipfile.ZipFile(handle))
                names = archive.namelist()
            except zipfile.BadZipFile as exc:
                raise IngestError(f"{label}: a damaged zip/XLSX file ({exc})") from None
            if "xl/workbook.xml" in names:
                handle.seek(0)
                yield self._xlsx_table(label, handle, "xlsx+" + wrapper if wrapper else "xlsx")
                return
            if any(name.startswith("word/") or name.startswith("ppt/") for name in names):
                raise IngestError(f"{label}: a Word/PowerPoint document, not a patent or registry export")
            members = sorted(n for n in names if _is_table_file(Path(n)) and not n.startswith("__MACOSX/"))
            if not members:
                raise IngestError(f"{label}: the zip archive holds no CSV, XLSX or XML files")
            for member in members:
                member_label = f"{label}!{member}"

                def member_opener(member=member):
                    return archive.open(member)

                yield from self.open(member_label, member_opener, Path(member).suffix.lower(), "zip")

    def _csv_table(self, label, opener, encoding, fmt_label, delimiter) -> SourceTable:
        stack = contextlib.ExitStack()
        if delimiter is None:
            delimiter = _sniff_delimiter(opener, encoding)
        text = stack.enter_context(io.TextIOWrapper(opener(), encoding=encoding, newline=""))
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = self._find_header(label, reader)
        except BaseException:
            stack.close()
            raise
        columns = map_headers(header, self.synonyms)

        def rows() -> Iterator[SourceRow]:
            with stack:
                position = 0
                width = len(header)
                try:
                    for cells in reader:
                        position += 1
                        if not any(c.strip() for c in cells):
                            continue
                        if len(cells) > width and not any(c.strip() for c in cells[width:]):
                            cells = cells[:width]
                        if len(cells) != width:
                            yield SourceRow(position, None, cells,
                                            f"has {len(cells)} columns, the header has {width}", "columns")
                            continue
                        yield SourceRow(position, _pick(columns, cells), cells)
                except csv.Error as exc:
                    raise IngestError(f"{label}: data row {position + 1}: cannot be parsed as CSV ({exc})") from None
                except (OSError, EOFError, zlib.error) as exc:
                    raise IngestError(f"{label}: damaged data after data row {position} ({exc})") from None

        return SourceTable(label, fmt_label, encoding, columns, rows())

    def _xlsx_table(self, label: str, handle: BinaryIO, fmt_label: str) -> SourceTable:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise IngestError(f"{label}: not a readable XLSX workbook ({exc})") from None
        for sheet in book.worksheets:
            sheet.reset_dimensions()  # some writers record a wrong sheet size; read what is there
            rows_iter = sheet.iter_rows(values_only=True)
            try:
                header = self._find_header(label, (list(r) for r in rows_iter))
            except IngestError:
                continue
            columns = map_headers(header, self.synonyms)
            return SourceTable(label, fmt_label, None, columns, self._xlsx_rows(book, rows_iter, columns, len(header)))
        book.close()
        wanted = ", ".join(self.synonyms[f][0] for f in self.required)
        raise IngestError(f"{label}: no sheet has a header row naming {wanted} in its first {_HEADER_SEARCH_ROWS} rows")

    def _xlsx_rows(self, book, rows_iter, columns: ColumnMap, width: int) -> Iterator[SourceRow]:
        try:
            for position, cells in enumerate(rows_iter, start=1):
                cells = list(cells[:width])
                if not any(clean(c) is not None for c in cells):
                    continue
                cells += [None] * (width - len(cells))
                yield SourceRow(position, _pick(columns, cells), cells)
        finally:
            book.close()

    def _find_header(self, label: str, rows: Iterator[list]) -> list:
        """The first row (of the first 20) that names every required field; exports may put titles above it."""
        seen = []
        for index, row in enumerate(rows):
            mapped = map_headers(row, self.synonyms)
            if all(mapped.has(field) for field in self.required):
                return row
            if any(clean(c) is not None for c in row):
                seen.append(row)
            if index + 1 >= _HEADER_SEARCH_ROWS:
                break
        wanted = " and ".join(f"{f} (e.g. {self.synonyms[f][0]})" for f in self.required)
        first = ", ".join(str(c) for c in seen[0][:12]) if seen else "nothing"
        raise IngestError(f"{label}: no header row naming {wanted} in the first {_HEADER_SEARCH_ROWS} rows;"
                          f" the first row reads: {first}")


def _pick(columns: ColumnMap, cells: list) -> dict[str, object]:
    """Each field's value: the first non-empty cell among its columns, in synonym order."""
    values: dict[str, object] = {}
    for field, indices in columns.columns.items():
        if len(indices) == 1:  # the usual case; the builders treat an empty cell as missing
            values[field] = cells[indices[0]]
            continue
        for index in indices:
            if clean(cells[index]) is not None:
                values[field] = cells[index]
                break
    return values


def _cell_text(cell: object) -> str:
    if cell is None:
        return ""
    if isinstance(cell, dt.datetime):
        return cell.isoformat(sep=" ")
    return str(cell)


def _sniff_delimiter(opener: Callable[[], BinaryIO], encoding: str) -> str:
    """Tab or comma, whichever the first line has more of (Excel's "Unicode text" is tab-separated)."""
    with opener() as handle:
        head = handle.read(64 * 1024)
    line = head.decode(encoding, errors="ignore").split("\n", 1)[0]
    return "\t" if line.count("\t") > line.count(",") else ","


def _gunzip(opener: Callable[[], BinaryIO]) -> gzip.GzipFile:
    raw = opener()
    unpacked = gzip.GzipFile(fileobj=raw, mode="rb")
    unpacked.myfileobj = raw  # so closing the gzip stream closes the file under it too
    return unpacked


def _text_kind(label: str, opener: Callable[[], BinaryIO], encoding: str, suffix: str) -> str:
    with opener() as handle:
        head = handle.read(4096)
    text = head.decode(encoding, errors="ignore").lstrip("\ufeff \r\n\t")
    if text.startswith("<"):
        return "uspto-xml"
    if text.startswith(("PATN", "HHHHHT")):
        raise IngestError(f"{label}: USPTO greenbook (APS) text, 1976-2001, is not supported")
    return "tsv" if suffix == ".tsv" else "csv"


def detect_encoding(label: str, opener: Callable[[], BinaryIO]) -> str:
    """`utf-8-sig`, `utf-16`, `utf-8` or `gb18030`: strict UTF-8 is tried over the whole file first."""
    with opener() as handle:
        head = handle.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    elif head.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    failure = ""
    for encoding in candidates:
        problem = _decode_problem(label, opener, encoding)
        if problem is None:
            return encoding
        failure += f"; not {encoding}: {problem}"
    raise IngestError(f"{label}: not a text export in a supported encoding{failure}")


def _decode_problem(label: str, opener: Callable[[], BinaryIO], encoding: str) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with opener() as handle:
        while chunk := _read_chunk(label, handle, offset):
            nul = chunk.find(b"\x00") if encoding != "utf-16" else -1
            if nul >= 0:
                return f"binary data (NUL byte at offset {offset + nul})"
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return f"undecodable bytes at offset {offset + exc.start}"
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "the file ends inside a character"
    return None


def _read_chunk(label: str, handle: BinaryIO, offset: int) -> bytes:
    try:
        return handle.read(_CHUNK)
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt gzip/zip stream
        raise IngestError(f"{label}: damaged compressed data near offset {offset} ({exc})") from None
