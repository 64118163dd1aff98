"""Value normalisation for vendor exports: numbers, codes, dates, money, enums.

Every parser returns the normalised value (None for an empty cell) or raises ValueError with a
reason a user can act on; the caller turns that into a quarantine record naming the field.
Keys (numbers, codes, dates) are folded from full-width to half-width; free text (titles,
abstracts, names) is left as written, because matching builds its own keys.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

# Placeholders exports print instead of leaving a cell empty.
EMPTY_MARKERS = {"", "-", "--", "—", "/", "nan", "none", "null", "n/a", "na", "无", "暂无"}

# Fixed conversion rates into CNY for registered capital (registries print the currency the
# firm registered in). Fixed on purpose: re-running ingest must give the same table.
FX_TO_CNY = {"CNY": 1.0, "USD": 7.1, "HKD": 0.91, "EUR": 7.8, "JPY": 0.048, "GBP": 9.0}
_CURRENCY_WORDS = (
    ("USD", ("美元", "USD", "US$", "美金")),
    ("HKD", ("港币", "港元", "HKD", "HK$")),
    ("EUR", ("欧元", "EUR", "€")),
    ("JPY", ("日元", "JPY")),
    ("GBP", ("英镑", "GBP")),
    ("CNY", ("人民币", "元", "CNY", "RMB", "¥", "￥")),
)


def fold(text: str) -> str:
    """Full-width to half-width (NFKC): `ＣＮ１１４` → `CN114`, `（` → `(`."""
    return unicodedata.normalize("NFKC", text)


def clean(value: object) -> str | None:
    """Cell text stripped, or None when the cell is empty or an empty-placeholder."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from a numeric cell
        return None
    text = (value if isinstance(value, str) else str(value)).strip()
    if len(text) <= 4 and text.lower() in EMPTY_MARKERS:
        return None
    return text


_MULTI_SEPARATORS = re.compile(r"\s*(?:[;；]|\r?\n|\r|\s\|\s|\|)\s*")


def split_multi(value: object) -> list[str]:
    """Split a multi-valued cell on `;` `；` newlines and `|`, never on commas ("Foo, Inc.")."""
    if isinstance(value, list):
        return [item for item in (clean(v) for v in value) if item]
    text = clean(value)
    if text is None:
        return []
    return [item for item in (clean(part) for part in _MULTI_SEPARATORS.split(text)) if item]


# --- publication and application numbers ------------------------------------------------

_PUBLICATION = re.compile(r"^([A-Z]{2})(\d{4,13}|[A-Z]{1,2}\d{3,12})([A-Z]\d?)?$")


def publication_number(value: object) -> tuple[str, str | None] | None:
    """`cn 114123456 a` → (`CN114123456A`, `A`); None when empty; ValueError when malformed."""
    text = clean(value)
    if text is None:
        return None
    key = re.sub(r"[\s\-_./]", "", fold(text)).upper()  # `US 2020/0012345 A1` (Lens), `US-11234567-B2` (Google)
    match = _PUBLICATION.match(key)
    if not match:
        raise ValueError(f"{text!r} is not a publication number (expected country, number, kind: CN114123456A)")
    country, number, kind = match.groups()
    if country == "US" and (padded := re.fullmatch(r"([A-Z]{0,2})(0+)(\d+)", number)) and len(number) <= 8:
        number = padded.group(1) + padded.group(3)  # USPTO XML pads grant numbers: 07654321, D0630349
    return f"{country}{number}{kind or ''}", kind


_PGPUB_SOURCES = {"US-PGPUB", "USPGPUB", "PGPUB"}


def us_publication(patent_id: object, kind: object = None, source: object = None) -> str | None:
    """A publication number from a US patent id without country (PatentsView, PPUBS exports).

    `10123456` + kind `B2` → `US10123456B2`; a PPUBS pre-grant number (source US-PGPUB) gets kind A1.
    An id that already carries a country is returned as it is.
    """
    text = clean(patent_id)
    if text is None or re.match(r"^[A-Za-z]{2}\d", fold(text)) or re.match(r"^[A-Za-z]{2}[\s\-]", fold(text)):
        return text
    kind_text = clean(kind) or ("A1" if (clean(source) or "").upper() in _PGPUB_SOURCES else "")
    return f"US{text}{kind_text}"


_CN_APPLICATION = re.compile(r"^(?:CN)?(\d{8}|\d{12})\.?([\dX])$")


def application_number(value: object) -> str | None:
    """CN numbers to `CN202110123456.7` (check digit after the dot); others cleaned, upper case."""
    text = clean(value)
    if text is None:
        return None
    key = re.sub(r"\s", "", fold(text)).upper()
    match = _CN_APPLICATION.match(key)
    if match:
        return f"CN{match.group(1)}.{match.group(2)}"
    if not re.match(r"^[A-Z0-9][A-Z0-9./\-]*$", key):
        raise ValueError(f"{text!r} is not an application number")
    return key


# --- classification codes ---------------------------------------------------------------

