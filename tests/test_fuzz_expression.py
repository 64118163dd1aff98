"""The search-expression language under arbitrary text: an Expression, or an ExpressionError with a column."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from industry_chains import Expression, ExpressionError, parse_expression
from industry_chains.expression import MAX_DEPTH

FUZZ = settings(max_examples=300, deadline=None)
# Pieces of the language, so random sequences reach past the first token into the grammar's corners.
TOKENS = st.sampled_from([
    "ipc:", "cpc:", "cls:", "ti:", "ab:", "tiab:", "cl:", "xx:", "G06N", "G06N3", "G06N3/08", "A61K31/33..31/80",
    "H04W..H04B", "G06F*", "*", "/", "..", "-", "(", ")", "AND", "OR", "NOT", "and", '"neural network"', '"', "神经网络",
    "芯片*", "\\", ":", "  ", "\t", "\n", "9" * 12, "Ｇ０６Ｎ", "ti:\"", "\u200b", "\x00",
])  # fmt: skip


def check(text: str) -> None:
    try:
        expression = parse_expression(text)
    except ExpressionError as exc:
        assert 1 <= exc.column <= max(1, len(text) + 1), (text, exc.column)
        assert str(exc).startswith(f"column {exc.column}: ")
        return
    assert isinstance(expression, Expression) and expression.text == text
    assert expression.clauses()  # a parsed expression always tests something
    repr(expression)  # deep trees must still print (they are logged and shown in errors)


@FUZZ
@given(st.text(max_size=200))
def test_arbitrary_text_parses_or_names_a_column(text):
    check(text)


@FUZZ
@given(st.lists(TOKENS, max_size=25).map(" ".join))
def test_token_soup_parses_or_names_a_column(text):
    check(text)


@pytest.mark.parametrize("text", [
    "NOT " * 5000 + "ti:a",
    "(" * 5000 + "ti:a" + ")" * 5000,
    "(ti:a AND " * 400 + "ti:b" + ")" * 400,
    " OR ".join(["ti:a"] * 20000),
    'ti:"' + "x" * 1_000_000 + '"',
    "ipc:G06N" + "9" * 5000 + "/1",
])  # fmt: skip
def test_pathological_expressions_are_refused_or_parsed_without_a_crash(text):
    check(text)


def test_nesting_is_refused_past_the_limit_with_the_column_of_the_deepest_clause():
    assert parse_expression("NOT " * MAX_DEPTH + "ti:a").clauses()
    with pytest.raises(ExpressionError, match="nested more than") as caught:
        parse_expression("NOT " * (MAX_DEPTH + 1) + "ti:a")
    assert caught.value.column == 4 * (MAX_DEPTH + 1) + 1
