"""The workspace directory: versioned, validated Parquet tables and the run ledger.

Layout::

    <root>/tables/<name>.parquet     contract tables (graph.contracts)
    <root>/quarantine/               per-run CSVs of rejected records (also the `quarantine` table)
    <root>/graph/                    embedded graph versions and the CURRENT pointer
    <root>/exports/                  target lists
    <root>/review/decisions.csv      review decisions, applied before anything automatic
    <root>/runs.jsonl                one JSON line per stage run

Writes go to a temporary file in the same directory and are renamed into place, so a
reader never sees a half-written table, even if the writer is killed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph.contracts import CONTRACTS, QUARANTINE, Contract

_META_TABLE = b"patentgraph.table"
_META_VERSION = b"patentgraph.schema_version"
_META_RUN = b"patentgraph.run_id"
# Long free text: nearly every value distinct, so a dictionary page never pays (the writer builds
# one, then falls back to plain), and min/max statistics of abstracts help no reader.
_FREE_TEXT = frozenset({"title", "abstract", "claims", "raw"})
# `.<name>.<pid>.tmp`: a file being written by process <pid>, renamed into place when complete
TEMP_FILE_NAME = re.compile(r"^\..+\.(\d+)\.tmp$")


class ContractError(ValueError):
    """A table does not satisfy its contract; the message names table, column and row."""


def return_freed_memory() -> None:
    """Make Arrow hand freed memory back to the system within a second, for this process (call at start).

    Arrow's default pool (mimalloc) keeps freed pages for reuse, so a stage streaming a large file
    holds well above what it uses at any moment; jemalloc returns pages unused for its decay time.
    1 s, not 0: with 0 every block's buffers are returned and faulted in again, which cost 30–40 %
    more CPU in ingest for ≈ 15 MB less peak on a 200 MB file. Left alone when
    ARROW_DEFAULT_MEMORY_POOL chooses a pool, or pyarrow has no jemalloc.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return
    pa.set_memory_pool(pool)
    pa.jemalloc_set_decay_ms(1000)


def new_run_id(stage: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{stage}-{uuid.uuid4().hex[:6]}"


def conform(contract: Contract, data: pa.Table | pd.DataFrame) -> pa.Table:
    """Return `data` cast to the contract's schema, or raise ContractError saying why not.

    Optional (nullable) columns a writer leaves out are filled with nulls; required ones must be there.
    """
    present = set(data.columns if isinstance(data, pd.DataFrame) else data.column_names)
    missing = [name for name in contract.required if name not in present]
    if missing:
        raise ContractError(f"table {contract.name!r}: missing required columns {missing}")
    if isinstance(data, pd.DataFrame):
        absent = {f.name: pd.Series([None] * len(data), index=data.index, dtype=object)
                  for f in contract.schema if f.name not in present}
        frame = data.assign(**absent)[[f.name for f in contract.schema]]
        try:
            table = pa.Table.from_pandas(frame, schema=_nullable(contract.schema), preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError) as exc:
            raise ContractError(f"table {contract.name!r}: {_locate_bad_column(contract, frame)}: {exc}") from exc
    else:
        for fld in contract.schema:
            if fld.name not in present:
                data = data.append_column(fld.name, pa.nulls(data.num_rows, fld.type))
        table = data.select([f.name for f in contract.schema])
        try:
            table = table.cast(_nullable(contract.schema))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise ContractError(f"table {contract.name!r}: {exc}") from exc
    _check_values(contract, table)
    return table.cast(contract.schema).replace_schema_metadata(None)


def _nullable(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_nullable(True) for f in schema])


