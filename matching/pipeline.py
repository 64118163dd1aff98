"""run_matching: patents + firms + review decisions -> applicants, filings, matches."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import compress

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.workspace import Quarantine, Workspace
from matching.applicants import Applicants, build_applicants
from matching.classify import classify_applicant
from matching.decisions import load_reviews
from matching.matcher import ForkedCall, Matcher
from matching.normalize import parse_name
from matching.register import FirmRegister, entry_names, name_parses_of
from matching.scoring import METHOD_VERSION

STAGE = "matching"
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
    """Every name's parse and every applicant spelling's type, kept for the refresh's incremental match
    (matching/incremental.py): assembled from the parses the register and build_applicants made (with workers > 1
    the register's were made in another process; some spellings were typed there too)."""
    spellings = pa.array([raw for raws in apps.table["raw_variants"].tolist() for raw in raws], pa.string())
    return name_parses_of(register.name_parse_rows(), spellings, apps.raw_parses, apps.raw_types)


def _received(job: ForkedCall) -> Future:
    """The child's result, received by a thread from now on: read and unpickled as soon as the child has sent it (at
    1M patents the ~200 MB register and ~60 MB name_parses table come through a file, see ForkedCall), not when this
    process asks for it, so only what is left of that work is on this process's path."""
    answer: Future = Future()

    def receive() -> None:
        try:
            answer.set_result(job.result())
        except BaseException as error:  # noqa: BLE001 - raised by answer.result() in the caller
            answer.set_exception(error)
    threading.Thread(target=receive, name=f"matching: receiving the {job.what}", daemon=True).start()
    return answer


def _cancel(job: ForkedCall, answer: Future) -> None:
    """Stop the child (this process failed) and wait for its receiving thread, which then ends on the closed pipe."""
    job.cancel()
    answer.exception()


def _read_patents(workspace: Workspace) -> pa.Table:
    return workspace.read("patents", columns=["publication_number", "applicants", "applicant_addresses",
                                              "application_date", "source_file", "source_position"])


class _RegisterChild:
    """The firm register indexed in a forked child, which also does per-distinct-value work for build_applicants
    (a SideWork) while this process builds the applicants: it parses the register's names first, then types the
    applicant spellings that are register names (already parsed there, so no name is parsed twice), then indexes
    the register. At 1M patents the applicants took 13.7 s here against the register's 10 s there; locating the
    applicants' addresses there too (1 s more) made the child the later one."""

    def __init__(self, firms: pd.DataFrame, firms_table: pa.Table):
        self.firms = firms
        self._register_names = pa.concat_arrays([
            firms_table["name"].combine_chunks(), pc.list_flatten(firms_table["former_names"]).combine_chunks(),
            firms_table["english_name"].combine_chunks()])
        context = multiprocessing.get_context("fork")
        jobs_in, self._jobs = context.Pipe(duplex=False)
        self._answers, answers_out = context.Pipe(duplex=False)
        parent_ends = (self._jobs, self._answers)
        self._job = ForkedCall(lambda: _register_with_side_work(firms, jobs_in, answers_out, parent_ends),
                               "firm register")
        self._state = _received(self._job)
        jobs_in.close()  # the child's ends: closed here, so a dead child reads as end of file
        answers_out.close()
        self._sender: threading.Thread | None = None

    def start(self, names: list[str]) -> list[bool]:
        taken = pc.is_in(pa.array(names, pa.string()), value_set=self._register_names).to_numpy(zero_copy_only=False)
        self._register_names = None  # not needed again
        # sent from a thread: the child reads only once it has parsed the register's names, and a pipe holds 64 kB
        self._sender = threading.Thread(target=self._send, args=(list(compress(names, taken)),),
                                        name="matching: side work to the register child", daemon=True)
        self._sender.start()
        return taken.tolist()

    def _send(self, work: list[str]) -> None:
        try:
            self._jobs.send(work)
        except OSError:
            pass  # the child is gone: result() raises its error
        finally:
            self._jobs.close()

    def result(self) -> list[str]:
        try:
            return self._answers.recv()
        except EOFError:  # the child failed or died before answering: its own result says how
            self._state.result()
            raise RuntimeError("matching worker (firm register) ended without answering") from None
        finally:
            self._answers.close()
            self._sender.join()

    def register(self) -> FirmRegister:
        return FirmRegister.from_portable(self._state.result(), self.firms)

    def cancel(self) -> None:
        """Stop the child (this process failed); a send under way then fails and its thread ends."""
        _cancel(self._job, self._state)
        if self._sender is not None:
            self._sender.join()
        self._jobs.close()
        self._answers.close()


def _register_with_side_work(firms: pd.DataFrame, jobs, answers, parent_ends: tuple) -> dict:
    """In the register child: the register's names parsed, the side work answered, the register indexed (its
    parses from the cache now) and returned as FirmRegister.portable()."""
    for end in parent_ends:  # copies of the parent's ends: closed, so a parent that dies reads as end of file
        end.close()
    for names in zip(*(firms[c].tolist() for c in ("name", "former_names", "english_name")), strict=True):
        for _, raw in entry_names(*names):
            parse_name(raw)
    names = jobs.recv()
    jobs.close()
    answer = [classify_applicant(n) for n in names]
    # sent from a thread while the register is indexed: the parent reads it only when it needs it
    sender = threading.Thread(target=answers.send, args=(answer,), name="matching: side work answers")
    sender.start()
    state = FirmRegister(firms).portable()
    sender.join()
    answers.close()
    return state


def _run_matching(workspace: Workspace, run_id: str, workers: int | None) -> MatchReport:
    started = time.perf_counter()
    workers = worker_count() if workers is None else workers
    # the firms are read first (the register child starts on them) but a missing input is named in pipeline order
    workspace.require("patents", "firms")
    firms_table = workspace.read("firms")
    firms = firms_table.to_pandas()
    quarantine = Quarantine(STAGE)
    register_child = None
    if workers > 1:
        # the register is indexed in a child, started before the patents are read, while this process builds the
        # applicants (independent inputs); the applicants stay here because the matcher reuses the parse cache
        # they fill
        register_child = _RegisterChild(firms, firms_table)
        try:
            patents = _read_patents(workspace)
            apps = build_applicants(patents, quarantine, side=register_child)
            register = register_child.register()
        except BaseException:
            register_child.cancel()
            raise
    else:
        patents = _read_patents(workspace)
        apps = build_applicants(patents, quarantine)
        register = FirmRegister(firms)
    patents_quarantined = len(quarantine)
    reviews, reviews_read = load_reviews(workspace.decisions_path, set(apps.table["applicant_id"].tolist()),
                                         set(register.firm_ids), quarantine)
    # name_parses depends on the applicants and the register only: with workers > 1 a child builds it while this
    # process matches, and hands it back (a child that waited to write it itself would keep every page shared
    # until then, and each page the matching touches would be copied: +3-8 CPU s in two runs at 300k patents)
    names_job = ForkedCall(partial(_name_parses, apps, register), "name parses") if workers > 1 else None
    names = _received(names_job) if names_job else None
    try:
        matches = Matcher(register, apps, reviews).run(workers)
    except BaseException:
        if names_job:
            _cancel(names_job, names)
        raise
    # every table is ready before any is written: a failure up to here replaces none of them
    tables = {"applicants": apps.table,
              "filings": apps.filings[["publication_number", "position", "applicant_id", "raw_name", "address"]],
              "matches": matches,
              "name_parses": names.result() if names else _name_parses(apps, register)}
    # the tables written side by side: pyarrow encodes, compresses and writes without holding the GIL, so the writes
    # overlap (at 1M patents the four took ~2 s one after another), and so does what this process does meanwhile:
    # the report's counts, and letting go of the run's inputs (freeing their millions of objects took ~1 s at 1M
    # patents once the writes were done)
    with ThreadPoolExecutor(len(tables)) as pool:
        written = [pool.submit(workspace.write, name, table, run_id) for name, table in tables.items()]
        applicant_types = dict(Counter(apps.table["applicant_type"].tolist()))
        n_patents, n_filings, n_applicants = len(patents), len(apps.filings), len(apps.table)
        linking = pc.is_valid(matches["firm_id"])
        decisions = dict(Counter(matches["decision"].to_pylist()))
        link_types = dict(Counter(matches["link_type"].filter(linking).to_pylist()))
        linked = pc.count_distinct(matches["applicant_id"].filter(
            pc.and_(linking, pc.is_in(matches["decision"], pa.array(["auto", "manual"]))))).as_py()
        del patents, apps, register, reviews, register_child, names_job, names
        for write in written:
            write.result()
    quarantine_file = quarantine.save(workspace, run_id)

    report = MatchReport(
        run_id=run_id,
        method_version=METHOD_VERSION,
        patents_read=n_patents,
        patents_quarantined=patents_quarantined,
        filings=n_filings,
        applicants=n_applicants,
        applicant_types=applicant_types,
        decisions=decisions,
        link_types=link_types,
        linked_applicants=linked,
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
