"""The stages in order, each recorded in the workspace's run ledger.

ingest → match → classify → rank → load. Ranking reads the workspace tables, not the
graph, so the graph is loaded last and carries the rankings (RANKED_IN) with everything
else; a reader of the graph never sees a version without them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graph.config import Settings
from graph.workspace import Workspace, new_run_id


@dataclasses.dataclass(frozen=True)
class StageResult:
    stage: str
    run_id: str
    seconds: float
    report: Any


def run_stage(workspace: Workspace, stage: str, work: Callable[[str], Any], **ledger_extra) -> StageResult:
    """Run `work(run_id)`, time it and append it to the run ledger with the report's counts."""
    run_id = new_run_id(stage)
    start = time.perf_counter()
    report = work(run_id)
    seconds = time.perf_counter() - start
    workspace.record_run(run_id, stage, report_counts(report), seconds, **ledger_extra)
    return StageResult(stage, run_id, seconds, report)


def report_counts(report: Any) -> dict:
    """The scalar fields of a stage report (what the ledger and the CLI summary show)."""
    if callable(getattr(report, "counts", None)):
        return report.counts()
    if dataclasses.is_dataclass(report):
        fields = {f.name: getattr(report, f.name) for f in dataclasses.fields(report)}
    elif isinstance(report, dict):
        fields = report
    else:
        return {}
    return {
        key: (str(value) if isinstance(value, Path) else value)
        for key, value in fields.items()
        if isinstance(value, (int, float, str, bool, Path)) or value is None
    }


def ingest(workspace: Workspace, patents: list[Path], firms: list[Path], fmt: str | None = None) -> list[StageResult]:
    from ingest import ingest_firms, ingest_patents

    results = []
    if firms:
        results.append(run_stage(workspace, "ingest-firms", lambda rid: ingest_firms(workspace, firms, rid, fmt),
                                 inputs=[str(p) for p in firms]))
    if patents:
        results.append(run_stage(workspace, "ingest-patents", lambda rid: ingest_patents(workspace, patents, rid, fmt),
                                 inputs=[str(p) for p in patents]))
    return results


def match(workspace: Workspace) -> StageResult:
    from matching import run_matching

    return run_stage(workspace, "match", lambda rid: run_matching(workspace, rid))


def match_changed(workspace: Workspace, changed_patents: set[str], firms_before) -> StageResult:
    """Re-match only the applicants that new or changed patents and firm rows can have changed."""
    from matching.incremental import rematch

    return run_stage(workspace, "match", lambda rid: rematch(workspace, rid, changed_patents, firms_before),
                     incremental=True)


def classify(workspace: Workspace, chains_dir: Path | None = None) -> StageResult:
    from industry_chains.classify import chains_digest, run_classify

    # the digest lets a later refresh tell whether `node_patents` still fits the chain files
    return run_stage(workspace, "classify", lambda rid: run_classify(workspace, rid, chains_dir),
                     chains_digest=chains_digest(chains_dir))


def classify_changed(workspace: Workspace, changed: set[str], chains_dir: Path | None = None) -> StageResult:
    """Reclassify only `changed` patents; valid while the chain files are those of the last classification."""
    from industry_chains.classify import chains_digest, classify_changed

    return run_stage(workspace, "classify", lambda rid: classify_changed(workspace, rid, changed, chains_dir),
                     chains_digest=chains_digest(chains_dir), incremental=True)


def classified_with(workspace: Workspace) -> str | None:
    """The chain-files digest the current `node_patents` was made with (None: unknown)."""
    if not workspace.has("node_patents"):
        return None
    run_id = workspace.run_id_of("node_patents")
    return next((run.get("chains_digest") for run in reversed(workspace.runs())
                 if run["run_id"] == run_id and run["stage"] == "classify"), None)


def rank(workspace: Workspace) -> StageResult:
    from graph.ranking import rank_firms

    return run_stage(workspace, "rank", lambda rid: rank_firms(workspace, rid))


def load(workspace: Workspace, settings: Settings, mode: str = "auto") -> StageResult:
    """Load the graph; embedded `mode`: "auto" (a delta when possible and small), "delta" or "full"."""
    from graph.load import build_embedded_graph, load_neo4j

    if settings.backend == "neo4j":
        return run_stage(workspace, "load-neo4j", lambda rid: load_neo4j(workspace, settings, rid))
    return run_stage(workspace, "load", lambda rid: build_embedded_graph(workspace, rid, mode=mode))


def build_all(
    workspace: Workspace, settings: Settings, patents: list[Path], firms: list[Path], on_stage: Callable | None = None
) -> list[StageResult]:
    """Every stage over the given inputs; `on_stage(result)` is called as each one finishes."""
    results: list[StageResult] = []

    def done(result: StageResult) -> None:
        results.append(result)
        if on_stage:
            on_stage(result)

    for result in ingest(workspace, patents, firms):
        done(result)
    done(match(workspace))
    done(classify(workspace))
    done(rank(workspace))
    done(load(workspace, settings))
    return results
