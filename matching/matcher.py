"""Resolve applicants to firms: candidates, evidence, scores, decisions and links.

Order per applicant: review decisions first; then firm-name candidates (exact key, exact core,
branch -> parent, blocked fuzzy) for company/unknown applicants; then people -> the firm they
legally represent (needs the firm links of their co-applicants, so runs second); then group /
IP-holding applicants -> their operating subsidiaries. Universities, institutes, hospitals and
government bodies get one row with no firm and the reason.
"""

from __future__ import annotations

import inspect
import math
import multiprocessing
import os
import pickle
import re
import shutil
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from matching import scoring
from matching.applicants import Applicants
from matching.decisions import Review
from matching.normalize import ParsedName, glued_clauses, parse_name
from matching.pairs import (
    LEGAL,
    REGIONS,
    VARIANTS,
    VIAS,
    ApplicantSide,
    Pairs,
    RegisterCodes,
    Scored,
    date_shares,
    score_pairs,
)
from matching.register import ENTRY_KINDS, FirmRegister, GluedNames

FIRM_TYPES = ("company", "unknown")
NOT_FIRM_REASON = {
    "university": "applicant is a university: not a firm",
    "research_institute": "applicant is a research institute: not a firm",
    "hospital": "applicant is a hospital: not a firm",
    "government": "applicant is a government body: not a firm",
}
_GROUP_WORDS_RE = re.compile("集团|控股|知识产权|group|holding|intellectual property")
_RULES = {
    "auto": f"score >= {scoring.AUTO_THRESHOLD}",
    "review": f"{scoring.REVIEW_THRESHOLD} <= score < {scoring.AUTO_THRESHOLD}",
    "manual": "reviewer decision",
    "rejected": f"score < {scoring.REVIEW_THRESHOLD}",
}
_NO_DATES = np.array([], dtype="datetime64[D]")
_EXCLUDED_SHOWN = 5  # excluded candidates listed in the evidence
_MIN_SHARD = 2_000  # firm-like applicants per worker below which a second process costs more than it saves
_APPLICANT_COLUMNS = ("applicant_id", "name", "raw_variants", "applicant_type", "region", "city")
# run()'s table: the `matches` columns. Each process gathers its rows as tuples, then turns them into one Arrow table
# (a shard's half a million rows, pickled back as Python objects, took ~3 s to unpickle; as Arrow, a copy of buffers)
ROW_SCHEMA = pa.schema([("applicant_id", pa.string()), ("firm_id", pa.string()), ("score", pa.float64()),
                        ("decision", pa.string()), ("link_type", pa.string()), ("evidence", pa.string()),
                        ("method_version", pa.string())])
_EVIDENCE_CHUNK = 32_768  # rows per Arrow chunk of the evidence column


def _evidence_array(documents: tuple[bytes, ...]) -> pa.ChunkedArray:
    """The evidence documents (UTF-8 JSON) as an Arrow string column, built in chunks: one array of ~350 MB at 1M
    patents took 0.7-1.8 s to build in six runs, chunks a steady ~0.65 s. Built as binary and viewed as text: orjson
    writes valid UTF-8 only, and building them as text checked it again (0.76 s against 0.12 s for 310 MB)."""
    return pa.chunked_array([pa.array(documents[i:i + _EVIDENCE_CHUNK], pa.binary()).view(pa.string())
                             for i in range(0, len(documents), _EVIDENCE_CHUNK)], pa.string())


