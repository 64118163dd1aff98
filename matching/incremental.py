"""Re-match only the applicants a refresh can have changed, and splice them into the tables.

Affected applicants:

* every applicant on a new or changed patent, and the applicants those patents had before;
* applicants whose candidate firms changed: a firm row differs from the snapshot (new firm, rename,
  status or any other field). Those the matcher's own candidate search meets a changed firm in
  (exact key, core, branch; and n-gram block, one-substitution neighbours and same registered
  address for the applicants the matcher may search fuzzily: all but those linked through an
  exact candidate in a compatible region), found from the changed firms' side: their entries'
  keys, cores and masked hashes select applicants by set membership, and the n-gram block runs
  only for applicants near a changed entry. Also applicants whose stored links or evidence name a
  changed firm; people who are legal representative of one; group applicants linked to a changed
  firm's parent; and, when any firm changed, every applicant that is a glued assignment clause (its
  candidate is the longest register name its text starts with, which any changed name may now be);
* applicants named in the review decisions file (decisions are applied first, as in a full run);
* people filing with any applicant above (their link goes through co-applicants' firms).

An affected applicant is rebuilt from all the filings with its normalised name (so its location,
variants and dates are the full run's) and matched against the whole register; every other row
is kept. Tables come out in the order a full run writes them. Names are parsed and classified once per
workspace: the parses and types are kept in `name_parses` (matching/register.py) and brought up to date here.

Limits (by design): the register's n-gram weights depend on every firm, so a registry change
shifts every cosine slightly, and an applicant none of whose candidates is a changed firm but
whose weakest fuzzy candidate sits at the block's cut-off can differ from a full rebuild in that
candidate. A changed firm's name that no longer appears in the register at all (a rename that
does not keep the old name as 曾用名) is only found through the stored links and evidence.
docs/refresh.md gives the measured difference to a full rebuild.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.contracts import APPLICANTS, FILINGS, MATCHES, Contract
from graph.workspace import Quarantine, Workspace, conform
from matching import geo
from matching.applicants import Applicants, _memberships, build_applicants
from matching.decisions import load_reviews
from matching.matcher import FIRM_TYPES, Matcher
from matching.normalize import ParsedName, glued_clauses
from matching.pipeline import no_cycle_collection, worker_count
from matching.register import (
    FirmRegister,
    KeptNames,
    _masked_hashes,
    classify_with,
    entry_names,
    load_names,
    parse_with,
    write_names,
)
from matching.scoring import METHOD_VERSION

STAGE = "matching"
_PATENT_COLUMNS = ["publication_number", "applicants", "applicant_addresses", "application_date", "source_file",
                   "source_position"]
_BLOCK_MIN_COSINE = 0.35  # FirmRegister.block's default, as the matcher calls it
_COSINE_MARGIN = 1e-6


@dataclass
class IncrementalMatchReport:
    run_id: str
    method_version: str
    changed_patents: int
    changed_firms: int
    applicants_rematched: int  # affected applicants found in the rebuilt tables
    applicants: int
    filings: int
    matches: int
    patents_quarantined: int
    seconds: float
    incremental: bool = True


def changed_firm_ids(before: pd.DataFrame, after: pd.DataFrame) -> set[str]:
    """Firms that are new, gone, or whose row differs in any field (compared column by column in Arrow)."""
    old, new = (pa.Table.from_pandas(frame, preserve_index=False) for frame in (before, after))
    old_ids, new_ids = (table.column("firm_id").combine_chunks().cast(pa.large_string()) for table in (old, new))
    old_row = pc.index_in(new_ids, value_set=old_ids)  # each new row's row in `before`, null when new
    in_both = pc.is_valid(old_row)
    old, new = old.take(old_row.filter(in_both)), new.filter(in_both)
    differs = np.zeros(new.num_rows, dtype=bool)
    for column in (c for c in new.column_names if c in old.column_names and c != "firm_id"):
        differs |= pc.not_equal(_plain(old.column(column)), _plain(new.column(column))).to_numpy(
            zero_copy_only=False)
    both = set(new_ids.filter(in_both).filter(pa.array(differs)).to_pylist())
    return both | set(old_ids.to_pylist()).symmetric_difference(new_ids.to_pylist())


def _plain(values: pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A column as comparable values, whatever its type: numbers as floats (int 130 == float 130.0, a missing
    one as infinity), lists as their items joined, anything else as text; a missing value as "-"."""
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        numbers = values.to_numpy().astype("float64")  # nulls come out as NaN
        return pa.array(np.where(np.isnan(numbers), np.inf, numbers))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        values = pc.binary_join(values, "\x1f")
    return pc.fill_null(values.cast(pa.large_string()), "-")


