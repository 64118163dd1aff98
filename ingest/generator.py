"""Deterministic, seeded generator of synthetic demo data.

Writes messy but realistic vendor exports (three patent files, two registry files), the
ground-truth applicant labels and a manifest into an output directory; see docs/demo-data.md
and the shared format spec. Everything is invented from the vocabulary in `_gen_vocab`: no
real firm, person or patent record is used. Same seed and sizes give byte-identical files.

It streams: patents are generated year by year and written row by row, so memory grows with
the number of firms (and distinct applicant spellings), not with the number of patents.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import json
import math
import random
import re
import zipfile
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from opencc_purepy import OpenCC

from graph.progress import track
from ingest import _gen_vocab as vocab

FIRST_YEAR, LAST_YEAR = 2012, 2025
LAST_APPLICATION = dt.date(2025, 10, 31)
LAST_PUBLICATION = dt.date(2025, 12, 31)
XLSX_PATENT_ROW_CAP = 20_000
BAD_ROW_RATE = 0.005
NONE = "NONE"

PATENT_HEADERS = {
    "patents/cnipa_export.csv": (
        "公开（公告）号", "申请号", "申请日", "公开（公告）日", "发明名称", "摘要", "申请（专利权）人", "发明（设计）人",
        "地址", "主分类号", "分类号", "引证专利", "权利要求数量", "法律状态", "专利类型"),
    "patents/incopat_export.csv": (
        "公开号", "申请号", "申请日", "公开日", "标题", "摘要", "申请人", "发明人", "申请人地址", "IPC主分类", "IPC",
        "引证专利", "权利要求数", "当前法律状态", "专利类型"),
    "patents/patsnap_export.xlsx": (
        "公开(公告)号", "申请号", "申请日", "公开(公告)日", "标题", "摘要", "申请(专利权)人", "发明人",
        "申请(专利权)人地址", "IPC主分类号", "IPC分类号", "引用专利", "权利要求数量", "法律状态/事件", "专利类型"),
}
PATENT_ENCODINGS = {"patents/cnipa_export.csv": "utf-8-sig", "patents/incopat_export.csv": "gb18030",
                    "patents/patsnap_export.xlsx": "xlsx"}
# All three headers list the same fields in the same order: these are the canonical names.
PATENT_COLUMNS = ("publication_number", "application_number", "application_date", "publication_date", "title",
                  "abstract", "applicants", "inventors", "address", "main_ipc", "ipc", "cited_publications",
                  "claims_count", "legal_status", "patent_type")
REGISTRY_HEADERS = ("企业名称", "统一社会信用代码", "曾用名", "英文名", "登记状态", "成立日期", "注销日期", "注册资本",
                    "省份", "城市", "地址", "所属行业", "企业规模", "参保人数", "法定代表人", "母公司统一社会信用代码",
                    "继任企业统一社会信用代码")
LABEL_HEADERS = ("applicant_name", "address", "expected_firm_id", "applicant_type")

# GB 32100-2015 (unified social credit code) and GB 11714 (organisation code) check digits.
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# CNIPA application numbers (12 digits since 2003) carry a mod-11 check character.
APPLICATION_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)

KIND_TYPE_TEXT = {"A": "发明申请", "B": "发明授权", "U": "实用新型", "S": "外观设计"}
KIND_CODE = {"A": 0, "B": 1, "U": 2, "S": 3}
CODE_KIND = "ABUS"
APPLICATION_TYPE_DIGIT = {"A": "1", "B": "1", "U": "2", "S": "3"}
OPERATING_TEXTS = (("存续", 50), ("在业", 25), ("存续（在营、开业、在册）", 15), ("开业", 10))
# First-applicant mix, per patent (weights).
APPLICANT_MIX = (("company", 790), ("university", 80), ("research_institute", 35), ("hospital", 20),
                 ("government", 4), ("individual_rep", 25), ("individual", 25), ("unknown", 3),
                 ("foreign", 5), ("ghost", 13))
ZIP_TIME = (2025, 1, 1, 0, 0, 0)
INDUSTRY_ENGLISH = {zh: en for words in vocab.INDUSTRY_WORDS.values() for zh, en in words}
LEGAL_ENGLISH = {zh: en for zh, en, _ in vocab.LEGAL_FORMS}


_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARS)}


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    check = 11 - sum(int(c, 36) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def application_check_char(digits12: str) -> str:
    check = sum(int(c) * w for c, w in zip(digits12, APPLICATION_WEIGHTS, strict=True)) % 11
    return "X" if check == 10 else str(check)


class _Rng(random.Random):
    """random.Random with one-draw choice/randint: the generator calls them millions of times."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))


@dataclass(frozen=True)
class GeneratedDataset:
    patent_files: list[Path]
    firm_files: list[Path]
    labels: Path
    manifest: Path


@dataclass(slots=True)
class NameParts:
    """A Chinese company name as its parts: region form, region, brand, industry word, legal form."""

    form: str  # city | province | bracket | none
    region: str  # 深圳市 / 深圳 / 广东; the short city name for the bracket form
    brand: str
    industry: str
    legal: str

    def render(self, half_width: bool = False) -> str:
        core = self.brand + self.industry
        if self.form == "bracket":
            left, right = ("(", ")") if half_width else ("（", "）")
            return f"{core}{left}{self.region}{right}{self.legal}"
        if self.form == "none":
            return core + self.legal
        return self.region + core + self.legal


@dataclass(slots=True)
class Firm:
    idx: int
    firm_id: str
    parts: NameParts
    name: str
    city: int  # index into vocab.CITIES
    district: str
    address: str
    postcode: str
    topic: str
    established: dt.date
    last_filing: dt.date  # the firm files nothing after this (deregistration, revocation, data end)
    status: str
    deregistered: dt.date | None = None
    former: list[tuple[NameParts, str, dt.date]] = field(default_factory=list)  # (parts, name, used until)
    english: str | None = None
    legal_rep: str = ""
    parent: int | None = None
    successor: int | None = None
    weight: float = 0.0
    growth: float = 0.0
    role: str = "regular"  # regular | shell | group | ip_holding | same_name
    industry_code: str = ""
    size: str = ""
    employees: int = 0
    capital: str = ""
    postcode_first: bool = False

    def name_at(self, day: dt.date) -> tuple[NameParts, str]:
        for parts, name, until in self.former:
            if day < until:
                return parts, name
        return self.parts, self.name


@dataclass(slots=True)
class Entity:
    """A non-registry applicant: university, institute, hospital, government, person, ghost or foreign firm."""

    name: str
    address: str
    applicant_type: str
    topic_weights: tuple[int, ...]
    target: int = -1  # the firm an individual runs, else -1 (NONE)
    topics: _Weights = field(init=False)

    def __post_init__(self):
        self.topics = _Weights(zip(vocab.TOPICS, self.topic_weights, strict=True))


@dataclass(slots=True)
class Seed:
    day: dt.date
    kind: str  # company | university | ... | individual_rep
    entity: int  # firm index or entity index
    variant: str | None = None
    co: str | None = None
    protected: bool = False


class _Weights:
    """A fixed weighted choice, drawn with one random number and a bisection."""

    def __init__(self, pairs):
        pairs = list(pairs)
        self.values = [v for v, _ in pairs]
        self.cumulative, total = [], 0.0
        for _, w in pairs:
            total += w
            self.cumulative.append(total)
        self.total = total

    def draw(self, rng: random.Random):
        return self.values[min(len(self.values) - 1, bisect.bisect(self.cumulative, rng.random() * self.total))]


def _weighted(rng: random.Random, pairs):
    return _Weights(pairs).draw(rng)


OPERATING = _Weights(OPERATING_TEXTS)
TOPIC_TABLE = _Weights(zip(vocab.TOPICS, vocab.TOPIC_WEIGHTS, strict=True))
REGION_FORMS = _Weights((("city", 62), ("province", 12), ("bracket", 20), ("none", 6)))
LEGAL_FORM_TABLE = _Weights([(f, w) for f, _, w in vocab.LEGAL_FORMS])
STATUS_OLD_APPLICATION = _Weights((("驳回", 40), ("撤回", 35), ("实质审查", 25)))
STATUS_NEW_APPLICATION = _Weights((("实质审查", 70), ("公开", 30)))
STATUS_GRANTED = _Weights((("有效", 78), ("失效", 17), ("权利终止", 5)))


def _random_day(rng: random.Random, lo: dt.date, hi: dt.date) -> dt.date:
    return lo + dt.timedelta(days=rng.randint(0, max(0, (hi - lo).days)))


def _person_name(rng: random.Random) -> str:
    given = "".join(rng.choice(vocab.GIVEN_CHARS) for _ in range(1 if rng.random() < 0.3 else 2))
    return rng.choice(vocab.SURNAMES) + given


def _largest_remainder(total: int, weights: list[float]) -> list[int]:
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    counts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


