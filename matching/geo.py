"""Chinese province / prefecture-city gazetteer and address parsing (no network, no data files).

Provinces are stored by their short form (广东, 北京); cities by their name without 市.
Municipalities are both a province and a city. English (pinyin) forms cover the places that
appear in English applicant names, e.g. "Huawei Technologies (Shenzhen)".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_PROVINCE_SUFFIXES = ("省", "市", "自治区", "壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区")

# province short form -> prefecture-level cities (without 市/地区/自治州)
_CITIES: dict[str, tuple[str, ...]] = {
    "北京": ("北京",),
    "天津": ("天津",),
    "上海": ("上海",),
    "重庆": ("重庆",),
    "河北": ("石家庄", "唐山", "秦皇岛", "邯郸", "邢台", "保定", "张家口", "承德", "沧州", "廊坊", "衡水"),
    "山西": ("太原", "大同", "阳泉", "长治", "晋城", "朔州", "晋中", "运城", "忻州", "临汾", "吕梁"),
    "内蒙古": ("呼和浩特", "包头", "乌海", "赤峰", "通辽", "鄂尔多斯", "呼伦贝尔", "巴彦淖尔", "乌兰察布"),
    "辽宁": ("沈阳", "大连", "鞍山", "抚顺", "本溪", "丹东", "锦州", "营口", "阜新", "辽阳", "盘锦", "铁岭",
             "朝阳", "葫芦岛"),
    "吉林": ("长春", "吉林", "四平", "辽源", "通化", "白山", "松原", "白城", "延边"),
    "黑龙江": ("哈尔滨", "齐齐哈尔", "鸡西", "鹤岗", "双鸭山", "大庆", "伊春", "佳木斯", "七台河", "牡丹江",
               "黑河", "绥化"),
    "江苏": ("南京", "无锡", "徐州", "常州", "苏州", "南通", "连云港", "淮安", "盐城", "扬州", "镇江", "泰州",
             "宿迁", "昆山", "江阴", "张家港", "常熟"),
    "浙江": ("杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "衢州", "舟山", "台州", "丽水", "义乌"),
    "安徽": ("合肥", "芜湖", "蚌埠", "淮南", "马鞍山", "淮北", "铜陵", "安庆", "黄山", "滁州", "阜阳", "宿州",
             "六安", "亳州", "池州", "宣城"),
    "福建": ("福州", "厦门", "莆田", "三明", "泉州", "漳州", "南平", "龙岩", "宁德"),
    "江西": ("南昌", "景德镇", "萍乡", "九江", "新余", "鹰潭", "赣州", "吉安", "宜春", "抚州", "上饶"),
    "山东": ("济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海", "日照", "临沂",
             "德州", "聊城", "滨州", "菏泽"),
    "河南": ("郑州", "开封", "洛阳", "平顶山", "安阳", "鹤壁", "新乡", "焦作", "濮阳", "许昌", "漯河", "三门峡",
             "南阳", "商丘", "信阳", "周口", "驻马店"),
    "湖北": ("武汉", "黄石", "十堰", "宜昌", "襄阳", "鄂州", "荆门", "孝感", "荆州", "黄冈", "咸宁", "随州",
             "恩施"),
    "湖南": ("长沙", "株洲", "湘潭", "衡阳", "邵阳", "岳阳", "常德", "张家界", "益阳", "郴州", "永州", "怀化",
             "娄底"),
    "广东": ("广州", "深圳", "珠海", "汕头", "佛山", "韶关", "湛江", "肇庆", "江门", "茂名", "惠州", "梅州",
             "汕尾", "河源", "阳江", "清远", "东莞", "中山", "潮州", "揭阳", "云浮"),
    "广西": ("南宁", "柳州", "桂林", "梧州", "北海", "防城港", "钦州", "贵港", "玉林", "百色", "贺州", "河池",
             "来宾", "崇左"),
    "海南": ("海口", "三亚", "三沙", "儋州"),
    "四川": ("成都", "自贡", "攀枝花", "泸州", "德阳", "绵阳", "广元", "遂宁", "内江", "乐山", "南充", "眉山",
             "宜宾", "广安", "达州", "雅安", "巴中", "资阳"),
    "贵州": ("贵阳", "六盘水", "遵义", "安顺", "毕节", "铜仁"),
    "云南": ("昆明", "曲靖", "玉溪", "保山", "昭通", "丽江", "普洱", "临沧", "大理", "红河", "西双版纳"),
    "西藏": ("拉萨", "日喀则", "昌都", "林芝", "山南", "那曲"),
    "陕西": ("西安", "铜川", "宝鸡", "咸阳", "渭南", "延安", "汉中", "榆林", "安康", "商洛"),
    "甘肃": ("兰州", "嘉峪关", "金昌", "白银", "天水", "武威", "张掖", "平凉", "酒泉", "庆阳", "定西", "陇南"),
    "青海": ("西宁", "海东"),
    "宁夏": ("银川", "石嘴山", "吴忠", "固原", "中卫"),
    "新疆": ("乌鲁木齐", "克拉玛依", "吐鲁番", "哈密", "昌吉", "伊犁", "喀什", "阿克苏", "石河子"),
    "香港": ("香港",),
    "澳门": ("澳门",),
    "台湾": ("台北", "新北", "桃园", "台中", "台南", "高雄", "新竹"),
}

_PROVINCE_FULL = {
    "内蒙古": "内蒙古自治区", "广西": "广西壮族自治区", "宁夏": "宁夏回族自治区", "新疆": "新疆维吾尔自治区",
    "西藏": "西藏自治区", "香港": "香港特别行政区", "澳门": "澳门特别行政区",
}
MUNICIPALITIES = frozenset({"北京", "天津", "上海", "重庆", "香港", "澳门"})

CITY_TO_PROVINCE: dict[str, str] = {city: prov for prov, cities in _CITIES.items() for city in cities}
PROVINCES: tuple[str, ...] = tuple(_CITIES)

# pinyin forms of provinces and the larger cities, for English names and addresses
_PINYIN: dict[str, str] = {
    "beijing": "北京", "peking": "北京", "tianjin": "天津", "shanghai": "上海", "chongqing": "重庆",
    "guangdong": "广东", "guangzhou": "广州", "shenzhen": "深圳", "zhuhai": "珠海", "dongguan": "东莞",
    "foshan": "佛山", "jiangsu": "江苏", "nanjing": "南京", "suzhou": "苏州", "wuxi": "无锡", "changzhou": "常州",
    "zhejiang": "浙江", "hangzhou": "杭州", "ningbo": "宁波", "shandong": "山东", "jinan": "济南",
    "qingdao": "青岛", "hubei": "湖北", "wuhan": "武汉", "hunan": "湖南", "changsha": "长沙", "sichuan": "四川",
    "chengdu": "成都", "shaanxi": "陕西", "xian": "西安", "xi'an": "西安", "fujian": "福建", "xiamen": "厦门",
    "fuzhou": "福州", "anhui": "安徽", "hefei": "合肥", "henan": "河南", "zhengzhou": "郑州", "hebei": "河北",
    "liaoning": "辽宁", "shenyang": "沈阳", "dalian": "大连", "jilin": "吉林", "changchun": "长春",
    "heilongjiang": "黑龙江", "harbin": "哈尔滨", "jiangxi": "江西", "nanchang": "南昌", "yunnan": "云南",
    "kunming": "昆明", "guizhou": "贵州", "guiyang": "贵阳", "guangxi": "广西", "nanning": "南宁",
    "hainan": "海南", "haikou": "海口", "shanxi": "山西", "taiyuan": "太原", "hongkong": "香港",
    "hong kong": "香港", "macau": "澳门", "macao": "澳门", "taiwan": "台湾", "taipei": "台北",
}


def _region_of(place: str) -> tuple[str | None, str | None]:
    """(province, city) for a gazetteer place name (province or city short form)."""
    if place in MUNICIPALITIES:
        return place, place
    if place in _CITIES:
        return place, None
    if place in CITY_TO_PROVINCE:
        return CITY_TO_PROVINCE[place], place
    return None, None


def _place_forms() -> list[tuple[str, str]]:
    """(written form, short form) pairs, longest written form first so 广东省 wins over 广东."""
    forms: dict[str, str] = {}
    for prov in _CITIES:
        forms[prov] = prov
        forms[_PROVINCE_FULL.get(prov, prov + ("市" if prov in MUNICIPALITIES else "省"))] = prov
    for city in CITY_TO_PROVINCE:
        forms.setdefault(city, city)
        forms.setdefault(city + "市", city)
    forms["延边朝鲜族自治州"] = "延边"
    forms["恩施土家族苗族自治州"] = "恩施"
    return sorted(forms.items(), key=lambda kv: -len(kv[0]))


_FORMS = _place_forms()
_FORM_TO_SHORT = dict(_FORMS)
# per first character, the lengths of the written forms starting with it, longest first: the longest form at a
# position is found with a few slices and dict lookups (a regex of 701 alternatives tries them one by one)
_FORM_LENGTHS: dict[str, tuple[int, ...]] = {}
for _form, _ in _FORMS:
    _FORM_LENGTHS[_form[0]] = tuple(sorted({*_FORM_LENGTHS.get(_form[0], ()), len(_form)}, reverse=True))


def _place_at(text: str, start: int) -> str | None:
    """The longest written place form starting at text[start], if any."""
    for n in _FORM_LENGTHS.get(text[start:start + 1], ()):
        written = text[start:start + n]
        if len(written) == n and written in _FORM_TO_SHORT:
            return written
    return None

_POSTCODE_RE = re.compile(r"^\s*\d{6}\s*")
_GENERIC_CITY_RE = re.compile(r"([\u4e00-\u9fff]{2,4}?)市")


def place(text: str) -> tuple[str | None, str | None]:
    """(province, city) when `text` is exactly a place name in Chinese or pinyin, else (None, None)."""
    text = text.strip()
    if text in _FORM_TO_SHORT:
        return _region_of(_FORM_TO_SHORT[text])
    low = text.lower().replace(" city", "").replace(" province", "").strip()
    if low in _PINYIN:
        return _region_of(_PINYIN[low])
    return None, None


# bare city names that open firm names as a place (北京百度…); others (中山, 朝阳, 黄山) are often trade names
_BARE_NAME_PREFIXES = frozenset(_PINYIN.values()) | frozenset(_CITIES)


def _is_name_prefix(written: str) -> bool:
    return written.endswith(("市", "省", "自治区", "行政区")) or written in _BARE_NAME_PREFIXES


def leading_place(text: str) -> tuple[str, str | None, str | None]:
    """Strip leading place names (广东省深圳市…) from a name; return (rest, province, city)."""
    province = city = None
    rest = text
    while True:
        written = _place_at(rest, 0)
        if not written or len(rest) - len(written) < 2 or not _is_name_prefix(written):
            return rest, province, city
        prov, cty = _region_of(_FORM_TO_SHORT[written])
        if province and prov and prov != province:
            return rest, province, city
        province = province or prov
        city = city or cty
        rest = rest[len(written):]


def pinyin_place(token: str) -> tuple[str | None, str | None]:
    short = _PINYIN.get(token.lower())
    return _region_of(short) if short else (None, None)


_SPACES_RE = re.compile(r"\s+")


@lru_cache(maxsize=500_000)
def address_key(address: str | None) -> str | None:
    """An address reduced for equality tests: no postcode, no spaces, half-width (cached: addresses repeat)."""
    if not isinstance(address, str) or not address.strip():
        return None
    text = unicodedata.normalize("NFKC", address)
    return _SPACES_RE.sub("", _POSTCODE_RE.sub("", text)) or None


@lru_cache(maxsize=200_000)
def parse_address(address: str | None) -> tuple[str | None, str | None]:
    """(province, city) of a Chinese address like '518000 广东省深圳市南山区…'; Nones when unknown."""
    if not isinstance(address, str) or not address.strip():
        return None, None
    text = _POSTCODE_RE.sub("", address)
    province = city = None
    head, at = text[:24], 0
    while at < len(head):  # place forms left to right, each the longest at its position, not overlapping
        written = _place_at(head, at)
        if not written:
            at += 1
            continue
        at += len(written)
        prov, cty = _region_of(_FORM_TO_SHORT[written])
        if province and prov and prov != province:
            break
        province = province or prov
        city = city or cty
        if city:
            break
    if province and not city:
        generic = _GENERIC_CITY_RE.search(text[:24])
        if generic and generic.group(1) not in _CITIES:
            city = generic.group(1)
    if not province:
        for token in re.split(r"[\s,]+", text):
            prov, cty = pinyin_place(token)
            if prov:
                return prov, cty
    return province, city
