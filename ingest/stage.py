"""The ingest stage: files → merged `patents` / `firms` tables, a quarantine and a report.

Each input file is read whole before any of it is committed: a file that turns out not to be
what it claims fails alone (recorded in the report) and leaves the tables untouched. Records
with the same key, within a file or across files and runs, merge into one (the first source
keeps its provenance; later sources fill its gaps). A ledger of content hashes makes
re-ingesting an unchanged file a no-op.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import queue
import re
import shutil
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from lxml import etree

from graph.contracts import CONTRACTS
from graph.progress import track
from graph.workspace import TEMP_FILE_NAME, Quarantine, TableWriter, Workspace, remove_stale
from ingest import columnar, headers, records
from ingest.sources import (
    EncodingChanged,
    IngestError,
    SourceRow,
    SourceTable,
    TextEncoding,
    expand_paths,
    open_tables,
)
from ingest.uspto_xml import read_uspto_xml


@dataclass
class FileCount:
    """One input table (a file, or a member of a zip archive): read = written + quarantined."""

    path: Path
    format: str
    encoding: str | None
    read: int = 0
    written: int = 0  # accepted rows, including those merged into an existing record
    quarantined: int = 0
    merged: int = 0  # accepted rows whose key was already present (same file, earlier file or run)
    error: str | None = None  # set when the whole file was rejected; its counts are then 0
    unmapped_columns: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    table: str
    per_file: list[FileCount]
    read: int
    written: int
    quarantined: int
    merged: int
    records: int  # rows in the table after this run
    failed_files: int
    unchanged_files: int  # skipped: their content was ingested before
    quarantine_path: Path | None
    skipped_unchanged: list[Path]


@dataclass(frozen=True)
class _Kind:
    table: str
    stage: str
    synonyms: dict[str, tuple[str, ...]]
    required: tuple[tuple[str, ...], ...]
    build: Callable[[dict, Callable[[str], str], str, int], dict]
    merge: Callable[[dict, dict], None]
    xml_reader: Callable | None = None
    build_batch: Callable | None = None  # whole-column builder for CSV blocks; else rows one by one


PATENTS = _Kind("patents", "ingest-patents", headers.PATENT_HEADERS, headers.PATENT_REQUIRED,
                records.build_patent, records.merge_patent, read_uspto_xml, columnar.patent_batch)
FIRMS = _Kind("firms", "ingest-firms", headers.FIRM_HEADERS, headers.FIRM_REQUIRED,
              records.build_firm, records.merge_firm)
_BLOCK_ROWS = 8192
# `<workspace>/ingest/.scratch-<pid>-<random>`: one run's spill files, owned by process <pid>
_SCRATCH_NAME = re.compile(r"^\.scratch-(\d+)-")


def run_ingest(kind: _Kind, workspace: Workspace, paths: list[Path], run_id: str, fmt: str | None) -> IngestReport:
    try:
        return _run_ingest(kind, workspace, paths, run_id, fmt)
    except OSError as exc:
        if type(exc) is not OSError or exc.filename is not None or str(workspace.root) in str(exc):
            raise  # FileNotFoundError of an input, or a message that already says where
        # Arrow's spill and table writers say "No space left on device" without saying where.
        raise OSError(exc.errno, f"{workspace.root}: ingest stopped writing its scratch files ({exc})") from exc


def _run_ingest(kind: _Kind, workspace: Workspace, paths: list[Path], run_id: str, fmt: str | None) -> IngestReport:
    files = expand_paths(paths)
    ledger = _Ledger(workspace, kind.table)
    had_table = workspace.has(kind.table)
    quarantine = Quarantine(kind.stage)
    per_file: list[FileCount] = []
    skipped: list[Path] = []
    ingested: list[tuple[str, Path]] = []
    # The ledger hash is computed in a thread while the file is read (hashlib and file reads release
    # the GIL), unless the ledger must be asked first whether the file is new.
    with (_Merger(workspace, kind, run_id, direct=not had_table and len(files) == 1) as merger,
          ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-sha256") as hasher):
        if had_table:
            merger.add_existing(workspace.table_path(kind.table))
        for path in files:
            digest = hasher.submit(_sha256, path)
            if had_table and ledger.has(digest.result()):
                skipped.append(path)
                continue
            try:
                counts, rejected = _read_file(kind, path, fmt, merger)
            except IngestError as exc:
                merger.discard_file()
                if len(files) == 1:
                    raise
                per_file.append(FileCount(path, "unreadable", None, error=str(exc)))
                continue
            merger.commit_file()
            quarantine.rows.extend(rejected.rows)
            per_file.extend(counts)
            ingested.append((digest.result(), path))

        quarantine_path = None
        records = merger.distinct
        if ingested:
            records = merger.write(workspace, kind.table, run_id, _Orphans(quarantine, per_file))
            _keep_earlier_quarantine(workspace, quarantine, [p for _, p in ingested])
            quarantine_path = quarantine.save(workspace, run_id)
            ledger.add(ingested, run_id)
    return IngestReport(
        table=kind.table,
        per_file=per_file,
        read=sum(c.read for c in per_file),
        written=sum(c.written for c in per_file),
        quarantined=sum(c.quarantined for c in per_file),
        merged=sum(c.merged for c in per_file),
        records=records,
        failed_files=sum(1 for c in per_file if c.error),
        unchanged_files=len(skipped),
        quarantine_path=quarantine_path,
        skipped_unchanged=skipped,
    )


_DAMAGED = (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, ElementTree.ParseError, etree.XMLSyntaxError)


def _read_file(kind: _Kind, path: Path, fmt: str | None, merger: _Merger) -> tuple[list[FileCount], Quarantine]:
    """Stage every table in `path` with the merger; rejected rows go to the returned quarantine.

    A table found not to be clean UTF-8 past its first window is read again, with all of the file,
    in the encoding the whole-file check finds (what was staged from the file is dropped first).
    """
    encodings: dict[str, TextEncoding] = {}
    while True:
        try:
            return _read_file_once(kind, path, fmt, merger, encodings)
        except EncodingChanged as change:
            encodings[change.label] = change.encoding
            merger.restart_file()


def _read_file_once(kind: _Kind, path: Path, fmt: str | None, merger: _Merger,
                    encodings: dict[str, TextEncoding]) -> tuple[list[FileCount], Quarantine]:
    rejected = Quarantine(kind.stage)
    counts: list[FileCount] = []
    merger.begin_file()
    try:
        for source in open_tables(path.resolve(), kind.synonyms, kind.required, fmt, kind.xml_reader, encodings):
            count = FileCount(Path(source.label), source.format, source.encoding,
                              unmapped_columns=source.columns.unmapped)
            _read_table(kind, source, count, rejected, merger)
            count.read += source.joined_rows  # PatentsView bulk rows that went into g_patent's records
            count.written += source.joined_rows
            counts.append(count)
    except _DAMAGED as exc:  # a truncated or corrupted gzip / zip / XLSX stream, wherever the reader meets it
        raise IngestError(f"{path.resolve()}: damaged file, cannot be read ({type(exc).__name__}: {exc})") from None
    if not counts:
        raise IngestError(f"{path.resolve()}: holds no table to ingest")
    return counts, rejected


def _read_table(kind: _Kind, source: SourceTable, count: FileCount, rejected: Quarantine, merger: _Merger) -> None:
    pending: list[dict] = []  # records built row by row, staged in blocks
    first_rejected = len(rejected.rows)

    def build(row: SourceRow) -> None:
        count.read += 1
        if row.problem is not None:
            rejected.add(source.label, row.position, row.problem_field, row.problem, row.raw())
            count.quarantined += 1
            return
        try:
            pending.append(kind.build(row.values, source.columns.header_of, source.label, row.position))
        except records.RowRejected as exc:
            rejected.add(source.label, row.position, exc.field, exc.reason, row.raw())
            count.quarantined += 1
            return
        count.written += 1
        if len(pending) >= _BLOCK_ROWS:
            flush()

    def flush() -> None:
        if pending:
            merger.add(pa.RecordBatch.from_pylist(pending, schema=merger.schema), count)
            pending.clear()

    for item in track(source.rows, f"{kind.table}: {Path(source.label).name}"):
        if isinstance(item, SourceRow):
            build(item)
        elif kind.build_batch is None:
            for row in item.rows(source.columns):
                build(row)
        else:
            flush()
            batch, rejections = kind.build_batch(item.fields(source.columns), source.columns.header_of, len(item),
                                                 source.label, item.positions)
            for rejection, raw in zip(rejections, item.raws([r.row for r in rejections]), strict=True):
                rejected.add(source.label, int(item.positions[rejection.row]), rejection.field, rejection.reason, raw)
            count.read += len(item)
            count.quarantined += len(rejections)
            count.written += batch.num_rows
            merger.add(batch, count)
    flush()
    # In file order: rows set aside by the CSV reader come before the rest of their batch.
    rejected.rows[first_rejected:] = sorted(rejected.rows[first_rejected:], key=lambda row: row["position"])


class _Orphans:
    """Records still missing a required value once every source is merged (a GLEIF parent link
    for an LEI no entity file describes): quarantined, and moved from written to quarantined."""

    def __init__(self, quarantine: Quarantine, per_file: list[FileCount]):
        self.quarantine = quarantine
        self.counts = {str(c.path): c for c in per_file}

    def screen(self, write: Callable[[pa.RecordBatch], None], required: list[str]) -> Callable:
        def screened(batch: pa.RecordBatch) -> None:
            missing = None
            for name in required:
                gap = pc.is_null(batch.column(name))
                missing = gap if missing is None else pc.or_(missing, gap)
            if missing is not None and pc.any(missing).as_py():
                for record in batch.filter(missing).to_pylist():
                    self._reject(record, [n for n in required if record[n] is None])
                batch = batch.filter(pc.invert(missing))
            write(batch)
        return screened

    def _reject(self, record: dict, fields: list[str]) -> None:
        source = record["source_file"]
        self.quarantine.add(source, record["source_position"], fields[0],
                            f"no source gives {', '.join(fields)} for {next(iter(record.values()))};"
                            " a file of links only adds to records other files describe",
                            {k: v for k, v in record.items() if v not in (None, [])})
        count = self.counts.get(source)
        if count is not None:
            count.written -= 1
            count.quarantined += 1


class _Merger:
    """Stages records on disk and writes the merged table in row groups, so memory stays flat.

    Only keys are held, as 64-bit hashes in sorted numpy runs (8 bytes a key, not a Python
    string in a set): every key seen, and the keys seen more than once. Pass one spills each
    file's records to an Arrow file in a scratch folder; pass two streams the existing table
    and the spills into the new table, holding back just the records whose key hash repeats,
    which are merged by their key text in source order (the first keeps its provenance) and
    written last. Two different keys sharing a hash (odds about 1e-7 at 1.5 M keys) would only
    be held back together and count one merge too many; the records themselves stay apart.

    `direct`, for a run of one file into an empty table: pass one writes the table itself, in a
    thread, for as long as no key repeats and no record lacks a required value, and the table is
    renamed into place with no pass two. From the first batch that breaks this, the part written
    so far becomes the first source of pass two and the rest spills as usual.

    `add` stages a batch in a thread of its own, in the order given, so that the key hashes,
    lookups and spill writes overlap the normalisation of the next batch. Whatever reads the
    merger's state (`commit_file`, `discard_file`, `write`) first waits for the batches queued.
    """

    def __init__(self, workspace: Workspace, kind: _Kind, run_id: str, direct: bool = False):
        self.kind = kind
        self.key = CONTRACTS[kind.table].key[0]
        self.schema = pa.schema([f.with_nullable(True) for f in CONTRACTS[kind.table].schema])
        self.required = [f.name for f in CONTRACTS[kind.table].schema if not f.nullable]
        self.run_id = run_id
        self.scratch_parent = workspace.root / "ingest"
        self.seen = _HashRuns()
        self.file_keys = _HashRuns()
        self.repeated: list[np.ndarray] = []
        self.sources: list[Path] = []
        self.spill: pa.ipc.RecordBatchFileWriter | None = None
        self.direct_wanted = direct
        self.direct: _BackgroundWriter | None = None
        self.staging: _InOrder | None = None

    def __enter__(self) -> _Merger:
        self.scratch_parent.mkdir(parents=True, exist_ok=True)
        remove_stale(self.scratch_parent, _SCRATCH_NAME, TEMP_FILE_NAME)  # left by a killed run
        self.scratch = Path(tempfile.mkdtemp(prefix=f".scratch-{os.getpid()}-", dir=self.scratch_parent))
        if self.direct_wanted:
            try:
                self._start_direct()
            except OSError:
                shutil.rmtree(self.scratch, ignore_errors=True)
                raise
        self.staging = _InOrder(f"stage-{self.kind.table}")
        return self

    def _start_direct(self) -> None:
        self.direct = _BackgroundWriter(TableWriter(self.scratch / "direct.parquet", CONTRACTS[self.kind.table],
                                                    self.run_id))

    def __exit__(self, *exc_info) -> None:
        self.discard_file()
        self.staging.stop()
        shutil.rmtree(self.scratch, ignore_errors=True)

    @property
    def distinct(self) -> int:
        return len(self.seen)

    def add_existing(self, table_path: Path) -> None:
        for batch in pq.ParquetFile(table_path).iter_batches(columns=[self.key]):
            hashes = np.unique(key_hashes(batch.column(0)))
            self.seen.add(hashes[~self.seen.contains(hashes)])
        self.sources.append(table_path)

    def begin_file(self) -> None:
        self.file_keys = _HashRuns()
        self.file_start = (len(self.repeated), len(self.sources))

    def restart_file(self) -> None:
        """Drop everything staged since `begin_file`: the file is read again from its start."""
        self.discard_file()
        repeated, sources = self.file_start
        del self.repeated[repeated:]
        for path in self.sources[sources:]:  # the direct table, finished at a repeated key
            path.unlink(missing_ok=True)
        del self.sources[sources:]
        if self.direct_wanted and not self.sources:
            self._start_direct()

    def add(self, batch: pa.RecordBatch, count: FileCount) -> None:
        """Queue `batch` to be staged; an error staging an earlier batch is raised here."""
        self.staging.submit(self._stage, batch, count)

    def _stage(self, batch: pa.RecordBatch, count: FileCount) -> None:
        hashes = key_hashes(batch.column(self.key))
        distinct, occurrences = np.unique(hashes, return_counts=True)
        known = self.seen.contains(distinct) | self.file_keys.contains(distinct)
        count.merged += len(hashes) - len(distinct) + int(known.sum())
        repeats = distinct[known | (occurrences > 1)]
        self.repeated.append(repeats)
        self.file_keys.add(distinct[~known])
        if self.direct is not None:
            if not len(repeats) and not any(batch.column(name).null_count for name in self.required):
                self.direct.write(batch)
                return
            self.sources.append(self.direct.finish())  # pass two merges it with what follows
            self.direct = None
        if self.spill is None:
            path = self.scratch / f"{len(self.sources)}.arrow"
            self.spill = pa.ipc.new_file(path, self.schema)
            self.spill_path = path
        self.spill.write_batch(batch)

    def commit_file(self) -> None:
        self.staging.wait()
        self.staging.raise_error()
        for run in self.file_keys.runs:
            self.seen.add(run)
        self.file_keys = _HashRuns()
        if self.spill is not None:
            self.spill.close()
            self.sources.append(self.spill_path)
            self.spill = None

    def discard_file(self) -> None:
        self.staging.wait()  # an error staging the file is raised at the next add or commit
        self.file_keys = _HashRuns()
        if self.direct is not None:
            self.direct.abandon()
            self.direct = None
        if self.spill is not None:
            self.spill.close()
            self.spill_path.unlink(missing_ok=True)
            self.spill = None

    def write(self, workspace: Workspace, name: str, run_id: str, orphans: _Orphans) -> int:
        self.staging.wait()  # every file is committed or discarded by now; this keeps write safe if not
        self.staging.raise_error()
        if self.direct is not None:  # every record is in the table already, once, complete
            rows = self.direct.rows
            workspace.tables_dir.mkdir(parents=True, exist_ok=True)
            os.replace(self.direct.finish(), workspace.table_path(name))
            self.direct = None
            return rows
        repeated = _HashRuns()
        repeated.add(np.unique(np.concatenate([np.empty(0, np.uint64), *self.repeated])))
        held: dict[str, dict] = {}
        with _BackgroundWriter(workspace.writer(name, run_id)) as out:
            out.write = orphans.screen(out.write, self.required)
            for batch in self._batches():
                if len(repeated):
                    repeats = pa.array(repeated.contains(key_hashes(batch.column(self.key))))
                    for record in batch.filter(repeats).to_pylist():
                        kept = held.get(record[self.key])
                        if kept is None:
                            held[record[self.key]] = record
                        else:
                            self.kind.merge(kept, record)
                    batch = batch.filter(pc.invert(repeats))
                out.write(batch)
            merged = list(held.values())
            for start in range(0, len(merged), _BLOCK_ROWS):
                out.write(pa.RecordBatch.from_pylist(merged[start:start + _BLOCK_ROWS], schema=self.schema))
        return out.table.rows

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for path in self.sources:
            if path.suffix == ".parquet":
                for batch in pq.ParquetFile(path).iter_batches(batch_size=_BLOCK_ROWS):
                    yield pa.RecordBatch.from_arrays([batch.column(f.name) for f in self.schema], schema=self.schema)
            else:
                with pa.OSFile(str(path)) as source:  # not memory-mapped: mapped pages count as resident
                    reader = pa.ipc.open_file(source)
                    for index in range(reader.num_record_batches):
                        yield reader.get_batch(index)


class _InOrder:
    """Runs calls in a thread of its own, one at a time in the order submitted, at most two waiting
    (so the batches they hold stay few). A call's error is raised in the submitting thread at its
    next `submit` or `raise_error`; the calls queued after it are skipped."""

    def __init__(self, name: str):
        self.pending: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (call := self.pending.get()) is not None:
            if self.error is None:
                try:
                    call()
                except BaseException as exc:
                    self.error = exc
            self.pending.task_done()
        self.pending.task_done()

    def submit(self, function: Callable, *args) -> None:
        self.raise_error()
        self.pending.put(partial(function, *args))

    def wait(self) -> None:
        """Return once every call submitted has run."""
        self.pending.join()

    def raise_error(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def stop(self) -> None:
        if self.thread.is_alive():
            self.pending.put(None)
            self.thread.join()


class _BackgroundWriter:
    """Opens `table` and hands it batches in a thread (Arrow's conform and Parquet encoding release
    the GIL, so writing overlaps the next batch's normalisation); its errors are raised to the caller."""

    def __init__(self, table: TableWriter):
        self.table = table
        self.closed = False
        table.__enter__()
        self.worker = _InOrder(f"write-{table.contract.name}")

    @property
    def rows(self) -> int:
        self._drain()
        return self.table.rows

    def __enter__(self) -> _BackgroundWriter:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is None and not self.closed:
            self.finish()
        else:
            self.abandon()

    def write(self, batch: pa.RecordBatch) -> None:
        self._raise()
        self.worker.submit(self.table.write, batch)

    def _drain(self) -> None:
        self.worker.wait()
        self._raise()

    def _raise(self) -> None:
        if self.worker.error is not None:
            self.abandon()
            self.worker.raise_error()

    def _stop(self) -> None:
        self.worker.stop()

    def finish(self) -> Path:
        """Write what is queued and put the file in place; returns its path."""
        self._drain()
        self._stop()
        self.closed = True
        self.table.__exit__(None, None, None)
        return self.table.path

    def abandon(self) -> None:
        """Stop without putting a file in place."""
        self._stop()
        if not self.closed:
            self.closed = True
            self.table.__exit__(RuntimeError, None, None)


class _HashRuns:
    """A set of uint64 hashes as a few sorted runs, each at most half the size of the one before
    (so adding n hashes costs O(n log n) in all, and a lookup is one binary search per run)."""

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(run) for run in self.runs)

    def add(self, distinct_new: np.ndarray) -> None:
        """Add sorted hashes none of which is in the set yet."""
        if not len(distinct_new):
            return
        self.runs.append(distinct_new)
        while len(self.runs) > 1 and len(self.runs[-1]) * 2 > len(self.runs[-2]):
            last = self.runs.pop()
            self.runs[-1] = np.sort(np.concatenate([self.runs[-1], last]))

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        for run in self.runs:
            at = np.minimum(np.searchsorted(run, hashes), len(run) - 1)
            found |= run[at] == hashes
        return found


