"""PatentsView bulk download: g_patent plus its one-row-per-(patent, thing) tables, joined on patent_id.

A bulk set is a folder (or zip archive) holding `g_patent.tsv` or `g_patent.tsv.zip`; the other
tables it reads when present are listed in `SIDE_TABLES`. The real g_patent has 8M rows and the
citation table 150M, so nothing is joined in Python dicts: every table is read in Arrow blocks and
its rows are spread by a hash of patent_id over scratch files, so one partition of every table
fits in memory at a time. Each partition is then sorted by (patent_id, sequence) with Arrow and
each patent's values are joined into one `patents` record, built by the same columnar builder
as a CSV export.

Every row of every table is used or quarantined: a g_patent row whose id, number, date or claim
count cannot be read, or that PatentsView marks withdrawn, is quarantined with the field and the
reason; a side row whose patent is not in g_patent (or was quarantined) is quarantined naming the
patent_id, as is a side row whose own value cannot be read (an IPC code, a cited number, a date).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.workspace import remove_stale
from ingest import columnar
from ingest import normalize as nz
from ingest.headers import ColumnMap
from ingest.sources import IngestError, SourceBatch, SourceRow, SourceTable, _TableReader, detect_encoding

MAIN_TABLE = "g_patent"


@dataclass(frozen=True)
class _Table:
    columns: tuple[str, ...]  # besides patent_id; the first ones listed must be present
    required: int = 0  # how many of `columns` the header must have
    sequence: str | None = None  # the column giving each row's place within its patent


TABLES = {
    MAIN_TABLE: _Table(("patent_date", "patent_title", "wipo_kind", "patent_type", "num_claims", "withdrawn",
                        "patent_abstract")),
    "g_patent_abstract": _Table(("patent_abstract",), 1),
    "g_application": _Table(("application_id", "filing_date"), 1),
    "g_assignee_disambiguated": _Table((
        "assignee_sequence", "disambig_assignee_organization", "disambig_assignee_individual_name_first",
        "disambig_assignee_individual_name_last", "location_id"), 2, "assignee_sequence"),
    "g_inventor_disambiguated": _Table((
        "inventor_sequence", "disambig_inventor_name_first", "disambig_inventor_name_last"), 3, "inventor_sequence"),
    "g_cpc_current": _Table(("cpc_sequence", "cpc_group"), 2, "cpc_sequence"),
    "g_ipc_at_issue": _Table(("ipc_sequence", "section", "ipc_class", "subclass", "main_group", "subgroup"), 6,
                             "ipc_sequence"),
    "g_us_patent_citation": _Table(("citation_sequence", "citation_patent_id", "wipo_kind"), 2, "citation_sequence"),
}
SIDE_TABLES = tuple(name for name in TABLES if name != MAIN_TABLE)
LOCATIONS = "g_location_disambiguated"  # location_id → city, state, country of an assignee
_LOCATION_COLUMNS = ("location_id", "disambig_city", "disambig_state", "disambig_country")
_PARTITION_BYTES = 64 << 20  # input bytes per partition: one partition of every table is in memory at once
_BLOCK_ROWS = 65536
_NULL = pa.scalar(None, pa.string())


def table_name(file_name: str) -> str | None:
    """`g_patent.tsv`, `g_patent.tsv.zip` → `g_patent`; None for any other file."""
    stem = file_name.lower().removesuffix(".zip").removesuffix(".tsv")
    if file_name.lower().removesuffix(".zip").endswith(".tsv") and (stem in TABLES or stem == LOCATIONS):
        return stem
    return None


def is_bulk_folder(path: Path) -> bool:
    return path.is_dir() and any((path / f"{MAIN_TABLE}{suffix}").is_file() for suffix in (".tsv", ".tsv.zip"))


def check_no_orphan_tables(folder: Path) -> None:
    """Bulk tables in a folder without g_patent cannot be joined: say so rather than read each as an export."""
    for table_folder in sorted({p.parent for p in folder.rglob("g_*.tsv*") if table_name(p.name)}):
        if not is_bulk_folder(table_folder):
            names = sorted(p.name for p in table_folder.iterdir() if table_name(p.name))
            raise IngestError(f"{table_folder}: holds PatentsView bulk tables ({', '.join(names[:4])}) but no"
                              f" g_patent.tsv, the table they join on")


def is_bulk_archive(names: list[str]) -> bool:
    return any(table_name(Path(name).name) == MAIN_TABLE for name in names)


Opener = Callable[[], BinaryIO]


def read_folder(folder: Path) -> Iterator[SourceTable]:
    """The bulk set in `folder`: g_patent's records, then each other table's quarantined rows."""
    files = {name: (str(path), _opener(path)) for path in sorted(folder.iterdir())
             if path.is_file() and (name := table_name(path.name))}
    with contextlib.ExitStack() as stack:
        scratch = _scratch_folder(stack)
        tables = {name: _unzipped(label, opener, scratch, stack) for name, (label, opener) in files.items()}
        yield from _BulkSet(tables, scratch).source_tables()


def read_archive(label: str, archive: zipfile.ZipFile) -> Iterator[SourceTable]:
    """The bulk set in a zip archive (its tables may be zipped inside it)."""
    with contextlib.ExitStack() as stack:
        scratch = _scratch_folder(stack)
        tables = {}
        for member in sorted(archive.namelist()):
            name = table_name(Path(member).name)
            if name is None or member.startswith("__MACOSX/"):
                continue
            member_label = f"{label}!{member}"
            if member.lower().endswith(".zip"):  # zipfile needs to seek: spool the inner archive
                spooled = scratch / f"{name}.spool.zip"
                with archive.open(member) as source, open(spooled, "wb") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
                tables[name] = _unzipped(member_label, _opener(spooled), scratch, stack)
            else:
                tables[name] = (member_label, lambda member=member: archive.open(member))
        yield from _BulkSet(tables, scratch).source_tables()


# `$TMPDIR/patentgraph-pv-<pid>-<random>`: one read's partitions, owned by process <pid>
_SCRATCH_NAME = re.compile(r"^patentgraph-pv-(\d+)-")


def _scratch_folder(stack: contextlib.ExitStack) -> Path:
    """A fresh folder for this read's partitions, after removing those of killed reads."""
    remove_stale(Path(tempfile.gettempdir()), _SCRATCH_NAME)
    return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"patentgraph-pv-{os.getpid()}-")))


