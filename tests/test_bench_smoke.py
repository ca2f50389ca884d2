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