_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15))


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: every input bit changes about half the output bits."""
    x = (x ^ (x >> np.uint64(30))) * _MIX[0]
    x = (x ^ (x >> np.uint64(27))) * _MIX[1]
    return x ^ (x >> np.uint64(31))


def key_hashes(keys: pa.Array) -> np.ndarray:
    """A 64-bit hash of each key, the same whatever batch the key comes in.

    Plain ASCII keys of up to 24 bytes (publication numbers, credit codes, LEIs) are hashed from
    their bytes padded into three words, with no Python object per key; any other key by pandas.
    """
    keys = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
    keys = keys.cast(pa.string())
    short = pc.and_(pc.less_equal(pc.binary_length(keys), 24), pc.string_is_ascii(keys))
    short = pc.fill_null(short, False).to_numpy(zero_copy_only=False)
    hashes = np.empty(len(keys), dtype=np.uint64)
    if short.any():
        padded = pc.utf8_rpad(keys.filter(pa.array(short)), 24, "\x00")
        start = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset]
        words = np.frombuffer(padded.buffers()[2], dtype=np.uint8)[start:start + 24 * len(padded)].view(np.uint64)
        words = words.reshape(len(padded), 3)
        with np.errstate(over="ignore"):
            mixed = _splitmix(words[:, 0] + _MIX[2])
            mixed = _splitmix(mixed ^ words[:, 1])
            hashes[short] = _splitmix(mixed ^ words[:, 2])
    if not short.all():
        others = keys.filter(pa.array(~short)).to_numpy(zero_copy_only=False)
        hashes[~short] = pd.util.hash_array(others).astype(np.uint64)
    return hashes


def _keep_earlier_quarantine(workspace: Workspace, quarantine: Quarantine, reread: list[Path]) -> None:
    """Carry over the quarantined rows of files not read again this run."""
    reread_labels = {str(p.resolve()) for p in reread}
    quarantine.carry_over(workspace, lambda row: row["source_file"].split("!", 1)[0] not in reread_labels)


def _sha256(path: Path) -> str:
    """The content hash of a file, or of a folder read as one source (a PatentsView bulk set): names and contents."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        if path.is_dir():
            digest.update(f"{file.relative_to(path)}\0".encode())
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


class _Ledger:
    """`<workspace>/ingest/ledger.json`: content hashes of the files each table was built from."""

    def __init__(self, workspace: Workspace, table: str):
        self.path = workspace.root / "ingest" / "ledger.json"
        self.table = table
        self.data = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}

    def has(self, digest: str) -> bool:
        return digest in self.data.get(self.table, {})

    def add(self, files: list[tuple[str, Path]], run_id: str) -> None:
        entries = self.data.setdefault(self.table, {})
        for digest, path in files:
            entries[digest] = {"path": str(path.resolve()), "run_id": run_id}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)
