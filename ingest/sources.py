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
import queue
import re
import shutil
import sys
import tempfile
import threading
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree
from pyarrow import csv as pa_csv

from ingest.headers import ColumnMap, header_key, map_headers
from ingest.normalize import clean

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # abstracts and claims can exceed the 128 KiB default

# Vendor CSV exports --format can name: read as CSV, but the header must carry the vendor's columns.
VENDOR_COLUMNS = {
    "google-patents": ("id", "result link"),
    "lens": ("lens id", "display key"),
    "patentsview": ("patent_id",),
    "ppubs": ("source", "patent number"),
}
FORMATS = ("csv", "tsv", "xlsx", "uspto-xml", *VENDOR_COLUMNS)
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


class EncodingChanged(Exception):
    """A table read as clean UTF-8 turned out not to be (past the first window): read it again as `encoding`.

    Raised before the table's last row is handed on, so the caller can drop what it staged.
    """

    def __init__(self, label: str, encoding: TextEncoding):
        super().__init__(f"{label}: not clean UTF-8 past its first window; read again as {encoding.name}")
        self.label, self.encoding = label, encoding


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
    joined_rows: int = 0  # rows of a PatentsView bulk table joined into g_patent's records (read and used)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, folders recursed (sorted) for supported files; a missing path raises.

    A folder holding g_patent.tsv is a PatentsView bulk set and stays one path: its tables are joined.
    """
    from ingest import patentsview

    out: list[Path] = []
    for path in map(Path, paths):
        if patentsview.is_bulk_folder(path):
            out.append(path)  # a PatentsView bulk set: its tables are read together
        elif path.is_dir():
            patentsview.check_no_orphan_tables(path)
            sets = sorted({p.parent for p in path.rglob("g_patent.tsv*") if patentsview.is_bulk_folder(p.parent)})
            found = sorted([*sets, *(p for p in path.rglob("*") if p.is_file() and _is_table_file(p)
                                     and not any(s in p.parents for s in sets))])
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
    required: tuple[tuple[str, ...], ...],
    fmt: str | None = None,
    xml_reader: Callable[[str, Callable[[], BinaryIO]], SourceTable] | None = None,
    encodings: dict[str, TextEncoding] | None = None,
) -> Iterator[SourceTable]:
    """Yield the tables in `path` (one, or one per member of a zip archive); consume each in turn.

    `encodings`: verdicts already known by table label (from an EncodingChanged), used instead of detecting.
    """
    if fmt is not None and fmt not in FORMATS:
        raise IngestError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if path.is_dir():
        from ingest import patentsview

        if fmt not in (None, "patentsview") or not patentsview.is_bulk_folder(path):
            raise IngestError(f"{path}: a folder is read as a PatentsView bulk set, which needs g_patent.tsv")
        yield from patentsview.read_folder(path)
        return
    reader = _TableReader(synonyms, required, fmt, xml_reader, encodings)
    yield from reader.open(str(path), lambda: open(path, "rb"), path.suffix.lower())


class _TableReader:
    def __init__(self, synonyms, required, fmt, xml_reader, encodings=None):
        self.synonyms = synonyms
        self.required = required
        self.fmt = fmt
        self.xml_reader = xml_reader
        self.encodings = encodings or {}

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
        if self.fmt in (None, "uspto-xml") and _looks_like_xml(opener):
            text_encoding = TextEncoding("utf-8")  # each XML document declares its own; a damaged one is quarantined alone
        elif label in self.encodings:
            text_encoding = self.encodings[label]
        else:  # the rest of a clean first window is checked while the rows are parsed
            text_encoding = detect_encoding(label, opener, head_only=True)
        encoding = text_encoding.name
        kind = _text_kind(label, opener, encoding, suffix) if self.fmt in (None, *VENDOR_COLUMNS) else self.fmt
        if kind == "uspto-xml" and not text_encoding.checked:  # only the CSV reader checks the rest as it reads
            text_encoding = detect_encoding(label, opener)
            encoding = text_encoding.name
        if self.fmt in VENDOR_COLUMNS:
            if kind == "uspto-xml":
                raise IngestError(f"{label}: given as a {self.fmt} export (CSV), but it is an XML document")
            kind = self.fmt
        fmt_label = f"{kind}+{wrapper}" if wrapper else kind
        if kind == "uspto-xml":
            if self.xml_reader is None:
                raise IngestError(f"{label}: an XML document; only patent ingest reads XML (USPTO full text)")
            table = self.xml_reader(label, opener)
            table.format, table.encoding = fmt_label, encoding
            yield table
            return
        yield self._csv_table(label, opener, text_encoding, fmt_label, "\t" if kind == "tsv" else None)

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
            from ingest import patentsview

            if self.fmt in (None, "patentsview") and patentsview.is_bulk_archive(names):
                yield from patentsview.read_archive(label, archive)
                return
            members = sorted(n for n in names if _is_table_file(Path(n)) and not n.startswith("__MACOSX/"))
            if not members:
                raise IngestError(f"{label}: the zip archive holds no CSV, XLSX or XML files")
            for member in members:
                member_label = f"{label}!{member}"

                def member_opener(member=member):
                    return archive.open(member)

                yield from self.open(member_label, member_opener, Path(member).suffix.lower(), "zip")

    def _csv_table(self, label, opener, text_encoding: TextEncoding, fmt_label, delimiter) -> SourceTable:
        encoding = text_encoding.name
        if delimiter is None:
            delimiter = _sniff_delimiter(opener, encoding)
        with io.TextIOWrapper(opener(), encoding=encoding, errors="replace", newline="") as text:
            header_index, header = self._find_header(label, csv.reader(text, delimiter=delimiter), with_index=True)
        if self.fmt in VENDOR_COLUMNS:
            present = {header_key(h) for h in header}
            missing = [c for c in VENDOR_COLUMNS[self.fmt] if header_key(c) not in present]
            if missing:
                raise IngestError(f"{label}: given as a {self.fmt} export, but its header has no"
                                  f" {', '.join(missing)} column (it reads: {', '.join(map(str, header[:10]))})")
        columns = map_headers(header, self.synonyms)
        return SourceTable(label, fmt_label, encoding, columns,
                           _csv_batches(label, opener, text_encoding, delimiter, header_index, header, columns))

    def _xlsx_table(self, label: str, handle: BinaryIO, fmt_label: str) -> SourceTable:
        """The first worksheet with a header row, read by the streaming reader (openpyxl if it cannot)."""
        from ingest.xlsx import XlsxCellError, XlsxUnsupported, XlsxWorkbook

        def rows_of(sheet) -> Iterator[list]:
            try:
                yield from book.rows(sheet)
            except XlsxCellError as exc:
                raise IngestError(f"{label}: {exc}") from None

        try:
            book = XlsxWorkbook(handle)
        except XlsxUnsupported as exc:
            warnings.warn(f"{label}: read with openpyxl, slowly: the streaming reader does not support {exc}",
                          stacklevel=2)
            handle.seek(0)
            return self._openpyxl_table(label, handle, fmt_label)
        except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError, ValueError) as exc:
            raise IngestError(f"{label}: not a readable XLSX workbook ({exc})") from None
        return self._first_headed_sheet(label, fmt_label, book, (rows_of(sheet) for sheet in book.sheets))

    def _openpyxl_table(self, label: str, handle: BinaryIO, fmt_label: str) -> SourceTable:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise IngestError(f"{label}: not a readable XLSX workbook ({exc})") from None

        def sheets() -> Iterator[Iterator[list]]:
            for sheet in book.worksheets:
                sheet.reset_dimensions()  # some writers record a wrong sheet size; read what is there
                yield (list(row) for row in sheet.iter_rows(values_only=True))

        return self._first_headed_sheet(label, fmt_label, book, sheets())

    def _first_headed_sheet(self, label: str, fmt_label: str, book, sheets: Iterator[Iterator[list]]) -> SourceTable:
        """The first sheet with a header row; its rows after the header are read lazily (the book closes after)."""
        for rows_iter in sheets:
            try:
                header = self._find_header(label, rows_iter)
            except IngestError:
                continue
            columns = map_headers(header, self.synonyms)
            return SourceTable(label, fmt_label, None, columns, self._xlsx_rows(book, rows_iter, columns, len(header)))
        book.close()
        raise self._no_sheet_header(label)

    def _no_sheet_header(self, label: str) -> IngestError:
        wanted = ", ".join(self.synonyms[alternatives[0]][0] for alternatives in self.required)
        return IngestError(f"{label}: no sheet has a header row naming {wanted} in its first {_HEADER_SEARCH_ROWS} rows")

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

    def _find_header(self, label: str, rows: Iterator[list], with_index: bool = False):
        """The first row (of the first 20) that names every required field; exports may put titles above it."""
        seen = []
        try:
            for index, row in enumerate(rows):
                mapped = map_headers(row, self.synonyms)
                if all(any(mapped.has(f) for f in alternatives) for alternatives in self.required):
                    return (index, row) if with_index else row
                if any(clean(c) is not None for c in row):
                    seen.append(row)
                if index + 1 >= _HEADER_SEARCH_ROWS:
                    break
        except csv.Error as exc:
            raise IngestError(f"{label}: the first rows cannot be parsed as CSV ({exc})") from None
        wanted = " and ".join(f"{alternatives[0]} (e.g. {self.synonyms[alternatives[0]][0]})"
                              for alternatives in self.required)
        first = ", ".join(str(c) for c in seen[0][:12]) if seen else "nothing"
        raise IngestError(f"{label}: no header row naming {wanted} in the first {_HEADER_SEARCH_ROWS} rows;"
                          f" the first row reads: {first}")


@dataclass
class SourceBatch:
    """A block of CSV data rows as Arrow text columns (`c0`, `c1` … in file order), with positions."""

    positions: np.ndarray  # 1-based data-row position of each row
    cells: pa.RecordBatch

    def __len__(self) -> int:
        return self.cells.num_rows

    def fields(self, columns: ColumnMap) -> dict[str, list[pa.Array]]:
        """Each canonical field's columns, best first."""
        return {field: [self.cells.column(i) for i in indices] for field, indices in columns.columns.items()}

    def rows(self, columns: ColumnMap) -> Iterator[SourceRow]:
        """The batch row by row, for the builders that take one row at a time."""
        for position, cells in zip(self.positions.tolist(), _row_lists(self.cells), strict=True):
            yield SourceRow(position, _pick(columns, cells), cells)

    def raw(self, index: int) -> str:
        return self.raws([index])[0]

    def raws(self, indices: list[int]) -> list[str]:
        """The rows at `indices` as the quarantine shows them, taken from the batch together (cell by cell
        cost 2–3× the CPU time)."""
        if not indices:
            return []
        picked = [column.to_pylist() for column in self.cells.take(pa.array(indices, pa.int64())).columns]
        return [SourceRow(0, None, list(cells)).raw() for cells in zip(*picked, strict=True)]


