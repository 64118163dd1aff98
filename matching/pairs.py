"""Candidate (applicant, register entry) pairs scored in bulk.

The matcher gathers every candidate pair of a run into flat arrays (applicant index, entry id,
how it was found, edit distance, ratio) and this module turns them into evidence features and
log-odds with numpy, in one pass over all pairs. The per-applicant decision then only reads
these arrays. Coefficients and rules are those of `scoring` (see docs/matching.md).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from matching import scoring
from matching.normalize import ParsedName
from matching.register import FirmRegister

VIAS = ("key", "core", "branch_parent", "glued_prefix", "fuzzy")
REGIONS = ("city", "province", "unknown", "conflict", "name_conflict")
LEGAL = ("agree", "unknown", "differ")
VARIANTS = ("current", "former", "english", "branch_parent", "glued_prefix")
# filing dates are keyed as applicant * _SPAN + day number, so one sorted array serves every applicant
_SPAN = 1 << 21
_DAY_LIMIT = (1 << 20) - 2


@dataclass
class ApplicantSide:
    """What the scorer needs of the applicants of one run, as arrays aligned with the matcher's list."""

    parsed: list[ParsedName]
    province: list[str | None]
    city: list[str | None]
    legal_form: list[str]
    addresses: list[frozenset[str]]
    dates: list[np.ndarray]  # sorted datetime64[D] per applicant
    _keys: tuple[np.ndarray, np.ndarray] | None = None
    _columns: _ApplicantColumns | None = None

    def columns(self, codes: RegisterCodes) -> _ApplicantColumns:
        """The per-applicant arrays score_pairs reads (built once: the exact and the fuzzy pairs both read them)."""
        if self._columns is None:
            self._columns = _ApplicantColumns(self, codes)
        return self._columns

    def date_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """Filings per applicant, and every filing as applicant * _SPAN + day (sorted: dates are sorted)."""
        if self._keys is None:
            counts = np.array([len(d) for d in self.dates], dtype=np.int64)
            flat = (np.concatenate(self.dates) if self.dates else np.zeros(0)).astype("datetime64[D]")
            owner = np.repeat(np.arange(len(self.dates), dtype=np.int64), counts)
            self._keys = counts, owner * _SPAN + _clip_days(flat)
        return self._keys


@dataclass
class Pairs:
    app: np.ndarray  # index into ApplicantSide
    entry: np.ndarray  # entry id in the register
    via: np.ndarray  # index into VIAS
    edits: np.ndarray
    ratio: np.ndarray

    def __len__(self) -> int:
        return len(self.app)

    @staticmethod
    def concat(parts: list[Pairs]) -> Pairs:
        return Pairs(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("app", "entry", "via", "edits",
                                                                                    "ratio")))

    def take(self, order: np.ndarray) -> Pairs:
        return Pairs(self.app[order], self.entry[order], self.via[order], self.edits[order], self.ratio[order])


@dataclass
class Scored:
    """Features and log-odds per pair (same order as the Pairs)."""

    share: np.ndarray  # share of filings inside the firm's life; NaN when no date can be checked
    name: np.ndarray
    region: np.ndarray  # index into REGIONS
    legal: np.ndarray  # index into LEGAL
    same_address: np.ndarray
    variant: np.ndarray  # index into VARIANTS
    short: np.ndarray
    z: np.ndarray

    @staticmethod
    def concat(parts: list[Scored]) -> Scored:
        return Scored(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Scored)))

    def take(self, order: np.ndarray) -> Scored:
        return Scored(*(getattr(self, f.name)[order] for f in fields(Scored)))


