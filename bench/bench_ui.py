"""Node page speed with N firms ranked in one node: first paint and each grid page, p50 / p95.

    .venv/bin/python bench/bench_ui.py [--size 100000] [--repeat 30]

Builds a synthetic workspace (contract-valid tables written through Workspace.write), then
times, on the server side, what a browser waits for:
- first paint: the node page layout (node_summary) plus the grid's first block of 100 rows,
  both through Flask's test client as the browser's Dash requests (page routing callback and
  the grid's getRowsRequest callback, logged in, with the CSRF header);
- each grid page: a getRowsRequest for a later block, with and without a sort and a filter.
Target: p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from dash_app import auth, create_app, data, ids
from graph.workspace import Workspace

RUN_ID = "20250101T000000Z-bench-000000"
CHAIN, NODE = "ai", "ai.chips"
PROVINCES = ["广东省", "江苏省", "北京市", "浙江省", "上海市", "湖北省", "四川省", "山东省"]
GRID_OUTPUT = "..node-firms-grid.getRowsResponse...node-firms-count.children.."


def build(root: Path, size: int, seed: int = 5) -> Workspace:
    rng = np.random.default_rng(seed)
    workspace = Workspace(root)
    workspace.write("tech_nodes", pd.DataFrame([
        {"chain_id": CHAIN, "chain_name_zh": "人工智能", "chain_name_en": "AI", "node_id": "ai.base", "parent_id": None,
         "name_zh": "基础层", "name_en": "Foundation", "level": 1, "segment": "upstream", "weight": 1.0},
        {"chain_id": CHAIN, "chain_name_zh": "人工智能", "chain_name_en": "AI", "node_id": NODE, "parent_id": "ai.base",
         "name_zh": "AI芯片", "name_en": "AI chips", "level": 2, "segment": "upstream", "weight": 1.0},
    ]), RUN_ID)  # fmt: skip
    workspace.write("supply_links", pd.DataFrame(columns=["chain_id", "from_node", "to_node"]), RUN_ID)
    firm_ids = np.array([f"91440300MA{i:08d}" for i in range(size)])
    province = rng.choice(PROVINCES, size)
    workspace.write("firms", pd.DataFrame({
        "firm_id": firm_ids, "name": [f"深圳测试{i}科技有限公司" for i in range(size)], "former_names": [[]] * size,
        "status": "operating", "province": province, "city": "深圳", "size_band": rng.choice(["micro", "small", "medium"], size),
        "source_file": "registry.csv", "source_position": np.arange(size),
    }), RUN_ID)  # fmt: skip
    score = np.round(rng.uniform(0, 100, size), 2)
    order = np.argsort(-score, kind="stable")
    rank = np.empty(size, dtype=np.int32)
    rank[order] = np.arange(1, size + 1)
    tiers = np.select([score >= 80, score >= 60, score >= 40], ["A", "B", "C"], "D")
    workspace.write("firm_scores", pd.DataFrame({
        "chain_id": CHAIN, "node_id": NODE, "firm_id": firm_ids, "score": score, "rank": rank, "tier": tiers,
        "patents_in_node": rng.integers(1, 50, size), "inventions_in_node": rng.integers(0, 30, size),
        "granted_in_node": rng.integers(0, 20, size), "recent_filings": rng.integers(0, 10, size),
        "forward_citations": rng.integers(0, 100, size), "node_share": rng.uniform(0, 0.01, size),
        "match_confidence": rng.uniform(0.5, 1, size), "explanation": "节点内专利较多",
    }), RUN_ID)  # fmt: skip
    patents = min(size, 50_000)
    numbers = np.array([f"CN{100000000 + i}A" for i in range(patents)])
    workspace.write("patents", pd.DataFrame({
        "publication_number": numbers, "patent_type": "invention", "title": "一种芯片",
        "application_date": pd.to_datetime(rng.integers(2015, 2025, patents).astype(str) + "-06-01").date,
        "ipc": [["G06N3/063"]] * patents, "cpc": [[]] * patents, "applicants": [["x"]] * patents,
        "applicant_addresses": [[]] * patents, "inventors": [[]] * patents, "cited_publications": [[]] * patents,
        "source_file": "patents.csv", "source_position": np.arange(patents),
    }), RUN_ID)  # fmt: skip
    applicant_ids = np.array([f"A{i:08d}" for i in range(patents)])
    workspace.write("filings", pd.DataFrame({"publication_number": numbers, "position": 1,
                                             "applicant_id": applicant_ids, "raw_name": "x"}), RUN_ID)
    workspace.write("applicants", pd.DataFrame({
        "applicant_id": applicant_ids, "name": applicant_ids, "raw_variants": [[]] * patents,
        "normalized_name": applicant_ids, "applicant_type": "company", "patent_count": 1}), RUN_ID)  # fmt: skip
    workspace.write("node_patents", pd.DataFrame({"chain_id": CHAIN, "node_id": NODE, "publication_number": numbers,
                                                  "matched_rule": "IPC"}), RUN_ID)
    return workspace


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def grid_request(start: int, sort: list | None = None, tiers: list | None = None) -> dict:
    request = {"startRow": start, "endRow": start + 100, "sortModel": sort or [], "filterModel": {}}
    state = [{"id": ids.NODE_KEY, "property": "data", "value": {"chain_id": CHAIN, "node_id": NODE}}] + [
        {"id": component, "property": prop, "value": value} for component, prop, value in (
            (ids.NODE_FILTER_REGION, "value", None), (ids.NODE_FILTER_TIER, "value", tiers or []),
            (ids.NODE_FILTER_SIZE, "value", None), (ids.NODE_FILTER_SCORE, "value", [0, 100]),
            (ids.NODE_FILTER_CONFIDENCE, "value", 0), (ids.NODE_FILTER_NAME, "value", None))]  # fmt: skip
    return {"output": GRID_OUTPUT,
            "outputs": [{"id": ids.NODE_FIRMS_GRID, "property": "getRowsResponse"},
                        {"id": ids.NODE_FIRMS_COUNT, "property": "children"}],
            "inputs": [{"id": ids.NODE_FIRMS_GRID, "property": "getRowsRequest", "value": request}],
            "state": state, "changedPropIds": [f"{ids.NODE_FIRMS_GRID}.getRowsRequest"]}  # fmt: skip


def page_request(path: str) -> dict:
    """What dash-renderer posts when Dash Pages routes to `path`."""
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "state": [], "changedPropIds": ["_pages_location.pathname"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        workspace = build(Path(tmp) / "ws", args.size)
        console.print(f"built a workspace with {args.size:,} firms in one node in {time.perf_counter() - started:.1f} s")
        password = secrets.token_urlsafe(12)
        users = Path(tmp) / "users.toml"
        auth.add_user(users, "bench", "marketer", password)
        app = create_app(workspace.root, users_file=users)
        client = app.server.test_client()
        page = client.get("/login").get_data(as_text=True)
        form = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1), "username": "bench",
                "password": password}
        client.post("/login", data=form, headers={"Origin": "http://localhost"})
        headers = {"Origin": "http://localhost", "X-CSRFToken": client.get_cookie("_csrf_token").value}

        def post(body: dict) -> None:
            response = client.post("/_dash-update-component", json=body, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"callback failed: {response.status_code} {response.get_data(as_text=True)[:300]}")

        def timed(work) -> list[float]:
            samples = []
            for _ in range(args.repeat):
                begin = time.perf_counter()
                work()
                samples.append((time.perf_counter() - begin) * 1000)
            return samples

        cold_start = time.perf_counter()
        post(page_request(f"/node/{CHAIN}/{NODE}"))
        post(grid_request(0))
        cold = (time.perf_counter() - cold_start) * 1000
        after_refresh = []  # what `serve`'s warm-up thread leaves the first visitor after a refresh
        scores = workspace.read_df("firm_scores")
        for _ in range(5):
            workspace.write("firm_scores", scores, "bench-refresh")  # a refresh rewrote the table
            data.warm(workspace)
            begin = time.perf_counter()
            post(page_request(f"/node/{CHAIN}/{NODE}"))
            post(grid_request(0))
            after_refresh.append((time.perf_counter() - begin) * 1000)
        rng = np.random.default_rng(1)
        starts = iter(rng.integers(1, args.size // 100, 10_000) * 100)
        cases = [
            ("pure: node_summary", lambda: data.node_summary(workspace, CHAIN, NODE)),
            ("pure: ranked_firms, first 100", lambda: data.ranked_firms(workspace, CHAIN, NODE, 0, 100)),
            ("first paint: page + first block (HTTP)",
             lambda: (post(page_request(f"/node/{CHAIN}/{NODE}")), post(grid_request(0)))),
            ("grid page, by rank (HTTP)", lambda: post(grid_request(int(next(starts))))),
            ("grid page, sorted by score asc (HTTP)",
             lambda: post(grid_request(int(next(starts)), [{"colId": "score", "sort": "asc"}]))),
            ("grid page, sorted by name (HTTP)",
             lambda: post(grid_request(int(next(starts)), [{"colId": "name", "sort": "asc"}]))),
            ("grid page, tier A+B, by province (HTTP)",
             lambda: post(grid_request(1000, [{"colId": "province", "sort": "desc"}], ["A", "B"]))),
        ]
        table = Table(title=f"Node page, {args.size:,} firms in one node ({args.repeat} runs each, warm cache)")
        for column in ("what", "p50 ms", "p95 ms", "target"):
            table.add_column(column, justify="left" if column == "what" else "right")
        for name, work in cases:
            p50, p95 = percentiles(timed(work))
            verdict = "" if name.startswith("pure") else ("ok" if p95 < 300 else "[red]SLOW[/red]")
            table.add_row(name, f"{p50:.1f}", f"{p95:.1f}", verdict)
        console.print(table)
        console.print(f"cold first paint (tables read from Parquet, nothing cached): {cold:.0f} ms")
        console.print("first paint after a refresh rewrote firm_scores, tables read ahead by the server's warm-up"
                      f" (data.warm): p50 {np.percentile(after_refresh, 50):.0f} ms, max {max(after_refresh):.0f} ms"
                      f" over {len(after_refresh)} refreshes")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    console.print(f"machine: {os.cpu_count()} cores, {memory:.1f} GiB RAM; load average {load}")


if __name__ == "__main__":
    main()
