"""Turn one source row (canonical field → raw value) into a contract record, and merge duplicates.

A value that cannot be normalised rejects the whole row with RowRejected(field, reason): the
field is the contract column, the reason quotes the file's own header and the bad value.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ingest import normalize as nz

_PATENT_UNION_LISTS = ("ipc", "cpc", "cited_publications")
_FIRM_UNION_LISTS = ("former_names",)


class RowRejected(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _parse(values: dict, header_of: Callable[[str], str], field: str, parser: Callable, source_field: str = ""):
    raw = values.get(source_field or field)
    try:
        return parser(raw)
    except ValueError as exc:
        raise RowRejected(field, f"{header_of(source_field or field)}: {exc}") from None


PPUBS_SOURCES = {"US-PGPUB", "USPAT", "USOCR", "USPGPUB"}
DERIVED_FROM = ("source_db", "google_id", "patent_id", "inventor_first", "inventor_last")


def derive(values: dict) -> dict:
    """Fields an export gives only in parts: the publication number from a Google Patents id or a
    US patent id (+ kind), the inventor from first and last name columns (PatentsView)."""
    out = {}
    google = nz.clean(values.get("google_id"))
    if google and re.match(r"^[A-Za-z]{2}-", google):  # Google Patents joins assignees / inventors with ", "
        for field in ("applicants", "inventors"):
            text = nz.clean(values.get(field))
            if text:
                out[field] = ";".join(_comma_names(text))
    if nz.clean(values.get("publication_number")) is None:
        if google and (re.match(r"^[A-Za-z]{2}-", google) or values.get("patent_id") is None):
            out["publication_number"] = google  # an `ID` column that is a row number leaves patent_id to it
        elif values.get("patent_id") is not None:
            out["publication_number"] = nz.us_publication(values["patent_id"], values.get("kind_code"),
                                                          values.get("source_db"))
    inventors = nz.clean(out.get("inventors", values.get("inventors")))
    if inventors and (nz.clean(values.get("source_db")) or "").upper() in PPUBS_SOURCES:
        # PPUBS prints the first inventor as `Last; First et al.`: one name, not two
        last, _, first = re.sub(r"\s+et al\.?$", "", inventors).partition(";")
        out["inventors"] = f"{first.strip()} {last.strip()}".strip()
    elif inventors is None:
        name = " ".join(p for p in (nz.clean(values.get("inventor_first")), nz.clean(values.get("inventor_last"))) if p)
        if name:
            out["inventors"] = name
    return out


_LEGAL_SUFFIX = re.compile(r"^(inc|ltd|llc|l\.l\.c|corp|co|gmbh|ag|kg|s\.a|b\.v|n\.v|plc|limited|incorporated|"
                           r"corporation|company|lp|llp|s\.a\.s|sas|srl|oy|ab|as)\.?,?$", re.IGNORECASE)


def _comma_names(text: str) -> list[str]:
    """`Foo, Inc., Bar Corp` → [`Foo, Inc.`, `Bar Corp`]: a legal-form part stays with the name before it."""
    names: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if names and _LEGAL_SUFFIX.match(part):
            names[-1] = f"{names[-1]}, {part}"
        else:
            names.append(part)
    return names


def build_patent(values: dict, header_of: Callable[[str], str], source_file: str, position: int) -> dict:
    if any(field in values for field in DERIVED_FROM):
        values = {**values, **derive(values)}
    parsed = _parse(values, header_of, "publication_number", nz.publication_number)
    if parsed is None:
        raise RowRejected("publication_number", f"{header_of('publication_number')} is empty")
    number, kind = parsed
    granted = _parse(values, header_of, "grant_date", nz.parse_date)
    published = _parse(values, header_of, "publication_date", nz.parse_date)
    ipc = _parse(values, header_of, "ipc", nz.classification_codes, "main_ipc")
    ipc += _parse(values, header_of, "ipc", nz.classification_codes)
    cpc = _parse(values, header_of, "cpc", nz.classification_codes, "main_cpc")
    cpc += _parse(values, header_of, "cpc", nz.classification_codes)
    return {
        "publication_number": number,
        "application_number": _parse(values, header_of, "application_number", nz.application_number),
        "kind": kind,
        "patent_type": nz.patent_type(values.get("patent_type"), kind),
        "title": nz.clean(values.get("title")),
        "abstract": nz.clean(values.get("abstract")),
        "claims": nz.clean(values.get("claims")),
        "application_date": _parse(values, header_of, "application_date", nz.parse_date),
        # A grant's announcement is its publication when the export gives only the grant date.
        "publication_date": published or granted,
        "grant_date": granted,
        "ipc": _dedupe(ipc),  # the main class first
        "cpc": _dedupe(cpc),
        "applicants": nz.split_multi(values.get("applicants")),
        "applicant_addresses": nz.split_multi(values.get("applicant_addresses")),
        "inventors": nz.split_multi(values.get("inventors")),
        "cited_publications": _parse(values, header_of, "cited_publications", nz.publication_list),
        "claims_count": _parse(values, header_of, "claims_count", nz.parse_count),
        "legal_status": nz.clean(values.get("legal_status")),
        "source_file": source_file,
        "source_position": position,
    }


def build_firm(values: dict, header_of: Callable[[str], str], source_file: str, position: int) -> dict:
    firm_id = _parse(values, header_of, "firm_id", nz.firm_identifier)
    if firm_id is None:
        raise RowRejected("firm_id", f"{header_of('firm_id')} is empty")
    name = nz.clean(values.get("name"))
    if name is None and "name" in values:
        raise RowRejected("name", f"{header_of('name')} is empty")
    # A file without names (GLEIF relationships: child LEI → parent LEI) adds links to firms other
    # sources describe; a link to a firm no source describes is quarantined when the table is written.
    return {
        "firm_id": firm_id,
        "name": name,
        "former_names": [n for n in _dedupe(nz.split_multi(values.get("former_names"))) if n != name],
        "english_name": nz.clean(values.get("english_name")),
        "status": nz.firm_status(values.get("status")),
        "established_date": _parse(values, header_of, "established_date", nz.parse_date),
        "deregistered_date": _parse(values, header_of, "deregistered_date", nz.parse_date),
        "registered_capital": _parse(values, header_of, "registered_capital", nz.registered_capital),
        # An 18-character unified social credit code is issued only in mainland China.
        "country": nz.clean(values.get("country")) or ("CN" if len(firm_id) == 18 else None),
        "province": nz.clean(values.get("province")),
        "city": nz.clean(values.get("city")),
        "address": nz.clean(values.get("address")),
        "industry_code": nz.clean(values.get("industry_code")),
        "size_band": nz.size_band(values.get("size_band")),
        "employees": _parse(values, header_of, "employees", nz.parse_count),
        "legal_representative": nz.clean(values.get("legal_representative")),
        "parent_firm_id": _direct_parent(values, header_of),
        "successor_firm_id": _parse(values, header_of, "successor_firm_id", nz.firm_identifier),
        "source_file": source_file,
        "source_position": position,
    }


def merge_into(kept: dict, other: dict, union_lists: tuple[str, ...]) -> None:
    """Fill `kept`'s gaps from `other` (same key, a later source); `kept`'s provenance stays."""
    for name, value in other.items():
        if name in ("source_file", "source_position"):
            continue
        current = kept.get(name)
        if isinstance(value, list):
            if name in union_lists:
                kept[name] = _dedupe([*(current or []), *value])
            elif not current:
                kept[name] = value
        elif current is None or current == "unknown":
            if value is not None:
                kept[name] = value


def merge_patent(kept: dict, other: dict) -> None:
    merge_into(kept, other, _PATENT_UNION_LISTS)


def merge_firm(kept: dict, other: dict) -> None:
    """A later registry record is newer news about the firm: what it states wins (a status change,
    a deregistration date, a new name); an earlier name becomes a former name; gaps still fill."""
    earlier_name = kept["name"]
    for name, value in other.items():
        if name in ("source_file", "source_position") or name in _FIRM_UNION_LISTS:
            continue
        if value is not None and value != "unknown" and value != []:
            kept[name] = value
    merge_into(kept, other, _FIRM_UNION_LISTS)
    if kept["name"] != earlier_name:
        kept["former_names"] = _dedupe([*kept["former_names"], earlier_name])
    kept["former_names"] = [n for n in kept["former_names"] if n != kept["name"]]


def _direct_parent(values: dict, header_of: Callable[[str], str]) -> str | None:
    """parent_firm_id is the direct parent; a GLEIF ultimate-parent row names the group's top instead."""
    if "ultimate" in str(values.get("parent_relation") or "").lower():
        return None
    return _parse(values, header_of, "parent_firm_id", nz.firm_identifier)


def _dedupe(items: list) -> list:
    return list(dict.fromkeys(items))