def rows_table(rows: list[tuple]) -> pa.Table:
    """Rows (tuples in ROW_SCHEMA's order, evidence as UTF-8 bytes) as a table."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(ROW_SCHEMA)
    return pa.table([_evidence_array(values) if field.name == "evidence" else pa.array(values, field.type)
                     for field, values in zip(ROW_SCHEMA, columns, strict=True)], schema=ROW_SCHEMA)


def _evidence_json(evidence: dict) -> bytes:
    """One evidence document as UTF-8 JSON (orjson: a tenth of json's time, ~10 % of a whole matching run)."""
    return orjson.dumps(evidence, default=str, option=orjson.OPT_SERIALIZE_NUMPY)


class ForkedCall:
    """`work()` run in a forked child while the caller goes on; `result()` returns its value (pickled back).
    A generator `work` sends each value it yields as soon as it has it: `parts()` receives them in order, so the
    caller can use the first while the child still prepares the next.

    Fork, not spawn: the child starts with the caller's tables and caches without copying or re-importing them."""

    def __init__(self, work: Callable[[], object], what: str):
        self.what = what
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        # parts() in a receiving thread and cancel() may both close the pipe: closed once, or the second close
        # hits a descriptor number that may be reused already
        self._closing = threading.Lock()
        # answers larger than _SPILL_BYTES come through a file here: read from the pipe, their 64 kB chunks each wait
        # for the GIL when this process is busy (a receiving thread took ~2 s for the register's 200 MB at 1M)
        self._spill = tempfile.mkdtemp(prefix="patentgraph-matching-")
        self._process = context.Process(target=_run_and_send, args=(work, send, self._spill),
                                        name=f"matching: {what}", daemon=True)
        self._process.start()
        send.close()

    def result(self):
        (value,) = self.parts()
        return value

    def parts(self) -> Iterator:
        try:
            while True:
                try:
                    kind, value = self._receive.recv()
                except EOFError:  # the child died without answering (killed, e.g. out of memory)
                    self._process.join()
                    raise RuntimeError(f"matching worker ({self.what}) ended with exit code "
                                       f"{self._process.exitcode} before returning its result") from None
                if kind == "error":
                    self._process.join()
                    raise RuntimeError(f"matching worker ({self.what}) failed:\n{value}")
                if kind == "end":
                    break
                if kind == "file":
                    path, value = value, Path(value).read_bytes()
                    os.unlink(path)
                yield pickle.loads(value)
        finally:
            self._close_receive()
        self._process.join()

    def cancel(self) -> None:
        """Stop the child: the caller failed and will not read its result (unread, the child would wait on the
        pipe until the caller exits)."""
        self._process.terminate()
        self._process.join()
        self._close_receive()

    def _close_receive(self) -> None:
        with self._closing:
            if not self._receive.closed:
                self._receive.close()
                shutil.rmtree(self._spill, ignore_errors=True)  # a file the child wrote but nobody read


_SPILL_BYTES = 1 << 20


def _run_and_send(work: Callable[[], object], send, spill: str) -> None:
    try:
        value = work()
        for n, part in enumerate(value if inspect.isgenerator(value) else (value,)):
            data = pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
            if len(data) > _SPILL_BYTES:
                path = os.path.join(spill, f"part-{n}")
                Path(path).write_bytes(data)
                send.send(("file", path))
            else:
                send.send(("pickled", data))
        send.send(("end", None))
    except BaseException:  # noqa: BLE001 - every failure goes back to the parent, which raises it
        send.send(("error", traceback.format_exc()))
    send.close()


@dataclass(slots=True)
class Applicant:
    applicant_id: str
    name: str
    parsed: ParsedName
    type: str
    province: str | None
    city: str | None
    dates: np.ndarray
    legal_form: str
    addresses: frozenset[str]
    # first and last filing date as ISO text and as day numbers (None without dates): converted for all
    # applicants at once, read by every evidence document
    first_filing: str | None = None
    last_filing: str | None = None
    first_day: int | None = None
    last_day: int | None = None
    clause_text: str | None = None  # the text after the head of a glued assignment clause (normalize.py)


def _labels(names: tuple[str, ...], codes: np.ndarray) -> list[str]:
    return np.array(names, dtype=object)[codes].tolist()


def _iso_list(days: np.ndarray) -> list[str | None]:
    """datetime64[D] values as ISO dates, NaT as None (converted once per register, not per link)."""
    return [None if d == "NaT" else d for d in np.datetime_as_string(days, unit="D").tolist()]


def _date_ends(apps: list[Applicant]) -> None:
    """Each applicant's first and last filing date, as ISO text (str of the datetime64) and day number."""
    counts = np.array([len(app.dates) for app in apps], dtype=np.int64)
    dated = np.flatnonzero(counts > 0)
    if not len(dated):
        return
    flat = np.concatenate([apps[i].dates for i in dated.tolist()]).astype("datetime64[D]")
    last = np.cumsum(counts[dated]) - 1
    first = last - counts[dated] + 1
    for i, iso_first, iso_last, day_first, day_last in zip(
            dated.tolist(), np.datetime_as_string(flat[first], unit="D").tolist(),
            np.datetime_as_string(flat[last], unit="D").tolist(), flat[first].view(np.int64).tolist(),
            flat[last].view(np.int64).tolist(), strict=True):
        app = apps[i]
        app.first_filing, app.last_filing, app.first_day, app.last_day = iso_first, iso_last, day_first, day_last


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    """round(v, digits) of each value, in bulk: numpy's rint(v * 10**digits) / 10**digits is the same double
    (k / 10**digits is correctly rounded, so it is the double nearest the decimal) wherever the scaled value is
    farther from a half than its rounding error (< 2**-23 below 2**30); NaN stays NaN as with round; near a
    half, or large, Python's round decides."""
    scale = 10.0 ** digits
    scaled = values * scale
    out = (np.rint(scaled) / scale).tolist()
    with np.errstate(invalid="ignore"):  # NaN compares False: not doubtful
        doubtful = (np.abs(scaled - np.floor(scaled) - 0.5) <= 1e-6) | (np.abs(scaled) >= 2.0 ** 30)
    for i in np.flatnonzero(doubtful).tolist():
        out[i] = round(float(values[i]), digits)
    return out


@dataclass(slots=True)
class _Candidates:
    """One shard's candidate pairs grouped by applicant: what the ranking reads of every pair as plain lists (a
    numpy scalar per read costs more), the rest as the arrays, read for the shown pairs only (`_Shown`)."""

    firm: list[int]
    entry: list[int]
    valid: list[bool]  # some filing inside the firm's life, or no date to check
    z: list[float]
    pairs: Pairs
    scored: Scored


@dataclass(slots=True)
class _Shown:
    """What the evidence shows of the pairs it shows (each applicant's top 3, in the decisions' order), made in
    bulk: at 1M an applicant has ~14 candidate pairs, so this is a small part of them."""

    logit: list[float]  # z rounded as the evidence shows it
    name: list[float]  # the name's log-odds, rounded
    edits: list[int]  # -1: not computed (non-Chinese applicant)
    ratio: list[float]  # rounded; NaN: not computed (Chinese applicant)
    region: list[str]
    same_address: list[bool]
    legal: list[str]
    variant: list[str]
    short: list[bool]
    date_share: list[float | None]  # rounded; None: no date to check
    via: list[str]

    @staticmethod
    def of(c: _Candidates, shown: np.ndarray) -> _Shown:
        pairs, scored = c.pairs, c.scored
        share = scored.share[shown]
        date_share = _rounded(share, 3)
        for k in np.flatnonzero(np.isnan(share)).tolist():
            date_share[k] = None
        return _Shown(logit=_rounded(scored.z[shown], 3), name=_rounded(scored.name[shown], 3),
                      edits=pairs.edits[shown].tolist(), ratio=_rounded(pairs.ratio[shown], 1),
                      region=_labels(REGIONS, scored.region[shown]), same_address=scored.same_address[shown].tolist(),
                      legal=_labels(LEGAL, scored.legal[shown]), variant=_labels(VARIANTS, scored.variant[shown]),
                      short=scored.short[shown].tolist(), date_share=date_share, via=_labels(VIAS, pairs.via[shown]))


class Matcher:
    def __init__(self, register: FirmRegister, applicants: Applicants, reviews: dict[str, Review]):
        self.reg = register
        self.apps = applicants
        self.reviews = reviews
        self.rows: list[tuple] = []  # ROW_SCHEMA's columns, the evidence as UTF-8 bytes
        self.resolved: dict[str, int] = {}  # applicant_id -> firm row (auto/manual links)
        self.established_iso = _iso_list(register.established)
        self.deregistered_iso = _iso_list(register.deregistered)
        # the same dates as day numbers (NaT: the smallest int64), for comparisons without numpy scalars
        self.established_day = register.established.view(np.int64).tolist()
        self.deregistered_day = register.deregistered.view(np.int64).tolist()
        self.codes = RegisterCodes(register)  # before the shards fork: each shard's scoring reads it
        # what the evidence shows of each register entry, as lists (through the entry objects, these cold lookups
        # were a fifth of the decisions' time)
        self.entry_firm_id = np.array(register.firm_ids, dtype=object)[register.entry_firm].tolist()
        self.entry_firm_name = np.array(register.names, dtype=object)[register.entry_firm].tolist()
        self.entry_raw = register.entry_raw
        self.entry_kind_name = np.array(ENTRY_KINDS, dtype=object)[register.entry_kind].tolist()

    # --- entry point -------------------------------------------------------------------------
    def run(self, workers: int = 1) -> pa.Table:
        """Every applicant's `matches` rows (ROW_SCHEMA): reviewed and non-firm applicants in table order, then the
        company/unknown applicants' firm-name rows, then people. workers > 1 matches firm names in that many
        processes (same rows, same order as workers=1)."""
        table = self.apps.table
        # the columns each process reads to build the Applicant objects of its own applicants (_applicants)
        self._columns = [table[c].tolist() for c in _APPLICANT_COLUMNS]
        # glued assignment clauses (none in a modern register's run: then nothing more is built)
        self._clause_texts = glued_clauses(table["name"])
        self._glued_names = GluedNames(self.reg) if self._clause_texts else None  # before the shards fork
        kind = table["applicant_type"]
        settled = table["applicant_id"].isin([a for a, r in self.reviews.items() if r.chosen or r.reject_all])
        firm_like = (kind.isin(FIRM_TYPES) & ~settled).to_numpy()
        person = ((kind == "individual") & ~settled).to_numpy()
        firms_like = np.flatnonzero(firm_like).tolist()
        workers = max(1, min(workers, len(firms_like) // _MIN_SHARD))
        # the children start first: each builds its own shard's Applicant objects while this process goes on
        shards = [firms_like[n::workers] for n in range(workers)]
        children = [ForkedCall(lambda shard=shard: self._shard_parts(shard), f"firm names, shard {n + 1}")
                    for n, shard in enumerate(shards[1:], start=1)]
        try:
            for app in self._applicants(np.flatnonzero(~(firm_like | person)).tolist()):
                review = self.reviews.get(app.applicant_id)
                if review and (review.chosen or review.reject_all):
                    self._apply_review(app, review)
                else:
                    self._no_firm(app, NOT_FIRM_REASON[app.type], [])
            first = len(self.rows)
            ends = self._match_firm_names(self._applicants(shards[0]))
            people = self._applicants(np.flatnonzero(person).tolist())
            received = [child.parts() for child in children]
            for parts in received:
                self.resolved.update(next(parts))
            # people need every firm link of the run (their co-applicants'), and the children send their links
            # before their rows: people are matched while the children pickle the rows
            rows, self.rows = self.rows, []
            for app in people:
                self._match_person(app)
            people_rows, self.rows = self.rows, rows
            if children:
                firm_names = self._put_back(shards, first, ends, [next(parts) for parts in received])
                for parts in received:
                    next(parts, None)  # the end of the child's answer
            else:
                firm_names = rows_table(self.rows)
        except BaseException:
            for child in children:
                child.cancel()
            raise
        self.rows = []
        return pa.concat_tables([firm_names, rows_table(people_rows)])

    def _applicants(self, rows: list[int]) -> list[Applicant]:
        """The Applicant objects of these rows of the applicants table, with their first and last filing."""
        dates, addresses, no_address = self.apps.dates.get, self.apps.addresses.get, frozenset()
        ids, names, spellings, kinds, regions, cities = self._columns
        apps = []
        for i in rows:
            applicant_id, variants = ids[i], spellings[i]
            if len(variants) == 1:
                parsed = parse_name(variants[0])
                form = parsed.legal_form
            else:  # the first spelling's parse, the first legal form any spelling has
                parses = [parse_name(v) for v in variants]
                parsed, form = parses[0], next((p.legal_form for p in parses if p.legal_form), "")
            region, city = regions[i], cities[i]
            apps.append(Applicant(applicant_id, names[i], parsed, kinds[i],
                                  region if isinstance(region, str) and region else None,
                                  city if isinstance(city, str) and city else None,
                                  dates(applicant_id, _NO_DATES), form, addresses(applicant_id, no_address),
                                  clause_text=self._clause_texts.get(i)))
        _date_ends(apps)
        return apps

    # --- firm names --------------------------------------------------------------------------
    def _put_back(self, shards: list[list[int]], first: int, ends: list[int],
                  received: list[tuple[pa.Table, list[int]]]) -> pa.Table:
        """Shards are interleaved (applicant i of the firm-like list in shard i % workers: the later applicants
        have more candidates, so contiguous halves left one process waiting), the first matched in this process
        (its rows from self.rows[first], ending at `ends`) and the others in forked children; the rows are put
        back applicant by applicant, so the order is that of one process. Firm-name decisions are per applicant
        (pairs, scores and the normalisation run over one applicant's own candidates)."""
        tables = [rows_table(self.rows), *(table for table, _ in received)]
        offsets = np.cumsum([0, *(len(table) for table in tables)])
        workers = len(shards)
        # each applicant's rows (start, stop) in the tables put end to end, in the firm-like order
        starts = np.zeros(sum(len(shard) for shard in shards), dtype=np.int64)
        stops = np.zeros_like(starts)
        for n, bounds in enumerate([[first, *ends], *([0, *row_ends] for _, row_ends in received)]):
            at = np.asarray(bounds, dtype=np.int64) + offsets[n]
            starts[n::workers], stops[n::workers] = at[:-1], at[1:]
        lengths = stops - starts
        order = np.concatenate([np.arange(first, dtype=np.int64),
                                np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
                                + np.arange(int(lengths.sum()), dtype=np.int64)])
        return pa.concat_tables(tables).take(order)

    def _shard_parts(self, rows: list[int]) -> Iterator:
        """In a forked child: this shard's links, then its rows and where each applicant's rows end."""
        self.rows, self.resolved = [], {}
        ends = self._match_firm_names(self._applicants(rows))
        yield self.resolved
        yield rows_table(self.rows), ends

    def _exact(self, apps: list[Applicant]) -> Pairs:
        """Exact key, exact core, branch -> parent key and, for a glued assignment clause, the longest register name
        its text starts with; first way found per entry (per applicant: the key's entries, then the core's, then
        the parent key's, then the glued name's, each in the register's order)."""
        by_key, by_core = self.reg.by_key, self.reg.by_core
        parsed = [app.parsed for app in apps]
        found = [by_key.gather([p.key for p in parsed]), by_core.gather([p.core for p in parsed]),
                 by_key.gather([p.branch_of or None for p in parsed])]
        vias = ["key", "core", "branch_parent"]
        if self._glued_names is not None:
            found.append(self._glued_names.longest_prefixes([app.clause_text for app in apps]))
            vias.append("glued_prefix")
        app_idx, entry_idx, via_idx = [], [], []
        for via, (counts, entries) in zip(vias, found, strict=True):
            app_idx.append(np.repeat(np.arange(len(apps), dtype=np.int64), counts))
            entry_idx.append(entries)
            via_idx.append(np.full(len(entries), VIAS.index(via), dtype=np.int64))
        app_idx, entry_idx, via_idx = np.concatenate(app_idx), np.concatenate(entry_idx), np.concatenate(via_idx)
        # an entry found twice for one applicant keeps its first way (a key's, a core's entries are distinct)
        _, first = np.unique(app_idx * len(self.reg.entry_firm) + entry_idx, return_index=True)
        first.sort()
        order = first[np.argsort(app_idx[first], kind="stable")]
        n = len(order)
        return Pairs(app_idx[order], entry_idx[order], via_idx[order], np.zeros(n, dtype=np.int64),
                     np.full(n, 100.0))

    def _fuzzy(self, apps: list[Applicant], which: np.ndarray) -> Pairs:
        """Blocked candidates of the applicants in `which`, with edit distance and ratio on cores."""
        chosen = [apps[i] for i in which.tolist()]
        blocked = self.reg.block([app.parsed for app in chosen]) if chosen else []
        app_idx, entry_idx = [], []
        substituted = self.reg.one_substitutions([app.parsed.core for app in chosen])
        by_address, entries_of = self.reg.by_address, self.reg.entries_of
        for i, app, entry_ids, near in zip(which.tolist(), chosen, blocked, substituted, strict=True):
            # n-gram neighbours, one-substitution neighbours, and firms registered at the applicant's address
            found = near.union(entry_ids)
            for address in app.addresses:
                for firm in by_address.get(address, ()):
                    found.update(entries_of[firm])
            app_idx.extend([i] * len(found))
            entry_idx.extend(sorted(found))
        app_idx, entry_idx = np.array(app_idx, dtype=np.int64), np.array(entry_idx, dtype=np.int64)
        # the score reads edits for Chinese applicants and the ratio for the others: each pair gets the one its
        # applicant's script uses (-1 / NaN for the other; _decide computes it for the chosen pair's evidence)
        cores = np.array([app.parsed.core for app in apps], dtype=object)
        zh = np.array([app.parsed.script == "zh" for app in apps], dtype=bool)[app_idx]
        n = len(app_idx)
        edits, ratios = np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
        for part, scorer, out in ((np.flatnonzero(zh), Levenshtein.distance, edits),
                                  (np.flatnonzero(~zh), fuzz.ratio, ratios)):
            if len(part):
                out[part] = process.cpdist(cores[app_idx[part]].tolist(), self.reg.entry_core[entry_idx[part]].tolist(),
                                           scorer=scorer, workers=-1)
        return Pairs(app_idx, entry_idx, np.full(n, VIAS.index("fuzzy"), dtype=np.int64), edits, ratios)

    def _match_firm_names(self, apps: list[Applicant]) -> list[int]:
        """Appends each applicant's rows; returns where each applicant's rows end in self.rows."""
        bounds, candidates = self._candidates(apps)
        # every applicant's ranking first, then what the evidence shows of the shown pairs, in bulk
        rankings = [self._rank(app, bounds[i], bounds[i + 1], candidates) for i, app in enumerate(apps)]
        shown = _Shown.of(candidates, np.fromiter(chain.from_iterable(ranked[:3] for ranked, _ in rankings),
                                                  dtype=np.int64))
        ends, rows, at = [], self.rows, 0  # at: where the applicant's shown pairs start in `shown`
        for app, (ranked, excluded) in zip(apps, rankings, strict=True):
            self._decide(app, ranked, excluded, candidates, shown, at)
            at += min(len(ranked), 3)
            ends.append(len(rows))
        return ends

    def _candidates(self, apps: list[Applicant]) -> tuple[list[int], _Candidates]:
        """Every candidate pair of these applicants, scored, grouped by applicant (applicant i's pairs are
        bounds[i]..bounds[i + 1]-1)."""
        side = ApplicantSide([a.parsed for a in apps], [a.province for a in apps], [a.city for a in apps],
                             [a.legal_form for a in apps], [a.addresses for a in apps], [a.dates for a in apps])
        exact = self._exact(apps)
        exact_scored = score_pairs(self.reg, self.codes, side, exact, date_shares(self.reg, side, exact))
        # fuzzy search only for applicants without a date-valid exact candidate in a compatible region: a
        # namesake registered in another city is another firm, and a near name in the applicant's own city
        # (a typo, or a firm at the applicant's address) may be the one
        elsewhere = np.isin(exact_scored.region, [REGIONS.index("conflict"), REGIONS.index("name_conflict")])
        has_valid = np.zeros(len(apps), dtype=bool)
        has_valid[exact.app[(np.isnan(exact_scored.share) | (exact_scored.share > 0)) & ~elsewhere]] = True
        fuzzy = self._fuzzy(apps, np.flatnonzero(~has_valid))
        fuzzy_scored = score_pairs(self.reg, self.codes, side, fuzzy, date_shares(self.reg, side, fuzzy))
        # per applicant: exact candidates first, then fuzzy ones, each in the order found
        pairs = Pairs.concat([exact, fuzzy])
        order = np.argsort(pairs.app, kind="stable")
        pairs = pairs.take(order)
        scored = Scored.concat([exact_scored, fuzzy_scored]).take(order)
        share = scored.share
        bounds = np.searchsorted(pairs.app, np.arange(len(apps) + 1)).tolist()
        candidates = _Candidates(firm=self.reg.entry_firm[pairs.entry].tolist(), entry=pairs.entry.tolist(),
                                 valid=(np.isnan(share) | (share > 0)).tolist(), z=scored.z.tolist(), pairs=pairs,
                                 scored=scored)
        return bounds, candidates

    def _rank(self, app: Applicant, start: int, stop: int, c: _Candidates) -> tuple[list[int], list[dict]]:
        """The applicant's candidate pairs (of start..stop-1) that may be it, best first (one per firm), and the
        firms excluded by their dates or by a reviewer, as the evidence lists them."""
        reg, firm_of, z = self.reg, c.firm, c.z
        review = self.reviews.get(app.applicant_id)
        rejected = review.rejected_firms if review else ()
        excluded: list[dict] = []
        if stop - start == 1 and not rejected and c.valid[start]:  # the usual case: one candidate, in its dates
            ranked = [start]
        else:
            # (firm, entry whose dates exclude it; None: rejected by reviewer), the first few, each once: an entry
            # found by its exact name has no valid date, so the fuzzy search finds it again
            dropped: list[tuple[int, int | None]] = []
            kept: dict[int, int] = {}  # firm -> its best pair
            for k in range(start, stop):
                firm = firm_of[k]
                if rejected and reg.firm_ids[firm] in rejected:
                    why = None
                elif not c.valid[k]:
                    why = c.entry[k]
                else:
                    if firm not in kept or z[k] > z[kept[firm]]:
                        kept[firm] = k
                    continue
                if len(dropped) < _EXCLUDED_SHOWN and (firm, why) not in dropped:
                    dropped.append((firm, why))
            excluded = [{"firm_id": reg.firm_ids[firm],
                         "reason": "rejected by reviewer" if entry is None else self._date_reason(app, firm, entry)}
                        for firm, entry in dropped]
            ranked = sorted(kept.values(), key=z.__getitem__, reverse=True)  # stable: ties keep pair order
        return ranked, excluded

    def _decide(self, app: Applicant, ranked: list[int], excluded: list[dict], c: _Candidates, shown: _Shown,
                at: int) -> None:
        """The applicant's decision from its ranked pairs, with its evidence (its shown pairs start at `at`)."""
        if not ranked:
            self._no_firm(app, "no firm in the register carries this name", [], excluded)
            return
        reg, firm_of, z = self.reg, c.firm, c.z
        scores = scoring.competing_scores([z[k] for k in ranked])
        score = scores[0]
        decision = scoring.decision_for(score)
        entry_of, firm_id, firm_name, raw, kind_of = (c.entry, self.entry_firm_id, self.entry_firm_name,
                                                      self.entry_raw, self.entry_kind_name)
        top3 = []
        for j, (k, candidate_score) in enumerate(zip(ranked[:3], scores, strict=False), start=at):
            e = entry_of[k]
            top3.append({"firm_id": firm_id[e], "name": firm_name[e], "matched_name": raw[e], "variant": kind_of[e],
                         "via": shown.via[j], "score": round(candidate_score, 4), "logit": shown.logit[j]})
        if decision == "rejected":
            self._no_firm(app, f"best candidate scored {score:.2f} < {scoring.REVIEW_THRESHOLD}", top3, excluded)
            return
        best = ranked[0]
        firm, entry = firm_of[best], entry_of[best]
        kind = kind_of[entry]
        # _fuzzy computes edits (Chinese) or the ratio (other scripts) per pair: the other one is computed here,
        # the ratio in float32 as cpdist gives it (math.isnan: a tenth of numpy's time on a Python float)
        edits, ratio = shown.edits[at], shown.ratio[at]
        if edits < 0:
            edits = Levenshtein.distance(app.parsed.core, reg.entry_core[entry])
        if math.isnan(ratio):
            ratio = round(float(np.float32(fuzz.ratio(app.parsed.core, reg.entry_core[entry]))), 1)
        # field by field as docs/matching.md ("Score") lists them; the logit is the best candidate's
        features = {"name": shown.name[at], "edits": edits, "ratio": ratio, "region": shown.region[at],
                    "same_address": shown.same_address[at], "legal_form": shown.legal[at],
                    "variant": shown.variant[at], "short_name_fuzzy": shown.short[at],
                    "date_share": shown.date_share[at], "logit": shown.logit[at]}
        self._row(app.applicant_id, firm, round(score, 6), decision, "former_name" if kind == "former" else "direct",
                  {"method": scoring.METHOD_VERSION, "decision_rule": _RULES[decision],
                   "applicant": self._applicant_facts(app), "firm": self._firm_facts(firm),
                   "matched_variant": {"name": raw[entry], "variant": kind, "via": shown.via[at]},
                   "features": features, "candidates": top3, "excluded": excluded})
        if decision == "auto":
            self.resolved[app.applicant_id] = firm
        self._subsidiaries(app, firm, score, decision)

    def _date_reason(self, app: Applicant, firm: int, entry_id: int) -> str:
        est, end = self.established_iso[firm], self.deregistered_iso[firm]
        # an excluded pair always has filing dates
        if est is not None and app.last_day < self.established_day[firm]:
            return f"firm established on {est}, after every filing of this applicant"
        if end is not None and app.first_day > self.deregistered_day[firm]:
            return f"firm ended ({self.reg.status[firm]}) on {end}, before every filing of this applicant"
        taken_by, given_up = self.reg.entry_taken_by[entry_id], self.reg.entry_given_up[entry_id]
        if np.isnat(given_up):  # filings before the firm was set up and after it ended, none in between
            return (f"firm existed from {est} to {end} ({self.reg.status[firm]}): no filing of this applicant "
                    "falls in that time")
        holder = self.reg.firm_ids[taken_by] if taken_by is not None else "another firm"
        return (f"former name {self.entry_raw[entry_id]} is held by {holder} since {given_up}, "
                "before every filing of this applicant")

    def _firm_facts(self, firm: int) -> dict:
        reg = self.reg
        status = reg.status[firm]
        facts = {
            "firm_id": reg.firm_ids[firm], "name": reg.names[firm], "status": status,
            "province": reg.province[firm], "city": reg.city[firm],
            "established": self.established_iso[firm], "deregistered": self.deregistered_iso[firm],
        }
        if status != "operating":
            facts["flag"] = f"firm is {status}: linked because it filed, excluded from ranking"
            if reg.successors[firm]:
                facts["successor_firm_id"] = reg.successors[firm]
        return facts

    def _applicant_facts(self, app: Applicant) -> dict:
        facts = {"name": app.name, "normalized_name": app.parsed.key, "core": app.parsed.core, "type": app.type,
                 "province": app.province, "city": app.city, "filings": len(app.dates),
                 "first_filing": app.first_filing, "last_filing": app.last_filing}
        if app.clause_text:
            facts["glued_clause_text"] = app.clause_text  # what the register's names were looked for at the start of
        return facts

    # --- people --------------------------------------------------------------------------------
    def _match_person(self, app: Applicant) -> None:
        review = self.reviews.get(app.applicant_id)
        rejected = review.rejected_firms if review else ()
        firms = [f for f in self.reg.by_legal_rep.get(app.parsed.key, ()) if self.reg.firm_ids[f] not in rejected]
        co_firms = {self.resolved[a] for a in self.apps.co_applicants(app.applicant_id) if a in self.resolved}
        in_city = [f for f in firms if app.city and self.reg.city[f] == app.city]
        together = [f for f in firms if f in co_firms]
        facts = {"legal_representative_of": [self.reg.firm_ids[f] for f in firms][:10],
                 "in_city": [self.reg.firm_ids[f] for f in in_city],
                 "co_applicant_firms": [self.reg.firm_ids[f] for f in together]}
        if together:
            unique = len(together) == 1 and (in_city == together or (not app.city and len(firms) == 1))
            score = scoring.LEGAL_REP_AUTO if unique else scoring.LEGAL_REP_COAPPLICANT
            chosen = together if len(together) <= 3 else []
        elif 0 < len(in_city) <= 3:
            score = scoring.LEGAL_REP_CITY_UNIQUE if len(in_city) == 1 else scoring.LEGAL_REP_CITY_SHARED
            chosen = in_city
        else:
            reason = ("no firm in the register has this person as legal representative" if not firms else
                      "this person is legal representative of firms elsewhere or of too many firms in the city")
            self._no_firm(app, reason, [], [], extra={"legal_representative": facts})
            return
        decision = scoring.decision_for(score)
        for firm in chosen:
            evidence = {"applicant": self._applicant_facts(app), "firm": self._firm_facts(firm),
                        "matched_variant": {"name": self.reg.legal_reps[firm],
                                            "variant": "legal_representative", "via": "legal_representative"},
                        "features": {"co_applicant": firm in co_firms, "same_city": firm in in_city,
                                     "candidates_in_city": len(in_city), "score_band": score},
                        "legal_representative": facts}
            self._link(app, firm, score, decision, "legal_representative", evidence)

    # --- groups ----------------------------------------------------------------------------------
    def _subsidiaries(self, app: Applicant, firm: int, score: float, decision: str) -> None:
        subsidiaries = self.reg.children.get(firm)
        if not subsidiaries or not _GROUP_WORDS_RE.search(app.name.lower()):
            return
        operating = [c for c in subsidiaries if self.reg.status[c] == "operating"]
        if not operating:
            return
        single = len(operating) == 1
        sub_score = score * (scoring.SUBSIDIARY_SINGLE if single else scoring.SUBSIDIARY_SEVERAL)
        sub_decision = "auto" if single and decision in ("auto", "manual") else "review"
        for child in operating:
            evidence = {"applicant": self._applicant_facts(app), "firm": self._firm_facts(child),
                        "matched_variant": {"name": self.reg.names[firm], "variant": "parent",
                                            "via": "subsidiary"},
                        "features": {"parent_firm_id": self.reg.firm_ids[firm], "parent_score": round(score, 4),
                                     "operating_subsidiaries": len(operating)}}
            self._link(app, child, sub_score, sub_decision, "subsidiary", evidence)

    # --- reviews and output ----------------------------------------------------------------------
    def _apply_review(self, app: Applicant, review: Review) -> None:
        facts = {"applicant": self._applicant_facts(app), "review": review.last}
        if review.reject_all:
            self._no_firm(app, "rejected by reviewer", [], [], extra={"review": review.last})
            return
        firm = self.reg.row_of[review.chosen]
        link = "direct"
        if app.type == "individual":
            link = "legal_representative"
        elif any(self.reg.entry_firm[e] == firm and self.entry_kind_name[e] == "former"
                 for e in self.reg.by_key.get(app.parsed.key, ())):
            link = "former_name"
        self._link(app, firm, 1.0, "manual", link, {**facts, "firm": self._firm_facts(firm)})
        self.resolved[app.applicant_id] = firm
        self._subsidiaries(app, firm, 1.0, "manual")

    def _link(self, app: Applicant, firm: int, score: float, decision: str, link: str, evidence: dict) -> None:
        self._row(app.applicant_id, firm, round(float(score), 6), decision, link,
                  {"method": scoring.METHOD_VERSION, "decision_rule": _RULES[decision], **evidence})

    def _row(self, applicant_id: str, firm: int, score: float, decision: str, link: str, evidence: dict) -> None:
        self.rows.append((applicant_id, self.reg.firm_ids[firm], score, decision, link, _evidence_json(evidence),
                          scoring.METHOD_VERSION))

    def _no_firm(self, app: Applicant, reason: str, top3: list[dict], excluded: list[dict] | None = None,
                 extra: dict | None = None) -> None:
        evidence = {"method": scoring.METHOD_VERSION, "reason": reason, "applicant": self._applicant_facts(app),
                    "candidates": top3, "excluded": (excluded or [])[:_EXCLUDED_SHOWN], **(extra or {})}
        self.rows.append((app.applicant_id, None, 0.0, "rejected", "direct", _evidence_json(evidence),
                          scoring.METHOD_VERSION))
