"""Patent normalisation over whole columns of a batch (Arrow compute), exact to `records.build_patent`.

Each field has a vectorised fast path for the values it can prove it handles the same way as the
per-value parser in `normalize` (plain ASCII numbers, ordinary whitespace), and hands every
other value to that parser, once per distinct value. Dates, classification codes, applicant
lists and the like repeat a lot, so they go straight to the per-distinct-value parser. A value
the parser rejects rejects its row, with the same field and reason the row path would give.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.contracts import PATENTS
from ingest import normalize as nz
from ingest import records

_SPACES = pa.array([chr(c) for c in range(0x3001) if chr(c).isspace()])  # none above U+3000
_MARKER_BYTES = max(len(m.encode()) for m in nz.EMPTY_MARKERS)
_EMPTY_MARKERS = pa.array(sorted(nz.EMPTY_MARKERS), pa.string())
_STRS = pa.list_(pa.string())
_PUBLICATION = r"^(?P<country>[A-Z]{2})(?P<number>\d{4,13}|[A-Z]{1,2}\d{3,12})(?P<kind>[A-Z]\d?)?$"
_CN_APPLICATION = r"^(?:CN)?(?P<number>\d{8}|\d{12})\.?(?P<check>[\dX])$"
_LIST_SEPARATORS = ("；", "\r\n", "\n", "\r", "|")  # each becomes ";", then split on ";"
_CITATION_SEPARATORS = ("；", ",", "，", "|", "\n", "\r")
SCHEMA = pa.schema([f.with_nullable(True) for f in PATENTS.schema])


@dataclass
class Rejection:
    row: int  # index in the batch
    field: str
    reason: str


def patent_batch(fields: dict[str, list[pa.Array]], header_of: Callable[[str], str], length: int,
                 source_file: str, positions: np.ndarray) -> tuple[pa.RecordBatch, list[Rejection]]:
    """Contract records for the accepted rows of a batch, and why each other row was rejected.

    `fields` maps each canonical field to the file's columns for it (raw strings), best first.
    """
    checks: list[tuple[str, pa.Array]] = []  # (field, reason or null per row), in build_patent's order

    derived: dict[str, pa.Array] = {}

    def column(name: str) -> pa.Array:
        if name in derived:
            return derived[name]
        columns = fields.get(name)
        if not columns:
            return pa.nulls(length, pa.string())
        cleaned = [clean(c) for c in columns]
        return cleaned[0] if len(cleaned) == 1 else pc.coalesce(*cleaned)

    def parsed(name: str, parse: Callable, out_type: pa.DataType, source: str = "") -> pa.Array:
        values, reasons = by_distinct_value(column(source or name), parse, out_type)
        checks.append((name, _prefix(reasons, header_of(source or name))))
        return values

    if any(name in fields for name in records.DERIVED_FROM):  # exports giving a number only in parts
        derived.update(_derive(column, length))
    numbers, kinds, number_reasons = publication_numbers(column("publication_number"))
    number_reasons = _prefix(number_reasons, header_of("publication_number"))
    if numbers.null_count:
        empty = pc.if_else(pc.and_(pc.is_null(numbers), pc.is_null(number_reasons)),
                           pa.scalar(f"{header_of('publication_number')} is empty"), pa.scalar(None, pa.string()))
        number_reasons = pc.coalesce(number_reasons, empty)
    checks.append(("publication_number", number_reasons))
    granted = parsed("grant_date", nz.parse_date, pa.date32())
    published = parsed("publication_date", nz.parse_date, pa.date32())
    ipc = _concat_lists(parsed("ipc", nz.classification_codes, _STRS, "main_ipc"),
                        parsed("ipc", nz.classification_codes, _STRS))
    cpc = _concat_lists(parsed("cpc", nz.classification_codes, _STRS, "main_cpc"),
                        parsed("cpc", nz.classification_codes, _STRS))
    application_numbers, application_reasons = fast_or_exact(column("application_number"), _fast_application_number,
                                                             nz.application_number, pa.string())
    checks.append(("application_number", _prefix(application_reasons, header_of("application_number"))))
    application_dates = parsed("application_date", nz.parse_date, pa.date32())
    cited, cited_reasons = citations(column("cited_publications"))
    checks.append(("cited_publications", _prefix(cited_reasons, header_of("cited_publications"))))
    claims = parsed("claims_count", nz.parse_count, pa.int32())

    type_from_text, _ = by_distinct_value(column("patent_type"), nz.patent_type_from_text, pa.string())
    type_from_kind, _ = by_distinct_value(kinds, _type_of_kind, pa.string())
    columns = {
        "publication_number": numbers,
        "application_number": application_numbers,
        "kind": kinds,
        "patent_type": pc.coalesce(type_from_text, type_from_kind),
        "title": column("title"),
        "abstract": column("abstract"),
        "claims": column("claims"),
        "application_date": application_dates,
        "publication_date": pc.coalesce(published, granted),
        "grant_date": granted,
        "ipc": _dedupe_lists(ipc),
        "cpc": _dedupe_lists(cpc),
        "applicants": split_multi(column("applicants")),
        "applicant_addresses": split_multi(column("applicant_addresses")),
        "inventors": split_multi(column("inventors")),
        "cited_publications": cited,
        "claims_count": claims,
        "legal_status": column("legal_status"),
        "source_file": pa.repeat(pa.scalar(source_file, pa.string()), length),
        "source_position": pa.array(positions, pa.int64()),
    }
    rejections = _first_reasons(checks)
    keep = np.ones(length, dtype=bool)
    keep[[r.row for r in rejections]] = False
    batch = pa.RecordBatch.from_arrays([columns[f.name] for f in SCHEMA], schema=SCHEMA)
    return (batch if keep.all() else batch.filter(pa.array(keep))), rejections


def _type_of_kind(kind: str | None) -> str:
    return nz.patent_type(None, kind)


def _derive(column: Callable[[str], pa.Array], length: int) -> dict[str, pa.Array]:
    names = ("publication_number", "inventors", "applicants", "google_id", "patent_id", "kind_code", "source_db", "inventor_first",
             "inventor_last")
    values = {name: column(name).to_pylist() for name in names}
    out = {name: values[name] for name in ("publication_number", "inventors", "applicants")}
    for row in range(length):
        for name, value in records.derive({name: values[name][row] for name in names}).items():
            out[name][row] = value
    return {name: clean(pa.array(items, pa.string())) for name, items in out.items()}


# --- building blocks ---------------------------------------------------------------------

def clean(values: pa.Array) -> pa.Array:
    """`normalize.clean` over a column: trimmed, empty cells and placeholders (`-`, `无` …) null.

    Arrow's trimming strips exactly the characters str.strip() does (checked over all of
    Unicode in the tests); only short cells can be placeholders.
    """
    trimmed = pc.utf8_trim_whitespace(values)
    short = pc.fill_null(pc.less_equal(pc.binary_length(trimmed), _MARKER_BYTES), False)
    if not pc.any(short).as_py():
        return trimmed
    candidates = trimmed.filter(short)
    candidates = pc.if_else(pc.is_in(pc.utf8_lower(candidates), _EMPTY_MARKERS), pa.scalar(None, pa.string()),
                            candidates)
    return pc.replace_with_mask(trimmed, short, candidates)


_MEMO_LIMIT = 200_000  # distinct values remembered per parser; beyond that, parsed again per batch
_memo: dict[Callable, dict] = {}


def by_distinct_value(values: pa.Array, parse: Callable, out_type: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """`parse` applied once per distinct value (null included): the parsed column and the reasons.

    Results are remembered across batches (dates, codes and applicant lists repeat throughout a file).
    """
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    memo = _memo.setdefault(parse, {})
    if len(memo) > _MEMO_LIMIT:
        memo.clear()
    results, reasons = [], []
    for value in encoded.dictionary.to_pylist():
        found = memo.get(value)
        if found is None:
            try:
                found = memo[value] = (parse(value), None)
            except ValueError as exc:
                found = memo[value] = (None, str(exc))
        results.append(found[0])
        reasons.append(found[1])
    indices = encoded.indices
    return pa.array(results, out_type).take(indices), pa.array(reasons, pa.string()).take(indices)


def fast_or_exact(values: pa.Array, fast: Callable, parse: Callable, out_type: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """`fast` where it vouches for a value (its mask), `parse` per distinct value elsewhere."""
    fast_values, ok = fast(values)
    ok = pc.fill_null(ok, True)
    if pc.all(ok).as_py():
        return fast_values, pa.nulls(len(values), pa.string())
    rest = pc.invert(ok)
    exact, reasons = by_distinct_value(values.filter(rest), parse, out_type)
    mask = rest.to_numpy(zero_copy_only=False)
    return (_scatter(fast_values.filter(ok), exact, mask),
            _scatter(pa.nulls(len(values) - len(exact), pa.string()), reasons, mask))


def publication_numbers(values: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Cleaned publication numbers → (number, kind, reason)."""
    numbers, reasons = fast_or_exact(values, _fast_publication, nz.publication_number,
                                     pa.struct([("number", pa.string()), ("kind", pa.string())]))
    # the struct holds (number, kind); the parser returns a tuple, Arrow takes it positionally
    return pc.struct_field(numbers, 0), pc.struct_field(numbers, 1), reasons


