"""bench/scale.py (`make bench`) run once in its tiny smoke mode so the orchestration never
rots: the ingest variants (two concurrencies, preloaded events, subscriptions) and dispatch
run as subprocesses, their JSON is collected and one table is printed.

No timing is asserted: only that every part ran, that the table has every row with a goal
and a verdict, and that nothing accepted was lost.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_scale_smoke(tmp_path):
    results = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--smoke", "--json", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr[-5000:]

    rows = {line.split("  ")[0].removeprefix("SQLite: "): line
            for line in done.stdout.splitlines()
            if line.startswith("SQLite: ")}
    for measure in ("ingest / bare Flask, c4", "ingest p50 / p99, c4", "ingest p50 / p99, c8",
                    "ingest / bare, 1,000 events stored", "ingest / bare, 3 subscriptions",
                    "deliveries/s, one worker", "ingest->subscriber p50 / p99",
                    "events/s, one 50-message callback",
                    "deliveries/s ordered / unordered, 100 messages x 3 events",
                    "one message, 20 events, every third POST refused once"):
        assert measure in rows, done.stdout
        assert "FAILED" not in rows[measure], done.stdout
    assert rows["ingest / bare, 1,000 events stored"].rstrip().endswith(("met", "MISSED"))
    assert "seeded 1,000 events" in done.stderr

    jobs = {job["key"]: job for job in json.loads(results.read_text())["jobs"]}
    assert set(jobs) == {"sqlite:base", "sqlite:high", "sqlite:subscriptions",
                         "sqlite:preload", "sqlite:dispatch", "sqlite:large",
                         "sqlite:ordering"}
    for key, job in jobs.items():
        assert job["error"] is None, (key, job["error"])
        if key == "sqlite:large":
            (large,) = job["result"]["results"]
            assert large["stored"] == large["accepted"] > 0 and large["errors"] == 0
            assert large["events_per_s"] > 0
            continue
        if key == "sqlite:ordering":  # its figures: tests/test_bench_smoke.py
            assert job["result"]["chain_in_order"] is True
            continue
        if key == "sqlite:dispatch":
            result = job["result"]
            assert result["delivered"] == result["events"] == result["unique"]
            assert result["deliveries_per_s"] > 0
            continue
        summary = job["result"]["summaries"][0]
        assert summary["switchboard"]["accepted"] > 0
        assert summary["switchboard"]["missing"] == 0
        assert summary["switchboard"]["errors"] == 0
    assert jobs["sqlite:preload"]["result"]["options"]["preload_events"] == 1000
    assert jobs["sqlite:subscriptions"]["result"]["options"]["subscriptions"] == 3


def test_a_database_that_did_not_answer_is_a_row_of_the_table_not_a_silence():
    sys.path.insert(0, str(ROOT / "bench"))
    import scale

    opts = scale.parse_args(["--smoke"])
    opts.not_run = {"postgresql": "PostgreSQL does not answer at 127.0.0.1:5432"}
    printed = scale.table(opts, ["sqlite"], {}).splitlines()
    missing = [line for line in printed if line.startswith("PostgreSQL: every figure")]
    assert len(missing) == 1 and "NOT RUN (PostgreSQL does not answer" in missing[0]
    assert missing[0].rstrip().endswith("MISSED")
