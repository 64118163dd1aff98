"""Real Chinese patent exports from ../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from conftest import shared_data

from graph.workspace import Workspace
from ingest import ingest_firms, ingest_patents


def data_rows(path) -> int:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def test_cnipa_61_column_commercial_export(tmp_path):
    path = shared_data("cn_cnipa_style_sample/cnipa_style_patents.csv")
    workspace = Workspace(tmp_path / "ws")

    report = ingest_patents(workspace, [path], "run-1")

    (count,) = report.per_file
    assert (count.read, count.written, count.quarantined) == (data_rows(path), 10, 0)
    assert "序号" in count.unmapped_columns and not {"申请人", "主权项"} & set(count.unmapped_columns)
    patents = {row["publication_number"]: row for row in workspace.read("patents").to_pylist()}
    first = patents["CN218751475U"]
    assert first["application_number"] == "CN202223220665.2"
    assert first["application_date"] == dt.date(2022, 12, 2)
    assert first["ipc"] == ["B64U20/80", "B64U101/30"]
    assert first["applicants"] == ["中科大数据研究院"]
    assert first["claims"].startswith("1.") and len(first["claims"]) > 50  # 主权项, the first claim
    assert first["inventors"] == ["刘迪", "刘敏", "王煜伟", "付艳波", "王元卓"]
    assert first["patent_type"] == "utility_model"
    assert first["applicant_addresses"][0].startswith("450000河南省郑州市")
    assert all(p["publication_date"] is not None and p["ipc"] for p in patents.values())


def test_cnki_export_with_prefixed_headers(tmp_path):
    path = shared_data("cn_cnki_patents_sample/cnki_material_chemistry_2018_19.csv")
    workspace = Workspace(tmp_path / "ws")

    report = ingest_patents(workspace, [path.parent], "run-1")

    (count,) = report.per_file
    assert (count.read, count.written, count.quarantined) == (data_rows(path), 33, 0)
    patents = {row["publication_number"]: row for row in workspace.read("patents").to_pylist()}
    first = patents["CN108982325A"]
    assert first["title"] == "地下防污屏障材料化学相容性测试装置及方法"
    assert first["applicants"] == ["浙江大学"]
    assert first["application_date"] == dt.date(2018, 7, 30)
    assert first["patent_type"] == "invention" and first["ipc"] == []
    assert "沙特基础全球技术有限公司" in {a for p in patents.values() for a in p["applicants"]}


def test_uspto_weekly_grant_and_application_xml(tmp_path):
    folder = shared_data("uspto_grant_xml_pvdb")
    biblio = shared_data("uspto_grant_biblio_alexandria3k")
    workspace = Workspace(tmp_path / "ws")

    report = ingest_patents(workspace, [folder, biblio], "run-1")

    documents = {c.path.name: c for c in report.per_file}
    for count in report.per_file:
        text = open(count.path, encoding="utf-8").read()
        assert count.read == text.count("<?xml") == count.written + count.quarantined
    # the 2006 weekly excerpt carries two sequence listings, which are not patents
    assert documents["ipg060103.small.xml"].quarantined == 2
    assert report.quarantined == 2
    patents = {row["publication_number"]: row for row in workspace.read("patents").to_pylist()}
    assert patents["US8087986B2"]["applicants"] == ["Universal Entertainment Corporation"]
    assert patents["US8087986B2"]["ipc"] == ["G06F17/00"]
    assert patents["US6836899B1"]["ipc"] == ["A45F5/04"]  # DTD v4.0 fixed-width IPC edition 7
    newest = [p for p in patents.values() if p["source_file"].endswith(("ipgb20221025.xml", "ipgb20230404.xml"))
              and p["patent_type"] == "invention"]
    assert newest and all(p["cpc"] and p["ipc"] and p["cited_publications"] for p in newest)
    assert sum(p["patent_type"] == "design" for p in patents.values()) >= 196


def test_gleif_lei_records_as_a_firm_source(tmp_path):
    path = shared_data("gleif_lei_samples/lei_entities.csv")
    workspace = Workspace(tmp_path / "ws")

    report = ingest_firms(workspace, [path], "run-1")

    (count,) = report.per_file
    assert (count.read, count.written, count.quarantined) == (data_rows(path), 94, 0)
    firms = {row["firm_id"]: row for row in workspace.read("firms").to_pylist()}
    brazil = firms["2138004VFYZFYLELHT92"]
    assert (brazil["name"], brazil["former_names"]) == ("BRAZIL SHIPPING I LIMITED", ["BG OIL SERVICES LIMITED"])
    assert (brazil["status"], brazil["city"]) == ("operating", "LONDON")


def _xml_tables(workspace: Workspace) -> tuple[list[dict], list[tuple]]:
    patents = sorted(workspace.read("patents").to_pylist(), key=lambda r: r["publication_number"])
    quarantine = sorted((r["position"], r["field"], r["reason"], r["raw"]) for r in workspace.read("quarantine").to_pylist())
    return patents, quarantine


def test_xml_documents_built_in_batches_equal_the_row_builder_on_real_files(tmp_path, monkeypatch):
    from ingest import uspto_xml

    files = sorted(shared_data("uspto_grant_xml_pvdb").glob("*.xml"))
    files += sorted(shared_data("uspto_grant_biblio_alexandria3k").rglob("*.xml"))
    assert files
    batched = Workspace(tmp_path / "batched")
    ingest_patents(batched, files, "run-1")
    monkeypatch.setattr(uspto_xml, "_joinable", lambda values: False)  # every document through build_patent
    one_by_one = Workspace(tmp_path / "rows")
    ingest_patents(one_by_one, files, "run-1")
    patents, quarantine = _xml_tables(batched)
    assert (patents, quarantine) == _xml_tables(one_by_one)
    assert len(patents) > 300 and any(p["cited_publications"] for p in patents)


def test_an_xml_name_holding_a_list_separator_stays_one_name(tmp_path):
    source = (Path(__file__).parent / "fixtures" / "ingest" / "uspto_weekly.xml").read_bytes()
    name = b"Shenzhen Yuntu Intelligent Technology Co., Ltd."
    path = tmp_path / "weekly.xml"
    path.write_bytes(source.replace(b"<orgname>" + name, b"<orgname>Yuntu; Intelligent | Technology\nCo., Ltd."))
    workspace = Workspace(tmp_path / "ws")
    ingest_patents(workspace, [path], "run-1")
    applicants = [p["applicants"] for p in workspace.read("patents").to_pylist()]
    assert ["Yuntu; Intelligent | Technology\nCo., Ltd."] in applicants