_BLOCK_BYTES = 1 << 20  # Arrow's parse block: larger ones make its reader hold several times more memory
_MAX_BLOCK_BYTES = 256 << 20  # a longer row fails the file
_BATCH_BYTES = 8 << 20  # blocks are joined up to about this (13k rows of a CNIPA export), so per-batch costs vanish


def _csv_batches(label: str, opener: Callable[[], BinaryIO], text_encoding: TextEncoding, delimiter: str,
                 header_index: int, header: list, columns: ColumnMap) -> Iterator[SourceRow | SourceBatch]:
    """Data rows in Arrow blocks; rows with the wrong number of columns or damaged bytes come singly, as problems.

    Arrow's reader numbers every row it could not split into the header's columns; the rows of
    a block are the positions left between those, so positions stay exact without a row loop.
    A file with damaged bytes (and every GB18030 file) is read through `_Transcoder`, which marks them.
    Blocks are parsed one batch ahead in a thread, so parsing overlaps the normalisation of the batch before.
    A file whose first window only was checked is read through `_CheckedStream`; if the rest is not
    clean UTF-8, EncodingChanged (or IngestError) is raised before the last row is handed on.
    """
    width = len(header)
    names = [f"c{i}" for i in range(width)]
    odd_rows: list[tuple[int, str]] = []
    encoding = text_encoding.name

    def odd_row(row) -> str:
        odd_rows.append((row.number - header_index - 1, row.text))
        return "skip"

    marked = text_encoding.damaged or encoding == "gb18030"
    arrow_encoding = "utf8" if marked or encoding in ("utf-8", "utf-8-sig") else encoding
    next_position = 1
    pending_odd: set[int] = set()
    cut_short = threading.Event()  # set by `_CheckedStream`: the file is not what its first window said

    def judged_in_full() -> EncodingChanged:
        return EncodingChanged(label, detect_encoding(label, opener))  # or IngestError: not text at all

    with contextlib.ExitStack() as stack:

        def open_reader(block_size: int):
            if marked:
                handle = _Transcoder(label, opener, encoding)
            else:
                handle = stack.enter_context(opener())
                if not text_encoding.checked:
                    handle = _CheckedStream(handle, cut_short)
            return pa_csv.open_csv(
                handle,
                read_options=pa_csv.ReadOptions(use_threads=False, block_size=block_size, skip_rows=header_index + 1,
                                                column_names=names, encoding=arrow_encoding),
                parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                                  ignore_empty_lines=False, invalid_row_handler=odd_row),
                # check_utf8 off: detect_encoding or _CheckedStream validates every byte, or the text was transcoded
                convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), check_utf8=False,
                                                      strings_can_be_null=False, quoted_strings_can_be_null=False),
            )

        try:
            for block, odd in _read_ahead(open_reader, odd_rows):
                if cut_short.is_set():
                    raise judged_in_full()
                if block is None:  # rows after the last block
                    for position, text in odd:
                        row = _odd_row(position, text, delimiter, width, columns, encoding)
                        if row is not None:
                            yield row
                    break
                pending_odd.update(p for p, _ in odd)
                positions, next_position = _block_positions(next_position, block.num_rows, pending_odd)
                for position, text in odd:
                    row = _odd_row(position, text, delimiter, width, columns, encoding)
                    if row is not None:
                        yield row
                blank = _blank_rows(block)
                if blank is not None:
                    block, positions = block.filter(pc.invert(blank)), positions[~blank.to_numpy(zero_copy_only=False)]
                if marked:
                    damaged = _marked_rows(block)
                    if damaged is not None:
                        for index in np.flatnonzero(damaged):
                            cells = [column[int(index)].as_py() for column in block.columns]
                            yield SourceRow(int(positions[index]), None, unmarked(cells),
                                            marked_problem(cells, encoding), "encoding")
                        block, positions = block.filter(pa.array(~damaged)), positions[~damaged]
                if block.num_rows:
                    yield SourceBatch(positions, block)
        except pa.ArrowInvalid as exc:  # the stream cut short by _CheckedStream may end inside a quoted cell
            if cut_short.is_set():
                raise judged_in_full() from None
            raise IngestError(f"{label}: cannot be parsed as CSV after data row {next_position - 1} ({exc})") from None
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            raise IngestError(f"{label}: damaged data after data row {next_position - 1} ({exc})") from None


