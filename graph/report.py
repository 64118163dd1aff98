"""What a graph load did: counts per label and type as found in the database afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class LoadReport:
    backend: str  # "ladybug" | "neo4j"
    run_id: str
    nodes: dict[str, int]  # label -> nodes in the database after the load
    relationships: dict[str, int]  # type -> relationships in the database after the load
    skipped: dict[str, int]  # reason -> source rows left out of the graph
    missing_tables: list[str]  # contract tables absent at load time (loaded as empty)
    seconds: float
    version_path: Path | None = None  # the embedded database file written

    def counts(self) -> dict[str, int]:
        """Flat counts for the run ledger (`Workspace.record_run`)."""
        return {
            **{f"nodes.{k}": v for k, v in self.nodes.items()},
            **{f"rels.{k}": v for k, v in self.relationships.items()},
            **{f"skipped.{k}": v for k, v in self.skipped.items()},
        }