class _World:
    """Firms, non-firm applicants and the hard cases between them."""

    def __init__(self, n_firms: int, seed: int):
        self.rng = _Rng(f"{seed}:world")
        self.firms: list[Firm] = []
        self.names: set[str] = set()  # every registered name, current and former
        self.codes: set[str] = set()
        self.addresses: set[str] = set()
        self.entities: list[Entity] = []
        self.by_kind: dict[str, list[int]] = {}
        self.hard: dict[str, list[dict]] = {k: [] for k in (
            "renamed", "deregistered_after_filing", "shells", "same_name_pairs", "parent_subsidiary",
            "legal_representative_applicants", "revoked")}
        self.forced: list[Seed] = []
        self._build_firms(n_firms)
        self._build_entities(n_firms)
        self.codes.clear()  # only needed to keep codes and addresses unique while building
        self.addresses.clear()

    # --- names, codes, places -------------------------------------------------------------
    def _person(self) -> str:
        return _person_name(self.rng)

    def _brand(self) -> tuple[str, str]:
        rng = self.rng
        n = 2 if rng.random() < 0.8 else rng.choice((3, 4))
        syllables = rng.sample(vocab.BRAND_SYLLABLES, n)
        return "".join(s for s, _ in syllables), "".join(p for _, p in syllables).capitalize()

    def _city(self) -> int:
        return self.rng.choices(range(len(vocab.CITIES)), weights=vocab.CITY_WEIGHTS)[0]

    def _address(self, city: int, building: str | None = None) -> tuple[str, str, str]:
        rng = self.rng
        province, city_name, _, _, post_prefix, _, districts = vocab.CITIES[city]
        prefix = "" if province == city_name else province
        while True:
            district = rng.choice(districts)[0]
            tail = building or rng.choice(vocab.BUILDINGS)
            address = (f"{prefix}{city_name}{district}{rng.choice(vocab.ROADS)}{rng.randint(1, 999)}号"
                       f"{tail}{rng.randint(1, 12)}栋{rng.randint(1, 30)}{rng.randint(1, 20):02d}")
            if address not in self.addresses:
                self.addresses.add(address)
                return address, district, f"{post_prefix}{rng.randint(0, 199):03d}"

    def _credit_code(self, city: int, district: str, established: dt.date) -> str:
        rng = self.rng
        admin = dict(vocab.CITIES[city][6]).get(district, vocab.CITIES[city][5])
        while True:
            if established.year >= 2016:  # codes issued after the 2015 reform carry an "MA" body
                body = "MA" + "".join(rng.choice(USCC_CHARS) for _ in range(6))
            else:
                body = "".join(rng.choice("0123456789") for _ in range(8))
            first17 = "91" + admin + body + org_code_check_char(body)
            code = first17 + uscc_check_char(first17)
            if code not in self.codes:
                self.codes.add(code)
                return code

    def _parts(self, city: int, topic: str, brand: str | None = None, industry: str | None = None,
               legal: str | None = None, form: str | None = None) -> NameParts:
        rng = self.rng
        province, city_name, short, *_ = vocab.CITIES[city]
        form = form or REGION_FORMS.draw(rng)
        if form == "province" and province == city_name:
            form = "city"
        region = {"city": city_name if rng.random() < 0.6 else short, "province": province.rstrip("省"),
                  "bracket": short, "none": ""}[form]
        industry = industry if industry is not None else rng.choice(vocab.INDUSTRY_WORDS[topic])[0]
        legal = legal or LEGAL_FORM_TABLE.draw(rng)
        return NameParts(form, region, brand or self._brand()[0], industry, legal)

    def _unique_parts(self, city: int, topic: str, **fixed) -> NameParts:
        for _ in range(200):
            parts = self._parts(city, topic, **fixed)
            if parts.render() not in self.names:
                return parts
            fixed.pop("brand", None)  # a fixed brand may be taken: vary it rather than loop forever
        raise RuntimeError("cannot find an unused firm name")

    def _english(self, parts: NameParts, city: int, brand_py: str) -> str:
        ind_en = INDUSTRY_ENGLISH.get(parts.industry, "Technology")
        legal_en = LEGAL_ENGLISH.get(parts.legal, "Co., Ltd.")
        city_py = vocab.CITIES[city][3]
        if parts.form == "bracket":
            return f"{brand_py} {ind_en} ({city_py}) {legal_en}"
        if parts.form == "province":
            return f"{vocab.PROVINCE_PINYIN.get(parts.region, city_py)} {brand_py} {ind_en} {legal_en}"
        if parts.form == "none":
            return f"{brand_py} {ind_en} {legal_en}"
        return f"{city_py} {brand_py} {ind_en} {legal_en}"

    # --- firms --------------------------------------------------------------------------------
    def _new_firm(self, parts: NameParts, city: int, topic: str, established: dt.date, role: str = "regular",
                  brand_py: str | None = None) -> Firm:
        rng = self.rng
        address, district, postcode = self._address(city)
        name = parts.render()
        self.names.add(name)
        firm = Firm(idx=len(self.firms), firm_id=self._credit_code(city, district, established), parts=parts,
                    name=name, city=city, district=district, address=address, postcode=postcode, topic=topic,
                    established=established, last_filing=LAST_APPLICATION,
                    status=OPERATING.draw(rng), role=role, postcode_first=rng.random() < 0.45)
        firm.legal_rep = self._person()
        if role in ("regular", "same_name") and rng.random() < 0.3:
            firm.english = self._english(parts, city, brand_py or self._brand()[1])
        firm.industry_code = rng.choice(vocab.INDUSTRY_CODES[topic])
        self.firms.append(firm)
        return firm

    def _established(self) -> dt.date:
        year = min(2023, int(1996 + 28 * self.rng.random() ** 0.7))
        return _random_day(self.rng, dt.date(year, 1, 1), dt.date(year, 12, 28))

    def _finish_firm(self, firm: Firm) -> None:
        """Size, capital and employees follow patent activity (weight) with noise."""
        rng = self.rng
        score = math.log1p(firm.weight) + rng.gauss(0, 0.8)
        firm.size = "大型" if score > 3.2 else "中型" if score > 2.0 else "小型" if score > 0.6 else "微型"
        lo, hi = {"微型": (0, 9), "小型": (10, 99), "中型": (100, 999), "大型": (1000, 20000)}[firm.size]
        amount = {"微型": (10, 200), "小型": (100, 1000), "中型": (500, 5000), "大型": (5000, 100000)}[firm.size]
        firm.employees = rng.randint(lo, hi)
        if firm.role in ("shell", "ip_holding"):
            firm.employees, firm.size = rng.randint(0, 5), "微型"
            firm.industry_code = vocab.HOLDING_INDUSTRY if firm.role == "ip_holding" else firm.industry_code
        capital = rng.randint(*amount)
        capital = round(capital, -2) if capital > 1000 else round(capital, -1) or 10
        currency = _weighted(rng, (("CNY", 90), ("USD", 6), ("HKD", 4)))
        if currency == "USD":
            firm.capital = f"{capital}万美元"
        elif currency == "HKD":
            firm.capital = f"{capital}万元港币"
        else:
            firm.capital = _weighted(rng, ((f"{capital}万元人民币", 50), (f"{capital}万人民币", 25),
                                           (f"{capital:,}万元", 20), ("", 5)))

    def _build_firms(self, n_firms: int) -> None:
        rng = self.rng
        n_shells = max(2, round(0.03 * n_firms))
        n_pairs = max(2, round(0.02 * n_firms))
        n_parents = max(2, round(0.03 * n_firms))
        n_regular = n_firms - n_shells - n_pairs - n_parents
        if n_regular < 20:
            raise ValueError(f"n_firms={n_firms} is too small: need at least {n_firms - n_regular + 20}")
        for _ in range(n_regular):
            city, topic = self._city(), TOPIC_TABLE.draw(rng)
            brand, brand_py = self._brand()
            firm = self._new_firm(self._unique_parts(city, topic, brand=brand), city, topic, self._established(),
                                  brand_py=brand_py)
            if rng.random() < 0.75:  # a quarter of registered firms never file a patent
                firm.weight = min(2000.0, rng.paretovariate(1.1))
                firm.growth = rng.uniform(-0.1, 0.35)
        regular = list(range(n_regular))
        patenting = [i for i in regular if self.firms[i].weight > 0]
        if len(patenting) < 10:
            raise ValueError(f"n_firms={n_firms} is too small to place the hard cases")
        special = rng.sample(patenting, min(len(patenting) // 2, n_pairs + n_parents
                                            + max(3, round(0.08 * n_firms)) + max(3, round(0.05 * n_firms))))
        pair_bases, special = special[:n_pairs], special[n_pairs:]
        sub_bases, special = special[:n_parents], special[n_parents:]
        n_renamed = max(3, round(0.08 * n_firms))
        renamed, dereg = special[:n_renamed], special[n_renamed:]
        taken = set(special) | set(pair_bases) | set(sub_bases)
        heirs_by_city: dict[int, list[int]] = {}
        for i in regular:
            if i not in taken:
                heirs_by_city.setdefault(self.firms[i].city, []).append(i)
        for i in pair_bases:
            self._same_name_partner(self.firms[i])
        for k, i in enumerate(sub_bases):
            self._parent(self.firms[i], "group" if k % 2 == 0 else "ip_holding")
        for i in renamed:
            self._rename(self.firms[i])
        for k, i in enumerate(dereg):
            heirs = heirs_by_city.get(self.firms[i].city, [])
            self._deregister(self.firms[i], heir=rng.choice(heirs) if heirs and k % 2 == 0 else None)
        taken |= {f.successor for f in self.firms if f.successor is not None}
        quiet = [i for i in regular if i not in taken]
        for i in rng.sample(quiet, min(len(quiet) // 4, max(2, round(0.01 * n_firms)))):
            firm = self.firms[i]
            firm.status = rng.choice(("吊销，未注销", "吊销"))
            firm.last_filing = min(firm.last_filing, dt.date(2019, 12, 31))
            self.hard["revoked"].append({"firm_id": firm.firm_id, "name": firm.name})
        for i in rng.sample(quiet, min(len(quiet) // 4, max(2, round(0.01 * n_firms)))):
            if self.firms[i].status in ("吊销，未注销", "吊销"):
                continue
            self.firms[i].status = rng.choice(("迁出", "清算"))
        targets = [i for i in regular if self.firms[i].status in dict(OPERATING_TEXTS) and not self.firms[i].former
                   and self.firms[i].role == "regular"]
        for i in rng.sample(targets, min(n_shells, len(targets))):
            self._shell(i)
        while len(self.firms) < n_firms:  # a skipped hard case leaves room: fill it with quiet firms
            city, topic = self._city(), TOPIC_TABLE.draw(rng)
            self._new_firm(self._unique_parts(city, topic), city, topic, self._established())
        for firm in self.firms:
            if firm.established.year > LAST_YEAR or firm.established > firm.last_filing:
                firm.weight = 0.0
            self._finish_firm(firm)

    def _same_name_partner(self, base: Firm) -> None:
        """A distinct firm with the same brand, industry word and legal form in another city."""
        rng = self.rng
        if base.parts.form != "city":
            base.parts.form, base.parts.region = "city", vocab.CITIES[base.city][1]
            self.names.discard(base.name)
            base.name = base.parts.render()
            if base.name in self.names:
                base.parts.brand += rng.choice(vocab.BRAND_SYLLABLES)[0]
                base.name = base.parts.render()
            self.names.add(base.name)
            if base.english:
                base.english = self._english(base.parts, base.city, base.english.split(" ")[1])
        others = [c for c in range(len(vocab.CITIES)) if c != base.city]
        for _ in range(50):
            city = rng.choice(others)
            parts = NameParts("city", rng.choice(vocab.CITIES[city][1:3]), base.parts.brand, base.parts.industry,
                              base.parts.legal)
            if parts.render() not in self.names:
                break
        else:
            return
        partner = self._new_firm(parts, city, base.topic, self._established(), role="same_name")
        partner.weight, partner.growth = max(1.0, rng.paretovariate(1.1)), rng.uniform(0, 0.3)
        base.role = "same_name"
        self.hard["same_name_pairs"].append({"shared_name": base.parts.brand + base.parts.industry + base.parts.legal,
                                             "firm_ids": [base.firm_id, partner.firm_id],
                                             "cities": [vocab.CITIES[base.city][1], vocab.CITIES[city][1]]})
        for firm in (base, partner):  # each files at least once under the name without its city
            lo = max(firm.established, dt.date(FIRST_YEAR, 1, 1))
            self.forced.append(Seed(_random_day(rng, lo, LAST_APPLICATION), "company", firm.idx,
                                    variant="drop_region", protected=True))

    def _parent(self, sub: Firm, kind: str) -> None:
        """A group or IP-holding company that files patents; the operating firm is its subsidiary."""
        rng = self.rng
        industry = "" if kind == "group" else rng.choice(("知识产权管理", "控股", "投资控股"))
        legal = rng.choice(("集团有限公司", "集团股份有限公司")) if kind == "group" else "有限公司"
        form = sub.parts.form if sub.parts.form != "bracket" else "city"
        parts = self._unique_parts(sub.city, sub.topic, brand=sub.parts.brand, industry=industry, legal=legal,
                                   form=form)
        established = min(sub.established, dt.date(2012, 6, 30)) - dt.timedelta(days=rng.randint(30, 1500))
        parent = self._new_firm(parts, sub.city, sub.topic, established, role=kind)
        parent.weight, parent.growth = sub.weight * (1.5 if kind == "ip_holding" else 0.5), sub.growth
        if kind == "ip_holding":  # the holding files most of the operating subsidiary's patents
            sub.weight *= 0.3
        sub.parent = parent.idx
        self.hard["parent_subsidiary"].append({"parent_id": parent.firm_id, "parent_name": parent.name,
                                               "subsidiary_id": sub.firm_id, "subsidiary_name": sub.name,
                                               "kind": kind})
        lo = max(parent.established, dt.date(FIRST_YEAR, 1, 1))
        self.forced.append(Seed(_random_day(rng, lo, LAST_APPLICATION), "company", parent.idx, protected=True))

    def _rename(self, firm: Firm) -> None:
        """Give the firm one or two former names, each used until a rename date after 2013."""
        rng = self.rng
        if firm.established > dt.date(2012, 6, 30):
            firm.established = _random_day(rng, dt.date(2003, 1, 1), dt.date(2012, 6, 30))
        dates = sorted(_random_day(rng, dt.date(2014, 1, 1), dt.date(2023, 12, 31))
                       for _ in range(1 if rng.random() < 0.8 else 2))
        for until in dates:
            base = firm.former[0][0] if firm.former else firm.parts
            change = rng.choice(("industry", "legal", "brand", "region"))
            parts = NameParts(base.form, base.region, base.brand, base.industry, base.legal)
            if change == "industry":
                parts.industry = rng.choice([w for w, _ in vocab.INDUSTRY_WORDS[firm.topic] if w != base.industry])
            elif change == "legal":
                parts.legal = "有限公司" if base.legal != "有限公司" else "股份有限公司"
            elif change == "brand":
                parts.brand = self._brand()[0]
            else:
                parts.form, parts.region = ("bracket", vocab.CITIES[firm.city][2]) if base.form != "bracket" else (
                    "city", vocab.CITIES[firm.city][1])
            name = parts.render()
            if name in self.names:
                parts.brand = self._brand()[0]
                name = parts.render()
            if name in self.names:
                continue
            self.names.add(name)
            firm.former.insert(0, (parts, name, until))
        if not firm.former:
            return
        firm.former.sort(key=lambda f: f[2])
        first_rename = firm.former[0][2]
        firm.weight = max(firm.weight, 2.0)
        self.hard["renamed"].append({"firm_id": firm.firm_id, "name": firm.name, "former_names": [
            {"name": name, "used_until": until.isoformat()} for _, name, until in firm.former]})
        lo = max(firm.established, dt.date(FIRST_YEAR, 1, 1))
        self.forced.append(Seed(_random_day(rng, lo, first_rename - dt.timedelta(days=1)), "company", firm.idx,
                                protected=True))
        self.forced.append(Seed(_random_day(rng, firm.former[-1][2], LAST_APPLICATION), "company", firm.idx,
                                protected=True))

    def _deregister(self, firm: Firm, heir: int | None) -> None:
        """Deregistered after filing: patents before the date still belong to this firm."""
        rng = self.rng
        if firm.established > dt.date(2012, 6, 30):
            firm.established = _random_day(rng, dt.date(2002, 1, 1), dt.date(2012, 6, 30))
        firm.deregistered = _random_day(rng, dt.date(2016, 1, 1), dt.date(2024, 12, 31))
        firm.last_filing = firm.deregistered - dt.timedelta(days=rng.randint(60, 400))
        firm.status = "注销"
        firm.weight = max(firm.weight, 1.5)
        entry = {"firm_id": firm.firm_id, "name": firm.name, "deregistered": firm.deregistered.isoformat(),
                 "successor_firm_id": None}
        if heir is not None:
            firm.successor = heir
            entry["successor_firm_id"] = self.firms[heir].firm_id
        self.hard["deregistered_after_filing"].append(entry)
        lo = max(firm.established, dt.date(FIRST_YEAR, 1, 1))
        self.forced.append(Seed(_random_day(rng, lo, firm.last_filing), "company", firm.idx, protected=True))

    def _shell(self, target_idx: int) -> None:
        """An older, deregistered registration with exactly the name an operating firm uses today."""
        rng = self.rng
        target = self.firms[target_idx]
        if target.established < dt.date(2008, 1, 1):
            target.established = _random_day(rng, dt.date(2008, 1, 1), dt.date(2011, 12, 31))
        established = _random_day(rng, dt.date(1996, 1, 1), dt.date(2002, 12, 31))
        parts = NameParts(target.parts.form, target.parts.region, target.parts.brand, target.parts.industry,
                          target.parts.legal)
        shell = self._new_firm(parts, target.city, target.topic, established, role="shell")
        shell.deregistered = _random_day(rng, established + dt.timedelta(days=700),
                                         target.established - dt.timedelta(days=30))
        shell.status, shell.last_filing, shell.english = "注销", shell.deregistered, None
        self.hard["shells"].append({"firm_id": shell.firm_id, "name": shell.name,
                                    "deregistered": shell.deregistered.isoformat(),
                                    "same_name_as": target.firm_id})

    # --- non-firm applicants ------------------------------------------------------------------
    def _add_entity(self, kind: str, name: str, address: str, applicant_type: str, topics: tuple[int, ...],
                    target: int = -1) -> None:
        self.by_kind.setdefault(kind, []).append(len(self.entities))
        self.entities.append(Entity(name, address, applicant_type, topics, target))

    def _place(self, city_name: str, building: str) -> str:
        city = next(i for i, c in enumerate(vocab.CITIES) if c[1] == city_name)
        address, _, postcode = self._address(city, building)
        return f"{postcode} {address}" if self.rng.random() < 0.4 else address

    def _residence(self, city: int) -> str:
        rng = self.rng
        province, city_name, _, _, post_prefix, _, districts = vocab.CITIES[city]
        prefix = "" if province == city_name else province
        address = (f"{prefix}{city_name}{rng.choice(districts)[0]}{rng.choice(vocab.ROADS)}{rng.randint(1, 999)}号"
                   f"{self._brand()[0]}{rng.choice(vocab.HOUSING)}{rng.randint(1, 30)}栋{rng.randint(1, 33)}"
                   f"{rng.randint(1, 8):02d}室")
        return f"{post_prefix}{rng.randint(0, 199):03d} {address}" if rng.random() < 0.3 else address

    def _build_entities(self, n_firms: int) -> None:
        rng = self.rng
        chains = (30, 25, 20, 20, 5)  # ai, biomed, 5g, smart_mfg, other
        for name, city in vocab.UNIVERSITIES:
            self._add_entity("university", name, self._place(city, "校区"), "university", chains)
        for c in rng.sample(range(len(vocab.CITIES)), 6):
            name = vocab.CITIES[c][2] + "理工大学"
            if name not in {e.name for e in self.entities}:
                self._add_entity("university", name, self._place(vocab.CITIES[c][1], "校区"), "university",
                                 chains)
        for name, city in vocab.RESEARCH_INSTITUTES:
            self._add_entity("research_institute", name, self._place(city, "科研楼"), "research_institute", chains)
        for c in rng.sample(range(len(vocab.CITIES)), 8):
            topic = rng.randrange(len(vocab.TOPICS) - 1)
            name = vocab.CITIES[c][1] + vocab.INSTITUTE_TOPIC_WORDS[vocab.TOPICS[topic]]
            self._add_entity("research_institute", name, self._place(vocab.CITIES[c][1], "科研楼"),
                             "research_institute", tuple(90 if i == topic else 2 for i in range(5)))
        medical = (5, 90, 1, 2, 2)
        for name, city in vocab.UNIVERSITY_HOSPITALS:
            self._add_entity("hospital", name, self._place(city, "门诊楼"), "hospital", medical)
        for c in rng.sample(range(len(vocab.CITIES)), 10):
            province, city_name, *_ = vocab.CITIES[c]
            name = rng.choice(vocab.HOSPITAL_PATTERNS).format(city=city_name, prov=province)
            if name not in {e.name for e in self.entities}:
                self._add_entity("hospital", name, self._place(city_name, "门诊楼"), "hospital", medical)
        for c in rng.sample(range(len(vocab.CITIES)), 6):
            province, city_name, short, *_ = vocab.CITIES[c]
            name = rng.choice(vocab.GOVERNMENT_PATTERNS).format(city=city_name, short=short)
            if name not in {e.name for e in self.entities}:
                self._add_entity("government", name, self._place(city_name, "办公楼"), "government",
                                 (30, 5, 15, 10, 40))
        for c in rng.sample(range(len(vocab.CITIES)), 5):
            province, city_name, short, *_ = vocab.CITIES[c]
            name = rng.choice(vocab.OTHER_ORG_PATTERNS).format(city=city_name, short=short, brand=self._brand()[0])
            if name not in {e.name for e in self.entities}:
                self._add_entity("unknown", name, self._place(city_name, "大厦"), "unknown", (30, 10, 10, 30, 20))
        for name, address in vocab.FOREIGN_COMPANIES:
            self._add_entity("foreign", name, address, "company", chains)
        # Domestic companies that are not in the registry; some reuse a registered brand elsewhere.
        for _ in range(max(4, n_firms // 25)):
            city, topic = self._city(), TOPIC_TABLE.draw(rng)
            brand = rng.choice(self.firms).parts.brand if rng.random() < 0.4 else None
            parts = self._unique_parts(city, topic, brand=brand)
            self.names.add(parts.render())
            address, _, postcode = self._address(city)
            self._add_entity("ghost", parts.render(), f"{postcode} {address}" if rng.random() < 0.4 else address,
                             "company", tuple(90 if t == topic else 3 for t in vocab.TOPICS))
        self._build_people(n_firms)

    def _build_people(self, n_firms: int) -> None:
        """Individuals: some run a firm in their city (label = that firm), the rest run nothing we know."""
        rng = self.rng
        reps_in_city = Counter((f.city, f.legal_rep) for f in self.firms)
        runnable = [f for f in self.firms if f.weight > 0 and f.status in dict(OPERATING_TEXTS)
                    and f.role == "regular" and not f.former and reps_in_city[(f.city, f.legal_rep)] == 1]
        self.rep_unique = {f.idx for f in self.firms if reps_in_city[(f.city, f.legal_rep)] == 1}
        for firm in rng.sample(runnable, min(len(runnable), max(3, n_firms // 15))):
            topics = tuple(80 if t == firm.topic else 5 for t in vocab.TOPICS)
            self._add_entity("individual_rep", firm.legal_rep, self._residence(firm.city), "individual", topics,
                             target=firm.idx)
            self.hard["legal_representative_applicants"].append({"name": firm.legal_rep, "firm_id": firm.firm_id})
        for _ in range(max(5, n_firms // 15)):
            city = self._city()
            # Half share a name with some firm's legal representative elsewhere: the city tells them apart.
            name = rng.choice(self.firms).legal_rep if rng.random() < 0.5 else self._person()
            if reps_in_city[(city, name)]:
                continue
            self._add_entity("individual", name, self._residence(city), "individual", (20, 10, 10, 30, 30))
        for kind in ("individual_rep", "individual", "university", "research_institute", "hospital", "government",
                     "unknown", "foreign", "ghost"):
            for entity in rng.sample(self.by_kind.get(kind, []), min(2, len(self.by_kind.get(kind, [])))):
                day = _random_day(rng, dt.date(FIRST_YEAR, 1, 1), LAST_APPLICATION)
                if kind == "individual_rep":
                    day = max(day, self.firms[self.entities[entity].target].established)
                self.forced.append(Seed(day, kind, entity, protected=True))
        for co in ("university", "firm", "person"):
            pool = [i for i in self.rep_unique if self.firms[i].weight > 0 and self.firms[i].role == "regular"
                    and not self.firms[i].former and self.firms[i].status in dict(OPERATING_TEXTS)]
            for idx in rng.sample(sorted(pool), min(2, len(pool))):
                lo = max(self.firms[idx].established, dt.date(FIRST_YEAR, 1, 1))
                self.forced.append(Seed(_random_day(rng, lo, LAST_APPLICATION), "company", idx, co=co,
                                        protected=True))


class _Labels:
    """Ground truth per distinct (raw name, address), written as first seen on a good row."""

    def __init__(self, path: Path):
        self._seen: dict[int, int] = {}
        self._file = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(LABEL_HEADERS)
        self.rows = 0
        self.types: Counter[str] = Counter()

    def consistent(self, name: str, address: str, target: int) -> bool:
        return self._seen.get(hash((name, address)), target) == target

    def add(self, name: str, address: str, target: int, firm_id: str, applicant_type: str) -> None:
        key = hash((name, address))
        if key in self._seen:
            return
        self._seen[key] = target
        self._writer.writerow((name, address, firm_id, applicant_type))
        self.rows += 1
        self.types[applicant_type] += 1

    def close(self) -> None:
        self._file.close()


class _CitationPool:
    """Earlier good patents per topic (compact arrays), plus a few heavily cited star patents."""

    def __init__(self):
        self.codes = {t: array("q") for t in vocab.TOPICS}
        self.filed = {t: array("l") for t in vocab.TOPICS}
        self.published = {t: array("l") for t in vocab.TOPICS}
        self.stars: dict[str, list[int]] = {t: [] for t in vocab.TOPICS}
        self.last_of_firm: dict[int, tuple[int, int]] = {}

    def add(self, topic: str, code: int, filed: dt.date, published: dt.date, firm: int | None, star: bool):
        self.codes[topic].append(code)
        self.filed[topic].append(filed.toordinal())
        self.published[topic].append(published.toordinal())
        if star and len(self.stars[topic]) < 25:
            self.stars[topic].append(len(self.codes[topic]) - 1)
        if firm is not None:
            self.last_of_firm[firm] = (code, published.toordinal())

    def cite(self, rng: random.Random, topic: str, filed: dt.date, n: int, firm: int | None) -> list[int]:
        day = filed.toordinal()
        limit = bisect.bisect_left(self.filed[topic], day - 180)
        out: list[int] = []
        if firm is not None and firm in self.last_of_firm and self.last_of_firm[firm][1] < day and rng.random() < 0.4:
            out.append(self.last_of_firm[firm][0])
        stars = [s for s in self.stars[topic] if s < limit]
        for _ in range(n * 3):
            if len(out) >= n or limit == 0:
                break
            if stars and rng.random() < 0.25:
                i = rng.choice(stars)
            else:
                i = int(limit * (1 - rng.random() ** 2.5))  # recent patents are cited more
                i = min(i, limit - 1)
            if self.published[topic][i] < day and self.codes[topic][i] not in out:
                out.append(self.codes[topic][i])
        return out


def _pub_text(code: int) -> str:
    return f"CN{code // 4:09d}{CODE_KIND[code % 4]}"


class _PatentMaker:
    """Turns a seed (date + first applicant) into one patent record with labelled applicants."""

    def __init__(self, world: _World, seed: int):
        self.world = world
        self.rng = _Rng(f"{seed}:patents")
        self.opencc = OpenCC("s2t")
        self.next_number = {"A": 0, "U": 0, "S": 0}
        self.app_serial: Counter[tuple[int, str]] = Counter()
        self.citations = _CitationPool()
        self.sampler_pick: Callable[[], int] | None = None  # draws a firm alive in the current year
        self.star_cut = sorted((f.weight for f in world.firms), reverse=True)[max(0, len(world.firms) // 50)]

    # --- applicant names ----------------------------------------------------------------------
    def _variant(self, firm: Firm, day: dt.date, variant: str) -> str | None:
        parts, canonical = firm.name_at(day)
        if variant == "legal":
            return NameParts(parts.form, parts.region, parts.brand, parts.industry,
                             vocab.LEGAL_FORM_VARIANTS.get(parts.legal, parts.legal)).render()
        if variant == "bracket":
            if parts.form == "bracket":
                short = parts.region
                return (parts.brand + parts.industry + parts.legal if self.rng.random() < 0.5
                        else short + parts.brand + parts.industry + parts.legal)
            return f"{parts.brand}{parts.industry}（{vocab.CITIES[firm.city][2]}）{parts.legal}"
        if variant == "drop_region":
            return parts.brand + parts.industry + parts.legal if parts.form in ("city", "province") else None
        if variant == "half_width":
            return parts.render(half_width=True) if parts.form == "bracket" else None
        if variant == "traditional":
            return self.opencc.convert(canonical)
        if variant == "typo":
            chars = list(canonical)
            start = canonical.find(parts.brand)
            pos = start + self.rng.randrange(len(parts.brand)) if start >= 0 else self.rng.randrange(len(chars))
            chars[pos] = vocab.TYPO_CHARS.get(chars[pos]) or self.rng.choice(vocab.BRAND_SYLLABLES)[0]
            return "".join(chars)
        if variant == "english" and firm.english and not firm.former:
            style = self.rng.random()
            if style < 0.3:
                return firm.english.upper()
            if style < 0.5:
                return firm.english.replace("Co., Ltd.", "Co.,Ltd")
            return firm.english
        return None

    def firm_name(self, firm: Firm, day: dt.date, address: str, labels: _Labels, forced: str | None) -> str:
        canonical = firm.name_at(day)[1]
        if forced:
            variant = forced
        else:
            r = self.rng.random()
            drop = 0.3 if firm.role == "same_name" else 0.04
            variant = None
            for name, p in (("drop_region", drop), ("legal", 0.07), ("bracket", 0.05), ("half_width", 0.04),
                            ("traditional", 0.03), ("typo", 0.02), ("english", 0.04 if firm.english else 0)):
                if r < p:
                    variant = name
                    break
                r -= p
        if variant:
            name = self._variant(firm, day, variant)
            # A variant never equals a registered name: not even the firm's own former name, which
            # must appear only before the rename.
            if name and name not in self.world.names and labels.consistent(name, address, firm.idx):
                return name
        return canonical

    # --- content --------------------------------------------------------------------------------
    def _kind(self, topic: str, individual: bool, day: dt.date) -> str:
        rng = self.rng
        design = 0.15 if individual else {"smart_mfg": 0.05, "other": 0.1}.get(topic, 0.02)
        utility = 0.5 if individual else {"ai": 0.12, "5g": 0.2, "biomed": 0.15, "smart_mfg": 0.45}.get(topic, 0.55)
        r = rng.random()
        if r < design:
            return "S"
        if r < design + utility:
            return "U"
        age = (LAST_APPLICATION - day).days / 365
        granted = 0.6 if age > 3 else 0.3 if age > 2 else 0.05
        return "B" if rng.random() < granted else "A"

    def _dates(self, kind: str, day: dt.date) -> tuple[str, dt.date]:
        rng = self.rng
        lag = {"A": (180, 540), "B": (600, 1400), "U": (120, 300), "S": (90, 240)}
        published = day + dt.timedelta(days=rng.randint(*lag[kind]))
        if published > LAST_PUBLICATION and kind == "B":
            kind = "A"
            published = day + dt.timedelta(days=rng.randint(*lag[kind]))
        if published > LAST_PUBLICATION:
            published = max(day + dt.timedelta(days=30), LAST_PUBLICATION - dt.timedelta(days=rng.randint(0, 30)))
        return kind, published

    def _legal_status(self, kind: str, day: dt.date) -> str:
        rng = self.rng
        age = (LAST_APPLICATION - day).days / 365
        if kind == "A":
            if age > 4:
                return STATUS_OLD_APPLICATION.draw(rng)
            return STATUS_NEW_APPLICATION.draw(rng)
        if kind == "U" and age > 10:
            return "失效"
        return STATUS_GRANTED.draw(rng)

    def _text(self, topic: str, kind: str) -> tuple[str, str, list[str], str | None]:
        rng = self.rng
        area = rng.choice(vocab.SUBAREAS[topic])
        (tech, tech_en), (obj, obj_en) = rng.choice(area["tech"]), rng.choice(area["objects"])
        ipcs = [rng.choice(area["ipc"][:2])] + rng.sample(area["ipc"], rng.randint(0, len(area["ipc"]) - 1))
        if rng.random() < 0.15:
            ipcs.append(rng.choice(rng.choice(vocab.SUBAREAS[topic])["ipc"]))
        ipcs = list(dict.fromkeys(ipcs))
        field_ = rng.choice(vocab.TOPIC_FIELDS[topic])
        effect = rng.choice(vocab.EFFECTS)
        if kind == "S":
            product = rng.choice(vocab.DESIGN_PRODUCTS[topic])
            title = f"{product}（{rng.choice('ABCDEFGHKMXZ')}{rng.randint(1, 900)}）" if rng.random() < 0.5 else product
            abstract = (f"1．本外观设计产品的名称：{title}。2．本外观设计产品的用途：用于{field_}领域。"
                        "3．本外观设计产品的设计要点：在于形状。4．最能表明设计要点的图片或照片：立体图。")
            return title, abstract, ipcs, None
        if kind == "U":
            device, device_en = rng.choice(vocab.DEVICE_FORMS)
            parts = rng.sample(vocab.DEVICE_PARTS, 3)
            title = f"一种用于{obj}的{tech}{device}"
            abstract = (f"本实用新型公开了一种用于{obj}的{tech}{device}，涉及{field_}技术领域，包括{parts[0]}、"
                        f"{parts[1]}和{parts[2]}，所述{parts[0]}上设置有{parts[1]}，所述{parts[2]}与{parts[1]}连接。"
                        f"本实用新型结构简单，{effect}。")
            return title, abstract, ipcs, f"{tech_en.capitalize()} {device_en} for {obj_en}"
        form, form_en = rng.choice(vocab.INVENTION_FORMS)
        drug = topic == "biomed" and not area.get("device")
        if drug and rng.random() < 0.6:
            title, title_en = f"一种{tech}及其在{obj}中的应用", f"{tech_en.capitalize()} and use thereof in {obj_en}"
        else:
            title = rng.choice((f"一种基于{tech}的{obj}{form}", f"基于{tech}的{obj}{form}", f"{obj}{form}"))
            title_en = f"{obj_en.capitalize()} {form_en} based on {tech_en}"
        other = rng.choice(rng.choice(vocab.SUBAREAS[topic])["tech"])[0]
        steps = {
            "ai": (f"获取与{obj}相关的原始数据并进行预处理", f"构建基于{tech}的{obj}模型",
                   f"利用{other}对所述模型进行训练和推理", f"根据推理结果输出{obj}结果"),
            "5g": (f"终端接收网络设备发送的{tech}配置信息", f"基站根据所述配置信息确定{obj}参数",
                   f"结合{other}完成{obj}", "终端根据所述参数进行数据传输"),
            "biomed": (f"所述{tech}包含治疗有效量的活性成分", f"提供所述{tech}的制备方法",
                       f"经实验验证，所述{tech}在{obj}中效果显著", f"可与{other}联合使用"),
            "smart_mfg": (f"所述{tech}设置有控制单元和传感单元", "通过视觉传感器采集工件的位置信息",
                          f"控制单元根据所述位置信息完成{obj}", f"并结合{other}实现闭环控制"),
            "other": (f"所述{obj}包括主体和设置于主体上的功能组件", f"采用{tech}结构", "便于安装和维护",
                      "使用方便"),
            "device": (f"所述{tech}设备包括探测单元和图像处理单元", "图像处理单元对采集的信号进行重建",
                       f"根据重建结果完成{obj}", f"并结合{other}辅助诊断"),
        }["device" if topic == "biomed" and not drug else topic]
        abstract = (f"本发明公开了一种{title.removeprefix('一种')}，涉及{field_}技术领域。其技术方案包括："
                    f"{'；'.join(steps[: rng.randint(2, 4)])}。本发明通过{tech}，{effect}。")
        return title, abstract, ipcs, title_en

    def _inventors(self, first: str | None) -> list[str]:
        people = [_person_name(self.rng) for _ in range(self.rng.randint(1, 6))]
        return list(dict.fromkeys(([first] if first else []) + people))

    def _number(self, kind: str, published: dt.date) -> int:
        series = "A" if kind in "AB" else kind
        start = {"A": 102_000_000, "U": 202_000_000, "S": 302_000_000}[series]
        step = {"A": 1_400_000, "U": 1_500_000, "S": 550_000}[series]
        base = start + (published.year - FIRST_YEAR) * step
        number = max(base, self.next_number[series] + 1) + self.rng.randint(0, 30)
        self.next_number[series] = number
        return number * 4 + KIND_CODE[kind]

    def _application_number(self, kind: str, day: dt.date) -> str:
        key = (day.year, APPLICATION_TYPE_DIGIT[kind])
        self.app_serial[key] += 1 + self.rng.randint(0, 20)
        digits = f"{day.year}{key[1]}{self.app_serial[key]:07d}"
        return digits + application_check_char(digits)

    # --- one patent -----------------------------------------------------------------------------
    def make(self, seed: Seed, labels: _Labels) -> dict:
        """The patent as canonical values plus its applicants as (name, label address, target, type)."""
        world, rng, day = self.world, self.rng, seed.day
        applicants: list[tuple[str, str, int, str]] = []
        firm: Firm | None = None
        if seed.kind == "company":
            firm = world.firms[seed.entity]
            topic = firm.topic if rng.random() < 0.88 else TOPIC_TABLE.draw(rng)
            postcode_first = firm.postcode_first != (rng.random() < 0.1)
            address = f"{firm.postcode} {firm.address}" if postcode_first else firm.address
            applicants.append((self.firm_name(firm, day, address, labels, seed.variant), address, firm.idx, "company"))
            first_person = None
        else:
            entity = world.entities[seed.entity]
            topic = entity.topics.draw(rng)
            address = entity.address
            applicants.append((entity.name, address, entity.target, entity.applicant_type))
            first_person = entity.name if entity.applicant_type == "individual" else None
        self._co_applicants(seed, firm, topic, applicants, labels)
        kind, published = self._dates(self._kind(topic, first_person is not None, day), day)
        title, abstract, ipcs, title_en = self._text(topic, kind)
        code = self._number(kind, published)
        n_cites = 0 if kind == "S" else rng.choice((0, 1, 1, 2, 3, 3, 4, 5, 6, 8) if kind in "AB" else (0, 0, 1, 2, 3))
        cited = self.citations.cite(rng, topic, day, n_cites, firm.idx if firm else None)
        claims = None if kind == "S" else rng.randint(4, 20) if kind in "AB" else rng.randint(3, 10)
        star = kind in "AB" and firm is not None and firm.weight >= self.star_cut and rng.random() < 0.05
        return {"code": code, "kind": kind, "application_number": self._application_number(kind, day),
                "application_date": day, "publication_date": published, "title": title, "title_en": title_en,
                "abstract": abstract, "applicants": applicants, "inventors": self._inventors(first_person),
                "address": address, "ipc": ipcs, "cited": cited, "claims": claims,
                "legal_status": self._legal_status(kind, day), "topic": topic, "firm": firm, "star": star}

    def _co_applicants(self, seed: Seed, firm: Firm | None, topic: str, applicants: list, labels: _Labels) -> None:
        world, rng, day = self.world, self.rng, seed.day
        r = rng.random()
        co = seed.co
        if co is None and firm is not None:
            co = "university" if r < 0.08 else "firm" if r < 0.13 else "person" if r < 0.16 else \
                "research_institute" if r < 0.18 else "hospital" if r < 0.19 and topic == "biomed" else None
        elif co is None and seed.kind in ("university", "hospital", "research_institute") and r < 0.15:
            co = "firm"
        if co in ("university", "research_institute", "hospital"):
            entity = world.entities[rng.choice(world.by_kind[co])]
            if entity.name != applicants[0][0]:
                applicants.append((entity.name, "", -1, entity.applicant_type))
        elif co == "firm":
            partner = self._partner(firm, day)
            if partner is not None:
                name = partner.name_at(day)[1]
                if labels.consistent(name, "", partner.idx) and name != applicants[0][0]:
                    applicants.append((name, "", partner.idx, "company"))
        elif co == "person" and firm is not None and firm.idx in world.rep_unique:
            if labels.consistent(firm.legal_rep, "", firm.idx):
                applicants.append((firm.legal_rep, "", firm.idx, "individual"))

    def _partner(self, firm: Firm | None, day: dt.date) -> Firm | None:
        world, rng = self.world, self.rng
        if firm is not None and firm.parent is not None:
            return world.firms[firm.parent]
        for _ in range(8):
            other = world.firms[self.sampler_pick()]
            if (other is not firm and other.established <= day <= other.last_filing
                    and (firm is None or other.city == firm.city or rng.random() < 0.3)):
                return other
        return None


class _PatentFiles:
    """The three patent exports, each with its own formatting habits and scheduled bad rows."""

    def __init__(self, out_dir: Path, n_patents: int, seed: int):
        self.rng = _Rng(f"{seed}:format")
        xlsx = min(XLSX_PATENT_ROW_CAP, round(0.2 * n_patents))
        cnipa = round((n_patents - xlsx) * 45 / 80)
        self.quota = {"patents/cnipa_export.csv": cnipa, "patents/incopat_export.csv": n_patents - xlsx - cnipa,
                      "patents/patsnap_export.xlsx": xlsx}
        self.rows = dict.fromkeys(self.quota, 0)
        self.remaining = sum(self.quota.values())
        self.bad: dict[str, list[dict]] = {f: [] for f in self.quota}
        self.schedule: dict[str, set[int]] = {}
        self.pending: Counter[str] = Counter()
        self.defects: dict[str, list[str]] = {}
        for name, n in self.quota.items():
            kinds = ["missing_publication_number", "impossible_date"] + (["wrong_column_count"] if
                                                                          name.endswith(".csv") else [])
            k = min(n // 4, max(len(kinds), round(BAD_ROW_RATE * n)))
            self.schedule[name] = set(self.rng.sample(range(1, n + 1), k)) if n else set()
            self.defects[name] = (kinds + [self.rng.choice(kinds) for _ in range(k - len(kinds))])[:k]
            self.rng.shuffle(self.defects[name])
        self.paths = {name: out_dir / name for name in self.quota}
        self._csv_files = {}
        self._writers = {}
        for name in ("patents/cnipa_export.csv", "patents/incopat_export.csv"):
            handle = self.paths[name].open("w", encoding=PATENT_ENCODINGS[name], newline="")
            self._csv_files[name] = handle
            self._writers[name] = csv.writer(handle)
            self._writers[name].writerow(PATENT_HEADERS[name])
        self._sheet = _XlsxWriter(self.paths["patents/patsnap_export.xlsx"], "专利检索结果",
                                  PATENT_HEADERS["patents/patsnap_export.xlsx"])

    def choose_file(self) -> tuple[str, int]:
        r = self.rng.random() * self.remaining
        for name, quota in self.quota.items():
            left = quota - self.rows[name]
            if r < left:
                break
            r -= left
        self.remaining -= 1
        self.rows[name] += 1
        return name, self.rows[name]

    def defect_for(self, name: str, position: int, protected: bool) -> str | None:
        if position in self.schedule[name]:
            self.pending[name] += 1
        if self.pending[name] and not protected and self.defects[name]:
            self.pending[name] -= 1
            return self.defects[name].pop()
        return None

    # --- value formatting -----------------------------------------------------------------------
    def _pub(self, code: int) -> str:
        text = _pub_text(code)
        style = self.rng.random()
        if style < 0.05:
            return f"{text[:2]} {text[2:-1]} {text[-1]}"
        if style < 0.09:
            return f"{text[:-1]} {text[-1]}"
        if style < 0.12:
            return text.lower()
        return text

    def _ipc(self, code: str, style: str) -> str:
        if style == "long":
            subclass, rest = code[:4], code[4:]
            main, sub = rest.split("/")
            return f"{subclass}{int(main):04d}{sub.ljust(6, '0')}"
        if style == "spaced":
            return f"{code[:4]} {code[4:]}"
        return code

    def _date(self, day: dt.date, name: str) -> str:
        r = self.rng.random()
        if name.startswith("patents/incopat"):
            return day.strftime("%Y%m%d") if r < 0.6 else f"{day.year}/{day.month}/{day.day}"
        return day.isoformat() if r < 0.75 else day.strftime("%Y.%m.%d")

    def row(self, name: str, p: dict) -> list:
        rng = self.rng
        incopat, patsnap = name.startswith("patents/incopat"), name.endswith(".xlsx")
        app = p["application_number"]
        styles = (("plain", 70), ("dot", 30)) if incopat else (("cn_dot", 60 if patsnap else 80), ("dot", 40))
        app_text = {"plain": app, "dot": f"{app[:-1]}.{app[-1]}",
                    "cn_dot": f"CN{app[:-1]}.{app[-1]}"}[_weighted(rng, styles)]
        if patsnap:
            sep = " | " if rng.random() < 0.7 else ";"
            ipc_style, ipc_sep = "compact", ";"
        elif incopat:
            sep = "; " if rng.random() < 0.7 else " | "
            ipc_style, ipc_sep = ("long" if rng.random() < 0.35 else "compact"), rng.choice(("；", ","))
        else:
            sep = "；" if rng.random() < 0.85 else ";"
            ipc_style, ipc_sep = ("spaced" if rng.random() < 0.1 else "compact"), ";"
        title = p["title"]
        if patsnap and p["title_en"] and rng.random() < 0.08:
            title = p["title_en"]
        dates = [p["application_date"], p["publication_date"]]
        return [self._pub(p["code"]), app_text,
                *(d if patsnap else self._date(d, name) for d in dates),
                title, p["abstract"], sep.join(a[0] for a in p["applicants"]), sep.join(p["inventors"]),
                p["address"], self._ipc(p["ipc"][0], ipc_style), ipc_sep.join(self._ipc(c, ipc_style) for c in p["ipc"]),
                "; ".join(_pub_text(c) for c in p["cited"]),
                p["claims"] if patsnap else ("" if p["claims"] is None else str(p["claims"])),
                p["legal_status"], KIND_TYPE_TEXT[p["kind"]]]

    def write(self, name: str, position: int, row: list, defect: str | None) -> None:
        headers = PATENT_HEADERS[name]
        if defect:
            entry = {"position": position, "defect": defect}
            if defect == "missing_publication_number":
                row[0] = None if name.endswith(".xlsx") else ""
                entry.update(field=headers[0], column=PATENT_COLUMNS[0], value="")
            elif defect == "impossible_date":
                day = row[2] if isinstance(row[2], dt.date) else None
                year = day.year if day else int(re.sub(r"\D", "", row[2])[:4])
                month, dom = self.rng.choice(((2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31), (13, 5)))
                row[2] = (f"{year}{month:02d}{dom:02d}" if name.startswith("patents/incopat")
                          else f"{year}-{month:02d}-{dom:02d}")
                entry.update(field=headers[2], column=PATENT_COLUMNS[2], value=row[2])
            else:  # the line has one field too few or too many
                if self.rng.random() < 0.5:
                    del row[5]
                else:
                    row.insert(5, "")
                entry.update(field="*", column="*", value=f"{len(row)} of {len(headers)} columns")
            self.bad[name].append(entry)
        if name.endswith(".xlsx"):
            self._sheet.append(row)
        else:
            self._writers[name].writerow(row)

    def close(self) -> None:
        for handle in self._csv_files.values():
            handle.close()
        self._sheet.close()


_XLSX_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'),
    "_rels/.rels": (
        f'<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
        f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
    "xl/workbook.xml": (
        f'<workbook xmlns="{_XLSX_NS}" xmlns:r="{_REL_NS}"><sheets>'
        '<sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>'),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_PKG_REL_NS}">'
        f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/></Relationships>'),
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_XLSX_NS}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
        '</numFmts><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/>'
        '</fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
}
_EXCEL_EPOCH = dt.date(1899, 12, 30)


class _XlsxWriter:
    """Streams one worksheet of inline strings, numbers and date cells into an XLSX file.

    openpyxl's write-only mode costs about half a millisecond a row, minutes for a 255k-row
    registry; this writes the same standard parts directly, with fixed zip timestamps so the
    bytes are reproducible.
    """

    def __init__(self, path: Path, sheet: str, headers: tuple[str, ...]):
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        for name, xml in _XLSX_PARTS.items():
            self._zip.writestr(self._info(name), _XML_DECL + xml.replace("{sheet}", escape(sheet)))
        self._sheet = self._zip.open(self._info("xl/worksheets/sheet1.xml"), "w")
        self._sheet.write(f'{_XML_DECL}<worksheet xmlns="{_XLSX_NS}"><sheetData>'.encode())
        self._columns = [chr(ord("A") + i) for i in range(len(headers) + 1)]
        self._row = 0
        self.append(headers)

    @staticmethod
    def _info(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    def append(self, values) -> None:
        self._row += 1
        r = self._row
        cells = []
        for column, value in zip(self._columns, values, strict=False):
            if value is None or value == "":
                continue
            kind = type(value)
            if kind is str:
                cells.append(f'<c r="{column}{r}" t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>')
            elif kind is dt.date:
                cells.append(f'<c r="{column}{r}" s="1"><v>{(value - _EXCEL_EPOCH).days}</v></c>')
            else:
                cells.append(f'<c r="{column}{r}"><v>{value}</v></c>')
        self._sheet.write(f'<row r="{r}">{"".join(cells)}</row>'.encode())

    def close(self) -> None:
        self._sheet.write(b"</sheetData></worksheet>")
        self._sheet.close()
        self._zip.close()


_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _year_counts(n_patents: int, forced: list[Seed]) -> dict[int, int]:
    years = list(range(FIRST_YEAR, LAST_YEAR + 1))
    weights = [1.13 ** (y - FIRST_YEAR) * (0.7 if y == LAST_YEAR else 1.0) for y in years]
    counts = dict(zip(years, _largest_remainder(n_patents, weights), strict=True))
    needed = Counter(s.day.year for s in forced)
    for y in years:  # forced filings must fit; take the slack from the busiest years
        while counts[y] < needed[y]:
            donor = max(years, key=lambda d: counts[d] - needed[d])
            counts[donor] -= 1
            counts[y] += 1
    return counts


def _year_sampler(world: _World, year: int):
    lo, hi = dt.date(year, 1, 1), dt.date(year, 12, 31)
    alive, cumulative, total = [], [], 0.0
    for firm in world.firms:
        if firm.weight > 0 and firm.established <= hi and firm.last_filing >= lo:
            total += firm.weight * math.exp(firm.growth * (year - 2018))
            alive.append(firm.idx)
            cumulative.append(total)
    return alive, cumulative, total


def _write_registry(world: _World, out_dir: Path, seed: int) -> tuple[dict, list[Path]]:
    rng = _Rng(f"{seed}:registry")
    order = list(range(len(world.firms)))
    rng.shuffle(order)
    split = round(0.85 * len(order))
    parts = {"firms/registry.xlsx": order[:split], "firms/registry_extra.csv": order[split:]}
    # Malformed codes go only on firms nothing depends on: no patents, no relations, no labels.
    referenced = {f.parent for f in world.firms} | {f.successor for f in world.firms}
    referenced |= {e.target for e in world.entities}
    quiet = {f.idx for f in world.firms if f.weight == 0 and f.role == "regular" and f.idx not in referenced}
    bad: dict[int, dict] = {}
    for idxs in parts.values():
        candidates = [i for i in idxs if i in quiet]
        k = min(len(candidates), max(1, round(BAD_ROW_RATE * len(idxs))))
        for i in rng.sample(candidates, k):
            code = world.firms[i].firm_id
            how = rng.choice(("check_digit", "length", "illegal_char"))
            if how == "check_digit":
                value = code[:17] + rng.choice([c for c in USCC_CHARS if c != code[17]])
            elif how == "length":
                value = code[:-1]
            else:
                value = code[:10] + rng.choice("IOSVZ") + code[11:]
            bad[i] = {"defect": "malformed_credit_code", "field": "统一社会信用代码", "column": "firm_id",
                      "value": value}
    files = {}
    for name, idxs in parts.items():
        xlsx = name.endswith(".xlsx")
        if xlsx:
            sheet = _XlsxWriter(out_dir / name, "企业信息", REGISTRY_HEADERS)
            write = sheet.append
        else:
            handle = (out_dir / name).open("w", encoding="utf-8", newline="")
            writer = csv.writer(handle)
            writer.writerow(REGISTRY_HEADERS)
            write = writer.writerow
        rows = []
        for position, i in enumerate(track(idxs, f"writing {name}", total=len(idxs)), start=1):
            firm = world.firms[i]
            if i in bad:
                rows.append({"position": position, **bad[i]})
            values = [firm.name, bad[i]["value"] if i in bad else firm.firm_id,
                      "；".join(n for _, n, _ in reversed(firm.former)), firm.english or "",
                      firm.status, firm.established, firm.deregistered, firm.capital,
                      vocab.CITIES[firm.city][0], vocab.CITIES[firm.city][1], firm.address, firm.industry_code,
                      firm.size, firm.employees, firm.legal_rep,
                      world.firms[firm.parent].firm_id if firm.parent is not None else "",
                      world.firms[firm.successor].firm_id if firm.successor is not None else ""]
            if not xlsx:
                for k in (5, 6):
                    day = values[k]
                    values[k] = "" if day is None else (day.isoformat() if rng.random() < 0.8
                                                        else f"{day.year}/{day.month}/{day.day}")
            write(values)
        (sheet.close if xlsx else handle.close)()
        files[name] = {"kind": "firms", "encoding": "xlsx" if xlsx else "utf-8", "rows": len(idxs),
                       "bad_rows": rows}
    return files, [out_dir / name for name in parts]


def generate(out_dir: Path, n_patents: int = 3000, n_firms: int = 800, seed: int = 7) -> GeneratedDataset:
    """Write a synthetic demo dataset into `out_dir` and return the paths of what was written."""
    if n_patents < 200:
        raise ValueError(f"n_patents={n_patents} is too small: need at least 200")
    out_dir = Path(out_dir)
    (out_dir / "patents").mkdir(parents=True, exist_ok=True)
    (out_dir / "firms").mkdir(parents=True, exist_ok=True)
    world = _World(n_firms, seed)
    if len(world.forced) > n_patents // 2:
        raise ValueError(f"n_patents={n_patents} is too small for n_firms={n_firms}: the hard cases alone need "
                         f"{len(world.forced)} filings; use at least {2 * len(world.forced)} patents")
    registry_files, firm_paths = _write_registry(world, out_dir, seed)

    maker = _PatentMaker(world, seed)
    files = _PatentFiles(out_dir, n_patents, seed)
    labels = _Labels(out_dir / "labels.csv")
    plan_rng = _Rng(f"{seed}:plan")
    counts = _year_counts(n_patents, world.forced)
    forced_by_year: dict[int, list[Seed]] = {}
    for s in world.forced:
        forced_by_year.setdefault(s.day.year, []).append(s)
    mix = _Weights([(k, w) for k, w in APPLICANT_MIX if k == "company" or world.by_kind.get(k)])
    firm_patents: Counter[int] = Counter()
    former_name_patents: Counter[int] = Counter()
    topic_counts: Counter[str] = Counter()

    def seeds():
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            alive, cumulative, total = _year_sampler(world, year)

            def pick(alive=alive, cumulative=cumulative, total=total) -> int:
                return alive[min(len(alive) - 1, bisect.bisect(cumulative, plan_rng.random() * total))]

            maker.sampler_pick = pick
            year_seeds = list(forced_by_year.get(year, []))
            lo, hi = dt.date(year, 1, 1), min(dt.date(year, 12, 31), LAST_APPLICATION)
            for _ in range(counts[year] - len(year_seeds)):
                kind = mix.draw(plan_rng)
                if kind == "company" and alive:
                    firm = world.firms[pick()]
                    day = _random_day(plan_rng, max(lo, firm.established), min(hi, firm.last_filing))
                    year_seeds.append(Seed(day, kind, firm.idx))
                else:
                    kind = "university" if kind == "company" else kind
                    entity = plan_rng.choice(world.by_kind[kind])
                    day = _random_day(plan_rng, lo, hi)
                    target = world.entities[entity].target
                    if target >= 0:
                        day = max(day, world.firms[target].established)
                    year_seeds.append(Seed(day, kind, entity))
            year_seeds.sort(key=lambda s: s.day)  # stable: ties keep their generation order
            yield from year_seeds

    for seed_ in track(seeds(), "generating patents", total=n_patents):
        name, position = files.choose_file()
        defect = files.defect_for(name, position, seed_.protected)
        patent = maker.make(seed_, labels)
        files.write(name, position, files.row(name, patent), defect)
        if defect:
            continue
        firm = patent["firm"]
        for k, (applicant, address, target, applicant_type) in enumerate(patent["applicants"]):
            labels.add(applicant, address if k == 0 else "", target,
                       world.firms[target].firm_id if target >= 0 else NONE, applicant_type)
            if target >= 0:
                firm_patents[target] += 1
        if firm is not None and firm.former and patent["application_date"] < firm.former[-1][2]:
            former_name_patents[firm.idx] += 1
        topic_counts[patent["topic"]] += 1
        maker.citations.add(patent["topic"], patent["code"], patent["application_date"], patent["publication_date"],
                            firm.idx if firm else None, patent["star"])
    files.close()
    labels.close()

    by_id = {f.firm_id: f.idx for f in world.firms}
    for entry in world.hard["renamed"]:
        entry["patents_under_former_names"] = former_name_patents[by_id[entry["firm_id"]]]
        entry["patents"] = firm_patents[by_id[entry["firm_id"]]]
    for key in ("deregistered_after_filing", "revoked"):
        for entry in world.hard[key]:
            entry["patents"] = firm_patents[by_id[entry["firm_id"]]]
    for entry in world.hard["parent_subsidiary"]:
        entry["parent_patents"] = firm_patents[by_id[entry["parent_id"]]]
        entry["subsidiary_patents"] = firm_patents[by_id[entry["subsidiary_id"]]]
    for entry in world.hard["same_name_pairs"]:
        entry["patents"] = [firm_patents[by_id[i]] for i in entry["firm_ids"]]

    activity = sorted(firm_patents.values(), reverse=True)
    good = n_patents - sum(len(b) for b in files.bad.values())
    manifest = {
        "generator": "ingest.generator", "format_version": 1, "synthetic": True,
        "seed": seed, "n_patents": n_patents, "n_firms": n_firms,
        "files": {
            **{name: {"kind": "patents", "encoding": PATENT_ENCODINGS[name], "rows": files.rows[name],
                      "bad_rows": sorted(files.bad[name], key=lambda b: b["position"])} for name in files.quota},
            **registry_files,
            "labels.csv": {"kind": "labels", "encoding": "utf-8", "rows": labels.rows},
        },
        "totals": {"patent_rows": n_patents, "patent_rows_good": good, "firm_rows": len(world.firms),
                   "firm_rows_bad": sum(len(f["bad_rows"]) for f in registry_files.values()),
                   "labels": labels.rows, "labels_by_applicant_type": dict(sorted(labels.types.items())),
                   "patents_by_topic": dict(sorted(topic_counts.items())),
                   "firms_with_patents": len(activity),
                   "top_1pct_firms_share_of_filings": round(sum(activity[: max(1, len(activity) // 100)])
                                                            / max(1, sum(activity)), 3)},
        "label_policy": ("labels.csv covers the applicants of good rows only (bad rows are left out); "
                         "address is the patent's address for the first applicant and empty for co-applicants; "
                         "expected_firm_id is the registered entity that is the applicant (for individuals, the firm "
                         "they run) or NONE; parent/subsidiary attribution is listed under hard_cases"),
        "hard_cases": world.hard,
    }
    manifest_path = out_dir / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return GeneratedDataset(patent_files=[files.paths[n] for n in files.quota], firm_files=firm_paths,
                            labels=out_dir / "labels.csv", manifest=manifest_path)


_PV_CPC = ("G06N3/08", "G06F16/245", "H04L9/32", "H01M10/0525", "B64C39/024", "G05D1/106", "H04W72/04",
           "G06T7/70", "A61K31/4439", "C07D401/04", "H01L27/146", "G06Q40/02")


def patentsview_bulk(out_dir: Path, n_patents: int, seed: int = 7) -> Path:
    """A PatentsView bulk set (g_patent and the tables joined on patent_id) of `n_patents` invented patents.

    Per patent: 1–3 assignees (sequence order shuffled in the file), 1–3 inventors, 2–8 CPC and
    1–4 IPC rows, 0–20 citations; one side row in 500 names a patent_id g_patent lacks (an orphan
    the ingest quarantines). The citation table is written as `.tsv.zip`, as PatentsView ships it.
    """
    rng = random.Random(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    locations = [(f"loc-{i}", city, "", "CN") for i, city in enumerate(("Shenzhen", "Beijing", "Shanghai", "Hangzhou",
                                                                         "Suzhou", "Chengdu", "Wuhan", "Xi'an"))]
    organisations = [f"{city} {word} Technology Co., Ltd." for city in ("Shenzhen", "Beijing", "Hangzhou", "Suzhou")
                     for word in ("Zhixin", "Huarui", "Lingyun", "Tianchen", "Jingwei", "Haoran", "Qiming")]
    first = 10_000_000
    names = ("g_patent", "g_patent_abstract", "g_application", "g_assignee_disambiguated", "g_inventor_disambiguated",
             "g_cpc_current", "g_ipc_at_issue", "g_location_disambiguated")
    headers = {
        "g_patent": ("patent_id", "patent_type", "patent_date", "patent_title", "wipo_kind", "num_claims", "withdrawn",
                     "filename"),
        "g_patent_abstract": ("patent_id", "patent_abstract"),
        "g_application": ("application_id", "patent_id", "patent_application_type", "filing_date", "series_code",
                          "rule_47_flag"),
        "g_assignee_disambiguated": ("patent_id", "assignee_sequence", "assignee_id",
                                     "disambig_assignee_individual_name_first",
                                     "disambig_assignee_individual_name_last", "disambig_assignee_organization",
                                     "assignee_type", "location_id"),
        "g_inventor_disambiguated": ("patent_id", "inventor_sequence", "inventor_id", "disambig_inventor_name_first",
                                     "disambig_inventor_name_last", "gender_code", "location_id"),
        "g_cpc_current": ("patent_id", "cpc_sequence", "cpc_section", "cpc_class", "cpc_subclass", "cpc_group",
                          "cpc_type"),
        "g_ipc_at_issue": ("patent_id", "ipc_sequence", "classification_level", "section", "ipc_class", "subclass",
                           "main_group", "subgroup", "symbol_position", "classification_value"),
        "g_location_disambiguated": ("location_id", "disambig_city", "disambig_state", "disambig_country"),
        "g_us_patent_citation": ("patent_id", "citation_sequence", "citation_patent_id", "citation_date", "record_name",
                                 "wipo_kind", "citation_category"),
    }
    handles = {name: open(out_dir / f"{name}.tsv", "w", encoding="utf-8", newline="") for name in names}
    citations = out_dir / "g_us_patent_citation.tsv"
    handles["g_us_patent_citation"] = open(citations, "w", encoding="utf-8", newline="")
    writers = {name: csv.writer(handle, delimiter="\t", lineterminator="\n") for name, handle in handles.items()}
    for name, writer in writers.items():
        writer.writerow(headers[name])
    writers["g_location_disambiguated"].writerows(locations)
    try:
        for serial in range(n_patents):
            patent_id = str(first + serial)
            if rng.random() < 0.002:  # a side row whose patent is not in g_patent
                writers["g_cpc_current"].writerow((str(first - 1 - serial), "0", "G", "G06", "G06N", "G06N3/08",
                                                   "inventional"))
            day = _random_day(rng, dt.date(2015, 1, 6), dt.date(2024, 12, 31))
            writers["g_patent"].writerow((patent_id, "utility", day.isoformat(), f"System and method {serial}", "B2",
                                          str(rng.randint(1, 40)), "0", f"ipg{day:%y%m%d}.xml"))
            writers["g_patent_abstract"].writerow((patent_id, f"An invented abstract for patent {serial}, " * 4))
            writers["g_application"].writerow((f"{rng.randint(14, 17)}/{rng.randint(100000, 999999)}", patent_id,
                                               "utility", (day - dt.timedelta(days=rng.randint(300, 1500))).isoformat(),
                                               "15", "0"))
            assignees = rng.sample(range(len(organisations)), rng.randint(1, 3))
            for sequence in rng.sample(range(len(assignees)), len(assignees)):
                writers["g_assignee_disambiguated"].writerow((
                    patent_id, str(sequence), f"a-{assignees[sequence]}", "", "", organisations[assignees[sequence]],
                    "3", rng.choice(locations)[0]))
            for sequence in range(rng.randint(1, 3)):
                writers["g_inventor_disambiguated"].writerow((patent_id, str(sequence), f"i-{serial}-{sequence}",
                                                              _person_name(rng), "Wang", "", ""))
            for sequence, code in enumerate(rng.sample(_PV_CPC, rng.randint(2, 8))):
                writers["g_cpc_current"].writerow((patent_id, str(sequence), code[0], code[:3], code[:4], code,
                                                   "inventional" if sequence == 0 else "additional"))
            for sequence, code in enumerate(rng.sample(_PV_CPC, rng.randint(1, 4))):
                group, subgroup = code[4:].split("/")
                writers["g_ipc_at_issue"].writerow((patent_id, str(sequence), "A", code[0], code[1:3], code[3], group,
                                                    subgroup, "F" if sequence == 0 else "L", "I"))
            for sequence in range(rng.randint(0, 20)):
                writers["g_us_patent_citation"].writerow((patent_id, str(sequence), str(rng.randint(4_000_000, first)),
                                                          "2010-01-01", "Smith", rng.choice(("A", "B1", "B2")),
                                                          "cited by examiner"))
    finally:
        for handle in handles.values():
            handle.close()
    with zipfile.ZipFile(out_dir / "g_us_patent_citation.tsv.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(citations, citations.name)
    citations.unlink()
    return out_dir
