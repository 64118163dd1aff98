"""Ranking throughput: synthetic firms spread over every node of the four shipped chains.

    .venv/bin/python bench/bench_ranking.py                 # 300,000 firms, ~3 patents each
    .venv/bin/python bench/bench_ranking.py --firms 50000   # smaller

Synthetic workspace, written straight into the contract tables: each firm has one applicant
(auto link, confidence 0.9–1), a home chain and 1–3 home nodes; its patents (geometric count,
mean `--patents-per-firm`) fall in those nodes; each patent cites 0–4 earlier patents, newer ones
preferring the recent past. Statuses, size bands, ages and capital are drawn so that every
eligibility rule fires. Prints the time of `rank_firms` (read, PageRank, features, scores,
reasons, write), its CPU time (what it would take without other jobs on the cores), and the PageRank
part alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.ranking import rank_firms  # noqa: E402
from graph.workspace import Workspace  # noqa: E402
from industry_chains import load_chains  # noqa: E402


def _tech_nodes() -> pd.DataFrame:
    rows = []
    for chain in load_chains():
        for node in chain.nodes:
            rows.append({"chain_id": chain.id, "chain_name_zh": chain.name_zh, "chain_name_en": chain.name_en,
                         "node_id": node.id, "parent_id": node.parent_id, "name_zh": node.name_zh,
                         "name_en": node.name_en, "level": node.level, "segment": node.segment,
                         "expression": None, "weight": node.weight})
    return pd.DataFrame(rows)


def _lists(offsets: np.ndarray, values: np.ndarray) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets.astype("int32")), pa.array(values, pa.string()))


def synthesise(ws: Workspace, n_firms: int, per_firm: float, seed: int) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    nodes = _tech_nodes()
    firm_ids = np.char.add("91", np.char.zfill(np.arange(n_firms).astype(str), 16))
    statuses = rng.choice(["operating", "deregistered", "revoked", "liquidating"], n_firms, p=[0.9, 0.07, 0.02, 0.01])
    sizes = rng.choice(["micro", "small", "medium", "large", None], n_firms, p=[0.4, 0.35, 0.15, 0.05, 0.05])
    established = pd.to_datetime("1995-01-01") + pd.to_timedelta(rng.integers(0, 10_000, n_firms), unit="D")
    ws.write("firms", pd.DataFrame({
        "firm_id": firm_ids, "name": np.char.add("科技有限公司", np.arange(n_firms).astype(str)),
        "former_names": [[]] * n_firms, "status": statuses, "established_date": established.date,
        "registered_capital": rng.lognormal(6, 1.5, n_firms), "size_band": sizes,
        "employees": rng.integers(0, 2000, n_firms), "province": "广东省", "city": "深圳市", "source_file": "bench",
        "source_position": np.arange(n_firms),
    }), "bench")
    applicant_ids = np.char.add("A", np.arange(n_firms).astype(str))
    ws.write("applicants", pd.DataFrame({
        "applicant_id": applicant_ids, "name": applicant_ids, "raw_variants": [[]] * n_firms,
        "normalized_name": applicant_ids, "applicant_type": "company", "patent_count": 1,
    }), "bench")
    ws.write("matches", pd.DataFrame({
        "applicant_id": applicant_ids, "firm_id": firm_ids, "score": rng.uniform(0.75, 1.0, n_firms),
        "decision": "auto", "link_type": "direct", "evidence": "{}", "method_version": "bench",
    }), "bench")

    counts = np.minimum(rng.geometric(1 / per_firm, n_firms), 60)
    n = int(counts.sum())
    owner = np.repeat(np.arange(n_firms), counts)
    order = np.argsort(rng.random(n))  # filing order across firms
    owner = owner[order]
    years = np.sort(rng.integers(2008, 2025, n))
    pubs = np.char.add("CN", np.char.add(np.arange(n).astype(str), "A"))
    types = rng.choice(["invention", "utility_model", "design"], n, p=[0.6, 0.33, 0.07])
    kinds = np.where(types == "invention", rng.choice(["A", "B"], n), np.where(types == "design", "S", "U"))
    cites = rng.integers(0, 5, n)
    back = np.maximum(1, (rng.pareto(1.2, cites.sum()) * 200).astype(int))
    cited_index = np.maximum(0, np.repeat(np.arange(n), cites) - back)
    offsets = np.concatenate([[0], np.cumsum(cites)])
    dates = pd.to_datetime(pd.DataFrame({"year": years, "month": 6, "day": 1})).dt.date
    no_strings = _lists(np.zeros(n + 1), np.array([], dtype=object))
    ws.write("patents", pa.table({
        "publication_number": pubs, "kind": kinds, "patent_type": types, "application_date": dates,
        "publication_date": dates, "ipc": no_strings, "cpc": no_strings, "applicants": no_strings,
        "applicant_addresses": no_strings, "inventors": no_strings,
        "cited_publications": _lists(offsets, pubs[cited_index]), "claims_count": rng.integers(3, 25, n),
        "source_file": np.full(n, "bench"), "source_position": np.arange(n),
    }), "bench")
    ws.write("filings", pd.DataFrame({"publication_number": pubs, "position": 1, "applicant_id": applicant_ids[owner],
                                      "raw_name": applicant_ids[owner]}), "bench")
    # Home nodes: a chain per firm, then 1–3 of its nodes; each patent lands in one home node.
    chain_nodes = {c: g.index.to_numpy() for c, g in nodes.groupby("chain_id")}
    chains = list(chain_nodes)
    home_chain = rng.integers(0, len(chains), n_firms)
    home = np.empty((n_firms, 3), dtype=np.int64)
    for i, chain in enumerate(chains):
        mine = home_chain == i
        home[mine] = rng.choice(chain_nodes[chain], (mine.sum(), 3))
    spread = rng.integers(1, 4, n_firms)
    node_index = home[owner, rng.integers(0, 3, n) % spread[owner]]
    ws.write("node_patents", pd.DataFrame({
        "chain_id": nodes["chain_id"].to_numpy()[node_index], "node_id": nodes["node_id"].to_numpy()[node_index],
        "publication_number": pubs, "matched_rule": "bench",
    }), "bench")
    ws.write("tech_nodes", nodes, "bench")
    return {"firms": n_firms, "patents": n, "citations": int(cites.sum()), "nodes": len(nodes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--firms", type=int, default=300_000)
    parser.add_argument("--patents-per-firm", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory(prefix="bench-ranking-") as tmp:
        ws = Workspace(tmp)
        start = time.perf_counter()
        sizes = synthesise(ws, args.firms, args.patents_per_firm, args.seed)
        synthesis = time.perf_counter() - start
        load_before = os.getloadavg()[0]
        cpu_start = time.process_time()
        report = rank_firms(ws, "bench-rank")
        cpu = time.process_time() - cpu_start
        load_after = os.getloadavg()[0]
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30

    table = Table(title=f"rank_firms on synthetic data ({os.cpu_count()} cores, {ram:.1f} GiB RAM)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in sizes.items():
        table.add_row(key, f"{value:,}")
    table.add_row("synthesis + table writes", f"{synthesis:.1f} s")
    table.add_row("firm-node pairs considered", f"{report.pairs_considered:,}")
    table.add_row("ranked / excluded pairs", f"{report.firm_rows:,} / {report.excluded_pairs:,}")
    table.add_row("nodes ranked", f"{report.nodes_ranked:,}")
    table.add_row("of which citation PageRank", f"{report.pagerank_seconds:.1f} s")
    table.add_row("[bold]rank_firms total[/bold]", f"[bold]{report.seconds:.1f} s[/bold]")
    table.add_row("rank_firms CPU time (this process)", f"{cpu:.1f} s")
    table.add_row("load average (1 min) before / after", f"{load_before:.2f} / {load_after:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
