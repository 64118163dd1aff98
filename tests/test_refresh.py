"""`patentgraph refresh`: one job at a time, idempotent, resumable after kill -9, and a correct change report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest

from graph.config import Settings
from graph.cypher import run_cypher
from graph.load import open_reader
from graph.refresh import RefreshBusy, WorkspaceLock, refresh
from graph.workspace import Workspace
from ingest import generate

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("refresh-input"), n_patents=240, n_firms=90, seed=5)


def _settings(root: Path) -> Settings:
    return Settings(workspace=root)


def _graph_dump(workspace: Workspace) -> dict:
    """What a Cypher user sees: node counts per label and every ranking and resolution, sorted."""
    queries = {
        "labels": "MATCH (n) RETURN label(n) AS l, count(*) ORDER BY l",
        "ranked": "MATCH (f:Firm)-[r:RANKED_IN]->(t:TechNode) RETURN t.key, f.firm_id, r.rank, r.score ORDER BY t.key, r.rank",
        "resolved": "MATCH (a:Applicant)-[r:RESOLVES_TO]->(f:Firm) "
                    "RETURN a.applicant_id, f.firm_id, r.decision, r.link_type ORDER BY a.applicant_id, f.firm_id",
        "in_node": "MATCH (p:Patent)-[:IN_NODE]->(t:TechNode) RETURN count(*)",
    }
    with open_reader(workspace) as reader:
        return {name: run_cypher(q, {}, backend=reader, timeout_s=60, row_cap=10**7).rows for name, q in queries.items()}


def _cli_refresh(root: Path, inputs, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATENTGRAPH_NO_PROGRESS": "1"}
    env.pop("PATENTGRAPH_KILL_AT", None)
    if kill_at:
        env["PATENTGRAPH_KILL_AT"] = kill_at
    args = [sys.executable, "-c", "from graph.cli import app; app()", "--workspace", str(root), "refresh",
            "--patents", str(inputs.patent_files[0].parent), "--firms", str(inputs.firm_files[0].parent)]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, inputs):
    root = tmp_path_factory.mktemp("refresh-reference")
    result = _cli_refresh(root, inputs)
    assert result.returncode == 0, result.stderr
    return Workspace(root)


def test_first_refresh_builds_everything_and_reports_new_targets(uninterrupted):
    runs = [run for run in uninterrupted.runs() if run["stage"] == "refresh"]
    assert len(runs) == 1 and runs[0]["status"] == "done"
    changes = pd.read_csv(runs[0]["report"], encoding="utf-8-sig")
    assert set(changes["change"]) == {"new_targets"}
    assert len(changes) == len(uninterrupted.read_df("firm_scores", ["firm_id"]))
    summary = json.loads((Path(runs[0]["report"]).parent / "summary.json").read_text())
    assert summary["changes"]["new_targets"] == len(changes) and summary["status"] == "done"


def test_second_identical_refresh_changes_nothing(uninterrupted, inputs):
    before = _graph_dump(uninterrupted)
    version = (uninterrupted.graph_dir / "CURRENT").read_text()
    result = _cli_refresh(uninterrupted.root, inputs)
    assert result.returncode == 0, result.stderr
    assert "up to date, nothing changed" in result.stdout
    assert (uninterrupted.graph_dir / "CURRENT").read_text() == version
    assert _graph_dump(uninterrupted) == before


@pytest.mark.parametrize("kill_at", ["ingest:after", "classify:before", "load:after", "report:before"])
def test_killed_refresh_is_finished_by_the_next_run(tmp_path, inputs, uninterrupted, kill_at):
    killed = _cli_refresh(tmp_path, inputs, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL
    assert (tmp_path / "refresh.lock").exists(), "the killed run left its lock behind"
    resumed = _cli_refresh(tmp_path, inputs)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after an interrupted run" in resumed.stdout
    assert not (tmp_path / "refresh.lock").exists()
    assert _graph_dump(Workspace(tmp_path)) == _graph_dump(uninterrupted)


@pytest.mark.parametrize("step", ["match", "load"])
def test_a_kill_of_the_refresh_also_ends_the_step_running_in_its_child_process(tmp_path, inputs, uninterrupted,
                                                                               step):
    # the child kills the refresh process, then would go on to run its step 5 s later
    killed = _cli_refresh(tmp_path, inputs, kill_at=f"{step}:during")
    assert killed.returncode == -signal.SIGKILL
    stages = [run["stage"] for run in Workspace(tmp_path).runs()]
    assert "ingest-patents" in stages and step not in stages, "the orphaned child went on with its step"
    resumed = _cli_refresh(tmp_path, inputs)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after an interrupted run" in resumed.stdout
    assert _graph_dump(Workspace(tmp_path)) == _graph_dump(uninterrupted)


def test_a_second_job_is_refused_while_one_runs(tmp_path, inputs):
    ws = Workspace(tmp_path)
    with WorkspaceLock(ws):
        with pytest.raises(RefreshBusy, match=f"pid {os.getpid()}"):
            refresh(ws, _settings(tmp_path), inputs.patent_files, inputs.firm_files)
        result = _cli_refresh(tmp_path, inputs)
    assert result.returncode == 3
    assert "another refresh is running" in result.stderr


def test_a_stale_lock_from_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / "refresh.lock"
    import socket

    lock.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "earlier"}))
    with WorkspaceLock(Workspace(tmp_path)):
        assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert not lock.exists()


def test_bad_input_exits_with_code_2(tmp_path, inputs):
    bogus = tmp_path / "not-a-registry.csv"
    bogus.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    args = [sys.executable, "-c", "from graph.cli import app; app()", "--workspace", str(tmp_path / "ws"),
            "refresh", "--firms", str(bogus)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2
    assert "not-a-registry.csv" in result.stderr
    # the refresh stopped at its ingest and says how to go on; the next run resumes it and stops the same way
    journal = tmp_path / "ws" / "refresh" / "current.json"
    assert journal.exists() and f"delete {journal}" in " ".join(result.stderr.split())
    again = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert again.returncode == 2 and "not-a-registry.csv" in again.stderr


def test_a_mistyped_path_is_refused_before_anything_is_journalled(tmp_path, inputs):
    root = tmp_path / "ws"
    result = _cli_refresh(root, SimpleNamespace(patent_files=[tmp_path / "typo" / "x.csv"],
                                                firm_files=inputs.firm_files))
    assert result.returncode == 2 and "typo: no such file or folder" in result.stderr
    assert not (root / "refresh" / "current.json").exists()  # so the next run is not stuck resuming it
    assert _cli_refresh(root, inputs).returncode == 0


def test_an_interrupted_refresh_whose_inputs_are_gone_says_how_to_go_on(tmp_path, inputs):
    root = tmp_path / "ws"
    moved = tmp_path / "moved"
    shutil.copytree(inputs.patent_files[0].parent, moved)
    staged = SimpleNamespace(patent_files=[moved / "x"], firm_files=inputs.firm_files)
    assert _cli_refresh(root, staged, kill_at="ingest:before").returncode != 0
    shutil.rmtree(moved)
    result = _cli_refresh(root, inputs)
    assert result.returncode == 2
    said = " ".join(result.stderr.split())
    assert "cannot be finished" in said and "moved: no such file or folder" in said
    assert f"delete {root / 'refresh' / 'current.json'}" in said
    (root / "refresh" / "current.json").unlink()
    assert _cli_refresh(root, inputs).returncode == 0


def test_reclassifying_patents_spread_over_row_groups_gives_the_full_classification(tmp_path, inputs):
    """The incremental classify reads only the row groups holding changed patents: here some in the middle, some last."""
    import pyarrow.compute as pc

    from graph import pipeline
    from industry_chains.classify import classify_changed

    ws = Workspace(tmp_path)
    pipeline.ingest(ws, inputs.patent_files, inputs.firm_files)
    patents = ws.read("patents")
    with ws.writer("patents", "20260101T000000Z-test-groups") as out:
        for offset in range(0, patents.num_rows, 40):  # one row group per write
            out.write(patents.slice(offset, 40))
    pipeline.classify(ws)
    full = ws.read("node_patents")
    numbers = patents.column("publication_number").to_pylist()
    changed = {*numbers[40:60], numbers[120], *numbers[-3:]}  # 40 and 120 open their row groups
    assert len(set(full.column("publication_number").to_pylist()) & changed) >= 5  # they are in some nodes
    # their rows gone, as if they were new: the incremental run must put them back where a full run has them
    ws.write("node_patents", full.filter(pc.invert(pc.is_in(full.column("publication_number"),
                                                            value_set=pa.array(sorted(changed))))), "20260101T000000Z-x")
    report = classify_changed(ws, "20260101T000001Z-classify-test", changed)
    assert report.patents_read == len(changed)
    assert ws.read("node_patents").equals(full)
