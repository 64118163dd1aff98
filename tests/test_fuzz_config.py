"""The graph layer's own file parsers under arbitrary input: the scorecard, the branch territory file and a
saved query's header. Each either reads the file or raises a ValueError whose message names the file."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.catalog import parse_query_file
from graph.export import load_branches
from graph.ranking.scorecard import DIMENSIONS, load_scorecard

FUZZ = settings(max_examples=150, deadline=None)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12))
# Keys the files really have, so generated structures reach past the top level into validation.
KEYS = st.one_of(st.sampled_from([*DIMENSIONS, "dimensions", "weight", "features", "tiers", "A", "B", "C",
                                  "eligibility", "size_bands", "min_patents_in_node", "recent_years", "branches",
                                  "广东省", "广东省/深圳市", "recent_filings", "pagerank", "alpha"]),
                 st.text(max_size=8))
TREES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                     max_leaves=25)
FILES = st.one_of(st.binary(max_size=300), TREES.map(lambda tree: yaml.safe_dump(tree, allow_unicode=True).encode()))


def read_or_name_the_file(read, suffix: str, content: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(content)
        try:
            return read(path)
        except ValueError as exc:
            assert str(path) in str(exc), (content, str(exc))
            return None


@FUZZ
@given(FILES)
def test_a_scorecard_file_is_read_or_refused_naming_the_file(content):
    scorecard = read_or_name_the_file(load_scorecard, ".yaml", content)
    if scorecard is not None:  # every number it accepted can take part in a weighted mean
        numbers = [v for v in pd.json_normalize(scorecard.model_dump()).iloc[0] if isinstance(v, float)]
        assert all(math.isfinite(v) for v in numbers), scorecard


@FUZZ
@given(FILES)
def test_a_branch_file_is_read_or_refused_naming_the_file(content):
    branches = read_or_name_the_file(load_branches, ".yaml", content)
    if branches is not None:
        assert all(name in branches.names for name in [*branches.by_city.values(), *branches.by_province.values()])


HEADER_LINES = st.sampled_from([
    "// name: input", "// description: d", "// param limit: int = 20 -- at most", "// param k: string = \"a\" -- k",
    "// param x: float = nope -- x", "// param", "// name:", "//", "MATCH (n) RETURN n", "", "// param y: list = [] -- y",
])


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.lists(HEADER_LINES | st.text(max_size=30), max_size=8).map(
    lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))))
def test_a_saved_query_file_is_parsed_or_refused_naming_the_file(content):
    query = read_or_name_the_file(parse_query_file, ".cypher", content)
    if query is not None:
        assert query.name == "input" and query.description and query.cypher
