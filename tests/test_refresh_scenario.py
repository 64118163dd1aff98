"""`patentgraph refresh` on a scripted scenario: a deregistration, a rename, a new firm with new patents."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from refresh_fixtures import write_registry_update

from graph.config import Settings
from graph.refresh import refresh
from graph.workspace import Workspace
from ingest import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("scenario-input"), n_patents=240, n_firms=90, seed=5)


def _registry_rows(inputs) -> tuple[list[str], dict[str, dict]]:
    path = next(p for p in inputs.firm_files if p.suffix == ".csv")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), {row["统一社会信用代码"]: row for row in reader}


def test_change_report_on_a_scripted_scenario(tmp_path, inputs):
    """Deregister a ranked firm, rename another, register a new firm that files new AI patents."""
    ws = Workspace(tmp_path)
    settings = Settings(workspace=tmp_path)
    refresh(ws, settings, inputs.patent_files, inputs.firm_files)
    scores = ws.read_df("firm_scores")
    firms = ws.read_df("firms").set_index("firm_id")
    top = scores.sort_values(["rank", "firm_id"])
    dereg_id = top.iloc[0].firm_id
    renamed_id = next(f for f in top.firm_id if f != dereg_id and not firms.loc[f, "former_names"].size)

    header, _ = _registry_rows(inputs)
    old_name = firms.loc[renamed_id, "name"]
    update = tmp_path / "registry_update.csv"
    new_id = write_registry_update(update, header, firms, dereg_id, renamed_id)
    new_patents = tmp_path / "new_patents.csv"
    with open(new_patents, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["公开（公告）号", "申请号", "申请日", "公开（公告）日", "发明名称", "摘要", "申请（专利权）人",
                         "地址", "主分类号", "分类号", "专利类型"])
        for i in range(4):
            writer.writerow([f"CN1199999{i:02d}A", f"CN2024105555{i:02d}.1", f"2024-0{i + 1}-10", f"2025-0{i + 1}-12",
                             f"一种基于深度神经网络的图像识别方法{i}", "本发明公开了一种神经网络训练方法。",
                             "深圳市澜芯智能科技有限公司", "广东省深圳市南山区科技园南区澜芯大厦",
                             "G06N3/08", "G06N3/08;G06V10/82", "发明申请"])

    [summary] = refresh(ws, settings, [new_patents], [update])
    changes = pd.read_csv(summary.report_path, encoding="utf-8-sig", dtype=str)
    dropped = changes[changes["change"] == "dropped_targets"]
    assert set(dropped[dropped["firm_id"] == dereg_id]["reason"]) == {"firm is now deregistered"}
    assert dereg_id not in set(ws.read_df("firm_scores")["firm_id"])
    new = changes[changes["change"] == "new_targets"]
    assert new_id in set(new["firm_id"])
    assert ws.read_df("firms").set_index("firm_id").loc[renamed_id, "name"] == "新域" + old_name
    changed = changes[changes["change"] == "matches_changed"]
    assert changed["firm_after"].str.contains(f"{renamed_id} \\(auto, former_name\\)").any()
    assert summary.changes["dropped_targets"] >= 1 and summary.changes["new_targets"] >= 1


def test_rank_moves_are_those_a_marketer_acts_on():
    """Top-20 entries and exits, tier changes, and moves of ≥ 5 places that are ≥ 20 % of the rank."""
    from graph.refresh import _Tables, change_report

    firms = pd.DataFrame({"firm_id": list("abcdef"), "name": list("ABCDEF"), "status": ["operating"] * 6})
    matches = pd.DataFrame(columns=["applicant_id", "firm_id", "decision", "link_type"])
    #                    a: 3→8   b: 18→23 c: 5000→5100 d: 400→300 e: 60→58, tier C→B  f: 2→4
    ranks = {"a": (3, 8), "b": (18, 23), "c": (5000, 5100), "d": (400, 300), "e": (60, 58), "f": (2, 4)}
    tiers = {"e": ("C", "B")}

    def scores(when: int) -> pd.DataFrame:
        return pd.DataFrame([{"chain_id": "ai", "node_id": "ai.vision", "firm_id": firm, "rank": pair[when],
                              "score": 50.0, "tier": tiers.get(firm, ("C", "C"))[when]} for firm, pair in ranks.items()])

    report = change_report(_Tables(firms, matches, scores(0)), _Tables(firms, matches, scores(1)), rank_move=5, top=20)
    moves = report[report["change"] == "rank_moves"].set_index("firm_id")["reason"].to_dict()
    assert moves == {"a": "rank 3 → 8", "b": "rank 18 → 23; out of the top 20", "d": "rank 400 → 300",
                     "e": "rank 60 → 58; tier C → B"}
