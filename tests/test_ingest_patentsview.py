"""PatentsView bulk tables (g_patent + one-row-per-thing tables) joined on patent_id into `patents` records."""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import shared_data

from graph.workspace import Workspace
from ingest import IngestError, ingest_patents, patentsview

BULK_TEXT = Path(__file__).parent / "fixtures" / "patentsview_bulk"


@pytest.fixture
def bulk(tmp_path) -> Path:
    """The hand-made bulk set, with g_ipc_at_issue zipped as the download serves it (zipped here, not kept in git)."""
    folder = tmp_path / "bulk"
    shutil.copytree(BULK_TEXT, folder)
    table = folder / "g_ipc_at_issue.tsv"
    with zipfile.ZipFile(folder / "g_ipc_at_issue.tsv.zip", "w") as archive:
        archive.write(table, table.name)
    table.unlink()
    return folder


def records(workspace: Workspace) -> dict[str, dict]:
    return {r["publication_number"]: r for r in workspace.read("patents").to_pylist()}


def quarantined(workspace: Workspace) -> list[tuple[str, int, str, str]]:
    rows = workspace.read("quarantine").to_pylist()
    return sorted((Path(r["source_file"]).name, r["position"], r["field"], r["reason"]) for r in rows)


def test_bulk_folder_joins_every_table_in_sequence_order(tmp_path, bulk):
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [bulk], "run-1")

    counts = {Path(c.path).name: (c.read, c.written, c.quarantined) for c in report.per_file}
    assert counts == {
        "g_patent.tsv": (6, 4, 2),
        "g_patent_abstract.tsv": (3, 2, 1),
        "g_application.tsv": (3, 2, 1),
        "g_assignee_disambiguated.tsv": (8, 5, 3),
        "g_location_disambiguated.tsv": (3, 3, 0),
        "g_inventor_disambiguated.tsv": (3, 3, 0),
        "g_cpc_current.tsv": (5, 3, 2),
        "g_ipc_at_issue.tsv.zip!g_ipc_at_issue.tsv": (4, 3, 1),  # a zipped table
        "g_us_patent_citation.tsv": (3, 2, 1),
    }
    assert all(c.format == "patentsview" for c in report.per_file)
    assert report.records == 4

    patents = records(workspace)
    drone = patents["US10000001B2"]
    # the file lists the second assignee first: assignee_sequence decides
    assert drone["applicants"] == ["SZ DJI Technology Co., Ltd.", "Shenzhen University"]
    assert drone["applicant_addresses"] == ["Shenzhen, CN", "Shenzhen, Guangdong, CN"]
    assert drone["inventors"] == ["Tao Wang", "Li Na"]
    assert drone["cpc"] == ["B64C39/024", "G05D1/106"] and drone["ipc"] == ["B64C39/02", "G05D1/10"]
    assert drone["cited_publications"] == ["US9000001B2", "US5123456A"]
    assert (drone["grant_date"], drone["application_date"], drone["claims_count"]) == (
        dt.date(2018, 6, 19), dt.date(2016, 1, 5), 20)
    assert drone["abstract"] == "A drone avoids obstacles using a depth camera."
    battery = patents["US10000002B1"]
    assert battery["title"] == 'Battery cell with "solid" electrolyte'
    assert battery["applicants"] == ["Contemporary Amperex Technology Co., Limited", "Wei Zhang"]
    assert battery["applicant_addresses"] == ["Ningde, CN"]  # the second assignee's location is unknown
    assert battery["cpc"] == ["H01M10/0562"] and battery["application_number"] is None
    assert patents["US10000004B2"]["applicants"] == []  # no assignee row: kept, matching finds no firm
    assert patents["USD900005S1"]["applicant_addresses"] == []

    assert quarantined(workspace) == sorted([
        ("g_patent.tsv", 3, "grant_date", "patent_date: '2018-13-45' is not a real date (2018-13-45 does not exist)"),
        ("g_patent.tsv", 6, "publication_number", "withdrawn: PatentsView marks the patent withdrawn (never issued)"),
        ("g_patent_abstract.tsv", 3, "patent_id", "patent_id 99999999 has no row in g_patent.tsv"),
        ("g_application.tsv", 2, "application_id",
         "filing_date: '2016-02-30' is not a real date (2016-02-30 does not exist)"),
        ("g_assignee_disambiguated.tsv", 5, "patent_id", "patent_id 10000003: its g_patent.tsv row was quarantined"),
        ("g_assignee_disambiguated.tsv", 7, "patent_id", "patent_id 20000000 has no row in g_patent.tsv"),
        ("g_assignee_disambiguated.tsv", 8, "assignee_sequence", "assignee_sequence: 'x' is not a whole number"),
        ("g_cpc_current.tsv", 4, "cpc_group", "'NOT-A-CODE' is not an IPC/CPC code (expected e.g. G06N3/08)"),
        ("g_cpc_current.tsv", 5, "patent_id", "patent_id 30000000 has no row in g_patent.tsv"),
        ("g_ipc_at_issue.tsv.zip!g_ipc_at_issue.tsv", 4, "subgroup", "'H1/' is not an IPC/CPC code (expected e.g. G06N3/08)"),
        ("g_us_patent_citation.tsv", 3, "citation_patent_id", "citation_patent_id is empty"),
    ])


