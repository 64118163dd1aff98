"""Matching in several processes gives the serial output: same tables, rows, scores, evidence and row order."""

from __future__ import annotations

import multiprocessing
import os
import shutil

import pandas as pd
import pytest
from fixtures.matching.tables import write_workspace

from graph.workspace import Workspace
from matching import matcher, record_decision, run_matching
from matching.matcher import ForkedCall
from matching.pipeline import WORKERS_ENV, worker_count

ingest = pytest.importorskip("ingest", reason="ingest package (generator + readers) not available")
TABLES = ("applicants", "filings", "matches", "name_parses")


def _tables(workspace: Workspace) -> dict[str, pd.DataFrame]:
    return {name: workspace.read_df(name) for name in TABLES}


def _assert_same_output(serial: Workspace, parallel: Workspace) -> None:
    one, many = _tables(serial), _tables(parallel)
    for name in TABLES:
        # as written (row order included), and again after a sort, so a failure shows which rows differ
        pd.testing.assert_frame_equal(one[name], many[name], check_exact=True, obj=name)
    keys = ["applicant_id", "decision", "link_type", "firm_id"]
    pd.testing.assert_frame_equal(one["matches"].sort_values(keys).reset_index(drop=True),
                                  many["matches"].sort_values(keys).reset_index(drop=True), check_exact=True)


def _run_both(root, workspace: Workspace, workers: int) -> tuple[Workspace, Workspace, tuple]:
    """The same workspace matched serially and with `workers` processes; the two reports' counts."""
    twin = Workspace(root / "parallel")
    shutil.copytree(workspace.root, twin.root)
    serial_report = run_matching(workspace, "serial", workers=1)
    parallel_report = run_matching(twin, "parallel", workers=workers)
    counts = [(r.applicants, r.filings, r.decisions, r.link_types, r.linked_applicants, r.patents_quarantined,
               r.review_rows_read, r.review_rows_quarantined) for r in (serial_report, parallel_report)]
    return workspace, twin, counts


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    ingest.generate(out, n_patents=4000, n_firms=1200, seed=11)
    workspace = Workspace(out / "ws")
    ingest.ingest_patents(workspace, [out / "patents"], "ingest-patents")
    ingest.ingest_firms(workspace, [out / "firms"], "ingest-firms")
    return out, workspace


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 3])
def test_generated_data_gives_the_serial_output_in_shards(generated, tmp_path, monkeypatch, workers):
    _, source = generated
    root = tmp_path / "serial"
    shutil.copytree(source.root, root)
    workspace = Workspace(root)
    run_matching(workspace, "first")  # review decisions need applicant ids
    matches = workspace.read_df("matches")
    auto = matches[matches["decision"] == "auto"]
    linked = auto.drop_duplicates("applicant_id")
    # reviewer rows of each kind, so the shards apply them as the serial path does
    record_decision(workspace, linked["applicant_id"].iloc[0], "reject", linked["firm_id"].iloc[0], "tester")
    record_decision(workspace, linked["applicant_id"].iloc[-1], "reject", None, "tester")
    middle = len(linked) // 2
    record_decision(workspace, linked["applicant_id"].iloc[middle], "accept", linked["firm_id"].iloc[middle], "tester")
    monkeypatch.setattr(matcher, "_MIN_SHARD", 100)  # shards of this small set: at least 100 applicants each
    serial, parallel, counts = _run_both(tmp_path, workspace, workers)
    assert counts[0] == counts[1]
    assert counts[0][2]["manual"] == 1  # the accepted link
    assert counts[0][2]["auto"] > 500  # enough links in every shard to compare
    _assert_same_output(serial, parallel)


def test_fixture_tables_give_the_serial_output(tmp_path, monkeypatch):
    workspace = write_workspace(tmp_path / "serial")
    monkeypatch.setattr(matcher, "_MIN_SHARD", 1)  # the fixtures hold a few dozen applicants
    serial, parallel, counts = _run_both(tmp_path, workspace, 2)
    assert counts[0] == counts[1]
    _assert_same_output(serial, parallel)


def test_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert worker_count() == max(1, min(2, os.cpu_count() or 1))
    monkeypatch.setenv(WORKERS_ENV, "1")
    assert worker_count() == 1
    monkeypatch.setenv(WORKERS_ENV, "two")
    with pytest.raises(ValueError, match="PATENTGRAPH_WORKERS='two'"):
        worker_count()
    monkeypatch.setenv(WORKERS_ENV, "0")
    with pytest.raises(ValueError, match="at least 1"):
        worker_count()


def _broken_register():
    raise KeyError("firm_id")


def test_a_failing_or_killed_worker_is_an_error_naming_it():
    with pytest.raises(RuntimeError, match=r"worker \(firm register\) failed:(.|\n)*KeyError: 'firm_id'"):
        ForkedCall(_broken_register, "firm register").result()
    with pytest.raises(RuntimeError, match=r"worker \(shard 2\) ended with exit code 9 before returning"):
        ForkedCall(lambda: os._exit(9), "shard 2").result()


def test_a_failed_parallel_match_replaces_no_table(tmp_path, monkeypatch):
    """name_parses is prepared in a child during the matching: a failed matching writes no table and leaves no
    child behind."""
    workspace = write_workspace(tmp_path / "ws")
    monkeypatch.setattr(matcher, "_MIN_SHARD", 1)
    run_matching(workspace, "good", workers=1)

    def broken_run(self, workers=1):
        raise MemoryError("matching ran out of memory")

    monkeypatch.setattr(matcher.Matcher, "run", broken_run)
    with pytest.raises(MemoryError):
        run_matching(workspace, "failed", workers=2)
    assert {name: workspace.run_id_of(name) for name in TABLES} == dict.fromkeys(TABLES, "good")
    assert multiprocessing.active_children() == []


def test_a_failing_shard_stops_the_match_naming_it(tmp_path, monkeypatch):
    """A firm-name shard that fails in its child process fails the match with the child's traceback; no table is
    replaced and no process is left behind."""
    workspace = write_workspace(tmp_path / "ws")
    monkeypatch.setattr(matcher, "_MIN_SHARD", 1)
    run_matching(workspace, "good", workers=1)
    parent, match_firm_names = os.getpid(), matcher.Matcher._match_firm_names

    def fails_in_a_child(self, apps):
        if os.getpid() != parent:
            raise MemoryError("shard ran out of memory")
        return match_firm_names(self, apps)

    monkeypatch.setattr(matcher.Matcher, "_match_firm_names", fails_in_a_child)
    with pytest.raises(RuntimeError, match=r"worker \(firm names, shard 2\) failed:(.|\n)*MemoryError: shard ran out"):
        run_matching(workspace, "failed", workers=2)
    assert {name: workspace.run_id_of(name) for name in TABLES} == dict.fromkeys(TABLES, "good")
    assert multiprocessing.active_children() == []


def test_a_cancelled_worker_stops_even_while_sending():
    job = ForkedCall(lambda: b"x" * 10_000_000, "name parses")  # more than a pipe holds: blocks until read
    job.cancel()
    assert multiprocessing.active_children() == []
