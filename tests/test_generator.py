"""The demo-data generator: reproducible files in the declared formats, with consistent ground truth.

The checks re-read the written files the way a user (or the ingest stage) would and recompute
what they can independently (check digits, row counts, label coverage), instead of trusting
the generator's own bookkeeping.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import openpyxl
import pytest
from opencc_purepy import OpenCC

from ingest.generator import generate

N_PATENTS, N_FIRMS = 1200, 200

# Headers as the shared format spec lists them (typed out here, not imported from the generator).
CNIPA = ("公开（公告）号,申请号,申请日,公开（公告）日,发明名称,摘要,申请（专利权）人,发明（设计）人,地址,主分类号,"
         "分类号,引证专利,权利要求数量,法律状态,专利类型").split(",")
INCOPAT = ("公开号,申请号,申请日,公开日,标题,摘要,申请人,发明人,申请人地址,IPC主分类,IPC,引证专利,权利要求数,"
           "当前法律状态,专利类型").split(",")
PATSNAP = ("公开(公告)号,申请号,申请日,公开(公告)日,标题,摘要,申请(专利权)人,发明人,申请(专利权)人地址,IPC主分类号,"
           "IPC分类号,引用专利,权利要求数量,法律状态/事件,专利类型").split(",")
REGISTRY = ("企业名称,统一社会信用代码,曾用名,英文名,登记状态,成立日期,注销日期,注册资本,省份,城市,地址,所属行业,"
            "企业规模,参保人数,法定代表人,母公司统一社会信用代码,继任企业统一社会信用代码").split(",")
APPLICANT_TYPES = {"company", "university", "research_institute", "hospital", "individual", "government", "unknown"}


# --- independent re-implementations of what the files must satisfy --------------------------------
def credit_code_is_valid(code: str) -> bool:
    """GB 32100-2015 check character, plus the GB 11714 organisation-code check in chars 9-17."""
    charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    if len(code) != 18 or any(c not in charset for c in code):
        return False
    weights = [3 ** i % 31 for i in range(17)]  # 1, 3, 9, 27, 19, 26, ...
    if charset[(31 - sum(charset.index(c) * w for c, w in zip(code[:17], weights, strict=True)) % 31) % 31] != code[17]:
        return False
    org = code[8:17]
    rest = 11 - sum(int(c, 36) * w for c, w in zip(org[:8], (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return org[8] == {10: "X", 11: "0"}.get(rest, str(rest))


def parse_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    if re.fullmatch(r"\d{8}", text):
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    year, month, day = re.split(r"[-./]", text)
    return dt.date(int(year), int(month), int(day))


def split_names(value: str) -> list[str]:
    return [n for n in re.split(r"\s*(?:；|;|\|)\s*", value) if n]


def read_csv(path: Path, encoding: str) -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


def read_xlsx(path: Path) -> list[list]:
    """Rows padded to the header width: like Excel, the file leaves trailing empty cells out."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    rows = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
    workbook.close()
    return [row + [None] * (len(rows[0]) - len(row)) for row in rows]


def file_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    generate(root, n_patents=N_PATENTS, n_firms=N_FIRMS, seed=11)
    return root


@pytest.fixture(scope="module")
def manifest(out) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tables(out) -> dict[str, list[list]]:
    return {
        "patents/cnipa_export.csv": read_csv(out / "patents/cnipa_export.csv", "utf-8-sig"),
        "patents/incopat_export.csv": read_csv(out / "patents/incopat_export.csv", "gb18030"),
        "patents/patsnap_export.xlsx": read_xlsx(out / "patents/patsnap_export.xlsx"),
        "firms/registry.xlsx": read_xlsx(out / "firms/registry.xlsx"),
        "firms/registry_extra.csv": read_csv(out / "firms/registry_extra.csv", "utf-8"),
    }


@pytest.fixture(scope="module")
def good_patents(tables, manifest) -> list[dict]:
    """Good patent rows as dicts (canonical column order is the same in all three files)."""
    keys = ("pub", "app_no", "app_date", "pub_date", "title", "abstract", "applicants", "inventors", "address",
            "main_ipc", "ipc", "cited", "claims", "status", "type")
    out = []
    for name in ("patents/cnipa_export.csv", "patents/incopat_export.csv", "patents/patsnap_export.xlsx"):
        bad = {b["position"] for b in manifest["files"][name]["bad_rows"]}
        for position, row in enumerate(tables[name][1:], start=1):
            if position not in bad:
                out.append(dict(zip(keys, row, strict=True)) | {"file": name, "position": position})
    return out


