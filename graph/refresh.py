"""The scheduled refresh: new inputs in, a new consistent graph version and a change report out.

Guarantees, and how they are kept:

* One job at a time: ``<workspace>/refresh.lock`` is created exclusively and names its pid; a
  lock whose process is gone (killed, crashed) is detected as stale and taken over.
* Resumable: the steps are journalled in ``<workspace>/refresh/current.json``. Every step's
  output is written atomically (tables by rename, the graph by switching CURRENT), so a step
  killed half-way left nothing half-visible and is simply run again. The tables as they were
  before the refresh are snapshotted first, so a resumed run reports against the true "before".
* Idempotent: ingest skips files whose content it has seen; when no input of the downstream
  stages changed (tables, review decisions, chain YAML) the refresh ends "up to date" and
  changes nothing.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph import pipeline
from graph.config import Settings
from graph.workspace import Workspace, new_run_id

STEPS = ("snapshot", "ingest", "match", "classify", "rank", "load", "report")
CHILD_STEPS = ("match", "classify", "rank", "load")  # each in its own process: its memory goes back
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
SNAPSHOT_TABLES = ("firms", "matches", "firm_scores")
# Fault injection for the resumability tests: PATENTGRAPH_KILL_AT=<step>:<before|after> makes the
# process SIGKILL itself there, exactly as an operator's kill -9 would; <step>:during makes a heavy
# step's child process SIGKILL the refresh process that started it, and carry on.
_KILL_AT = "PATENTGRAPH_KILL_AT"


class RefreshBusy(RuntimeError):
    """Another refresh holds the workspace lock."""


@dataclass
class RefreshSummary:
    run_id: str
    status: str  # "done" | "up-to-date"
    resumed: bool
    inputs: dict
    steps: dict[str, dict] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)  # the steps this process ran
    changes: dict[str, int] = field(default_factory=dict)
    report_path: str | None = None
    summary_path: str | None = None
    seconds: float = 0.0

    def one_line(self) -> str:
        if self.status == "up-to-date":
            return f"refresh {self.run_id}: up to date, nothing changed ({self.seconds:.1f}s)"
        counts = ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in self.changes.items())
        resumed = " (resumed after an interrupted run)" if self.resumed else ""
        return f"refresh {self.run_id}: done in {self.seconds:.1f}s{resumed}: {counts}; report {self.report_path}"


class WorkspaceLock:
    """An exclusive, stale-aware lock file in the workspace."""

    def __init__(self, workspace: Workspace):
        self.path = workspace.root / "refresh.lock"

    def __enter__(self) -> WorkspaceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and _alive(holder):
                    raise RefreshBusy(
                        f"another refresh is running (pid {holder.get('pid')} on {holder.get('host')}, started"
                        f" {holder.get('started')}); lock {self.path}"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as handle:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": _now()}, handle)
            return self

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None  # unreadable: a writer died between create and write


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # a process on another machine cannot be checked: assume it runs
    try:
        os.kill(int(holder["pid"]), 0)
    except (ProcessLookupError, ValueError, KeyError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def refresh(
    workspace: Workspace,
    settings: Settings,
    patents: list[Path],
    firms: list[Path],
    rank_move: int = 5,
    on_stage: Callable[[pipeline.StageResult], None] | None = None,
    chains_dir: Path | None = None,
    top: int = 20,
) -> list[RefreshSummary]:
    """Finish an interrupted refresh if there is one, then refresh with the given inputs.

    `chains_dir`: the chain YAML folder (default: the shipped chains). `rank_move` and `top`: which
    rank moves the change report lists (`change_report`).
    """
    inputs = {"patents": [str(Path(p).resolve()) for p in patents], "firms": [str(Path(p).resolve()) for p in firms]}
    if chains_dir is not None:
        inputs["chains"] = str(Path(chains_dir).resolve())
    _check_inputs(inputs)  # before anything is journalled: a bad path must not leave a refresh to resume
    summaries = []
    with WorkspaceLock(workspace):
        journal = _Journal.load(workspace)
        if journal is not None:
            if "ingest" not in journal.done:
                try:
                    _check_inputs(journal.inputs)
                except (FileNotFoundError, ValueError) as exc:
                    raise ValueError(f"the interrupted refresh {journal.run_id} cannot be finished: {exc}. "
                                     f"{journal.how_to_go_on()}") from None
            summaries.append(_run(workspace, settings, journal, (rank_move, top), on_stage, resumed=True))
            if journal.inputs == inputs:
                return summaries
        journal = _Journal.start(workspace, inputs)
        summaries.append(_run(workspace, settings, journal, (rank_move, top), on_stage, resumed=False))
    return summaries


def _check_inputs(inputs: dict) -> None:
    """Every input path exists and every folder holds something to read (ingest's own listing rules)."""
    from ingest.sources import expand_paths

    for kind in ("patents", "firms"):
        expand_paths([Path(p) for p in inputs[kind]])


@dataclass
class _Journal:
    workspace: Workspace
    run_id: str
    inputs: dict
    done: list[str]
    started: float
    up_to_date: bool = False

    @property
    def path(self) -> Path:
        return self.workspace.root / "refresh" / "current.json"

    @property
    def dir(self) -> Path:
        return self.workspace.root / "refresh" / self.run_id

    @classmethod
    def load(cls, workspace: Workspace) -> _Journal | None:
        path = workspace.root / "refresh" / "current.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(workspace, data["run_id"], data["inputs"], data["done"], data["started"], data.get("up_to_date", False))

    @classmethod
    def start(cls, workspace: Workspace, inputs: dict) -> _Journal:
        journal = cls(workspace, new_run_id("refresh"), inputs, [], time.time())
        journal.save()
        return journal

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {"run_id": self.run_id, "inputs": self.inputs, "done": self.done, "started": self.started,
                 "up_to_date": self.up_to_date}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def mark(self, step: str) -> None:
        _maybe_kill(step, "after")
        self.done.append(step)
        self.save()

    def how_to_go_on(self) -> str:
        return (f"Restore or fix its inputs and run the refresh again (it resumes), or delete {self.path} to abandon "
                "it; a later refresh then snapshots the tables as they are.")

    def finish(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, self.dir / "journal.json")


def _run(workspace: Workspace, settings: Settings, journal: _Journal, rank_moves: tuple[int, int],
         on_stage: Callable | None, resumed: bool) -> RefreshSummary:
    summary = RefreshSummary(journal.run_id, "done", resumed, journal.inputs)
    chains = Path(journal.inputs["chains"]) if "chains" in journal.inputs else None

    def stage(result: pipeline.StageResult) -> None:
        summary.steps[result.stage] = pipeline.report_counts(result.report)
        if on_stage:
            on_stage(result)

    for step in STEPS:
        if step in journal.done:
            continue
        _maybe_kill(step, "before")
        if journal.up_to_date and step != "report":
            journal.mark(step)
            continue
        step_started = time.perf_counter()
        if step == "snapshot":
            _snapshot(workspace, journal.dir / "before")
        elif step == "ingest":
            paths = journal.inputs
            try:
                for result in pipeline.ingest(workspace, [Path(p) for p in paths["patents"]],
                                              [Path(p) for p in paths["firms"]]):
                    stage(result)
            except (FileNotFoundError, ValueError) as exc:  # a file unreadable as a whole: exit 2, say how to go on
                raise ValueError(f"{exc}. Refresh {journal.run_id} stopped at its ingest step. "
                                 f"{journal.how_to_go_on()}") from None
            journal.up_to_date = _fingerprint(workspace, chains) == _last_fingerprint(workspace)
        elif step in CHILD_STEPS:
            stage(_in_child_process(workspace, step, settings, chains))
        elif step == "report":
            _report(workspace, journal, summary, rank_moves, chains)
        summary.step_seconds[step] = round(time.perf_counter() - step_started, 3)
        journal.mark(step)
    journal.finish()
    return summary


def _snapshot(workspace: Workspace, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in SNAPSHOT_TABLES:
        if workspace.has(name):
            shutil.copy2(workspace.table_path(name), target / f"{name}.parquet")
    numbers = workspace.read("patents", ["publication_number"]) if workspace.has("patents") else pa.table(
        {"publication_number": pa.array([], pa.string())})
    pq.write_table(numbers, target / "patent_numbers.parquet")


def changed_patents(workspace: Workspace, journal: _Journal) -> pa.Array:
    """Publication numbers that are new since the snapshot, or that this refresh's ingest merged.

    Ingest copies the rows of keys it did not see again verbatim and in order, and writes every
    record it merged (an existing patent sent again, perhaps edited) after them, last in the table.
    There are at most as many such rows as ingest counted merges, so the table's last `merged`
    rows hold every edited patent: a cheap superset, with no hashing of the whole table.
    """
    before = pq.read_table(journal.dir / "before" / "patent_numbers.parquet").column("publication_number")
    numbers = workspace.read("patents", ["publication_number"]).column("publication_number").combine_chunks()
    began = journal.run_id.split("-")[0]  # run ids start with their UTC start time, sortable
    merged = sum(int(run["counts"].get("merged", 0)) for run in workspace.runs()
                 if run["stage"] == "ingest-patents" and run["run_id"].split("-")[0] >= began)
    new = numbers.filter(pc.invert(pc.is_in(numbers, value_set=before.combine_chunks())))
    tail = numbers.slice(max(len(numbers) - merged, 0)) if merged else numbers.slice(0, 0)
    return pc.unique(pa.concat_arrays([new, tail]))


def _in_child_process(workspace: Workspace, step: str, settings: Settings,
                      chains: Path | None) -> pipeline.StageResult:
    """Run a heavy step in a fresh ('spawn') process so the memory it took is returned when it ends.

    The child dies with this process (see `_die_with_parent`), so a kill -9 of the refresh never
    leaves a step writing behind the journal's back. The result carries the report's counts only.
    """
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_die_with_parent,
                             initargs=(os.getpid(),)) as child:
        stage, run_id, seconds, counts = child.submit(_step, str(workspace.root), step, settings, chains).result()
    return pipeline.StageResult(stage, run_id, seconds, counts)


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux); elsewhere poll for it."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(1)


