"""Ingest throughput and peak memory per input format.

    .venv/bin/python bench/bench_ingest.py [--patents 200000] [--xml-mb 300] [--big-csv-mb 1000]
                                           [--patentsview 100000] [--keep DIR] [--big-csv-only]

Inputs are built in a scratch folder: the demo generator's CNIPA CSV (UTF-8 BOM), incoPat CSV
(GB18030) and PatSnap XLSX at `--patents`; a large CNIPA CSV made by repeating the generated
rows under fresh publication numbers (`--big-csv-mb`, the flat-memory check); and a USPTO
weekly-style XML file made by repeating the real excerpts in ../shared/data/uspto_grant_xml_pvdb
with fresh document numbers (`--xml-mb`); a generated PatentsView bulk set (g_patent and seven
tables joined on patent_id, `--patentsview` patents). Each ingest runs in its own process, into a fresh
workspace, so its peak RSS is its own; the load average is printed before and after it (2 cores are
shared). `--big-csv-only` measures the large CNIPA CSV alone. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_XML = ROOT / ".." / "shared" / "data" / "uspto_grant_xml_pvdb"


def run_one(kind: str, path: Path, workspace: Path) -> dict:
    """Ingest one file (called in a child process) and return its figures."""
    from graph.workspace import Workspace, return_freed_memory
    from ingest import ingest_firms, ingest_patents

    return_freed_memory()  # the memory pool the CLI uses

    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    if kind == "xlsx-rows":  # the streaming XLSX reader alone: every row of the first sheet
        from ingest.xlsx import XlsxWorkbook

        started, cpu_started = time.perf_counter(), os.times()
        with open(path, "rb") as handle:
            book = XlsxWorkbook(handle)
            rows = sum(1 for _ in book.rows(book.sheets[0]))
        seconds, cpu = time.perf_counter() - started, os.times()
        return {"seconds": seconds, "cpu_seconds": cpu.user + cpu.system - cpu_started.user - cpu_started.system,
                "read": rows, "written": rows, "quarantined": 0, "records": rows, "bytes": size,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    ingest = ingest_patents if kind == "patents" else ingest_firms
    started, cpu_started = time.perf_counter(), os.times()
    report = ingest(Workspace(workspace), [path], "bench")
    seconds, cpu = time.perf_counter() - started, os.times()
    return {"seconds": seconds, "cpu_seconds": cpu.user + cpu.system - cpu_started.user - cpu_started.system,
            "read": report.read, "written": report.written, "quarantined": report.quarantined,
            "records": report.records, "bytes": size,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(kind: str, path: Path, scratch: Path) -> dict:
    workspace = Path(tempfile.mkdtemp(prefix="ws-", dir=scratch))
    env = {**os.environ, "PATENTGRAPH_NO_PROGRESS": "1"}
    out = subprocess.run([sys.executable, __file__, "--run", kind, str(path), str(workspace)], check=True,
                         capture_output=True, text=True, env=env, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def big_csv(source: Path, target: Path, megabytes: int) -> Path:
    """The generated CNIPA rows, repeated with fresh publication numbers until `megabytes`."""
    lines = source.read_bytes().split(b"\n")
    header, rows = lines[0], [line for line in lines[1:] if line.strip()]
    wanted = megabytes * 1_000_000
    serial = 0
    with open(target, "wb") as out:
        out.write(header + b"\n")
        written = len(header)
        while written < wanted:
            for row in rows:
                number, sep, rest = row.partition(b",")
                if number.strip() and not number.startswith(b'"'):
                    serial += 1
                    number = b"CN%09dA" % (300_000_000 + serial)
                line = number + sep + rest + b"\n"
                out.write(line)
                written += len(line)
                if written >= wanted:
                    break
    return target


def weekly_xml(target: Path, megabytes: int) -> Path | None:
    """Real USPTO weekly excerpts, repeated with fresh publication numbers until `megabytes`."""
    sources = sorted(SHARED_XML.glob("ipg*.xml")) if SHARED_XML.is_dir() else []
    if not sources:
        return None
    documents = []
    for source in sources:
        text = source.read_bytes()
        documents += [b"<?xml" + part for part in text.split(b"<?xml")[1:]]
    number = re.compile(rb"(<publication-reference>\s*<document-id>\s*<country>US</country>\s*<doc-number>)[^<]+")
    wanted = megabytes * 1_000_000
    written = serial = 0
    with open(target, "wb") as out:
        while written < wanted:
            for document in documents:
                serial += 1
                document = number.sub(lambda m, s=serial: m.group(1) + b"%08d" % (20_000_000 + s), document, count=1)
                out.write(document)
                written += len(document)
                if written >= wanted:
                    break
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patents", type=int, default=200_000)
    parser.add_argument("--xml-mb", type=int, default=300)
    parser.add_argument("--big-csv-mb", type=int, default=1000)
    parser.add_argument("--patentsview", type=int, default=100_000, help="patents in the generated bulk set (0: none)")
    parser.add_argument("--keep", type=Path, help="build inputs here and keep them (default: a temporary folder)")
    parser.add_argument("--big-csv-only", action="store_true", help="measure only the large CNIPA CSV")
    parser.add_argument("--run", nargs=3, metavar=("KIND", "PATH", "WORKSPACE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # the code beside this script, not whichever checkout the venv installed
    if args.run:
        kind, path, workspace = args.run
        print(json.dumps(run_one(kind, Path(path), Path(workspace))))
        return

    import psutil
    from rich.console import Console
    from rich.table import Table

    from ingest import generate

    console = Console(width=170)
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    scratch.mkdir(parents=True, exist_ok=True)
    console.print(f"building inputs in {scratch} …")
    started = time.perf_counter()
    dataset = generate(scratch / "generated", n_patents=args.patents, n_firms=max(800, args.patents // 60), seed=1)
    patents = {p.name: p for p in dataset.patent_files}
    firms = {p.name: p for p in dataset.firm_files}
    inputs = [] if args.big_csv_only else [
        ("CNIPA CSV, UTF-8 BOM", "patents", patents["cnipa_export.csv"]),
        ("incoPat CSV, GB18030", "patents", patents["incopat_export.csv"]),
        ("PatSnap XLSX", "patents", patents["patsnap_export.xlsx"]),
        ("registry CSV", "firms", firms["registry_extra.csv"]),
        ("registry XLSX", "firms", firms["registry.xlsx"]),
        ("registry XLSX, reader alone", "xlsx-rows", firms["registry.xlsx"]),
    ]
    if args.patentsview and not args.big_csv_only:
        from ingest.generator import patentsview_bulk

        bulk = patentsview_bulk(scratch / "patentsview", args.patentsview, seed=1)
        inputs.append((f"PatentsView bulk set, {args.patentsview:,} patents", "patents", bulk))
    if args.big_csv_mb:
        big = big_csv(patents["cnipa_export.csv"], scratch / "cnipa_big.csv", args.big_csv_mb)
        inputs.append((f"CNIPA CSV, {args.big_csv_mb} MB", "patents", big))
    xml = weekly_xml(scratch / "ipg_weekly.xml", args.xml_mb) if args.xml_mb and not args.big_csv_only else None
    if xml is not None:
        inputs.append((f"USPTO grant XML, {args.xml_mb} MB", "patents", xml))
    elif not args.big_csv_only:
        console.print("[yellow]../shared/data/uspto_grant_xml_pvdb not present: no XML figure[/]")
    console.print(f"inputs built in {time.perf_counter() - started:.0f} s")

    table = Table(title="ingest throughput (each run in a fresh process and workspace)")
    for column in ("input", "size MB", "records read", "quarantined", "seconds", "CPU s", "MB/s", "records/s",
                   "peak RSS MB", "load avg (1 min) before → after"):
        table.add_column(column, justify="left" if column == "input" else "right")
    for label, kind, path in inputs:
        load_before = os.getloadavg()[0]
        figures = measure(kind, path, scratch)
        megabytes = figures["bytes"] / 1e6
        table.add_row(label, f"{megabytes:,.1f}", f"{figures['read']:,}", f"{figures['quarantined']:,}",
                      f"{figures['seconds']:.1f}", f"{figures.get('cpu_seconds', float('nan')):.1f}",
                      f"{megabytes / figures['seconds']:.1f}",
                      f"{figures['read'] / figures['seconds']:,.0f}", f"{figures['peak_rss_mb']:,.0f}",
                      f"{load_before:.1f} → {os.getloadavg()[0]:.1f}")
    console.print(table)
    memory = psutil.virtual_memory().total / 2**30
    console.print(f"machine: {os.cpu_count()} cores, {memory:.1f} GiB RAM, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