@pytest.fixture(scope="module")
def firms(tables, manifest) -> dict[str, dict]:
    """Registry rows with a valid code, by code."""
    out = {}
    for name in ("firms/registry.xlsx", "firms/registry_extra.csv"):
        bad = {b["position"] for b in manifest["files"][name]["bad_rows"]}
        for position, row in enumerate(tables[name][1:], start=1):
            if position not in bad:
                out[row[1]] = dict(zip(REGISTRY, ["" if v is None else v for v in row], strict=True))
    return out


@pytest.fixture(scope="module")
def labels(out) -> list[dict]:
    with (out / "labels.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- reproducibility --------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes_and_another_seed_differs(out, tmp_path):
    generate(tmp_path / "again", n_patents=N_PATENTS, n_firms=N_FIRMS, seed=11)
    generate(tmp_path / "other", n_patents=N_PATENTS, n_firms=N_FIRMS, seed=12)
    first, again, other = file_bytes(out), file_bytes(tmp_path / "again"), file_bytes(tmp_path / "other")
    assert len(first) == 7
    assert first == again
    assert all(first[name] != other[name] for name in first)


def test_output_does_not_depend_on_the_process_hash_seed(out, tmp_path):
    script = (f"from pathlib import Path; from ingest.generator import generate; "
              f"generate(Path({str(tmp_path)!r}), n_patents={N_PATENTS}, n_firms={N_FIRMS}, seed=11)")
    for hash_seed in ("1", "4242"):
        subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert file_bytes(tmp_path) == file_bytes(out)


def test_returns_the_paths_it_wrote(tmp_path):
    dataset = generate(tmp_path, n_patents=400, n_firms=100, seed=3)
    for path in [*dataset.patent_files, *dataset.firm_files, dataset.labels, dataset.manifest]:
        assert path.is_file() and path.stat().st_size > 0
    assert [p.name for p in dataset.patent_files] == ["cnipa_export.csv", "incopat_export.csv", "patsnap_export.xlsx"]
    assert [p.name for p in dataset.firm_files] == ["registry.xlsx", "registry_extra.csv"]


def test_too_small_a_run_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ValueError, match="n_patents"):
        generate(tmp_path, n_patents=50, n_firms=100)


# --- encodings and headers -------------------------------------------------------------------------
def test_files_use_their_declared_encodings(out):
    cnipa = (out / "patents/cnipa_export.csv").read_bytes()
    assert cnipa.startswith(b"\xef\xbb\xbf")
    cnipa.decode("utf-8")
    incopat = (out / "patents/incopat_export.csv").read_bytes()
    assert incopat.decode("gb18030").startswith("公开号,")
    with pytest.raises(UnicodeDecodeError):
        incopat.decode("utf-8")
    extra = (out / "firms/registry_extra.csv").read_bytes()
    assert extra.decode("utf-8").startswith("企业名称,")


def test_headers_are_as_specified(tables):
    assert tables["patents/cnipa_export.csv"][0] == CNIPA
    assert tables["patents/incopat_export.csv"][0] == INCOPAT
    assert tables["patents/patsnap_export.xlsx"][0] == PATSNAP
    assert tables["firms/registry.xlsx"][0] == REGISTRY
    assert tables["firms/registry_extra.csv"][0] == REGISTRY


# --- row accounting and bad rows -----------------------------------------------------------------------
def test_manifest_counts_equal_the_rows_in_the_files(tables, labels, manifest):
    for name, rows in tables.items():
        assert manifest["files"][name]["rows"] == len(rows) - 1, name
    assert sum(manifest["files"][n]["rows"] for n in tables if n.startswith("patents/")) == N_PATENTS
    assert sum(manifest["files"][n]["rows"] for n in tables if n.startswith("firms/")) == N_FIRMS
    assert manifest["files"]["labels.csv"]["rows"] == len(labels)
    assert manifest["seed"] == 11


def test_bad_rows_are_where_the_manifest_says_and_nowhere_else(tables, manifest):
    defects = set()
    for name in ("patents/cnipa_export.csv", "patents/incopat_export.csv", "patents/patsnap_export.xlsx"):
        header, rows = tables[name][0], tables[name][1:]
        bad = {b["position"]: b for b in manifest["files"][name]["bad_rows"]}
        assert bad, f"{name}: no bad rows injected"
        for position, row in enumerate(rows, start=1):
            entry = bad.get(position)
            defect = entry["defect"] if entry else None
            defects.add(defect)
            if defect == "wrong_column_count":
                assert len(row) != len(header), (name, position)
                continue
            assert len(row) == len(header), (name, position)
            if defect == "missing_publication_number":
                assert entry["field"] == header[0] and row[0] in ("", None)
                continue
            assert re.fullmatch(r"CN ?\d{9} ?[ABUS]", str(row[0]).upper()), (name, position, row[0])
            if defect == "impossible_date":
                assert entry["field"] == header[2] and row[2] == entry["value"]
                with pytest.raises(ValueError):
                    parse_date(row[2])
                continue
            assert defect is None
            assert parse_date(row[2]) <= parse_date(row[3])
    assert {"missing_publication_number", "impossible_date", "wrong_column_count"} <= defects
    total_bad = sum(len(manifest["files"][n]["bad_rows"]) for n in manifest["files"] if n.startswith("patents/"))
    assert 0.003 * N_PATENTS <= total_bad <= 0.03 * N_PATENTS