def _step(root: str, step: str, settings: Settings, chains: Path | None) -> tuple[str, str, float, dict]:
    """One heavy step, in the child process: (stage, run id, seconds, report counts)."""
    _maybe_kill(step, "during")
    workspace = Workspace(Path(root))
    journal = _Journal.load(workspace)
    if step == "match":
        result = _match(workspace, journal)
    elif step == "classify":
        result = _classify(workspace, journal, chains)
    elif step == "rank":
        result = pipeline.rank(workspace)
    else:
        result = pipeline.load(workspace, settings)
    return result.stage, result.run_id, result.seconds, pipeline.report_counts(result.report)


def _match(workspace: Workspace, journal: _Journal) -> pipeline.StageResult:
    """The affected applicants only, when there is a previous match by the same method to build on."""
    from matching.scoring import METHOD_VERSION

    firms_before = journal.dir / "before" / "firms.parquet"
    built = all(workspace.has(name) for name in ("applicants", "filings", "matches")) and firms_before.exists()
    if not built or set(workspace.read_df("matches", ["method_version"])["method_version"]) - {METHOD_VERSION}:
        return pipeline.match(workspace)
    return pipeline.match_changed(workspace, set(changed_patents(workspace, journal).to_pylist()),
                                  pd.read_parquet(firms_before))


