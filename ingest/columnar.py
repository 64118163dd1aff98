"""Patent normalisation over whole columns of a batch (Arrow compute), exact to `records.build_patent`.

Each field has a vectorised fast path for the values it can prove it handles the same way as the
per-value parser in `normalize` (plain ASCII numbers, ordinary whitespace), and hands every
other value to that parser, once per distinct value. Dates, classification codes, applicant
lists and the like repeat a lot, so they go straight to the per-distinct-value parser. A value
the parser rejects rejects its row, with the same field and reason the row path would give.
"""

from __future__ import annotations

import datetime as dt
import itertools
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
# Every spelling of a placeholder that lowercases to it: its ASCII case variants, as no other
# character lowercases to an ASCII letter of a placeholder (checked in the tests).
_MARKER_SPELLINGS = pa.array(sorted({"".join(spelling) for marker in nz.EMPTY_MARKERS
                                     for spelling in itertools.product(*({c, c.upper()} for c in marker))}), pa.string())
_STRS = pa.list_(pa.string())
_PUBLICATION = r"^(?P<country>[A-Z]{2})(?P<number>\d{4,13}|[A-Z]{1,2}\d{3,12})(?P<kind>[A-Z]\d?)?$"
_CN_APPLICATION = r"^(?:CN)?(?P<number>\d{8}|\d{12})\.?(?P<check>[\dX])$"
_CANONICAL_PUBLICATION = r"^[A-Z]{2}(\d{4,13}|[A-Z]{1,2}\d{3,12})([A-Z]\d?)?$"
_CANONICAL_CN_APPLICATION = r"^(CN)?(\d{8}|\d{12})\.[\dX]$"
# a code as `normalize.classification_codes` writes it (ASCII digits only: Python's \d takes others too)
_CANONICAL_CODE = r"[A-HY][0-9]{2}[A-Z](?:(?:0|[1-9][0-9]{0,3})/[0-9]{1,6})?"
_CANONICAL_CODES = rf"^{_CANONICAL_CODE}(?:;{_CANONICAL_CODE})*$"
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

    def single_raw(name: str) -> pa.Array | None:
        """The field's one raw column, uncleaned; None when it is derived, absent or read from several columns."""
        columns = fields.get(name)
        return None if name in derived or not columns or len(columns) > 1 else columns[0].cast(pa.string())

    def distinct_cells(name: str, cleaned: bool = True) -> tuple[pa.Array, pa.Array]:
        """The field's cleaned cells once per distinct cell, and which one each row holds. A field read
        from one column is encoded first, so only its distinct cells are cleaned (`cleaned=False`: not at
        all, for a caller cleaning each part of a cell, which is all cleaning the cell would do)."""
        raw = single_raw(name)
        if raw is None:
            encoded = pc.dictionary_encode(column(name), null_encoding="encode")
            return encoded.dictionary, encoded.indices
        encoded = pc.dictionary_encode(raw, null_encoding="encode")
        return clean(encoded.dictionary) if cleaned else encoded.dictionary, encoded.indices

    def parsed(name: str, parse: Callable, out_type: pa.DataType, source: str = "") -> pa.Array:
        values, reasons = _parse_distinct(*distinct_cells(source or name), parse, out_type)
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
    def codes(name: str, source: str = "") -> _Distinct:
        distinct, rows = distinct_cells(source or name)
        cells = _codes_of_distinct(distinct, rows.to_numpy(), drop_repeats=False)  # dropped once joined, below
        checks.append((name, _prefix(cells.per_row(cells.reasons), header_of(source or name))))
        return cells

    ipc = (codes("ipc", "main_ipc"), codes("ipc"))
    cpc = (codes("cpc", "main_cpc"), codes("cpc"))
    applications, application_reasons = application_numbers(column("application_number"))
    checks.append(("application_number", _prefix(application_reasons, header_of("application_number"))))
    application_dates = parsed("application_date", nz.parse_date, pa.date32())
    cited = citations(*distinct_cells("cited_publications", cleaned=False))
    checks.append(("cited_publications", _prefix(cited.per_row(cited.reasons), header_of("cited_publications"))))
    claims = parsed("claims_count", nz.parse_count, pa.int32())

    rejections = _first_reasons(checks)
    keep = np.ones(length, dtype=bool)
    keep[[r.row for r in rejections]] = False
    keep_mask = pa.array(keep)

    def accepted(values: pa.Array) -> pa.Array:
        return values if not rejections else values.filter(keep_mask)

    def accepted_cells(name: str) -> tuple[pa.Array, pa.Array]:
        distinct, rows = distinct_cells(name)
        return distinct, accepted(rows)

    def name_lists(name: str) -> pa.Array:
        """Names split once per distinct cell, unless nearly all cells differ (see `split_multi`). Each name
        is cleaned, which is all that cleaning its whole cell first would do: a single column is split raw."""
        raw = single_raw(name)
        if raw is None:
            return split_multi(accepted(column(name)))
        if _mostly_distinct(raw):
            return split_multi(accepted(raw))
        encoded = pc.dictionary_encode(raw, null_encoding="encode")
        return _split_distinct(encoded.dictionary, accepted(encoded.indices))

    # Columns no check reads are built for the accepted rows only: filtering their lists afterwards costs more.
    kinds = accepted(kinds)
    type_from_text, _ = _parse_distinct(*accepted_cells("patent_type"), nz.patent_type_from_text, pa.string())
    type_from_kind, _ = by_distinct_value(kinds, _type_of_kind, pa.string())
    statuses, status_rows = accepted_cells("legal_status")
    columns = {
        "publication_number": accepted(numbers),
        "application_number": accepted(applications),
        "kind": kinds,
        "patent_type": pc.coalesce(type_from_text, type_from_kind),
        "title": accepted(column("title")),
        "abstract": accepted(column("abstract")),
        "claims": accepted(column("claims")),
        "application_date": accepted(application_dates),
        "publication_date": accepted(pc.coalesce(published, granted)),
        "grant_date": accepted(granted),
        "ipc": _joined_codes(*ipc, keep),
        "cpc": _joined_codes(*cpc, keep),
        "applicants": name_lists("applicants"),
        "applicant_addresses": name_lists("applicant_addresses"),
        "inventors": name_lists("inventors"),
        "cited_publications": cited.lists.take(pa.array(cited.rows[keep])),  # one take, no filter after
        "claims_count": accepted(claims),
        "legal_status": statuses.take(status_rows),
        "source_file": pa.repeat(pa.scalar(source_file, pa.string()), int(keep.sum())),
        "source_position": pa.array(positions[keep], pa.int64()),
    }
    return pa.RecordBatch.from_arrays([columns[f.name] for f in SCHEMA], schema=SCHEMA), rejections


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
    Unicode in the tests); only short cells can be placeholders, and they are nulled through
    the validity bitmap, leaving the text buffers as they are.
    """
    trimmed = pc.utf8_trim_whitespace(values.cast(pa.string()))
    length = len(trimmed)
    offsets = np.frombuffer(trimmed.buffers()[1], dtype=np.int32)[trimmed.offset:trimmed.offset + length + 1]
    short = np.flatnonzero(np.diff(offsets) <= _MARKER_BYTES)
    if not len(short):
        return trimmed
    marker = pc.is_in(trimmed.take(pa.array(short)), value_set=_MARKER_SPELLINGS)
    marked = short[marker.to_numpy(zero_copy_only=False)]
    if not len(marked):
        return trimmed
    valid = trimmed.is_valid().to_numpy(zero_copy_only=False) if trimmed.null_count else np.ones(length, dtype=bool)
    valid[marked] = False
    if trimmed.offset:
        return pc.if_else(pa.array(valid), trimmed, pa.scalar(None, pa.string()))
    return pa.Array.from_buffers(pa.string(), length, [pa.array(valid).buffers()[1], *trimmed.buffers()[1:]])


_MEMO_LIMIT = 200_000  # distinct values remembered per parser; beyond that, the memory starts again


@dataclass
class _Memo:
    """What a parser made of each value seen so far, as Arrow arrays (looked up with `index_in`)."""

    values: pa.Array
    results: pa.Array
    reasons: pa.Array


_memos: dict[Callable, _Memo] = {}


def by_distinct_value(values: pa.Array, parse: Callable, out_type: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """`parse` applied once per distinct value (null included): the parsed column and the reasons.

    Results are remembered across batches (dates, codes and types repeat throughout a file), so a
    batch only calls `parse` for values no earlier batch had.
    """
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    return _parse_distinct(encoded.dictionary, encoded.indices, parse, out_type)


def _parse_distinct(distinct: pa.Array, rows: pa.Array, parse: Callable, out_type: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """`by_distinct_value` of the column whose row i holds `distinct[rows[i]]` (`distinct` may repeat a value)."""
    memo = _memos.get(parse)
    if memo is None or memo.results.type != out_type or len(memo.values) > _MEMO_LIMIT:
        memo = _memos[parse] = _Memo(pa.array([], pa.string()), pa.array([], out_type), pa.array([], pa.string()))
    where = pc.index_in(distinct, value_set=memo.values)
    if where.null_count:
        new = list(dict.fromkeys(distinct.filter(pc.is_null(where)).to_pylist()))
        fast = _FAST_PARSERS.get(parse)
        known = fast(new) if fast else {}
        results, reasons = [], []
        for value in new:
            if value in known:
                results.append(known[value])
                reasons.append(None)
                continue
            try:
                results.append(parse(value))
                reasons.append(None)
            except ValueError as exc:
                results.append(None)
                reasons.append(str(exc))
        memo.values = pa.concat_arrays([memo.values, pa.array(new, pa.string())])
        memo.results = pa.concat_arrays([memo.results, pa.array(results, out_type)])
        memo.reasons = pa.concat_arrays([memo.reasons, pa.array(reasons, pa.string())])
        where = pc.index_in(distinct, value_set=memo.values)
    # Looked up per distinct value, then spread over the rows; most columns have no reason at all.
    reasons = memo.reasons.take(where)
    if reasons.null_count == len(reasons):
        return memo.results.take(where).take(rows), pa.nulls(len(rows), pa.string())
    return memo.results.take(where).take(rows), reasons.take(rows)


def _plain_dates(values: list[str | None]) -> dict[str, dt.date]:
    """`normalize.parse_date` of the values spelled `2021-03-05`, `2021.03.05`, `2021/03/05` or `20210305`
    (ASCII digits) that are real dates, computed together; the parser sees every other value."""
    cells = np.array([v if v is not None and len(v) in (8, 10) and v.isascii() and "\0" not in v else ""
                      for v in values], dtype="S10")
    if not len(cells):
        return {}
    chars = cells.view(np.uint8).reshape(len(cells), 10)
    digits = (chars >= ord("0")) & (chars <= ord("9"))
    separators = np.isin(chars[:, [4, 7]], np.frombuffer(b"-./", np.uint8)).all(axis=1)
    spaced = separators & digits[:, [0, 1, 2, 3, 5, 6, 8, 9]].all(axis=1)
    packed = digits[:, :8].all(axis=1) & (chars[:, 8] == 0)  # S10 pads an 8-character value with NUL bytes
    numbers = (chars - ord("0")).astype(np.int64)
    def number(columns: list[int]) -> np.ndarray:
        return sum(numbers[:, c] * 10 ** (len(columns) - 1 - i) for i, c in enumerate(columns))
    year = number([0, 1, 2, 3])
    month = np.where(packed, number([4, 5]), number([5, 6]))
    day = np.where(packed, number([6, 7]), number([8, 9]))
    plain = (spaced | packed) & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    months = np.where(plain, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    first_days = months.astype("datetime64[D]")
    real = plain & (day <= ((months + 1).astype("datetime64[D]") - first_days).astype(np.int64))
    dates = (first_days + np.where(real, day - 1, 0)).astype(dt.date)
    return {values[i]: dates[i] for i in np.flatnonzero(real)}


_FAST_PARSERS: dict[Callable, Callable[[list], dict]] = {nz.parse_date: _plain_dates}


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


def publication_numbers(values: pa.Array, with_kinds: bool = True) -> tuple[pa.Array, pa.Array | None, pa.Array]:
    """Cleaned publication numbers → (number, kind, reason); numbers already in canonical form pass as they are.

    `with_kinds=False` (a caller keeping only the numbers) gives None for the kinds.
    """
    ready = _matches(values, _CANONICAL_PUBLICATION)
    us = pc.starts_with(values, "US")
    if pc.any(us).as_py():  # zero-padded US grant numbers are not canonical
        ready = pc.and_(ready, pc.invert(pc.fill_null(pc.match_substring_regex(values, "^US[A-Z]{0,2}0"), False)))
    if pc.all(ready).as_py():
        return values, _kind_suffix(values) if with_kinds else None, pa.nulls(len(values), pa.string())
    rest = pc.invert(ready)
    numbers, reasons = fast_or_exact(values.filter(rest), _fast_publication, nz.publication_number,
                                     pa.struct([("number", pa.string()), ("kind", pa.string())]))
    # the struct holds (number, kind); the parser returns a tuple, Arrow takes it positionally
    done = values.filter(ready)
    mask = rest.to_numpy(zero_copy_only=False)
    kinds = _scatter(_kind_suffix(done), pc.struct_field(numbers, 1), mask) if with_kinds else None
    return (_scatter(done, pc.struct_field(numbers, 0), mask), kinds,
            _scatter(pa.nulls(len(done), pa.string()), reasons, mask))


def application_numbers(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Cleaned application numbers → (number, reason); `[CN]202110123456.7` pass with the CN prefix."""
    ready = _matches(values, _CANONICAL_CN_APPLICATION)
    if pc.all(ready).as_py():
        return _with_cn(values), pa.nulls(len(values), pa.string())
    rest = pc.invert(ready)
    numbers, reasons = fast_or_exact(values.filter(rest), _fast_application_number, nz.application_number, pa.string())
    mask = rest.to_numpy(zero_copy_only=False)
    done = values.filter(ready)
    return _scatter(_with_cn(done), numbers, mask), _scatter(pa.nulls(len(done), pa.string()), reasons, mask)