def test_credit_codes_are_valid_except_the_injected_malformed_ones(tables, manifest):
    for name in ("firms/registry.xlsx", "firms/registry_extra.csv"):
        bad = {b["position"]: b for b in manifest["files"][name]["bad_rows"]}
        assert bad, f"{name}: no malformed credit code injected"
        for position, row in enumerate(tables[name][1:], start=1):
            if position in bad:
                assert bad[position]["field"] == "统一社会信用代码"
                assert row[1] == bad[position]["value"] and not credit_code_is_valid(row[1])
            else:
                assert credit_code_is_valid(row[1]), (name, position, row[1])


# --- ground truth ---------------------------------------------------------------------------------------
def test_labels_cover_exactly_the_applicants_on_good_rows(good_patents, labels):
    seen = set()
    for p in good_patents:
        names = split_names(p["applicants"])
        seen.update((n, p["address"] if k == 0 else "") for k, n in enumerate(names))
    keys = [(r["applicant_name"], r["address"]) for r in labels]
    assert len(keys) == len(set(keys))
    assert set(keys) == seen


def test_labels_point_at_registry_firms_or_none_and_use_every_applicant_type(labels, firms):
    for row in labels:
        assert row["expected_firm_id"] == "NONE" or row["expected_firm_id"] in firms, row
        assert row["applicant_type"] in APPLICANT_TYPES
    assert {r["applicant_type"] for r in labels} == APPLICANT_TYPES
    for kind in ("university", "research_institute", "hospital", "government"):
        assert all(r["expected_firm_id"] == "NONE" for r in labels if r["applicant_type"] == kind)
    # Some company applicants are not in the registry at all (foreign or unregistered firms).
    assert any(r["applicant_type"] == "company" and r["expected_firm_id"] == "NONE" for r in labels)


def test_no_label_points_at_a_deregistered_shell(labels, firms):
    registered_names = defaultdict(list)
    for code, firm in firms.items():
        registered_names[firm["企业名称"]].append(code)
    shells = {code for codes in registered_names.values() if len(codes) > 1 for code in codes
              if firms[code]["登记状态"] == "注销"}
    assert shells, "no shell shares a name with an operating firm"
    targets = {r["expected_firm_id"] for r in labels}
    assert not shells & targets
    for codes in registered_names.values():
        if len(codes) > 1:
            shell = next(c for c in codes if c in shells)
            live = next(c for c in codes if c not in shells)
            assert parse_date(firms[shell]["注销日期"]) < parse_date(firms[live]["成立日期"])


def test_renamed_firms_filed_under_their_former_name_before_the_rename(good_patents, labels, firms, manifest):
    label_of = {(r["applicant_name"], r["address"]): r["expected_firm_id"] for r in labels}
    used_until = {f["name"]: (e["firm_id"], dt.date.fromisoformat(f["used_until"]))
                  for e in manifest["hard_cases"]["renamed"] for f in e["former_names"]}
    hits = 0
    for p in good_patents:
        first = split_names(p["applicants"])[0]
        if first in used_until:
            firm_id, until = used_until[first]
            assert label_of[(first, p["address"])] == firm_id
            assert first in firms[firm_id]["曾用名"].split("；")
            assert parse_date(p["app_date"]) < until
            hits += 1
    assert hits >= len(manifest["hard_cases"]["renamed"])


def test_deregistered_firms_keep_the_patents_filed_before_deregistration(good_patents, labels, firms):
    label_of = {(r["applicant_name"], r["address"]): r["expected_firm_id"] for r in labels}
    filed_by_dead = 0
    for p in good_patents:
        firm = firms.get(label_of[(split_names(p["applicants"])[0], p["address"])])
        if firm and firm["登记状态"] == "注销":
            assert parse_date(p["app_date"]) < parse_date(firm["注销日期"])
            filed_by_dead += 1
    assert filed_by_dead > 0
    successors = [f["继任企业统一社会信用代码"] for f in firms.values() if f["继任企业统一社会信用代码"]]
    assert successors and all(s in firms for s in successors)


