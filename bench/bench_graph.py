"""Graph load and catalog-query latency on a synthetic workspace at scale.

    .venv/bin/python bench/bench_graph.py                    # 1,000,000 patents, 300k firms, ~5M relationships
    .venv/bin/python bench/bench_graph.py --patents 100000   # a quick check
    .venv/bin/python bench/bench_graph.py --keep /tmp/bigws  # keep (or reuse) the workspace
    .venv/bin/python bench/bench_graph.py --keep /tmp/bigws --build-only

Every size scales with --patents (N): firms 0.3 N, applicants 0.4 N, filings ~1.2 N (a fifth of the
patents have a second applicant), matches ~0.4 N, node_patents ~1.5 N over the real chains' nodes,
firm_scores 0.3 N, citations ~1 N. Applicants, cited patents, nodes and ranked firms are drawn with
power-law weights, so some firms hold tens of thousands of patents and some nodes a large share of a chain,
as in real registers. Queries run with parameters picked from the data: the busiest node, the firm with
the most patents, the largest group.

It prints: the table sizes, the embedded build (transform and per-table COPY rows/s, total), the
database file size, p50/p95 latency of every saved query, the rate at which the Neo4j loader's
`UNWIND $rows` batches are prepared, and a Neo4j load when NEO4J_URI is set.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graph.catalog import list_queries  # noqa: E402
from graph.contracts import CONTRACTS  # noqa: E402
from graph.cypher import run_cypher  # noqa: E402
from graph.embedded import read_manifest  # noqa: E402
from graph.load import build_embedded_graph, open_reader  # noqa: E402
from graph.neo4j_backend import batches, merge_nodes_query, merge_rels_query  # noqa: E402
from graph.schema import NODES, RELS  # noqa: E402
from graph.transform import graph_tables  # noqa: E402
from graph.workspace import ContractError, Workspace  # noqa: E402
from industry_chains import load_chains  # noqa: E402

console = Console(width=150)
RUN_ID = "bench-graph"
PROVINCES = ["广东省", "北京市", "上海市", "江苏省", "浙江省", "山东省", "四川省", "湖北省", "福建省", "安徽省",
             "陕西省", "湖南省", "天津市", "重庆市", "河南省", "辽宁省"]
CITIES = ["市辖区", "第一市", "第二市", "第三市", "第四市", "第五市"]


def powerlaw(rng: np.random.Generator, size: int, population: int, exponent: float) -> np.ndarray:
    """`size` indices into range(population), index k drawn with weight 1 / (k + 1) ** exponent."""
    weights = 1.0 / np.arange(1, population + 1) ** exponent
    return rng.choice(population, size=size, p=weights / weights.sum())


def strings(template: str, numbers: np.ndarray) -> pa.Array:
    return pa.array([template.format(int(n)) for n in numbers], pa.string())


def take(values: list, indices: np.ndarray, typ: pa.DataType = pa.string()) -> pa.Array:
    return pa.array(values, typ).take(pa.array(indices))


def lists(values: pa.Array, lengths: np.ndarray) -> pa.ListArray:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def constant(value, n: int, typ: pa.DataType = pa.string()) -> pa.Array:
    return pa.repeat(pa.scalar(value, typ), n) if value is not None else pa.nulls(n, typ)


def synthesise(workspace: Workspace, n_patents: int, seed: int = 7) -> dict[str, int]:
    """Write every contract table the graph reads; return rows per table."""
    rng = np.random.default_rng(seed)
    n_firms, n_applicants = int(n_patents * 0.3), int(n_patents * 0.4)
    sizes = {}

    def write(name: str, table: pa.Table) -> None:
        workspace.write(name, table, RUN_ID)
        sizes[name] = table.num_rows

    # -- chains: the real YAML files
    chains = load_chains()
    node_rows = [(c, n) for c in chains for n in c.nodes]
    write("tech_nodes", pa.table({
        "chain_id": [c.id for c, _ in node_rows], "chain_name_zh": [c.name_zh for c, _ in node_rows],
        "chain_name_en": [c.name_en for c, _ in node_rows], "node_id": [n.id for _, n in node_rows],
        "parent_id": [n.parent_id for _, n in node_rows], "name_zh": [n.name_zh for _, n in node_rows],
        "name_en": [n.name_en for _, n in node_rows], "level": pa.array([n.level for _, n in node_rows], pa.int32()),
        "segment": [n.segment for _, n in node_rows],
        "expression": [" ".join(n.expression.text.split()) if n.expression else None for _, n in node_rows],
        "weight": [float(n.weight) for _, n in node_rows],
    }))
    links = [(c.id, a, b) for c in chains for a, b in c.supply_links]
    write("supply_links", pa.table({"chain_id": [x[0] for x in links], "from_node": [x[1] for x in links],
                                    "to_node": [x[2] for x in links]}))

    # -- patents
    numbers = np.arange(n_patents) + 100_000_000
    publication = strings("CN{}A", numbers)
    app_days = rng.integers(0, 20 * 365, n_patents) + (np.datetime64("2004-01-01") - np.datetime64("1970-01-01"))
    app_date = pa.array(app_days.astype(np.int32), pa.date32())
    pub_date = pa.array((app_days + rng.integers(180, 720, n_patents)).astype(np.int32), pa.date32())
    pool = [f"{sc}{g}/{s:02d}" for sc in ("G06N", "G06V", "G06F", "H04W", "H04L", "A61K", "C12N", "B25J", "G05B",
                                            "H01L", "B23K", "G01N") for g in range(1, 40) for s in range(0, 20, 2)]
    ipc_lengths = rng.integers(1, 6, n_patents)
    ipc = lists(take(pool, powerlaw(rng, int(ipc_lengths.sum()), len(pool), 0.8)), ipc_lengths)
    cpc_lengths = rng.integers(0, 4, n_patents) * (rng.random(n_patents) < 0.4)
    cpc = lists(take(pool, rng.integers(0, len(pool), int(cpc_lengths.sum()))), cpc_lengths)
    kinds = rng.choice(3, n_patents, p=[0.6, 0.25, 0.15])
    titles = [f"一种基于{w}的{v}方法" for w in ("深度学习", "神经网络", "波束赋形", "单克隆抗体", "机械臂", "激光")
              for v in ("图像识别", "资源分配", "控制", "检测", "制备", "装置", "系统")]
    # citations: ~1 per patent, of earlier publications, preferring a power-law "famous" set
    cite_lengths = rng.poisson(1.0, n_patents)
    cited = powerlaw(rng, int(cite_lengths.sum()), n_patents, 0.7)
    cited_numbers = np.where(rng.random(cited.size) < 0.05, cited + 500_000_000, cited + 100_000_000)  # 5 % outside
    empty = lists(pa.array([], pa.string()), np.zeros(n_patents, np.int64))
    write("patents", pa.table({
        "publication_number": publication,
        "application_number": strings("CN20{}", numbers),
        "kind": take(["A", "B", "U"], kinds),
        "patent_type": take(["invention", "invention", "utility_model"], kinds),
        "title": take(titles, rng.integers(0, len(titles), n_patents)),
        "application_date": app_date, "publication_date": pub_date,
        "ipc": ipc, "cpc": cpc, "applicants": empty, "applicant_addresses": empty, "inventors": empty,
        "cited_publications": lists(strings("CN{}A", cited_numbers), cite_lengths),
        "claims_count": pa.array(rng.integers(1, 30, n_patents).astype(np.int32)),
        "legal_status": take(["granted", "pending", "lapsed"], rng.integers(0, 3, n_patents)),
        "source_file": constant("synthetic", n_patents), "source_position": pa.array(np.arange(1, n_patents + 1)),
    }))

    # -- firms: a tenth are subsidiaries of one of the first 2,000 (groups); 8 % deregistered
    firm_numbers = np.arange(n_firms)
    firm_ids = strings("91440300{:09d}X", firm_numbers)
    status = rng.choice(4, n_firms, p=[0.9, 0.06, 0.02, 0.02])
    has_parent = (rng.random(n_firms) < 0.1) & (firm_numbers >= 2000)
    parent = powerlaw(rng, n_firms, min(2000, n_firms), 0.9)
    successor = rng.integers(0, n_firms, n_firms)
    province = rng.integers(0, len(PROVINCES), n_firms)
    write("firms", pa.table({
        "firm_id": firm_ids, "name": strings("合成{}科技有限公司", firm_numbers),
        "former_names": lists(strings("旧合成{}有限公司", firm_numbers[::10]),
                              (firm_numbers % 10 == 0).astype(np.int64)),
        "status": take(["operating", "deregistered", "revoked", "liquidating"], status),
        "established_date": pa.array((app_days[:n_firms] - 3000).astype(np.int32), pa.date32()),
        "registered_capital": pa.array(rng.lognormal(6, 1.5, n_firms)),
        "country": constant("CN", n_firms),
        "province": take(PROVINCES, province),
        "city": pa.array([None if c == 0 else f"{PROVINCES[p][:2]}{CITIES[c]}"
                          for p, c in zip(province, rng.integers(0, len(CITIES), n_firms), strict=True)]),
        "size_band": take(["micro", "small", "medium", "large"], rng.integers(0, 4, n_firms)),
        "employees": pa.array(rng.integers(1, 5000, n_firms)),
        "parent_firm_id": pc.if_else(pa.array(has_parent), firm_ids.take(pa.array(parent)), constant(None, n_firms)),
        "legal_representative": strings("法人{}", firm_numbers),
        "successor_firm_id": pc.if_else(pa.array(status == 1), firm_ids.take(pa.array(successor)),
                                        constant(None, n_firms)),
        "source_file": constant("synthetic", n_firms), "source_position": pa.array(firm_numbers + 1),
    }))

    # -- applicants and filings: applicant k files with weight 1/(k+1)^0.8
    second = rng.random(n_patents) < 0.2
    filing_patent = np.concatenate([np.arange(n_patents), np.flatnonzero(second)])
    position = np.concatenate([np.ones(n_patents, np.int32), np.full(int(second.sum()), 2, np.int32)])
    filer = powerlaw(rng, filing_patent.size, n_applicants, 0.8)
    first_filer = np.full(n_patents, -1)
    first_filer[filing_patent[position == 1]] = filer[position == 1]
    clash = (position == 2) & (filer == first_filer[filing_patent])
    filer[clash] = (filer[clash] + 1) % n_applicants  # no applicant twice on a patent
    applicant_numbers = np.arange(n_applicants)
    applicant_ids = strings("A{:08d}", applicant_numbers)
    applicant_names = strings("申请人{}公司", applicant_numbers)
    # the first n_firms applicants are companies (applicant k is firm k); the rest universities and people
    kind = np.where(applicant_numbers < n_firms, 0, np.where(applicant_numbers % 2 == 0, 1, 2))
    write("applicants", pa.table({
        "applicant_id": applicant_ids, "name": applicant_names,
        "raw_variants": lists(applicant_names, np.ones(n_applicants, np.int64)),
        "normalized_name": applicant_names,
        "applicant_type": take(["company", "university", "individual"], kind),
        "country": constant("CN", n_applicants),
        "patent_count": pa.array(np.bincount(filer, minlength=n_applicants).astype(np.int64)),
    }))
    write("filings", pa.table({
        "publication_number": publication.take(pa.array(filing_patent)), "position": pa.array(position),
        "applicant_id": applicant_ids.take(pa.array(filer)), "raw_name": applicant_names.take(pa.array(filer)),
    }))

    # -- matches: companies resolve to their firm; individuals to a firm they run; universities to none
    decisions = take(["auto", "review", "manual", "rejected"], rng.choice(4, n_applicants, p=[0.85, 0.08, 0.04, 0.03]))
    match_firm = np.where(kind == 2, rng.integers(0, n_firms, n_applicants), applicant_numbers % max(n_firms, 1))
    write("matches", pa.table({
        "applicant_id": applicant_ids,
        "firm_id": pc.if_else(pa.array(kind == 1), constant(None, n_applicants),
                              firm_ids.take(pa.array(match_firm))),
        "score": pa.array(rng.uniform(0.6, 1.0, n_applicants)),
        "decision": decisions,
        "link_type": take(["direct", "direct", "legal_representative"], kind),
        "evidence": constant('{"name": 0.97, "region": "match"}', n_applicants),
        "method_version": constant("bench-1", n_applicants),
    }))

    # -- node_patents: every patent in one node, half of them in a second; busy nodes by power law
    n_nodes = len(node_rows)
    node_of = rng.permutation(n_nodes)[powerlaw(rng, n_patents, n_nodes, 0.9)]
    extra = np.flatnonzero(rng.random(n_patents) < 0.5)
    extra_node = (node_of[extra] + rng.integers(1, n_nodes, extra.size)) % n_nodes
    in_patent = np.concatenate([np.arange(n_patents), extra])
    in_node = np.concatenate([node_of, extra_node])
    chain_ids = [c.id for c, _ in node_rows]
    node_ids = [n.id for _, n in node_rows]
    write("node_patents", pa.table({
        "chain_id": take(chain_ids, in_node), "node_id": take(node_ids, in_node),
        "publication_number": publication.take(pa.array(in_patent)),
        "matched_rule": take(["ipc:G06N3/08", "keyword:神经网络", "ipc:H04W72", "cpc:A61K39"],
                             rng.integers(0, 4, in_patent.size)),
    }))

    # -- firm_scores: 0.3 N (node, firm) pairs, firms by power law, ranked by score within the node
    pairs = np.unique(np.stack([rng.integers(0, n_nodes, n_firms), powerlaw(rng, n_firms, n_firms, 0.6)], axis=1),
                      axis=0)
    score = rng.uniform(0, 100, len(pairs))
    order = np.lexsort((-score, pairs[:, 0]))
    pairs, score = pairs[order], score[order]
    starts = np.flatnonzero(np.r_[True, pairs[1:, 0] != pairs[:-1, 0]])
    rank = np.arange(len(pairs)) - np.repeat(starts, np.diff(np.r_[starts, len(pairs)])) + 1
    write("firm_scores", _firm_scores(pairs, score, rank, chain_ids, node_ids, firm_ids, rng))
    return sizes


def _firm_scores(pairs, score, rank, chain_ids, node_ids, firm_ids, rng) -> pa.Table:
    """Every column of the firm_scores contract; columns this script does not know get zeros / text."""
    n = len(pairs)
    known = {
        "chain_id": take(chain_ids, pairs[:, 0]), "node_id": take(node_ids, pairs[:, 0]),
        "firm_id": firm_ids.take(pa.array(pairs[:, 1])), "score": pa.array(score),
        "rank": pa.array(rank.astype(np.int32)),
        "tier": take(["A", "B", "C", "D"], np.minimum((rank - 1) // 25, 3)),
        "patents_in_node": pa.array(rng.integers(1, 200, n)),
        "explanation": constant("在该节点拥有较多发明专利，近三年申请活跃", n),
    }
    columns = {}
    for field in CONTRACTS["firm_scores"].schema:
        if field.name in known:
            columns[field.name] = known[field.name]
        elif pa.types.is_string(field.type):
            columns[field.name] = constant("bench", n)
        elif pa.types.is_list(field.type):
            columns[field.name] = lists(constant("bench", n), np.ones(n, np.int64))
        else:
            columns[field.name] = pa.array(np.zeros(n)).cast(field.type)
    return pa.table(columns)


# -- measuring ------------------------------------------------------------------------------------


def most_common(values: pa.Array | pa.ChunkedArray) -> str:
    counts = pc.value_counts(values)
    return counts.field("values")[pc.index(counts.field("counts"), pc.max(counts.field("counts"))).as_py()].as_py()


def query_params(workspace: Workspace) -> dict[str, object]:
    """Parameter values that make each saved query do real work on this data."""
    node_patents = workspace.read("node_patents", columns=["chain_id", "node_id"])
    keys = pc.binary_join_element_wise(node_patents["chain_id"], node_patents["node_id"], "/")
    busiest_node = most_common(keys)
    matches = workspace.read("matches", columns=["applicant_id", "firm_id", "decision"])
    accepted = matches.filter(pc.and_(pc.is_valid(matches["firm_id"]),
                                      pc.is_in(matches["decision"], pa.array(["auto", "manual"]))))
    counts = workspace.read("applicants", columns=["applicant_id", "patent_count"])
    per_applicant = dict(zip(counts["applicant_id"].to_pylist(), counts["patent_count"].to_pylist(), strict=True))
    per_firm = Counter()
    for applicant, firm in zip(accepted["applicant_id"].to_pylist(), accepted["firm_id"].to_pylist(), strict=True):
        per_firm[firm] += per_applicant[applicant]
    parents = workspace.read("firms", columns=["parent_firm_id"])["parent_firm_id"]
    largest_group = most_common(parents.drop_null())
    links = workspace.read("supply_links")
    downstream = most_common(pc.binary_join_element_wise(links["chain_id"], links["to_node"], "/"))
    return {
        "node_key": busiest_node, "firm_id": per_firm.most_common(1)[0][0], "group_id": largest_group,
        "chain_id": busiest_node.split("/")[0], "supplied_node": downstream,
        "busiest_firm_patents": per_firm.most_common(1)[0][1],
    }


def bind(query, picked: dict) -> dict:
    params = query.example_params()
    for name in params:
        if name == "node_key" and query.name == "upstream_suppliers":
            params[name] = picked["supplied_node"]
        elif name in picked:
            params[name] = picked[name]
    return query.bind(params)


def time_queries(workspace: Workspace, picked: dict, repeats: int, timeout_s: float) -> list[tuple]:
    rows = []
    with open_reader(workspace) as reader:
        for query in list_queries():
            params = bind(query, picked)
            seconds, result = [], None
            for _ in range(repeats):
                started = time.perf_counter()
                result = run_cypher(query.cypher, params, backend=reader, timeout_s=timeout_s, row_cap=10_000)
                seconds.append(time.perf_counter() - started)
            seconds.sort()
            p95 = seconds[min(len(seconds) - 1, int(round(0.95 * (len(seconds) - 1))))]
            shown = {k: v for k, v in params.items() if k != "limit"}
            rows.append((query.name, shown, len(result.rows), statistics.median(seconds), p95))
    return rows


def time_neo4j_batches(workspace: Workspace, batch_size: int) -> tuple[int, float, float]:
    """Transform, then build every UNWIND $rows batch the Neo4j loader would send; rows, seconds each."""
    started = time.perf_counter()
    tables = graph_tables(workspace)
    transformed = time.perf_counter()
    rows = 0
    for label, table in tables.nodes.items():
        merge_nodes_query(NODES[label])  # the loader builds each query text once per table, as here
        rows += sum(len(batch) for batch in batches(table, batch_size))
    for rel_type, table in tables.rels.items():
        merge_rels_query(RELS[rel_type])
        rows += sum(len(batch) for batch in batches(table, batch_size, rel=True))
    return rows, transformed - started, time.perf_counter() - transformed


def reusable_sizes(workspace: Workspace, n_patents: int) -> dict[str, int] | None:
    """Rows per table of a kept workspace of this size, or None when it must be synthesised (again)."""
    names = ("tech_nodes", "supply_links", "patents", "firms", "applicants", "filings", "matches", "node_patents",
             "firm_scores")
    try:
        sizes = {name: workspace.read(name, columns=[CONTRACTS[name].schema[0].name]).num_rows for name in names}
    except (FileNotFoundError, ContractError):  # absent, or written under an older contract version
        return None
    return sizes if sizes["patents"] == n_patents else None


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, {memory:.0f} GiB RAM, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patents", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20, help="runs per saved query")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-query time limit, seconds")
    parser.add_argument("--batch-size", type=int, default=10_000, help="Neo4j UNWIND batch size")
    parser.add_argument("--build-only", action="store_true", help="stop after the embedded build")
    parser.add_argument("--keep", type=Path, help="workspace directory to keep; its tables are reused if present")
    args = parser.parse_args()

    console.print(f"[bold]Machine[/]: {machine()}")
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-graph-"))
    workspace = Workspace(root)
    try:
        started = time.perf_counter()
        sizes = reusable_sizes(workspace, args.patents)
        if sizes:
            console.print(f"Reusing the tables in {root}")
        else:
            sizes = synthesise(workspace, args.patents)
            console.print(f"Synthesised the workspace in {time.perf_counter() - started:.1f} s ({root})")
        table = Table("table", "rows", title="Contract tables")
        for name, n in sizes.items():
            table.add_row(name, f"{n:,}")
        console.print(table)

        console.print(f"Building the embedded graph ... (load average {os.getloadavg()[0]:.2f})")
        cpu_started = time.process_time()
        report = build_embedded_graph(workspace, RUN_ID)
        build_cpu = time.process_time() - cpu_started  # every thread of this process, LadybugDB's COPY workers too
        steps = read_manifest(workspace.graph_dir).get("step_seconds", {})
        counts = {**report.nodes, **report.relationships}
        table = Table("step", "rows", "seconds", "rows/s", title="Embedded build (LadybugDB)")
        for step, seconds in steps.items():
            name = step.removeprefix("COPY ")
            n = counts.get(name)
            table.add_row(step, f"{n:,}" if n is not None else "", f"{seconds:.2f}",
                          f"{n / seconds:,.0f}" if n and seconds else "")
        total_nodes, total_rels = sum(report.nodes.values()), sum(report.relationships.values())
        table.add_row("[bold]total[/]", f"{total_nodes + total_rels:,}", f"{report.seconds:.1f}",
                      f"{(total_nodes + total_rels) / report.seconds:,.0f}")
        console.print(table)
        size = report.version_path.stat().st_size
        console.print(f"Nodes {total_nodes:,}, relationships {total_rels:,}; left out {sum(report.skipped.values()):,}"
                      f"; database file {size / 2**20:,.0f} MiB; build CPU time {build_cpu:.1f} s (wall"
                      f" {report.seconds:.1f} s); load average {os.getloadavg()[0]:.2f}")
        if args.build_only:
            return

        picked = query_params(workspace)
        console.print(f"Query parameters: busiest node {picked['node_key']}, firm {picked['firm_id']}"
                      f" ({picked['busiest_firm_patents']:,} patents), group {picked['group_id']},"
                      f" supplied node {picked['supplied_node']}")
        table = Table("query", "parameters", "rows", "p50 ms", "p95 ms",
                      title=f"Saved queries, {args.repeats} runs each (row cap 10,000)")
        for name, params, n, p50, p95 in time_queries(workspace, picked, args.repeats, args.timeout):
            flag = "" if p95 < 1 else " [red](> 1 s)[/]"
            table.add_row(name, ", ".join(f"{k}={v}" for k, v in params.items()), f"{n:,}", f"{p50 * 1000:,.0f}",
                          f"{p95 * 1000:,.0f}{flag}")
        console.print(table)
        console.print(f"load average {os.getloadavg()[0]:.2f}")

        rows, transform_s, prepare_s = time_neo4j_batches(workspace, args.batch_size)
        console.print(f"Neo4j batches: {rows:,} parameter rows in batches of {args.batch_size:,}; transform"
                      f" {transform_s:.1f} s, batch preparation {prepare_s:.1f} s = {rows / prepare_s:,.0f} rows/s")
        if os.environ.get("NEO4J_URI"):
            from graph.config import load_settings
            from graph.load import load_neo4j

            neo = load_neo4j(workspace, load_settings(workspace=root), RUN_ID)
            total = sum(neo.nodes.values()) + sum(neo.relationships.values())
            console.print(f"Neo4j: {total:,} nodes + relationships in {neo.seconds:.1f} s = {total / neo.seconds:,.0f}/s")
        else:
            console.print("Neo4j: skipped, NEO4J_URI not set")
        console.print(f"[bold]Machine[/]: {machine()}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
