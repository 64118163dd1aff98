"""Matching at scale, against two baselines, on the generator's labels.

    .venv/bin/python bench/bench_matching.py                    # 1M patents / 300k firms, plus 100k and 300k points
    .venv/bin/python bench/bench_matching.py --size 100000      # one point
    .venv/bin/python bench/bench_matching.py --no-splink        # skip the splink row
    .venv/bin/python bench/bench_matching.py --workers 1 2      # ours serial and in 2 processes (rows compared)
    .venv/bin/python bench/bench_matching.py --real             # the labelled sets of ../shared/data instead

Generated data and its ingested workspace are cached in --cache (default: the system temp dir,
`patentgraph-bench-matching/`): 1M patents take ~12 min to generate and ~15 min to ingest on 2
busy cores, and are reused by later runs. Each method runs in its own child process, so its wall
time, CPU time and peak memory are its own. Ours forks workers (PATENTGRAPH_WORKERS): its CPU time
adds the workers' (RUSAGE_CHILDREN). Memory: the method's own peak (VmHWM), the largest worker's peak
(ru_maxrss of RUSAGE_CHILDREN; it includes pages still shared with the parent, so the two do not add
up) and the peak PSS of the whole process tree, sampled every 0.25 s by the parent (shared pages split
between the sharers: the memory the run holds). Timed: `run_matching` alone (reads
patents + firms, writes applicants/filings/matches); the exact baseline from the applicants table ours wrote;
splink from the patents and the firm register, like ours: the applicants built by ours' own code
(`build_applicants`: names split per patent, types, places), then normalise, block, train, predict.

Labels are split in two halves by a hash of the applicant name: splink's m values and its
threshold come from the tuning half; every method is scored on the other half, company
applicants (the issue's target). With --real, the same three methods run on the real labelled sets
built by tests/fixtures/matching/real_sets.py (label CSVs written into the cache dir, never into the
repo). Splink needs `pip install "splink>=5,<6"` (DuckDB backend); the product never imports it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fixtures.matching.tables import write_workspace  # noqa: E402

from graph.workspace import Workspace  # noqa: E402
from matching.evaluate import evaluate_links  # noqa: E402

SEED = 7
FIRMS_PER_PATENT = 0.3


# --- data -------------------------------------------------------------------------------------
def prepare(cache: Path, n_patents: int) -> Path:
    """Generated files + an ingested workspace for this size (cached)."""
    import ingest

    n_firms = int(n_patents * FIRMS_PER_PATENT)
    out = cache / f"gen-{n_patents}-{n_firms}-s{SEED}"
    if not (out / "labels.csv").exists():
        started = time.perf_counter()
        ingest.generate(out, n_patents=n_patents, n_firms=n_firms, seed=SEED)
        print(f"generated {n_patents:,} patents / {n_firms:,} firms in {time.perf_counter() - started:.0f}s")
    workspace = Workspace(out / "ws")
    if not (workspace.has("patents") and workspace.has("firms")):
        started = time.perf_counter()
        ingest.ingest_patents(workspace, [out / "patents"], "ingest-patents")
        ingest.ingest_firms(workspace, [out / "firms"], "ingest-firms")
        print(f"ingested in {time.perf_counter() - started:.0f}s")
    return out


def split_labels(out: Path) -> tuple[Path, Path]:
    """labels.csv -> (tuning half, test half), by a hash of the applicant name."""
    halves = (out / "labels-tune.csv", out / "labels-test.csv")
    if all(p.exists() for p in halves):
        return halves
    with open(out / "labels.csv", encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        fields = reader.fieldnames
    for half, path in enumerate(halves):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(r for r in rows if hashlib.sha1(r["applicant_name"].encode()).digest()[0] % 2 == half)
    return halves


# --- methods (each in a child process) ----------------------------------------------------------
def run_ours(out: Path) -> dict:
    from matching import run_matching

    report = run_matching(Workspace(out / "ws"), "bench-match")
    return {"applicants": report.applicants, "filings": report.filings}


def run_exact(out: Path) -> dict:
    """Naive baseline: the applicant's normalised name equals exactly one firm's normalised current name."""
    from matching import normalize_name

    workspace = Workspace(out / "ws")
    apps = workspace.read_df("applicants", columns=["applicant_id", "normalized_name"])
    firms = workspace.read_df("firms", columns=["firm_id", "name"])
    firms["normalized_name"] = [normalize_name(n) for n in firms["name"].tolist()]
    unique = firms.drop_duplicates("normalized_name", keep=False)
    links = apps.merge(unique[["normalized_name", "firm_id"]], on="normalized_name")[["applicant_id", "firm_id"]]
    links.to_parquet(out / "pred-exact.parquet")
    return {"links": len(links)}


def _splink_applicants(out: Path):
    """The applicants from the patents, built by the code ours uses (types, places, ids): splink starts from the
    same input as ours and pays for this step as ours does, instead of reading the table ours wrote."""
    from graph.workspace import Quarantine
    from matching.applicants import build_applicants

    patents = Workspace(out / "ws").read("patents", columns=["publication_number", "applicants",
                                                              "applicant_addresses", "application_date",
                                                              "source_file", "source_position"])
    return build_applicants(patents, Quarantine("matching"))


def _splink_tables(out: Path, built) -> tuple[pd.DataFrame, pd.DataFrame]:
    from matching.normalize import parse_name

    workspace = Workspace(out / "ws")
    apps = built.table[["applicant_id", "name", "applicant_type", "region", "city"]]
    apps = apps[apps["applicant_type"].isin(["company", "unknown"])]
    firms = workspace.read_df("firms", columns=["firm_id", "name", "former_names", "english_name", "province",
                                                 "city"])
    left = pd.DataFrame({"unique_id": apps["applicant_id"], "name": [parse_name(n).core for n in apps["name"]],
                         "province": apps["region"], "city": apps["city"]})
    # one record per firm name: current, former and English names all carry the firm's id
    names = firms[["firm_id", "name", "province", "city"]].copy()
    former = firms[["firm_id", "former_names", "province", "city"]].explode("former_names").dropna(
        subset=["former_names"]).rename(columns={"former_names": "name"})
    english = firms[["firm_id", "english_name", "province", "city"]].dropna(subset=["english_name"]).rename(
        columns={"english_name": "name"})
    right = pd.concat([names, former, english], ignore_index=True)
    right["unique_id"] = right["firm_id"] + "#" + right.index.astype(str)
    right["name"] = [parse_name(n).core for n in right["name"]]
    for col in ("province", "city"):
        right[col] = right[col].astype("string").str.replace(r"(省|市|自治区|特别行政区)$", "", regex=True)
    for frame in (left, right):
        frame["prefix"] = frame["name"].str.slice(0, 2)
    return left, right[["unique_id", "firm_id", "name", "province", "city", "prefix"]]


def run_splink(out: Path) -> dict:
    """splink 5, DuckDB backend: block on the exact name and on name prefix + province;
    Jaro-Winkler levels on the normalised name, exact province and city; u by random sampling, m from the
    tuning half's labelled pairs; the match threshold is picked on the tuning half by the parent."""
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    built = _splink_applicants(out)
    left, right = _splink_tables(out, built)
    db = DuckDBAPI()
    apps_sdf = db.register(left, table_name="applicants")
    firms_sdf = db.register(right.drop(columns=["firm_id"]), table_name="firms")
    tune = pd.read_csv(out / "labels-tune.csv", dtype=str, keep_default_na=False)
    tune = tune[(tune["expected_firm_id"] != "NONE") & (tune["applicant_type"] == "company")]
    current = right.drop_duplicates("firm_id")[["firm_id", "unique_id"]]
    apps = built.filings[["raw_name", "applicant_id"]].drop_duplicates("raw_name")
    pairs = tune.merge(apps, left_on="applicant_name", right_on="raw_name").merge(
        current, left_on="expected_firm_id", right_on="firm_id")
    labels = pd.DataFrame({"source_dataset_l": "applicants", "unique_id_l": pairs["applicant_id"],
                           "source_dataset_r": "firms", "unique_id_r": pairs["unique_id"], "clerical_match_score": 1.0})
    labels = labels[labels["unique_id_l"].isin(set(left["unique_id"]))].drop_duplicates()
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.95, 0.9, 0.8]),
            cl.ExactMatch("province"),
            cl.ExactMatch("city"),
        ],
        blocking_rules_to_generate_predictions=[
            # name + its first two characters within a province: 3.4M pairs at 1M patents; a rule on the last
            # characters (generic words: 科技, 智能) or on the middle ones blocks 10^8 pairs and exhausts memory
            block_on("name"), block_on("prefix", "province"),
        ],
        retain_intermediate_calculation_columns=False,
        # prior from the labels: the tuning half's links, doubled for the whole set, among all pairs
        probability_two_random_records_match=max(2 * len(labels), 1) / (len(left) * len(right)),
    )
    linker = Linker([apps_sdf, firms_sdf], settings)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    if len(labels):  # a set with only NONE labels keeps splink's default m values
        linker.training.estimate_m_from_pairwise_labels(db.register(labels, table_name="pair_labels"))
    predictions = linker.inference.predict(threshold_match_probability=0.05).as_pandas_dataframe()
    firm_of = dict(zip(right["unique_id"], right["firm_id"], strict=True))
    predictions["firm_id"] = predictions["unique_id_r"].map(firm_of)
    best = predictions.sort_values("match_probability", ascending=False).drop_duplicates("unique_id_l")
    best = best.rename(columns={"unique_id_l": "applicant_id"})[["applicant_id", "firm_id", "match_probability"]]
    best.to_parquet(out / "pred-splink.parquet")
    return {"pairs_scored": len(predictions), "label_pairs": len(labels)}


