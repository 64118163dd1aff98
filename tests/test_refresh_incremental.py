"""An incremental refresh ends exactly where a full rebuild over the same inputs ends.

The oracle: refresh the generated workspace with a registry update (a rename, a deregistration, a new
firm) and new patents (of the new firm and of existing applicants), then build a fresh workspace with
the whole pipeline over all the same files, and compare every derived table and the graph contents.
A second scenario edits a chain YAML file, which must reclassify every patent.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from refresh_fixtures import write_registry_update

from graph import pipeline
from graph.config import Settings
from graph.cypher import run_cypher
from graph.load import open_reader
from graph.refresh import refresh
from graph.workspace import Workspace
from industry_chains.chains import SHIPPED_CHAINS
from ingest import generate

pytestmark = pytest.mark.slow

# table -> the key its rows are sorted by before comparing (row order is not part of the contract)
COMPARED = {
    "firms": ["firm_id"],
    "applicants": ["applicant_id"],
    "filings": ["publication_number", "position"],
    "matches": ["applicant_id", "firm_id", "link_type"],
    "node_patents": ["chain_id", "node_id", "publication_number"],
    "tech_nodes": ["chain_id", "node_id"],
    "firm_scores": ["chain_id", "node_id", "firm_id"],
    "firm_exclusions": None,  # every column
    "quarantine": ["stage", "source_file", "position", "field"],  # an incremental step keeps the rows it left alone
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("incremental-input"), n_patents=400, n_firms=140, seed=11)


def _write_update(folder: Path, inputs, ws: Workspace) -> tuple[Path, Path, dict]:
    """A registry update (deregister the top firm, rename another, a new firm) and new patents."""
    path = next(p for p in inputs.firm_files if p.suffix == ".csv")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = list(csv.DictReader(handle).fieldnames)
    scores = ws.read_df("firm_scores").sort_values(["rank", "firm_id"])
    firms = ws.read_df("firms").set_index("firm_id")
    dereg_id = scores.iloc[0].firm_id
    renamed_id = next(f for f in scores.firm_id if f != dereg_id and not firms.loc[f, "former_names"].size)
    update = folder / "registry_update.csv"
    new_id = write_registry_update(update, header, firms, dereg_id, renamed_id)

    # existing applicants file again: their names and addresses as on a patent they already hold
    held = ws.read_df("patents", ["publication_number", "applicants", "applicant_addresses", "ipc", "title"])
    held = held[held["applicants"].map(len) > 0].sample(6, random_state=3)
    new_patents = folder / "new_patents.csv"
    with open(new_patents, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["公开（公告）号", "申请号", "申请日", "公开（公告）日", "发明名称", "摘要", "申请（专利权）人",
                         "地址", "主分类号", "分类号", "专利类型"])
        for i in range(4):
            writer.writerow([f"CN1199999{i:02d}A", f"CN2024105555{i:02d}.1", f"2024-0{i + 1}-10", f"2025-0{i + 1}-12",
                             f"一种基于深度神经网络的图像识别方法{i}", "本发明公开了一种神经网络训练方法。",
                             "深圳市澜芯智能科技有限公司", "广东省深圳市南山区科技园南区澜芯大厦",
                             "G06N3/08", "G06N3/08;G06V10/82", "发明申请"])
        for i, row in enumerate(held.itertuples(index=False)):
            address = next((a for a in row.applicant_addresses if a), "")
            writer.writerow([f"CN1188888{i:02d}A", f"CN2024106666{i:02d}.1", "2024-05-10", "2025-05-12",
                             f"{row.title}（改进型）", "本发明公开了一种改进的装置。", ";".join(row.applicants),
                             address, row.ipc[0] if len(row.ipc) else "G06F16/00",
                             ";".join(row.ipc) or "G06F16/00", "发明申请"])
    return update, new_patents, {"deregistered": dereg_id, "renamed": renamed_id, "new": new_id}


def _write_patent_without_applicant(folder: Path) -> Path:
    """A base patent the match stage quarantines ("no applicant name"): the refresh must keep that row."""
    path = folder / "no_applicant.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["公开（公告）号", "申请号", "申请日", "公开（公告）日", "发明名称", "申请（专利权）人", "主分类号"])
        writer.writerow(["CN117777701A", "CN202310777701.1", "2023-03-10", "2024-03-12", "一种图像识别方法", "",
                         "G06V10/82"])
    return path


def _table(ws: Workspace, name: str) -> pd.DataFrame:
    frame = ws.read_df(name)
    for column in frame.columns:  # lists and arrays compare as tuples
        if frame[column].map(lambda v: hasattr(v, "__len__") and not isinstance(v, str)).any():
            frame[column] = frame[column].map(lambda v: tuple(v) if v is not None else None)
    key = COMPARED[name] or list(frame.columns)
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


def _graph_dump(ws: Workspace) -> dict:
    queries = {
        "labels": "MATCH (n) RETURN label(n) AS l, count(*) ORDER BY l",
        "relationships": "MATCH ()-[r]->() RETURN label(r) AS l, count(*) ORDER BY l",
        "ranked": "MATCH (f:Firm)-[r:RANKED_IN]->(t:TechNode) RETURN t.key, f.firm_id, r.rank, r.score "
                  "ORDER BY t.key, r.rank, f.firm_id",
        "resolved": "MATCH (a:Applicant)-[r:RESOLVES_TO]->(f:Firm) "
                    "RETURN a.applicant_id, f.firm_id, r.decision, r.link_type ORDER BY a.applicant_id, f.firm_id",
        "in_node": "MATCH (p:Patent)-[:IN_NODE]->(t:TechNode) RETURN t.key, count(*) ORDER BY t.key",
        "firms": "MATCH (f:Firm) RETURN f.firm_id, f.name, f.status ORDER BY f.firm_id",
    }
    with open_reader(ws) as reader:
        return {name: run_cypher(q, {}, backend=reader, timeout_s=60, row_cap=10**7).rows for name, q in queries.items()}


def _assert_same_as_full_rebuild(refreshed: Workspace, rebuilt: Workspace) -> None:
    for name in COMPARED:
        pd.testing.assert_frame_equal(_table(refreshed, name), _table(rebuilt, name), obj=f"table {name}")
    assert _graph_dump(refreshed) == _graph_dump(rebuilt)


def _incremental_steps(ws: Workspace, run_id_after: str) -> dict[str, bool]:
    """Stage -> whether its last run after `run_id_after` was incremental."""
    runs = [r for r in ws.runs() if r["run_id"] > run_id_after]
    return {r["stage"]: bool(r.get("incremental")) for r in runs}


@pytest.fixture(scope="module")
def base_patents(tmp_path_factory, inputs) -> list[Path]:
    return [*inputs.patent_files, _write_patent_without_applicant(tmp_path_factory.mktemp("odd-input"))]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, inputs, base_patents):
    """A workspace refreshed twice (base files, then the update) and a full rebuild over all files."""
    folder = tmp_path_factory.mktemp("incremental")
    refreshed = Workspace(folder / "refreshed")
    settings = Settings(workspace=refreshed.root)
    refresh(refreshed, settings, base_patents, inputs.firm_files)
    base_run = refreshed.runs()[-1]["run_id"]
    update, new_patents, ids = _write_update(folder, inputs, refreshed)
    [summary] = refresh(refreshed, settings, [new_patents], [update])

    rebuilt = Workspace(folder / "rebuilt")
    pipeline.ingest(rebuilt, base_patents, [*inputs.firm_files])
    pipeline.build_all(rebuilt, Settings(workspace=rebuilt.root), [new_patents], [update])
    return refreshed, rebuilt, summary, ids, base_run


def test_refresh_equals_a_full_rebuild_table_by_table_and_in_the_graph(scenario):
    refreshed, rebuilt, _, _, _ = scenario
    _assert_same_as_full_rebuild(refreshed, rebuilt)


def test_refresh_rematches_and_classifies_only_what_changed(scenario):
    refreshed, _, summary, _, base_run = scenario
    incremental = _incremental_steps(refreshed, base_run)
    assert incremental["classify"] and incremental["match"]
    assert summary.steps["classify"]["patents_read"] == 10  # 4 of the new firm, 6 of existing applicants
    match = summary.steps["match"]
    assert match["changed_patents"] == 10 and match["changed_firms"] == 3
    assert 0 < match["applicants_rematched"] < match["applicants"] / 2


def test_applicants_settled_by_an_exact_candidate_are_not_searched_fuzzily_again(scenario):
    """The refresh reads the stored evidence to know whom the matcher searched fuzzily; read as JSON, not as text."""
    from matching.incremental import _without_exact_candidate

    matches = scenario[0].read_df("matches")
    settled = {row.applicant_id for row, evidence in zip(matches.itertuples(), matches["evidence"].map(json.loads),
                                                         strict=True)
               if row.firm_id is not None and row.link_type in ("direct", "former_name")
               and evidence.get("matched_variant", {}).get("via") in ("key", "core", "branch_parent")
               and evidence.get("features", {}).get("region") not in ("conflict", "name_conflict")}
    searched = _without_exact_candidate(matches, matches["applicant_id"])
    assert len(settled) > 50 and not settled & searched
    assert searched == set(matches["applicant_id"]) - settled


def test_change_report_names_the_scripted_changes(scenario):
    refreshed, _, summary, ids, _ = scenario
    changes = pd.read_csv(summary.report_path, encoding="utf-8-sig", dtype=str)
    dropped = changes[changes["change"] == "dropped_targets"]
    assert set(dropped.loc[dropped["firm_id"] == ids["deregistered"], "reason"]) == {"firm is now deregistered"}
    assert ids["new"] in set(changes.loc[changes["change"] == "new_targets", "firm_id"])
    changed = changes[changes["change"] == "matches_changed"]
    assert changed["firm_after"].str.contains(f"{ids['renamed']} \\(auto, former_name\\)").any()


def test_a_changed_chain_file_reclassifies_every_patent(tmp_path, scenario):
    refreshed, rebuilt, _, _, _ = scenario
    chains = tmp_path / "chains"
    shutil.copytree(SHIPPED_CHAINS, chains)
    edited = next(path for path in sorted(chains.glob("*.yaml")) if "G06N" in path.read_text(encoding="utf-8"))
    text = edited.read_text(encoding="utf-8")
    edited.write_text(text.replace("G06N", "G06F", 1), encoding="utf-8")

    copy = Workspace(tmp_path / "refreshed")
    shutil.copytree(refreshed.root, copy.root)
    last = copy.runs()[-1]["run_id"]
    [summary] = refresh(copy, Settings(workspace=copy.root), [], [], chains_dir=chains)
    assert summary.status == "done"
    assert not _incremental_steps(copy, last)["classify"]
    assert summary.steps["classify"]["patents_read"] == len(copy.read_df("patents", ["publication_number"]))

    full = Workspace(tmp_path / "rebuilt")
    shutil.copytree(rebuilt.root, full.root)
    pipeline.classify(full, chains)
    pipeline.rank(full)
    pipeline.load(full, Settings(workspace=full.root))
    _assert_same_as_full_rebuild(copy, full)


@pytest.mark.parametrize("kill_at", ["match:after", "classify:after"])
def test_an_incremental_refresh_killed_midway_is_finished_by_the_next_run(tmp_path, inputs, base_patents, scenario,
                                                                          kill_at):
    """SIGKILL the update refresh after an incremental step; the next run ends where one uninterrupted run ended."""
    import os
    import signal
    import subprocess
    import sys

    refreshed, _, _, _, _ = scenario
    ws = Workspace(tmp_path / "ws")
    refresh(ws, Settings(workspace=ws.root), base_patents, inputs.firm_files)
    update, new_patents = refreshed.root.parent / "registry_update.csv", refreshed.root.parent / "new_patents.csv"
    args = [sys.executable, "-c", "from graph.cli import app; app()", "--workspace", str(ws.root), "refresh",
            "--patents", str(new_patents), "--firms", str(update)]
    env = {**os.environ, "PATENTGRAPH_NO_PROGRESS": "1", "PATENTGRAPH_KILL_AT": kill_at}
    root = Path(__file__).resolve().parents[1]
    killed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=root)
    assert killed.returncode == -signal.SIGKILL
    env.pop("PATENTGRAPH_KILL_AT")
    resumed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, cwd=root)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after an interrupted run" in resumed.stdout
    _assert_same_as_full_rebuild(ws, refreshed)