def rematch(workspace: Workspace, run_id: str, changed_patents: set[str], firms_before: pd.DataFrame
            ) -> IncrementalMatchReport:
    """Re-match the applicants affected by `changed_patents` and by firm rows differing from `firms_before`.

    The register is indexed in this process: in a forked child, as the full match does, it took 73 cpu s at 1M
    against 56 (the index is pickled back; docs/performance.md, "Incremental match"). The firm names are matched
    in worker_count() processes, as in the full match (the output does not depend on it)."""
    started = time.perf_counter()
    with no_cycle_collection():
        firms = workspace.read_df("firms")
        kept = load_names(workspace)
        report, register, spellings = _rematch(workspace, run_id, changed_patents, firms_before, firms, kept)
        # every register entry's name and applicant's spelling parsed and every spelling classified, as a full
        # match keeps them, for the next one
        entry_raws = pa.array(register.entry_raw, pa.string())
        write_names(workspace, run_id, kept, pa.concat_arrays([entry_raws, spellings]), spellings,
                    parse_with(kept.parses), classify_with(kept.types))
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _rematch(workspace: Workspace, run_id: str, changed_patents: set[str], firms_before: pd.DataFrame,
             firms: pd.DataFrame, kept_names: KeptNames) -> tuple[IncrementalMatchReport, FirmRegister, pa.Array]:
    tables = {name: workspace.read(name) for name in ("applicants", "filings", "matches")}
    # the columns the search below reads, as frames; the rows kept are spliced in Arrow
    applicants = _frame(tables["applicants"], ["applicant_id", "name", "normalized_name", "applicant_type"])
    filings = _frame(tables["filings"], ["applicant_id", "address"])
    matches = _frame(tables["matches"], ["applicant_id", "firm_id", "decision", "link_type", "evidence"])
    patents = workspace.read("patents", _PATENT_COLUMNS)
    numbers = patents.column("publication_number").combine_chunks()
    changed_firms = changed_firm_ids(firms_before, firms)
    firm_ids = set(firms["firm_id"].tolist())  # a required text column
    parse, classify = parse_with(kept_names.parses), classify_with(kept_names.types)

    # 1. names on new or changed patents, and the names those patents had before
    quarantine = Quarantine(STAGE)
    changed_rows = _patents(patents, numbers, changed_patents)
    keys = set(build_applicants(changed_rows, quarantine, parse, classify).table["normalized_name"])
    patents_quarantined = len(quarantine)
    stored_filings = tables["filings"]
    filing_numbers = stored_filings.column("publication_number")
    old_ids = set(stored_filings.column("applicant_id").filter(
        pc.is_in(filing_numbers, value_set=_strings(changed_patents))).to_pylist())
    # 2. applicants whose candidate firms changed (the n-gram search needs the register); 3. applicants under review
    affected_ids, searched = _affected_by_firms(applicants, filings, matches, firms, firms_before, changed_firms, parse)
    register = FirmRegister(firms, kept_names.parses)
    affected_ids |= old_ids | _affected_by_ngrams(register, searched, changed_firms)
    decisions_path = workspace.decisions_path
    reviews, reviews_read = load_reviews(decisions_path, set(applicants["applicant_id"]) | affected_ids,
                                         firm_ids, Quarantine(STAGE))
    affected_ids |= set(reviews)
    # 4. people on the same patents as any of them
    keys |= set(applicants.loc[applicants["applicant_id"].isin(affected_ids), "normalized_name"])
    # each filing's applicant: its name (key) and whether it is a person
    applicant_row = pc.index_in(stored_filings.column("applicant_id"),
                                value_set=tables["applicants"].column("applicant_id"))
    filing_keys = tables["applicants"].column("normalized_name").take(applicant_row)
    by_person = pc.equal(tables["applicants"].column("applicant_type").take(applicant_row), "individual")
    touched = _patents_of(filing_numbers, filing_keys, keys) | changed_patents
    keys |= set(filing_keys.filter(pc.and_(pc.is_in(filing_numbers, value_set=_strings(touched)), by_person)).to_pylist())

    # rebuild every affected name from all of its filings
    touched = _patents_of(filing_numbers, filing_keys, keys) | changed_patents
    quarantine = Quarantine(STAGE)
    apps = build_applicants(_patents(patents, numbers, touched), quarantine, parse, classify)
    apps = _only_keys(apps, keys, stored_filings)
    reviews, reviews_read = load_reviews(decisions_path, set(applicants["applicant_id"]) | set(apps.table["applicant_id"]),
                                         firm_ids, quarantine)
    matcher = Matcher(register, apps, reviews)
    # co-applicants not re-matched keep their firm: the people matched below look them up
    linked = matches[(matches["decision"] == "manual") | (
        (matches["decision"] == "auto") & matches["link_type"].isin(("direct", "former_name")))]
    resolving = linked[~linked["applicant_id"].isin(set(apps.table["applicant_id"])) & linked["firm_id"].isin(
        register.row_of)]
    matcher.resolved.update({a: register.row_of[f] for a, f in zip(resolving["applicant_id"], resolving["firm_id"],
                                                                   strict=True)})
    fresh = conform(MATCHES, matcher.run(worker_count()))

    # the stored rows of everything not rebuilt, then the rebuilt ones, put in a full run's order
    old = tables["applicants"]
    new_applicants = pa.concat_tables([
        old.filter(pc.invert(pc.is_in(old.column("normalized_name"), value_set=_strings(apps.table["normalized_name"])))),
        _conformed(APPLICANTS, apps.table)])
    new_filings = pa.concat_tables([
        stored_filings.filter(pc.invert(pc.is_in(filing_numbers, value_set=_strings(touched)))),
        _conformed(FILINGS, apps.filings[["publication_number", "position", "applicant_id", "raw_name", "address"]])])
    new_filings = _in_full_run_order(new_filings, numbers)
    # applicants in order of first filing; one left without filings is gone
    new_applicants = new_applicants.take(pc.index_in(pc.unique(new_filings.column("applicant_id")),
                                                     value_set=new_applicants.column("applicant_id")))
    stored_ids = tables["applicants"].column("applicant_id")
    gone = stored_ids.filter(pc.invert(pc.is_in(stored_ids, value_set=new_applicants.column("applicant_id"))))
    stored = tables["matches"]
    redone = pa.concat_arrays([_strings(apps.table["applicant_id"]), gone.combine_chunks()])
    new_matches = pa.concat_tables([
        stored.filter(pc.invert(pc.is_in(stored.column("applicant_id"), value_set=redone))), fresh])
    new_matches = _matches_in_full_run_order(new_matches, new_applicants, reviews)

    workspace.write("applicants", new_applicants, run_id)
    workspace.write("filings", new_filings, run_id)
    workspace.write("matches", new_matches, run_id)
    # patents left alone keep their "no applicant name" rows; decision rows were all read again above
    quarantine.carry_over(workspace, lambda row: row["field"] == "applicants" and row["raw"] not in touched)
    quarantine.save(workspace, run_id)
    return IncrementalMatchReport(
        run_id=run_id, method_version=METHOD_VERSION, changed_patents=len(changed_patents),
        changed_firms=len(changed_firms), applicants_rematched=len(apps.table), applicants=len(new_applicants),
        filings=len(new_filings), matches=len(new_matches), patents_quarantined=patents_quarantined,
        seconds=0.0), register, pc.list_flatten(new_applicants.column("raw_variants")).combine_chunks()


