"""The workspace contracts: validation on write and read, atomic replacement, versions, docs."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graph.contracts import CONTRACTS
from graph.workspace import ContractError, Quarantine, Workspace, empty, process_alive

ROOT = Path(__file__).resolve().parents[1]


def _links(**overrides) -> pd.DataFrame:
    data = {"chain_id": ["ai", "ai"], "from_node": ["ai.chips", "ai.models"], "to_node": ["ai.models", "ai.apps"]}
    data.update(overrides)
    return pd.DataFrame(data)


def test_round_trip_keeps_rows_and_records_the_run(tmp_path):
    ws = Workspace(tmp_path)
    ws.write("supply_links", _links(), "run-1")
    assert ws.read_df("supply_links").to_dict("records") == _links().to_dict("records")
    assert ws.run_id_of("supply_links") == "run-1"


def test_missing_required_value_names_table_column_and_row(tmp_path):
    with pytest.raises(ContractError, match=r"'supply_links'.*'from_node'.*row 1"):
        Workspace(tmp_path).write("supply_links", _links(from_node=["ai.chips", None]), "r")


def test_enum_value_outside_contract_is_refused(tmp_path):
    frame = empty("matches")
    frame.loc[0] = ["a1", "f1", 0.9, "maybe", "direct", "{}", "m1"]
    with pytest.raises(ContractError, match=r"'decision' has 'maybe' at row 0"):
        Workspace(tmp_path).write("matches", frame, "r")


def test_missing_required_column_is_refused_and_optional_ones_are_filled(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(ContractError, match=r"missing required columns \['to_node'\]"):
        ws.write("supply_links", _links().drop(columns=["to_node"]), "r")
    frame = empty("quarantine").drop(columns=["raw"])
    frame.loc[0] = ["ingest-patents", "a.csv", 3, "title", "too long"]
    assert ws.write("quarantine", frame, "r").column("raw").null_count == 1


def test_table_from_another_schema_version_is_refused_on_read(tmp_path):
    ws = Workspace(tmp_path)
    ws.write("supply_links", _links(), "r")
    path = ws.table_path("supply_links")
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    meta[b"patentgraph.schema_version"] = b"0"
    pq.write_table(table.replace_schema_metadata(meta), path)
    with pytest.raises(ContractError, match=r"supply_links v0.*reads supply_links v1"):
        ws.read("supply_links")


def test_failed_write_leaves_previous_table_intact(tmp_path):
    ws = Workspace(tmp_path)
    ws.write("supply_links", _links(), "good")
    with pytest.raises(ContractError):
        ws.write("supply_links", _links(to_node=[None, "x"]), "bad")
    assert ws.run_id_of("supply_links") == "good"
    assert len(ws.read_df("supply_links")) == 2
    assert not list(ws.tables_dir.glob(".*tmp")), "no temporary file is left behind"


def test_arrow_tables_are_cast_to_the_contract(tmp_path):
    table = pa.table({"chain_id": ["ai"], "from_node": ["a"], "to_node": ["b"], "extra": [1]})
    written = Workspace(tmp_path).write("supply_links", table, "r")
    assert written.column_names == ["chain_id", "from_node", "to_node"]


def test_quarantine_replaces_only_its_own_stage(tmp_path):
    ws = Workspace(tmp_path)
    first = Quarantine("ingest-patents")
    first.add("a.csv", 3, "申请日", "impossible date 2021-02-30", "row text")
    first.save(ws, "r1")
    other = Quarantine("ingest-firms")
    other.add("f.xlsx", 9, "统一社会信用代码", "bad check digit")
    csv_path = other.save(ws, "r2")
    again = Quarantine("ingest-patents")
    again.save(ws, "r3")
    table = ws.read_df("quarantine")
    assert table["stage"].tolist() == ["ingest-firms"]
    assert pd.read_csv(csv_path, encoding="utf-8-sig")["field"].tolist() == ["统一社会信用代码"]


def test_run_ledger_appends(tmp_path):
    ws = Workspace(tmp_path)
    ws.record_run("r1", "match", {"applicants": 3}, 0.5)
    ws.record_run("r2", "rank", {"rows": 2}, 0.1)
    assert [run["stage"] for run in ws.runs()] == ["match", "rank"]


def test_contracts_page_documents_every_table_and_column():
    page = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    for name, contract in CONTRACTS.items():
        assert re.search(rf"^### {name}\b", page, re.M), f"docs/contracts.md lacks a section for {name}"
        for field in contract.schema:
            assert field.name in page, f"docs/contracts.md does not mention {name}.{field.name}"


def test_free_text_and_no_dictionary_columns_are_stored_plain_and_list_items_dictionary_encoded(tmp_path):
    # Per-column writer options name Parquet column paths: a list's items sit at `<name>.list.element`.
    ws = Workspace(tmp_path)
    rows = pd.DataFrame({"publication_number": [f"CN{100000 + i}A" for i in range(50)], "patent_type": "invention",
                         "abstract": [f"摘要 {i}" for i in range(50)], "ipc": [["G06N3/08"]] * 50, "cpc": [[]] * 50,
                         "applicants": [["某公司"]] * 50, "applicant_addresses": [[]] * 50, "inventors": [[]] * 50,
                         "cited_publications": [[]] * 50, "source_file": "f.csv", "source_position": range(1, 51)})
    ws.write("patents", rows, "run-1")
    group = pq.read_metadata(ws.table_path("patents")).row_group(0)
    encodings = {group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)}
    assert "RLE_DICTIONARY" not in encodings["abstract"]
    assert "RLE_DICTIONARY" in encodings["ipc.list.element"]
    assert ws.read_df("patents")["abstract"].tolist() == rows["abstract"].tolist()
    # the contract's no-dictionary columns (nearly all distinct) are plain too, but keep their statistics
    assert CONTRACTS["patents"].no_dictionary >= {"publication_number", "source_position"}
    for name in CONTRACTS["patents"].no_dictionary:
        path = f"{name}.list.element" if pa.types.is_list(CONTRACTS["patents"].schema.field(name).type) else name
        assert "RLE_DICTIONARY" not in encodings[path], name
    number = next(group.column(i) for i in range(group.num_columns) if group.column(i).path_in_schema == "publication_number")
    assert (number.statistics.min, number.statistics.max) == ("CN100000A", "CN100049A")
    assert ws.read_df("patents")["publication_number"].tolist() == rows["publication_number"].tolist()


@pytest.mark.parametrize(("chosen", "expected"), [(None, "jemalloc"), ("system", "system")])
def test_return_freed_memory_picks_jemalloc_unless_a_pool_is_chosen(chosen, expected):
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    code = ("import pyarrow as pa; from graph.workspace import return_freed_memory; return_freed_memory();"
            " print(pa.default_memory_pool().backend_name)")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_a_new_write_removes_temporary_files_of_dead_writers_only(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    workspace.write("firms", empty("firms"), "run-1")
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        tables = workspace.tables_dir
        stale, live, own = (tables / f".patents.parquet.{pid}.tmp" for pid in (dead, sleeper.pid, os.getpid()))
        unrelated = tables / ".notes.tmp"
        for path in (stale, live, own, unrelated):
            path.write_bytes(b"partial")
        workspace.write("firms", empty("firms"), "run-2")
        assert not stale.exists()
        assert live.exists() and own.exists() and unrelated.exists()  # a running writer's file, and one not ours
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_killed_process_not_yet_reaped_counts_as_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process_alive(child.pid):  # exited, but a zombie until waited for
            time.sleep(0.05)
        assert not process_alive(child.pid)
        assert os.path.exists(f"/proc/{child.pid}")  # still in the process table: the check looked past it
    finally:
        child.wait()
    assert process_alive(os.getpid())