def _opener(path: Path) -> Opener:
    return lambda: open(path, "rb")


def _unzipped(label: str, opener: Opener, scratch: Path, stack: contextlib.ExitStack) -> tuple[str, Opener]:
    """A table given as `.tsv.zip`: the TSV inside it (PatentsView zips hold one file each)."""
    if not label.lower().endswith(".zip"):
        return label, opener
    try:
        inner = stack.enter_context(zipfile.ZipFile(stack.enter_context(opener())))
    except zipfile.BadZipFile as exc:
        raise IngestError(f"{label}: a damaged zip file ({exc})") from None
    members = [n for n in inner.namelist() if n.lower().endswith(".tsv") and not n.startswith("__MACOSX/")]
    if len(members) != 1:
        raise IngestError(f"{label}: a PatentsView table zip must hold one .tsv file; it holds {len(members)}")
    return f"{label}!{members[0]}", lambda: inner.open(members[0])


@dataclass
class _Problems:
    """A table's rows set aside: (position, field, reason, raw text)."""

    rows: list[tuple[int, str, str, str]] = field(default_factory=list)

    def add(self, position: int, field_name: str, reason: str, raw: str) -> None:
        self.rows.append((position, field_name, reason, raw))


class _BulkSet:
    def __init__(self, tables: dict[str, tuple[str, Opener]], scratch: Path):
        if MAIN_TABLE not in tables:
            raise IngestError("a PatentsView bulk set needs g_patent.tsv")
        self.tables = tables
        self.scratch = scratch
        self.problems = {name: _Problems() for name in tables}
        self.used = dict.fromkeys(tables, 0)
        self.locations: pa.Table | None = None

    def source_tables(self) -> Iterator[SourceTable]:
        label, _ = self.tables[MAIN_TABLE]
        yield SourceTable(label, "patentsview", "utf-8", _RECORD_COLUMNS, self._records())
        for name, (label, _) in self.tables.items():
            if name != MAIN_TABLE:
                problems = self.problems[name].rows
                yield SourceTable(label, "patentsview", "utf-8", _RECORD_COLUMNS,
                                  iter([SourceRow(p, None, [raw], reason, f) for p, f, reason, raw in problems]),
                                  joined_rows=self.used[name])

    # --- reading and partitioning ----------------------------------------------------------

    def _records(self) -> Iterator[SourceRow | SourceBatch]:
        from ingest.stage import key_hashes  # the merger's key hash: stable across batches

        size = 0
        for _label, opener in self.tables.values():
            with opener() as handle:
                size += _stream_size(handle)
        partitions = max(1, min(512, size // _PARTITION_BYTES))
        writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
        if LOCATIONS in self.tables:
            self.locations = self._read_locations()
        for name, (label, opener) in self.tables.items():
            if name == LOCATIONS:
                continue
            for batch in self._read(name, label, opener):
                part = (key_hashes(batch.column("patent_id")) % np.uint64(partitions)).astype(np.int64)
                order = np.argsort(part, kind="stable")
                bounds = np.searchsorted(part[order], np.arange(partitions + 1))
                for index in range(partitions):
                    if bounds[index] == bounds[index + 1]:
                        continue
                    piece = batch.take(pa.array(order[bounds[index]:bounds[index + 1]]))
                    writer = writers.get(index)
                    if writer is None:
                        writer = writers[index] = pa.ipc.new_stream(self.scratch / f"{name}.{index}.arrow",
                                                                          piece.schema)
                    writer.write_batch(piece)
            for writer in writers.values():  # one table's partition files open at a time
                writer.close()
            writers.clear()
        yield from self._problem_rows(MAIN_TABLE)
        for index in range(partitions):
            yield from self._join(index)

    def _problem_rows(self, name: str) -> Iterator[SourceRow]:
        problems = self.problems[name].rows
        for position, field_name, reason, raw in problems:
            yield SourceRow(position, None, [raw], reason, field_name)
        problems.clear()

    def _read(self, name: str, label: str, opener: Opener) -> Iterator[pa.RecordBatch]:
        """The table's rows with the columns it needs (null where the file has none), and `position`."""
        spec = TABLES[name]
        wanted = ("patent_id", *spec.columns)
        reader = _TableReader({c: (c,) for c in wanted}, tuple((c,) for c in wanted[:spec.required + 1]), None, None)
        source = reader._csv_table(label, opener, detect_encoding(label, opener), "patentsview", "\t")
        problems = self.problems[name]
        for item in source.rows:
            if isinstance(item, SourceRow):
                if item.problem is not None:
                    problems.add(item.position, item.problem_field, item.problem, item.raw())
                    continue
                item = SourceBatch(np.array([item.position]), pa.RecordBatch.from_pylist(
                    [{f"c{i}": cell for i, cell in enumerate(item.cells)}]))
            fields = item.fields(source.columns)
            columns = {c: _trimmed(fields[c][0]) if c in fields else pa.nulls(len(item), pa.string()) for c in wanted}
            missing = pc.is_null(columns["patent_id"])
            if pc.any(missing).as_py():
                for index in pc.indices_nonzero(missing).to_pylist():
                    problems.add(int(item.positions[index]), "patent_id", "patent_id is empty", item.raw(index))
            batch = pa.RecordBatch.from_arrays([pa.array(item.positions, pa.int64()), *columns.values()],
                                               names=["position", *columns])
            if pc.any(missing).as_py():
                batch = batch.filter(pc.invert(missing))
            if batch.num_rows:
                yield batch

    def _read_locations(self) -> pa.Table:
        label, opener = self.tables[LOCATIONS]
        reader = _TableReader({c: (c,) for c in _LOCATION_COLUMNS}, (("location_id",),), None, None)
        source = reader._csv_table(label, opener, detect_encoding(label, opener), "patentsview", "\t")
        blocks = []
        for item in source.rows:
            if isinstance(item, SourceRow):
                if item.problem is not None:
                    self.problems[LOCATIONS].add(item.position, item.problem_field, item.problem, item.raw())
                    continue
                item = SourceBatch(np.array([item.position]), pa.RecordBatch.from_pylist(
                    [{f"c{i}": cell for i, cell in enumerate(item.cells)}]))
            fields = item.fields(source.columns)
            columns = [_trimmed(fields[c][0]) if c in fields else pa.nulls(len(item), pa.string())
                       for c in _LOCATION_COLUMNS]
            missing = pc.is_null(columns[0])
            for index in pc.indices_nonzero(missing).to_pylist():
                self.problems[LOCATIONS].add(int(item.positions[index]), "location_id", "location_id is empty",
                                             item.raw(index))
            block = pa.table(columns, names=list(_LOCATION_COLUMNS)).filter(pc.invert(missing))
            self.used[LOCATIONS] += block.num_rows
            address = pc.binary_join(_non_null_lists([block.column(c) for c in _LOCATION_COLUMNS[1:]]), ", ")
            blocks.append(pa.table({"location_id": block.column("location_id"),
                                    "address": pc.if_else(pc.equal(address, ""), _NULL, address)}))
        return pa.concat_tables(blocks) if blocks else pa.table({"location_id": pa.array([], pa.string()),
                                                                 "address": pa.array([], pa.string())})

    # --- joining one partition ---------------------------------------------------------------

    def _partition(self, name: str, index: int) -> pa.Table | None:
        path = self.scratch / f"{name}.{index}.arrow"
        if not path.exists():
            return None
        with pa.OSFile(str(path)) as source:
            return pa.ipc.open_stream(source).read_all()

    def _join(self, index: int) -> Iterator[SourceRow | SourceBatch]:
        main = self._partition(MAIN_TABLE, index)
        main_ids = _plain(main.column("patent_id")) if main is not None else pa.array([], pa.string())
        main = self._screen_patents(main) if main is not None else None
        yield from self._problem_rows(MAIN_TABLE)
        accepted_ids = main.column("patent_id") if main is not None else pa.array([], pa.string())
        joined: dict[str, pa.Array] = {}
        for name in SIDE_TABLES:
            side = self._partition(name, index)
            if side is None:
                continue
            side = self._orphans(name, side, accepted_ids, main_ids)
            side = _VALUES[name](self, side)
            self.used[name] += side.num_rows
            joined.update(_group(name, side, accepted_ids))
        if main is None or not main.num_rows:
            return
        yield from self._batches(main, joined)

    def _screen_patents(self, main: pa.Table) -> pa.Table:
        """g_patent rows that make a record; the others are quarantined."""
        numbers = pc.binary_join_element_wise("US", main.column("patent_id"),
                                              pc.fill_null(main.column("wipo_kind"), ""), "")
        # an id that already names its country (never in PatentsView, but a hand-made table may) stays as it is
        numbers = pc.if_else(pc.match_substring_regex(main.column("patent_id"), r"^[A-Za-z]{2}\d"),
                             main.column("patent_id"), numbers)
        main = main.append_column("publication_number", numbers)
        _, _, number_reasons = columnar.publication_numbers(main.column("publication_number").combine_chunks())
        checks = [("publication_number", "patent_id", number_reasons)]
        for field_name, column, parse, out_type in (("grant_date", "patent_date", nz.parse_date, pa.date32()),
                                                    ("claims_count", "num_claims", nz.parse_count, pa.int32())):
            _, reasons = columnar.by_distinct_value(main.column(column).combine_chunks(), parse, out_type)
            checks.append((field_name, column, reasons))
        withdrawn = pc.if_else(pc.equal(pc.fill_null(main.column("withdrawn"), "0"), "1"),
                               pa.scalar("PatentsView marks the patent withdrawn (never issued)"), _NULL)
        checks.append(("publication_number", "withdrawn", withdrawn))
        bad = np.zeros(main.num_rows, dtype=bool)
        positions = main.column("position").to_numpy()
        for field_name, column, reasons in checks:
            for row in pc.indices_nonzero(pc.is_valid(reasons)).to_pylist():
                if not bad[row]:
                    bad[row] = True
                    self.problems[MAIN_TABLE].add(int(positions[row]), field_name,
                                                  f"{column}: {reasons[row].as_py()}", _row_text(MAIN_TABLE, main, row))
        return main.filter(pa.array(~bad))

    def _orphans(self, name: str, side: pa.Table, accepted: pa.Array, main_ids: pa.Array) -> pa.Table:
        """Rows whose patent is in no g_patent row, or in a quarantined one: quarantined, naming the id."""
        known = pc.is_in(side.column("patent_id"), value_set=_plain(accepted))
        if pc.all(known).as_py():
            return side
        in_main = pc.is_in(side.column("patent_id"), value_set=_plain(main_ids))
        ids, positions = side.column("patent_id"), side.column("position").to_numpy()
        main_label = Path(self.tables[MAIN_TABLE][0]).name
        for row in pc.indices_nonzero(pc.invert(known)).to_pylist():
            patent = ids[row].as_py()
            reason = (f"patent_id {patent}: its {main_label} row was quarantined" if in_main[row].as_py()
                      else f"patent_id {patent} has no row in {main_label}")
            self.problems[name].add(int(positions[row]), "patent_id", reason, _row_text(name, side, row))
        return side.filter(known)

    def _reject(self, name: str, side: pa.Table, reasons: pa.Array, field_name: str) -> pa.Table:
        """Quarantine the side rows with a reason; the rest go on."""
        valid = pc.is_valid(reasons)
        if not pc.any(valid).as_py():
            return side
        positions = side.column("position").to_numpy()
        for row in pc.indices_nonzero(valid).to_pylist():
            self.problems[name].add(int(positions[row]), field_name, reasons[row].as_py(), _row_text(name, side, row))
        return side.filter(pc.invert(valid))

    def _sequenced(self, name: str, side: pa.Table) -> pa.Table:
        """The table with its sequence column as integers; rows where it is not one are quarantined."""
        column = TABLES[name].sequence
        values = side.column(column).combine_chunks()
        numbers, reasons = columnar.by_distinct_value(values, nz.parse_count, pa.int32())
        side = self._reject(name, side, pc.binary_join_element_wise(f"{column}: ", reasons, ""), column)
        # a missing sequence sorts first; among equals, file order decides
        numbers = pc.fill_null(numbers.filter(pc.is_null(reasons)), 0)
        return side.set_column(side.schema.get_field_index(column), column, numbers)

    def _batches(self, main: pa.Table, joined: dict[str, pa.Array]) -> Iterator[SourceBatch]:
        nulls = pa.nulls(main.num_rows, pa.string())
        columns = {
            "publication_number": main.column("publication_number"),
            "patent_type": main.column("patent_type"),
            "title": main.column("patent_title"),
            "abstract": pc.coalesce(joined.get("abstract", nulls), main.column("patent_abstract")),
            "grant_date": main.column("patent_date"),
            "claims_count": main.column("num_claims"),
        }
        for name in _JOINED_FIELDS:
            columns.setdefault(name, joined.get(name, nulls))
        cells = pa.table([pc.cast(columns[f], pa.string()) for f in _RECORD_FIELDS],
                         names=[f"c{i}" for i in range(len(_RECORD_FIELDS))])
        order = np.argsort(main.column("position").to_numpy(), kind="stable")
        cells, positions = cells.take(pa.array(order)), main.column("position").to_numpy()[order]
        for start in range(0, cells.num_rows, _BLOCK_ROWS):
            block = cells.slice(start, _BLOCK_ROWS).combine_chunks().to_batches()[0]
            yield SourceBatch(positions[start:start + _BLOCK_ROWS], block)


# --- per-table values: each returns the table's usable rows with a `value` column (and `address`) --------

def _assignee_values(bulk: _BulkSet, side: pa.Table) -> pa.Table:
    side = bulk._sequenced("g_assignee_disambiguated", side)
    person = pc.utf8_trim_whitespace(pc.binary_join(_non_null_lists([
        side.column("disambig_assignee_individual_name_first"),
        side.column("disambig_assignee_individual_name_last")]), " "))
    name = pc.coalesce(side.column("disambig_assignee_organization"),
                       pc.if_else(pc.equal(person, ""), _NULL, person))
    reasons = pc.if_else(pc.is_null(name), pa.scalar("no organisation or individual name"), _NULL)
    side = bulk._reject("g_assignee_disambiguated", side.append_column("value", _one_name(name)), reasons,
                        "disambig_assignee_organization")
    address = pa.nulls(side.num_rows, pa.string())
    if bulk.locations is not None and bulk.locations.num_rows:
        where = pc.index_in(side.column("location_id"), value_set=bulk.locations.column("location_id"))
        address = bulk.locations.column("address").take(where)
    return side.append_column("address", address)


def _inventor_values(bulk: _BulkSet, side: pa.Table) -> pa.Table:
    side = bulk._sequenced("g_inventor_disambiguated", side)
    name = pc.utf8_trim_whitespace(pc.binary_join(_non_null_lists([
        side.column("disambig_inventor_name_first"), side.column("disambig_inventor_name_last")]), " "))
    reasons = pc.if_else(pc.equal(name, ""), pa.scalar("no inventor name"), _NULL)
    return bulk._reject("g_inventor_disambiguated", side.append_column("value", _one_name(name)), reasons,
                        "disambig_inventor_name_last")


def _cpc_values(bulk: _BulkSet, side: pa.Table) -> pa.Table:
    side = bulk._sequenced("g_cpc_current", side)
    return _checked_codes(bulk, "g_cpc_current", side, _plain(side.column("cpc_group")), "cpc_group")


def _ipc_values(bulk: _BulkSet, side: pa.Table) -> pa.Table:
    side = bulk._sequenced("g_ipc_at_issue", side)
    parts = [pc.fill_null(side.column(c), "") for c in ("section", "ipc_class", "subclass", "main_group")]
    code = pc.binary_join_element_wise(pc.binary_join_element_wise(*parts, ""), pc.fill_null(side.column("subgroup"), ""),
                                       "/")
    return _checked_codes(bulk, "g_ipc_at_issue", side, code.combine_chunks(), "subgroup")


def _checked_codes(bulk: _BulkSet, name: str, side: pa.Table, codes: pa.Array, field_name: str) -> pa.Table:
    """Each row's classification code, normalised; a row whose code does not read is quarantined."""
    # repeats are dropped when the patent's joined list is read (columnar.patent_batch)
    parsed, reasons = columnar.classification_lists(codes, drop_repeats=False)
    empty = pc.and_(pc.is_null(reasons), pc.equal(pc.fill_null(pc.list_value_length(parsed), 0), 0))
    reasons = pc.if_else(empty, pc.binary_join_element_wise(pc.fill_null(codes, ""), " is not a classification code",
                                                            ""), reasons)
    reasons = pc.if_else(pc.is_null(codes), pa.scalar(f"{field_name} is empty"), reasons)
    side = side.append_column("value", pc.binary_join(parsed, ";"))
    return bulk._reject(name, side, reasons, field_name)


def _citation_values(bulk: _BulkSet, side: pa.Table) -> pa.Table:
    side = bulk._sequenced("g_us_patent_citation", side)
    numbers = pc.binary_join_element_wise("US", pc.fill_null(side.column("citation_patent_id"), ""),
                                          pc.fill_null(side.column("wipo_kind"), ""), "")
    numbers = pc.if_else(pc.is_null(side.column("citation_patent_id")), _NULL, numbers).combine_chunks()
    parsed, _, reasons = columnar.publication_numbers(numbers)
    reasons = pc.binary_join_element_wise("citation_patent_id: ", reasons, "")
    reasons = pc.if_else(pc.is_null(numbers), pa.scalar("citation_patent_id is empty"), reasons)
    return bulk._reject("g_us_patent_citation", side.append_column("value", parsed), reasons, "citation_patent_id")


def _application_values(bulk: _BulkSet, side: pa.Table) -> pa.Table:
    numbers, number_reasons = columnar.application_numbers(side.column("application_id").combine_chunks())
    _, date_reasons = columnar.by_distinct_value(side.column("filing_date").combine_chunks(), nz.parse_date,
                                                 pa.date32())
    reasons = pc.coalesce(pc.binary_join_element_wise("application_id: ", number_reasons, ""),
                          pc.binary_join_element_wise("filing_date: ", date_reasons, ""))
    side = side.append_column("value", numbers)
    return bulk._reject("g_application", side, reasons, "application_id")


def _abstract_values(bulk: _BulkSet, side: pa.Table) -> pa.Table:
    return side.append_column("value", side.column("patent_abstract"))


_VALUES = {
    "g_patent_abstract": _abstract_values,
    "g_application": _application_values,
    "g_assignee_disambiguated": _assignee_values,
    "g_inventor_disambiguated": _inventor_values,
    "g_cpc_current": _cpc_values,
    "g_ipc_at_issue": _ipc_values,
    "g_us_patent_citation": _citation_values,
}
# which record field each table's values fill (the assignees also give addresses; applications, dates)
_FIELD_OF = {"g_patent_abstract": "abstract", "g_application": "application_number",
             "g_assignee_disambiguated": "applicants", "g_inventor_disambiguated": "inventors",
             "g_cpc_current": "cpc", "g_ipc_at_issue": "ipc", "g_us_patent_citation": "cited_publications"}
_RECORD_FIELDS = ("publication_number", "patent_type", "title", "abstract", "grant_date", "claims_count",
                  "application_number", "application_date", "applicants", "applicant_addresses", "inventors",
                  "cpc", "ipc", "cited_publications")
_JOINED_FIELDS = _RECORD_FIELDS[6:]
_HEADERS = {"publication_number": "patent_id", "patent_type": "patent_type", "title": "patent_title",
            "abstract": "patent_abstract", "grant_date": "patent_date", "claims_count": "num_claims",
            "application_number": "application_id", "application_date": "filing_date",
            "applicants": "disambig_assignee_organization", "applicant_addresses": "location_id",
            "inventors": "disambig_inventor_name_last", "cpc": "cpc_group", "ipc": "g_ipc_at_issue",
            "cited_publications": "citation_patent_id"}
_RECORD_COLUMNS = ColumnMap(columns={f: [i] for i, f in enumerate(_RECORD_FIELDS)},
                            headers=[_HEADERS[f] for f in _RECORD_FIELDS], unmapped=[])


def _group(name: str, side: pa.Table, patent_ids: pa.Array) -> dict[str, pa.Array]:
    """Each patent's values joined with `;` in sequence order (then file order), aligned to `patent_ids`.

    A table without a sequence gives one value per patent: its first row's. Assignees also give
    addresses: all of them when every assignee has one, else the first assignee's alone (when it
    has one), so an address never lands on the wrong name.
    """
    sequence = TABLES[name].sequence
    keys = [("patent_id", "ascending")] + ([(sequence, "ascending")] if sequence else []) + [("position", "ascending")]
    side = side.take(pc.sort_indices(side, sort_keys=keys))
    ids = _plain(side.column("patent_id"))
    count = len(ids)
    changes = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False) if count else np.zeros(0, bool)
    starts = np.flatnonzero(np.r_[True, changes]) if count else np.zeros(0, dtype=np.int64)
    offsets = pa.array(np.r_[starts, count].astype(np.int32))
    firsts = pa.array(starts)
    where = pc.index_in(_plain(patent_ids), value_set=ids.take(firsts))

    def joined(values: pa.Array) -> pa.Array:
        return pc.binary_join(pa.ListArray.from_arrays(offsets, pc.fill_null(_plain(values), "")), ";")

    field_name = _FIELD_OF[name]
    if sequence is None:
        out = {field_name: _plain(side.column("value")).take(firsts).take(where)}
        if name == "g_application":
            out["application_date"] = _plain(side.column("filing_date")).take(firsts).take(where)
        return out
    out = {field_name: joined(side.column("value")).take(where)}
    if name == "g_assignee_disambiguated":
        address = _plain(side.column("address"))
        have = pc.is_valid(address).to_numpy(zero_copy_only=False).astype(np.int64)
        everyone = np.add.reduceat(have, starts) == np.diff(np.r_[starts, count]) if count else np.zeros(0, bool)
        addresses = pc.if_else(pa.array(everyone, pa.bool_()), joined(address), address.take(firsts))
        out["applicant_addresses"] = addresses.take(where)
    return out


def _one_name(names: pa.Array) -> pa.Array:
    """A name as one list item: a line break inside it (real PatentsView names have them) becomes a space,
    and `;` `；` `|`, which the record builder splits lists on, become commas."""
    names = pc.replace_substring_regex(names, r"\s*[\r\n]+\s*", " ")
    return pc.replace_substring_regex(names, r"\s*[;；|]\s*", ", ")


def _trimmed(values: pa.Array) -> pa.Array:
    """Cells trimmed, empty ones null. Not `clean`: a name part `Na` or `-` is not a placeholder here;
    the joined record's fields are cleaned by the record builder as any export's are."""
    trimmed = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(trimmed, ""), _NULL, trimmed)


