"""Re-match only the applicants a refresh can have changed, and splice them into the tables.

Affected applicants:

* every applicant on a new or changed patent, and the applicants those patents had before;
* applicants whose candidate firms changed: a firm row differs from the snapshot (new firm, rename,
  status or any other field). Found in reverse from the changed firms' names (current, former,
  English; before and after): equal key, equal core, branch of the key, n-gram neighbours
  through the matcher's own candidate search on the new register (exact key, core, branch; and
  n-gram block, one-substitution neighbours and same registered address for the applicants the
  matcher may search fuzzily: all but those linked through an exact candidate in a compatible
  region); applicants whose stored
  links or evidence name a changed firm; people who are legal representative of one; group
  applicants linked to a changed firm's parent;
* applicants named in the review decisions file (decisions are applied first, as in a full run);
* people filing with any applicant above (their link goes through co-applicants' firms).

An affected applicant is rebuilt from all the filings with its normalised name (so its location,
variants and dates are the full run's) and matched against the whole register; every other row
is kept. Tables come out in the order a full run writes them.

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
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.workspace import Quarantine, Workspace
from matching import geo
from matching.applicants import Applicants, build_applicants
from matching.decisions import load_reviews
from matching.matcher import FIRM_TYPES, Matcher
from matching.normalize import parse_name
from matching.register import FirmRegister
from matching.scoring import METHOD_VERSION

STAGE = "matching"
_PATENT_COLUMNS = ["publication_number", "applicants", "applicant_addresses", "application_date", "source_file",
                   "source_position"]
_MATCH_COLUMNS = ["applicant_id", "firm_id", "score", "decision", "link_type", "evidence", "method_version"]
_REVERSE_MIN_COSINE = 0.2


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
    """Firms that are new, gone, or whose row differs in any field."""
    old, new = before.set_index("firm_id"), after.set_index("firm_id")
    both = old.index.intersection(new.index)
    old, new_both = old.loc[both], new.loc[both]
    differs = np.zeros(len(both), dtype=bool)
    for column in (c for c in new.columns if c in old.columns):
        differs |= _plain(old[column]) != _plain(new_both[column])
    return set(both[differs]) | set(before["firm_id"]).symmetric_difference(set(after["firm_id"]))


def _plain(values: pd.Series) -> np.ndarray:
    """A column as comparable text, whatever its dtype (int 130 == float 130.0, NaN == None)."""
    if values.dtype == object and values.map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
        return values.map(lambda v: "\x1f".join(map(str, v)) if v is not None else "-").to_numpy(dtype=object)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64").fillna(np.inf).astype(str).to_numpy(dtype=object)
    return values.astype(object).where(values.notna(), "-").astype(str).to_numpy(dtype=object)


def rematch(workspace: Workspace, run_id: str, changed_patents: set[str], firms_before: pd.DataFrame
            ) -> IncrementalMatchReport:
    """Re-match the applicants affected by `changed_patents` and by firm rows differing from `firms_before`."""
    started = time.perf_counter()
    firms = workspace.read_df("firms")
    register = FirmRegister(firms)
    applicants, filings, matches = (_objects(workspace.read_df(name)) for name in ("applicants", "filings", "matches"))
    numbers = workspace.read("patents", ["publication_number"]).column("publication_number").combine_chunks()
    changed_firms = changed_firm_ids(firms_before, firms)

    # 1. names on new or changed patents, and the names those patents had before
    quarantine = Quarantine(STAGE)
    changed_rows = _patents(workspace, numbers, changed_patents)
    keys = set(build_applicants(changed_rows, quarantine).table["normalized_name"])
    patents_quarantined = len(quarantine)
    old_ids = set(filings.loc[filings["publication_number"].isin(changed_patents), "applicant_id"])
    # 2. applicants whose candidate firms changed; 3. applicants under review
    affected_ids = old_ids | _affected_by_firms(applicants, filings, matches, register, firms_before, changed_firms)
    decisions_path = workspace.decisions_path
    reviews, reviews_read = load_reviews(decisions_path, set(applicants["applicant_id"]) | affected_ids,
                                         set(register.firm_ids), Quarantine(STAGE))
    affected_ids |= set(reviews)
    # 4. people on the same patents as any of them
    keys |= set(applicants.loc[applicants["applicant_id"].isin(affected_ids), "normalized_name"])
    key_of = dict(zip(applicants["applicant_id"], applicants["normalized_name"], strict=True))
    touched = set(filings.loc[filings["applicant_id"].map(key_of).isin(keys), "publication_number"]) | changed_patents
    people = set(applicants.loc[applicants["applicant_type"] == "individual", "applicant_id"])
    on_touched = filings[filings["publication_number"].isin(touched)]
    keys |= {key_of[a] for a in on_touched["applicant_id"] if a in people}

    # rebuild every affected name from all of its filings
    touched = set(filings.loc[filings["applicant_id"].map(key_of).isin(keys), "publication_number"]) | changed_patents
    quarantine = Quarantine(STAGE)
    apps = build_applicants(_patents(workspace, numbers, touched), quarantine)
    apps = _only_keys(apps, keys, filings)
    reviews, reviews_read = load_reviews(decisions_path, set(applicants["applicant_id"]) | set(apps.table["applicant_id"]),
                                         set(register.firm_ids), quarantine)
    matcher = Matcher(register, apps, reviews)
    # co-applicants not re-matched keep their firm: the people matched below look them up
    kept = matches[~matches["applicant_id"].isin(set(apps.table["applicant_id"]))]
    resolving = kept[kept["firm_id"].isin(register.row_of) & (
        (kept["decision"] == "manual") | ((kept["decision"] == "auto") & kept["link_type"].isin(("direct", "former_name"))))]
    matcher.resolved.update({a: register.row_of[f] for a, f in zip(resolving["applicant_id"], resolving["firm_id"],
                                                                   strict=True)})
    fresh = pd.DataFrame(matcher.run(), columns=_MATCH_COLUMNS)

    rebuilt_keys = set(apps.table["normalized_name"])
    new_applicants = pd.concat([applicants[~applicants["normalized_name"].isin(rebuilt_keys)], apps.table],
                               ignore_index=True)
    new_filings = pd.concat([filings[~filings["publication_number"].isin(touched)],
                             apps.filings[["publication_number", "position", "applicant_id", "raw_name", "address"]]],
                            ignore_index=True)
    new_filings = _in_full_run_order(new_filings, numbers)
    new_applicants = new_applicants.set_index("applicant_id").loc[
        pd.unique(new_filings["applicant_id"])].reset_index()
    gone = set(applicants["applicant_id"]) - set(new_applicants["applicant_id"])
    new_matches = pd.concat([kept[~kept["applicant_id"].isin(gone)], fresh], ignore_index=True)
    new_matches = _matches_in_full_run_order(new_matches, new_applicants, reviews)

    workspace.write("applicants", new_applicants, run_id)
    workspace.write("filings", new_filings, run_id)
    workspace.write("matches", new_matches, run_id)
    quarantine.save(workspace, run_id)
    return IncrementalMatchReport(
        run_id=run_id, method_version=METHOD_VERSION, changed_patents=len(changed_patents),
        changed_firms=len(changed_firms), applicants_rematched=len(apps.table), applicants=len(new_applicants),
        filings=len(new_filings), matches=len(new_matches), patents_quarantined=patents_quarantined,
        seconds=round(time.perf_counter() - started, 3))


def _objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-backed string columns as Python objects: many isin/zip passes below, each far faster so."""
    text = [c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)]
    return frame.astype({c: object for c in text}) if text else frame


