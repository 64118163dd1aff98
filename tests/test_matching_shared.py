"""Matching on real name pairs from ../shared/data (skipped when absent)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd
import pytest
from fixtures.matching.tables import write_workspace

from matching import evaluate_matching, run_matching

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
pytestmark = pytest.mark.shared_data


def _shared(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"../shared/data/{relative} not present")
    return path


def _register(names: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    ids = {n: "R" + hashlib.sha1(n.encode()).hexdigest()[:17] for n in names}
    firms = pd.DataFrame({
        "firm_id": [ids[n] for n in names], "name": names, "former_names": [[] for _ in names], "english_name": None,
        "status": "operating", "established_date": None, "deregistered_date": None, "registered_capital": None,
        "province": None, "city": None, "address": None, "industry_code": None, "size_band": None, "employees": None,
        "parent_firm_id": None, "legal_representative": None, "successor_firm_id": None, "source_file": "register",
        "source_position": range(1, len(names) + 1)})
    return firms, ids


def _patents(applicants: list[str]) -> pd.DataFrame:
    n = len(applicants)
    empty = [[] for _ in range(n)]
    return pd.DataFrame({
        "publication_number": [f"US{i:07d}B1" for i in range(n)], "application_number": None, "kind": "B1",
        "patent_type": "invention", "title": None, "abstract": None, "application_date": dt.date(2015, 1, 1),
        "publication_date": None, "ipc": empty, "cpc": empty, "applicants": [[a] for a in applicants],
        "applicant_addresses": empty, "inventors": empty, "cited_publications": empty, "claims_count": None,
        "legal_status": None, "source_file": "applicants", "source_position": range(1, n + 1)})


def _evaluate(tmp_path: Path, pairs: list[tuple[str, str | None]], register: list[str]):
    firms, ids = _register(register)
    workspace = write_workspace(tmp_path / "ws", _patents(sorted({a for a, _ in pairs})), firms)
    run_matching(workspace, "real")
    labels = tmp_path / "labels.csv"
    with open(labels, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["applicant_name", "address", "expected_firm_id", "applicant_type"])
        writer.writerows((a, "", ids[e] if e else "NONE", "company") for a, e in pairs)
    return evaluate_matching(workspace, labels)


def test_patentsview_assignees_against_opencorporates_names(tmp_path):
    """Marx lab pairs: the assignee (with its legal form) searched in a register of the OpenCorporates names.
    Many OpenCorporates names are a renamed successor (Hunt-Wesson -> Conagra): no name evidence
    can find those, so recall is bounded; a wrong link is what must not happen."""
    pairs = pd.read_csv(_shared("pv_opencorporates_match_marx/2022PV2800StatelessxWalk.csv"))
    pairs = pairs.dropna(subset=["organization_y", "name"])[["organization_y", "name"]].drop_duplicates()
    unique = pairs.groupby("organization_y")["name"].transform("nunique") == 1
    pairs = pairs[unique]
    result = _evaluate(tmp_path, list(pairs.itertuples(index=False, name=None)), sorted(pairs["name"].unique()))
    print(result.summary())
    company = result.by_type["company"]
    assert company.precision >= 0.99, result.summary()
    assert company.recall >= 0.55, result.summary()


def test_subsidiaries_are_not_taken_for_their_parent(tmp_path):
    """Dyèvre & Seager's reviewed subsidiary -> parent remaps (ABBOTTDIABETESCARE -> ABBOTTLAB): the child is
    a distinct entity, so searching children in a register of parents must make (almost) no direct links."""
    remap = pd.read_csv(_shared("dyevre_seager_compustat_patents/orig_subsidiaryManualRemap.csv"),
                        encoding="utf-8-sig")
    remap = remap[remap["clean_name_child"] != remap["clean_name_parent"]]
    pairs = [(child, None) for child in remap["clean_name_child"].unique()]
    result = _evaluate(tmp_path, pairs, sorted(remap["clean_name_parent"].unique()))
    print(result.summary())
    assert result.overall.links_made <= 0.05 * result.overall.labels, result.errors[:10]
