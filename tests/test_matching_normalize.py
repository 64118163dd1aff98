"""Name normalisation, legal forms and applicant-type classification (Chinese and English)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from matching import classify_applicant, normalize_name
from matching.geo import parse_address
from matching.normalize import glued_clause_text, parse_name

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.mark.parametrize(("raw", "key", "province", "city", "legal"), [
    ("深圳市大疆创新科技有限公司", "深圳市大疆创新科技", "广东", "深圳", "limited"),
    ("腾讯科技（深圳）有限公司", "腾讯科技", "广东", "深圳", "limited"),
    ("騰訊科技(深圳)有限公司", "腾讯科技", "广东", "深圳", "limited"),  # traditional, half-width brackets
    ("腾讯科技【北京】有限责任公司", "腾讯科技", "北京", "北京", "limited"),
    ("ＡＢＣ智能科技有限公司", "abc智能科技", None, None, "limited"),  # full-width letters
    ("华兴 智能科技 股份有限公司", "华兴智能科技", None, None, "joint_stock"),
    ("华兴智能科技股份公司", "华兴智能科技", None, None, "joint_stock"),
    ("北京鸿图控股集团有限公司", "北京鸿图控股", "北京", "北京", "group"),
    ("鸿图科技（集团）股份有限公司", "鸿图科技", None, None, "joint_stock"),
    ("广东省华兴电子有限公司", "广东省华兴电子", "广东", None, "limited"),
    ("中山大学", "中山大学", None, None, ""),  # 中山 is a city, but not as a bare name prefix
    ("Huawei Technologies Co., Ltd.", "huawei technologies", None, None, "limited"),
    ("HUAWEI TECHNOLOGIES CO.,LTD", "huawei technologies", None, None, "limited"),
    ("Huaxing Intelligent Technology (Shenzhen) Co., Ltd.", "huaxing intelligent technology", "广东", "深圳",
     "limited"),
    ("XI'AN HUAXING CO., LTD.", "xian huaxing", "陕西", "西安", "limited"),
    ("Siemens Aktiengesellschaft", "siemens", None, None, "joint_stock"),
    ("The Procter & Gamble Company", "procter gamble", None, None, "company"),
    ("U.S. Order, Inc.", "us order", None, None, "joint_stock"),
    ("Société Générale S.A.", "societe generale", None, None, "joint_stock"),
    ("Boeing Company, The", "boeing", None, None, "company"),  # register-style inverted article
    ("J. R. Setina Manufacturing Co.", "jr setina manufacturing", None, None, "company"),  # spaced initials
    ("Tropar Mfg. Co., Inc.", "tropar manufacturing", None, None, "joint_stock"),  # abbreviation spelled out
    ("Grupo Acme, S.A. de C.V.", "grupo acme", None, None, "joint_stock"),  # ISO 20275 (Mexico)
    ("Brose Fahrzeugteile GmbH & Co. KG", "brose fahrzeugteile", None, None, "partnership"),
    ("Acme Sp. z o.o.", "acme", None, None, "limited"),
])
def test_normalisation_table(raw, key, province, city, legal):
    parsed = parse_name(raw)
    assert normalize_name(raw) == key
    assert (parsed.province, parsed.city, parsed.legal_form) == (province, city, legal)


@pytest.mark.parametrize(("one", "other"), [
    ("J.R. Setina Manufacturing Co.", "J. R. Setina Manufacturing Co."),
    ("The Boeing Company", "BOEING COMPANY, THE"),
    ("Tropar Mfg. Co., Inc.", "Tropar Manufacturing Company, Inc."),
    ("Smith Bros. Inc.", "Smith Brothers, Inc."),
    ("Bowe Bell + Howell Postal Systems Company", "Bowe Bell & Howell Postal Systems Company"),
    ("Industrial Research Development, Inc.", "Industrial Research And Development Inc."),
    ("Netforensics, Inc.", "Netforensics.Com, Inc."),
])
def test_register_and_patent_spellings_meet(one, other):
    assert normalize_name(one) == normalize_name(other)


@pytest.mark.parametrize("raw", [
    "张伟", "欧阳娜娜", "張偉",  # people (legal representatives); a traditional name is converted
    "王二集团", "李四公司",  # short names ending in a legal form lose it
    "北京小明", "北京市华兴科技",  # a leading place stays in the key
    "华为技术有限公司北京分公司", "王 伟", "Li Wei", "",
])
def test_key_of_a_short_han_name_is_the_parsed_key(raw):
    # legal representatives are keyed without a full parse when the name is plain simplified Han characters
    assert normalize_name(raw) == parse_name(raw).key


def test_initials_join_without_swallowing_words():
    assert normalize_name("A. J. T. Systems, Inc.") == "ajt systems"
    assert normalize_name("Sport Helmets II, Inc.") == "sport helmets ii"  # two letters are a word
    assert normalize_name("W & F Manufacturing") != normalize_name("F & W Manufacturing")


def test_variants_of_one_firm_share_a_core():
    variants = ["深圳市华兴智能科技有限公司", "深圳华兴智能科技有限责任公司", "华兴智能科技（深圳）有限公司",
                "華興智能科技(深圳)有限公司", "华兴智能科技有限公司"]
    assert {parse_name(v).core for v in variants} == {"华兴智能科技"}


def test_branch_keeps_its_own_key_and_names_the_parent():
    parsed = parse_name("华为技术有限公司北京分公司")
    assert parsed.key == "华为技术北京分公司"
    assert parsed.branch_of == "华为技术"
    assert parsed.legal_form == "branch"


@pytest.mark.parametrize(("address", "province", "city"), [
    ("518000 广东省深圳市南山区科技园", "广东", "深圳"),
    ("北京市海淀区中关村大街1号", "北京", "北京"),
    ("江苏省苏州市苏州工业园区星湖街", "江苏", "苏州"),
    ("浙江省杭州市滨江区", "浙江", "杭州"),
    ("1600 Amphitheatre Parkway, Mountain View", None, None),
    ("", None, None),
])
def test_address_province_and_city(address, province, city):
    assert parse_address(address) == (province, city)


TYPES = [
    ("深圳市大疆创新科技有限公司", "company"),
    ("华为技术有限公司北京分公司", "company"),
    ("某某五金经营部", "company"),
    ("清华大学", "university"),
    ("中国科学院大学", "university"),
    ("杭州理工大学", "university"),
    ("中国科学院自动化研究所", "research_institute"),
    ("之江实验室", "research_institute"),
    ("中国电子科技集团公司第五十四研究所", "research_institute"),
    ("深圳市人工智能研究院", "research_institute"),
    ("北京协和医院", "hospital"),
    ("浙江大学医学院附属第一医院", "hospital"),
    ("广东省人民医院", "hospital"),
    ("深圳市人民政府", "government"),
    ("国家知识产权局", "government"),
    ("深圳海关", "government"),
    ("北京市市场监督管理局", "government"),
    ("张伟", "individual"),
    ("李娜", "individual"),
    ("欧阳明辉", "individual"),
    ("买买提·艾力", "individual"),
    ("深圳市机器人产业协会", "unknown"),
    ("杭州华兴设计工作室", "unknown"),
    ("Siemens AG", "company"),
    ("Brightwave Networks Inc.", "company"),
    ("Vesterlund Medical A/S", "company"),
    ("The Regents of the University of California", "university"),
    ("Massachusetts Institute of Technology", "university"),
    ("Lawrence Livermore National Laboratory", "research_institute"),
    ("Fraunhofer-Gesellschaft zur Förderung der angewandten Forschung e.V.", "research_institute"),
    ("Massachusetts General Hospital", "hospital"),
    ("United States of America as represented by the Secretary of the Navy", "government"),
    ("Department of Energy", "government"),
    ("Smith; John", "individual"),
    ("SMITH, JOHN A.", "individual"),
    ("John A. Smith", "individual"),
    ("湛兰", "individual"),  # a rarer surname
    ("托马斯·L·埃文斯", "individual"),  # transliterated foreign name with a Latin initial
    ("COMMISSARIAT À L'ÉNERGIE ATOMIQUE ET AUX ÉNERGIES ALTERNATIVES", "research_institute"),  # accents
    ("Lonati S.p.A.", "company"),  # an ISO 20275 legal form, no other organisation word
    ("Telefonaktiebolaget L M Ericsson (publ)", "company"),
    ("Naval Surface Warfare Center", "government"),
    ("Acme Verein e.V.", "unknown"),  # an association form is not a firm
    ("Labcon, North America", "unknown"),  # a firm and its region, not "Last, First"
]


@pytest.mark.parametrize(("name", "expected"), TYPES)
def test_applicant_type(name, expected):
    assert classify_applicant(name) == expected


def _shared(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"../shared/data/{relative} not present")
    return path


@pytest.mark.shared_data
def test_real_government_lists_are_public_bodies_not_firms_or_people():
    """US agencies (PatentsView lists): classified as public bodies; national labs may be research institutes."""
    names = pd.read_csv(_shared("pvdb_name_and_ipc_resources/government_organization.csv"))["name"]
    agencies = pd.read_csv(_shared("pvdb_name_and_ipc_resources/list_of_government_agencies.csv"))["Long_form"]
    for series, min_government in ((names, 0.6), (agencies.str.strip(), 0.8)):
        counts = Counter(classify_applicant(n) for n in series)
        total = sum(counts.values())
        assert counts["government"] / total >= min_government, counts
        assert (counts["company"] + counts["individual"]) / total <= 0.05, counts


@pytest.mark.shared_data
def test_shipped_legal_forms_cover_gleif_abbreviations():
    """ISO 20275 abbreviations for the big patent-filing jurisdictions are stripped from names."""
    elf = pd.read_csv(_shared("legal_forms_gleif_elf/gleif_elf_cleaned_with_additional_2026-02-19.csv"), dtype=str)
    countries = {"US", "GB", "DE", "FR", "NL", "CH", "SE", "KR", "TW", "HK", "JP"}
    rows = elf[elf["Country Code (ISO 3166-1)"].isin(countries)]["Abbreviations Local language"].dropna()
    # short Latin abbreviations (Inc., GmbH, B.V., L.L.C.); long forms and place words (Kanton) left out
    abbreviations = {a.strip() for cell in rows for a in cell.split(";")
                     if a.strip().isascii() and 1 < len(a.strip().replace(".", "")) <= 8}
    stripped = [a for a in abbreviations if normalize_name(f"Acme Widgets {a}") == "acme widgets"]
    assert len(stripped) / len(abbreviations) >= 0.59, sorted(set(abbreviations) - set(stripped))  # 0.598


@pytest.mark.shared_data
def test_real_patentsview_assignee_types():
    """PatentsView's hand-labelling sample codes each assignee (2/3 organisation, 4/5 person, 6/7 government):
    organisations are never taken for people or public bodies and are mostly companies; people written
    "Last, First" are people; governments are public bodies or (CEA, CNRS) research institutes."""
    sample = pd.read_csv(_shared("pv_assignee_hand_disamb/sample_with_data_02.csv"), dtype=str)
    organisations = Counter(classify_applicant(n) for n in sample[sample["assignee_type"].isin(["2", "3"])]
                            ["organization"].dropna())
    total = sum(organisations.values())
    print("organisations", total, organisations.most_common())
    assert (organisations["individual"] + organisations["government"]) / total <= 0.01, organisations
    assert organisations["company"] / total >= 0.9, organisations
    people = sample[sample["assignee_type"].isin(["4", "5"])]
    as_people = [classify_applicant(f"{last}, {first}") for first, last in zip(people["name_first"],
                                                                                people["name_last"], strict=True)]
    assert as_people.count("individual") / len(as_people) >= 0.8, as_people
    public = [classify_applicant(n) for n in sample[sample["assignee_type"].isin(["6", "7"])]["organization"]]
    print("governments", Counter(public))
    assert sum(t in ("government", "research_institute") for t in public) / len(public) >= 0.8, public


@pytest.mark.shared_data
def test_real_chinese_inventors_are_people():
    """CNKI's inventor column holds only people (Han names, rarer surnames, transliterated foreign names)."""
    cnki = pd.read_csv(_shared("cn_cnki_patents_sample/cnki_material_chemistry_2018_19.csv"), dtype=str)
    inventors = {n.strip() for cell in cnki["inventors_发明人"].dropna() for n in cell.split(";") if n.strip()}
    types = Counter(classify_applicant(n) for n in inventors)
    assert types["individual"] / len(inventors) >= 0.97, types
    assert types["company"] == 0, types


