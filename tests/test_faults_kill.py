"""kill -9 during ingest, matching and load: the rerun converges to an uninterrupted run, and no reader
ever sees a half-written table or a half-built graph version.

Each stage runs as the real CLI in a child process that SIGKILLs itself at an exact point (a
function entered or left for the n-th time; see KILL_HOOK), exactly as an operator's kill -9
there would. The refresh job's own kill points are covered by tests/test_refresh.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from graph import pipeline
from graph.config import Settings
from graph.cypher import run_cypher
from graph.embedded import current_version
from graph.load import open_reader
from graph.workspace import Workspace
from ingest import generate

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
# Runs in the child before the CLI: wrap `target` so the process SIGKILLs itself on its n-th call
# (optionally only calls with an argument containing `needle`), before the call or after it returns.
KILL_HOOK = """
import importlib, os, signal, sys, threading
module_name, qualname, when, nth, needle = sys.argv[1:6]
del sys.argv[1:6]
owner = importlib.import_module(module_name)
*path, name = qualname.split(".")
for part in path:
    owner = getattr(owner, part)
real = getattr(owner, name)
calls, counting = [0], threading.Lock()  # a stage may write its tables from several threads
def wrapper(*args, **kwargs):
    hit = not needle or any(needle in str(a) for a in args)
    with counting:
        calls[0] += hit
        this_call = calls[0] if hit else 0
    if this_call == int(nth) and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    result = real(*args, **kwargs)
    if this_call == int(nth) and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return result