def _classify(workspace: Workspace, journal: _Journal, chains_dir: Path | None) -> pipeline.StageResult:
    """New and changed patents only, unless the chain files changed since `node_patents` was made."""
    from industry_chains.classify import chains_digest

    if pipeline.classified_with(workspace) != chains_digest(chains_dir):
        return pipeline.classify(workspace, chains_dir)
    return pipeline.classify_changed(workspace, set(changed_patents(workspace, journal).to_pylist()), chains_dir)


def _fingerprint(workspace: Workspace, chains_dir: Path | None) -> str:
    """What the downstream stages read: the input tables' run ids, review decisions, chain files."""
    from industry_chains.classify import chains_digest

    digest = hashlib.sha256()
    for name in ("patents", "firms"):
        digest.update(f"{name}={workspace.run_id_of(name) if workspace.has(name) else '-'};".encode())
    path = workspace.decisions_path
    digest.update(path.name.encode() + (path.read_bytes() if path.exists() else b"-"))
    digest.update(chains_digest(chains_dir).encode())
    return digest.hexdigest()


def _last_fingerprint(workspace: Workspace) -> str | None:
    path = workspace.root / "refresh" / "last.json"
    return json.loads(path.read_text())["fingerprint"] if path.exists() else None


def _report(workspace: Workspace, journal: _Journal, summary: RefreshSummary, rank_moves: tuple[int, int],
            chains_dir: Path | None) -> None:
    started = time.perf_counter()
    before = _snapshot_tables(journal.dir / "before")
    after = _workspace_tables(workspace)
    changes = change_report(before, after, *rank_moves) if not journal.up_to_date else _no_changes()
    journal.dir.mkdir(parents=True, exist_ok=True)
    report_path = journal.dir / "changes.csv"
    changes.to_csv(report_path, index=False, encoding="utf-8-sig")
    summary.status = "up-to-date" if journal.up_to_date else "done"
    summary.changes = {kind: int((changes["change"] == kind).sum()) for kind in CHANGE_KINDS}
    summary.report_path = str(report_path)
    summary.seconds = time.time() - journal.started
    summary.step_seconds["report"] = round(time.perf_counter() - started, 3)
    summary.summary_path = str(journal.dir / "summary.json")
    Path(summary.summary_path).write_text(json.dumps(asdict(summary), ensure_ascii=False, indent=1), encoding="utf-8")
    last = workspace.root / "refresh" / "last.json"
    last.write_text(json.dumps({"run_id": journal.run_id, "fingerprint": _fingerprint(workspace, chains_dir)}))
    workspace.record_run(journal.run_id, "refresh", {**summary.changes, "resumed": summary.resumed},
                         summary.seconds, status=summary.status, inputs=journal.inputs,
                         report=str(report_path))