def classification_lists(values: pa.Array, drop_repeats: bool = True) -> tuple[pa.Array, pa.Array]:
    """`normalize.classification_codes` over a cleaned column: (code lists, reasons).

    Cells that are already lists of canonical codes joined by `;` (`G06N3/08;G06F17/30`, as the
    PatentsView reader and many exports write them) are split by Arrow; only the others go to the
    per-value parser, whose memo cannot help when nearly every patent's combination of codes is new.
    `drop_repeats=False` leaves a repeated canonical code in its list, for a caller that drops
    repeats itself later (it costs as much as the split).
    """
    cells = _distinct_codes(values, drop_repeats)
    return cells.per_row(cells.lists), cells.per_row(cells.reasons)


@dataclass
class _Distinct:
    """Results per distinct cell of a column, and which distinct cell each row holds."""

    rows: np.ndarray
    lists: pa.Array
    reasons: pa.Array

    def per_row(self, values: pa.Array) -> pa.Array:
        if values.null_count == len(values):
            return pa.nulls(len(self.rows), values.type)
        return values.take(pa.array(self.rows))


def _distinct_codes(values: pa.Array, drop_repeats: bool) -> _Distinct:
    """`classification_lists` per distinct cell: exports repeat a main class on thousands of rows."""
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    return _codes_of_distinct(encoded.dictionary, encoded.indices.to_numpy(), drop_repeats)


