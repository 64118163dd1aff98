"""Column-header synonyms: each canonical field lists the headers vendors print for it.

Headers are compared after NFKC folding (full-width `（）` → `()`), removing whitespace and
lower-casing, so `公开（公告）号`, `公开(公告)号` and ` 公开(公告)号 ` are one header. When a file
has several columns for one field, the earlier synonym wins and later ones fill its empty
cells (e.g. 公开号, then 授权公告号). A header like `title_专利名称` (CNKI) matches on its parts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

PATENT_HEADERS: dict[str, tuple[str, ...]] = {
    "publication_number": (
        "公开(公告)号", "公开公告号", "公开/公告号", "公开号", "公布号", "公开(公布)号", "申请公布号", "公告号",
        "文献号", "公开号码", "publication number", "publication_number", "publication no", "pub no",
        "授权公告号", "授权号", "display key",
    ),
    # source fields the publication number is composed from when an export has none (records.derive)
    "google_id": ("id",),  # Google Patents: `US-11234567-B2`, only used when it looks like one
    "patent_id": ("patent_id", "patent id", "patent number", "patent_number"),  # PatentsView / PPUBS: no country
    "kind_code": ("patent_kind", "wipo_kind", "kind code", "kind_code"),
    "source_db": ("source", "database"),  # PPUBS: US-PGPUB, USPAT
    "inventor_first": ("inventor_name_first", "disambig_inventor_name_first", "inventor first name"),
    "inventor_last": ("inventor_name_last", "disambig_inventor_name_last", "inventor last name"),
    "application_number": ("申请号", "专利申请号", "申请号码", "application number", "application_number",
                           "application no", "appl no"),
    "application_date": ("申请日", "申请日期", "application date", "application_date", "filing date", "filing_date",
                         "filing/creation date"),
    "publication_date": (
        "公开(公告)日", "公开公告日", "公开/公告日", "公开日", "公开日期", "公开(公布)日", "申请公布日", "公告日",
        "publication date", "publication_date", "date published",
    ),
    "grant_date": ("授权公告日", "授权日", "授权日期", "grant date", "grant_date", "issue date",
                   "patent_date"),  # PatentsView: the grant (= publication of the B document) date
    "title": ("发明名称", "标题", "专利名称", "中文标题", "标题(中文)", "名称", "title", "invention title",
              "授权名称", "patent_title"),
    "abstract": ("摘要", "申请摘要", "中文摘要", "摘要(中文)", "abstract", "patent_abstract"),
    "claims": ("主权项", "权利要求书", "权利要求", "首项权利要求", "独立权利要求", "claims", "first claim", "claim"),
    "applicants": (
        "申请(专利权)人", "申请人", "原始申请(专利权)人", "专利权人", "申请人名称", "申请人(原始)",
        "applicants", "applicant", "applicant name", "assignees", "assignee", "assignee name", "organization",
        "assignee_organization", "disambig_assignee_organization",
    ),
    "inventors": ("发明(设计)人", "发明人", "设计人", "inventors", "inventor", "inventor names", "inventor/author",
                  "inventer"),
    "applicant_addresses": (
        "申请(专利权)人地址", "申请人地址", "第一申请人地址", "地址", "applicant address", "assignee address",
        "address",
    ),
    "main_ipc": ("主分类号", "ipc主分类", "ipc主分类号", "主ipc", "主ipc分类号", "main ipc", "ipc main"),
    "ipc": ("分类号", "ipc分类号", "ipc", "ipc分类", "国际专利分类号", "国际分类号", "ipc codes", "ipc classification",
            "ipcr classifications"),
    "main_cpc": ("cpc主分类号", "主cpc", "cpc主分类", "main cpc"),
    "cpc": ("cpc分类号", "cpc", "cpc分类", "cpc codes", "cpc classification", "cpc classifications",
            "cpc_subgroup_id", "cpc_group"),
    "cited_publications": ("引证专利", "引用专利", "引证文献", "引证", "cited patents", "citations",
                           "cited publications", "backward citations"),
    "claims_count": ("权利要求数量", "权利要求数", "权利要求项数", "权项数", "claims count", "number of claims",
                     "claims_count", "num_claims"),
    "legal_status": ("法律状态", "当前法律状态", "法律状态/事件", "简单法律状态", "legal status", "legal_status"),
    "patent_type": ("专利类型", "文献类型", "专利种类", "类型", "patent type", "patent_type"),
}

FIRM_HEADERS: dict[str, tuple[str, ...]] = {
    "firm_id": ("统一社会信用代码", "社会信用代码", "信用代码", "统一信用代码", "unified social credit code", "uscc",
                "credit code", "firm_id", "lei", "child_lei"),
    "name": ("企业名称", "公司名称", "名称", "企业名", "单位名称", "客户名称", "company name", "name", "legal name",
             "legal_name", "entity name"),
    "former_names": ("曾用名", "曾用名称", "历史名称", "原名称", "former names", "former name", "previous names",
                     "other names", "other_names"),
    "english_name": ("英文名", "英文名称", "english name", "english_name", "transliterated"),
    "status": ("登记状态", "经营状态", "企业状态", "状态", "status", "entity status", "entity_status",
               "registration status"),
    "established_date": ("成立日期", "成立时间", "注册日期", "established", "established date", "date of establishment",
                         "incorporation date", "established_date"),
    "deregistered_date": ("注销日期", "注销时间", "deregistered date", "dissolution date", "deregistered_date"),
    "registered_capital": ("注册资本", "注册资本(万元)", "注册资金", "registered capital", "registered_capital"),
    "country": ("国家", "国别", "国家/地区", "country", "country code", "legal address country"),
    "province": ("省份", "所属省份", "省", "province", "region"),
    "city": ("城市", "所属城市", "市", "city"),
    "address": ("地址", "注册地址", "企业地址", "住所", "通信地址", "address", "registered address"),
    "industry_code": ("所属行业", "国标行业", "行业", "行业代码", "industry", "industry code", "industry_code"),
    "size_band": ("企业规模", "规模", "company size", "size", "size band", "size_band"),
    "employees": ("参保人数", "员工人数", "从业人数", "employees", "number of employees", "insured employees"),
    "legal_representative": ("法定代表人", "法人代表", "法人", "legal representative", "legal_representative"),
    "parent_firm_id": ("母公司统一社会信用代码", "母公司信用代码", "parent credit code", "parent firm id",
                       "parent_firm_id", "parent lei", "parent_lei"),
    "successor_firm_id": ("继任企业统一社会信用代码", "继任企业信用代码", "successor credit code", "successor firm id",
                          "successor_firm_id"),
    "parent_relation": ("relation", "relationship type", "relationship_type", "relationship"),
}

# Each entry is satisfied by any of its fields: a PatentsView table has patent_id, not a publication
# number; a GLEIF relationship file names a parent, not a name (it adds parents to known firms).
PATENT_REQUIRED = (("publication_number", "patent_id", "google_id"),)
FIRM_REQUIRED = (("firm_id",), ("name", "parent_firm_id"))


def header_key(header: object) -> str:
    """The comparison form of a header: NFKC-folded, no whitespace or quotes, lower case."""
    text = unicodedata.normalize("NFKC", "" if header is None else str(header))
    return re.sub(r"[\s\"'\ufeff]", "", text).lower()


@dataclass(frozen=True)
class ColumnMap:
    """Which columns of a file feed each canonical field, best first, and what went unused."""

    columns: dict[str, list[int]]
    headers: list[str]
    unmapped: list[str]

    def header_of(self, field: str) -> str:
        """The file's own header for `field` (what a user sees), or the field name."""
        indices = self.columns.get(field)
        return self.headers[indices[0]] if indices else field

    def has(self, field: str) -> bool:
        return field in self.columns


def map_headers(headers: list[object], synonyms: dict[str, tuple[str, ...]]) -> ColumnMap:
    lookup: dict[str, tuple[str, int]] = {}
    for field, names in synonyms.items():
        for rank, name in enumerate(names):
            lookup.setdefault(header_key(name), (field, rank))
    found: dict[str, list[tuple[int, int]]] = {}
    texts = ["" if h is None else str(h).strip().lstrip("\ufeff") for h in headers]
    unmapped = []
    for index, text in enumerate(texts):
        key = header_key(text)
        hit = lookup.get(key) or lookup.get(key.replace("_", " "))
        if hit is None and "_" in key and not key.isascii():  # CNKI `title_专利名称`; not `inventor_sequence`
            part_hit = next((lookup[part] for part in reversed(key.split("_")) if part in lookup), None)
            hit = part_hit and (part_hit[0], part_hit[1] + 1000)
        if hit is None:
            if text:
                unmapped.append(text)
            continue
        field, rank = hit
        found.setdefault(field, []).append((rank, index))
    columns = {field: [index for _rank, index in sorted(hits)] for field, hits in found.items()}
    return ColumnMap(columns=columns, headers=texts, unmapped=unmapped)