def _read_ahead(open_reader: Callable[[int], Iterator[pa.RecordBatch]],
                odd_rows: list) -> Iterator[tuple[pa.RecordBatch | None, list]]:
    """The blocks of `open_reader(block size)` joined into batches of about `_BATCH_BYTES`, each with
    the rows Arrow set aside up to it, parsed one batch ahead in a thread.

    Arrow releases the GIL while it parses, so the next batch is parsed while this one is normalised.
    A row longer than a block stops Arrow's reader: the file is then read again with blocks 16 times
    larger, from the row after those already handed on. Ends with (None, rows set aside after the
    last batch); the reader's errors are raised here.
    """
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    handed_rows = 0  # good rows handed on so far
    handed_odd: set[int] = set()  # positions of set-aside rows handed on so far

    def hand_on(blocks: list[pa.RecordBatch], odd: list[tuple[int, str]]) -> bool:
        nonlocal handed_rows
        handed_rows += sum(b.num_rows for b in blocks)
        handed_odd.update(position for position, _ in odd)
        return put((pa.concat_batches(blocks), sorted(odd)))

    def read(block_size: int) -> bool:
        """Hand on the batches of a reader from the first row not handed on yet; False when stopped."""
        skip = handed_rows
        blocks: list[pa.RecordBatch] = []
        odd: list[tuple[int, str]] = []  # rows set aside up to the last block read
        size = 0  # bytes of `blocks`, summed as they come (`nbytes` walks every buffer of a block)
        for block in open_reader(block_size):
            if skip:  # read before, by a reader with smaller blocks
                block, skip = block.slice(min(skip, block.num_rows)), max(0, skip - block.num_rows)
            blocks.append(block)
            size += block.nbytes
            odd += [row for row in odd_rows if row[0] not in handed_odd]
            odd_rows.clear()
            if size >= _BATCH_BYTES:
                if not hand_on(blocks, odd):
                    return False
                blocks, odd, size = [], [], 0
        if any(b.num_rows for b in blocks):
            return hand_on(blocks, odd)
        odd_rows[:0] = odd  # set aside after the last good row: they go out at the end
        return True

    def parse() -> None:
        block_size = _BLOCK_BYTES
        try:
            while True:
                try:
                    if not read(block_size):
                        return
                    break
                except pa.ArrowInvalid as exc:
                    if "straddl" not in str(exc) or block_size >= _MAX_BLOCK_BYTES:
                        raise
                    block_size *= 16
                    odd_rows.clear()
            put((None, sorted(row for row in odd_rows if row[0] not in handed_odd)))
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)

    worker = threading.Thread(target=parse, name="csv-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, BaseException):
                raise item
            yield item
            if item[0] is None:
                return
    finally:
        stop.set()
        worker.join()


def _marked_rows(block: pa.RecordBatch) -> np.ndarray | None:
    """Rows holding a damaged-byte mark, or None."""
    damaged = None
    for column in block.columns:
        data = column.buffers()[2]
        if data is None or _MARK.encode() not in data.to_pybytes():
            continue
        hit = pc.fill_null(pc.match_substring(column, _MARK), False).to_numpy(zero_copy_only=False)
        damaged = hit if damaged is None else damaged | hit
    return damaged if damaged is not None and damaged.any() else None


def _block_positions(start: int, count: int, odd: set[int]) -> tuple[np.ndarray, int]:
    """Positions of `count` good rows from `start` on, skipping rows that came out singly.

    Arrow may parse a block ahead (when it transcodes), so `odd` can hold later positions too:
    they stay until the rows reach them.
    """
    ahead = sorted(p for p in odd if p >= start)
    positions = np.arange(start, start + count + len(ahead), dtype=np.int64)
    if ahead:
        positions = positions[~np.isin(positions, ahead)]
    positions = positions[:count]
    end = int(positions[-1]) + 1 if count else start
    while end in odd:  # odd rows right after the block's last good row
        end += 1
    odd.difference_update([p for p in ahead if p < end])
    return positions, end


def _odd_row(position: int, text: str, delimiter: str, width: int, columns: ColumnMap,
             encoding: str) -> SourceRow | None:
    cells = next(csv.reader([text], delimiter=delimiter), [])
    if not any(c.strip() for c in cells):
        return None  # a blank line keeps its number but is not a record
    problem = marked_problem(cells, encoding)
    if problem is not None:
        return SourceRow(position, None, unmarked(cells), problem, "encoding")
    if len(cells) > width and not any(c.strip() for c in cells[width:]):
        cells = cells[:width]  # trailing empty cells some exporters add
    if len(cells) != width:
        return SourceRow(position, None, cells, f"has {len(cells)} columns, the header has {width}", "columns")
    return SourceRow(position, _pick(columns, cells), cells)


def _blank_rows(block: pa.RecordBatch) -> pa.Array | None:
    """Rows whose cells are all empty or whitespace, or None when there are none.

    `utf8_is_space` (every character whitespace) stops at a cell's first other character and knows
    the same whitespace as `utf8_trim_whitespace`, which cleans the cells later (tested).
    """
    blank = None
    for column in block.columns:
        cell_blank = pc.or_(pc.equal(pc.binary_length(column), 0), pc.utf8_is_space(column))
        blank = cell_blank if blank is None else pc.and_(blank, cell_blank)
        if not pc.any(blank).as_py():
            return None
    return blank


def _row_lists(cells: pa.RecordBatch) -> list[list]:
    columns = [column.to_pylist() for column in cells.columns]
    return [list(row) for row in zip(*columns, strict=True)]


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


def _looks_like_xml(opener: Callable[[], BinaryIO]) -> bool:
    with opener() as handle:
        head = handle.read(256)
    return head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<?xml")


@dataclass(frozen=True)
class TextEncoding:
    """How a text export is encoded, and whether some of its bytes are not (those rows are quarantined)."""

    name: str  # utf-8, utf-8-sig, utf-16 or gb18030
    damaged: bool = False  # undecodable bytes or NUL bytes past the first 8 KB
    checked: bool = True  # False: only the first window was; the reader checks the rest (`_CheckedStream`)


_BINARY_HEAD = 8192  # a NUL this early means a binary file; later, one damaged row
_TOLERATED_BYTES = 4096  # at most one undecodable spot per this many bytes before the file is not text at all


def detect_encoding(label: str, opener: Callable[[], BinaryIO], head_only: bool = False) -> TextEncoding:
    """A BOM decides; otherwise UTF-8, checked over the whole file (Arrow's validation, 8 MB at a time).

    Where UTF-8 fails, the first failing chunk decides between UTF-8 with a few damaged rows and
    GB18030: whichever leaves fewer undecodable spots there, UTF-8 on a tie. When even the better
    one leaves more than one spot per 4 KB, the file is not text in a supported encoding.

    `head_only`: when the first window is clean UTF-8 and more follows, stop there (`checked=False`),
    so parsing need not wait for a pass over the whole file: the CSV reader checks the rest as it
    reads, and on a failure this function, run in full, gives the verdict.
    """
    with opener() as handle:
        head = handle.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        problem = _decode_problem(label, opener, "utf-16")
        if problem:
            raise IngestError(f"{label}: not a text export in a supported encoding; not utf-16: {problem}")
        return TextEncoding("utf-16")
    name = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    damaged = False
    for offset, window, end in _line_windows(label, opener):
        if head_only and offset and not damaged:
            return TextEncoding(name, checked=False)
        nul = window.find(b"\x00", 0, end)
        if nul >= 0 and offset + nul < _BINARY_HEAD:
            raise IngestError(f"{label}: not a text export in a supported encoding; binary data (NUL byte at offset"
                              f" {offset + nul})")
        if _valid_utf8(window, end):
            damaged = damaged or nul >= 0
            continue
        chunk = bytes(window[:end])  # the rare chunk that is not UTF-8 is examined as bytes
        tolerated = max(1, len(chunk) // _TOLERATED_BYTES)
        spots = {encoding: _undecodable(chunk, encoding, tolerated) for encoding in ("utf-8", "gb18030")}
        best = min(spots, key=lambda e: len(spots[e]))  # utf-8 first: it wins a tie
        if len(spots[best]) > tolerated:
            reasons = "; ".join(f"not {e}: undecodable bytes at offset {offset + spots[e][0]}" for e in spots)
            raise IngestError(f"{label}: not a text export in a supported encoding; {reasons}")
        if best == "gb18030" and name == "utf-8":
            return TextEncoding("gb18030", damaged=True)  # transcoded by us; damaged rows are found on the way
        damaged = True
    return TextEncoding(name, damaged)


def _line_chunks(label: str, opener: Callable[[], BinaryIO]) -> Iterator[tuple[int, bytes]]:
    """The stream in about 8 MB pieces cut after a newline (never inside a UTF-8 or GB18030 character)."""
    offset, rest = 0, b""
    with opener() as handle:
        while True:
            data = _read_chunk(label, handle, offset + len(rest), 8 * _CHUNK)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) < 64 * _CHUNK:  # no line end yet
                rest = data
                continue
            cut = cut or len(data)
            yield offset, data[:cut]
            offset, rest = offset + cut, data[cut:]
    if rest:
        yield offset, rest


def _line_windows(label: str, opener: Callable[[], BinaryIO]) -> Iterator[tuple[int, bytearray, int]]:
    """`_line_chunks` without a new object per chunk: (offset, buffer, end), the chunk being buffer[:end].

    The same cuts as `_line_chunks` (so the same verdicts on damaged files), read into one reused
    buffer: fresh 8 MB objects and the copies that cut them cost more than validating the bytes. The
    buffer is overwritten by the next step.
    """
    window, offset, filled = bytearray(), 0, 0
    with opener() as handle:
        while True:
            wanted = filled + 8 * _CHUNK
            if len(window) < wanted:
                window.extend(bytes(wanted - len(window)))
            with memoryview(window) as view:
                got = _read_into(label, handle, view[filled:wanted], offset + filled)
            if not got:
                break
            filled += got
            cut = window.rfind(b"\n", 0, filled) + 1
            if cut == 0 and filled < 64 * _CHUNK:  # no line end yet
                continue
            cut = cut or filled
            yield offset, window, cut
            window[:filled - cut] = window[cut:filled]
            offset, filled = offset + cut, filled - cut
    if filled:
        yield offset, window, filled


def _read_into(label: str, handle: BinaryIO, view: memoryview, offset: int) -> int:
    """Fill `view` from the stream as far as it goes (as `read(n)` would); the bytes read."""
    got = 0
    try:
        while got < len(view) and (step := handle.readinto(view[got:])):
            got += step
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt gzip/zip stream
        raise IngestError(f"{label}: damaged compressed data near offset {offset + got} ({exc})") from None
    return got


def _valid_utf8(data: bytearray, end: int) -> bool:
    """Whether data[:end] is UTF-8 (Arrow's validation, with no copy of the bytes)."""
    with memoryview(data) as view:
        text = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(np.array([0, end], np.int32)),
                                                      pa.py_buffer(view[:end])])
        try:
            text.validate(full=True)
            return True
        except pa.ArrowInvalid:
            return False
        finally:
            del text  # gives the bytes back, so the buffer can grow


