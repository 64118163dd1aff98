"""run_matching: patents + firms + review decisions -> applicants, filings, matches."""

from __future__ import annotations

import gc
import os
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import pyarrow as pa

from graph.workspace import Quarantine, Workspace
from matching.applicants import Applicants, build_applicants
from matching.classify import classify_applicant
from matching.decisions import load_reviews
from matching.matcher import ForkedCall, Matcher
from matching.register import FirmRegister, KeptNames, name_parses_table, parse_with
from matching.scoring import METHOD_VERSION

STAGE = "matching"
_MATCH_COLUMNS = ["applicant_id", "firm_id", "score", "decision", "link_type", "evidence", "method_version"]
WORKERS_ENV = "PATENTGRAPH_WORKERS"


@dataclass
class MatchReport:
    run_id: str
    method_version: str
    patents_read: int
    patents_quarantined: int
    filings: int
    applicants: int
    applicant_types: dict[str, int]
    decisions: dict[str, int]  # matches rows per decision
    link_types: dict[str, int]  # firm links (non-null) per link type
    linked_applicants: int  # applicants with an auto or manual firm link
    review_rows_read: int
    review_rows_quarantined: int
    seconds: float
    quarantine_file: str | None = None
    notes: list[str] = field(default_factory=list)


@contextmanager
def no_cycle_collection():
    """Matching builds millions of small acyclic objects (parsed names, entries, evidence); each full pass of
    the cycle collector walks all of them, which cost a fifth of the run at 1M patents. Reference counting
    still frees them; the collector resumes afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def worker_count() -> int:
    """Processes matching may use: PATENTGRAPH_WORKERS, else min(2, CPU count). 1 = everything in this process."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return max(1, min(2, os.cpu_count() or 1))
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{WORKERS_ENV}={value!r}: expected a whole number of processes, at least 1")
    return int(value)


def run_matching(workspace: Workspace, run_id: str, workers: int | None = None) -> MatchReport:
    """workers: processes to use (default worker_count()); the output does not depend on it."""
    # the whole run, writing included: with millions of objects alive, collector passes during the writes
    # made the name_parses step alone cost ~1 s of a 25 s run at 300k patents
    with no_cycle_collection():
        return _run_matching(workspace, run_id, workers)


def _name_parses(apps: Applicants, register: FirmRegister) -> pa.Table:
    """Every name parsed and every applicant spelling classified (both cached by now), kept for the refresh's
    incremental match (matching/incremental.py)."""
    spellings = pa.array([raw for raws in apps.table["raw_variants"].tolist() for raw in raws], pa.string())
    entry_raws = pa.array([entry.raw for entry in register.entries], pa.string())
    # the register's entries carry their parses: with workers > 1 they were parsed in another process, whose
    # parse cache this one does not have
    entry_parses = parse_with({entry.raw: entry.parsed for entry in register.entries})
    return name_parses_table(KeptNames({}, {}), pa.concat_arrays([entry_raws, spellings]), spellings, entry_parses,
                             classify_applicant)


def _run_matching(workspace: Workspace, run_id: str, workers: int | None) -> MatchReport:
    started = time.perf_counter()
    workers = worker_count() if workers is None else workers
    patents = workspace.read_df("patents", columns=["publication_number", "applicants", "applicant_addresses",
                                                    "application_date", "source_file", "source_position"])
    firms = workspace.read_df("firms")
    quarantine = Quarantine(STAGE)
    if workers > 1:
        # the register is indexed in a child while this process builds the applicants (independent inputs);
        # the applicants stay here because the matcher reuses the parse cache they fill
        register_job = ForkedCall(lambda: FirmRegister(firms).portable(), "firm register")
        apps = build_applicants(patents, quarantine)
        register = FirmRegister.from_portable(register_job.result(), firms)
    else:
        apps = build_applicants(patents, quarantine)
        register = FirmRegister(firms)
    patents_quarantined = len(quarantine)
    reviews, reviews_read = load_reviews(workspace.decisions_path, set(apps.table["applicant_id"].tolist()),
                                         set(register.firm_ids), quarantine)
    # name_parses depends on the applicants and the register only: with workers > 1 a child builds it while this
    # process matches, and hands it back (a child that waited to write it itself would keep every page shared
    # until then, and each page the matching touches would be copied: +3-8 CPU s in two runs at 300k patents)
    names_job = ForkedCall(lambda: _name_parses(apps, register), "name parses") if workers > 1 else None
    try:
        rows = Matcher(register, apps, reviews, evidence_as_bytes=True).run(workers)
    except BaseException:
        if names_job:
            names_job.cancel()
        raise
    # an Arrow table from column lists, not a frame from records (4x faster), the evidence straight from its
    # UTF-8 bytes; the counts below read the plain lists
    columns = {c: [row[c] for row in rows] for c in _MATCH_COLUMNS}
    del rows
    matches = pa.table({c: pa.array(columns[c], pa.binary()).cast(pa.string()) if c == "evidence" else columns[c]
                        for c in _MATCH_COLUMNS})

    workspace.write("applicants", apps.table, run_id)
    workspace.write("filings", apps.filings[["publication_number", "position", "applicant_id", "raw_name",
                                             "address"]], run_id)
    workspace.write("matches", matches, run_id)
    workspace.write("name_parses", names_job.result() if names_job else _name_parses(apps, register), run_id)
    quarantine_file = quarantine.save(workspace, run_id)

    firm_ids, decisions, link_types = columns["firm_id"], columns["decision"], columns["link_type"]
    linked = {a for a, f, d in zip(columns["applicant_id"], firm_ids, decisions, strict=True)
              if f is not None and d in ("auto", "manual")}
    report = MatchReport(
        run_id=run_id,
        method_version=METHOD_VERSION,
        patents_read=len(patents),
        patents_quarantined=patents_quarantined,
        filings=len(apps.filings),
        applicants=len(apps.table),
        applicant_types=dict(Counter(apps.table["applicant_type"].tolist())),
        decisions=dict(Counter(decisions)),
        link_types=dict(Counter(t for f, t in zip(firm_ids, link_types, strict=True) if f is not None)),
        linked_applicants=len(linked),
        review_rows_read=reviews_read,
        review_rows_quarantined=len(quarantine) - patents_quarantined,
        seconds=round(time.perf_counter() - started, 3),
        quarantine_file=str(quarantine_file) if quarantine_file else None,
    )
    workspace.record_run(run_id, STAGE, {
        "patents_read": report.patents_read, "patents_quarantined": report.patents_quarantined,
        "filings": report.filings, "applicants": report.applicants, "matches": len(matches),
        "linked_applicants": report.linked_applicants, "review_rows_read": reviews_read,
        "review_rows_quarantined": report.review_rows_quarantined,
    }, report.seconds, method_version=METHOD_VERSION)
    return report
