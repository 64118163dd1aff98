"""The firm register, indexed once for search (the Gazetteer side of the match).

Every firm contributes name entries: its current name, each former name and its English
name, each parsed once. Exact lookups go through dicts on the key and on the core (key
without leading place); fuzzy lookups go through a TF-IDF matrix of character n-grams
(bigrams for Chinese, trigrams for Latin script) searched with a sparse product in chunks,
after dropping n-grams so common they block nothing (科技, 技术 …).

The name parses are kept in the workspace (`name_parses`), with the applicant spellings' types, so
a refresh parses and classifies only the names it has not seen before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
import spacy

from graph.workspace import Workspace
from matching import geo
from matching.classify import classify_applicant
from matching.normalize import ParsedName, glued, normalize_name, parse_name

T = TypeVar("T")

ENTRY_KINDS = ("current", "former", "english")
_MAX_GRAM_SHARE = 0.02  # n-grams in more than 2% of entries (min 200) do not block
_CHUNK = 2048


# n-grams as int64 codes of their code points (21 bits each): a Latin trigram is (a, b, c); a Chinese
# bigram is (_ZH_BIGRAM, a, b), and a Chinese text shorter than two characters is (_ZH_SHORT, 0, a) or, when
# empty, (_ZH_SHORT, _ZH_SHORT, 0). The markers are above the last code point, so no two n-grams share a code.
_ZH_BIGRAM = 0x1FFFFF
_ZH_SHORT = 0x1FFFFE


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)


def _gram_codes(texts: list[str], zh: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """(doc number, gram code) for each distinct n-gram of each doc: docs in order, n-grams in the order they
    first occur in the doc (Chinese: character bigrams; Latin: trigrams of " text ")."""
    is_zh = np.array(zh, dtype=bool)
    written = [t if z else f" {t} " for t, z in zip(texts, zh, strict=True)]
    lengths = np.fromiter(map(len, written), dtype=np.int64, count=len(written))
    starts = np.cumsum(lengths) - lengths
    cp = np.concatenate([_code_points("".join(written)), np.zeros(2, dtype=np.int64)])
    doc = np.repeat(np.arange(len(written), dtype=np.int64), lengths)
    local = np.arange(len(doc), dtype=np.int64) - np.repeat(starts, lengths)
    pos_zh, m = is_zh[doc], len(doc)
    # the n-gram starting at each position, as (first, second, third) 21-bit fields
    first_field = np.where(pos_zh, _ZH_BIGRAM, cp[:m])
    second_field = np.where(pos_zh, cp[:m], cp[1:m + 1])
    third_field = np.where(pos_zh, cp[1:m + 1], cp[2:m + 2])
    grams = (first_field << 42) | (second_field << 21) | third_field
    ends = local + np.where(pos_zh, 1, 2) < lengths[doc]
    short = np.flatnonzero(is_zh & (lengths < 2))
    short_grams = np.where(lengths[short] == 1, (_ZH_SHORT << 42) | cp[starts[short]],
                           (_ZH_SHORT << 42) | (_ZH_SHORT << 21))
    doc = np.concatenate([doc[ends], short])
    grams = np.concatenate([grams[ends], short_grams])
    order = np.argsort(doc, kind="stable")
    doc, grams = doc[order], grams[order]
    once = ~pd.DataFrame({"doc": doc, "gram": grams}).duplicated().to_numpy()
    return doc[once], grams[once]


_BULK = 1 << 16  # names per pass of the array code below: its temporaries stay in the tens of MB


def _name_grams(names: list[ParsedName]) -> tuple[np.ndarray, np.ndarray]:
    """_gram_codes of the text each name is blocked on (its core, else its key)."""
    rows, grams = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for start in range(0, len(names), _BULK):
        part = names[start:start + _BULK]
        doc, gram = _gram_codes([p.core or p.key for p in part], [p.script == "zh" for p in part])
        rows.append(doc + start)
        grams.append(gram)
    return np.concatenate(rows), np.concatenate(grams)


_HASH_BASE = np.uint64(0x100000001B3)  # odd: powers stay distinct modulo 2**64
_HASH_LENGTH = np.uint64(0x9E3779B97F4A7C15)


def _masked_hashes(cores: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each core and each position in it, a 64-bit hash of the core with that character masked:
    (core number, hash), cores in order, positions in order. The hash is the polynomial of the code points
    (the masked one counted as 0) plus the length, so one masked position costs one subtraction and every
    process computes the same hashes."""
    lengths = np.fromiter(map(len, cores), dtype=np.int64, count=len(cores))
    owner = np.repeat(np.arange(len(cores), dtype=np.int64), lengths)
    if not len(owner):
        return owner, np.zeros(0, dtype=np.int64)
    cp = _code_points("".join(cores)).astype(np.uint64)
    starts = np.cumsum(lengths) - lengths
    exponent = np.repeat(starts + lengths - 1, lengths) - np.arange(len(owner), dtype=np.int64)
    powers = np.ones(int(lengths.max()), dtype=np.uint64)
    powers[1:] = np.cumprod(np.full(len(powers) - 1, _HASH_BASE, dtype=np.uint64))  # B**k modulo 2**64
    term = cp * powers[exponent]  # wraps modulo 2**64
    whole = np.add.reduceat(term, starts[lengths > 0]) + lengths[lengths > 0].astype(np.uint64) * _HASH_LENGTH
    masked = np.repeat(whole, lengths[lengths > 0]) - term
    return owner, masked.view(np.int64)


