"""Damaged bytes inside a CSV export reject their row (field `encoding`, with the byte offset), not the file."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from graph.workspace import Workspace
from ingest import IngestError, ingest_patents
from ingest.stage import _HashRuns, key_hashes

HEADER = "公开（公告）号,申请号,申请日,发明名称,申请（专利权）人,分类号\n"


def export_rows(count: int) -> list[str]:
    return [f"CN{114000000 + i}A,CN2021101{i:05d}.7,2021-03-05,一种图像识别方法第{i}号,深圳市云图智能科技有限公司,G06N3/08\n"
            for i in range(count)]


def write_with_damage(path, rows: list[str], encoding: str, damage: dict[int, bytes]) -> dict[int, int]:
    """Write header + rows; row i (0-based) gets damage[i] spliced after its title's first character.

    Returns each damaged row's byte offset of the splice in the file.
    """
    data = bytearray(HEADER.encode(encoding))
    offsets = {}
    for index, row in enumerate(rows):
        encoded = row.encode(encoding)
        if index in damage:
            cut = encoded.index("一种".encode(encoding)) + len("一".encode(encoding))
            offsets[index] = len(data) + cut
            encoded = encoded[:cut] + damage[index] + encoded[cut:]
        data += encoded
    path.write_bytes(bytes(data))
    return offsets


def quarantined(workspace: Workspace) -> list[dict]:
    return sorted(workspace.read("quarantine").to_pylist(), key=lambda r: r["position"])


def test_invalid_utf8_mid_file_rejects_only_its_row(tmp_path):
    path = tmp_path / "export.csv"
    offsets = write_with_damage(path, export_rows(300), "utf-8", {150: b"\xff\xfe", 280: b"\xc3"})
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [path], "run-1")
    (count,) = report.per_file
    assert (count.encoding, count.read, count.written, count.quarantined) == ("utf-8", 300, 298, 2)
    rows = quarantined(workspace)
    assert [(r["position"], r["field"]) for r in rows] == [(151, "encoding"), (281, "encoding")]
    assert f"bytes ff that are not utf-8 at byte offset {offsets[150]}" in rows[0]["reason"]
    assert "1 more damaged spots" in rows[0]["reason"]  # \xfe is a second undecodable byte
    assert f"bytes c3 that are not utf-8 at byte offset {offsets[280]}" in rows[1]["reason"]
    assert "CN114000150A" in rows[0]["raw"] and "\ufffd" in rows[0]["raw"]
    numbers = set(workspace.read("patents", columns=["publication_number"]).column(0).to_pylist())
    assert "CN114000149A" in numbers and "CN114000151A" in numbers and "CN114000150A" not in numbers


def test_a_late_nul_byte_rejects_its_row_and_an_early_one_the_file(tmp_path):
    late = tmp_path / "late.csv"
    offsets = write_with_damage(late, export_rows(300), "utf-8", {250: b"\x00"})
    assert offsets[250] > 8192
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [late], "run-1")
    assert (report.read, report.written, report.quarantined) == (300, 299, 1)
    (row,) = quarantined(workspace)
    assert (row["position"], row["field"]) == (251, "encoding")
    assert f"a NUL byte at byte offset {offsets[250]}" in row["reason"]

    early = tmp_path / "early.csv"
    write_with_damage(early, export_rows(20), "utf-8", {3: b"\x00"})
    with pytest.raises(IngestError, match=r"early\.csv: not a text export .*binary data \(NUL byte at offset"):
        ingest_patents(Workspace(tmp_path / "ws2"), [early], "run-1")


def test_damaged_row_with_wrong_column_count_is_one_encoding_rejection(tmp_path):
    path = tmp_path / "export.csv"
    rows = export_rows(100)
    rows[40] = rows[40].replace(",G06N3/08", ",G06N3/08,extra")
    offsets = write_with_damage(path, rows, "utf-8", {40: b"\xfa"})
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [path], "run-1")
    assert (report.read, report.written, report.quarantined) == (100, 99, 1)
    (row,) = quarantined(workspace)
    assert (row["position"], row["field"]) == (41, "encoding")
    assert f"byte offset {offsets[40]}" in row["reason"]


def test_gb18030_export_with_a_stray_byte(tmp_path):
    path = tmp_path / "incopat.csv"
    offsets = write_with_damage(path, export_rows(200), "gb18030", {120: b"\xff"})
    workspace = Workspace(tmp_path / "ws")
    report = ingest_patents(workspace, [path], "run-1")
    (count,) = report.per_file
    assert (count.encoding, count.read, count.written, count.quarantined) == ("gb18030", 200, 199, 1)
    (row,) = quarantined(workspace)
    assert row["position"] == 121 and f"bytes ff that are not gb18030 at byte offset {offsets[120]}" in row["reason"]
    titles = workspace.read("patents", columns=["title"]).column(0).to_pylist()
    assert "一种图像识别方法第7号" in titles  # the rest is decoded as GB18030


def test_latin1_text_is_not_taken_for_damaged_utf8(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(("公开号,发明名称\n" + "".join(f"CN{114000000 + i}A,Caf\xe9 \xe0 Z\xfcrich\n" for i in range(50)))
                     .encode("latin-1", errors="replace").replace(b"?", b"X"))
    with pytest.raises(IngestError, match=r"latin\.csv: not a text export in a supported encoding"):
        ingest_patents(Workspace(tmp_path / "ws"), [path], "run-1")


def test_key_hashes_are_stable_and_tell_keys_apart():
    keys = pa.array([f"CN{300000000 + i}A" for i in range(200_000)] + ["US1234567B2", "US1234567B1", "中文键", "x" * 40])
    hashes = key_hashes(keys)
    assert len(np.unique(hashes)) == len(keys)
    assert (key_hashes(keys.slice(5, 10)) == hashes[5:15]).all()  # a slice hashes like the whole
    runs = _HashRuns()
    for start in range(0, 200_000, 25_000):
        chunk = np.unique(hashes[start:start + 25_000])
        runs.add(chunk[~runs.contains(chunk)])
    assert len(runs) == 200_000 and len(runs.runs) <= 4
    assert runs.contains(hashes[:200_000]).all() and not runs.contains(hashes[200_000:]).any()


@pytest.mark.parametrize("shape", ["short lines", "one line longer than the cap", "no final newline", "gzip", "empty"])
def test_the_whole_file_utf8_check_cuts_the_file_where_the_chunk_reader_does(tmp_path, monkeypatch, shape):
    """detect_encoding reads into one reused buffer; its chunks (and so its verdicts) must be the chunk reader's."""
    import gzip

    from ingest import sources

    monkeypatch.setattr(sources, "_CHUNK", 16)  # 128-byte reads, lines longer than 1 KB cut without a newline
    rng = np.random.default_rng(3)
    lines = ["专利,G06N3/08," + "x" * int(n) for n in rng.integers(0, 300, 200)]
    text = {"short lines": "\n".join(lines) + "\n", "one line longer than the cap": "a" * 5000 + "\n" + "\n".join(lines),
            "no final newline": "\n".join(lines), "gzip": "\n".join(lines) + "\n", "empty": ""}[shape].encode()
    path = tmp_path / "export.csv"
    path.write_bytes(gzip.compress(text) if shape == "gzip" else text)
    opener = (lambda: gzip.open(path, "rb")) if shape == "gzip" else (lambda: open(path, "rb"))
    chunks = [(offset, chunk) for offset, chunk in sources._line_chunks("export.csv", opener)]
    windows = [(offset, bytes(window[:end])) for offset, window, end in sources._line_windows("export.csv", opener)]
    assert windows == chunks
    assert b"".join(chunk for _, chunk in windows) == text