class _CheckedStream(io.RawIOBase):
    """A binary stream that hands on only checked bytes: UTF-8 without NUL bytes (the CSV reader's
    input when `detect_encoding` checked only the first window). At the first failure it sets
    `damaged` and ends the stream early: the reader then stops, and the file is judged in full and
    read again. A character cut by a read is held back and handed on whole with the next read, so
    the reader never sees part of one.
    """

    def __init__(self, handle: BinaryIO, damaged: threading.Event):
        self.handle, self.damaged = handle, damaged
        self.carry = b""  # the start of a character cut by the last read

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> memoryview | bytes:
        if self.damaged.is_set():
            return b""
        if size < 0:
            return b"".join(iter(lambda: self.read(_CHUNK), b""))
        buffer = bytearray(len(self.carry) + max(size, 4))  # 4: a whole character always fits
        buffer[:len(self.carry)] = self.carry
        view, filled = memoryview(buffer), len(self.carry)
        while filled < len(buffer) and (got := self.handle.readinto(view[filled:])):  # errors: as the handle's
            filled += got
        end = _complete_end(buffer, filled)
        if (filled < len(buffer) and end < filled) or buffer.find(b"\x00", 0, filled) >= 0 \
                or not _valid_utf8(buffer, end):  # ends inside a character, a NUL byte, or not UTF-8
            self.damaged.set()
            return b""
        self.carry = bytes(buffer[end:filled])
        return view[:end]