class _Codes:
    """Strings -> small ints, falsy values -> -1, so places can be compared as arrays."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, values) -> np.ndarray:
        found, distinct = pd.factorize(np.asarray(values, dtype=object))  # None / NaN -> -1
        table = [self.ids.setdefault(v, len(self.ids)) if v else -1 for v in distinct]
        return np.array([*table, -1], dtype=np.int64)[found]


class RegisterCodes:
    """The register's places and legal forms as codes, built once per register (a matcher's shards and both
    score_pairs calls of each share them; per call they cost ~0.1 s at 300k firms). The applicants' places and
    forms are coded with the same `places` / `forms`, so equal strings get equal codes."""

    def __init__(self, reg: FirmRegister):
        self.places, self.forms = _Codes(), _Codes()
        self.entry_city, self.entry_province = self.places(reg.entry_city), self.places(reg.entry_province)
        self.firm_city, self.firm_province = self.places(reg.city), self.places(reg.province)
        self.company = self.forms(["company"])[0]
        self.entry_legal = self.forms(reg.entry_legal)
        # the register's address numbers are fixed: each applicant's known ones are found once per side
        self.address_number = reg.by_address.number
        self.address_width = max(len(reg.by_address), 1)


class _ApplicantColumns:
    """Per-applicant arrays (aligned with the ApplicantSide) that score_pairs indexes by pair."""

    def __init__(self, side: ApplicantSide, codes: RegisterCodes):
        places, parsed = codes.places, side.parsed
        self.name_city, self.name_province = places([p.city for p in parsed]), places([p.province for p in parsed])
        self.city, self.province = places(side.city), places(side.province)
        self.legal_form = codes.forms(side.legal_form)
        self.zh = np.array([p.script == "zh" for p in parsed], dtype=bool)
        self.core_len = np.array([len(p.core) for p in parsed], dtype=np.int64)
        self.brand_len = np.array([len(p.brand.replace(" ", "")) for p in parsed], dtype=np.int64)
        numbers, width = codes.address_number, codes.address_width
        # applicant * width + address number of every (applicant, registered address) the applicant gives
        self.addresses = np.array(sorted({i * width + numbers[key] for i, keys in enumerate(side.addresses)
                                          for key in keys if key in numbers}), dtype=np.int64)


def _clip_days(dates: np.ndarray) -> np.ndarray:
    return np.clip(dates.astype("datetime64[D]").astype(np.int64), -_DAY_LIMIT, _DAY_LIMIT)


def date_shares(reg: FirmRegister, side: ApplicantSide, pairs: Pairs) -> np.ndarray:
    """Share of each pair's filing dates inside the firm's life (and, for a former name, before another
    firm took the name): one searchsorted over the filings of all applicants."""
    counts, keys = side.date_keys()
    firm = reg.entry_firm[pairs.entry]
    est, end = reg.established[firm], reg.deregistered[firm]
    given_up = reg.entry_given_up[pairs.entry]
    end = np.where(np.isnat(end), given_up, np.where(np.isnat(given_up), end, np.minimum(end, given_up)))
    lo_day = np.where(np.isnat(est), -_DAY_LIMIT - 1, _clip_days(np.where(np.isnat(est), np.datetime64(0, "D"), est)))
    hi_day = np.where(np.isnat(end), _DAY_LIMIT + 1, _clip_days(np.where(np.isnat(end), np.datetime64(0, "D"), end)))
    base = pairs.app.astype(np.int64) * _SPAN
    inside = np.searchsorted(keys, base + hi_day, side="right") - np.searchsorted(keys, base + lo_day, side="left")
    n = counts[pairs.app]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = inside / n
    share[(n == 0) | (np.isnat(est) & np.isnat(end))] = np.nan
    return share


def score_pairs(reg: FirmRegister, codes: RegisterCodes, side: ApplicantSide, pairs: Pairs,
                share: np.ndarray) -> Scored:
    a, e = pairs.app, pairs.entry
    firm = reg.entry_firm[e]
    applicant = side.columns(codes)
    a_pcity, a_pprov = applicant.name_city[a], applicant.name_province[a]
    e_pcity, e_pprov = codes.entry_city[e], codes.entry_province[e]
    a_city, a_prov = applicant.city[a], applicant.province[a]
    f_city, f_prov = codes.firm_city[firm], codes.firm_province[firm]

    # region: a place written in both names that differs, else located city, else province
    a_name = np.where(a_pcity >= 0, a_pcity, a_pprov)
    f_name = np.where(e_pcity >= 0, e_pcity, e_pprov)
    name_conflict = ((a_name >= 0) & (f_name >= 0) & (a_name != f_name)
                     & ~((a_pcity >= 0) & (e_pcity < 0) & (a_pprov == e_pprov)))
    both_city, both_prov = (a_city >= 0) & (f_city >= 0), (a_prov >= 0) & (f_prov >= 0)
    region = np.select(
        [name_conflict, both_city & (a_city == f_city), both_city, both_prov & (a_prov == f_prov), both_prov],
        [REGIONS.index("name_conflict"), REGIONS.index("city"), REGIONS.index("conflict"),
         REGIONS.index("province"), REGIONS.index("conflict")],
        default=REGIONS.index("unknown"))

    # legal form: compared only within one script and when neither side is a bare "company"
    company = codes.company
    a_form, f_form = applicant.legal_form[a], codes.entry_legal[e]
    a_zh = applicant.zh[a]
    e_zh = reg.entry_is_zh[e]
    comparable = (a_zh == e_zh) & (a_form >= 0) & (f_form >= 0) & (a_form != company) & (f_form != company)
    legal = np.where(comparable, np.where(a_form == f_form, LEGAL.index("agree"), LEGAL.index("differ")),
                     LEGAL.index("unknown"))

    exact = pairs.via != VIAS.index("fuzzy")
    edits, ratio = pairs.edits.astype(np.int64), pairs.ratio.astype(np.float64)
    a_core_len = applicant.core_len[a]
    length_gap = np.abs(a_core_len - reg.entry_core_len[e])
    indels = np.minimum(length_gap, edits)
    name = np.where(exact, scoring.EXACT_NAME, np.where(
        a_zh, scoring.EXACT_NAME - scoring.ZH_SUBSTITUTION * (edits - indels) - scoring.ZH_INDEL * indels,
        scoring.EXACT_NAME - scoring.EN_RATIO_SLOPE * (100.0 - ratio)))

    # short trade names: the applicant's script decides what is measured on both sides
    a_brand_len = applicant.brand_len[a]
    short = ~exact & np.where(a_zh, np.minimum(a_core_len, reg.entry_core_len[e]) <= scoring.SHORT_CORE_ZH,
                              np.minimum(a_brand_len, reg.entry_brand_len[e]) <= scoring.SHORT_BRAND_EN)
    firm_address = reg.firm_address_number[firm]
    # whether the firm's registered address is one of the applicant's own addresses
    same_address = (firm_address >= 0) & np.isin(a * codes.address_width + firm_address, applicant.addresses)
    variant = np.select([pairs.via == VIAS.index("branch_parent"), pairs.via == VIAS.index("glued_prefix")],
                        [VARIANTS.index("branch_parent"), VARIANTS.index("glued_prefix")], reg.entry_kind[e])

    region_w = np.array([scoring.REGION[r] for r in REGIONS])[region]
    legal_w = np.where(a_zh, np.array([scoring.LEGAL_FORM[g] for g in LEGAL])[legal],
                       np.array([scoring.LEGAL_FORM_LATIN[g] for g in LEGAL])[legal])
    variant_w = np.array([scoring.VARIANT[v] for v in VARIANTS])[variant]
    # summed in the documented order (intercept, name, region, legal, address, variant, short, dates)
    z = (scoring.INTERCEPT + name + region_w + legal_w + np.where(same_address, scoring.SAME_ADDRESS, 0.0)
         + variant_w + np.where(short, scoring.SHORT_FUZZY, 0.0)
         + np.where(np.isnan(share), 0.0, scoring.DATES_OUTSIDE * (1.0 - share)))
    return Scored(share, name, region, legal, same_address, variant, short, z)