RANK_MOVE_SHARE = 0.2  # a move of `rank_move` places counts only when it is also this share of the rank
CHANGE_KINDS = ("new_targets", "dropped_targets", "rank_moves", "matches_changed")
REPORT_COLUMNS = ("change", "chain_id", "node_id", "firm_id", "firm", "rank_before", "rank_after",
                  "score_before", "score_after", "applicant_id", "firm_before", "firm_after", "reason")


class _Tables(NamedTuple):
    firms: pd.DataFrame
    matches: pd.DataFrame
    scores: pd.DataFrame


_TABLE_COLUMNS = {
    "firms": ["firm_id", "name", "status"],
    "matches": ["applicant_id", "firm_id", "decision", "link_type"],
    "firm_scores": ["chain_id", "node_id", "firm_id", "rank", "score", "tier"],
}


def _snapshot_tables(folder: Path) -> _Tables:
    def read(name: str) -> pd.DataFrame:
        path, columns = folder / f"{name}.parquet", _TABLE_COLUMNS[name]
        return pd.read_parquet(path, columns=columns) if path.exists() else pd.DataFrame(columns=columns)

    return _Tables(read("firms"), read("matches"), read("firm_scores"))


def _workspace_tables(workspace: Workspace) -> _Tables:
    def read(name: str) -> pd.DataFrame:
        columns = _TABLE_COLUMNS[name]
        return workspace.read_df(name, columns) if workspace.has(name) else pd.DataFrame(columns=columns)

    return _Tables(read("firms"), read("matches"), read("firm_scores"))


