"""The patent search-expression language: IPC/CPC code clauses and keyword clauses joined by
NOT / AND / OR (tightest first) and parentheses. Grammar and semantics: docs/chains.md.

Code clauses are compiled to an inclusive interval of *code keys* (see `code_key`): every code
pattern — subclass, group, subgroup prefix, range — is one contiguous interval in sorted key
order, so the classifier answers a clause with two binary searches.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from industry_chains.errors import ExpressionError

GRAMMAR = r"""
start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr  -> negation
         | atom
?atom: code_clause
     | text_clause
     | "(" or_expr ")"

code_clause: CODE_FIELD ":" code_spec
code_spec: code_point STAR?              -> prefix
         | code_point _RANGE code_end    -> range
code_point: SYMBOL (NUMBER ("/" (NUMBER | STAR))?)?
code_end: SYMBOL? NUMBER ("/" NUMBER)?

text_clause: TEXT_FIELD ":" (STRING | WORD)

_OR.2: /OR\b/i
_AND.2: /AND\b/i
_NOT.2: /NOT\b/i
CODE_FIELD.1: /(ipc|cpc|cls)(?=\s*:)/i
TEXT_FIELD: /[a-z]+(?=\s*:)/i
SYMBOL: /[A-HY](\d\d[A-Z]?)?/i
NUMBER: /\d+/
STAR: "*"
_RANGE: ".." | "-"
STRING: /"(?:[^"\\]|\\.)*"/
WORD: /[^\s()"]+/

%import common.WS
%ignore WS
"""

TEXT_FIELDS = {"ti": ("title",), "ab": ("abstract",), "tiab": ("title", "abstract"), "cl": ("claims",)}
_KEY_HIGH = "~"  # sorts after every digit and capital letter, so "G06N~" bounds all G06N keys
_GROUP_WIDTH = 4
_SUBGROUP_WIDTH = 6
_STORED_CODE = re.compile(r"([A-HY])(?:(\d\d)([A-Z])?)?(?:(\d{1,4})(?:/(\d{1,6}))?)?")
_TERMINAL_NAMES = {
    "CODE_FIELD": "ipc:, cpc: or cls:",
    "TEXT_FIELD": "a keyword field (ti:, ab:, tiab:, cl:)",
    "SYMBOL": "an IPC/CPC symbol such as G06N",
    "NUMBER": "a group or subgroup number",
    "STAR": "'*'",
    "SLASH": "'/'",
    "_RANGE": "'..' (range)",
    "STRING": 'a quoted keyword such as "neural network"',
    "WORD": "a keyword",
    "LPAR": "'('",
    "RPAR": "')'",
    "COLON": "':'",
    "_AND": "AND",
    "_OR": "OR",
    "_NOT": "NOT",
    "$END": "end of expression",
}


def code_key(code: str) -> str | None:
    """The sortable key of a stored code such as "G06N3/08" (None when it is not a code).

    Key = symbol + group padded to 4 digits + subgroup right-padded with zeros to 6 digits, so
    G06N3 never collides with G06N31, and a subgroup's string children (3/08 → 3/084) sort
    directly after it, as the decimal reading of IPC subgroups requires (3/08 = 3/080).
    """
    found = _STORED_CODE.fullmatch(code.replace(" ", "").upper())
    if not found:
        return None
    section, klass, subclass, group, subgroup = found.groups()
    if group is not None and subclass is None:
        return None
    key = section + (klass or "") + (subclass or "")
    if group is not None:
        key += group.zfill(_GROUP_WIDTH)
        if subgroup is not None:
            key += subgroup.ljust(_SUBGROUP_WIDTH, "0")
    return key


@dataclass(frozen=True)
class CodeClause:
    """Patent has a code of `scheme` whose key lies in [low, high]."""

    scheme: str  # "ipc", "cpc", or "cls" (either: CPC refines IPC, so IPC patterns hold in CPC lists)
    low: str
    high: str
    text: str


@dataclass(frozen=True)
class KeywordClause:
    """Phrase occurs in one of `fields` (NFKC-normalised, lower-cased text)."""

    fields: tuple[str, ...]
    phrase: str
    prefix: bool  # trailing * in the phrase: the last word may continue
    text: str

    def pattern(self) -> tuple[str, bool]:
        """(pattern, is_regex): a plain substring for Chinese, a word-bounded RE2 regex for Latin."""
        words = self.phrase.split()
        bounded_start = _is_word_char(self.phrase[0])
        bounded_end = _is_word_char(self.phrase[-1]) and not self.prefix
        if len(words) == 1 and not bounded_start and not bounded_end:
            return self.phrase, False
        body = r"\s+".join(re.escape(word) for word in words)
        return (r"\b" if bounded_start else "") + body + (r"\b" if bounded_end else ""), True


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = CodeClause | KeywordClause | And | Or | Not


@dataclass(frozen=True)
class Expression:
    text: str
    root: Node

    def clauses(self) -> list[CodeClause | KeywordClause]:
        """Every leaf clause, in source order."""
        stack: list[Node] = [self.root]
        found: list[CodeClause | KeywordClause] = []
        while stack:
            node = stack.pop()
            if isinstance(node, And | Or):
                stack.extend(reversed(node.children))
            elif isinstance(node, Not):
                stack.append(node.child)
            else:
                found.append(node)
        return found


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def normalise_text(text: str) -> str:
    """The form both keywords and patent text are compared in (full-width → half-width, lower case)."""
    return unicodedata.normalize("NFKC", text).lower()


class _Clauses(Transformer):
    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def _span(self, start: int, end: int) -> str:
        return " ".join(self.source[start:end].split())

    def start(self, children):
        return children[0]

    def or_expr(self, children):
        return Or(tuple(children))

    def and_expr(self, children):
        return And(tuple(children))

    def negation(self, children):
        return Not(children[0])

    def code_clause(self, children):
        field, (low, high, end_pos) = children
        return CodeClause(field.value.lower(), low, high, self._span(field.start_pos, end_pos))

    @v_args(meta=True)
    def prefix(self, meta, children):
        (symbol, group, subgroup), star = children[0], children[1:]
        if star and _is_star(subgroup):
            raise _error_at(star[0], "'*' given twice")
        low = symbol.value.upper()
        if group is not None:
            low += group.value.zfill(_GROUP_WIDTH)
            if subgroup is not None and not _is_star(subgroup):
                low += subgroup.value
        return low, low + _KEY_HIGH, meta.end_pos

    @v_args(meta=True)
    def range(self, meta, children):
        (symbol, group, subgroup), (end_symbol, end_group, end_subgroup) = children
        if group is None:
            raise _error_at(symbol, "a range needs a main group on both ends, e.g. A61K31/33..31/80")
        if _is_star(subgroup):
            raise _error_at(subgroup, "'*' cannot start a range")
        base = symbol.value.upper()
        if end_symbol is not None and end_symbol.value.upper() != base:
            raise _error_at(end_symbol, f"a range stays in one subclass: {base} then {end_symbol.value.upper()}")
        low = base + group.value.zfill(_GROUP_WIDTH) + ("" if subgroup is None else subgroup.value)
        high = base + end_group.value.zfill(_GROUP_WIDTH)
        high += _KEY_HIGH if end_subgroup is None else end_subgroup.value.ljust(_SUBGROUP_WIDTH, "9")
        if low.ljust(len(high), "0") > high:
            raise _error_at(end_group, "the range ends before it starts")
        return low, high, meta.end_pos

    def code_point(self, children):
        symbol = children[0]
        group = children[1] if len(children) > 1 else None
        subgroup = children[2] if len(children) > 2 else None
        if group is not None:
            if len(symbol.value) != 4:
                raise _error_at(symbol, f"'{symbol.value}' is not a subclass; a group needs one like G06N")
            _check_digits(group, _GROUP_WIDTH, "main group")
        if subgroup is not None and not _is_star(subgroup):
            _check_digits(subgroup, _SUBGROUP_WIDTH, "subgroup")
        return symbol, group, subgroup

    def code_end(self, children):
        symbol = children[0] if children[0].type == "SYMBOL" else None
        numbers = children[1:] if symbol is not None else children
        if symbol is not None and len(symbol.value) != 4:
            raise _error_at(symbol, f"'{symbol.value}' is not a subclass; a range end needs one like G06N")
        _check_digits(numbers[0], _GROUP_WIDTH, "main group")
        if len(numbers) > 1:
            _check_digits(numbers[1], _SUBGROUP_WIDTH, "subgroup")
        return symbol, numbers[0], numbers[1] if len(numbers) > 1 else None

    def text_clause(self, children):
        field, value = children
        name = field.value.lower()
        if name not in TEXT_FIELDS:
            raise _error_at(field, f"unknown field '{field.value}'; known: ipc, cpc, cls, {', '.join(TEXT_FIELDS)}")
        raw = value.value
        if value.type == "STRING":
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        phrase = " ".join(normalise_text(raw).split())
        prefix = phrase.endswith("*")
        phrase = phrase.rstrip("*").rstrip()
        if not phrase:
            raise _error_at(value, "empty keyword")
        return KeywordClause(TEXT_FIELDS[name], phrase, prefix, self._span(field.start_pos, value.end_pos))


def _is_star(token) -> bool:
    return isinstance(token, Token) and token.type == "STAR"


class _PositionedError(Exception):
    def __init__(self, column: int, message: str):
        super().__init__(message)
        self.column = column
        self.message = message


def _error_at(token, message: str) -> _PositionedError:
    return _PositionedError(getattr(token, "column", 1) or 1, message)


def _check_digits(token: Token, width: int, what: str) -> None:
    if len(token.value) > width:
        raise _error_at(token, f"{what} '{token.value}' has more than {width} digits")


_PARSER = Lark(GRAMMAR, parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=False)


def parse_expression(text: str) -> Expression:
    """Parse a search expression; raise ExpressionError naming the column of the problem."""
    if not text or not text.strip():
        raise ExpressionError("empty expression", column=1)
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        at_end = isinstance(exc, UnexpectedEOF) or getattr(getattr(exc, "token", None), "type", None) == "$END"
        column = len(text.rstrip()) + 1 if at_end or exc.column < 1 else exc.column
        raise ExpressionError(_describe(exc, text), column=column) from None
    _check_depth(tree)
    try:
        root = _Clauses(text).transform(tree)
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, _PositionedError):
            raise ExpressionError(inner.message, column=inner.column) from None
        raise
    return Expression(text=text, root=root)


MAX_DEPTH = 100  # nested NOT / AND / OR levels; the tree is walked recursively later, so deeper is refused here


def _check_depth(tree: Tree) -> None:
    stack = [(tree, -1)]  # the start rule is no level
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"nested more than {MAX_DEPTH} levels deep (NOT, AND, OR, parentheses)",
                                  column=getattr(node.meta, "column", 1))
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


def _describe(exc: UnexpectedInput, text: str) -> str:
    if isinstance(exc, UnexpectedEOF):
        return f"unexpected end of expression; expected {_expected(exc.expected)}"
    if isinstance(exc, UnexpectedToken):
        if exc.token.type == "$END":
            return f"unexpected end of expression; expected {_expected(exc.expected)}"
        return f"unexpected '{exc.token.value}'; expected {_expected(exc.expected)}"
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected '{text[exc.pos_in_stream]}'; expected {_expected(exc.allowed)}"
    return str(exc)


def _expected(names) -> str:
    readable = sorted({_TERMINAL_NAMES.get(name, name) for name in names})
    return " or ".join(readable) if readable else "something else"
