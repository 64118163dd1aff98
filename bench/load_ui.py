"""Load test of the explorer: N concurrent users browsing node pages and exporting, for a bounded time.

    .venv/bin/python bench/load_ui.py [--seconds 120] [--users 20] [--workspace W]

Builds a demo workspace (`patentgraph demo --no-serve`, 600 patents / 200 firms) unless one is
given, serves it with waitress on 127.0.0.1 (a free port; nothing leaves the machine), and runs
`--users` threads, each with its own HTTP session: log in as a marketer, then until time is up
open a random node page (the Dash page-routing callback), fetch its first grid block and a later
one (the grid's getRowsRequest callback), and every fourth round export the node as CSV (the
export callback, which writes the file and answers its download URL) and download it (the file
streamed by /download/exports/…). Prints requests, errors and p50/p95 latency per action. Target: 0 errors. Stops the server by itself.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import requests
from rich.console import Console
from rich.table import Table

from dash_app import auth, ids
from graph.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
GRID_OUTPUT = "..node-firms-grid.getRowsResponse...node-firms-count.children.."
EXPORT_OUTPUT = "..node-export-download.data...node-export-status.children.."
PAGE_OUTPUT = ".._pages_content.children..._pages_store.data.."


def page_request(path: str) -> dict:
    return {"output": PAGE_OUTPUT,
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "state": [], "changedPropIds": ["_pages_location.pathname"]}  # fmt: skip


def grid_request(key: dict, start: int) -> dict:
    request = {"startRow": start, "endRow": start + 100, "sortModel": [], "filterModel": {}}
    filters = ((ids.NODE_FILTER_REGION, None), (ids.NODE_FILTER_TIER, []), (ids.NODE_FILTER_SIZE, None),
               (ids.NODE_FILTER_SCORE, [0, 100]), (ids.NODE_FILTER_CONFIDENCE, 0), (ids.NODE_FILTER_NAME, None))
    return {"output": GRID_OUTPUT,
            "outputs": [{"id": ids.NODE_FIRMS_GRID, "property": "getRowsResponse"},
                        {"id": ids.NODE_FIRMS_COUNT, "property": "children"}],
            "inputs": [{"id": ids.NODE_FIRMS_GRID, "property": "getRowsRequest", "value": request}],
            "state": [{"id": ids.NODE_KEY, "property": "data", "value": key}]
                     + [{"id": component, "property": "value", "value": value} for component, value in filters],
            "changedPropIds": [f"{ids.NODE_FIRMS_GRID}.getRowsRequest"]}  # fmt: skip


def export_request(key: dict) -> dict:
    return {"output": EXPORT_OUTPUT,
            "outputs": [{"id": ids.NODE_EXPORT_DOWNLOAD, "property": "data"},
                        {"id": ids.NODE_EXPORT_STATUS, "property": "children"}],
            "inputs": [{"id": ids.NODE_EXPORT_BUTTON, "property": "n_clicks", "value": 1},
                       {"id": ids.NODE_EXPORT_XLSX_BUTTON, "property": "n_clicks", "value": None}],
            "state": [{"id": ids.NODE_KEY, "property": "data", "value": key}],
            "changedPropIds": [f"{ids.NODE_EXPORT_BUTTON}.n_clicks"]}  # fmt: skip


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.examples: list[str] = []

    def timed(self, action: str, call, check) -> requests.Response | None:
        """Time one request; the response when it passed `check`, else None (counted as an error)."""
        started = time.perf_counter()
        response = None
        try:
            response = call()
            problem = None if check(response) else f"HTTP {response.status_code}: {response.text[:200]}"
        except requests.RequestException as exc:
            problem = f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.samples[action].append(elapsed)
            if problem:
                self.errors[action] += 1
                if len(self.examples) < 5:
                    self.examples.append(f"{action}: {problem}")
        return None if problem else response


def user(base: str, name: str, password: str, nodes: list[dict], deadline: float, recorder: Recorder, seed: int):
    rng = random.Random(seed)
    session = requests.Session()
    origin = {"Origin": base}

    def login():
        page = session.get(f"{base}/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return session.post(f"{base}/login", data={"csrf_token": token, "username": name, "password": password},
                            headers=origin, allow_redirects=False, timeout=30)

    recorder.timed("log in", login, lambda r: r.status_code == 302)
    headers = {**origin, "X-CSRFToken": session.cookies.get(auth.CSRF_COOKIE, "")}

    def post(body: dict):
        return session.post(f"{base}/_dash-update-component", json=body, headers=headers, timeout=60)

    rounds = 0
    while time.monotonic() < deadline:
        key = rng.choice(nodes)
        path = f"/node/{key['chain_id']}/{key['node_id']}"
        recorder.timed("node page", partial(post, page_request(path)), answered("_pages_content"))
        recorder.timed("grid first block", partial(post, grid_request(key, 0)), answered("rowData"))
        recorder.timed("grid later block", partial(post, grid_request(key, 100)), answered("rowData"))
        if rounds % 4 == 3:
            exported = recorder.timed("export CSV", partial(post, export_request(key)), answered("Exported"))
            if exported is not None:
                url = exported.json()["response"][ids.NODE_EXPORT_DOWNLOAD]["data"]
                recorder.timed("download CSV", partial(session.get, base + url, timeout=60),
                               lambda r: r.status_code == 200 and r.content.startswith("\ufeff".encode()))
        rounds += 1


def answered(marker: str):
    """A 200 whose body carries `marker` (a Dash callback can answer 200 with an error message instead)."""
    return lambda response: response.status_code == 200 and marker in response.text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(base: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with code {server.returncode}")
        try:
            requests.get(f"{base}/login", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer on {base} within {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--workspace", type=Path, help="an existing built workspace (default: build a demo one)")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workspace
        if root is None:
            root = Path(tmp) / "ws"
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "from graph.cli import app; app()", "--workspace", str(root), "demo",
                            "--no-serve", "--patents", "600", "--firms", "200", "--seed", "11"], check=True,
                           capture_output=True, env={**os.environ, "PATENTGRAPH_NO_PROGRESS": "1"}, cwd=ROOT)
            console.print(f"demo workspace built in {time.perf_counter() - started:.0f} s")
        scores = Workspace(root).read_df("firm_scores", ["chain_id", "node_id"]).drop_duplicates()
        nodes = scores.to_dict("records")
        users = Path(tmp) / "users.toml"
        password = secrets.token_urlsafe(12)
        auth.add_user(users, "loadtest", "marketer", password)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-c", "import sys; from pathlib import Path; from dash_app import serve; "
                                   "serve(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2]), users_file=Path(sys.argv[3]))",
             str(root), str(port), str(users)], stdout=subprocess.DEVNULL, cwd=ROOT)
        try:
            wait_for(base, server)
            recorder = Recorder()
            deadline = time.monotonic() + args.seconds
            threads = [threading.Thread(target=user, args=(base, "loadtest", password, nodes, deadline, recorder, n))
                       for n in range(args.users)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    table = Table(title=f"{args.users} users for {args.seconds:.0f} s on {len(nodes)} node pages (waitress, 8 threads)")
    for column in ("action", "requests", "errors", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="left" if column == "action" else "right")
    total = errors = 0
    for action, samples in recorder.samples.items():
        ordered = sorted(samples)
        p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
        table.add_row(action, str(len(samples)), str(recorder.errors[action]), f"{statistics.median(ordered):.0f}",
                      f"{p95:.0f}", f"{ordered[-1]:.0f}")
        total += len(samples)
        errors += recorder.errors[action]
    console.print(table)
    console.print(f"{total} requests in {wall:.0f} s ({total / wall:.1f}/s), {errors} errors")
    for example in recorder.examples:
        console.print(f"  [red]{example}[/red]")
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    console.print(f"machine: {os.cpu_count()} cores, {memory:.1f} GiB RAM; load average {load}")
    raise SystemExit(1 if errors else 0)


if __name__ == "__main__":
    main()
