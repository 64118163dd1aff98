"""The firm register, indexed once for search (the Gazetteer side of the match).

Every firm contributes name entries: its current name, each former name and its English
name, each parsed once. Exact lookups go through dicts on the key and on the core (key
without leading place); fuzzy lookups go through a TF-IDF matrix of character n-grams
(bigrams for Chinese, trigrams for Latin script) searched with a sparse product in chunks,
after dropping n-grams so common they block nothing (科技, 技术 …).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import scipy.sparse as sp

from matching import geo
from matching.normalize import ParsedName, parse_name

ENTRY_KINDS = ("current", "former", "english")
_MAX_GRAM_SHARE = 0.02  # n-grams in more than 2% of entries (min 200) do not block
_CHUNK = 2048


def _grams(text: str, script: str) -> list[str]:
    if script == "zh":
        return [f"z{text[i:i + 2]}" for i in range(len(text) - 1)] or [f"z{text}"]
    padded = f" {text} "
    return [f"e{padded[i:i + 3]}" for i in range(len(padded) - 2)]


def _distinct_grams(docs: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """(doc number, gram) for each distinct gram of each doc, docs in order, grams in first-seen order."""
    grams = [g for doc in docs for g in dict.fromkeys(doc)]
    counts = [len(set(doc)) for doc in docs]
    return np.repeat(np.arange(len(docs), dtype=np.int64), counts), np.array(grams, dtype=object)


def _masked(core: str) -> list[str]:
    return [f"{core[:i]}\x00{core[i + 1:]}" for i in range(len(core))]


def _short_place(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    prov, city = geo.place(value)
    return city or prov or value.strip().removesuffix("市")


def _column_place(province: object, city: object) -> tuple[str | None, str | None]:
    """(province, city) from the register's own columns; a city known to the gazetteer implies its province."""
    prov, city = _short_place(province), _short_place(city)
    if prov and not geo.place(prov)[0]:
        prov = None
    if city and city in geo.CITY_TO_PROVINCE:
        prov = prov or geo.CITY_TO_PROVINCE[city]
    return prov, city


@dataclass
class Entry:
    firm: int  # row in FirmRegister.firms
    kind: str
    raw: str
    parsed: ParsedName
    # a former name another firm holds today was given up by the time that firm was set up
    given_up_by: np.datetime64 | None = None
    taken_by: int | None = None