def split_multi(values: pa.Array) -> pa.Array:
    """`normalize.split_multi` over a cleaned column: lists split on `;` `；` newline `|`, never commas."""
    parts = _split(values, _LIST_SEPARATORS)
    items = clean(pc.list_flatten(parts))
    return _rebuild_lists(len(values), pc.list_parent_indices(parts), items)


def citations(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """`normalize.publication_list` over a cleaned column: (normalised lists, first bad token's reason)."""
    parts = _split(values, _CITATION_SEPARATORS)
    parents = pc.list_parent_indices(parts)
    numbers, _kinds, reasons = publication_numbers(clean(pc.list_flatten(parts)))
    row_reasons = np.full(len(values), None, dtype=object)
    bad = pc.indices_nonzero(pc.is_valid(reasons)).to_numpy()
    parent_of = parents.to_numpy()
    for index in bad[::-1]:  # the first bad token of a row wins
        row_reasons[parent_of[index]] = reasons[int(index)].as_py()
    return _dedupe_lists(_rebuild_lists(len(values), parents, numbers)), pa.array(row_reasons, pa.string())


def _split(values: pa.Array, separators: tuple[str, ...]) -> pa.Array:
    for separator in separators:
        values = pc.replace_substring(values, separator, ";")
    return pc.split_pattern(values, ";")


# --- fast paths: plain ASCII values only ------------------------------------------------------

def _fast_publication(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    key = pc.ascii_upper(values)
    parts = pc.extract_regex(key, _PUBLICATION)
    spaced = pc.and_(pc.is_null(parts), pc.is_valid(values))
    if pc.any(spaced).as_py():  # `CN 114123456 A`: only the cells that missed pay for the second regex
        unspaced = pc.replace_substring_regex(key.filter(spaced), "[ \t\n\r\f\v\\-_./]", "")
        key = pc.replace_with_mask(key, spaced, unspaced)
        parts = pc.extract_regex(key, _PUBLICATION)
    country, number, kind = (pc.struct_field(parts, i) for i in range(3))
    kind = pc.if_else(pc.equal(kind, ""), pa.scalar(None, pa.string()), kind)
    # US grant numbers lose zero padding in the parser; leave those to it
    ok = pc.and_(pc.string_is_ascii(values), pc.is_valid(parts))
    us = pc.fill_null(pc.equal(country, "US"), False)
    if pc.any(us).as_py():
        padded = pc.and_(us, pc.greater_equal(pc.find_substring(pc.utf8_slice_codeunits(number, 0, 3), "0"), 0))
        ok = pc.and_(ok, pc.invert(pc.fill_null(padded, False)))
    ok = pc.or_kleene(pc.is_null(values), ok)
    whole = pc.binary_join_element_wise(country, number, pc.fill_null(kind, ""), "")
    return pa.StructArray.from_arrays([whole, kind], names=["number", "kind"],
                                      mask=pc.invert(pc.is_valid(parts))), ok


def _fast_application_number(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    key = pc.replace_substring_regex(pc.ascii_upper(values), "[ \t\n\r\f\v]", "")
    parts = pc.extract_regex(key, _CN_APPLICATION)
    chinese = pc.binary_join_element_wise(pc.binary_join_element_wise("CN", pc.struct_field(parts, 0), ""),
                                          pc.struct_field(parts, 1), ".")
    other = pc.match_substring_regex(key, r"^[A-Z0-9][A-Z0-9./\-]*$")
    ok = pc.and_(pc.string_is_ascii(values), pc.or_(pc.is_valid(parts), other))
    return pc.if_else(pc.is_valid(parts), chinese, key), pc.or_kleene(pc.is_null(values), ok)


# --- list and array plumbing ----------------------------------------------------------------

def _rebuild_lists(length: int, parents: pa.Array, items: pa.Array) -> pa.Array:
    """Lists of the non-null `items`, each in the row `parents` names; rows without any get []."""
    keep = pc.is_valid(items)
    counts = np.bincount(parents.filter(keep).to_numpy(), minlength=length)
    offsets = np.zeros(length + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), items.filter(keep).cast(pa.string()))


def _dedupe_lists(lists: pa.Array) -> pa.Array:
    """Drop repeats within each list (order kept); only rows that have repeats go through Python."""
    items = pc.list_flatten(lists)
    if len(items) == len(lists) or not len(items):
        if not (pc.list_value_length(lists).to_numpy(zero_copy_only=False) > 1).any():
            return lists
    codes = pc.dictionary_encode(items).indices.to_numpy().astype(np.int64)
    keys = pc.list_parent_indices(lists).to_numpy().astype(np.int64) * (int(codes.max(initial=0)) + 1) + codes
    keys.sort()
    repeated = keys[1:][keys[1:] == keys[:-1]]
    if not len(repeated):
        return lists
    python = lists.to_pylist()
    for row in np.unique(repeated // (int(codes.max()) + 1)).tolist():
        python[row] = list(dict.fromkeys(python[row]))
    return pa.array(python, _STRS)


def _concat_lists(first: pa.Array, second: pa.Array) -> pa.Array:
    """Row-wise first + second (the main class, then the full list)."""
    if pc.all(pc.equal(pc.list_value_length(first), 0)).as_py():
        return second
    if pc.all(pc.equal(pc.list_value_length(second), 0)).as_py():
        return first
    length = len(first)
    both = pa.concat_arrays([first, second])
    parents = pc.list_parent_indices(both).to_numpy() % length  # row of each item, first's items before second's
    items = pc.list_flatten(both)
    order = np.argsort(parents, kind="stable")
    return _rebuild_lists(length, pa.array(parents[order]), items.take(pa.array(order)))


def _scatter(kept: pa.Array, replaced: pa.Array, replaced_mask: np.ndarray) -> pa.Array:
    """One column from `kept` (rows where the mask is False) and `replaced` (rows where it is True)."""
    order = np.empty(len(replaced_mask), dtype=np.int64)
    order[~replaced_mask] = np.arange(len(kept))
    order[replaced_mask] = len(kept) + np.arange(len(replaced))
    return pa.concat_arrays([kept, replaced.cast(kept.type)]).take(pa.array(order))


def _prefix(reasons: pa.Array, header: str) -> pa.Array:
    if reasons.null_count == len(reasons):
        return reasons
    return pc.binary_join_element_wise(header, reasons, ": ")


def _first_reasons(checks: list[tuple[str, pa.Array]]) -> list[Rejection]:
    first: dict[int, Rejection] = {}
    for field, reasons in checks:
        for row in pc.indices_nonzero(pc.is_valid(reasons)).to_pylist():
            if row not in first:
                first[row] = Rejection(row, field, reasons[row].as_py())
    return sorted(first.values(), key=lambda r: r.row)