def test_a_zipped_bulk_set_and_many_partitions_give_the_same_records(tmp_path, monkeypatch, bulk):
    folder_ws = Workspace(tmp_path / "folder")
    ingest_patents(folder_ws, [bulk], "run-1")
    archive = tmp_path / "patentsview.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(bulk.iterdir()):
            bundle.write(path, f"bulk/{path.name}")
    monkeypatch.setattr(patentsview, "_PARTITION_BYTES", 300)  # a few hundred bytes a partition: several of them
    zip_ws = Workspace(tmp_path / "zip")
    report = ingest_patents(zip_ws, [archive], "run-1")

    def comparable(workspace):
        return {number: {k: v for k, v in r.items() if k != "source_file"} for number, r in records(workspace).items()}

    assert comparable(zip_ws) == comparable(folder_ws)
    assert [(Path(n).name, p, f) for n, p, f, _ in quarantined(zip_ws)] == \
        [(Path(n).name, p, f) for n, p, f, _ in quarantined(folder_ws)]
    assert sum(c.read for c in report.per_file) == sum(c.written + c.quarantined for c in report.per_file) == 38


def test_format_flag_and_unchanged_set_and_a_folder_that_is_not_a_set(tmp_path, bulk):
    workspace = Workspace(tmp_path / "ws")
    first = ingest_patents(workspace, [bulk], "run-1", fmt="patentsview")
    assert first.records == 4
    again = ingest_patents(workspace, [bulk], "run-2")
    assert again.unchanged_files == 1 and again.records == 4  # the set's content hash is in the ledger
    (bulk / "g_patent.tsv").unlink()
    with pytest.raises(IngestError, match=r"bulk.*holds PatentsView bulk tables \(g_application.tsv, .*no g_patent.tsv"):
        ingest_patents(Workspace(tmp_path / "ws2"), [bulk], "run-1", fmt="patentsview")


def test_a_table_without_its_key_columns_is_named(tmp_path, bulk):
    (bulk / "g_cpc_current.tsv").write_text("patent_id\tcpc_section\n10000001\tG\n", encoding="utf-8")
    with pytest.raises(IngestError, match="g_cpc_current.tsv: no header row naming .*cpc_sequence"):
        ingest_patents(Workspace(tmp_path / "ws"), [bulk], "run-1")


def test_real_patentsview_rows_laid_out_as_bulk_tables(tmp_path):
    """The shared sample is PatentsView's own join (one row per patent × assignee × CPC × inventor);
    split back into bulk tables, ingest must rebuild each patent as the sample states it."""
    path = shared_data("pv_assignee_hand_disamb/samples_with_data.csv")
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    bulk = tmp_path / "bulk"
    bulk.mkdir()

    def write(name, header, records):
        with open(bulk / f"{name}.tsv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(header)
            writer.writerows(dict.fromkeys(tuple(r) for r in records))  # distinct, in first-seen order

    write("g_patent", ["patent_id", "patent_type", "patent_date", "patent_title", "wipo_kind", "num_claims"],
          [(r["patent_id"], r["patent_type"], r["patent_date"], r["title"], r["patent_kind"], "") for r in rows])
    write("g_patent_abstract", ["patent_id", "patent_abstract"], [(r["patent_id"], r["abstract"]) for r in rows])
    write("g_application", ["application_id", "patent_id", "filing_date"],
          [(r["application_number"], r["patent_id"], r["application_date"]) for r in rows])
    write("g_assignee_disambiguated", ["patent_id", "assignee_sequence", "assignee_id", "disambig_assignee_organization",
                                       "disambig_assignee_individual_name_first",
                                       "disambig_assignee_individual_name_last", "location_id"],
          [(r["patent_id"], r["assignee_sequence"], r["disambiguated_assignee_id"], r["organization"], r["name_first"],
            r["name_last"], f"{r['assignee_city']}|{r['assignee_state']}|{r['assignee_country']}") for r in rows])
    write("g_location_disambiguated", ["location_id", "disambig_city", "disambig_state", "disambig_country"],
          [(f"{r['assignee_city']}|{r['assignee_state']}|{r['assignee_country']}", r["assignee_city"],
            r["assignee_state"], r["assignee_country"]) for r in rows])
    write("g_cpc_current", ["patent_id", "cpc_sequence", "cpc_group"],
          [(r["patent_id"], r["cpc_sequence"], r["cpc_subgroup_id"]) for r in rows if r["cpc_subgroup_id"]])
    write("g_inventor_disambiguated", ["patent_id", "inventor_sequence", "disambig_inventor_name_first",
                                       "disambig_inventor_name_last"],
          [(r["patent_id"], r["inventor_sequence"], r["inventor_name_first"], r["inventor_name_last"]) for r in rows])

    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [bulk], "run-1")
    assert all(c.read == c.written + c.quarantined for c in report.per_file)
    assert report.quarantined == 0
    patents = records(workspace)
    assert len(patents) == len({r["patent_id"] for r in rows})

    def in_order(patent_id, sequence, value):
        seen = {}
        for r in rows:
            if r["patent_id"] == patent_id and r[value]:  # a line break in a name is a space in the record
                seen.setdefault(int(r[sequence]), re.sub(r"\s*\n\s*", " ", r[value]).strip())
        return list(dict.fromkeys(seen[k] for k in sorted(seen)))

    for patent_id in {r["patent_id"] for r in rows}:
        first = next(r for r in rows if r["patent_id"] == patent_id)
        record = patents[f"US{patent_id}{first['patent_kind']}"]
        assert record["applicants"] == in_order(patent_id, "assignee_sequence", "organization"), patent_id
        assert record["cpc"] == in_order(patent_id, "cpc_sequence", "cpc_subgroup_id"), patent_id
        assert record["grant_date"] == dt.date.fromisoformat(first["patent_date"])
        assert record["title"] == first["title"].strip()
    inkjet = patents["US9162460B2"]
    assert inkjet["applicant_addresses"] == ["Nagoya, Aichi, JP"] and inkjet["inventors"] == ["Kohei Terada"]
