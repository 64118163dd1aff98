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


def classify(workspace: Workspace, chains_dir: Path | None = None) -> StageResult:
    from industry_chains import run_classify

    return run_stage(workspace, "classify", lambda rid: run_classify(workspace, rid, chains_dir))


def rank(workspace: Workspace) -> StageResult:
    from graph.ranking import rank_firms

    return run_stage(workspace, "rank", lambda rid: rank_firms(workspace, rid))


def load(workspace: Workspace, settings: Settings) -> StageResult:
    from graph.load import build_embedded_graph, load_neo4j

    if settings.backend == "neo4j":
        return run_stage(workspace, "load-neo4j", lambda rid: load_neo4j(workspace, settings, rid))
    return run_stage(workspace, "load", lambda rid: build_embedded_graph(workspace, rid))


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