def _locate_bad_column(contract: Contract, frame: pd.DataFrame) -> str:
    for fld in contract.schema:
        try:
            pa.array(frame[fld.name], type=fld.type, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
            return f"column {fld.name!r} cannot be read as {fld.type}"
    return "a column cannot be converted"


def _check_values(contract: Contract, table: pa.Table) -> None:
    for name in contract.required:
        column = table.column(name)
        if column.null_count:
            row = pc.index(pc.is_null(column), True).as_py()
            raise ContractError(f"table {contract.name!r}: required column {name!r} is empty at row {row}")
    for name, allowed in contract.enums.items():
        column = table.column(name)
        bad = pc.and_(pc.is_valid(column), pc.invert(pc.is_in(column, value_set=pa.array(allowed))))
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise ContractError(
                f"table {contract.name!r}: column {name!r} has {column[row].as_py()!r} at row {row};"
                f" allowed: {', '.join(allowed)}"
            )


class Workspace:
    """A workspace directory. Cheap to construct; creates its folders on first write."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).resolve()

    tables_dir = property(lambda self: self.root / "tables")
    quarantine_dir = property(lambda self: self.root / "quarantine")
    graph_dir = property(lambda self: self.root / "graph")
    exports_dir = property(lambda self: self.root / "exports")
    reports_dir = property(lambda self: self.root / "reports")  # per-run reports for people (CSV)
    decisions_path = property(lambda self: self.root / "review" / "decisions.csv")
    ledger_path = property(lambda self: self.root / "runs.jsonl")

    def table_path(self, name: str) -> Path:
        _contract(name)
        return self.tables_dir / f"{name}.parquet"

    def has(self, name: str) -> bool:
        return self.table_path(name).exists()

    def write(self, name: str, data: pa.Table | pd.DataFrame, run_id: str) -> pa.Table:
        """Validate and atomically replace table `name`. Returns the conformed table."""
        with self.writer(name, run_id) as out:
            return out.write(data)

    def writer(self, name: str, run_id: str) -> TableWriter:
        """Replace table `name` block by block (for tables too large to hold): `with ws.writer(...) as w`."""
        return TableWriter(self.table_path(name), _contract(name), run_id)

    def read(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """Read table `name`, checking it was written under this schema version."""
        contract = _contract(name)
        path = self._existing(name)
        # One open file for the footer check and the data: a writer may rename a new table into
        # place in between, and pyarrow's path readers open the file more than once.
        with open(path, "rb") as handle:
            table = self._checked(name, handle).read(columns=columns)
        if columns is None:
            table = conform(contract, table)
        return table

    def read_df(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        return self.read(name, columns).to_pandas()

    def iter_batches(self, name: str, columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Table `name` block by block, in stored order (for readers that must not hold it whole)."""
        with open(self._existing(name), "rb") as handle:
            yield from self._checked(name, handle).iter_batches(batch_size=batch_rows, columns=columns)

    def require(self, *names: str) -> None:
        """Raise FileNotFoundError naming the first of `names` not in the workspace (the stage to run first)."""
        for name in names:
            self._existing(name)

    def _existing(self, name: str) -> Path:
        path = self.table_path(name)
        if not path.exists():
            raise FileNotFoundError(f"{path}: table {name!r} is not in the workspace yet; run the stage that writes it")
        return path

    def _checked(self, name: str, handle) -> pq.ParquetFile:
        """The open table, after checking it was written as `name` under this schema version."""
        contract = _contract(name)
        parquet = pq.ParquetFile(handle)
        meta = parquet.schema_arrow.metadata or {}
        version = meta.get(_META_VERSION, b"?").decode()
        if meta.get(_META_TABLE) != name.encode() or version != str(contract.version):
            raise ContractError(
                f"{self.table_path(name)}: written as {meta.get(_META_TABLE, b'?').decode()} v{version}, this version"
                f" of patentgraph reads {name} v{contract.version}; rebuild it with the stage that writes it"
            )
        return parquet

    def run_id_of(self, name: str) -> str | None:
        return run_id_in(pq.read_schema(self.table_path(name)))

    def record_run(self, run_id: str, stage: str, counts: dict, seconds: float, **extra) -> None:
        """Append one line to the run ledger (the Runs page and `refresh` read it)."""
        self.root.mkdir(parents=True, exist_ok=True)
        entry = {
            "run_id": run_id,
            "stage": stage,
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "seconds": round(seconds, 3),
            "counts": counts,
            **extra,
        }
        with open(self.ledger_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")

    def runs(self) -> list[dict]:
        if not self.ledger_path.exists():
            return []
        with open(self.ledger_path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]


def process_alive(pid: int) -> bool:
    """Whether process `pid` is running on this machine; a zombie (killed, not yet reaped) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process, or no pid at all: keep
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (macOS): the signal said it exists
        return True


def remove_stale(folder: Path, *names: re.Pattern) -> list[Path]:
    """Remove the files and folders in `folder` left by dead processes, and return them.

    An entry is a candidate when its name matches one of `names`, whose first group is the pid of
    the process that made it (a kill -9 gives that process no chance to clean up). Entries of a
    live process, this one included, are left alone: another stage may be writing them now.
    """
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for entry in entries:
        match = next((m for pattern in names if (m := pattern.match(entry.name))), None)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or pid <= 0 or process_alive(pid):
            continue
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _parquet_path(column: pa.Field) -> str:
    """The column's path in the Parquet file, which per-column writer options name: a list's items are one level down."""
    return f"{column.name}.list.element" if pa.types.is_list(column.type) else column.name


def _sorted(table: pa.Table, columns: tuple[str, ...]) -> pa.Table:
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in columns])
    if np.array_equal(order.to_numpy(), np.arange(len(order))):
        return table  # already in order (the usual case): no copy
    return table.take(order)


def run_id_in(schema: pa.Schema) -> str | None:
    """The run that wrote a table, from its schema (a table's, or one of its batches')."""
    return (schema.metadata or {}).get(_META_RUN, b"").decode() or None


class TableWriter:
    """Writes one table in row groups; each block is conformed to the contract first.

    The file appears only when the block writing ends without error (temporary file, fsync,
    rename), so readers see the old table or the new one, never a half-written one.
    """

    def __init__(self, path: Path, contract: Contract, run_id: str):
        self.path, self.contract = path, contract
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.schema = contract.schema.with_metadata(
            {_META_TABLE: contract.name.encode(), _META_VERSION: str(contract.version).encode(),
             _META_RUN: run_id.encode()}
        )
        self.rows = 0

    def __enter__(self) -> TableWriter:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale(self.path.parent, TEMP_FILE_NAME)  # what a killed writer left
            coded = [_parquet_path(f) for f in self.schema if f.name not in _FREE_TEXT]
            plain = {_parquet_path(f) for f in self.schema if f.name in self.contract.no_dictionary}
            # No min/max of list items either: a row group's items span nearly every value, so no reader
            # could skip a group by them (`patents` write −3 to −8 % CPU, same size).
            single = [_parquet_path(f) for f in self.schema if f.name not in _FREE_TEXT and not pa.types.is_list(f.type)]
            self._parquet = pq.ParquetWriter(self.tmp, self.schema, compression="zstd",
                                             use_dictionary=[c for c in coded if c not in plain], write_statistics=single)
        except OSError as exc:
            self.tmp.unlink(missing_ok=True)
            raise self._cannot_write(exc) from exc
        return self

    def write(self, block: pa.Table | pa.RecordBatch | pd.DataFrame) -> pa.Table:
        if isinstance(block, pa.RecordBatch):
            block = pa.Table.from_batches([block])
        table = conform(self.contract, block).replace_schema_metadata(self.schema.metadata)
        if self.contract.order:  # one block per table for these: each block is the whole table
            table = _sorted(table, self.contract.order)
        try:
            self._parquet.write_table(table)
        except OSError as exc:
            raise self._cannot_write(exc) from exc
        self.rows += table.num_rows
        return table

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            self._parquet.close()
            if exc_type is None:
                with open(self.tmp, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(self.tmp, self.path)
        except OSError as error:
            raise self._cannot_write(error) from error
        finally:
            self.tmp.unlink(missing_ok=True)

    def _cannot_write(self, exc: OSError) -> OSError:
        """Disk full, read-only, no permission: say which table and where; the old table is left as it was."""
        reason = exc.strerror or str(exc)
        return OSError(exc.errno, f"cannot write table {self.contract.name!r} to {self.path} ({reason});"
                                  " the previous version of the table is unchanged")


class Quarantine:
    """Collects rejected records for one stage run; written as a table and a readable CSV."""

    def __init__(self, stage: str):
        self.stage = stage
        self.rows: list[dict] = []

    def add(self, source_file: str, position: int, field: str, reason: str, raw: object = None) -> None:
        text = None if raw is None else str(raw)[:2000]
        self.rows.append(
            {"stage": self.stage, "source_file": str(source_file), "position": int(position), "field": field,
             "reason": reason, "raw": text}
        )

    def __len__(self) -> int:
        return len(self.rows)

    def carry_over(self, workspace: Workspace, keep: Callable[[dict], bool]) -> int:
        """Add the stage's earlier rows for which `keep(row)` holds (records this run did not redo), since
        `save` replaces the stage's rows: an incremental run must not lose the rows of records it left alone."""
        if not workspace.has("quarantine"):
            return 0
        earlier = workspace.read_df("quarantine")
        carried = [row for row in earlier[earlier["stage"] == self.stage].to_dict("records") if keep(row)]
        for row in carried:
            self.add(row["source_file"], row["position"], row["field"], row["reason"], row["raw"])
        return len(carried)

    def count_for(self, source_file: str) -> int:
        return sum(1 for row in self.rows if row["source_file"] == str(source_file))

    def save(self, workspace: Workspace, run_id: str) -> Path | None:
        """Merge into the workspace `quarantine` table (replacing this stage's rows) and write a CSV."""
        frame = pd.DataFrame(self.rows, columns=[f.name for f in QUARANTINE.schema])
        if workspace.has("quarantine"):
            earlier = workspace.read_df("quarantine")
            frame = pd.concat([earlier[earlier["stage"] != self.stage], frame], ignore_index=True)
        workspace.write("quarantine", frame, run_id)
        if not self.rows:
            return None
        workspace.quarantine_dir.mkdir(parents=True, exist_ok=True)
        path = workspace.quarantine_dir / f"{run_id}.csv"
        pd.DataFrame(self.rows).to_csv(path, index=False, encoding="utf-8-sig")
        return path


def _contract(name: str) -> Contract:
    try:
        return CONTRACTS[name]
    except KeyError:
        raise ContractError(f"no workspace table called {name!r}; known: {', '.join(CONTRACTS)}") from None


def empty(name: str) -> pd.DataFrame:
    """An empty frame with the contract's columns (for stages with nothing to write)."""
    return _contract(name).schema.empty_table().to_pandas()