def _frame(table: pa.Table, columns: list[str]) -> pd.DataFrame:
    """Some columns of a table as a frame, text as Python objects: many isin/zip passes below, each far faster so.
    Not the evidence: only Arrow's regex reads it, and it is most of the bytes."""
    frame = table.select(columns).to_pandas()
    text = [c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype) and c != "evidence"]
    return frame.astype({c: object for c in text}) if text else frame


def _conformed(contract: Contract, frame: pd.DataFrame) -> pa.Table:
    """The rows as the contract's table (an empty frame's columns have no type to convert from)."""
    return conform(contract, frame if len(frame) else contract.schema.empty_table())


def _strings(values) -> pa.Array:
    """Distinct texts as an Arrow value set (for pc.is_in)."""
    return pa.array(sorted(set(values)), pa.string())


def _patents(table: pa.Table, numbers: pa.Array, wanted: set[str]) -> pa.Table:
    return table.filter(pc.is_in(numbers, value_set=_strings(wanted)))


def _patents_of(numbers: pa.ChunkedArray, filing_keys: pa.ChunkedArray, keys: set[str]) -> set[str]:
    """The patents with a filing by a name in `keys`."""
    return set(numbers.filter(pc.is_in(filing_keys, value_set=_strings(keys))).to_pylist())