@pytest.mark.parametrize("late", ["GB18030 text", "a stray byte", "a NUL byte", "a stray byte after a repeated key"])
def test_a_file_clean_in_its_first_window_but_not_after_ends_as_if_checked_whole_first(tmp_path, monkeypatch, late):
    """Only the first window is checked before parsing; damage found later restarts the file in its real encoding."""
    from ingest import sources, stage

    english = [f"CN{114000000 + i}A,CN2021101{i:05d}.7,2021-03-05,Image recognition method {i},Cloud Vision Ltd,G06N3/08\n"
               for i in range(3000)]  # 300 KB: the reader runs ahead of the batches staged
    if late.endswith("repeated key"):
        english[30] = english[20]  # the direct table write stops here and the rest goes through the merge pass
    path = tmp_path / "export.csv"
    if late == "GB18030 text":
        header = "publication number,application number,application date,title,applicants,ipc\n"
        path.write_bytes((header + "".join(english)).encode() + "".join(export_rows(3400)[3000:]).encode("gb18030"))
    else:
        write_with_damage(path, english + export_rows(3400)[3000:], "utf-8", {3350: b"\x00" if "NUL" in late else b"\xff"})

    whole = Workspace(tmp_path / "checked-whole")  # 8 MB windows: the whole file is checked before parsing
    ingest_patents(whole, [path], "run-1")

    restarts = []
    monkeypatch.setattr(stage._Merger, "restart_file",
                        lambda self, restart=stage._Merger.restart_file: restarts.append(1) or restart(self))
    monkeypatch.setattr(sources, "_CHUNK", 512)  # 4 KB windows: only the first is checked before parsing
    monkeypatch.setattr(sources, "_BLOCK_BYTES", 4096)  # and several batches are staged before the damage
    monkeypatch.setattr(sources, "_BATCH_BYTES", 8192)
    streamed = Workspace(tmp_path / "checked-while-read")
    report = ingest_patents(streamed, [path], "run-1")

    assert restarts == [1]
    assert report.read == 3400 and report.per_file[0].encoding == ("gb18030" if late == "GB18030 text" else "utf-8")
    for table in ("patents", "quarantine"):
        assert streamed.read(table).equals(whole.read(table)), table
    if late == "GB18030 text":
        assert "一种图像识别方法第3350号" in streamed.read("patents", columns=["title"]).column(0).to_pylist()
    else:
        assert [(r["position"], r["field"]) for r in quarantined(streamed)] == [(3351, "encoding")]
