"""A weekly refresh against the full rebuild: 1 % new patents and 1 % registry changes.

    .venv/bin/python bench/bench_refresh.py --size 100k                     # develop
    .venv/bin/python bench/bench_refresh.py --size 1M --keep /tmp/pg-bench-refresh-1M

The base workspace is the whole pipeline over the generated inputs (seed 7, firms = 30 % of patents):
taken from `bench/run_all.py`'s cache (<cache>/ws-p<N>-f<F>-seed7) when it is there, else built with
`patentgraph` stage by stage. Its run ledger gives the full-rebuild seconds (sum of the stages'
seconds). The base is copied to --keep (kept between runs, never changed by the refresh) and each
measurement refreshes a fresh copy of it.

The delta (seeded): 1 % new patents — re-filings of existing patents' applicants with new numbers,
plus patents of the new firms — and registry changes for 1 % of the firms: renames (old name kept as
曾用名), deregistrations (注销), revocations (吊销) and new firms named from the generator's vocabulary.
Prints full-rebuild seconds, the refresh's seconds per step, and the ratio.

The base's ledger may come from another sitting at another load average (a base built at load 8 made
a refresh at load 1 look 4× better than it was). `--rebuild` also times the whole pipeline over the
same inputs — the base's input files (from its ledger) plus the delta — in a fresh workspace
(<keep>-rebuild) right after the refresh, and prints both ratios with each run's load average and cpu
seconds: that ratio is the honest one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.workspace import Workspace  # noqa: E402
from ingest import _gen_vocab as vocab  # noqa: E402
from ingest.generator import REGISTRY_HEADERS, USCC_CHARS, uscc_check_char  # noqa: E402

CLI = str(Path(sys.executable).with_name("patentgraph"))
SIZES = {"10k": 10_000, "100k": 100_000, "300k": 300_000, "1M": 1_000_000}
FULL_STAGES = ("ingest-firms", "ingest-patents", "match", "classify", "rank", "load")
TARGET_RATIO = 0.10
CHANGE_MIX = (("rename", 0.4), ("deregister", 0.25), ("revoke", 0.1), ("new", 0.25))


def run(args: list[str], env: dict | None = None) -> None:
    subprocess.run([CLI, *args], check=True, env={**os.environ, "PATENTGRAPH_NO_PROGRESS": "1", **(env or {})})


def base_workspace(size: int, cache: Path, keep: Path, build: bool = False) -> Workspace:
    """The whole pipeline's workspace at `size`, in `keep` (copied from run_all's cache, or built)."""
    firms = int(size * 0.3)
    if (keep / "tables" / "firm_scores.parquet").exists():
        return Workspace(keep)
    cached = cache / f"ws-p{size}-f{firms}-seed7"
    if not build and (cached / "graph" / "CURRENT").exists():
        print(f"copying the cached whole-pipeline workspace {cached} to {keep}", flush=True)
        shutil.copytree(cached, keep, symlinks=True)
    else:
        inputs = cache / f"p{size}-f{firms}-seed7"
        if not (inputs / "patents").exists():
            print(f"generating inputs in {inputs}", flush=True)
            from ingest import generate

            generate(inputs, n_patents=size, n_firms=firms, seed=7)
        print(f"building the whole pipeline in {keep}", flush=True)
        run(["--workspace", str(keep), "ingest", "--firms", str(inputs / "firms")])
        run(["--workspace", str(keep), "ingest", "--patents", str(inputs / "patents")])
        for stage in ("match", "classify", "rank", "load"):
            run(["--workspace", str(keep), stage])
    ws = Workspace(keep)
    from graph.pipeline import classified_with

    if classified_with(ws) is None:  # built before classification recorded its chain files: record them
        print("re-running classify once so node_patents records the chain files it was made with", flush=True)
        run(["--workspace", str(keep), "classify"])
        if (keep / "refresh").exists():
            shutil.rmtree(keep / "refresh")
    return ws


def full_rebuild_seconds(ws: Workspace) -> dict[str, float]:
    """The first run of each whole-pipeline stage in the base workspace's ledger."""
    seconds: dict[str, float] = {}
    for entry in ws.runs():
        if entry["stage"] in FULL_STAGES and entry["stage"] not in seconds:
            seconds[entry["stage"]] = entry["seconds"]
    missing = set(FULL_STAGES) - set(seconds)
    if missing:
        raise SystemExit(f"{ws.root}: the run ledger has no {', '.join(sorted(missing))} run")
    return seconds


def base_inputs(ws: Workspace) -> dict[str, list[str]]:
    """The files the base workspace was built from: its first ingest runs' inputs (run ledger)."""
    inputs: dict[str, list[str]] = {}
    for entry in ws.runs():
        kind = {"ingest-firms": "firms", "ingest-patents": "patents"}.get(entry["stage"])
        if kind and kind not in inputs:
            inputs[kind] = entry.get("inputs") or []
    for kind in ("firms", "patents"):
        if not inputs.get(kind):
            raise SystemExit(f"{ws.root}: the run ledger does not name the {kind} files the base was built from")
        missing = [path for path in inputs[kind] if not Path(path).exists()]
        if missing:
            raise SystemExit(f"{ws.root}: the base's {kind} input {missing[0]} is gone; --rebuild needs it")
    return inputs