def _complete_end(data: bytearray, size: int) -> int:
    """Where the last whole UTF-8 character of data[:size] ends."""
    last = size - 1
    while last >= max(0, size - 3) and data[last] & 0xC0 == 0x80:
        last -= 1
    if last < 0:
        return 0
    lead = data[last]
    length = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    return size if size - last >= length else last


# Each undecodable byte sequence and NUL byte becomes `\uffff<offset>:<hex bytes>\uffff` in the text
# Arrow parses (U+FFFF is a noncharacter no export contains), so the row that holds it is found
# and quarantined with the byte's offset in the file; the other rows are read as usual.
_MARK = "\uffff"
_MARKS = re.compile("\uffff(\\d+):([0-9a-f]+)\uffff")


class _Spots(threading.local):
    """Where the decoder met undecodable bytes: the `patentgraph-spots` error handler notes them here."""

    def __init__(self) -> None:
        self.found: list[tuple[int, bytes]] = []
        self.limit = 0
        self.base = 0  # the chunk's offset in the stream, for marks


class _TooMany(Exception):
    pass


_spots = _Spots()


def _note_spot(exc: UnicodeDecodeError) -> tuple[str, int]:
    damaged = exc.object[exc.start:exc.end]
    _spots.found.append((exc.start, damaged))
    if _spots.limit and len(_spots.found) > _spots.limit:
        raise _TooMany
    return f"{_MARK}{_spots.base + exc.start}:{damaged.hex()}{_MARK}", exc.end