def _patents(workspace: Workspace, numbers: pa.Array, wanted: set[str]) -> pd.DataFrame:
    table = workspace.read("patents", _PATENT_COLUMNS)
    return table.filter(pc.is_in(numbers, value_set=pa.array(sorted(wanted), pa.string()))).to_pandas()


def _only_keys(apps: Applicants, keys: set[str], stored_filings: pd.DataFrame) -> Applicants:
    """Keep the applicants whose name is in `keys` (all their filings were read); the other
    applicants on those patents saw only some of their filings, so they keep their stored ids."""
    table = apps.table[apps.table["normalized_name"].isin(keys)].reset_index(drop=True)
    ids = set(table["applicant_id"])
    filings = apps.filings.copy()
    partial = ~filings["applicant_id"].isin(ids)
    stored = stored_filings.set_index(["publication_number", "position"])["applicant_id"]
    where = pd.MultiIndex.from_arrays([filings.loc[partial, "publication_number"], filings.loc[partial, "position"]])
    filings.loc[partial, "applicant_id"] = stored.reindex(where).to_numpy()
    by_patent: dict[str, list[str]] = {}
    for pub, aid in zip(filings["publication_number"].tolist(), filings["applicant_id"].tolist(), strict=True):
        by_patent.setdefault(pub, []).append(aid)
    members = {pub: on_patent for pub, on_patent in by_patent.items() if len(on_patent) > 1}
    patents_of: dict[str, list[str]] = {}
    for pub, on_patent in members.items():
        for aid in dict.fromkeys(on_patent):
            patents_of.setdefault(aid, []).append(pub)
    return Applicants(table, filings, {a: d for a, d in apps.dates.items() if a in ids}, members, patents_of,
                      {a: s for a, s in apps.addresses.items() if a in ids})


