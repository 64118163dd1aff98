"""Patents -> filings and distinct applicants.

An applicant is a (normalised name, province, city) triple, hashed into a stable applicant_id:
the same name filed from two cities stays two applicants, and the id survives re-runs, so
review decisions keep applying. The location comes from the applicant's own address, else
(for people) from the patent's first address, else from a place in the name. A firm name seen
once with an address and once without is one applicant when the name has only one location.

Work per filing is done on integer codes with numpy: each distinct name is parsed and classified
once, each distinct address located once, and filings are grouped by (name code, place code).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.workspace import Quarantine
from matching import geo
from matching.classify import classify_applicant
from matching.normalize import ParsedName, parse_name


def applicant_id(key: str, province: str | None, city: str | None) -> str:
    digest = hashlib.sha1(f"{key}|{province or ''}|{city or ''}".encode()).hexdigest()
    return f"A{digest[:15]}"


@dataclass
class Applicants:
    table: pd.DataFrame  # the `applicants` contract columns
    filings: pd.DataFrame  # the `filings` contract columns
    dates: dict[str, np.ndarray]  # applicant_id -> sorted application dates (datetime64[D])
    # Patent memberships, kept linear: one patent with n applicants costs n entries, not n².
    members: dict[str, list[str]]  # publication_number -> applicant_ids on it (multi-applicant patents only)
    patents_of: dict[str, list[str]]  # applicant_id -> its multi-applicant patents
    addresses: dict[str, frozenset[str]]  # applicant_id -> its own addresses (geo.address_key form)
    raw_types: dict[str, str] = field(default_factory=dict)  # raw spelling -> its type (classify)
    raw_parses: dict[str, ParsedName] = field(default_factory=dict)  # raw spelling -> its parse

    def co_applicants(self, applicant_id: str) -> set[str]:
        """The other applicants on this applicant's patents."""
        others = {aid for pub in self.patents_of.get(applicant_id, ()) for aid in self.members[pub]}
        others.discard(applicant_id)
        return others


@dataclass
class _Filings:
    """One row per (patent, applicant name), as parallel arrays; `patent` indexes the patents frame."""

    patent: np.ndarray
    position: np.ndarray
    raw: np.ndarray  # stripped raw names (object)
    own: np.ndarray  # the applicant's own address, stripped, or None
    patent_address: np.ndarray  # the patent's first address, or None


