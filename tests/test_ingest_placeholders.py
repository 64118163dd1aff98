"""`columnar.clean` finds placeholders (`NaN`, `N/A`, `无` …) without lowercasing the column."""

from __future__ import annotations

import pyarrow as pa

from ingest import columnar
from ingest import normalize as nz


def test_placeholders_are_found_in_every_spelling_lower_maps_to_them():
    """`columnar.clean` looks placeholders up without lowercasing: no other character lowercases to their letters."""
    in_markers = set("".join(nz.EMPTY_MARKERS))
    lowered_into_markers = [chr(c) for c in range(0x110000) if chr(c).lower() != chr(c) and set(chr(c).lower()) & in_markers]
    assert lowered_into_markers == sorted({c.upper() for c in in_markers if c.upper() != c})  # their capitals only
    cells = ["NaN", "N/A", "nULL", "None", "—", "暂无", "无", " - ", "n.a", "nan1", "无效", "Ｎａｎ",
             "暂停", "nab", "—x", "-1", "na", None, "", " "]
    assert columnar.clean(pa.array(cells)).to_pylist() == [nz.clean(c) for c in cells]