def _only_keys(apps: Applicants, keys: set[str], stored_filings: pa.Table) -> Applicants:
    """Keep the applicants whose name is in `keys` (all their filings were read); the other
    applicants on those patents saw only some of their filings, so they keep their stored ids."""
    table = apps.table[apps.table["normalized_name"].isin(keys)].reset_index(drop=True)
    ids = set(table["applicant_id"])
    filings = apps.filings.copy()
    partial = ~filings["applicant_id"].isin(ids)
    on_patents = pc.is_in(stored_filings.column("publication_number"),
                          value_set=_strings(filings.loc[partial, "publication_number"]))
    stored = stored_filings.filter(on_patents).select(["publication_number", "position", "applicant_id"]).to_pandas(
        ).set_index(["publication_number", "position"])["applicant_id"]  # a few rows
    where = pd.MultiIndex.from_arrays([filings.loc[partial, "publication_number"], filings.loc[partial, "position"]])
    filings.loc[partial, "applicant_id"] = stored.reindex(where).to_numpy()
    members, patents_of = _memberships(filings["publication_number"].to_numpy(dtype=object),
                                       filings["applicant_id"].to_numpy(dtype=object))
    return Applicants(table, filings, {a: d for a, d in apps.dates.items() if a in ids}, members, patents_of,
                      {a: s for a, s in apps.addresses.items() if a in ids})


def _affected_by_firms(applicants: pd.DataFrame, filings: pd.DataFrame, matches: pd.DataFrame, firms: pd.DataFrame,
                       before: pd.DataFrame, changed: set[str], parse: Callable[[str], ParsedName]
                       ) -> tuple[set[str], list[tuple[str, ParsedName]]]:
    """Applicants that see a changed firm among their candidates now, or saw one before — all but the n-gram
    neighbours, found without the register: searched from the changed firms' side (a few thousand names)
    rather than by looking every applicant up. Also returns the applicants the matcher may search fuzzily,
    with their parsed names, for _affected_by_ngrams."""
    if not changed:
        return set(), []
    affected: set[str] = set()
    # before: stored links to a changed firm, or evidence naming one (as a candidate or an exclusion)
    affected |= set(matches.loc[matches["firm_id"].isin(changed), "applicant_id"])
    evidence = pc.fill_null(pa.array(matches["evidence"], pa.string()), "")
    ids = sorted(changed)
    for start in range(0, len(ids), 500):  # a bounded pattern size per regex
        pattern = "|".join(re.escape(f) for f in ids[start:start + 500])
        named = pc.match_substring_regex(evidence, pattern).to_numpy(zero_copy_only=False)
        affected |= set(matches.loc[named, "applicant_id"])
    now = firms[firms["firm_id"].isin(changed)]
    rows = pd.concat([before[before["firm_id"].isin(changed)], now], ignore_index=True)
    # people: legal representatives of a changed firm; groups: parents of a changed firm
    reps = {parse(r).key for r in rows["legal_representative"] if isinstance(r, str) and r.strip()}
    people = applicants[applicants["applicant_type"] == "individual"]
    affected |= set(people.loc[people["normalized_name"].isin(reps), "applicant_id"])
    parents = {p for p in rows["parent_firm_id"] if isinstance(p, str) and p}
    affected |= set(matches.loc[matches["firm_id"].isin(parents), "applicant_id"])

    # now: the matcher's own candidate search (matching/matcher.py, `_exact` and `_fuzzy`), inverted: the
    # changed firms' register entries (current, former and English names) give the keys and cores an
    # applicant must have to find one. Exact key, core and branch for every company name; one substitution
    # and the registered address only where the matcher may search fuzzily. One linked through a valid exact
    # candidate keeps it unless its firm changed (the exact lookup).
    entries = [parse(raw) for names in zip(*(now[c].tolist() for c in ("name", "former_names", "english_name")),
                                           strict=True) for _, raw in entry_names(*names)]
    entry_keys = {p.key for p in entries if p.key}  # the register indexes entries with a key only
    entry_cores = {p.core for p in entries if p.key}
    firm_like = applicants[applicants["applicant_type"].isin(FIRM_TYPES)]
    named = list(zip(firm_like["applicant_id"], map(parse, firm_like["name"]), strict=True))
    affected |= {aid for aid, p in named if p.key in entry_keys or p.core in entry_cores or p.branch_of in entry_keys}
    # a glued assignment clause meets the longest register name its text starts with: a changed name anywhere
    # may be that one now, so every such applicant is searched again (none in a modern register's workspace)
    affected |= set(firm_like["applicant_id"].iloc[list(glued_clauses(firm_like["name"]))])
    fuzzy = _without_exact_candidate(matches, firm_like["applicant_id"])
    searched = [(aid, p) for aid, p in named if aid in fuzzy]
    # one substitution: a masked hash of the applicant's core equals one of a changed Chinese entry's core
    _, entry_hashes = _masked_hashes([p.core for p in entries if p.script == "zh" and len(p.core) >= 3])
    long_cores = [(aid, p.core) for aid, p in searched if len(p.core) >= 3]
    owner, hashes = _masked_hashes([core for _, core in long_cores])
    affected |= {long_cores[i][0] for i in set(owner[np.isin(hashes, entry_hashes)].tolist())}
    # and firms registered at one of the applicant's addresses
    addresses = {geo.address_key(a) for a in rows["address"] if isinstance(a, str)} - {None, ""}
    if addresses:
        own = filings[filings["address"].notna()]
        own = own[own["applicant_id"].isin(fuzzy)]
        hits = {a for a in pd.unique(own["address"]) if geo.address_key(a) in addresses}
        affected |= set(own.loc[own["address"].isin(hits), "applicant_id"])
    return affected, searched


