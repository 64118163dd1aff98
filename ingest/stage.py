"""The ingest stage: files → merged `patents` / `firms` tables, a quarantine and a report.

Each input file is read whole before any of it is committed: a file that turns out not to be
what it claims fails alone (recorded in the report) and leaves the tables untouched. Records
with the same key, within a file or across files and runs, merge into one (the first source
keeps its provenance; later sources fill its gaps). A ledger of content hashes makes
re-ingesting an unchanged file a no-op.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from graph.contracts import CONTRACTS
from graph.progress import track
from graph.workspace import Quarantine, Workspace
from ingest import headers, records
from ingest.sources import IngestError, SourceTable, expand_paths, open_tables
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
    required: tuple[str, ...]
    build: Callable[[dict, Callable[[str], str], str, int], dict]
    merge: Callable[[dict, dict], None]
    xml_reader: Callable | None = None


PATENTS = _Kind("patents", "ingest-patents", headers.PATENT_HEADERS, headers.PATENT_REQUIRED,
                records.build_patent, records.merge_patent, read_uspto_xml)
FIRMS = _Kind("firms", "ingest-firms", headers.FIRM_HEADERS, headers.FIRM_REQUIRED,
              records.build_firm, records.merge_firm)


def run_ingest(kind: _Kind, workspace: Workspace, paths: list[Path], run_id: str, fmt: str | None) -> IngestReport:
    files = expand_paths(paths)
    key = CONTRACTS[kind.table].key[0]
    ledger = _Ledger(workspace, kind.table)
    had_table = workspace.has(kind.table)
    table: dict[str, dict] = {}
    if had_table:
        table = {row[key]: row for row in workspace.read(kind.table).to_pylist()}
    quarantine = Quarantine(kind.stage)
    per_file: list[FileCount] = []
    skipped: list[Path] = []
    ingested: list[tuple[str, Path]] = []
    for path in files:
        digest = _sha256(path)
        if had_table and ledger.has(digest):
            skipped.append(path)
            continue
        try:
            counts, staged, rejected = _read_file(kind, path, fmt)
        except IngestError as exc:
            if len(files) == 1:
                raise
            per_file.append(FileCount(path, "unreadable", None, error=str(exc)))
            continue
        for count, file_records in zip(counts, staged, strict=True):
            for record_key, record in file_records.items():
                if record_key in table:
                    kind.merge(table[record_key], record)
                    count.merged += 1
                else:
                    table[record_key] = record
        quarantine.rows.extend(rejected.rows)
        per_file.extend(counts)
        ingested.append((digest, path))

    quarantine_path = None
    if ingested:
        workspace.write(kind.table, _to_arrow(kind.table, list(table.values())), run_id)
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
        records=len(table),
        failed_files=sum(1 for c in per_file if c.error),
        unchanged_files=len(skipped),
        quarantine_path=quarantine_path,
        skipped_unchanged=skipped,
    )


def _read_file(kind: _Kind, path: Path, fmt: str | None) -> tuple[list[FileCount], list[dict], Quarantine]:
    """Read every table in `path` into staged records (merged within each table) and rejections."""
    rejected = Quarantine(kind.stage)
    counts: list[FileCount] = []
    staged: list[dict[str, dict]] = []
    key = CONTRACTS[kind.table].key[0]
    label_base = str(path.resolve())
    for source in open_tables(path.resolve(), kind.synonyms, kind.required, fmt, kind.xml_reader):
        count = FileCount(Path(source.label), source.format, source.encoding,
                          unmapped_columns=source.columns.unmapped)
        file_records: dict[str, dict] = {}
        _read_table(kind, source, count, file_records, rejected, key)
        counts.append(count)
        staged.append(file_records)
    if not counts:
        raise IngestError(f"{label_base}: holds no table to ingest")
    return counts, staged, rejected


def _read_table(kind: _Kind, source: SourceTable, count: FileCount, file_records: dict, rejected: Quarantine,
                key: str) -> None:
    for row in track(source.rows, f"{kind.table}: {Path(source.label).name}"):
        count.read += 1
        if row.problem is not None:
            rejected.add(source.label, row.position, row.problem_field, row.problem, row.raw())
            count.quarantined += 1
            continue
        try:
            record = kind.build(row.values, source.columns.header_of, source.label, row.position)
        except records.RowRejected as exc:
            rejected.add(source.label, row.position, exc.field, exc.reason, row.raw())
            count.quarantined += 1
            continue
        count.written += 1
        existing = file_records.get(record[key])
        if existing is None:
            file_records[record[key]] = record
        else:
            kind.merge(existing, record)
            count.merged += 1


def _to_arrow(name: str, rows: list[dict]) -> pa.Table:
    schema = pa.schema([f.with_nullable(True) for f in CONTRACTS[name].schema])
    return pa.Table.from_pylist(rows, schema=schema)


def _keep_earlier_quarantine(workspace: Workspace, quarantine: Quarantine, reread: list[Path]) -> None:
    """Quarantine.save replaces the stage's rows: carry over those of files not read again this run."""
    if not workspace.has("quarantine"):
        return
    reread_labels = {str(p.resolve()) for p in reread}
    earlier = workspace.read_df("quarantine")
    for row in earlier[earlier["stage"] == quarantine.stage].to_dict("records"):
        if row["source_file"].split("!", 1)[0] not in reread_labels:
            quarantine.add(row["source_file"], row["position"], row["field"], row["reason"], row["raw"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
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