_SEPARATOR = "\0"


def _joined(texts: list[str]) -> str | list[str]:
    """Texts as one string for pickling, or the list itself when a text holds the separator (or is not text): one
    string of 400k names pickles in a tenth of the time of the list, and _split restores them in about its time."""
    try:
        joined = _SEPARATOR.join(texts)
    except TypeError:
        return texts
    return joined if joined.count(_SEPARATOR) == len(texts) - 1 else texts


def _split(packed: str | list[str]) -> list[str]:
    return packed.split(_SEPARATOR) if isinstance(packed, str) else packed


class Postings:
    """key -> ids, fixed once built, held as arrays: the distinct keys in order of first appearance, and each key's
    ids (in the order given) at ids[starts[k]:starts[k + 1]]. It pickles as one joined text and two integer arrays
    and rebuilds only its key -> number dict on arrival: the register's lookups as dicts of lists (400k keys at 1M
    patents) were most of the register's ~2 s trip from the process that builds it to the one that matches."""

    __slots__ = ("keys", "number", "starts", "ids")

    def __init__(self, keys: list, ids: np.ndarray):
        """keys[i] is the key of ids[i]."""
        self.number: dict = {}  # key -> its position in `keys`, numbered as first met
        codes = np.fromiter((self.number.setdefault(k, len(self.number)) for k in keys), dtype=np.int64,
                            count=len(keys))
        self.keys = list(self.number)
        self.starts = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(self.keys)))]).astype(np.int64)
        self.ids = np.asarray(ids, dtype=np.int64)[np.argsort(codes, kind="stable")]

    def __len__(self) -> int:
        return len(self.keys)

    def __contains__(self, key) -> bool:
        return key in self.number

    def __getitem__(self, key) -> list[int]:
        k = self.number[key]
        return self.ids[self.starts[k]:self.starts[k + 1]].tolist()

    def get(self, key, default=()) -> list[int]:
        k = self.number.get(key)
        return default if k is None else self.ids[self.starts[k]:self.starts[k + 1]].tolist()

    def gather(self, keys: list) -> tuple[np.ndarray, np.ndarray]:
        """For each of `keys`, how many ids it has (0 when absent), and all their ids, key after key."""
        number = self.number.get
        at = np.fromiter((number(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        known = at >= 0
        first = np.where(known, self.starts[np.maximum(at, 0)], 0)
        counts = np.where(known, self.starts[at + 1] - first, 0)
        total = int(counts.sum())
        # position of each gathered id: its key's first position plus its rank within the key
        flat = np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(total, dtype=np.int64)
        return counts, self.ids[flat]

    def __getstate__(self) -> tuple:
        return _joined(self.keys) if all(isinstance(k, str) for k in self.keys) else self.keys, self.starts, self.ids

    def __setstate__(self, state: tuple) -> None:
        keys, self.starts, self.ids = state
        self.keys = _split(keys) if isinstance(keys, str) else keys
        self.number = dict(zip(self.keys, range(len(self.keys)), strict=True))


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


# --- kept name parses -----------------------------------------------------------------------
_PARSER_SOURCES = ("normalize.py", "geo.py", "legal_forms.py")
_CLASSIFIER_SOURCES = (*_PARSER_SOURCES, "classify.py")  # classify_applicant parses the name too


def _digest(sources: tuple[str, ...], *extra: str) -> str:
    digest = hashlib.sha256()
    for name in sources:
        digest.update((Path(__file__).with_name(name)).read_bytes())
    for text in extra:
        digest.update(text.encode())
    return digest.hexdigest()[:16]


def parser_digest() -> str:
    """A digest of the code parse_name runs: kept parses made by other code are not used."""
    return _digest(_PARSER_SOURCES)


def classifier_digest() -> str:
    """A digest of the code classify_applicant runs (its spaCy version included): kept types made by other code
    are not used."""
    return _digest(_CLASSIFIER_SOURCES, spacy.__version__)


@dataclass
class KeptNames:
    """What `name_parses` holds for the running code: raw name -> parse (every register entry and applicant
    spelling), and applicant spelling -> classify_applicant's type."""

    parses: dict[str, ParsedName]
    types: dict[str, str]
    rows: pa.Table | None = None  # the kept table, when its parses are the running code's (for write_names)


def load_names(workspace: Workspace) -> KeptNames:
    """The workspace's kept parses and applicant types; either is empty when missing or made by other code."""
    if not workspace.has("name_parses"):
        return KeptNames({}, {})
    table = workspace.read("name_parses")
    parses: dict[str, ParsedName] = {}
    types: dict[str, str] = {}
    if set(pc.unique(table.column("classifier")).to_pylist()) == {classifier_digest()}:
        typed = pc.is_valid(table.column("applicant_type"))
        types = dict(zip(table.column("raw").filter(typed).to_pylist(),
                         table.column("applicant_type").filter(typed).to_pylist(), strict=True))
    if set(pc.unique(table.column("parser")).to_pylist()) != {parser_digest()}:
        return KeptNames(parses, types)
    fields = [table.column(f).to_pylist() for f in ParsedName._fields]
    parses = dict(zip(table.column("raw").to_pylist(), map(ParsedName._make, zip(*fields, strict=True)), strict=True))
    return KeptNames(parses, types, table)


def write_names(workspace: Workspace, run_id: str, kept: KeptNames, names: pa.Array, spellings: pa.Array,
                parse: Callable[[str], ParsedName], classify: Callable[[str], str]) -> None:
    """Write `name_parses` (name_parses_table)."""
    workspace.write("name_parses", name_parses_table(kept, names, spellings, parse, classify), run_id)


def name_parses_table(kept: KeptNames, names: pa.Array, spellings: pa.Array, parse: Callable[[str], ParsedName],
                      classify: Callable[[str], str]) -> pa.Table:
    """`name_parses`: `names` (each once, in order of first appearance) parsed, the applicant `spellings` among
    them typed; the rows `kept` holds are taken over, and only the other names are parsed or classified."""
    wanted = pc.unique(names)
    at = (pc.index_in(wanted, value_set=kept.rows.column("raw")) if kept.rows is not None
          else pa.nulls(len(wanted), pa.int32()))
    known = pc.is_valid(at).to_numpy(zero_copy_only=False)
    missing = wanted.filter(pa.array(~known)).to_pylist()
    parsed = list(zip(*map(parse, missing), strict=True)) if missing else [()] * len(ParsedName._fields)
    taken = kept.rows.take(at.filter(pa.array(known))) if kept.rows is not None else None
    # the kept rows, then the new ones, put back in the order of `wanted`
    order = np.argsort(np.concatenate([np.flatnonzero(known), np.flatnonzero(~known)]), kind="stable")
    columns = {field: pa.concat_arrays([*([taken.column(field).combine_chunks()] if taken is not None else []),
                                        pa.array(values, pa.string())]).take(order)
               for field, values in zip(("raw", *ParsedName._fields), (missing, *parsed), strict=True)}
    raws = columns["raw"]
    typed = pc.is_in(raws, value_set=spellings)
    have = (pa.concat_arrays([taken.column("applicant_type").combine_chunks(), pa.nulls(len(missing), pa.string())]
                             ).take(order) if taken is not None and kept.types else pa.nulls(len(raws), pa.string()))
    need = pc.and_(typed, pc.is_null(have))
    # only the spellings without a kept type are classified (a refresh: the new ones), set in place
    found = pa.array([classify(raw) for raw in raws.filter(need).to_pylist()], pa.string())
    have = pc.replace_with_mask(have, need, found)
    columns.update(parser=pa.repeat(pa.scalar(parser_digest()), len(raws)),
                   applicant_type=pc.if_else(typed, have, pa.scalar(None, pa.string())),
                   classifier=pa.repeat(pa.scalar(classifier_digest()), len(raws)))
    return pa.table(columns)


def _parse_rows(raws: pa.Array, fields: list) -> pa.Table:
    """raw and the ParsedName fields (`fields`: one column of values per field) as string columns, each distinct
    raw once (its first row), in order of first appearance."""
    codes = raws.dictionary_encode().indices.to_numpy(zero_copy_only=False).astype(np.int64)
    # codes are numbered in order of first appearance: a raw appears first where the running maximum grows
    first = pa.array(np.flatnonzero(np.diff(np.maximum.accumulate(codes), prepend=-1) > 0))
    columns = {"raw": raws.take(first)}
    columns.update((field, pa.array(values, pa.string()).take(first))
                   for field, values in zip(ParsedName._fields, fields, strict=True))
    return pa.table(columns)


def name_parses_of(entry_rows: pa.Table, spellings: pa.Array, parses: Mapping[str, ParsedName],
                   types: Mapping[str, str]) -> pa.Table:
    """The table name_parses_table(KeptNames({}, {}), entry names + spellings, spellings, ...) gives, from parses
    made already: `entry_rows` (FirmRegister.name_parse_rows) and each spelling's parse and type in `parses` and
    `types` (which hold every spelling), so no name is parsed, classified or turned into Python objects again."""
    spelled = pc.unique(spellings)
    spelled = spelled.filter(pc.invert(pc.is_in(spelled, value_set=entry_rows["raw"])))
    spelled_parses = [parses[raw] for raw in spelled.to_pylist()]
    fields = list(zip(*spelled_parses, strict=True)) if spelled_parses else [[] for _ in ParsedName._fields]
    rows = pa.concat_tables([entry_rows, _parse_rows(spelled, fields)])
    raws = rows["raw"]
    type_at = pc.index_in(raws, value_set=pa.array(list(types), pa.string()))
    applicant_type = pc.if_else(pc.is_in(raws, value_set=spellings),
                                pa.array(list(types.values()), pa.string()).take(type_at), pa.scalar(None, pa.string()))
    return rows.append_column("parser", pa.repeat(pa.scalar(parser_digest()), len(raws))).append_column(
        "applicant_type", applicant_type).append_column("classifier", pa.repeat(pa.scalar(classifier_digest()), len(raws)))


def parse_with(parses: Mapping[str, ParsedName] | None) -> Callable[[str], ParsedName]:
    """parse_name, answered from `parses` when it holds the name."""
    return _answered_from(parses, parse_name)


def classify_with(types: Mapping[str, str] | None) -> Callable[[str], str]:
    """classify_applicant, answered from `types` when it holds the name."""
    return _answered_from(types, classify_applicant)


def _answered_from(known: Mapping[str, T] | None, compute: Callable[[str], T]) -> Callable[[str], T]:
    if not known:
        return compute

    def answer(raw: str) -> T:
        value = known.get(raw)
        return value if value is not None else compute(raw)
    return answer


def entry_names(name: str, formers, english) -> Iterator[tuple[str, str]]:
    """(kind, raw name) of each register entry of one firm, in entry order."""
    yield "current", name
    for former in formers if formers is not None else ():
        if isinstance(former, str) and former.strip():
            yield "former", former
    if isinstance(english, str) and english.strip():
        yield "english", english


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
    def __init__(self, firms: pd.DataFrame, parses: Mapping[str, ParsedName] | None = None):
        """parses: kept name parses (load_parses); names it lacks are parsed."""
        self.firms = firms.reset_index(drop=True)
        self.firm_ids = self.firms["firm_id"].tolist()  # a required text column
        self.row_of = {fid: i for i, fid in enumerate(self.firm_ids)}
        parse = parse_with(parses)
        self.entries = []
        columns = (self.firms[c].tolist() for c in ("name", "former_names", "english_name"))
        for i, names in enumerate(zip(*columns, strict=True)):
            self.entries.extend(Entry(i, kind, raw, parse(raw)) for kind, raw in entry_names(*names))
        named = [e for e, entry in enumerate(self.entries) if entry.kind != "english"]
        self.entries_of = Postings([self.entries[e].firm for e in named], named)  # firm -> its Chinese names
        keyed = [e for e, entry in enumerate(self.entries) if entry.parsed.key]
        self.by_key = Postings([self.entries[e].parsed.key for e in keyed], keyed)
        self.by_core = Postings([self.entries[e].parsed.core for e in keyed], keyed)
        self._locate()
        self._dates()
        self._firm_texts()
        self._former_name_limits()
        self._entry_arrays()
        self._people_and_groups()
        self._build_gram_index()
        self._build_substitution_index()

    @cached_property
    def entries(self) -> list[Entry]:
        """The name entries as objects, in entry order. A register from_portable made keeps their columns only (the
        matcher reads those) and builds the objects on first use (0.3 s for 411k entries at 1M patents)."""
        given_up_by: list[np.datetime64 | None] = [None] * len(self.entry_raw)
        for e in np.flatnonzero(~np.isnat(self.entry_given_up)).tolist():
            given_up_by[e] = self.entry_given_up[e]
        kinds = list(map(ENTRY_KINDS.__getitem__, self.entry_kind.tolist()))
        # built by C-level calls (map, tuple.__new__): a comprehension calling the constructors took 0.6 s at 1M
        parses = map(partial(tuple.__new__, ParsedName), zip(*self._entry_parses, strict=True))
        return list(map(Entry, self.entry_firm.tolist(), kinds, self.entry_raw, parses, given_up_by, self.entry_taken_by))

    # --- passing an index between processes --------------------------------------------------
    # left out of portable(): the receiver rebuilds them from what it gets faster than it would unpickle them
    # (the entries only when asked for)
    _REBUILT = ("firms", "entries", "row_of", "entry_core", "entry_city", "entry_province",
                "entry_legal", "_entry_parses", "status", "names", "legal_reps", "successors")
    # texts that go _joined: mostly distinct texts (repeated ones, such as places, pickle as references to one copy)
    _JOINED = ("firm_ids", "entry_raw")
    _JOINED_FIELDS = tuple(ParsedName._fields.index(f) for f in ("key", "core", "brand"))

    def portable(self) -> dict:
        """The index as pickle-friendly state for a process that holds the same `firms` table: the table itself
        is left out, and the entries go as columns (half a million small objects pickle 3x slower than the
        same data as lists); their names, firms, kinds, given-up dates and holders are in the entry columns
        already, their parses go as one column per field, _REBUILT is rebuilt and texts no lookup shares go
        _joined. FirmRegister.from_portable(state, firms) rebuilds the index."""
        state = {k: v for k, v in self.__dict__.items() if k not in self._REBUILT}
        state.update((name, _joined(state[name])) for name in self._JOINED)
        fields = list(self._entry_parses)
        for field in self._JOINED_FIELDS:
            fields[field] = _joined(fields[field])
        state["entry_parses"] = fields
        return state

    @classmethod
    def from_portable(cls, state: dict, firms: pd.DataFrame) -> FirmRegister:
        register = cls.__new__(cls)
        parsed = state.pop("entry_parses")
        for field in cls._JOINED_FIELDS:
            parsed[field] = _split(parsed[field])
        state.update((name, _split(state[name])) for name in cls._JOINED)
        register.__dict__.update(state)
        register.firms = firms.reset_index(drop=True)
        register._firm_texts()
        register.row_of = dict(zip(register.firm_ids, range(len(register.firm_ids)), strict=True))
        register._entry_parses = parsed
        _, core, _, legal, province, city, _, _ = parsed
        register.entry_core = np.array(core, dtype=object)
        register.entry_city, register.entry_province, register.entry_legal = list(city), list(province), list(legal)
        return register

    def name_parse_rows(self) -> pa.Table:
        """The register's part of `name_parses`: each distinct entry name once, in entry order, with its parse."""
        return _parse_rows(pa.array(self.entry_raw, pa.string()), self._entry_parses)

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
        address_key = [geo.address_key(a) for a in self.firms["address"].tolist()]
        addressed = [i for i, key in enumerate(address_key) if key]
        self.by_address = Postings([address_key[i] for i in addressed], addressed)
        # each firm's registered address as a number (its position in by_address), -1 when the firm has none
        self.firm_address_number = np.full(len(address_key), -1, dtype=np.int64)
        self.firm_address_number[addressed] = [self.by_address.number[address_key[i]] for i in addressed]

    def _dates(self) -> None:
        est = pd.to_datetime(self.firms["established_date"], errors="coerce")
        dereg = pd.to_datetime(self.firms["deregistered_date"], errors="coerce")
        self.established = est.to_numpy(dtype="datetime64[D]")
        self.deregistered = dereg.to_numpy(dtype="datetime64[D]")

    def _firm_texts(self) -> None:
        """The firm columns the evidence quotes, as lists (read from `firms` in a tenth of their pickling time)."""
        self.status = self.firms["status"].tolist()  # a required text column
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
        entries = self.entries
        n = len(entries)
        # the entries' parses, one column per ParsedName field (sent as such by portable())
        self._entry_parses = list(zip(*(e.parsed for e in entries), strict=True)) if n else [[] for _ in ParsedName._fields]
        _, core, brand, legal, province, city, script, _ = self._entry_parses
        kinds = {kind: number for number, kind in enumerate(ENTRY_KINDS)}
        self.entry_raw = [e.raw for e in entries]
        self.entry_taken_by = [e.taken_by for e in entries]  # the firm holding a former name today, else None
        self.entry_firm = np.fromiter((e.firm for e in entries), dtype=np.int64, count=n)
        self.entry_kind = np.fromiter((kinds[e.kind] for e in entries), dtype=np.int64, count=n)
        self.entry_given_up = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        for e, entry in enumerate(entries):
            if entry.given_up_by is not None:
                self.entry_given_up[e] = entry.given_up_by
        self.entry_core_len = np.fromiter(map(len, core), dtype=np.int64, count=n)
        self.entry_brand_len = np.fromiter((len(b) - b.count(" ") for b in brand), dtype=np.int64, count=n)
        self.entry_is_zh = np.fromiter((s == "zh" for s in script), dtype=bool, count=n)
        self.entry_core = np.array(core, dtype=object)
        self.entry_city = list(city)
        self.entry_province = list(province)
        self.entry_legal = list(legal)

    def _people_and_groups(self) -> None:
        reps = self.firms["legal_representative"].tolist()
        represented = [i for i, rep in enumerate(reps) if isinstance(rep, str) and rep.strip()]
        self.by_legal_rep = Postings([normalize_name(reps[i]) for i in represented], represented)
        parents = self.firms["parent_firm_id"].tolist()
        owned = [i for i, parent in enumerate(parents) if isinstance(parent, str) and parent in self.row_of]
        self.children = Postings([self.row_of[parents[i]] for i in owned], owned)

    # --- fuzzy blocking ----------------------------------------------------------------------
    def _build_gram_index(self) -> None:
        rows, grams = _name_grams([e.parsed for e in self.entries])
        n_docs = len(self.entries)
        # columns in order of first appearance, not set order: the vocabulary is the same every run
        codes, uniques = pd.factorize(grams)
        df = np.bincount(codes, minlength=len(uniques))
        cap = max(200, int(_MAX_GRAM_SHARE * n_docs))
        n = max(n_docs, 1)
        kept = df <= cap
        # the vocabulary as gram codes sorted, with the column of each (a search, not a dict of millions of ints)
        vocab_grams = uniques[kept]
        sort = np.argsort(vocab_grams)
        self.vocab_grams, self.vocab_columns = vocab_grams[sort], sort.astype(np.int64)
        self.idf = np.log((1 + n) / (1 + df[kept])) + 1.0
        column = np.cumsum(kept) - 1
        self.entry_matrix = self._matrix(rows[kept[codes]], column[codes[kept[codes]]], n_docs).T.tocsr()

    def _vectorise(self, names: list[ParsedName]) -> sp.csr_matrix:
        rows, grams = _name_grams(names)
        at = np.minimum(np.searchsorted(self.vocab_grams, grams), max(len(self.vocab_grams) - 1, 0))
        known = (self.vocab_grams[at] == grams) if len(self.vocab_grams) else np.zeros(len(grams), dtype=bool)
        return self._matrix(rows[known], self.vocab_columns[at[known]], len(names))

    def _matrix(self, rows: np.ndarray, cols: np.ndarray, n_docs: int) -> sp.csr_matrix:
        """Rows of L2-normalised idf weights (each (row, column) pair given once)."""
        data = self.idf[cols] if len(cols) else np.zeros(0)
        mat = sp.csr_matrix((data, (rows, cols)), shape=(n_docs, len(self.idf)))
        norms = np.sqrt(mat.multiply(mat).sum(axis=1)).A1
        norms[norms == 0] = 1.0
        return sp.diags(1.0 / norms) @ mat

    def block(self, names: list[ParsedName], top_k: int = 8, min_cosine: float = 0.35) -> list[list[int]]:
        """For each parsed name, up to top_k entry ids sharing distinctive n-grams with it."""
        out: list[list[int]] = []
        for start in range(0, len(names), _CHUNK):
            chunk = names[start:start + _CHUNK]
            query = self._vectorise(chunk)
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
        zh_long = [e for e, entry in enumerate(self.entries)
                   if entry.parsed.script == "zh" and len(entry.parsed.core) >= 3]
        owners, hashed = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for start in range(0, len(zh_long), _BULK):
            owner, hashes = _masked_hashes([self.entries[e].parsed.core for e in zh_long[start:start + _BULK]])
            owners.append(owner + start)
            hashed.append(hashes)
        owner, hashes = np.concatenate(owners), np.concatenate(hashed)
        order = np.argsort(hashes, kind="stable")
        self.sub_hashes = hashes[order]
        self.sub_entries = np.array(zh_long, dtype=np.int64)[owner[order]]

    def one_substitution(self, core: str) -> set[int]:
        """Entry ids whose core differs from `core` in exactly one position (or equals it)."""
        return self.one_substitutions([core])[0]

    def one_substitutions(self, cores: list[str]) -> list[set[int]]:
        """one_substitution for many cores: one sorted search per chunk of cores over all their masked hashes
        (chunked because common cores hit thousands of entries, and all hits at once would take gigabytes)."""
        found: list[set[int]] = [set() for _ in cores]
        searched = [i for i, core in enumerate(cores) if len(core) >= 3]
        if not searched or not len(self.sub_hashes):
            return found
        for start in range(0, len(searched), _CHUNK):
            chunk = searched[start:start + _CHUNK]
            owner, keys = _masked_hashes([cores[i] for i in chunk])
            owner = np.array(chunk, dtype=np.int64)[owner]
            lo = np.searchsorted(self.sub_hashes, keys, side="left")
            hi = np.searchsorted(self.sub_hashes, keys, side="right")
            hits = hi > lo
            owner, lo, counts = owner[hits], lo[hits], (hi - lo)[hits]
            # every (core, entry) hit as flat arrays: entry positions lo .. hi-1 of each hit key
            flat = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
            for i, e in zip(np.repeat(owner, counts).tolist(), self.sub_entries[flat].tolist(), strict=True):
                found[i].add(e)
        return found


class GluedNames:
    """Every register entry under its name and under its matching key as a glued assignment clause writes them
    (`normalize.glued`: ABBOTT LABORATORIES -> ABBOTTLABORATORIES), to find where the assignee's name ends in a
    clause's text (`normalize.glued_clause_text`): at the longest glued name the text starts with. Built only by
    a run that has such clauses."""

    SHORTEST = 6  # letters: shorter names would start too many texts by chance

    def __init__(self, reg: FirmRegister):
        keyed = reg.by_key
        found = {(glued(raw), e) for e, raw in enumerate(reg.entry_raw)}
        for k, key in enumerate(keyed.keys):
            name = glued(key)
            found.update((name, e) for e in keyed.ids[keyed.starts[k]:keyed.starts[k + 1]].tolist())
        found = sorted(pair for pair in found if len(pair[0]) >= self.SHORTEST)
        self.names = Postings([name for name, _ in found], np.array([e for _, e in found], dtype=np.int64))
        self.longest = max(map(len, self.names.keys), default=0)

    def longest_prefixes(self, texts: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """For each text, the entries of the longest glued name it starts with (none: no such name), as
        Postings.gather answers: how many per text, then all of them, text after text."""
        known, prefixes = self.names.number, []
        for text in texts:
            prefixes.append(next((text[:n] for n in range(min(len(text or ""), self.longest), self.SHORTEST - 1, -1)
                                  if text[:n] in known), None))
        return self.names.gather(prefixes)
