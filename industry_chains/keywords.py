"""Find many keywords in a text column in one pass (the Aho–Corasick role, done with RE2 in Arrow).

All keyword patterns of a column are joined into one alternation; one `replace_substring_regex`
pass wraps every match in marker characters, and the marked spans are read back as
(row, matched text) pairs. One pass reports non-overlapping, longest-first matches only, so a
keyword that can overlap another one (contained in it, sharing a suffix/prefix, or the same
phrase with another word-boundary rule) is re-checked exactly, but only on the rows where one of
those overlapping keywords was reported — the only rows where it can have been hidden.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_OPEN, _CLOSE = "\x01", "\x02"
_BATCH_ROWS = 131_072  # bounds the size of the marked copy of the text
_GROUP_SIZE = 256  # alternatives per pass: keeps each RE2 program well under its memory limit


@dataclass(frozen=True)
class Keyword:
    """One keyword as the scanner needs it (from KeywordClause.pattern / .phrase)."""

    pattern: str
    is_regex: bool
    phrase: str  # normalised text the pattern matches, single-spaced

    @property
    def regex(self) -> str:
        return self.pattern if self.is_regex else re.escape(self.pattern)


def find_keywords(texts: pa.ChunkedArray, keywords: list[Keyword]) -> dict[Keyword, np.ndarray]:
    """Row numbers of `texts` (already normalised) that contain each keyword, sorted, unique."""
    ordered = sorted(set(keywords), key=lambda k: (-len(k.phrase), k.pattern))
    groups = [ordered[start : start + _GROUP_SIZE] for start in range(0, len(ordered), _GROUP_SIZE)]
    jobs = [(offset, batch, group) for offset, batch in _batches(texts) for group in groups]
    found: dict[Keyword, list[np.ndarray]] = {keyword: [] for keyword in ordered}
    # Arrow compute releases the GIL, so batches scan in parallel
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for offset, masks in pool.map(lambda job: (job[0], _scan(job[1], job[2])), jobs):
            for keyword, mask in masks.items():
                found[keyword].append(np.flatnonzero(mask) + offset)
    return {keyword: np.concatenate(found[keyword]) if found[keyword] else np.empty(0, np.int64)
            for keyword in keywords}


def _batches(texts: pa.ChunkedArray):
    offset = 0
    for chunk in texts.chunks:
        for start in range(0, len(chunk), _BATCH_ROWS):
            yield offset + start, chunk.slice(start, _BATCH_ROWS)
        offset += len(chunk)


def _scan(batch: pa.Array, group: list[Keyword]) -> dict[Keyword, np.ndarray]:
    """Boolean row mask of `batch` per keyword of `group`."""
    # Reported rows per phrase go to the least constrained keyword of that phrase (a `word*` prefix
    # form is satisfied whenever the bounded form is); the others are re-checked below.
    by_phrase: dict[str, Keyword] = {}
    for keyword in group:
        current = by_phrase.get(keyword.phrase)
        if current is None or not _ends_bounded(keyword):
            by_phrase[keyword.phrase] = keyword
    rows_by_phrase = _reported(batch, group, list(by_phrase))
    reported = [k for k in group if by_phrase[k.phrase] is k and k.phrase in rows_by_phrase]
    result = {}
    for hidden in group:
        mask = np.zeros(len(batch), dtype=bool)
        candidates = np.zeros(len(batch), dtype=bool)
        for other in reported:
            if other is hidden or _surely_contains(other, hidden):
                mask[rows_by_phrase[other.phrase]] = True
            elif _can_hide(other, hidden):
                candidates[rows_by_phrase[other.phrase]] = True
        rows = np.flatnonzero(candidates & ~mask)
        if len(rows):
            search = pc.match_substring_regex if hidden.is_regex else pc.match_substring
            hits = search(batch.take(pa.array(rows)), hidden.pattern).fill_null(False).to_numpy(zero_copy_only=False)
            mask[rows[hits]] = True
        result[hidden] = mask
    return result


def _reported(batch: pa.Array, group: list[Keyword], phrases: list[str]) -> dict[str, np.ndarray]:
    """Rows where the one-pass scan reported each phrase."""
    marked = pc.replace_substring_regex(batch, "|".join(k.regex for k in group), _OPEN + r"\0" + _CLOSE)
    pieces = pc.split_pattern(marked, _OPEN)
    flat = pc.list_flatten(pieces)
    parents = pc.list_parent_indices(pieces).to_numpy()
    offsets = pieces.offsets.to_numpy()
    starts = offsets[:-1] - offsets[0]
    after_marker = np.arange(len(flat)) - starts[parents] > 0  # the text before the first marker is not a match
    spans = pc.list_element(pc.split_pattern(flat.filter(pa.array(after_marker)), _CLOSE, max_splits=1), 0)
    spans = pc.replace_substring_regex(spans, r"\s+", " ")
    ids = pc.index_in(spans, value_set=pa.array(phrases, pa.string())).fill_null(-1).to_numpy()
    rows = parents[after_marker]
    ids, rows = ids[ids >= 0], rows[ids >= 0]
    order = np.argsort(ids, kind="stable")
    ids, rows = ids[order], rows[order]
    bounds = np.searchsorted(ids, np.arange(len(phrases) + 1))
    return {phrase: rows[bounds[i] : bounds[i + 1]] for i, phrase in enumerate(phrases)
            if bounds[i + 1] > bounds[i]}


def _ends_bounded(keyword: Keyword) -> bool:
    return keyword.is_regex and keyword.pattern.endswith(r"\b")


def _surely_contains(reported: Keyword, hidden: Keyword) -> bool:
    """Does every text matching `reported` also match `hidden` (inside the reported span)?"""
    if not re.search(hidden.regex, reported.phrase, re.ASCII):
        return False
    # a `word*` keyword's span may continue with letters, which can break `hidden`'s end boundary
    open_end = not _ends_bounded(reported) and reported.phrase[-1:].isascii() and reported.phrase[-1:].isalnum()
    return not open_end or bool(re.search(hidden.regex, reported.phrase + "x", re.ASCII))


def _can_hide(reported: Keyword, hidden: Keyword) -> bool:
    """Can a reported match of `reported` cover the start of an occurrence of `hidden`?"""
    a, b = reported.phrase, hidden.phrase
    if a == b or b in a:
        return True
    pattern = re.compile(hidden.regex, re.ASCII)
    # `hidden` starting k characters before the end of `reported`'s span, word boundaries included
    return any(a.endswith(b[:k]) and pattern.match(a + b[k:], len(a) - k)
               for k in range(1, min(len(a), len(b))))