def test_same_brand_in_two_cities_is_told_apart_by_address(labels, firms):
    by_name = defaultdict(set)
    for r in labels:
        if r["expected_firm_id"] != "NONE" and r["address"]:
            by_name[r["applicant_name"]].add(r["expected_firm_id"])
    ambiguous = {name: ids for name, ids in by_name.items() if len(ids) > 1}
    assert ambiguous, "no applicant name is shared by two registry firms"
    for name, ids in ambiguous.items():
        cities = {firms[i]["城市"] for i in ids}
        assert len(cities) == len(ids), name
        assert all(name in re.sub(r"^(\w{2}市?)", "", firms[i]["企业名称"]) for i in ids)


def test_parent_firms_file_patents_and_subsidiaries_name_them(labels, firms, manifest):
    parents = {f["母公司统一社会信用代码"] for f in firms.values() if f["母公司统一社会信用代码"]}
    assert parents and parents <= set(firms)
    filers = {r["expected_firm_id"] for r in labels if r["applicant_type"] == "company"}
    assert parents & filers
    kinds = {e["kind"] for e in manifest["hard_cases"]["parent_subsidiary"]}
    assert kinds == {"group", "ip_holding"}


def test_individuals_resolve_to_the_firm_they_run_in_their_city(labels, firms):
    linked = [r for r in labels if r["applicant_type"] == "individual" and r["expected_firm_id"] != "NONE"]
    unlinked = [r for r in labels if r["applicant_type"] == "individual" and r["expected_firm_id"] == "NONE"]
    assert linked and unlinked
    for r in linked:
        firm = firms[r["expected_firm_id"]]
        assert firm["法定代表人"] == r["applicant_name"]
        assert r["address"] == "" or firm["城市"] in r["address"]
    for r in unlinked:  # nobody of that name runs a registered firm in that city
        assert not any(f["法定代表人"] == r["applicant_name"] and f["城市"] in r["address"] for f in firms.values())


def test_applicant_names_are_messy_but_labelled_to_the_same_firm(labels, firms):
    names_of = defaultdict(set)
    for code, firm in firms.items():
        names_of[code] |= {firm["企业名称"], *filter(None, firm["曾用名"].split("；")), firm["英文名"]}
    to_simplified = OpenCC("t2s")
    variants = defaultdict(int)
    for r in labels:
        code = r["expected_firm_id"]
        if r["applicant_type"] != "company" or code == "NONE" or r["applicant_name"] in names_of[code]:
            continue
        name = r["applicant_name"]
        if to_simplified.convert(name) in names_of[code]:
            variants["traditional"] += 1
        elif re.search(r"[A-Za-z]", name):
            variants["english"] += 1
        elif "有限责任公司" in name or "(" in name:
            variants["legal form or half-width bracket"] += 1
        else:
            variants["other"] += 1  # region dropped/moved, one-character typo
    assert set(variants) == {"traditional", "english", "legal form or half-width bracket", "other"}, variants


# --- patents look like patents -------------------------------------------------------------------------
def test_citations_point_only_at_earlier_patents_in_the_data(good_patents):
    published = {}
    for p in good_patents:
        number = re.sub(r"\s", "", str(p["pub"])).upper()
        published[number] = parse_date(p["pub_date"])
    cited_total = 0
    for p in good_patents:
        for cited in filter(None, (c.strip() for c in (p["cited"] or "").split(";"))):
            assert cited in published, cited
            assert published[cited] < parse_date(p["app_date"])
            cited_total += 1
    assert cited_total > len(good_patents) // 2


def test_topics_ipc_and_kinds_are_consistent(good_patents):
    kinds = defaultdict(int)
    outside_chains = 0
    for p in good_patents:
        kind = re.sub(r"\s", "", str(p["pub"])).upper()[-1]
        kinds[kind] += 1
        assert {"A": "发明申请", "B": "发明授权", "U": "实用新型", "S": "外观设计"}[kind] == p["type"]
        main = re.sub(r"\s", "", str(p["main_ipc"]))
        if main[:4] in ("A47J", "E04B", "A47B", "A01G", "F24C", "E04G", "A47C"):
            outside_chains += 1
        if kind == "S":
            assert p["claims"] in ("", None)
    assert set(kinds) == {"A", "B", "U", "S"}
    assert 0.05 < outside_chains / len(good_patents) < 0.2


def test_patent_activity_is_skewed_across_firms(labels, good_patents):
    label_of = {(r["applicant_name"], r["address"]): r["expected_firm_id"] for r in labels}
    counts = defaultdict(int)
    for p in good_patents:
        firm = label_of[(split_names(p["applicants"])[0], p["address"])]
        if firm != "NONE":
            counts[firm] += 1
    ranked = sorted(counts.values(), reverse=True)
    top_decile = sum(ranked[: max(1, len(ranked) // 10)])
    assert top_decile > 0.3 * sum(ranked)
    assert ranked[-1] <= 2