def test_han_only_names_take_the_short_path_to_the_same_parse():
    """parse_name skips NFKC, simplification, brackets and punctuation removal for basic-Han names without a
    traditional character: none of those steps changes any character of U+4E00..U+9FFF."""
    import re
    import unicodedata

    from matching.normalize import _TRADITIONAL_RE, _ZH_DROP_RE, _parse_any, to_simplified

    block = "".join(chr(c) for c in range(0x4E00, 0xA000))
    plain = _TRADITIONAL_RE.sub("", block)
    assert unicodedata.normalize("NFKC", plain) == plain == plain.lower() == plain.strip()
    assert to_simplified(plain) == plain and not _ZH_DROP_RE.search(plain)
    assert not re.search(r"[(\[{【〔]", plain)
    names = ["深圳市大疆创新科技有限公司", "华为技术有限公司北京分公司", "北京鸿图控股集团有限公司", "中山大学", "张伟",
             "广东省深圳市华兴电子股份有限公司", "上海张江高科技园区开发股份有限公司", "有限公司"]
    for name in names:
        assert parse_name.__wrapped__(name) == _parse_any(name), name


@pytest.mark.parametrize(("raw", "text"), [
    ("ASSIGNORSTOEASTMANKODAKROCHESTERNY", "EASTMANKODAKROCHESTERNY"),
    ("ASSIGNORTOTOSHIBACORPTOKYOJAPAN", "TOSHIBACORPTOKYOJAPAN"),  # the first TO after a head
    ("ASSIGNORSBYMESNEASSIGNMENTSTOGENERALMOTORS", "GENERALMOTORS"),
    ("ASSIGNMENTSTOALBAPHARMACEUTICAL", "ALBAPHARMACEUTICAL"),
    ("AESIGNORSTOHUGHESAIRCRAFTCULVER", "HUGHESAIRCRAFTCULVER"),  # OCR slips in the head
    ("ASSIGIIORTOABBOTTLABNORTHCHICAGO", "ABBOTTLABNORTHCHICAGO"),
    ("Assignors to Eastman Kodak Company", None),  # words and spaces: a name (or a sentence), not a glued clause
    ("EASTMANKODAKCOMPANYROCHESTER", None),  # no head
    ("ACCORDINGTOTHEINVENTIONAMETHOD", None),  # text before a TO that is no clause head
    ("ASSIGNORSTO", None),
])
def test_glued_assignment_clauses_give_the_text_after_their_head(raw, text):
    assert glued_clause_text(raw) == text
