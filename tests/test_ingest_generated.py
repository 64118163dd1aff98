"""Ingest of a generated demo dataset, checked against the generator's manifest.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graph.workspace import Workspace
from ingest import generate, ingest_firms, ingest_patents

# the quarantine field each injected defect must be reported under
DEFECT_FIELDS = {"missing_publication_number": "publication_number", "impossible_date": "application_date",
                 "wrong_column_count": "columns", "malformed_credit_code": "firm_id"}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    dataset = generate(root / "input", n_patents=300, n_firms=120, seed=5)
    workspace = Workspace(root / "ws")
    firms = ingest_firms(workspace, dataset.firm_files, "run-firms")
    patents = ingest_patents(workspace, dataset.patent_files, "run-patents")
    manifest = json.loads(dataset.manifest.read_text(encoding="utf-8"))
    return root / "input", workspace, firms, patents, manifest


def test_row_accounting_matches_the_manifest(ingested):
    input_dir, _workspace, firms, patents, manifest = ingested
    for count in [*firms.per_file, *patents.per_file]:
        expected = manifest["files"][Path(count.path).relative_to(input_dir).as_posix()]
        assert count.error is None
        assert count.read == expected["rows"] == count.written + count.quarantined
        assert count.quarantined == len(expected["bad_rows"])
    assert patents.read == manifest["totals"]["patent_rows"]
    assert patents.written == manifest["totals"]["patent_rows_good"]
    assert firms.quarantined == manifest["totals"]["firm_rows_bad"]


def test_every_injected_bad_row_is_quarantined_where_it_was_put(ingested):
    input_dir, workspace, _firms, _patents, manifest = ingested
    quarantined = {(Path(r["source_file"]).relative_to(input_dir).as_posix(), r["position"]): r
                   for r in workspace.read("quarantine").to_pylist()}
    injected = [(name, bad) for name, spec in manifest["files"].items() for bad in spec.get("bad_rows", [])]
    assert injected and len(quarantined) == len(injected)
    for name, bad in injected:
        row = quarantined[(name, bad["position"])]
        assert row["field"] == DEFECT_FIELDS[bad["defect"]], (name, bad, row)
        if bad.get("value") and bad["field"] != "*":
            assert bad["value"] in row["reason"]


def test_good_rows_become_contract_records(ingested):
    _input_dir, workspace, firms, patents, manifest = ingested
    table = workspace.read("patents")
    assert table.num_rows == patents.records == patents.written - patents.merged
    codes = [c for codes in table.column("ipc").to_pylist() for c in codes]
    assert codes and all("/" in c and " " not in c for c in codes)
    assert workspace.read("firms").num_rows == firms.records == manifest["totals"]["firm_rows"] - firms.quarantined
