"""Applicant type: company, university, research institute, hospital, government, individual, unknown.

spaCy blank pipelines (no trained model) with a PhraseMatcher of organisation words per type.
The organisation word that ends last decides (a name's head comes last in Chinese and in most
English legal names: 中国科学院大学 is a university, 清华大学附属医院 a hospital, 研究院有限公司 a
company); on a tie the longer phrase wins (科学院 over 学院). Without an organisation word a
short Han name opening with a common surname is a person, as is an English "Last, First".
A 工作室 (studio) or 协会 (association) is not a company: it stays "unknown".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import spacy
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from matching.normalize import parse_name, to_simplified

_ZH_WORDS: dict[str, tuple[str, ...]] = {
    "company": (
        "公司", "有限公司", "有限责任公司", "股份有限公司", "集团", "厂", "企业", "合作社", "商行", "经营部",
        "门市部", "事务所", "株式会社", "会社", "合伙", "有限合伙", "商店", "制品厂", "分公司",
    ),
    "university": ("大学", "学院", "学校", "中学", "小学", "职业技术学院", "高等专科学校", "党校", "大学城", "专科学校"),
    "research_institute": (
        "研究所", "研究院", "科学院", "工程院", "实验室", "研究中心", "重点实验室", "设计院", "设计研究院", "研究会",
        "技术研究院", "科学研究院", "试验站", "研究总院",
    ),
    "hospital": ("医院", "卫生院", "诊所", "保健院", "妇幼保健院", "医学中心", "中医院", "人民医院", "卫生服务中心"),
    "government": (
        "局", "委员会", "政府", "人民政府", "部", "厅", "署", "办公室", "管委会", "管理委员会", "海关", "法院",
        "检察院", "公安局", "部队", "疾病预防控制中心", "监督管理局", "国防部", "管理处", "管理站", "管理所",
    ),
}

_EN_WORDS: dict[str, tuple[str, ...]] = {
    "company": (
        "inc", "inc.", "incorporated", "ltd", "ltd.", "limited", "llc", "l.l.c.", "corp", "corp.", "corporation",
        "co.", "co", "company", "gmbh", "ag", "s.a.", "sa", "plc", "kk", "k.k.", "n.v.", "nv", "b.v.", "bv", "llp",
        "holdings", "aktiengesellschaft", "s.p.a.", "spa", "s.r.l.", "srl", "sas", "s.a.s.", "ab", "oy", "oyj",
        "pty", "kabushiki kaisha", "a/s", "asa", "gbr", "e.v.", "co., ltd.", "gmbh & co. kg", "se", "lp", "l.p.", "laboratories inc",
        # firm-name heads without a legal form (LTU Technologies; Compagnie Generale de Radiologie; Kogyo K.K.K.)
        "technologies", "compagnie", "societe", "kogyo", "works", "freres",
    ),
    "university": (
        "university", "universite", "universitat", "universidad", "universita", "universiteit", "college",
        "school", "polytechnic", "institute of technology", "hochschule", "regents", "board of trustees",
        "school of medicine", "universitaet", "politecnico",
    ),
    "research_institute": (
        "institute", "institut", "instituut", "istituto", "research center", "research centre", "laboratory",
        "national laboratory", "national laboratories", "academy of sciences", "fraunhofer", "max planck", "cnrs",
        "centre national de la recherche scientifique", "commissariat a l'energie atomique", "research council",
        "research institute", "research foundation", "research organization", "research organisation",
        "institutes",
    ),
    "hospital": (
        "hospital", "hospitals", "clinic", "clinics", "medical center", "medical centre", "health system",
        "hopital", "klinikum", "infirmary", "health care system",
    ),
    "government": (
        "department of", "department", "ministry", "agency", "administration", "commission", "government",
        "secretary", "navy", "army", "air force", "bureau", "office", "office of", "council", "authority",
        "service", "united states of america", "national aeronautics and space administration",
        "national institutes of health", "centers for disease control", "state of", "commonwealth of",
        "national science foundation", "federal", "county of", "city of", "republic", "represented by",
        "coast guard", "marine corps", "national guard", "environmental protection agency", "smithsonian",
        "board", "committee", "directorate", "program", "programs", "corps", "national institute",
        "national institutes", "national center", "library of congress", "ministere", "ministerium",
        "command", "naval", "division of", "geological survey", "inspector general", "comptroller", "etat francais",
        "space flight center", "space center", "warfare center",
    ),
}

_SURNAMES_1 = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭"
    "陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐"
    "易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳"
    "管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵"
    "苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
    # less common surnames seen among CNKI inventors (印杰, 湛兰, 鄢宇森); words that open firm names left out
    "印居湛鄢芮雍郁韶茅闻蔺揭訾冀郜禹晋鞠贲靖封储井阎雒逯蒯昝扈郗宿权庾皮仝伏厉修展帅宦阙寿荆羊操谈邸嵇尉牧"
)
_SURNAMES_2 = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "令狐",
    "端木", "西门", "南宫", "独孤", "轩辕", "百里", "呼延", "万俟", "司空", "钟离",
)
# "Labcon, North America" is a firm and its region, not "Last, First"
_PLACE_WORDS = frozenset("north south east west america americas usa europe asia pacific international".split())
_NOT_FIRM_EVIDENCE = frozenset({"association", "group"})  # e.V., Assn.: societies; "Group": any body
_HAN_ONLY_RE = re.compile(r"^[\u4e00-\u9fff]+$")
_ZH_PUNCTUATION_RE = re.compile(r"[\s()\[\]（）【】,，.。]+")
# 阿卜杜·热合曼, and transliterated foreign names with Latin initials: 托马斯·L·埃文斯
_MINORITY_NAME_RE = re.compile(r"^[\u4e00-\u9fff]{1,8}(?:[·•・](?:[\u4e00-\u9fff]{1,8}|[A-Z]\.?))+$")
_EN_PERSON_COMMA_RE = re.compile(r"^[a-z][a-z'\-]+\s*[,;]\s*[a-z][a-z'\-]*(\s+[a-z][a-z'\-]*\.?){0,2}$")
_EN_PERSON_INITIAL_RE = re.compile(r"^[a-z][a-z'\-]+(\s+[a-z]\.?)?\s+[a-z]\.?\s+[a-z][a-z'\-]+$|^[a-z][a-z'\-]+\s+[a-z]\.\s*$")


# the organisation word ending last decides, and every phrase that can end in 公司 is a company word
# (checked at import), so most names skip the spaCy pass
_ZH_COMPANY_TAIL = "公司"
if any(w.endswith(_ZH_COMPANY_TAIL) for label, words in _ZH_WORDS.items() if label != "company" for w in words):
    raise ValueError(f"a non-company word ends in {_ZH_COMPANY_TAIL}: the company fast path would be wrong")


class _Classifier:
    def __init__(self) -> None:
        self.zh = spacy.blank("zh")
        self.en = spacy.blank("en")
        self.zh_matcher = PhraseMatcher(self.zh.vocab)
        self.en_matcher = PhraseMatcher(self.en.vocab, attr="LOWER")
        for label, words in _ZH_WORDS.items():
            self.zh_matcher.add(label, [Doc(self.zh.vocab, words=list(w), spaces=[False] * len(w)) for w in words])
        for label, words in _EN_WORDS.items():
            # tokenise each phrase as written in names too ("Inc." is one token, "inc." two)
            forms = {form for w in words for form in (w, w.title(), w.upper())}
            self.en_matcher.add(label, list(self.en.tokenizer.pipe(sorted(forms))))

    def org_type(self, text: str, chinese: bool) -> str | None:
        nlp, matcher = (self.zh, self.zh_matcher) if chinese else (self.en, self.en_matcher)
        # Chinese: one token per character, built directly (the blank zh tokenizer does the same, slower)
        doc = Doc(nlp.vocab, words=list(text), spaces=[False] * len(text)) if chinese else nlp.make_doc(text)
        best: tuple[int, int, str] | None = None
        for match_id, start, end in matcher(doc):
            candidate = (end, end - start, nlp.vocab.strings[match_id])
            if best is None or candidate[:2] > best[:2]:
                best = candidate
        return best[2] if best else None


@lru_cache(maxsize=1)
def _classifier() -> _Classifier:
    return _Classifier()


def _is_chinese_person(text: str) -> bool:
    if _MINORITY_NAME_RE.match(text):
        return True
    if not _HAN_ONLY_RE.match(text):
        return False
    if 2 <= len(text) <= 3 and text[0] in _SURNAMES_1:
        return True
    return 3 <= len(text) <= 4 and text[:2] in _SURNAMES_2


@lru_cache(maxsize=500_000)
def classify_applicant(name: str) -> str:
    """One of contracts.APPLICANT_TYPES for a raw applicant name."""
    parsed = parse_name(name)
    text = unicodedata.normalize("NFKC", name or "").strip()
    if parsed.script == "zh":
        text = _ZH_PUNCTUATION_RE.sub("", to_simplified(text))
        if text.endswith(_ZH_COMPANY_TAIL):
            return "company"  # what the matcher would say: every word ending in 公司 is a company word
        found = _classifier().org_type(text, chinese=True)
        if found:
            return found
        return "individual" if _is_chinese_person(text) else "unknown"
    # accents folded: COMMISSARIAT À L'ÉNERGIE ATOMIQUE meets the phrase "commissariat a l'energie atomique"
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    found = _classifier().org_type(text, chinese=False)
    if found:
        return found
    plain = " ".join(text.lower().split())
    given = plain.split(",", 1)[1].split() if "," in plain else []
    if ((_EN_PERSON_COMMA_RE.match(plain) and not _PLACE_WORDS.intersection(given))
            or _EN_PERSON_INITIAL_RE.match(plain)):
        return "individual"
    # a legal form the normaliser strips (ISO 20275 list: S.p.A., ApS, B.V.B.A., K.K., publ) makes a company
    if parsed.legal_form and parsed.legal_form not in _NOT_FIRM_EVIDENCE:
        return "company"
    return "unknown"
