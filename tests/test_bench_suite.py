"""The benchmark suite's one command (bench/run_all.py) runs end to end on a tiny size.

Figures are not checked here (they live in docs/performance.md); what is checked is that the
documented command still completes, with every stage and every side-by-side row.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_run_all_prints_every_stage_the_targets_and_the_side_by_side_rows(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--sizes", "2k,4k", "--no-splink", "--markdown",
         "--cache", str(tmp_path)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for stage in ("ingest-firms", "ingest-patents", "match", "classify", "rank", "load", "whole pipeline"):
        assert f"| {stage} | 4k |" in out, stage
    assert "growth exponent 2k → 4k" in out
    for row in ("matching: ours", "matching: exact normalised name", "matching: splink (DuckDB)",
                "graph load: embedded LadybugDB", "graph load: Neo4j UNWIND batches", "PageRank: ours"):
        assert row in out, row
    assert "failed" not in out.split("Side by side")[-1]
