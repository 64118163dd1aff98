"""The whole pipeline at several sizes, stage by stage, and side by side with what users would pick instead.

    .venv/bin/python bench/run_all.py --sizes 100k,300k,1M              # the documented run
    .venv/bin/python bench/run_all.py --sizes 100k,300k --markdown      # also print the tables as markdown
    .venv/bin/python bench/run_all.py --sizes 100k --compare-at 100k --no-splink

For each size (patents; firms = 30 % of patents) the generator's files are made once with a fixed seed
and cached in --cache (keyed by size and seed). Then every stage runs through the `patentgraph` CLI in
a fresh workspace, each stage in its own child process, so its peak RSS (ru_maxrss from wait4) and CPU
time are its own: ingest --firms, ingest --patents, match, classify, rank, load (embedded LadybugDB).
Stage time is the run ledger's "seconds" (the stage's work, without interpreter start-up); the growth
exponent between consecutive sizes is log(t2/t1) / log(n2/n1) over the stage's input rows.

At --compare-at (default: the smallest size), on that size's workspace: matching vs an exact-name
baseline vs splink on the generator's labels (bench/bench_matching.py); the embedded graph load vs the
Neo4j loader's UNWIND batches (bench/bench_graph.py, run as a child; Neo4j itself when NEO4J_URI is
set); PageRank via graph.ranking.features.pagerank (scipy) vs networkx.pagerank on the same citations.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from graph.workspace import Workspace  # noqa: E402

CLI = str(Path(sys.executable).with_name("patentgraph"))
FIRMS_PER_PATENT = 0.3
TARGET_SECONDS = 600
TARGET_PEAK_MB = 8 * 1024
TARGET_EXPONENT = 1.15
console = Console(width=200)


@dataclasses.dataclass
class StageRun:
    stage: str
    size: int
    rows: int
    seconds: float  # the ledger's: the stage's own work
    wall: float  # the child process, start-up included
    cpu: float
    peak_mb: float
    load: float
    growth: float | None = None
    failure: str = ""  # a failed stage: why (the run goes on with the next size)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# --- machine ------------------------------------------------------------------------------------
def machine() -> dict:
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cores": os.cpu_count(), "ram_gib": round(memory, 1), "cpu": model,
            "load": [round(x, 2) for x in os.getloadavg()]}


def describe(facts: dict) -> str:
    return (f"{facts['cores']} cores ({facts['cpu']}), {facts['ram_gib']:.0f} GiB RAM, "
            f"load average {' / '.join(f'{x:.2f}' for x in facts['load'])} (1 / 5 / 15 min)")


# --- children -----------------------------------------------------------------------------------
@dataclasses.dataclass
class Child:
    wall: float
    cpu: float
    peak_mb: float
    output: str
    failure: str = ""  # the last line of a failed command's output


def run_child(args: list[str], check: bool = True) -> Child:
    """Run one command; its own peak RSS and CPU time come from wait4, not from RUSAGE_CHILDREN's running max."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        output = log.read()
    failure = ""
    if proc.returncode:
        if check:
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(args)}\n{output[-3000:]}")
        failure = (output.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
    return Child(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output, failure)


# --- data ---------------------------------------------------------------------------------------
def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use e.g. 100k, 300k, 1M or 250000")
    return int(float(match[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[match[2].lower()])


def label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1_000}k" if n % 1_000 == 0 else str(n)


def generated(cache: Path, n_patents: int, seed: int) -> Path:
    """The generator's files for this size and seed, made once (in a .partial folder, renamed when complete)."""
    n_firms = int(n_patents * FIRMS_PER_PATENT)
    out = cache / f"p{n_patents}-f{n_firms}-seed{seed}"
    if not out.is_dir():
        partial = out.with_name(out.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        console.print(f"generating {n_patents:,} patents / {n_firms:,} firms (seed {seed}) into {out} ...")
        child = run_child([CLI, "generate", "--out", str(partial), "--patents", str(n_patents),
                           "--firms", str(n_firms), "--seed", str(seed)])
        partial.rename(out)
        console.print(f"  generated in {child.wall:.0f} s")
    return out


# --- the pipeline, one child per stage ----------------------------------------------------------
def stage_commands(data: Path) -> list[tuple[str, list[str]]]:
    """(ledger stage name, CLI arguments) in the order of graph.pipeline.build_all."""
    return [
        ("ingest-firms", ["ingest", "--firms", str(data / "firms")]),
        ("ingest-patents", ["ingest", "--patents", str(data / "patents")]),
        ("match", ["match"]),
        ("classify", ["classify"]),
        ("rank", ["rank"]),
        ("load", ["load", "--backend", "ladybug"]),
    ]


def input_rows(stage: str, counts: dict, workspace: Workspace) -> int:
    """What each stage works through: records read, filings matched, patents classified, nodes + edges loaded."""
    def rows(name: str) -> int:
        return workspace.read(name, columns=[workspace.read(name).schema[0].name]).num_rows

    if stage.startswith("ingest"):
        return int(counts.get("read") or counts.get("records_read") or counts.get("written", 0)
                   + counts.get("quarantined", 0))
    if stage == "match":
        return rows("filings")
    if stage == "classify":
        return rows("patents")
    if stage == "rank":
        return rows("node_patents")
    return int(sum(v for k, v in counts.items() if k.startswith(("nodes.", "rels.")) and isinstance(v, int))
               or counts.get("rows", 0))


def run_pipeline(workspace_root: Path, data: Path, size: int) -> list[StageRun]:
    shutil.rmtree(workspace_root, ignore_errors=True)
    workspace = Workspace(workspace_root)
    runs = []
    for stage, args in stage_commands(data):
        load = os.getloadavg()[0]
        child = run_child([CLI, "--workspace", str(workspace_root), *args], check=False)
        if child.failure:
            runs.append(StageRun(stage, size, 0, child.wall, child.wall, child.cpu, child.peak_mb, load,
                                 failure=child.failure))
            console.print(f"  [red]{stage} FAILED[/] after {child.wall:.1f} s, peak {child.peak_mb:,.0f} MB: "
                          f"{child.failure}")
            break
        entry = [e for e in workspace.runs() if e["stage"] == stage][-1]
        runs.append(StageRun(stage, size, input_rows(stage, entry["counts"], workspace), entry["seconds"],
                             child.wall, child.cpu, child.peak_mb, load))
        console.print(f"  {stage:<15} {entry['seconds']:8.1f} s  peak {child.peak_mb:7,.0f} MB  "
                      f"rows {runs[-1].rows:>10,}  load {load:.1f}  counts {entry['counts']}")
    failed = [r.stage for r in runs if r.failure]
    runs.append(StageRun("whole pipeline", size, size, sum(r.seconds for r in runs), sum(r.wall for r in runs),
                         sum(r.cpu for r in runs), max(r.peak_mb for r in runs),
                         sum(r.load for r in runs) / len(runs), failure=f"incomplete: {failed[0]} failed" if failed
                         else ""))
    return runs


def exponent(a: StageRun, b: StageRun) -> float | None:
    if a.failure or b.failure or min(a.seconds, b.seconds, a.rows, b.rows) <= 0 or a.rows == b.rows:
        return None
    return math.log(b.seconds / a.seconds) / math.log(b.rows / a.rows)


def add_growth(runs: list[StageRun]) -> None:
    previous: dict[str, StageRun] = {}
    for run in sorted(runs, key=lambda r: r.size):
        if run.stage in previous:
            run.growth = exponent(previous[run.stage], run)
        previous[run.stage] = run


# --- side by side -------------------------------------------------------------------------------
def compare_matching(cache: Path, workspace_root: Path, data: Path, size: int, with_splink: bool) -> list[list]:
    """bench_matching's three methods on this size's workspace and the generator's labels (company applicants)."""
    import bench_matching

    out = cache / f"compare-matching-{workspace_root.name}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "ws").symlink_to(workspace_root)
    (out / "labels.csv").symlink_to(data / "labels.csv")
    try:
        rows = bench_matching.bench_point(out, label(size), with_splink, [None])
        note = ""
    except (SystemExit, Exception) as failed:  # splink missing or out of memory: keep the other two rows
        if not with_splink:
            raise
        note = f"splink failed: {str(failed).strip().splitlines()[-1][:120]}"
        rows = bench_matching.bench_point(out, label(size), False, [None])
    result = [[f"matching: {method}", facts["seconds"], f"F1 {f:.4f} (P {p:.4f} R {r:.4f}, {n:,} test labels)",
               f"{facts['peak_mb']:,.0f} MB peak; {notes}"] for _, method, facts, n, p, r, f, notes in rows]
    if note or not with_splink:
        result.append(["matching: splink (DuckDB)", None, "not run", note or "--no-splink"])
    return result


def compare_graph(workspace_root: Path, load_run: StageRun) -> list[list]:
    """bench_graph as a child on this workspace's tables: the Neo4j loader's batch rate (and Neo4j when set)."""
    patents = Workspace(workspace_root).read("patents", columns=["publication_number"]).num_rows
    rows = [["graph load: embedded LadybugDB (load stage)", load_run.seconds,
             f"{load_run.rate:,.0f} nodes+relationships/s", f"{load_run.rows:,} rows, peak {load_run.peak_mb:,.0f} MB"]]
    try:
        child = run_child([sys.executable, str(ROOT / "bench" / "bench_graph.py"), "--keep", str(workspace_root),
                           "--patents", str(patents), "--repeats", "1"])
    except SystemExit as failed:
        return rows + [["graph load: Neo4j UNWIND batches", None, "failed", str(failed).splitlines()[0][:150]]]
    text = re.sub(r"\s+", " ", child.output)
    batches = re.search(r"Neo4j batches: ([\d,]+) parameter rows.*?transform ([\d.]+) s, batch preparation "
                        r"([\d.]+) s = ([\d,]+) rows/s", text)
    if batches:
        rows.append(["graph load: Neo4j UNWIND batches (prepared, not sent)", float(batches[3]),
                     f"{batches[4]} rows/s", f"{batches[1]} parameter rows; transform {batches[2]} s before"])
    else:
        rows.append(["graph load: Neo4j UNWIND batches", None, "not found in bench_graph output", ""])
    neo4j = re.search(r"Neo4j: ([\d,]+) nodes \+ relationships in ([\d.]+) s = ([\d,]+)/s", text)
    if neo4j:
        rows.append(["graph load: Neo4j server", float(neo4j[2]), f"{neo4j[3]} rows/s", f"{neo4j[1]} rows"])
    else:
        rows.append(["graph load: Neo4j server", None, "not run", "NEO4J_URI not set"])
    return rows


def compare_pagerank(workspace_root: Path) -> list[list]:
    """Our scipy power iteration vs networkx.pagerank on the same citation graph (both on the probability scale)."""
    import networkx as nx
    import numpy as np

    from graph.ranking.features import citation_edges, pagerank

    patents = Workspace(workspace_root).read("patents", columns=["publication_number", "cited_publications"])
    started = time.perf_counter()
    source, target = citation_edges(patents["publication_number"], patents["cited_publications"])
    edges_s = time.perf_counter() - started
    n = patents.num_rows
    started = time.perf_counter()
    ours = pagerank(n, source, target) / n
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    citations = nx.DiGraph()
    citations.add_nodes_from(range(n))
    citations.add_edges_from(zip(source.tolist(), target.tolist(), strict=True))
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    theirs = nx.pagerank(citations, alpha=0.85)
    theirs_s = time.perf_counter() - started
    difference = float(np.abs(ours - np.array([theirs[i] for i in range(n)])).max())
    return [
        ["PageRank: ours (scipy sparse)", ours_s, f"max |Δ| {difference:.2e} vs networkx",
         f"{n:,} patents, {citations.number_of_edges():,} citations; edges from the table {edges_s:.1f} s"],
        ["PageRank: networkx.pagerank", theirs_s, f"max rank {max(theirs.values()):.2e}",
         f"+ {build_s:.1f} s to build the DiGraph"],
    ]


# --- output -------------------------------------------------------------------------------------
STAGE_COLUMNS = ("stage", "size", "input rows", "time s", "cpu s", "rows/s", "peak RSS MB", "load avg", "growth exp. / failure")
SIDE_COLUMNS = ("comparison", "time s", "result", "notes")


def stage_cells(run: StageRun) -> list[str]:
    growth = "" if run.growth is None else f"{run.growth:.2f}"
    if run.failure:
        growth = run.failure if len(run.failure) < 90 else run.failure[:87] + "..."
    return [run.stage, label(run.size), f"{run.rows:,}", f"{run.seconds:,.1f}", f"{run.cpu:,.1f}",
            f"{run.rate:,.0f}", f"{run.peak_mb:,.0f}", f"{run.load:.1f}", growth]


def side_cells(row: list) -> list[str]:
    name, seconds, result, notes = row
    return [name, "" if seconds is None else f"{seconds:,.2f}" if seconds < 10 else f"{seconds:,.1f}", result, notes]


def print_rich(title: str, columns: tuple, rows: list[list[str]]) -> None:
    table = Table(title=title, box=None)
    for column in columns:
        table.add_column(column, justify="left" if column in ("stage", "comparison", "result", "notes") else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def markdown(columns: tuple, rows: list[list[str]]) -> str:
    align = ["---" if c in ("stage", "comparison", "result", "notes") else "---:" for c in columns]
    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def targets(runs: list[StageRun]) -> list[str]:
    """The issue's targets, judged on the largest size's whole-pipeline row (and the smallest for growth)."""
    whole = sorted((r for r in runs if r.stage == "whole pipeline"), key=lambda r: r.size)
    if not whole:
        return []
    small, big = whole[0], whole[-1]
    if big.failure:
        return [f"{label(big.size)} patents: targets not judged, the pipeline did not complete ({big.failure})"]
    lines = [f"{label(big.size)} patents: whole pipeline {big.seconds:,.0f} s (target < {TARGET_SECONDS} s, "
             f"{'met' if big.seconds < TARGET_SECONDS else 'NOT met'}); peak RSS {big.peak_mb:,.0f} MB "
             f"(target < {TARGET_PEAK_MB:,} MB, {'met' if big.peak_mb < TARGET_PEAK_MB else 'NOT met'})"]
    if big.size > small.size:
        growth = exponent(small, big)
        lines.append(f"growth exponent {label(small.size)} → {label(big.size)}: {growth:.2f} "
                     f"(target ≤ {TARGET_EXPONENT}, {'met' if growth <= TARGET_EXPONENT else 'NOT met'})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,300k,1M", help="patents per point, comma-separated (firms = 0.3x)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "patentgraph-bench",
                        help="generated inputs (kept, keyed by size + seed) and the workspaces of the last run")
    parser.add_argument("--compare-at", type=parse_size, help="size for the side-by-side rows (default: smallest)")
    parser.add_argument("--no-compare", action="store_true", help="stages only")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--markdown", action="store_true", help="also print the tables as markdown")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args()
    sizes = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    compare_at = args.compare_at or sizes[0]
    if compare_at not in sizes:
        parser.error(f"--compare-at {label(compare_at)} is not one of --sizes")
    args.cache.mkdir(parents=True, exist_ok=True)

    at_start = machine()
    console.print(f"[bold]Machine at start[/]: {describe(at_start)}")
    runs: list[StageRun] = []
    workspaces: dict[int, tuple[Path, Path]] = {}
    for size in sizes:
        data = generated(args.cache, size, args.seed)
        workspace_root = args.cache / f"ws-{data.name}"
        console.print(f"[bold]{label(size)} patents[/] ({data.name}), workspace {workspace_root}")
        runs.extend(run_pipeline(workspace_root, data, size))
        workspaces[size] = (workspace_root, data)
    add_growth(runs)

    side: list[list] = []
    if not args.no_compare:
        workspace_root, data = workspaces[compare_at]
        console.print(f"[bold]Side by side at {label(compare_at)} patents[/] (load {os.getloadavg()[0]:.1f})")
        load_run = next(r for r in runs if r.size == compare_at and r.stage == "load")
        side += compare_matching(args.cache, workspace_root, data, compare_at, not args.no_splink)
        side += compare_graph(workspace_root, load_run)
        side += compare_pagerank(workspace_root)
    at_end = machine()

    order = {stage: i for i, (stage, _) in enumerate(stage_commands(Path()))} | {"whole pipeline": 99}
    stage_rows = [stage_cells(r) for r in sorted(runs, key=lambda r: (order[r.stage], r.size))]
    side_rows = [side_cells(r) for r in side]
    print_rich("patentgraph, stage by stage (time = the stage's own work; peak RSS = its child process)",
               STAGE_COLUMNS, stage_rows)
    for line in targets(runs):
        console.print(line)
    if side_rows:
        print_rich(f"Side by side at {label(compare_at)} patents", SIDE_COLUMNS, side_rows)
    console.print(f"[bold]Machine at start[/]: {describe(at_start)}")
    console.print(f"[bold]Machine at end[/]:   {describe(at_end)}")
    if args.markdown:
        print()
        print(markdown(STAGE_COLUMNS, stage_rows))
        print()
        print("\n".join(f"- {line}" for line in targets(runs)))
        if side_rows:
            print()
            print(markdown(SIDE_COLUMNS, side_rows))
        print()
        print(f"Machine: {describe(at_start)} at start; load {' / '.join(f'{x:.2f}' for x in at_end['load'])} "
              "at end.")
    if args.json:
        args.json.write_text(json.dumps({"machine_start": at_start, "machine_end": at_end, "compare_at": compare_at,
                                         "stages": [dataclasses.asdict(r) for r in runs], "side_by_side": side},
                                        indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