class FirmRegister:
    def __init__(self, firms: pd.DataFrame):
        self.firms = firms.reset_index(drop=True)
        self.firm_ids = self.firms["firm_id"].astype(str).tolist()
        self.row_of = {fid: i for i, fid in enumerate(self.firm_ids)}
        self.entries: list[Entry] = []
        columns = (self.firms[c].tolist() for c in ("name", "former_names", "english_name"))
        for i, (name, formers, english) in enumerate(zip(*columns, strict=True)):
            self.entries.append(Entry(i, "current", name, parse_name(name)))
            for former in formers if formers is not None else ():
                if isinstance(former, str) and former.strip():
                    self.entries.append(Entry(i, "former", former, parse_name(former)))
            if isinstance(english, str) and english.strip():
                self.entries.append(Entry(i, "english", english, parse_name(english)))
        self.entries_of: dict[int, list[int]] = defaultdict(list)
        for e, entry in enumerate(self.entries):
            if entry.kind != "english":
                self.entries_of[entry.firm].append(e)
        self.by_key: dict[str, list[int]] = defaultdict(list)
        self.by_core: dict[str, list[int]] = defaultdict(list)
        for e, entry in enumerate(self.entries):
            if entry.parsed.key:
                self.by_key[entry.parsed.key].append(e)
                self.by_core[entry.parsed.core].append(e)
        self._locate()
        self._dates()
        self._former_name_limits()
        self._entry_arrays()
        self._people_and_groups()
        self._build_gram_index()
        self._build_substitution_index()

    # --- passing an index between processes --------------------------------------------------
    def portable(self) -> dict:
        """The index as pickle-friendly state for a process that holds the same `firms` table: the table itself
        is left out, and the entries go as columns (half a million small objects pickle 3x slower than the
        same data as lists). FirmRegister.from_portable(state, firms) rebuilds the index."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("firms", "entries")}
        entries = self.entries
        state["entry_columns"] = (
            [e.firm for e in entries], [e.kind for e in entries], [e.raw for e in entries],
            [e.given_up_by for e in entries], [e.taken_by for e in entries],
            *([getattr(e.parsed, f.name) for e in entries] for f in fields(ParsedName)),
        )
        return state

    @classmethod
    def from_portable(cls, state: dict, firms: pd.DataFrame) -> FirmRegister:
        register = cls.__new__(cls)
        firm, kind, raw, given_up_by, taken_by, *parsed = state.pop("entry_columns")
        register.__dict__.update(state)
        register.firms = firms.reset_index(drop=True)
        register.entries = [Entry(*facts[:3], ParsedName(*facts[5:]), facts[3], facts[4])
                            for facts in zip(firm, kind, raw, given_up_by, taken_by, *parsed, strict=True)]
        return register

    # --- firm attributes -------------------------------------------------------------------
    def _locate(self) -> None:
        """Province and city of each firm: register columns, else its address, else its name."""
        provinces, cities = [], []
        columns = (self.firms[c].tolist() for c in ("province", "city", "address"))
        from_columns: dict[tuple, tuple] = {}  # register columns repeat: each distinct pair is read once
        for i, (province, city, address) in enumerate(zip(*columns, strict=True)):
            pair = (province, city)
            if pair not in from_columns:
                from_columns[pair] = _column_place(province, city)
            prov, city = from_columns[pair]
            if not (prov and city):
                a_prov, a_city = geo.parse_address(address if isinstance(address, str) else None)
                prov, city = prov or a_prov, city or a_city
            if not (prov and city):
                parsed = self.entries[self.entries_of[i][0]].parsed  # the current name's entry
                prov, city = prov or parsed.province, city or parsed.city
            if prov and not city and prov in geo.MUNICIPALITIES:
                city = prov
            provinces.append(prov)
            cities.append(city)
        self.province = provinces
        self.city = cities
        self.address_key = [geo.address_key(a) for a in self.firms["address"].tolist()]
        self.by_address: dict[str, list[int]] = defaultdict(list)
        for i, key in enumerate(self.address_key):
            if key:
                self.by_address[key].append(i)
        # each registered address as a number (its position in by_address), -1 when the firm has none
        self.address_number = {key: n for n, key in enumerate(self.by_address)}
        self.firm_address_number = np.array([self.address_number.get(key, -1) if key else -1
                                             for key in self.address_key], dtype=np.int64)

    def _dates(self) -> None:
        est = pd.to_datetime(self.firms["established_date"], errors="coerce")
        dereg = pd.to_datetime(self.firms["deregistered_date"], errors="coerce")
        self.established = est.to_numpy(dtype="datetime64[D]")
        self.deregistered = dereg.to_numpy(dtype="datetime64[D]")
        self.status = self.firms["status"].astype(str).tolist()
        self.names = self.firms["name"].tolist()
        self.legal_reps = self.firms["legal_representative"].tolist()
        self.successors = [s if isinstance(s, str) and s else None for s in self.firms["successor_firm_id"].tolist()]

    def _former_name_limits(self) -> None:
        for entry in self.entries:
            if entry.kind != "former":
                continue
            # the same name: same key and the same place in it (X（深圳）and X（佛山）are two names, registered
            # by two cities; the key drops bracketed places)
            place = (entry.parsed.province, entry.parsed.city)
            holders = [self.entries[e].firm for e in self.by_key.get(entry.parsed.key, ())
                       if self.entries[e].kind == "current" and self.entries[e].firm != entry.firm
                       and (self.entries[e].parsed.province, self.entries[e].parsed.city) == place
                       and not np.isnat(self.established[self.entries[e].firm])]
            if holders:
                first = min(holders, key=lambda f: self.established[f])
                entry.given_up_by, entry.taken_by = self.established[first], first

    def _entry_arrays(self) -> None:
        """Per-entry facts as arrays, for scoring candidate pairs in bulk (matching.pairs)."""
        parsed = [e.parsed for e in self.entries]
        self.entry_firm = np.array([e.firm for e in self.entries], dtype=np.int64)
        self.entry_kind = np.array([ENTRY_KINDS.index(e.kind) for e in self.entries], dtype=np.int64)
        self.entry_given_up = np.array([e.given_up_by if e.given_up_by is not None else np.datetime64("NaT")
                                        for e in self.entries], dtype="datetime64[D]")
        self.entry_core_len = np.array([len(p.core) for p in parsed], dtype=np.int64)
        self.entry_brand_len = np.array([len(p.brand.replace(" ", "")) for p in parsed], dtype=np.int64)
        self.entry_is_zh = np.array([p.script == "zh" for p in parsed], dtype=bool)
        self.entry_core = np.array([p.core for p in parsed], dtype=object)
        self.entry_city = [p.city for p in parsed]
        self.entry_province = [p.province for p in parsed]
        self.entry_legal = [p.legal_form for p in parsed]

    def _people_and_groups(self) -> None:
        self.by_legal_rep: dict[str, list[int]] = defaultdict(list)
        for i, rep in enumerate(self.firms["legal_representative"].tolist()):
            if isinstance(rep, str) and rep.strip():
                self.by_legal_rep[parse_name(rep).key].append(i)
        self.children: dict[int, list[int]] = defaultdict(list)
        for i, parent in enumerate(self.firms["parent_firm_id"].tolist()):
            if isinstance(parent, str) and parent in self.row_of:
                self.children[self.row_of[parent]].append(i)

    # --- fuzzy blocking ----------------------------------------------------------------------
    def _build_gram_index(self) -> None:
        docs = [_grams(e.parsed.core or e.parsed.key, e.parsed.script) for e in self.entries]
        rows, grams = _distinct_grams(docs)
        # codes in order of first appearance, not set order: the vocabulary is the same every run
        codes, uniques = pd.factorize(grams)
        df = np.bincount(codes, minlength=len(uniques))
        cap = max(200, int(_MAX_GRAM_SHARE * len(docs)))
        n = max(len(docs), 1)
        kept = df <= cap
        self.vocab = dict(zip(uniques[kept].tolist(), range(int(kept.sum())), strict=True))
        self.idf = np.log((1 + n) / (1 + df[kept])) + 1.0
        column = np.cumsum(kept) - 1
        self.entry_matrix = self._matrix(rows[kept[codes]], column[codes[kept[codes]]], len(docs)).T.tocsr()

    def _vectorise(self, docs: list[list[str]]) -> sp.csr_matrix:
        rows, grams = _distinct_grams(docs)
        cols = pd.Series(grams, dtype=object).map(self.vocab).to_numpy(dtype=np.float64, na_value=np.nan)
        known = ~np.isnan(cols)
        return self._matrix(rows[known], cols[known].astype(np.int64), len(docs))

    def _matrix(self, rows: np.ndarray, cols: np.ndarray, n_docs: int) -> sp.csr_matrix:
        """Rows of L2-normalised idf weights (each (row, column) pair given once)."""
        data = self.idf[cols] if len(cols) else np.zeros(0)
        mat = sp.csr_matrix((data, (rows, cols)), shape=(n_docs, len(self.vocab)))
        norms = np.sqrt(mat.multiply(mat).sum(axis=1)).A1
        norms[norms == 0] = 1.0
        return sp.diags(1.0 / norms) @ mat

    def block(self, names: list[ParsedName], top_k: int = 8, min_cosine: float = 0.35) -> list[list[int]]:
        """For each parsed name, up to top_k entry ids sharing distinctive n-grams with it."""
        out: list[list[int]] = []
        for start in range(0, len(names), _CHUNK):
            chunk = names[start:start + _CHUNK]
            query = self._vectorise([_grams(p.core or p.key, p.script) for p in chunk])
            sims = (query @ self.entry_matrix).tocsr()
            for r in range(sims.shape[0]):
                lo, hi = sims.indptr[r], sims.indptr[r + 1]
                vals, idx = sims.data[lo:hi], sims.indices[lo:hi]
                keep = vals >= min_cosine
                vals, idx = vals[keep], idx[keep]
                if len(vals) > top_k:
                    part = np.argpartition(-vals, top_k)[:top_k]
                    vals, idx = vals[part], idx[part]
                out.append(idx[np.argsort(-vals)].tolist())
        return out

    def _build_substitution_index(self) -> None:
        """Hashes of every Chinese core with one character masked: finds one-substitution typos
        (海光 -> 海明) that n-gram blocking misses when the typo hits a two-character trade name."""
        hashes, owners = [], []
        for e, entry in enumerate(self.entries):
            core = entry.parsed.core
            if entry.parsed.script == "zh" and len(core) >= 3:
                for masked in _masked(core):
                    hashes.append(hash(masked))
                    owners.append(e)
        order = np.argsort(np.array(hashes, dtype=np.int64), kind="stable")
        self.sub_hashes = np.array(hashes, dtype=np.int64)[order]
        self.sub_entries = np.array(owners, dtype=np.int64)[order]

    def one_substitution(self, core: str) -> set[int]:
        """Entry ids whose core differs from `core` in exactly one position (or equals it)."""
        if len(core) < 3 or not len(self.sub_hashes):
            return set()
        keys = np.array([hash(m) for m in _masked(core)], dtype=np.int64)
        lo = np.searchsorted(self.sub_hashes, keys, side="left")
        hi = np.searchsorted(self.sub_hashes, keys, side="right")
        return {int(e) for a, b in zip(lo, hi, strict=True) for e in self.sub_entries[a:b]}
