"""A full disk and a read-only workspace: the CLI fails with exit code 1 and a line naming the path,
and the tables already there stay byte for byte as they were (then, with space again, a rerun works).

The workspace is copied onto a 1 MB tmpfs in a private mount namespace (`unshare -m`), so the
mounts vanish with the child process. Root's `chmod a-w` is no protection, hence the real
read-only remount. Skipped where unshare/mount are not permitted.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from graph import pipeline
from graph.workspace import Workspace
from ingest import generate

ROOT = Path(__file__).resolve().parents[1]
CLI = f"PATENTGRAPH_NO_PROGRESS=1 {sys.executable} -c 'from graph.cli import app; app()'"


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not _namespaces_work(), reason="needs `unshare -m` and tmpfs mounts (root in a container that allows them)")]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("disk")
    data = generate(base / "input", n_patents=200, n_firms=60, seed=3)
    workspace = Workspace(base / "ws")
    pipeline.ingest(workspace, data.patent_files[:1], data.firm_files[-1:])
    return workspace, data


def digests(tables: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(tables.iterdir())}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small demo workspace taken through ranking, an export and the embedded graph (v0001)."""
    root = tmp_path_factory.mktemp("built") / "ws"
    result = subprocess.run(f"{CLI} --workspace {root} demo --patents 200 --firms 60 --seed 3 --no-serve",
                            shell=True, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    workspace = Workspace(root)
    assert (workspace.graph_dir / "CURRENT").read_text().strip() == "v0001.lbug"
    return workspace


def in_small_disk(tmp_path: Path, workspace: Workspace, steps: str, size: str = "1m") -> tuple[str, dict]:
    """Run `steps` (shell) with the workspace copied to $W on a private tmpfs; return output and final digests."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    script = f"""
set -u
mount -t tmpfs -o size={size} tmpfs {mount}
cp -a {workspace.root} {mount}/ws
W={mount}/ws
cd {ROOT}
{steps}
echo "--- digests"
cd $W/tables && sha256sum $(ls -A)
"""
    result = subprocess.run(["unshare", "-m", "bash", "-c", script], capture_output=True, text=True, timeout=300)
    output, _, listing = result.stdout.partition("--- digests\n")
    final = {line.split()[1]: line.split()[0] for line in listing.splitlines() if line.strip()}
    return output + result.stderr, final


def test_disk_full_fails_naming_the_path_and_corrupts_nothing(tmp_path, setup):
    workspace, data = setup
    steps = f"""
dd if=/dev/zero of={tmp_path}/mnt/filler bs=4k 2>/dev/null
{CLI} --workspace $W ingest --patents {data.patent_files[1]}; echo "ingest-rc=$?"
{CLI} --workspace $W match; echo "match-rc=$?"
rm {tmp_path}/mnt/filler
{CLI} --workspace $W ingest --patents {data.patent_files[1]}; echo "after-space-rc=$?"
"""
    output, final = in_small_disk(tmp_path, workspace, steps)
    assert "ingest-rc=1" in output and "match-rc=1" in output, output
    assert f"{tmp_path}/mnt/ws: ingest stopped writing" in output and "No space left on device" in output
    assert f"cannot write table 'applicants' to {tmp_path}/mnt/ws/tables/applicants.parquet" in output
    assert "after-space-rc=0" in output, output  # the failed run left nothing in the way
    before = digests(workspace.tables_dir)
    assert final["firms.parquet"] == before["firms.parquet"]
    assert final["patents.parquet"] != before["patents.parquet"]  # the rerun with space added the new file
    assert not [name for name in final if name.endswith(".tmp")]


def test_disk_full_leaves_every_table_byte_for_byte(tmp_path, setup):
    workspace, data = setup
    steps = f"""
dd if=/dev/zero of={tmp_path}/mnt/filler bs=4k 2>/dev/null
{CLI} --workspace $W ingest --patents {data.patent_files[1]} --firms {data.firm_files[0]}; echo "ingest-rc=$?"
{CLI} --workspace $W match; echo "match-rc=$?"
"""
    output, final = in_small_disk(tmp_path, workspace, steps)
    assert "ingest-rc=1" in output and "match-rc=1" in output, output
    assert final == digests(workspace.tables_dir)


def test_read_only_workspace_fails_naming_the_path_and_changes_nothing(tmp_path, setup):
    workspace, data = setup
    steps = f"""
mount -o remount,ro {tmp_path}/mnt
{CLI} --workspace $W ingest --patents {data.patent_files[1]}; echo "ingest-rc=$?"
{CLI} --workspace $W match; echo "match-rc=$?"
"""
    output, final = in_small_disk(tmp_path, workspace, steps)
    assert "ingest-rc=1" in output and "match-rc=1" in output, output
    assert "Read-only file system" in output and f"{tmp_path}/mnt/ws/" in output
    assert final == digests(workspace.tables_dir)


def firm_count(workspace: Workspace) -> int:
    from graph.cypher import run_cypher
    from graph.load import open_reader

    with open_reader(workspace) as reader:
        return run_cypher("MATCH (f:Firm) RETURN count(f)", {}, backend=reader, timeout_s=10, row_cap=1).rows[0][0]


def test_disk_full_during_load_and_export_names_the_path_and_keeps_the_current_graph(tmp_path, built):
    graph = f"{tmp_path}/mnt/ws/graph"
    steps = f"""
dd if=/dev/zero of={tmp_path}/mnt/filler bs=4k 2>/dev/null
{CLI} --workspace $W load --full 2>&1; echo "load-rc=$?"
{CLI} --workspace $W load --delta 2>&1; echo "delta-rc=$?"
{CLI} --workspace $W export --out $W/exports/targets.csv 2>&1; echo "csv-rc=$?"
{CLI} --workspace $W export --out $W/exports/targets.xlsx 2>&1; echo "xlsx-rc=$?"
echo "current=$(cat $W/graph/CURRENT) graph=$(ls -A $W/graph | tr '\\n' ' ') exports=$(ls -A $W/exports | tr '\\n' ' ')"
{CLI} --workspace $W cypher 'MATCH (f:Firm) RETURN count(f) AS firms' --output csv; echo "cypher-rc=$?"
rm {tmp_path}/mnt/filler
{CLI} --workspace $W load --full; echo "after-space-rc=$?"
echo "then current=$(cat $W/graph/CURRENT)"
"""
    output, final = in_small_disk(tmp_path, built, steps, size="32m")
    full_build = output[: output.index("load-rc=")]  # each command's messages come before its exit code
    assert "load-rc=1" in output and "Traceback" not in full_build, output
    assert f"{graph}/v0002.lbug: the graph build could not write" in full_build and "No space left" in full_build
    assert "delta-rc=1" in output and f"{graph}/v0002.lbug" in output, output
    assert "csv-rc=1" in output and f"cannot write the export {tmp_path}/mnt/ws/exports/targets.csv" in output
    assert "xlsx-rc=1" in output and f"cannot write the export {tmp_path}/mnt/ws/exports/targets.xlsx" in output
    # nothing half-built is left or current; readers still get the whole previous graph
    assert "current=v0001.lbug graph=CURRENT v0001.json v0001.lbug v0001.tables  exports=demo-targets.csv " in output
    assert f"firms\n{firm_count(built)}\n" in output and "cypher-rc=0" in output
    assert "after-space-rc=0" in output and "then current=v0002.lbug" in output, output
    assert final == digests(built.tables_dir)


def test_read_only_workspace_refuses_load_and_export_naming_the_path_and_still_reads(tmp_path, built):
    steps = f"""
mount -o remount,ro {tmp_path}/mnt
{CLI} --workspace $W load --full 2>&1; echo "load-rc=$?"
{CLI} --workspace $W export --out $W/exports/targets.csv 2>&1; echo "export-rc=$?"
{CLI} --workspace $W cypher 'MATCH (f:Firm) RETURN count(f) AS firms' --output csv; echo "cypher-rc=$?"
"""
    output, final = in_small_disk(tmp_path, built, steps, size="32m")
    assert "load-rc=1" in output and f"Read-only file system: '{tmp_path}/mnt/ws/graph/" in output, output
    assert "export-rc=1" in output and f"cannot write the export {tmp_path}/mnt/ws/exports/targets.csv" in output
    assert "Traceback" not in output and "cypher-rc=0" in output and f"firms\n{firm_count(built)}\n" in output
    assert final == digests(built.tables_dir)