_IPC_SLASH = re.compile(r"^([A-HY]\d{2}[A-Z])(\d{1,4})/(\d{1,6})$")
_IPC_FIXED = re.compile(r"^([A-HY]\d{2}[A-Z])(\d{4})(\d{6})$")  # G06N0003080000
_IPC_SUBCLASS = re.compile(r"^[A-HY]\d{2}[A-Z]$")
_IPC_IN_TEXT = re.compile(r"[A-HY]\s?\d{2}\s?[A-Z]\s*\d{1,4}\s*/\s*\d{1,6}|[A-HY]\d{2}[A-Z]\d{10}")
_IPC_VERSION = re.compile(r"\(\s*\d{4}\s*\.\s*\d{2}\s*\)\s*[A-Z]{0,2}")  # "(2006.01)", "(2006.01)I"
_CODE_SEPARATORS = re.compile(r"[;,|\n\r]+")


def _ipc_code(token: str) -> str | None:
    key = re.sub(r"\s", "", token)
    if match := _IPC_SLASH.match(key):
        return f"{match.group(1)}{int(match.group(2))}/{match.group(3)}"
    if match := _IPC_FIXED.match(key):
        subgroup = match.group(3).rstrip("0").ljust(2, "0")
        return f"{match.group(1)}{int(match.group(2))}/{subgroup}"
    if _IPC_SUBCLASS.match(key):
        return key
    return None


def classification_codes(value: object) -> list[str]:
    """IPC/CPC codes in one form: `G06N 3/08`, `G06N0003080000`, `G06N3/08 (2006.01)` → `G06N3/08`.

    Order is kept and repeats dropped. A token that is not a code raises ValueError.
    """
    tokens = value if isinstance(value, list) else [value]
    codes: list[str] = []
    for raw in tokens:
        text = clean(raw)
        if text is None:
            continue
        text = _IPC_VERSION.sub("", fold(text).upper())
        for token in _CODE_SEPARATORS.split(text):
            token = token.strip()
            if not token:
                continue
            code = _ipc_code(token)
            if code is not None:
                found = [code]
            else:  # several codes separated only by spaces: "G06N3/08 G06F17/30"
                found = [_ipc_code(m) for m in _IPC_IN_TEXT.findall(token)]
                if not found or re.sub(r"\s", "", "".join(_IPC_IN_TEXT.findall(token))) != re.sub(r"\s", "", token):
                    raise ValueError(f"{token!r} is not an IPC/CPC code (expected e.g. G06N3/08)")
            codes.extend(c for c in found if c and c not in codes)
    return codes


def publication_list(value: object) -> list[str]:
    """Cited publications: split on `;` `,` `|` and normalise each; a bad one raises ValueError."""
    tokens = value if isinstance(value, list) else [value]
    out: list[str] = []
    for raw in tokens:
        text = clean(raw)
        if text is None:
            continue
        for token in re.split(r"[;；,，|\n\r]+", text):
            parsed = publication_number(token)
            if parsed and parsed[0] not in out:
                out.append(parsed[0])
    return out


# --- patent type ------------------------------------------------------------------------

_TYPE_WORDS = (
    ("utility_model", ("实用新型", "utility model", "utility_model", "utility-model")),
    ("design", ("外观设计", "外观", "design")),
    ("invention", ("发明", "invention", "utility patent")),
)
_KIND_TYPES = {"A": "invention", "B": "invention", "C": "invention", "U": "utility_model", "Y": "utility_model",
               "S": "design"}


def patent_type(type_text: object, kind: str | None) -> str:
    """From 专利类型 (发明申请/发明授权/实用新型/外观设计) when given, else from the kind code."""
    from_text = patent_type_from_text(type_text)
    if from_text:
        return from_text
    if kind:
        return _KIND_TYPES.get(kind[0], "unknown")
    return "unknown"


def patent_type_from_text(type_text: object) -> str | None:
    """The type a 专利类型 / document-type cell names, or None when it names none."""
    text = clean(type_text)
    if text:
        lowered = fold(text).lower()
        for name, words in _TYPE_WORDS:
            if any(word in lowered for word in words):
                return name
    return None


