"""The ingest benchmark, run once in its tiny smoke mode so it never rots.

No timing is asserted: only that both apps were served and loaded, that the table with the
ratio was printed, and that Switchboard stored every event it answered "accepted" to.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_ingest_smoke(tmp_path):
    results = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ingest.py"), "--smoke", "--json", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr

    assert "ratio" in done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("sqlite "))
    assert "x  >=" in row, done.stdout

    summary = json.loads(results.read_text())["summaries"][0]
    assert summary["database"] == "sqlite"
    assert summary["bare"]["rps"] > 0
    assert summary["ratio"] > 0
    switchboard = summary["switchboard"]
    assert switchboard["accepted"] > 0
    assert switchboard["errors"] == 0
    assert switchboard["missing"] == 0
    assert switchboard["stored"] >= switchboard["accepted"]


def test_bench_ordering_smoke(tmp_path):
    """bench/ordering.py in its smoke mode: both backlogs delivered whole, the unordered one
    without a sequence, and the one message's events all arrived in order despite the sink
    refusing every third POST once."""
    results = tmp_path / "ordering.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ordering.py"), "--smoke", "--json",
         str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ratio ordered / unordered" in done.stdout
    figures = json.loads(results.read_text())
    assert [run["kind"] for run in figures["runs"]] == ["ordered", "unordered"]
    assert all(run["delivered"] == run["unique"] == figures["events"]
               for run in figures["runs"])
    assert figures["runs"][1]["sequences_null"] is True
    assert figures["chain_in_order"] is True
    assert figures["chain_refused"] > 0