def _plain(values) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _non_null_lists(columns: list) -> pa.Array:
    """Row-wise lists of the non-null values of `columns` (for joining name parts and address parts)."""
    columns = [_plain(c) for c in columns]
    length = len(columns[0])
    stacked = pa.concat_arrays([c.cast(pa.string()) for c in columns])
    rows = np.tile(np.arange(length), len(columns))
    order = np.argsort(rows, kind="stable")
    items, parents = stacked.take(pa.array(order)), rows[order]
    keep = pc.is_valid(items)
    counts = np.bincount(parents[keep.to_numpy(zero_copy_only=False)], minlength=length)
    offsets = np.zeros(length + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), items.filter(keep))


def _row_text(name: str, table: pa.Table, row: int) -> str:
    """A quarantined row as the quarantine shows it: the columns read, `name=value`, tab-separated
    (the scratch files keep only the columns the join uses, not the row's text)."""
    columns = ("patent_id", *TABLES[name].columns)
    values = {c: table.column(c)[row].as_py() for c in columns if c in table.column_names}
    return "\t".join(f"{c}={'' if v is None else v}" for c, v in values.items())


def _stream_size(handle: BinaryIO) -> int:
    """Bytes in a stream: its size when known, else counted by reading (a zip member reports its own)."""
    size = getattr(handle, "_orig_file_size", None)  # a zip member's uncompressed size
    if size:
        return int(size)
    with contextlib.suppress(OSError, AttributeError):
        return handle.seek(0, 2)
    return sum(len(chunk) for chunk in iter(lambda: handle.read(1 << 20), b""))