# --- dates ------------------------------------------------------------------------------

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})[-./](\d{1,2})[-./](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def parse_date(value: object) -> dt.date | None:
    """ISO date from `2021-03-05`, `2021.03.05`, `20210305`, `2021/3/5`, `2021年3月5日`, XLSX cells.

    An impossible date (2021-02-30) or text that is not a date raises ValueError saying which.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 10000 < value < 80000:
        return _EXCEL_EPOCH + dt.timedelta(days=int(value))  # an XLSX date cell stored as a serial
    text = clean(value)
    if text is None or text == "0":
        return None
    key = fold(text).replace(" 00:00:00", "")
    if re.fullmatch(r"\d{8}\.0", key):  # a yyyymmdd number read from a numeric cell
        key = key[:-2]
    for pattern in _DATE_PATTERNS:
        match = pattern.match(key)
        if match:
            year, month, day = (int(part) for part in match.groups())
            try:
                return dt.date(year, month, day)
            except ValueError:
                raise ValueError(f"{text!r} is not a real date ({year:04d}-{month:02d}-{day:02d} does not exist)") from None
    raise ValueError(f"{text!r} is not a date (expected e.g. 2021-03-05, 2021.03.05, 20210305, 2021/3/5)")


def parse_count(value: object) -> int | None:
    """A whole count such as 权利要求数量 or 参保人数: `12`, `12.0`, `12项`, `35人`."""
    text = clean(value)
    if text is None:
        return None
    key = fold(text).replace(",", "")
    match = re.fullmatch(r"(\d+)(?:\.0+)?\s*(?:项|人|条)?", key)
    if not match:
        raise ValueError(f"{text!r} is not a whole number")
    return int(match.group(1))


# --- registry values --------------------------------------------------------------------

def registered_capital(value: object) -> float | None:
    """注册资本 in 10k CNY: `5000万元人民币` → 5000, `100万美元` → 710, `1.2亿元` → 12000, `500000元` → 50.

    A bare number is taken as 万元, the unit registries print capital in.
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = clean(value)
    if text is None:
        return None
    key = fold(text).replace(",", "").replace(" ", "")
    match = re.match(r"^([^\d]*?)(\d+(?:\.\d+)?)(.*)$", key)
    if not match:
        raise ValueError(f"{text!r} is not an amount of registered capital")
    prefix, amount, rest = match.group(1), float(match.group(2)), match.group(3)
    unit_text = prefix + rest
    currency = next((code for code, words in _CURRENCY_WORDS if any(w in unit_text for w in words)), None)
    leftover = unit_text
    for _code, words in _CURRENCY_WORDS:
        for word in words:
            leftover = leftover.replace(word, "")
    if re.sub(r"[万亿()]", "", leftover):
        raise ValueError(f"{text!r}: cannot read the unit {unit_text!r}")
    if "亿" in rest:
        amount *= 10000
    elif "万" not in rest and currency is not None:
        amount /= 10000  # a plain amount in yuan (or dollars ...)
    return round(amount * FX_TO_CNY[currency or "CNY"], 4)


_STATUS_WORDS = (
    ("revoked", ("吊销", "revoked")),
    ("deregistered", ("注销", "deregistered", "dissolved", "inactive", "closed")),
    ("moved_out", ("迁出", "moved out", "moved_out")),
    ("liquidating", ("清算", "liquidat")),
    ("operating", ("存续", "在业", "开业", "在营", "在册", "正常", "operating", "active", "in business")),
)


def firm_status(value: object) -> str:
    """登记状态 → operating / deregistered / revoked / moved_out / liquidating / unknown.

    Checked most-final first, so `吊销，未注销` is revoked and `存续（在营、开业、在册）` operating.
    """
    text = clean(value)
    if text is None:
        return "unknown"
    lowered = fold(text).lower()
    if "未注销" in lowered:
        lowered = lowered.replace("未注销", "")
    for status, words in _STATUS_WORDS:
        if any(word in lowered for word in words):
            return status
    return "unknown"


_SIZE_WORDS = (
    ("micro", ("微型", "微", "micro")),
    ("small", ("小型", "小", "small")),
    ("medium", ("中型", "中", "medium")),
    ("large", ("大型", "大", "large")),
)


def size_band(value: object) -> str | None:
    """企业规模 微型/小型/中型/大型 → micro/small/medium/large; None when the label is none of these."""
    text = clean(value)
    if text is None:
        return None
    lowered = fold(text).lower()
    return next((band for band, words in _SIZE_WORDS if any(word in lowered for word in words)), None)


# --- identifiers ------------------------------------------------------------------------

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a credit code."""
    total = sum(_USCC_CHARS.index(ch) * weight for ch, weight in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def credit_code(value: object) -> str | None:
    """A unified social credit code (统一社会信用代码), validated per GB 32100-2015."""
    text = clean(value)
    if text is None:
        return None
    code = re.sub(r"\s", "", fold(text)).upper()
    if len(code) != 18:
        raise ValueError(f"{text!r} has {len(code)} characters; a unified social credit code has 18")
    bad = [ch for ch in code if ch not in _USCC_CHARS]
    if bad:
        raise ValueError(f"{text!r} contains {''.join(bad)!r}, not allowed in a unified social credit code")
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise ValueError(f"{text!r} fails the GB 32100-2015 check (last character should be {expected!r})")
    return code


def lei(value: object) -> str | None:
    """A Legal Entity Identifier (ISO 17442: 20 characters, ISO 7064 mod 97-10 check)."""
    text = clean(value)
    if text is None:
        return None
    code = re.sub(r"\s", "", fold(text)).upper()
    if not re.fullmatch(r"[0-9A-Z]{18}\d{2}", code):
        raise ValueError(f"{text!r} is not a LEI (20 characters, the last two digits)")
    if int("".join(str(int(ch, 36)) for ch in code)) % 97 != 1:
        raise ValueError(f"{text!r} fails the ISO 17442 check digits")
    return code


def firm_identifier(value: object) -> str | None:
    """A credit code (18 characters) or, for foreign entities, an LEI (20 characters)."""
    text = clean(value)
    if text is not None and len(re.sub(r"\s", "", fold(text))) == 20:
        return lei(text)
    return credit_code(text)
