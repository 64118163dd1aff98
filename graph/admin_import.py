"""CSV files for `neo4j-admin database import full`: the fast way to load a large graph into Neo4j.

One file per label (`nodes/<Label>.csv`) and per relationship type (`relationships/<TYPE>.csv`),
each with its header line: `key:ID(Label)`, typed properties (`year:long`, `ipc:string[]`,
`score:double`, `application_date:date`, `resolved:boolean`), `:LABEL`; `:START_ID(Label)`,
`:END_ID(Label)`, `:TYPE`.
Arrays are joined with ';' (an element holding ';' gets the full-width '；' instead, counted).
"""

from __future__ import annotations

import csv
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from graph.schema import NODES, RELS, Prop
from graph.transform import graph_tables
from graph.workspace import Workspace

ARRAY_DELIMITER = ";"


@dataclass
class AdminImportExport:
    out_dir: Path
    node_files: dict[str, Path]
    rel_files: dict[str, Path]
    rows: dict[str, int]  # label or type -> data rows written
    skipped: dict[str, int]  # source rows left out of the graph (as for a load)
    missing_tables: list[str]
    delimiters_replaced: int = 0
    command: str = field(default="")


def node_header(label: str) -> list[str]:
    node = NODES[label]
    return [f"{p.name}:ID({label})" if p.name == node.key else _typed(p) for p in node.props] + [":LABEL"]


def rel_header(rel_type: str) -> list[str]:
    rel = RELS[rel_type]
    return [f":START_ID({rel.start})", f":END_ID({rel.end})", *(_typed(p) for p in rel.props), ":TYPE"]


def _typed(prop: Prop) -> str:
    return prop.name if prop.type == "string" else f"{prop.name}:{prop.admin_import_type}"


def import_command(export: AdminImportExport, database: str = "neo4j") -> str:
    """The neo4j-admin command that imports the export into `database` (run with the server stopped)."""
    parts = ["neo4j-admin", "database", "import", "full", database, "--overwrite-destination=true",
             "--id-type=string", f"--array-delimiter={ARRAY_DELIMITER}", "--multiline-fields=true",
             "--ignore-empty-strings=true"]
    parts += [f"--nodes={path}" for path in export.node_files.values()]
    parts += [f"--relationships={path}" for path in export.rel_files.values()]
    return " ".join(shlex.quote(p) for p in parts)


def export_admin_import_csvs(workspace: Workspace, out_dir: Path, database: str = "neo4j") -> AdminImportExport:
    """Write the graph of `workspace` as neo4j-admin import CSVs under `out_dir`."""
    tables = graph_tables(workspace)
    out_dir = Path(out_dir).resolve()
    (out_dir / "nodes").mkdir(parents=True, exist_ok=True)
    (out_dir / "relationships").mkdir(parents=True, exist_ok=True)
    export = AdminImportExport(out_dir, {}, {}, {}, dict(tables.skipped), tables.missing_tables)
    for label, table in tables.nodes.items():
        path = out_dir / "nodes" / f"{label}.csv"
        export.node_files[label] = path
        export.rows[label] = _write(path, node_header(label), table, [label], export)
    for rel_type, table in tables.rels.items():
        path = out_dir / "relationships" / f"{rel_type}.csv"
        export.rel_files[rel_type] = path
        export.rows[rel_type] = _write(path, rel_header(rel_type), table, [rel_type], export)
    export.command = import_command(export, database)
    return export


def _write(path: Path, header: list[str], table: pa.Table, trailer: list[str], export: AdminImportExport) -> int:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for batch in table.to_batches(max_chunksize=50_000):
            columns = [column.to_pylist() for column in batch.columns]
            for values in zip(*columns, strict=True):
                writer.writerow([_cell(v, export) for v in values] + trailer)
    tmp.replace(path)
    return table.num_rows


def _cell(value: object, export: AdminImportExport) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        cleaned = []
        for item in value:
            text = str(item)
            if ARRAY_DELIMITER in text:
                export.delimiters_replaced += 1
                text = text.replace(ARRAY_DELIMITER, "；")
            cleaned.append(text)
        return ARRAY_DELIMITER.join(cleaned)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)  # dates print as ISO yyyy-mm-dd, which neo4j-admin reads as :date
