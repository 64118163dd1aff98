"""The search-expression language: precedence, clauses, code semantics and error columns."""

from __future__ import annotations

import pytest

from industry_chains import ExpressionError, parse_expression
from industry_chains.expression import And, CodeClause, KeywordClause, Not, Or, code_key


def code_matches(expression: str, code: str) -> bool:
    """Does the single code clause `expression` accept a patent holding `code`?"""
    clause = parse_expression(expression).root
    assert isinstance(clause, CodeClause)
    key = code_key(code)
    return key is not None and clause.low <= key <= clause.high


def shape(node) -> str:
    """The tree as a bracketed string of clause texts, to assert precedence."""
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(shape(child) for child in node.children) + ")"
    if isinstance(node, Not):
        return f"NOT {shape(node.child)}"
    return node.text


def test_not_binds_tighter_than_and_which_binds_tighter_than_or():
    root = parse_expression("ipc:A61K OR ipc:G06N AND NOT ti:robot").root
    assert shape(root) == "(ipc:A61K OR (ipc:G06N AND NOT ti:robot))"


def test_parentheses_override_precedence_and_operators_are_case_insensitive():
    root = parse_expression("(ipc:A61K or ipc:G06N) and not (ti:robot OR ab:arm)").root
    assert shape(root) == "((ipc:A61K OR ipc:G06N) AND NOT (ti:robot OR ab:arm))"


def test_quoted_keywords_in_chinese_and_english():
    expression = parse_expression('ti:"Neural Network" OR ab:"神经网络" OR tiab:"ＡＩ芯片" OR cl:"deep learn*"')
    clauses = expression.clauses()
    assert [(c.fields, c.phrase, c.prefix) for c in clauses] == [
        (("title",), "neural network", False),
        (("abstract",), "神经网络", False),
        (("title", "abstract"), "ai芯片", False),  # full-width letters folded, lower-cased
        (("claims",), "deep learn", True),
    ]
    assert [c.text for c in clauses] == ['ti:"Neural Network"', 'ab:"神经网络"', 'tiab:"ＡＩ芯片"', 'cl:"deep learn*"']


def test_keyword_patterns_bound_latin_words_but_not_chinese():
    english, chinese, prefix = parse_expression('ti:"neural network" OR ti:"神经网络" OR ti:"learn*"').clauses()
    assert english.pattern() == (r"\bneural\s+network\b", True)
    assert chinese.pattern() == ("神经网络", False)
    assert prefix.pattern() == (r"\blearn", True)


def test_group_does_not_match_a_longer_group_number():
    assert code_matches("ipc:G06N3", "G06N3/08")
    assert code_matches("ipc:G06N3/*", "G06N3/0464")
    assert not code_matches("ipc:G06N3", "G06N31/00")
    assert not code_matches("ipc:G06N3/*", "G06N31/00")


def test_subgroup_matches_its_string_children_only():
    assert code_matches("ipc:G06N3/08", "G06N3/08")
    assert code_matches("ipc:G06N3/08", "G06N3/084")
    assert code_matches("ipc:G06N3/08", "G06N3/0895")
    assert not code_matches("ipc:G06N3/08", "G06N3/8")
    assert not code_matches("ipc:G06N3/08", "G06N3/063")
    assert not code_matches("ipc:G06N3/08", "G06N3")


def test_subclass_class_and_section_patterns():
    assert code_matches("ipc:G06N", "G06N20/00") and not code_matches("ipc:G06N", "G06F40/20")
    assert code_matches("ipc:G06", "G06F40/20") and not code_matches("ipc:G06", "G07C9/00")
    assert code_matches("ipc:H", "H04W72/04") and not code_matches("ipc:H", "G06N3/08")
    assert code_matches("cpc:h04w72", "H04W72/0446")


def test_ranges_are_inclusive_and_keep_the_end_subgroups_children():
    for text in ("ipc:A61K31/33-31/80", "ipc:A61K31/33..31/80", "ipc:A61K31/33..A61K31/80"):
        assert code_matches(text, "A61K31/33")
        assert code_matches(text, "A61K31/335")
        assert code_matches(text, "A61K31/4")  # 31/4 = 31/40, inside the range
        assert code_matches(text, "A61K31/80")
        assert code_matches(text, "A61K31/805")
        assert not code_matches(text, "A61K31/32")
        assert not code_matches(text, "A61K31/81")
        assert not code_matches(text, "A61K33/00")


def test_ranges_across_groups():
    assert code_matches("ipc:G05B19/04..19/46", "G05B19/418")
    assert not code_matches("ipc:G05B19/04..19/46", "G05B19/02")
    assert code_matches("ipc:H04W72..76", "H04W74/08")
    assert not code_matches("ipc:H04W72..76", "H04W80/00")


def test_spaced_codes_are_read_like_unspaced_ones():
    assert parse_expression("ipc:G06N 3/08").root.low == parse_expression("ipc:G06N3/08").root.low


def test_cls_field_covers_both_schemes():
    clause = parse_expression("cls:B25J9/16").root
    assert isinstance(clause, CodeClause) and clause.scheme == "cls"


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("ipc:G06N3 AND ", 14, "unexpected end of expression"),
        ("ipc:G06N3 ipc:G06N4", 11, "expected"),
        ("(ipc:G06N", 10, "expected ')'"),
        ("ipc:G06N3/", 11, "group or subgroup number"),
        ('ti:"neural" AND title:"x"', 17, "unknown field 'title'"),
        ('ipc:G06N AND ti:""', 17, "empty keyword"),
        ("ipc:G063/08", 5, "'G06' is not a subclass"),
        ("ipc:G06N12345", 9, "more than 4 digits"),
        ("ipc:G06N31/80..31/33", 16, "ends before it starts"),
        ("ipc:A61K31/33..A61P31/80", 16, "one subclass"),
        ("ipc:G06N AND OR ipc:G06F", 14, "unexpected 'OR'"),
        ("   ", 1, "empty expression"),
    ],
)
def test_errors_name_the_column(text, column, fragment):
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text)
    assert caught.value.column == column
    assert fragment in str(caught.value)
    assert str(caught.value).startswith(f"column {column}: ")


def test_clause_leaves_are_listed_in_source_order():
    expression = parse_expression("ipc:A OR (cpc:B01D AND NOT ti:x) OR ab:y".replace("ipc:A", "ipc:A61K"))
    assert [c.text for c in expression.clauses()] == ["ipc:A61K", "cpc:B01D", "ti:x", "ab:y"]
    assert isinstance(expression.clauses()[3], KeywordClause)
