"""Ingest: vendor patent exports and firm registries → the `patents` and `firms` tables.

    ingest_patents(workspace, paths, run_id, fmt=None) -> IngestReport
    ingest_firms(workspace, paths, run_id, fmt=None) -> IngestReport
    generate(out_dir, n_patents, n_firms, seed) -> GeneratedDataset   (synthetic demo inputs)
"""

from __future__ import annotations

from pathlib import Path

from graph.workspace import Workspace
from ingest.generator import GeneratedDataset, generate
from ingest.sources import IngestError
from ingest.stage import FIRMS, PATENTS, FileCount, IngestReport, run_ingest

__all__ = ["FileCount", "GeneratedDataset", "IngestError", "IngestReport", "generate", "ingest_firms", "ingest_patents"]


def ingest_patents(workspace: Workspace, paths: list[Path], run_id: str, fmt: str | None = None) -> IngestReport:
    """Read patent exports (CSV/TSV/XLSX, gzip/zip, folders) into the workspace `patents` table."""
    return run_ingest(PATENTS, workspace, paths, run_id, fmt)


def ingest_firms(workspace: Workspace, paths: list[Path], run_id: str, fmt: str | None = None) -> IngestReport:
    """Read firm registries (CSV/XLSX with Chinese or English headers) into the workspace `firms` table."""
    return run_ingest(FIRMS, workspace, paths, run_id, fmt)

