"""Patents -> filings and distinct applicants.

An applicant is a (normalised name, province, city) triple, hashed into a stable applicant_id:
the same name filed from two cities stays two applicants, and the id survives re-runs, so
review decisions keep applying. The location comes from the applicant's own address, else
(for people) from the patent's first address, else from a place in the name. A firm name seen
once with an address and once without is one applicant when the name has only one location.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    filings: pd.DataFrame  # the `filings` contract columns plus application_date
    dates: dict[str, np.ndarray]  # applicant_id -> sorted application dates (datetime64[D])
    # Patent memberships, kept linear: one patent with n applicants costs n entries, not n².
    members: dict[str, list[str]]  # publication_number -> applicant_ids on it (multi-applicant patents only)
    patents_of: dict[str, list[str]]  # applicant_id -> its multi-applicant patents
    addresses: dict[str, frozenset[str]]  # applicant_id -> its own addresses (geo.address_key form)

    def co_applicants(self, applicant_id: str) -> set[str]:
        """The other applicants on this applicant's patents."""
        others = {aid for pub in self.patents_of.get(applicant_id, ()) for aid in self.members[pub]}
        others.discard(applicant_id)
        return others


def _explode(patents: pd.DataFrame, quarantine: Quarantine) -> list[tuple]:
    """One tuple per (patent, applicant): number, position, raw name, own address, first address, date."""
    rows = []
    columns = [patents[c].tolist() for c in ("publication_number", "applicants", "applicant_addresses",
                                              "application_date", "source_file", "source_position")]
    for number, names, addresses, day, source_file, position_in_file in zip(*columns, strict=True):
        names = list(names) if names is not None else []
        addresses = list(addresses) if addresses is not None else []
        if not any(isinstance(n, str) and n.strip() for n in names):
            quarantine.add(source_file, position_in_file, "applicants", f"patent {number} has no applicant name",
                           number)
            continue
        aligned = len(addresses) == len(names)
        first_address = addresses[0] if addresses and isinstance(addresses[0], str) else None
        position = 0
        for i, name in enumerate(names):
            if not isinstance(name, str) or not name.strip():
                continue  # empty slot between separators (e.g. "A;;B"); nothing to resolve
            position += 1
            own = addresses[i] if aligned else (first_address if i == 0 else None)
            own = own.strip() if isinstance(own, str) and own.strip() else None
            rows.append((number, position, name.strip(), own, first_address, day))
    return rows


def build_applicants(patents: pd.DataFrame, quarantine: Quarantine) -> Applicants:
    rows = _explode(patents, quarantine)
    parsed: dict[str, ParsedName] = {}
    types: dict[str, str] = {}
    for raw in {r[2] for r in rows}:
        parsed[raw] = parse_name(raw)
        types[raw] = classify_applicant(raw)
    keys = [parsed[r[2]].key or r[2] for r in rows]
    places = [_locate(parsed[r[2]], r[3], r[4], types[r[2]]) for r in rows]
    _attach_unlocated(keys, places)

    ids: dict[tuple, str] = {}
    groups: dict[str, _Group] = {}
    filing_ids = []
    for row, key, place in zip(rows, keys, places, strict=True):
        ident = (key, *place)
        aid = ids.get(ident) or ids.setdefault(ident, applicant_id(key, *place))
        filing_ids.append(aid)
        group = groups.get(aid) or groups.setdefault(aid, _Group(key, place))
        group.add(row, types[row[2]])

    filings = pd.DataFrame(rows, columns=["publication_number", "position", "raw_name", "address", "patent_address",
                                          "application_date"])
    filings["applicant_id"] = filing_ids
    table = pd.DataFrame([g.record(aid, parsed) for aid, g in groups.items()],
                         columns=["applicant_id", "name", "raw_variants", "normalized_name", "applicant_type",
                                  "country", "region", "city", "patent_count"])
    dates = _sorted_dates(filings, list(groups))
    addresses = {aid: frozenset(g.addresses) for aid, g in groups.items() if g.addresses}
    by_patent: dict[str, list[str]] = {}
    for row, aid in zip(rows, filing_ids, strict=True):
        by_patent.setdefault(row[0], []).append(aid)
    members = {pub: ids for pub, ids in by_patent.items() if len(ids) > 1}
    patents_of: dict[str, list[str]] = {}
    for pub, ids in members.items():
        for aid in dict.fromkeys(ids):
            patents_of.setdefault(aid, []).append(pub)
    return Applicants(table, filings, dates, members, patents_of, addresses)


class _Group:
    """Running aggregate of one applicant's filings."""

    __slots__ = ("key", "place", "names", "types", "patents", "addresses")

    def __init__(self, key: str, place: tuple[str | None, str | None]):
        self.key, self.place = key, place
        self.names: dict[str, int] = {}
        self.types: dict[str, int] = {}
        self.patents: set[str] = set()
        self.addresses: set[str] = set()

    def add(self, row: tuple, kind: str) -> None:
        number, _, raw, own, _, _ = row
        self.names[raw] = self.names.get(raw, 0) + 1
        self.types[kind] = self.types.get(kind, 0) + 1
        self.patents.add(number)
        address = geo.address_key(own)
        if address:
            self.addresses.add(address)

    def record(self, aid: str, parsed: dict[str, ParsedName]) -> dict:
        # most frequent first, ties in order of first appearance (as Counter.most_common)
        variants = sorted(self.names, key=self.names.__getitem__, reverse=True)
        typed = [t for t in sorted(self.types, key=self.types.__getitem__, reverse=True) if t != "unknown"]
        province, city = self.place
        return {"applicant_id": aid, "name": variants[0], "raw_variants": variants, "normalized_name": self.key,
                "applicant_type": typed[0] if typed else "unknown",
                "country": "CN" if (province or parsed[variants[0]].script == "zh") else None,
                "region": province, "city": city, "patent_count": len(self.patents)}


def _sorted_dates(filings: pd.DataFrame, order: list[str]) -> dict[str, np.ndarray]:
    """applicant_id -> its sorted filing dates, sorted once for all applicants."""
    if not order:
        return {}
    days = np.array(filings["application_date"].tolist(), dtype="datetime64[D]")
    index = {aid: i for i, aid in enumerate(order)}
    owner = np.array([index[aid] for aid in filings["applicant_id"].tolist()], dtype=np.int64)
    known = ~np.isnat(days)
    days, owner = days[known], owner[known]
    sort = np.lexsort((days, owner))
    parts = np.split(days[sort], np.cumsum(np.bincount(owner, minlength=len(order)))[:-1])
    return dict(zip(order, parts, strict=True))


def _locate(parsed: ParsedName, own: str | None, patent_address: str | None,
            kind: str) -> tuple[str | None, str | None]:
    prov, city = geo.parse_address(own)
    if not prov and kind == "individual":
        prov, city = geo.parse_address(patent_address)
    if not prov:
        prov, city = parsed.province, parsed.city
    return prov, city


def _attach_unlocated(keys: list[str], places: list[tuple]) -> None:
    """Give filings without a location the location of the same key when the key has only one."""
    seen: dict[str, set] = {}
    for key, place in zip(keys, places, strict=True):
        if place[0]:
            seen.setdefault(key, set()).add(place)
    for i, (key, place) in enumerate(zip(keys, places, strict=True)):
        if not place[0] and len(seen.get(key, ())) == 1:
            places[i] = next(iter(seen[key]))