METHODS = {"ours": run_ours, "exact": run_exact, "splink": run_splink}


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM, not ru_maxrss: ru_maxrss keeps the high-water mark of
    the forked copy of the parent from before exec, so a child of a big parent would report the parent."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU of this process and of the workers it forked and joined."""
    mine, workers = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return mine.ru_utime + mine.ru_stime + workers.ru_utime + workers.ru_stime


def child(method: str, out: Path) -> None:
    wall, cpu = time.perf_counter(), _cpu_seconds()
    facts = METHODS[method](out)
    facts.update(seconds=time.perf_counter() - wall, cpu_seconds=_cpu_seconds() - cpu, peak_mb=_peak_mb(),
                 workers_peak_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    print("RESULT " + json.dumps(facts))


def _tree_pss_mb(root) -> float:
    """Proportional set size of a process and its descendants: pages shared after a fork are split between the
    sharers, so the sum is the memory the whole tree holds (0 for processes that ended meanwhile)."""
    import psutil

    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_full_info().pss
        except psutil.Error:
            continue
    return total / 2**20


# Reading a process's PSS walks its page tables (/proc/<pid>/smaps_rollup). Every 0.25 s over ours' four processes
# of several GB at 1M it slowed ours by 10-12 s (52.0 / 49.5 s against 39.4 / 39.0 s unsampled, same inputs) and
# splink, one process, not at all; every 2 s the slowdown was not measurable (39.7 s), and the peak read 5.1 GB
# against 5.4-5.5 GB sampled every 0.25 s: a short peak between samples is missed.
_PSS_EVERY = 2.0  # seconds


def measure(method: str, out: Path, workers: int | None = None) -> dict:
    """Run one method in a child process; its memory tree (child + its workers) is sampled every _PSS_EVERY s."""
    import psutil

    load = os.getloadavg()[0]
    env = {**os.environ, "PATENTGRAPH_WORKERS": str(workers)} if workers else None
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen([sys.executable, __file__, "--child", method, "--out", str(out)], stdout=stdout,
                                stderr=stderr, text=True, env=env)
        root, tree_peak = psutil.Process(proc.pid), 0.0
        while proc.poll() is None:
            try:
                tree_peak = max(tree_peak, _tree_pss_mb(root))
            except psutil.Error:  # the child ended between poll() and the sample
                pass
            try:
                proc.wait(timeout=_PSS_EVERY)
            except subprocess.TimeoutExpired:
                continue
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    result = [line for line in output.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not result:
        raise SystemExit(f"{method} failed:\n{output[-3000:]}\n{errors[-3000:]}")
    return {**json.loads(result[-1][7:]), "load": load, "tree_pss_mb": tree_peak}


# --- scoring --------------------------------------------------------------------------------------
def company(workspace: Workspace, labels: Path, links: dict) -> tuple:
    result = evaluate_links(workspace, labels, links)
    m = result.by_type["company"]
    return m.labels, m.precision, m.recall, m.f1


def links_from(path: Path, threshold: float | None = None) -> dict:
    frame = pd.read_parquet(path)
    if threshold is not None:
        frame = frame[frame["match_probability"] >= threshold]
    return {aid: (fid, "auto", 1.0) for aid, fid in zip(frame["applicant_id"], frame["firm_id"], strict=True)}


def our_links(workspace: Workspace) -> dict:
    from matching.evaluate import _predictions

    return _predictions(workspace.read_df("matches"))[0]


def prepare_real(cache: Path, build) -> Path:
    """A workspace for one real labelled set (../shared/data), with its labels.csv."""
    real = build()
    out = cache / f"real-{real.name}"
    out.mkdir(parents=True, exist_ok=True)
    write_workspace(out / "ws", real.patents(), real.firms)
    real.write_labels(out / "labels.csv")
    for half in ("labels-tune.csv", "labels-test.csv"):
        (out / half).unlink(missing_ok=True)
    return out


def _sorted_matches(workspace: Workspace) -> pd.DataFrame:
    matches = workspace.read_df("matches")
    return matches.sort_values(["applicant_id", "decision", "link_type", "firm_id"], na_position="first",
                               kind="stable").reset_index(drop=True)


def bench_point(out: Path, point: str, with_splink: bool, worker_counts: list[int | None]) -> list[list]:
    tune, test = split_labels(out)
    workspace = Workspace(out / "ws")
    rows = []
    first = None
    for workers in worker_counts:
        ours = measure("ours", out, workers)
        print(f"  ours ({workers or 'default'} workers): {ours}")
        n, p, r, f = company(workspace, test, our_links(workspace))
        full = evaluate_links(workspace, out / "labels.csv", our_links(workspace)).by_type["company"]
        notes = (f"all labels: P {full.precision:.4f} R {full.recall:.4f}; {ours['applicants']:,} applicants; "
                 f"largest worker {ours['workers_peak_mb']:,.0f} MB; process tree PSS peak {ours['tree_pss_mb']:,.0f} MB")
        matches = _sorted_matches(workspace) if len(worker_counts) > 1 else None
        if first is None:
            first = matches
        else:
            notes += f"; matches identical to the first row's: {first.equals(matches)}"
        rows.append([point, f"ours (run_matching, {workers or 'default'} workers)", ours, n, p, r, f, notes])
    exact = measure("exact", out)
    n, p, r, f = company(workspace, test, links_from(out / "pred-exact.parquet"))
    rows.append([point, "exact normalised name", exact, n, p, r, f, ""])
    if with_splink:
        spl = measure("splink", out)
        print(f"  splink: {spl}")
        grid = [0.05, 0.2, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999]
        tuned = {t: company(workspace, tune, links_from(out / "pred-splink.parquet", t))[3] for t in grid}
        best = max(grid, key=lambda t: tuned[t])
        n, p, r, f = company(workspace, test, links_from(out / "pred-splink.parquet", best))
        rows.append([point, "splink (DuckDB)", spl, n, p, r, f,
                     f"threshold {best} (tuning-half F1 {tuned[best]:.4f}); {spl['pairs_scored']:,} pairs"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, nargs="*", default=[100_000, 300_000, 1_000_000],
                        help="patents per point (firms = 0.3 x patents)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "patentgraph-bench-matching")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--workers", type=int, nargs="*", default=[None],
                        help="run ours once per worker count (default: PATENTGRAPH_WORKERS or min(2, cores))")
    parser.add_argument("--real", action="store_true", help="the labelled sets of ../shared/data instead")
    parser.add_argument("--child", choices=sorted(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out)
        return
    from rich.console import Console
    from rich.table import Table

    args.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    if args.real:
        from fixtures.matching.real_sets import REAL_SETS

        for build in REAL_SETS:
            try:
                out = prepare_real(args.cache, build)
            except FileNotFoundError as missing:
                print(f"skipped {build.__name__}: {missing}")
                continue
            rows.extend(bench_point(out, out.name.removeprefix("real-"), not args.no_splink, args.workers))
    for size in [] if args.real else args.size:
        rows.extend(bench_point(prepare(args.cache, size), f"{size:,}", not args.no_splink, args.workers))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    table = Table(title=f"matching, company applicants, test half of the labels — {os.cpu_count()} cores, "
                        f"{memory:.0f} GB RAM", box=None)
    for col in ("data", "method", "wall s", "cpu s", "peak MB", "load", "labels", "precision", "recall", "F1",
                "notes"):
        table.add_column(col, justify="left" if col in ("method", "notes") else "right")
    for size, method, facts, n, p, r, f, notes in rows:
        table.add_row(size, method, f"{facts['seconds']:.1f}", f"{facts['cpu_seconds']:.1f}",
                      f"{facts['peak_mb']:.0f}", f"{facts['load']:.1f}", f"{n:,}", f"{p:.4f}", f"{r:.4f}", f"{f:.4f}",
                      notes)
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
