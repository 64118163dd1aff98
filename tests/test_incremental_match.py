"""The refresh's incremental match (matching/incremental.py).

It finds the applicants a registry change affects from the changed firms' side instead of looking
every applicant up; these tests check it finds every applicant the matcher's own candidate search
(run forward, applicant by applicant) would give a changed firm. The name parses and applicant types
it keeps in the workspace only save work: missing, or made by other parsing or classifying code, they
are rebuilt and the tables come out the same.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from refresh_fixtures import NEW_FIRM_NAME, write_registry_update

from graph import pipeline
from graph.workspace import Workspace
from ingest import generate
from ingest.generator import uscc_check_char
from matching import run_matching
from matching.classify import classify_applicant
from matching.incremental import (
    _affected_by_firms,
    _affected_by_ngrams,
    _without_exact_candidate,
    changed_firm_ids,
    rematch,
)
from matching.matcher import FIRM_TYPES
from matching.normalize import parse_name
from matching.register import FirmRegister, classifier_digest, entry_names, load_names, parser_digest

_PATENT_HEADER = ["公开（公告）号", "申请号", "申请日", "公开（公告）日", "发明名称", "摘要", "申请（专利权）人", "地址",
                  "主分类号", "分类号", "专利类型"]


def _near_miss(core: str) -> str:
    """The core with its last character replaced: one substitution away, sharing most of its bigrams."""
    return core[:-1] + ("甲" if core[-1] != "甲" else "乙")


@pytest.fixture(scope="module")
def updated(tmp_path_factory):
    """A matched workspace after ingesting a registry update and new patents: (workspace, firms before, changed
    patents, the near-miss firm's id and the applicant it is one substitution away from)."""
    folder = tmp_path_factory.mktemp("incremental-match")
    inputs = generate(folder / "inputs", n_patents=400, n_firms=140, seed=5)
    ws = Workspace(folder / "ws")
    pipeline.ingest(ws, inputs.patent_files, inputs.firm_files)
    run_matching(ws, "20260101T000000Z-match-base", workers=1)
    firms_before = ws.read_df("firms")
    numbers_before = set(ws.read_df("patents", ["publication_number"])["publication_number"])

    matches, applicants = ws.read_df("matches"), ws.read_df("applicants")
    linked = matches[(matches["decision"] == "auto") & (matches["link_type"] == "direct")]["firm_id"].tolist()
    firms = firms_before.set_index("firm_id")
    dereg_id = linked[0]
    renamed_id = next(f for f in linked[1:] if f != dereg_id and not firms.loc[f, "former_names"].size)
    # a new firm one character away from an applicant the matcher searched fuzzily
    firm_like = applicants[applicants["applicant_type"].isin(FIRM_TYPES)]
    searched = _without_exact_candidate(matches, firm_like["applicant_id"])
    target = next(row for row in firm_like.itertuples() if row.applicant_id in searched
                  and parse_name(row.name).script == "zh" and len(parse_name(row.name).core) >= 4)
    near_id = "91440300MA5H8Y3L2"
    near_id += uscc_check_char(near_id)

    path = next(p for p in inputs.firm_files if p.suffix == ".csv")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header = list(csv.DictReader(handle).fieldnames)
    update = folder / "registry_update.csv"
    write_registry_update(update, header, firms, dereg_id, renamed_id)
    with open(update, "a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=header).writerow(
            {"企业名称": f"{_near_miss(parse_name(target.name).core)}有限公司", "统一社会信用代码": near_id,
             "登记状态": "存续", "成立日期": "2015-03-01", "省份": "浙江省", "城市": "杭州市"})
    new_patents = folder / "new_patents.csv"
    with open(new_patents, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_PATENT_HEADER)
        writer.writerow(["CN119999901A", "CN202410555501.1", "2024-02-10", "2025-02-12", "一种图像识别方法",
                         "本发明公开了一种神经网络训练方法。", NEW_FIRM_NAME, "广东省深圳市南山区科技园南区澜芯大厦",
                         "G06N3/08", "G06N3/08", "发明申请"])
    pipeline.ingest(ws, [new_patents], [update])
    changed = set(ws.read_df("patents", ["publication_number"])["publication_number"]) - numbers_before
    return ws, firms_before, changed, near_id, target.applicant_id


def _forward_search(register: FirmRegister, applicants: pd.DataFrame, matches: pd.DataFrame,
                    changed: set[str]) -> set[str]:
    """The matcher's candidate search run applicant by applicant: exact key, core and branch for every company
    name; n-gram block and one substitution for those it searches fuzzily. Those that meet a changed firm."""
    changed_rows = {register.row_of[f] for f in changed if f in register.row_of}
    firm_like = applicants[applicants["applicant_type"].isin(FIRM_TYPES)]
    fuzzy = _without_exact_candidate(matches, firm_like["applicant_id"])
    found = set()
    for applicant_id, name in zip(firm_like["applicant_id"], firm_like["name"], strict=True):
        p = parse_name(name)
        entries = [*register.by_key.get(p.key, ()), *register.by_core.get(p.core, ())]
        if p.branch_of:
            entries.extend(register.by_key.get(p.branch_of, ()))
        if applicant_id in fuzzy:
            entries.extend([*register.block([p])[0], *register.one_substitution(p.core)])
        if any(int(register.entry_firm[e]) in changed_rows for e in entries):
            found.add(applicant_id)
    return found


def test_the_inverted_search_finds_every_applicant_the_matchers_own_search_meets_a_changed_firm_in(updated):
    ws, firms_before, _, near_id, near_applicant = updated
    firms = ws.read_df("firms")
    applicants, filings, matches = (ws.read_df(name) for name in ("applicants", "filings", "matches"))
    changed = changed_firm_ids(firms_before, firms)
    assert len(changed) == 4 and near_id in changed  # deregistered, renamed, two new
    register = FirmRegister(firms)
    expected = _forward_search(register, applicants, matches, changed)
    affected, searched = _affected_by_firms(applicants, filings, matches, firms, firms_before, changed, parse_name)
    by_ngrams = _affected_by_ngrams(register, searched, changed)

    assert near_applicant in expected and expected <= affected | by_ngrams
    # the n-gram part exactly: the searched applicants whose block holds a changed firm's entry
    changed_rows = {register.row_of[f] for f in changed}
    blocked = register.block([p for _, p in searched])
    assert near_applicant in by_ngrams
    assert by_ngrams == {a for (a, _), near in zip(searched, blocked, strict=True)
                         if any(int(register.entry_firm[e]) in changed_rows for e in near)}


def _rematched(source: Workspace, folder: Path, firms_before: pd.DataFrame, changed: set[str],
               spoil=None) -> Workspace:
    ws = Workspace(folder)
    shutil.copytree(source.root, ws.root)
    if spoil:
        spoil(ws)
    rematch(ws, "20260102T000000Z-match-refresh", changed, firms_before)
    return ws


def _tables(ws: Workspace) -> dict[str, pa.Table]:
    return {name: ws.read(name) for name in ("applicants", "filings", "matches")}


def test_missing_or_stale_name_parses_are_rebuilt_and_change_nothing(tmp_path, updated):
    ws, firms_before, changed, _, _ = updated
    kept = _rematched(ws, tmp_path / "kept", firms_before, changed)

    def remove(target: Workspace) -> None:
        target.table_path("name_parses").unlink()

    def spoiled(target: Workspace, columns: dict[str, str]) -> None:
        stale = target.read("name_parses")
        for column, value in columns.items():
            stale = stale.set_column(stale.schema.get_field_index(column), column, pa.array([value] * stale.num_rows))
        target.write("name_parses", stale, "20260101T000000Z-match-old")

    def made_by_other_code(target: Workspace) -> None:
        spoiled(target, {"key": "错", "parser": "0123456789abcdef", "applicant_type": "hospital",
                         "classifier": "0123456789abcdef"})

    def typed_by_other_code(target: Workspace) -> None:  # the parses are still good
        spoiled(target, {"applicant_type": "hospital", "classifier": "0123456789abcdef"})

    assert load_names(ws).parses and load_names(ws).types  # the full match kept them
    for name, spoil in (("missing", remove), ("stale", made_by_other_code), ("stale types", typed_by_other_code)):
        rebuilt = _rematched(ws, tmp_path / name, firms_before, changed, spoil)
        for table, expected in _tables(kept).items():
            assert _tables(rebuilt)[table].equals(expected), f"{name} parses: table {table} differs"
        # names taken over from the kept table and names parsed again give the same rows
        assert rebuilt.read("name_parses").equals(kept.read("name_parses")), f"{name} parses: name_parses differs"
        # the refresh keeps fresh parses for the next one: every register entry and applicant spelling
        parses = rebuilt.read("name_parses")
        assert set(parses.column("parser").to_pylist()) == {parser_digest()}
        assert set(parses.column("classifier").to_pylist()) == {classifier_digest()}
        firms = rebuilt.read_df("firms")
        names = {raw for row in zip(firms["name"], firms["former_names"], firms["english_name"], strict=True)
                 for _, raw in entry_names(*row)} | {raw for raws in rebuilt.read_df("applicants")["raw_variants"]
                                                     for raw in raws}
        assert set(parses.column("raw").to_pylist()) == names
        fresh = load_names(rebuilt)
        assert all(parse_name(raw) == parse for raw, parse in fresh.parses.items())
        spellings = {raw for raws in rebuilt.read_df("applicants")["raw_variants"] for raw in raws}
        assert fresh.types == {raw: classify_applicant(raw) for raw in spellings}


def test_a_new_firm_whose_name_begins_a_glued_assignment_clause_gets_that_applicant(tmp_path):
    """A glued clause's candidate is the longest register name its text starts with, so any new or renamed firm may
    be it: after a registry change the clause is matched again, and the tables equal those of a full match."""
    from fixtures.matching.tables import firms_frame, patents_frame, write_workspace

    # (the register's name is a small part of the clause: its n-grams do not bring it near the new firm's name)
    clause = "ASSIGNORTOZENITHCHICAGOILLINOISACORPORATIONOFDELAWAREFILEDAPRIL41958SERIALNO727001"
    patents = patents_frame()
    extra = patents.iloc[[0]].assign(publication_number="US2900004A", applicants=[[clause]],
                                     applicant_addresses=[[]])
    patents = pd.concat([patents, extra], ignore_index=True)
    firms_before = firms_frame()
    zenith = firms_before.iloc[[0]].reset_index(drop=True)
    zenith.loc[0, ["firm_id", "name"]] = ["US00000000ZENITH01", "Zenith Corp."]
    zenith.loc[0, ["english_name", "province", "city", "address", "legal_representative"]] = pd.NA
    zenith["former_names"] = [[]]
    firms_after = pd.concat([firms_before, zenith], ignore_index=True)

    ws = write_workspace(tmp_path / "refreshed", patents, firms_before)
    run_matching(ws, "20260101T000000Z-match-base", workers=1)
    ws.write("firms", firms_after, "fixture")
    before = write_workspace(tmp_path / "before", patents, firms_before).read_df("firms")
    # found from the changed firm's side, whatever the n-gram block (which a register this small also reaches) says
    applicants, filings, matches, firms = (ws.read_df(name) for name in ("applicants", "filings", "matches", "firms"))
    affected, _ = _affected_by_firms(applicants, filings, matches, firms, before, changed_firm_ids(before, firms),
                                     parse_name)
    assert set(applicants.loc[applicants["name"] == clause, "applicant_id"]) <= affected
    rematch(ws, "20260102T000000Z-match-refresh", set(), before)
    full = write_workspace(tmp_path / "full", patents, firms_after)
    run_matching(full, "20260102T000000Z-match-full", workers=1)

    matches = ws.read_df("matches").merge(ws.read_df("applicants")[["applicant_id", "name"]], on="applicant_id")
    assert matches.loc[matches["name"] == clause, ["firm_id", "decision"]].values.tolist() == [
        ["US00000000ZENITH01", "auto"]]
    for name in ("applicants", "filings", "matches"):
        assert ws.read(name).equals(full.read(name)), name