def _affected_by_ngrams(register: FirmRegister, searched: list[tuple[str, ParsedName]], changed: set[str]
                        ) -> set[str]:
    """The searched applicants whose n-gram block (register.block: the top entries above a cosine) holds an
    entry of a changed firm. The cosines to the changed entries alone pick the few that can; the block is
    then run for those only (a margin below the cut-off absorbs the summation order)."""
    changed_rows = np.array(sorted(register.row_of[f] for f in changed if f in register.row_of), dtype=np.int64)
    changed_entries = np.flatnonzero(np.isin(register.entry_firm, changed_rows))
    if not searched or not len(changed_entries):
        return set()
    names = [p for _, p in searched]
    near = (register._vectorise(names) @ register.entry_matrix[:, changed_entries]).tocsr()
    best = near.max(axis=1).toarray().ravel() if near.shape[1] else np.zeros(len(names))
    maybe = np.flatnonzero(best >= _BLOCK_MIN_COSINE - _COSINE_MARGIN).tolist()
    blocked = register.block([names[i] for i in maybe], min_cosine=_BLOCK_MIN_COSINE)
    changed_set = set(changed_rows.tolist())
    return {searched[i][0] for i, found in zip(maybe, blocked, strict=True)
            if any(int(register.entry_firm[e]) in changed_set for e in found)}


def _without_exact_candidate(matches: pd.DataFrame, applicant_ids: pd.Series) -> set[str]:
    """Applicants the matcher may have searched fuzzily: all but those linked through a date-valid
    exact candidate (key, core or branch) in a compatible region, which the matcher does not search
    further (matching/matcher.py, `_match_firm_names`)."""
    evidence = pc.fill_null(pa.array(matches["evidence"], pa.string()), "")
    # stored evidence is JSON written with or without a space after each colon (json / orjson)
    exact = pc.match_substring_regex(evidence, '"matched_variant": ?{[^}]*"via": ?"(key|core|branch_parent|glued_prefix)"')
    conflict = pc.match_substring_regex(evidence, '"region": ?"(conflict|name_conflict)"')
    linked = matches["firm_id"].notna().to_numpy() & matches["link_type"].isin(("direct", "former_name")).to_numpy()
    settled = linked & exact.to_numpy(zero_copy_only=False) & ~conflict.to_numpy(zero_copy_only=False)
    return set(applicant_ids) - set(matches.loc[settled, "applicant_id"])


def _in_full_run_order(filings: pa.Table, numbers: pa.Array) -> pa.Table:
    """Patents-table order, then position: the order build_applicants writes filings in."""
    row = pc.index_in(filings.column("publication_number"), value_set=numbers).to_numpy(zero_copy_only=False)
    return filings.take(np.lexsort((filings.column("position").to_numpy(), row)))


def _matches_in_full_run_order(matches: pa.Table, applicants: pa.Table, reviews: dict) -> pa.Table:
    """The matcher's order: reviewed and non-firm applicants, then firm names, then people; each in
    applicants-table order, rows of one applicant as they were produced."""
    ids = matches.column("applicant_id")
    position = pc.index_in(ids, value_set=applicants.column("applicant_id"))  # every applicant matched is there
    kind = applicants.column("applicant_type").take(position).to_numpy(zero_copy_only=False)
    reviewed = pc.is_in(ids, value_set=_strings(a for a, r in reviews.items() if r.chosen or r.reject_all))
    phase = np.where(reviewed.to_numpy(zero_copy_only=False), 0,
                     np.where(np.isin(kind, FIRM_TYPES), 1, np.where(kind == "individual", 2, 0)))
    return matches.take(np.lexsort((np.arange(len(matches)), position.to_numpy(zero_copy_only=False), phase)))