def _no_changes() -> pd.DataFrame:
    return pd.DataFrame(columns=list(REPORT_COLUMNS))


def change_report(before: _Tables, after: _Tables, rank_move: int = 5, top: int = 20) -> pd.DataFrame:
    """New and dropped targets (with why), rank moves (see `_rank_moved`), changed matches.

    The tables are joined and compared in Arrow; pandas sees only the rows reported. Rows come in
    the order of a pandas outer merge (by chain, node, firm) before the final sort, which is stable.
    """
    key = ["chain_id", "node_id", "firm_id"]
    joined = _arrow(before.scores, _SCORE_TYPES).join(
        _arrow(after.scores, _SCORE_TYPES), keys=key, join_type="full outer", left_suffix="_before",
        right_suffix="_after", coalesce_keys=True)
    new = pc.is_null(joined.column("rank_before")).to_numpy(zero_copy_only=False)
    dropped = pc.is_null(joined.column("rank_after")).to_numpy(zero_copy_only=False)
    both = ~(new | dropped)
    tier_changed = pc.fill_null(pc.not_equal(joined.column("tier_before"), joined.column("tier_after")), False)
    ranks = [joined.column(f"rank_{when}").to_numpy(zero_copy_only=False).astype(np.float64)
             for when in ("before", "after")]
    moved = both & _rank_moved(*ranks, tier_changed.to_numpy(zero_copy_only=False), rank_move, top)
    joined = joined.filter(pa.array(new | dropped | moved)).to_pandas()
    joined = joined.sort_values(key, kind="stable", ignore_index=True)
    new, dropped = joined["rank_before"].isna(), joined["rank_after"].isna()
    moved = ~(new | dropped)

    reported = set(joined["firm_id"])
    firms = pd.concat([frame[frame["firm_id"].isin(reported)] for frame in (before.firms, after.firms)])
    names = firms.drop_duplicates("firm_id", keep="last").set_index("firm_id")["name"]
    status_after = after.firms[after.firms["firm_id"].isin(reported)].set_index("firm_id")["status"]
    accepted = after.matches[after.matches["decision"].isin(("auto", "manual"))]
    still_linked = set(accepted.loc[accepted["firm_id"].isin(reported), "firm_id"])

    def why_dropped(firm_id: str) -> str:
        status = status_after.get(firm_id)
        if status is None:
            return "firm no longer in the register"
        if status != "operating":
            return f"firm is now {status}"
        if firm_id not in still_linked:
            return "no accepted applicant link to the firm any more"
        return "no longer holds patents in the node"

    joined["firm"] = joined["firm_id"].map(names)
    joined["reason"] = None
    joined["change"] = None
    joined.loc[new, ["change", "reason"]] = ["new_targets", "newly ranked in the node"]
    joined.loc[dropped, "change"] = "dropped_targets"
    joined.loc[dropped, "reason"] = [why_dropped(firm_id) for firm_id in joined.loc[dropped, "firm_id"]]
    joined.loc[moved, "change"] = "rank_moves"
    joined.loc[moved, "reason"] = [
        _move_reason(int(b), int(a), tb, ta, top) for b, a, tb, ta in
        zip(*(joined.loc[moved, c] for c in ("rank_before", "rank_after", "tier_before", "tier_after")), strict=True)]
    scores = joined.drop(columns=["tier_before", "tier_after"])

    # matches: only applicants present before and after whose set of links differs
    links = ["applicant_id", "firm_id", "decision", "link_type"]
    old = before.matches[links].assign(firm_id=lambda f: f["firm_id"].fillna(""))
    new_links = after.matches[links].assign(firm_id=lambda f: f["firm_id"].fillna(""))
    (old_ids, old_rows), (new_ids, new_rows) = _link_rows(old), _link_rows(new_links)
    differ = pc.unique(pa.concat_arrays([old_ids.filter(pc.invert(pc.is_in(old_rows, value_set=new_rows))),
                                         new_ids.filter(pc.invert(pc.is_in(new_rows, value_set=old_rows)))]))
    changed = sorted(differ.filter(pc.and_(pc.is_in(differ, value_set=old_ids),
                                           pc.is_in(differ, value_set=new_ids))).to_pylist())
    old_by = old[old["applicant_id"].isin(changed)].groupby("applicant_id").apply(_link_set, include_groups=False)
    new_by = new_links[new_links["applicant_id"].isin(changed)].groupby("applicant_id").apply(
        _link_set, include_groups=False)
    matches = pd.DataFrame([{"change": "matches_changed", "applicant_id": applicant_id,
                             "firm_before": _describe(old_by[applicant_id]), "firm_after": _describe(new_by[applicant_id]),
                             "reason": "applicant's accepted or proposed links changed"} for applicant_id in changed],
                           columns=["change", "applicant_id", "firm_before", "firm_after", "reason"])
    report = pd.concat([frame for frame in (scores, matches) if len(frame)], ignore_index=True) if (
        len(scores) or len(matches)) else pd.DataFrame()
    report = report.reindex(columns=list(REPORT_COLUMNS))
    return report.sort_values(["change", "chain_id", "node_id", "rank_after", "applicant_id"], na_position="last")