def time_rebuild(base: Workspace, folder: Path, new_patents: Path, registry: Path) -> dict:
    """The whole pipeline over the base's inputs plus the delta, in a fresh workspace `folder`."""
    if folder.exists():
        shutil.rmtree(folder)
    inputs = base_inputs(base)
    load_before = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    workspace = ["--workspace", str(folder)]
    run([*workspace, "ingest", *(arg for path in [*inputs["firms"], registry] for arg in ("--firms", str(path)))])
    run([*workspace, "ingest", *(arg for path in [*inputs["patents"], new_patents] for arg in ("--patents", str(path)))])
    for stage in ("match", "classify", "rank", "load"):
        run([*workspace, stage])
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    stages = full_rebuild_seconds(Workspace(folder))
    return {"stages": stages, "seconds": sum(stages.values()), "wall": wall,
            "cpu": usage.ru_utime + usage.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime,
            "load": [load_before, os.getloadavg()]}


def _load(pair: list) -> str:
    (b1, b5, b15), (a1, a5, a15) = pair
    return f"load average {b1:.2f} / {b5:.2f} / {b15:.2f} before, {a1:.2f} / {a5:.2f} / {a15:.2f} after"


def write_delta(ws: Workspace, folder: Path, share: float, seed: int) -> tuple[Path, Path, dict]:
    """New patents and registry changes for `share` of the patents and firms; returns files and counts."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    firms = ws.read_df("firms", ["firm_id", "name", "status", "province", "city"])
    operating = firms[firms["status"] == "operating"].reset_index(drop=True)
    n_changes = max(4, round(len(firms) * share))
    picked = operating.sample(n=n_changes, random_state=seed).itertuples(index=False)
    counts = {kind: 0 for kind, _ in CHANGE_MIX}
    registry, new_firms = folder / "registry_update.csv", []
    with open(registry, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(REGISTRY_HEADERS))
        writer.writeheader()
        for firm in picked:
            kind = rng.choices([k for k, _ in CHANGE_MIX], [w for _, w in CHANGE_MIX])[0]
            counts[kind] += 1
            if kind == "rename":
                brand = "".join(rng.choice(vocab.BRAND_SYLLABLES)[0] for _ in range(2))
                writer.writerow({"企业名称": f"{firm.city or firm.province or ''}{brand}{firm.name[-6:]}",
                                 "统一社会信用代码": firm.firm_id, "曾用名": firm.name, "登记状态": "存续"})
            elif kind in ("deregister", "revoke"):
                writer.writerow({"企业名称": firm.name, "统一社会信用代码": firm.firm_id,
                                 "登记状态": "注销" if kind == "deregister" else "吊销", "注销日期": "2026-11-01"})
            else:
                city = rng.choice(vocab.CITIES)
                brand = "".join(rng.choice(vocab.BRAND_SYLLABLES)[0] for _ in range(2))
                words = vocab.INDUSTRY_WORDS[rng.choice([t for t in vocab.TOPICS if t in vocab.INDUSTRY_WORDS])]
                name = f"{city[1]}{brand}{rng.choice(words)[0]}{vocab.LEGAL_FORMS[0][0]}"
                code = f"91{rng.randrange(110000, 660000)}MA{''.join(rng.choices(USCC_CHARS, k=7))}"
                code += uscc_check_char(code)
                new_firms.append((name, f"{city[0]}{city[1]}高新区{rng.choice(vocab.BUILDINGS)}{rng.randrange(1, 99)}号"))
                writer.writerow({"企业名称": name, "统一社会信用代码": code, "登记状态": "存续", "成立日期": "2019-06-01",
                                 "省份": city[0], "城市": city[1], "企业规模": "小型", "地址": new_firms[-1][1]})

    patents = ws.read_df("patents", ["applicants", "applicant_addresses", "ipc", "title", "abstract"])
    n_new = max(10, round(len(patents) * share))
    own = min(len(new_firms) * 3, n_new // 4)  # a quarter at most from the new firms, 3 each
    refiled = patents.sample(n=n_new - own, random_state=seed)
    header = ["公开（公告）号", "申请号", "申请日", "公开（公告）日", "发明名称", "摘要", "申请（专利权）人", "地址",
              "主分类号", "分类号", "专利类型"]
    new_patents = folder / "new_patents.csv"
    with open(new_patents, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        serial = 0
        for row in refiled.itertuples(index=False):
            serial += 1
            ipc = list(row.ipc) or ["G06F16/00"]
            address = next((a for a in row.applicant_addresses if a), "")
            writer.writerow([f"CN3{serial:08d}A", f"CN2026{serial:07d}.X", "2025-10-20", "2025-12-20",
                             f"{row.title}（改进）", row.abstract or "", ";".join(row.applicants), address, ipc[0],
                             ";".join(ipc), "发明申请"])
        for name, address in new_firms[: own // 3]:
            for _ in range(3):
                serial += 1
                writer.writerow([f"CN3{serial:08d}A", f"CN2026{serial:07d}.X", "2025-10-20", "2025-12-20",
                                 "一种基于深度神经网络的图像识别方法", "本发明公开了一种神经网络训练方法。", name, address,
                                 "G06N3/08", "G06N3/08;G06V10/82", "发明申请"])
    return new_patents, registry, {"new_patents": serial, "registry_rows": n_changes, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="100k", choices=list(SIZES))
    parser.add_argument("--share", type=float, default=0.01, help="new patents and changed firms, as a share")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/patentgraph-bench"))
    parser.add_argument("--keep", type=Path, help="the base workspace, kept between runs (default: in --cache)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--build", action="store_true",
                        help="build the base with the current code instead of copying run_all's cached workspace "
                             "(a cache matched by an older method makes the refresh re-match everything)")
    parser.add_argument("--rebuild", action="store_true",
                        help="after the refresh, time the whole pipeline over the same inputs (base's files plus "
                             "the delta) in <keep>-rebuild, and print the ratio against it")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    size = SIZES[args.size]
    keep = args.keep or args.cache / f"refresh-base-p{size}"
    base = base_workspace(size, args.cache, keep, args.build)
    full = full_rebuild_seconds(base)

    work = keep.with_name(keep.name + "-refreshed")
    if work.exists():
        shutil.rmtree(work)
    copy_started = time.perf_counter()
    shutil.copytree(keep, work, symlinks=True)
    print(f"copied the base to {work} in {time.perf_counter() - copy_started:.1f}s", flush=True)
    new_patents, registry, delta = write_delta(Workspace(work), work.with_name(work.name + "-delta"), args.share,
                                               args.seed)
    print(f"delta: {json.dumps(delta)}", flush=True)

    load_before = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run(["--workspace", str(work), "refresh", "--patents", str(new_patents), "--firms", str(registry)])
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    # cpu seconds move less with the other engineers' load than wall seconds do
    cpu = usage.ru_utime + usage.ru_stime - cpu_before.ru_utime - cpu_before.ru_stime
    load_after = os.getloadavg()
    refreshed = Workspace(work)
    summary_run = [r for r in refreshed.runs() if r["stage"] == "refresh"][-1]
    summary = json.loads((Path(summary_run["report"]).parent / "summary.json").read_text(encoding="utf-8"))
    steps = summary["step_seconds"]
    refresh_seconds = summary["seconds"]
    rebuilt = time_rebuild(base, keep.with_name(keep.name + "-rebuild"), new_patents, registry) if args.rebuild else None

    full_total = sum(full.values())
    built_at = next(entry["finished_at"] for entry in base.runs() if entry["stage"] == "ingest-firms")
    print(f"\nsize {args.size}: {size:,} patents, {len(refreshed.read_df('firms', ['firm_id'])):,}"
          f" firms after the refresh")
    print(f"refresh:      {refresh_seconds:.1f} s  (wall with start-up {wall:.1f} s; "
          f"{', '.join(f'{k} {v:.1f}' for k, v in steps.items())}); cpu {cpu:.1f} s, peak RSS {usage.ru_maxrss / 1024:,.0f} MB;"
          f" {_load([load_before, load_after])}")
    print(f"base ledger:  {full_total:.1f} s  (built {built_at}, load then unknown; "
          f"{', '.join(f'{k} {v:.1f}' for k, v in full.items())}): refresh = {refresh_seconds / full_total:.1%}")
    ratio = refresh_seconds / (rebuilt["seconds"] if rebuilt else full_total)
    if rebuilt:
        print(f"rebuild now:  {rebuilt['seconds']:.1f} s  (wall {rebuilt['wall']:.1f} s; "
              f"{', '.join(f'{k} {v:.1f}' for k, v in rebuilt['stages'].items())}); cpu {rebuilt['cpu']:.1f} s;"
              f" {_load(rebuilt['load'])}")
        print(f"ratio:        {ratio:.1%} of the rebuild in the same sitting (cpu {cpu / rebuilt['cpu']:.1%});"
              f" target < {TARGET_RATIO:.0%}: {'met' if ratio < TARGET_RATIO else 'NOT met'}")
    else:
        print(f"ratio:        {ratio:.1%} of the base's ledger, which may come from another load (--rebuild measures"
              f" the rebuild now); target < {TARGET_RATIO:.0%}: {'met' if ratio < TARGET_RATIO else 'NOT met'}")
    print(f"changes:      {summary['changes']}")
    if args.json:
        args.json.write_text(json.dumps({"size": size, "full": full, "full_seconds": full_total,
                                         "refresh_seconds": refresh_seconds, "steps": steps, "ratio": ratio,
                                         "refresh_cpu_seconds": cpu, "rebuild": rebuilt,
                                         "delta": delta, "changes": summary["changes"],
                                         "load": [load_before, load_after]}, indent=1))


if __name__ == "__main__":
    main()