def _codes_of_distinct(distinct: pa.Array, rows: np.ndarray, drop_repeats: bool) -> _Distinct:
    ready = _matches(distinct, _CANONICAL_CODES)
    if pc.all(ready).as_py():
        return _Distinct(rows, _split_codes(distinct, drop_repeats), pa.nulls(len(distinct), pa.string()))
    rest = pc.invert(ready)
    parsed, reasons = by_distinct_value(distinct.filter(rest), nz.classification_codes, _STRS)
    mask = rest.to_numpy(zero_copy_only=False)
    done = _split_codes(distinct.filter(ready), drop_repeats)
    return _Distinct(rows, _scatter(done, parsed, mask), _scatter(pa.nulls(len(done), pa.string()), reasons, mask))


def _joined_codes(main: _Distinct, full: _Distinct, keep: np.ndarray) -> pa.Array:
    """The kept rows' main class then full list, repeats dropped: built once per distinct pair of cells."""
    pairs = main.rows[keep].astype(np.int64) * len(full.lists) + full.rows[keep]
    distinct, rows = np.unique(pairs, return_inverse=True)
    joined = _concat_lists(main.lists.take(pa.array(distinct // len(full.lists))),
                           full.lists.take(pa.array(distinct % len(full.lists))))
    return _dedupe_lists(joined).take(pa.array(rows))


def _split_codes(values: pa.Array, drop_repeats: bool) -> pa.Array:
    """Canonical code lists split on `;`; a null cell gives []."""
    parts = pc.split_pattern(values, ";")
    if parts.null_count:
        parts = _rebuild_lists(len(values), pc.list_parent_indices(parts), pc.list_flatten(parts))
    return _dedupe_lists(parts) if drop_repeats else parts


def _matches(values: pa.Array, pattern: str) -> pa.Array:
    """Rows matching `pattern`; null rows count as matching (they pass through as null)."""
    return pc.fill_null(pc.match_substring_regex(values, pattern), True)


def _kind_suffix(numbers: pa.Array) -> pa.Array:
    """The kind of a canonical number: a final letter, or a letter and digit (a number ends in 3+ digits)."""
    last, last_two = pc.utf8_slice_codeunits(numbers, -1), pc.utf8_slice_codeunits(numbers, -2)
    lettered = pc.utf8_is_alpha(pc.utf8_slice_codeunits(last_two, 0, 1))
    return pc.if_else(pc.utf8_is_alpha(last), last, pc.if_else(lettered, last_two, pa.scalar(None, pa.string())))


def _with_cn(numbers: pa.Array) -> pa.Array:
    return pc.if_else(pc.starts_with(numbers, "CN"), numbers, pc.utf8_replace_slice(numbers, 0, 0, "CN"))


def split_multi(values: pa.Array) -> pa.Array:
    """`normalize.split_multi` over a column, cleaned or not: lists split on `;` `；` newline `|`, never commas.

    Names repeat down a file, so each distinct cell is split once; a column whose cells are nearly
    all different (inventors) is split as it is, as the dictionary would cost more than it saves.
    """
    if _mostly_distinct(values):
        parts = _split(values, _LIST_SEPARATORS)
        return _rebuild_lists(len(values), pc.list_parent_indices(parts), clean(pc.list_flatten(parts)))
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    return _split_distinct(encoded.dictionary, encoded.indices)


def _split_distinct(distinct: pa.Array, rows: pa.Array) -> pa.Array:
    """`split_multi` of the column whose row i holds `distinct[rows[i]]`."""
    parts = _split(distinct, _LIST_SEPARATORS)
    items = clean(pc.list_flatten(parts))
    return _rebuild_lists(len(distinct), pc.list_parent_indices(parts), items).take(rows)


_SAMPLE_ROWS = 256


def _mostly_distinct(values: pa.Array) -> bool:
    """Whether nine in ten of the first rows differ from each other (only decides how to split, never what)."""
    sample = values.slice(0, _SAMPLE_ROWS)
    return pc.count_distinct(sample, mode="all").as_py() > 0.9 * len(sample)


def citations(distinct: pa.Array, rows: pa.Array) -> _Distinct:
    """`normalize.publication_list` over the column (cleaned or not) whose row i holds `distinct[rows[i]]`:
    normalised lists and the first bad token's reason, per distinct cell."""
    parts = _split(distinct, _CITATION_SEPARATORS)
    parents = pc.list_parent_indices(parts)
    numbers, _, reasons = publication_numbers(clean(pc.list_flatten(parts)), with_kinds=False)
    row_reasons = np.full(len(distinct), None, dtype=object)
    bad = pc.indices_nonzero(pc.is_valid(reasons)).to_numpy()
    parent_of = parents.to_numpy()
    for index in bad[::-1]:  # the first bad token of a row wins
        row_reasons[parent_of[index]] = reasons[int(index)].as_py()
    lists = _dedupe_lists(_rebuild_lists(len(distinct), parents, numbers))
    return _Distinct(rows.to_numpy(), lists, pa.array(row_reasons, pa.string()))


def _split(values: pa.Array, separators: tuple[str, ...]) -> pa.Array:
    """Cells split on `;` and on each of `separators` (in order: `\r\n` before `\n`)."""
    data = values.buffers()[2]
    text = data.to_pybytes() if data is not None else b""
    present = [s for s in separators if s.encode() in text]  # a bytes search is far cheaper than a replace
    if len(present) == 1 and b";" not in text:  # one separator, used as it is: no replace pass
        return pc.split_pattern(values, present[0])
    for separator in present:
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
    """Drop repeats within each list, keeping each item's first place.

    Lists are short: each item is compared with the items 1, 2, … places before it in its list,
    as long as any list is that long (cheaper than sorting all items by list and value).
    """
    items = pc.list_flatten(lists)
    if not len(items):
        return lists
    parents = pc.list_parent_indices(lists).to_numpy()
    codes = pc.dictionary_encode(items).indices.to_numpy()
    index = np.arange(len(items))
    opens = np.empty(len(items), dtype=bool)  # an item opening its list (a list's items are side by side)
    opens[0], opens[1:] = True, parents[1:] != parents[:-1]
    place = index - np.maximum.accumulate(np.where(opens, index, 0))  # each item's place in its list
    repeat = np.zeros(len(items), dtype=bool)
    later, back = np.flatnonzero(place >= 1), 1
    while len(later):
        repeat[later] |= codes[later] == codes[later - back]
        back += 1
        later = later[place[later] >= back]
    if not repeat.any():
        return lists
    keep = ~repeat
    return _rebuild_lists(len(lists), pa.array(parents[keep]), items.filter(pa.array(keep)))


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