_SCORE_TYPES = {"chain_id": pa.string(), "node_id": pa.string(), "firm_id": pa.string(), "rank": pa.int64(),
                "score": pa.float64(), "tier": pa.string()}


def _arrow(frame: pd.DataFrame, types: dict[str, pa.DataType]) -> pa.Table:
    return pa.Table.from_pandas(frame[list(types)], schema=pa.schema(types), preserve_index=False)


def _link_rows(links: pd.DataFrame) -> tuple[pa.Array, pa.Array]:
    """The applicant ids, and each link row as one string (fields joined by a unit separator) to compare rows."""
    columns = [column.combine_chunks() for column in _arrow(links, dict.fromkeys(links.columns, pa.string())).columns]
    rows = pc.binary_join_element_wise(*columns, "\x1f", null_handling="replace", null_replacement="\x00")
    return columns[links.columns.get_loc("applicant_id")], rows


def _rank_moved(before: np.ndarray, after: np.ndarray, tier_changed: np.ndarray, rank_move: int,
                top: int) -> np.ndarray:
    """Moves a marketer acts on: into or out of the top `top`, a tier change, or a large move.

    A large move is at least `rank_move` places and at least RANK_MOVE_SHARE of the earlier rank:
    3 → 8 is one, 5,000 → 5,100 in a node of 12,000 firms is not.
    """
    places = np.abs(after - before)
    crossed_top = (before <= top) != (after <= top)
    large = (places >= rank_move) & (places >= RANK_MOVE_SHARE * before)
    return crossed_top | tier_changed | large


def _move_reason(before: int, after: int, tier_before: str, tier_after: str, top: int) -> str:
    parts = [f"rank {before} → {after}"]
    if (before <= top) != (after <= top):
        parts.append(f"{'into' if after <= top else 'out of'} the top {top}")
    if tier_before != tier_after:
        parts.append(f"tier {tier_before} → {tier_after}")
    return "; ".join(parts)


def _link_set(group: pd.DataFrame) -> frozenset:
    return frozenset(zip(group["firm_id"], group["decision"], group["link_type"], strict=True))


def _describe(links: frozenset) -> str:
    return "; ".join(f"{firm or 'no firm'} ({decision}, {link})" for firm, decision, link in sorted(links))


def _maybe_kill(step: str, when: str) -> None:
    if os.environ.get(_KILL_AT) != f"{step}:{when}":
        return
    if when == "during":
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(5)  # were the child not killed with its parent, it would go on to write its tables
        return
    os.kill(os.getpid(), signal.SIGKILL)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