def _affected_by_firms(applicants: pd.DataFrame, filings: pd.DataFrame, matches: pd.DataFrame,
                       register: FirmRegister, before: pd.DataFrame, changed: set[str]) -> set[str]:
    """Applicants that see a changed firm among their candidates now, or saw one before."""
    if not changed:
        return set()
    affected: set[str] = set()
    # before: stored links to a changed firm, or evidence naming one (as a candidate or an exclusion)
    affected |= set(matches.loc[matches["firm_id"].isin(changed), "applicant_id"])
    evidence = pa.array(matches["evidence"].fillna(""), pa.string())
    ids = sorted(changed)
    for start in range(0, len(ids), 500):  # a bounded pattern size per regex
        pattern = "|".join(re.escape(f) for f in ids[start:start + 500])
        named = pc.match_substring_regex(evidence, pattern).to_numpy(zero_copy_only=False)
        affected |= set(matches.loc[named, "applicant_id"])
    rows = pd.concat([before[before["firm_id"].isin(changed)],
                      register.firms[register.firms["firm_id"].isin(changed)]], ignore_index=True)
    # people: legal representatives of a changed firm; groups: parents of a changed firm
    reps = {parse_name(r).key for r in rows["legal_representative"] if isinstance(r, str) and r.strip()}
    people = applicants[applicants["applicant_type"] == "individual"]
    affected |= set(people.loc[people["normalized_name"].isin(reps), "applicant_id"])
    parents = {p for p in rows["parent_firm_id"] if isinstance(p, str) and p}
    affected |= set(matches.loc[matches["firm_id"].isin(parents), "applicant_id"])

    # now: the matcher's own candidate search. Exact key, core and branch for every company name;
    # the fuzzy search (n-grams, one substitution, address) only where the matcher may run it. One
    # linked through a valid exact candidate keeps it unless its firm changed (the exact lookup).
    changed_rows = {register.row_of[f] for f in changed if f in register.row_of}
    firm_like = applicants[applicants["applicant_type"].isin(FIRM_TYPES)]
    parsed = [parse_name(name) for name in firm_like["name"]]
    entry_firm = register.entry_firm
    fuzzy = _without_exact_candidate(matches, firm_like["applicant_id"])
    for aid, p in zip(firm_like["applicant_id"], parsed, strict=True):
        entries = [*register.by_key.get(p.key, ()), *register.by_core.get(p.core, ())]
        if p.branch_of:
            entries.extend(register.by_key.get(p.branch_of, ()))
        if any(int(entry_firm[e]) in changed_rows for e in entries):
            affected.add(aid)
    searched = [(aid, p) for aid, p in zip(firm_like["applicant_id"], parsed, strict=True) if aid in fuzzy]
    near_all = register.block([p for _, p in searched]) if searched else []
    for (aid, p), near in zip(searched, near_all, strict=True):
        if any(int(entry_firm[e]) in changed_rows for e in [*near, *register.one_substitution(p.core)]):
            affected.add(aid)
    # and firms registered at one of the applicant's addresses
    addresses = {geo.address_key(a) for a in rows["address"] if isinstance(a, str)} - {None, ""}
    if addresses:
        own = filings[filings["applicant_id"].isin(fuzzy) & filings["address"].notna()]
        hits = {a for a in pd.unique(own["address"]) if geo.address_key(a) in addresses}
        affected |= set(own.loc[own["address"].isin(hits), "applicant_id"])
    return affected


def _without_exact_candidate(matches: pd.DataFrame, applicant_ids: pd.Series) -> set[str]:
    """Applicants the matcher may have searched fuzzily: all but those linked through a date-valid
    exact candidate (key, core or branch) in a compatible region, which the matcher does not search
    further (matching/matcher.py, `_match_firm_names`)."""
    evidence = pa.array(matches["evidence"].fillna(""), pa.string())
    # stored evidence is JSON written with or without a space after each colon (json / orjson)
    exact = pc.match_substring_regex(evidence, '"matched_variant": ?{[^}]*"via": ?"(key|core|branch_parent)"')
    conflict = pc.match_substring_regex(evidence, '"region": ?"(conflict|name_conflict)"')
    linked = matches["firm_id"].notna().to_numpy() & matches["link_type"].isin(("direct", "former_name")).to_numpy()
    settled = linked & exact.to_numpy(zero_copy_only=False) & ~conflict.to_numpy(zero_copy_only=False)
    return set(applicant_ids) - set(matches.loc[settled, "applicant_id"])


def _in_full_run_order(filings: pd.DataFrame, numbers: pa.Array) -> pd.DataFrame:
    """Patents-table order, then position: the order build_applicants writes filings in."""
    row = pc.index_in(pa.array(filings["publication_number"], pa.string()), value_set=numbers).to_numpy(
        zero_copy_only=False)
    order = np.lexsort((filings["position"].to_numpy(), row))
    return filings.iloc[order].reset_index(drop=True)


def _matches_in_full_run_order(matches: pd.DataFrame, applicants: pd.DataFrame, reviews: dict) -> pd.DataFrame:
    """The matcher's order: reviewed and non-firm applicants, then firm names, then people; each in
    applicants-table order, rows of one applicant as they were produced."""
    position = pd.Series(np.arange(len(applicants)), index=applicants["applicant_id"])
    kinds = applicants.set_index("applicant_id")["applicant_type"]
    reviewed = {a for a, r in reviews.items() if r.chosen or r.reject_all}
    kind = kinds.reindex(matches["applicant_id"]).to_numpy()
    phase = np.where(matches["applicant_id"].isin(reviewed).to_numpy(), 0,
                     np.where(np.isin(kind, FIRM_TYPES), 1, np.where(kind == "individual", 2, 0)))
    order = np.lexsort((np.arange(len(matches)), position.reindex(matches["applicant_id"]).to_numpy(), phase))
    return matches.iloc[order].reset_index(drop=True)
