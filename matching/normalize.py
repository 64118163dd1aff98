"""Name normalisation: one raw applicant or firm name -> the matching key and its side features.

Chinese: NFKC (full-width -> half-width), traditional -> simplified, bracketed places removed
into a region feature, legal forms stripped into a legal-form class, punctuation and spaces
removed. English: NFKC, lowercase, '&' / '+' / 'and' dropped, punctuation -> space, a leading or trailing article
dropped, runs of single letters joined (J. R. -> jr), common abbreviations spelled out, legal forms stripped.
The key keeps a leading place (深圳市…); `core` is the key without it, so 深圳市大疆创新 and
大疆创新 meet on `core` and the region decides.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd
from opencc_purepy import OpenCC
from rapidfuzz.distance import Levenshtein

from matching import geo
from matching.legal_forms import EN_FORMS, MAX_STRIPS, ZH_FORMS

_T2S = OpenCC("t2s")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
_BRACKET_RE = re.compile(r"[(\[{【〔]([^()\[\]{}【】〔〕]*)[)\]}】〕]")
_BRACKET_OPEN_RE = re.compile(r"[(\[{【〔]")  # most names have no bracket: one search skips the rest
_ZH_DROP_RE = re.compile(r"[\s\W_]+")
_EN_DROP_RE = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")
_DOT_COM_RE = re.compile(r"\.com\b")
_ZH_FORM_RE = re.compile("(?:" + "|".join(sorted(map(re.escape, ZH_FORMS), key=len, reverse=True)) + ")$")
_EN_FORMS_BY_LAST: dict[str, list[tuple[tuple[str, ...], str]]] = {}
for _form, _cls in sorted(((tuple(f.split()), c) for f, c in EN_FORMS.items()), key=lambda f: -len(f[0])):
    _EN_FORMS_BY_LAST.setdefault(_form[-1], []).append((_form, _cls))  # longest first, as before
_BRANCH_RE = re.compile(r"^(.{2,}?(?:公司|集团))(.{2,8})分公司$")
# generic words of Chinese firm names (industry part); what remains is the trade name (字号)
_ZH_GENERIC = (
    "科技", "技术", "电子", "信息", "智能", "网络", "软件", "医药", "生物", "新材料", "材料", "机械", "设备", "制造",
    "实业", "发展", "工程", "贸易", "控股", "投资", "电气", "光电", "通信", "通讯", "数据", "系统", "半导体",
    "集成电路", "新能源", "能源", "环保", "化工", "汽车", "精密", "自动化", "工业", "创新", "数字", "微电子",
    "计算机", "互联网", "医疗器械", "医疗", "制药", "健康", "装备", "仪器", "研发", "产业", "股份", "国际",
)
_ZH_GENERIC_RE = re.compile("|".join(sorted(_ZH_GENERIC, key=len, reverse=True)))
_EN_GENERIC = frozenset(
    "technology technologies tech electronics electronic systems system international industries industrial "
    "industry solutions products manufacturing semiconductor semiconductors software networks communications "
    "communication medical pharmaceutical pharmaceuticals devices materials energy global the and of".split()
)

# abbreviations registers and patent offices write either way (Tropar Mfg. Co. = Tropar Manufacturing Co.)
_EN_ABBREVIATIONS = {
    "mfg": "manufacturing", "mfrs": "manufacturers", "intl": "international", "natl": "national",
    "bros": "brothers", "labs": "laboratories", "lab": "laboratory", "engg": "engineering", "chem": "chemical",
    "prods": "products", "svcs": "services", "mgmt": "management", "dept": "department", "univ": "university",
    "inst": "institute", "assocs": "associates", "equip": "equipment",
}


def _join_initials(tokens: list[str]) -> list[str]:
    """A run of single letters is one token: J.R. Setina, J. R. Setina and JR Setina meet on "jr setina"."""
    out: list[str] = []
    run = ""
    for token in tokens:
        if len(token) == 1 and token.isalpha():
            run += token
            continue
        if run:
            out.append(run)
            run = ""
        out.append(token)
    return [*out, run] if run else out


class ParsedName(NamedTuple):
    """A name broken into the parts the matcher compares (a named tuple: built in half the time of a frozen
    dataclass, and a run builds one per distinct name)."""

    key: str  # the matching key: legal form and bracketed places removed, leading place kept
    core: str  # key without its leading place
    brand: str  # core without generic industry words (the distinctive trade name)
    legal_form: str  # class of the stripped legal form, "" when none
    province: str | None  # from a leading or bracketed place in the name
    city: str | None
    script: str  # "zh" or "en"
    branch_of: str | None = None  # for 分公司 names: the key of the parent company


_CHANGES_UNDER_T2S: dict[str, bool] = {}


def _is_traditional(char: str) -> bool:
    known = _CHANGES_UNDER_T2S.get(char)
    if known is None:
        known = _CHANGES_UNDER_T2S[char] = _T2S.convert(char) != char
    return known


# the basic CJK block is scanned once at import (0.3 s) so the common test is one regex search;
# rarer ideographs beyond it are checked one by one (and cached)
_TRADITIONAL_RE = re.compile("[" + "".join(chr(c) for c in range(0x4E00, 0xA000) if _is_traditional(chr(c))) + "]")
_BEYOND_BASIC_CJK_RE = re.compile("[\ua000-\U0010ffff]")


def to_simplified(text: str) -> str:
    """Traditional -> simplified; converts only texts with a traditional character (most have none)."""
    if _TRADITIONAL_RE.search(text) or (_BEYOND_BASIC_CJK_RE.search(text)
                                        and any(_is_traditional(c) for c in text if c > "\u9fff")):
        return _T2S.convert(text)
    return text


def _strip_zh_forms(text: str) -> tuple[str, str]:
    legal = ""
    for _ in range(MAX_STRIPS):
        match = _ZH_FORM_RE.search(text)
        if not match or match.start() < 2:
            break
        form_class = ZH_FORMS[match.group(0)]
        # keep the most specific class seen (股份有限公司 after 集团 → group stays)
        legal = legal or form_class
        text = text[: match.start()]
    return text, legal


def _strip_en_forms(tokens: list[str]) -> tuple[list[str], str]:
    legal = ""
    for _ in range(MAX_STRIPS):
        for form, cls in _EN_FORMS_BY_LAST.get(tokens[-1], ()) if tokens else ():
            if len(tokens) > len(form) and tuple(tokens[-len(form):]) == form:
                tokens = tokens[: -len(form)]
                legal = legal or cls
                break
        else:
            break
    return tokens, legal


def _bracket_places(text: str) -> tuple[str, str | None, str | None]:
    """Remove bracketed parts that are places (（深圳）/(Shenzhen)) or legal-form noise; return places."""
    province = city = None
    if not _BRACKET_OPEN_RE.search(text):
        return text, None, None

    def replace(match: re.Match) -> str:
        nonlocal province, city
        inner = match.group(1).strip()
        prov, cty = geo.place(inner)
        if prov:
            province, city = province or prov, city or cty
            return ""
        if inner in ("中国", "china", "集团", "group", "有限合伙"):
            return ""
        return match.group(0)

    return _BRACKET_RE.sub(replace, text), province, city


# three names in four are basic Han characters only: without a traditional one, NFKC, stripping, simplifying,
# lower-casing and punctuation removal leave them as they are and they hold no bracket (checked over all of
# U+4E00..U+9FFF in tests/test_matching_normalize.py)
_HAN_ONLY_RE = re.compile(r"[\u4e00-\u9fff]+")


@lru_cache(maxsize=1_000_000)
def parse_name(raw: str) -> ParsedName:
    """Parse one raw name (cached: names repeat across patents)."""
    if isinstance(raw, str) and _HAN_ONLY_RE.fullmatch(raw) and not _TRADITIONAL_RE.search(raw):
        return _parse_plain_zh(raw, None, None)
    return _parse_any(raw)


def _parse_any(raw: str) -> ParsedName:
    text = unicodedata.normalize("NFKC", raw or "").strip()
    text = to_simplified(text)
    text, b_province, b_city = _bracket_places(text)
    if _HAN_RE.search(text):
        return _parse_zh(text, b_province, b_city)
    return _parse_en(text, b_province, b_city)


def _parse_zh(text: str, b_province: str | None, b_city: str | None) -> ParsedName:
    return _parse_plain_zh(_ZH_DROP_RE.sub("", text.lower()), b_province, b_city)


def _parse_plain_zh(text: str, b_province: str | None, b_city: str | None) -> ParsedName:
    """A Chinese name already lower-cased, without spaces or punctuation."""
    branch_of = None
    branch = _BRANCH_RE.match(text)
    if branch:  # 华为技术有限公司北京分公司 -> key 华为技术北京分公司, falls back to the parent's key
        branch_of, _ = _strip_zh_forms(branch.group(1))
        text, legal = f"{branch_of}{branch.group(2)}分公司", "branch"
    else:
        text, legal = _strip_zh_forms(text)
    core, province, city = geo.leading_place(text)
    if b_province:
        province, city = province or b_province, city or b_city
    brand = _ZH_GENERIC_RE.sub("", core) or core
    return ParsedName(text, core, brand, legal, province, city, "zh", branch_of)


def _parse_en(text: str, b_province: str | None, b_city: str | None) -> ParsedName:
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    # a web suffix is decoration (Netforensics.com, Inc. = Netforensics, Inc.); then dots vanish rather than
    # split: U.S.A. -> usa, L.L.C. -> llc, Co.,Ltd -> co ltd
    text = _DOT_COM_RE.sub(" ", text.lower())
    text = text.replace("'s", "s").replace("'", "").replace("’", "").replace(".", "")
    # "&", "+" and "and" join names in any spelling (Bell & Howell, Bell + Howell, Bell and Howell, Bell Howell)
    tokens = [t for t in _EN_DROP_RE.sub(" ", text).split() if t != "and"] or ["and"]
    if tokens and tokens[0] == "the":
        tokens = tokens[1:]
    if len(tokens) > 1 and tokens[-1] == "the":  # registers invert the article: "Boeing Company, The"
        tokens = tokens[:-1]
    tokens, legal = _strip_en_forms(_join_initials([_EN_ABBREVIATIONS.get(t, t) for t in tokens]))
    province, city = b_province, b_city
    core_tokens = tokens
    for end in (0, -1):  # a leading or trailing place: "Shenzhen X Co" / "X (Shenzhen)" / "X Shenzhen"
        if len(core_tokens) > 1:
            prov, cty = geo.pinyin_place(core_tokens[end])
            if prov:
                province, city = province or prov, city or cty
                core_tokens = core_tokens[1:] if end == 0 else core_tokens[:-1]
    key = " ".join(tokens)
    core = " ".join(core_tokens)
    brand = " ".join(t for t in core_tokens if t not in _EN_GENERIC) or core
    return ParsedName(key, core, brand, legal, province, city, "en")


# a short run of basic Han characters (a person's name, most legal representatives) is its own key when it has
# no traditional character and no legal-form ending: NFKC, lower-casing, punctuation removal and the branch rule
# (9+ characters) change nothing, and a leading place stays in the key
_PLAIN_HAN_RE = re.compile(r"[\u4e00-\u9fff]{1,8}")


def normalize_name(name: str) -> str:
    """The matching key of a raw name (see module docstring); equal to parse_name(name).key."""
    if (isinstance(name, str) and _PLAIN_HAN_RE.fullmatch(name) and not _TRADITIONAL_RE.search(name)
            and not _ZH_FORM_RE.search(name)):
        return name
    return parse_name(name).key


# An OCR'd US assignment clause glued into one word (old full-text patents): ASSIGNORSTOEASTMANKODAKCOMPANY
# ROCHESTERNY… Its head (ASSIGNOR(S), ASSIGNMENTS, … BY MESNE ASSIGNMENTS) and "TO" come first; then the assignee,
# its place and whatever the OCR ran on into, with no boundary a parser could see (the register's names give it).
GLUED_CLAUSE_PATTERN = r"[A-Z0-9]{16,}"
_GLUED_CLAUSE_RE = re.compile(GLUED_CLAUSE_PATTERN)
_CLAUSE_HEADS = ("ASSIGNOR", "ASSIGNORS", "ASSIGNMENT", "ASSIGNMENTS", "ASSIGNORBYMESNEASSIGNMENTS",
                    "ASSIGNORSBYMESNEASSIGNMENTS", "ASSIGNORSBYDIRECTANDMESNEASSIGNMENTS", "BYMESNEASSIGNMENTS")
_HEAD_SLIPS = 2  # OCR slips allowed in the head (ASSIGIIORTO, AESIGNORSTO)


def glued_clause_text(raw: str) -> str | None:
    """The text after the head of a glued assignment clause ("ASSIGNORSTOEASTMANKODAK…" -> "EASTMANKODAK…"), or
    None when `raw` is not one (a name with a space, a lower-case letter or punctuation never is)."""
    if not isinstance(raw, str) or not _GLUED_CLAUSE_RE.fullmatch(raw):
        return None
    start = 0
    while (at := raw.find("TO", start, 40)) >= 0:
        head = raw[:at]
        if len(head) >= 6 and min(Levenshtein.distance(head, h, score_cutoff=_HEAD_SLIPS + 1)
                                  for h in _CLAUSE_HEADS) <= _HEAD_SLIPS:
            return raw[at + 2:] or None
        start = at + 1
    return None


def glued_clauses(names: pd.Series) -> dict[int, str]:
    """Position -> the clause's text, for the names that are glued assignment clauses (the pattern found in bulk
    first: at 1M patents none is, and no name is looked at one by one)."""
    # (astype: an empty column comes untyped)
    maybe = np.flatnonzero(names.astype("str").str.fullmatch(GLUED_CLAUSE_PATTERN).to_numpy(bool)).tolist()
    return {i: text for i, name in zip(maybe, names.iloc[maybe], strict=True) if (text := glued_clause_text(name))}


def glued(name: str) -> str:
    """A name as a glued clause writes it: upper-case letters and digits only (Abbott Lab. -> ABBOTTLAB)."""
    return re.sub(r"[^0-9A-Z]+", "", unicodedata.normalize("NFKC", name).upper())