codecs.register_error("patentgraph-spots", _note_spot)


def _undecodable(chunk: bytes, encoding: str, limit: int) -> list[int]:
    """Offsets in `chunk` of its undecodable byte sequences, at most `limit` + 1 of them."""
    _spots.found, _spots.limit, _spots.base = [], limit, 0
    try:
        chunk.decode(encoding, errors="patentgraph-spots")
    except _TooMany:
        pass
    return [start for start, _damaged in _spots.found]


def _decode_problem(label: str, opener: Callable[[], BinaryIO], encoding: str) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with opener() as handle:
        while chunk := _read_chunk(label, handle, offset):
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




class _Transcoder(io.RawIOBase):
    """A text stream re-encoded as UTF-8, undecodable bytes and NUL bytes replaced by marks."""

    def __init__(self, label: str, opener: Callable[[], BinaryIO], encoding: str):
        self.chunks = _line_chunks(label, opener)
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            item = next(self.chunks, None)
            if item is None:
                return 0
            self.pending = memoryview(self._transcode(*item))
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size

    def _transcode(self, offset: int, chunk: bytes) -> bytes:
        if offset == 0 and chunk.startswith(codecs.BOM_UTF8) and self.encoding == "utf-8":
            chunk, offset = chunk[3:], 3
        _spots.found, _spots.limit, _spots.base = [], 0, offset
        text = chunk.decode(self.encoding, errors="patentgraph-spots")
        if "\x00" in text:
            text = _mark_nul(text, offset, chunk)
        return text.encode("utf-8")


