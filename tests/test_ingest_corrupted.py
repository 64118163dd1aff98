"""A damaged copy of each real sample fails record by record into quarantine, never the whole run."""

from __future__ import annotations

from pathlib import Path

from conftest import shared_data

from graph.workspace import Workspace
from ingest import ingest_firms, ingest_patents

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ingest"


def corrupt_csv(source: Path, target: Path, encoding: str = "utf-8") -> tuple[Path, int]:
    """Break one row's quoting, cut one row short, and truncate the file inside its last row."""
    lines = source.read_text(encoding=encoding).splitlines(keepends=True)
    lines[2] = lines[2].replace(",", ',"', 1)  # an opening quote that never closes … until the truncation
    lines[1] = ",".join(lines[1].split(",")[:3]) + "\n"  # a row cut short
    body = "".join(lines[:2] + lines[3:])
    target.write_text(body[: len(body) - 40], encoding=encoding)  # cut inside the last row
    return target, len(lines) - 2


def assert_accounted(report) -> None:
    for count in report.per_file:
        assert count.error is None and count.read == count.written + count.quarantined


def test_corrupted_cnipa_export(tmp_path):
    path, rows = corrupt_csv(shared_data("cn_cnipa_style_sample/cnipa_style_patents.csv"), tmp_path / "cnipa.csv")
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [path], "run-1")
    assert_accounted(report)
    (count,) = report.per_file
    assert count.written >= rows - 3 and count.quarantined >= 1
    fields = {r["field"] for r in workspace.read("quarantine").to_pylist()}
    assert "columns" in fields


def test_corrupted_lens_and_google_exports(tmp_path):
    for name in ("lens_export.csv", "google_patents.csv"):
        lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines(keepends=True)
        lines[-2] = lines[-2].replace(",", ";", 3)  # separators garbled: a row with too few columns
        lines[-3] = lines[-3].replace(",", ',x"', 1)  # a stray quote inside the first data cell
        damaged = tmp_path / name
        damaged.write_text("".join(lines)[:-30], encoding="utf-8")  # and truncated inside the last row
        report = ingest_patents(Workspace(tmp_path / f"ws-{name}"), [damaged], "run-1")
        assert_accounted(report)
        assert report.written >= 1 and report.quarantined >= 2


def test_corrupted_uspto_weekly_xml(tmp_path):
    source = shared_data("uspto_grant_xml_pvdb/ipg110104.small.xml")
    data = bytearray(source.read_bytes())
    documents = data.count(b"<?xml")
    second = data.index(b"<?xml", 10)
    data[second + 300: second + 310] = b"<<&&>>\xff\xfe<<"  # flipped bytes: one document not well-formed
    third_close = data.index(b"</us-patent-grant>", data.index(b"<?xml", second + 10))
    data[third_close: third_close + 5] = b"</us-"[:2] + b"XXX"  # a broken closing tag
    damaged = tmp_path / "ipg_damaged.xml"
    damaged.write_bytes(bytes(data[: len(data) - 500]))  # and truncated inside the last document
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [damaged], "run-1")
    assert_accounted(report)
    (count,) = report.per_file
    assert count.read == documents and count.quarantined == 3
    assert {r["field"] for r in workspace.read("quarantine").to_pylist()} == {"document"}


def test_corrupted_gleif_and_registry(tmp_path):
    gleif, _rows = corrupt_csv(shared_data("gleif_lei_samples/lei_entities.csv"), tmp_path / "lei.csv")
    registry, _ = corrupt_csv(FIXTURES / "registry_cn.csv", tmp_path / "registry.csv", "utf-8-sig")
    workspace = Workspace(tmp_path / "ws")
    report = ingest_firms(workspace, [gleif, registry], "run-1")
    assert_accounted(report)
    assert all(c.written > 0 and c.quarantined > 0 for c in report.per_file)