def _flatten(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A list column -> (all items in order, as Python objects; items per cell); a missing cell counts as empty.
    Flattened in Arrow: the million Python lists of the column's to_pandas() cost ~4 s at 1M patents."""
    lists = column.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy().astype(np.int64)
    return np.asarray(pc.list_flatten(lists).to_numpy(zero_copy_only=False), dtype=object), lengths


def _clean(values, empty=None) -> list:
    return [(v.strip() or empty) if isinstance(v, str) else empty for v in values]


def _explode(patents: pa.Table, quarantine: Quarantine) -> _Filings:
    names, n_names = _flatten(patents.column("applicants"))
    addresses, n_addresses = _flatten(patents.column("applicant_addresses"))
    patent = np.repeat(np.arange(len(n_names)), n_names)
    slot = np.arange(len(names)) - np.repeat(np.cumsum(n_names) - n_names, n_names)  # index within its patent
    address_start = np.cumsum(n_addresses) - n_addresses
    has_first = n_addresses > 0
    first = np.full(len(n_addresses), None, dtype=object)
    first[has_first] = [a if isinstance(a, str) else None for a in addresses[address_start[has_first]]]
    # addresses align with names one to one; otherwise the first address belongs to the first name only
    aligned = (n_addresses == n_names)[patent]
    own = np.where(slot == 0, first[patent], None)
    own[aligned] = addresses[address_start[patent[aligned]] + slot[aligned]]

    raw = np.array(_clean(names, ""), dtype=object)
    keep = raw != ""  # empty slots between separators (e.g. "A;;B") leave nothing to resolve
    per_patent = np.bincount(patent[keep], minlength=len(n_names))
    if (per_patent == 0).any():
        numbers, files, positions = (patents.column(c).to_pylist() for c in ("publication_number", "source_file",
                                                                              "source_position"))
        for p in np.flatnonzero(per_patent == 0).tolist():
            quarantine.add(files[p], positions[p], "applicants", f"patent {numbers[p]} has no applicant name",
                           numbers[p])
    patent, raw, own = patent[keep], raw[keep], own[keep]
    position = np.arange(len(patent)) - np.searchsorted(patent, patent) + 1
    return _Filings(patent, position, raw, np.array(_clean(own), dtype=object), first[patent])


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes in order of first appearance (None -> -1) and the distinct values."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique without return arguments hashes, 50x slower on 10^6 int64 keys)."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


def _lookup(table: np.ndarray, codes: np.ndarray, missing: int = -1) -> np.ndarray:
    """table[codes], with `missing` where the code is -1."""
    return np.append(table, missing)[codes]


class SideWork(Protocol):
    """Per-distinct-value work done in another process while build_applicants goes on (matching.pipeline)."""

    def start(self, names: list[str]) -> list[bool]:
        """Hand over the distinct raw names; returns which of them the other side types."""

    def result(self) -> list[str]:
        """classify_applicant of the names it took, in order."""


def build_applicants(patents: pa.Table, quarantine: Quarantine,
                     parse: Callable[[str], ParsedName] = parse_name,
                     classify: Callable[[str], str] = classify_applicant, side: SideWork | None = None) -> Applicants:
    """patents: the `patents` columns publication_number, applicants, applicant_addresses, application_date,
    source_file and source_position. parse, classify: parse_name and classify_applicant, or ones answering from kept names
    (matching.register.parse_with, classify_with). side: types some names elsewhere (with classify_applicant)
    while this process parses the names and types the others."""
    rows = _explode(patents, quarantine)
    raw_code, raws = _codes(rows.raw)
    raw_list = raws.tolist()
    elsewhere = side.start(raw_list) if side else [False] * len(raw_list)
    parsed = [parse(r) for r in raw_list]
    kinds = [None if e else classify(r) for r, e in zip(raw_list, elsewhere, strict=True)]
    if side:
        for i, kind in zip(compress(range(len(kinds)), elsewhere), side.result(), strict=True):
            kinds[i] = kind
    keys = [p.key or r for p, r in zip(parsed, raw_list, strict=True)]

    # places as codes into one list of (province, city) tuples
    places: dict[tuple, int] = {}

    def place_codes(pairs) -> np.ndarray:
        return np.array([places.setdefault(pair, len(places)) for pair in pairs], dtype=np.int64)

    def located() -> np.ndarray:  # per place code, whether it names a province; [-1]: no place
        return np.array([bool(prov) for prov, _ in places] + [False])

    own_code, owns = _codes(rows.own)
    place = _lookup(place_codes(geo.parse_address(a) for a in owns), own_code)
    from_name = place_codes((p.province, p.city) for p in parsed)
    place[~located()[place]] = -1
    # people without a located address of their own: the patent's first address
    person = np.flatnonzero((place < 0) & np.array([k == "individual" for k in kinds], dtype=bool)[raw_code])
    patent_address_code, patent_addresses = _codes(rows.patent_address[person])
    via_patent = _lookup(place_codes(geo.parse_address(a) for a in patent_addresses), patent_address_code)
    found = located()[via_patent]
    place[person[found]] = via_patent[found]
    place = np.where(place < 0, from_name[raw_code], place)
    place_list = list(places)
    n_places = max(len(place_list), 1)

    key_code_of_raw, key_list = _codes(np.array(keys, dtype=object))
    key_code = key_code_of_raw[raw_code]
    _attach_unlocated(key_code, place, located())

    # applicants: distinct (key, place), numbered in order of first filing
    group, ident = pd.factorize(key_code * n_places + place)
    group = group.astype(np.int64)
    n_groups = len(ident)
    group_key = [key_list[i] for i in (ident // n_places).tolist()]
    group_place = [place_list[i] for i in (ident % n_places).tolist()]
    ids = np.array([applicant_id(k, *pl) for k, pl in zip(group_key, group_place, strict=True)], dtype=object)
    aid = ids[group]

    variants = _ranked_values(group, raw_code, n_groups)
    kind_of_raw, kind_list = _codes(np.array(kinds, dtype=object))
    kind_code = kind_of_raw[raw_code]
    typed = _ranked_values(group, np.where(kind_list[kind_code] != "unknown", kind_code, -1), n_groups)
    patent_count = np.bincount(_distinct(group * len(patents) + rows.patent) // len(patents), minlength=n_groups)
    names = [raws[v[0]] for v in variants]
    is_zh = [parsed[v[0]].script == "zh" for v in variants]
    table = pd.DataFrame({
        "applicant_id": ids, "name": names, "raw_variants": [raws[v].tolist() for v in variants],
        "normalized_name": group_key, "applicant_type": [kind_list[t[0]] if len(t) else "unknown" for t in typed],
        "country": ["CN" if (prov or zh) else None for (prov, _), zh in zip(group_place, is_zh, strict=True)],
        "region": [prov for prov, _ in group_place], "city": [city for _, city in group_place],
        "patent_count": patent_count,
    }, columns=["applicant_id", "name", "raw_variants", "normalized_name", "applicant_type", "country", "region",
                "city", "patent_count"])

    day_numbers = patents.column("application_date").to_numpy().astype("datetime64[D]")
    numbers = np.asarray(patents.column("publication_number").take(rows.patent).to_numpy(zero_copy_only=False),
                         dtype=object)
    filings = pd.DataFrame({"publication_number": numbers, "position": rows.position, "raw_name": rows.raw,
                            "address": rows.own, "applicant_id": aid})
    dates = _sorted_dates(day_numbers[rows.patent], group, ids)
    members, patents_of = _memberships(numbers, aid)
    return Applicants(table, filings, dates, members, patents_of, _own_addresses(group, own_code, owns, ids),
                      dict(zip(raw_list, kinds, strict=True)), dict(zip(raw_list, parsed, strict=True)))


def _attach_unlocated(key_code: np.ndarray, place: np.ndarray, located: np.ndarray) -> None:
    """Give filings without a location the location of the same key when the key has only one."""
    has = located[place]
    n_places = len(located)
    pairs = _distinct(key_code[has] * n_places + place[has])
    pair_key, pair_place = pairs // n_places, pairs % n_places
    single = np.bincount(pair_key, minlength=int(key_code.max(initial=-1)) + 1) == 1
    only_place = np.full(len(single), -1, dtype=np.int64)
    only_place[pair_key[single[pair_key]]] = pair_place[single[pair_key]]
    fill = ~has & single[key_code]
    place[fill] = only_place[key_code[fill]]


def _ranked_values(group: np.ndarray, value: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Per group, its distinct values (value >= 0) most frequent first, ties in order of first appearance
    (as Counter.most_common)."""
    keep = np.flatnonzero(value >= 0)
    width = int(value.max(initial=0)) + 1
    pair, first, count = np.unique(group[keep] * width + value[keep], return_index=True, return_counts=True)
    owner = pair // width
    order = np.lexsort((keep[first], -count, owner))
    bounds = np.searchsorted(owner[order], np.arange(n_groups + 1))
    ranked = (pair % width)[order]
    return [ranked[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]


def _sorted_dates(days: np.ndarray, group: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
    """applicant_id -> its sorted filing dates, sorted once for all applicants."""
    if not len(ids):
        return {}
    known = ~np.isnat(days)
    days, owner = days[known], group[known]
    sort = np.lexsort((days, owner))
    parts = np.split(days[sort], np.cumsum(np.bincount(owner, minlength=len(ids)))[:-1])
    return dict(zip(ids.tolist(), parts, strict=True))


def _memberships(numbers: np.ndarray, aid: np.ndarray) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Publication numbers with several filings -> their applicant ids in filing order, and the reverse
    (deduplicated)."""
    number, _ = _codes(numbers)
    multi = np.flatnonzero(np.bincount(number)[number] > 1) if len(number) else number
    multi = multi[np.argsort(number[multi], kind="stable")]
    starts = np.flatnonzero(np.diff(number[multi], prepend=-1))
    bounds = [*starts.tolist(), len(multi)]
    multi_ids, multi_numbers = aid[multi].tolist(), numbers[multi].tolist()
    members = {multi_numbers[a]: multi_ids[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)}
    patents_of: dict[str, list[str]] = {}
    for pub, ids in members.items():
        for one in dict.fromkeys(ids):
            patents_of.setdefault(one, []).append(pub)
    return members, patents_of


def _own_addresses(group: np.ndarray, own_code: np.ndarray, owns: np.ndarray,
                   ids: np.ndarray) -> dict[str, frozenset[str]]:
    """applicant_id -> the distinct address keys of its own addresses (applicants with any)."""
    address_code, address_keys = _codes(np.array([geo.address_key(a) for a in owns], dtype=object))
    code = _lookup(address_code, own_code)
    has = code >= 0
    pairs = _distinct(group[has] * max(len(address_keys), 1) + code[has])
    found: dict[str, set[str]] = {}
    id_list = ids.tolist()
    for g, c in zip((pairs // max(len(address_keys), 1)).tolist(), (pairs % max(len(address_keys), 1)).tolist(),
                    strict=True):
        found.setdefault(id_list[g], set()).add(address_keys[c])
    return {a: frozenset(s) for a, s in found.items()}