setattr(owner, name, wrapper)
from graph.cli import app
app()
"""
TABLES_OF = {
    "ingest": ("firms", "patents", "quarantine"),
    "match": ("applicants", "filings", "matches"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("kill-input"), n_patents=240, n_firms=90, seed=5)


@pytest.fixture(scope="module")
def stages(tmp_path_factory, inputs) -> dict[str, Path]:
    """The workspace after each stage of an uninterrupted run (copies, so tests can start from any of them)."""
    base = tmp_path_factory.mktemp("reference")
    workspace = Workspace(base / "ws")
    settings = Settings(workspace=workspace.root)
    snapshots = {}

    def keep(name: str) -> None:
        snapshots[name] = base / name
        shutil.copytree(workspace.root, snapshots[name])

    pipeline.ingest(workspace, inputs.patent_files, inputs.firm_files)
    keep("ingested")
    pipeline.match(workspace)
    keep("matched")
    pipeline.classify(workspace)
    pipeline.rank(workspace)
    pipeline.load(workspace, settings)
    keep("loaded")
    return snapshots


def cli(root: Path, args: list[str], kill: tuple[str, str, str, int, str] | None = None):
    env = {**os.environ, "PATENTGRAPH_NO_PROGRESS": "1"}
    code = ["-c", KILL_HOOK, *map(str, kill)] if kill else ["-c", "from graph.cli import app; app()"]
    return subprocess.run([sys.executable, *code, "--workspace", str(root), *args], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def ingest_args(inputs) -> list[str]:
    args = ["ingest"]
    for path in inputs.patent_files:
        args += ["--patents", str(path)]
    for path in inputs.firm_files:
        args += ["--firms", str(path)]
    return args


def canonical(workspace: Workspace, name: str) -> pd.DataFrame:
    frame = workspace.read_df(name).astype(str)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def assert_tables_equal(got: Workspace, want: Workspace, names) -> None:
    for name in names:
        pd.testing.assert_frame_equal(canonical(got, name), canonical(want, name), obj=name)


def assert_readable(workspace: Workspace) -> None:
    """Every table present reads whole under its contract: a kill never leaves a half-written one in place."""
    for path in workspace.tables_dir.glob("*.parquet"):
        workspace.read(path.stem)


def graph_dump(workspace: Workspace) -> dict:
    queries = {
        "labels": "MATCH (n) RETURN label(n) AS l, count(*) ORDER BY l",
        "ranked": "MATCH (f:Firm)-[r:RANKED_IN]->(t:TechNode) RETURN t.key, f.firm_id, r.rank, r.score "
                  "ORDER BY t.key, r.rank, f.firm_id",
        "resolved": "MATCH (a:Applicant)-[r:RESOLVES_TO]->(f:Firm) RETURN a.applicant_id, f.firm_id, r.link_type "
                    "ORDER BY a.applicant_id, f.firm_id, r.link_type",
        "filed": "MATCH (a:Applicant)-[r:FILED]->(p:Patent) RETURN count(*)",
    }
    with open_reader(workspace) as reader:
        return {name: run_cypher(q, {}, backend=reader, timeout_s=60, row_cap=10**7).rows for name, q in queries.items()}


INGEST_KILLS = {
    "reading the first file": ("ingest.stage", "_Merger.add", "after", 1, ""),
    "writing the firms table": ("graph.workspace", "TableWriter.write", "after", 1, ""),
    "firms table in place, before its ledger entry": ("ingest.stage", "_Ledger.add", "before", 1, ""),
    "patents table complete, before its rename": ("os", "replace", "before", 1, "patents.parquet"),
}


@pytest.mark.parametrize("point", INGEST_KILLS, ids=list(INGEST_KILLS))
def test_killed_ingest_converges_on_rerun(tmp_path, inputs, stages, point):
    root = tmp_path / "ws"
    killed = cli(root, ingest_args(inputs), INGEST_KILLS[point])
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert_readable(Workspace(root))
    rerun = cli(root, ingest_args(inputs))
    assert rerun.returncode == 0, rerun.stderr
    assert_tables_equal(Workspace(root), Workspace(stages["ingested"]), TABLES_OF["ingest"])


MATCH_KILLS = {
    "writing the first table": ("graph.workspace", "TableWriter.write", "after", 1, ""),
    "matches complete, before its rename": ("os", "replace", "before", 1, "matches.parquet"),
    "tables in place, before the run ledger": ("graph.workspace", "Workspace.record_run", "before", 1, ""),
}


@pytest.mark.parametrize("point", MATCH_KILLS, ids=list(MATCH_KILLS))
def test_killed_matching_converges_on_rerun(tmp_path, stages, point):
    root = tmp_path / "ws"
    shutil.copytree(stages["ingested"], root)
    killed = cli(root, ["match"], MATCH_KILLS[point])
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert_readable(Workspace(root))
    rerun = cli(root, ["match"])
    assert rerun.returncode == 0, rerun.stderr
    assert_tables_equal(Workspace(root), Workspace(stages["matched"]), TABLES_OF["match"])


LOAD_KILLS = {
    "copying into the new version": ("graph.embedded", "_copy", "after", 3, ""),
    "version built, before it is published": ("graph.load", "publish_version", "before", 1, ""),
    "manifest written, before CURRENT switches": ("graph.embedded", "_write_atomically", "after", 1, ""),
}


@pytest.mark.parametrize("point", LOAD_KILLS, ids=list(LOAD_KILLS))
def test_killed_load_never_leaves_a_half_built_graph_current(tmp_path, stages, point):
    root = tmp_path / "ws"
    shutil.copytree(stages["loaded"], root)
    workspace = Workspace(root)
    reference = graph_dump(Workspace(stages["loaded"]))
    version = current_version(workspace.graph_dir)
    killed = cli(root, ["load"], LOAD_KILLS[point])
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert current_version(workspace.graph_dir) == version  # readers still open the complete earlier build
    assert graph_dump(workspace) == reference
    rerun = cli(root, ["load"])
    assert rerun.returncode == 0, rerun.stderr
    assert current_version(workspace.graph_dir) != version
    assert graph_dump(workspace) == reference


DELTA_KILLS = {
    "deleting changed relationships": ("graph.embedded", "_load_from", "after", 1, ""),
    "inserting new rows": ("graph.embedded", "_copy", "after", 2, ""),
    "delta applied, before CURRENT switches": ("graph.embedded", "_write_atomically", "after", 1, ""),
}


@pytest.mark.parametrize("point", DELTA_KILLS, ids=list(DELTA_KILLS))
def test_killed_delta_load_leaves_the_previous_version_current(tmp_path, stages, point):
    root = tmp_path / "ws"
    shutil.copytree(stages["loaded"], root)
    workspace = Workspace(root)
    scores = workspace.read_df("firm_scores")
    workspace.write("firm_scores", scores.assign(rank=scores["rank"][::-1].to_numpy()), "rerank")
    reference, version = graph_dump(workspace), current_version(workspace.graph_dir)
    killed = cli(root, ["load", "--delta"], DELTA_KILLS[point])
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert current_version(workspace.graph_dir) == version
    assert graph_dump(workspace) == reference
    rerun = cli(root, ["load", "--delta"])
    assert rerun.returncode == 0, rerun.stderr
    rebuilt = tmp_path / "full"
    shutil.copytree(root, rebuilt)
    assert cli(rebuilt, ["load", "--full"]).returncode == 0
    assert graph_dump(workspace) == graph_dump(Workspace(rebuilt)) != reference


def test_readers_never_see_a_half_written_table_while_the_writer_is_killed(tmp_path, inputs, stages):
    root = tmp_path / "ws"
    shutil.copytree(stages["ingested"], root)
    workspace = Workspace(root)
    before = workspace.read("patents").num_rows
    extra = tmp_path / "more.csv"
    extra.write_text("公开（公告）号,申请号,申请日,发明名称,申请（专利权）人,主分类号\n" + "".join(
        f"CN9{n:08d}A,CN2021{n:07d}.X,2021-03-01,一种芯片,深圳云芯智能科技有限公司,G06N3/063\n" for n in range(500)),
        encoding="utf-8")
    seen: list[int] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def read_forever() -> None:
        while not stop.is_set():
            try:
                seen.append(workspace.read("patents").num_rows)
            except BaseException as exc:  # noqa: BLE001 - any failure to read is what this test looks for
                failures.append(exc)

    reader = threading.Thread(target=read_forever)
    reader.start()
    try:
        killed = cli(root, ["ingest", "--patents", str(extra)], ("graph.workspace", "TableWriter.write", "after", 1, ""))
        rerun = cli(root, ["ingest", "--patents", str(extra)])
    finally:
        stop.set()
        reader.join()
    assert killed.returncode == -signal.SIGKILL and rerun.returncode == 0, rerun.stderr
    assert failures == []
    assert set(seen) <= {before, before + 500} and before in seen and len(seen) > 10
    assert workspace.read("patents").num_rows == before + 500


@pytest.fixture
def live_process():
    """A running process other than this one, standing for another stage writing at the same time."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield sleeper.pid
    sleeper.kill()
    sleeper.wait()