def _mark_nul(text: str, offset: int, chunk: bytes) -> str:
    """NUL bytes marked with their offset (found in the raw chunk: text offsets differ from byte offsets)."""
    nul_offsets = iter(m.start() + offset for m in re.finditer(b"\x00", chunk))
    return re.sub("\x00", lambda _m: f"{_MARK}{next(nul_offsets)}:00{_MARK}", text)


def marked_problem(cells: list, encoding: str) -> str | None:
    """Why a row with marks cannot be read, naming the first damaged byte's offset; None without marks."""
    for cell in cells:
        match = _MARKS.search(cell) if isinstance(cell, str) and _MARK in cell else None
        if match:
            offset, hex_bytes = match.groups()
            more = sum(len(_MARKS.findall(c)) for c in cells if isinstance(c, str)) - 1
            what = "a NUL byte" if hex_bytes == "00" else f"bytes {hex_bytes} that are not {encoding}"
            return f"{what} at byte offset {offset}" + (f" (and {more} more damaged spots in the row)" if more else "")
    return None


def unmarked(cells: list) -> list:
    """The cells with marks shown as U+FFFD, for the quarantine."""
    return [_MARKS.sub("\ufffd", c) if isinstance(c, str) else c for c in cells]


def _read_chunk(label: str, handle: BinaryIO, offset: int, size: int = _CHUNK) -> bytes:
    try:
        return handle.read(size)
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or corrupt gzip/zip stream
        raise IngestError(f"{label}: damaged compressed data near offset {offset} ({exc})") from None