def leftovers(root: Path, tmpdir: Path | None = None) -> set[str]:
    """Temporary files and folders of ingest and table writes: what a kill -9 can leave behind."""
    found = {str(p.relative_to(root)) for pattern in ("tables/.*.tmp", "ingest/.scratch-*", "ingest/.*.tmp")
             for p in root.glob(pattern)}
    return found | ({p.name for p in tmpdir.glob("patentgraph-pv-*")} if tmpdir else set())


def test_a_rerun_removes_what_a_killed_ingest_left_but_not_a_live_writers_files(tmp_path, stages, live_process):
    root = tmp_path / "ws"
    shutil.copytree(stages["ingested"], root)
    before = Workspace(root).read("patents").num_rows
    extra = tmp_path / "more.csv"
    extra.write_text("公开（公告）号,申请号,申请日,发明名称,申请（专利权）人,主分类号\n" + "".join(
        f"CN8{n:08d}A,CN2022{n:07d}.X,2022-03-01,一种电池,深圳云芯智能科技有限公司,H01M10/05\n" for n in range(300)),
        encoding="utf-8")
    killed = cli(root, ["ingest", "--patents", str(extra)], ("graph.workspace", "TableWriter.write", "after", 1, ""))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    stale = leftovers(root)
    # the killed run's spill folder and its half-written table, both named after its pid
    assert any(name.startswith("ingest/.scratch-") for name in stale), stale
    assert any(name.startswith("tables/.patents.parquet.") for name in stale), stale

    live_table = root / "tables" / f".patents.parquet.{live_process}.tmp"
    live_scratch = root / "ingest" / f".scratch-{live_process}-x1y2" / "0.arrow"
    live_scratch.parent.mkdir()
    for path in (live_table, live_scratch):
        path.write_bytes(b"being written")
    rerun = cli(root, ["ingest", "--patents", str(extra)])
    assert rerun.returncode == 0, rerun.stderr
    assert leftovers(root) == {f"tables/{live_table.name}", f"ingest/{live_scratch.parent.name}"}
    assert live_table.read_bytes() == live_scratch.read_bytes() == b"being written"
    assert Workspace(root).read("patents").num_rows == before + 300


def test_a_rerun_removes_the_partitions_a_killed_patentsview_read_left(tmp_path, monkeypatch, live_process):
    from ingest.generator import patentsview_bulk

    bulk = patentsview_bulk(tmp_path / "bulk", 300, seed=3)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    root = tmp_path / "ws"
    killed = cli(root, ["ingest", "--patents", str(bulk)], ("ingest.patentsview", "_BulkSet._join", "before", 1, ""))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    stale = leftovers(root, tmpdir)
    assert any(name.startswith("patentgraph-pv-") for name in stale), stale
    assert any(name.startswith("ingest/.scratch-") for name in stale), stale

    live = tmpdir / f"patentgraph-pv-{live_process}-x1y2"
    live.mkdir()
    rerun = cli(root, ["ingest", "--patents", str(bulk)])
    assert rerun.returncode == 0, rerun.stderr
    assert leftovers(root, tmpdir) == {live.name}
    uninterrupted = tmp_path / "ws-whole"
    assert cli(uninterrupted, ["ingest", "--patents", str(bulk)]).returncode == 0
    assert_tables_equal(Workspace(root), Workspace(uninterrupted), ("patents", "quarantine"))
