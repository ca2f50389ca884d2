"""Speed at scale: every benchmark figure of issue 7 in one table, each next to its goal.

    python bench/scale.py            # what `make bench` runs: SQLite, and PostgreSQL when it
                                     # answers at postgresql+psycopg://postgres@127.0.0.1:5432
    python bench/scale.py --smoke    # tiny sizes and 1 s runs, for the test suite
    python bench/scale.py --json out.json

It runs bench/ingest.py, bench/dispatch.py and bench/fleet.py as subprocesses (their
progress goes to stderr) and collects their `--json` results:

- ingest / bare Flask at concurrency 32, with p50/p99, and again at concurrency 128;
- the same ratio with --preload-events (1,000,000 stored events, seeded once per database
  and reused by that variant's runs) and with --subscriptions (50 matching subscriptions,
  so each accepted callback is owed 50 deliveries, which the worker expands); "slower"
  compares that variant's ratio with the plain concurrency-32 ratio, each against bare
  Flask measured in its own minutes;
- deliveries/s of one worker to bench/sink.py, expansion included, with a requests.Session
  loop as the baseline, and ingest->subscriber p50/p99 at a steady 200 callbacks/s with 5
  subscriptions (bench/dispatch.py);
- deliveries/s of one worker with ordering against the same backlog without, 10,000
  messages x 3 events, and one message's 200 events through a sink refusing every third
  POST once, all arriving in order (bench/ordering.py);
- on PostgreSQL, 1,000 callbacks x 50 subscriptions with two workers, one SIGKILLed
  halfway: deliveries that arrived at least once, and duplicates (bench/fleet.py);
- events/s stored from one 1,000-message Phonify callback, against bare Flask answering the
  same body (bench/large_callback.py).

PostgreSQL variants run only when PostgreSQL answers; their scratch databases are
bench_ingest_<pid>, bench_dispatch_<pid> and bench_fleet_<pid>, dropped by the benchmark
that made them. All traffic stays on 127.0.0.1; each subprocess has a time limit, and every
one is stopped if this script is stopped. Exit status 1 if a benchmark failed or lost an
accepted event; missed goals are reported in the table, not in the exit status.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for _path in (ROOT, BENCH):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

RATIO_GOALS = {"sqlite": 0.5, "postgresql": 0.35}
P99_GOAL_MS = 50.0
PRELOAD_SLOWER_GOAL = 0.10
SUBSCRIPTIONS_SLOWER_GOAL = 0.05  # 50 subscriptions: at least 0.95x of none
DELIVERIES_GOAL = 1000.0
LATENCY_P50_GOAL_MS = 100.0
LATENCY_P99_GOAL_MS = 500.0
NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@dataclass
class Job:
    key: str
    argv: list[str]
    timeout: float
    result: dict | None = None
    error: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", action="append", choices=["sqlite", "postgresql"],
                        help="repeatable (default: sqlite, and postgresql when it answers)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per ingest run")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs per variant")
    parser.add_argument("--preload-events", type=int, default=1_000_000)
    parser.add_argument("--subscriptions", type=int, default=50)
    parser.add_argument("--concurrency", type=int, nargs=2, default=[32, 128],
                        metavar=("LOW", "HIGH"), help="the two concurrencies measured")
    parser.add_argument("--events", type=int, default=5000, help="dispatch: events delivered")
    parser.add_argument("--smoke", action="store_true",
                        help="SQLite only (unless --database), 1 run of 1 s, Python load, "
                             "concurrency 4 and 8, 1,000 preloaded events, 3 subscriptions, "
                             "dispatch --smoke: checks the orchestration, not the figures")
    parser.add_argument("--json", type=Path, help="also write every result here")
    opts = parser.parse_args(argv)
    if opts.smoke:
        opts.duration, opts.runs = 1.0, 1
        opts.preload_events, opts.subscriptions = 1000, 3
        opts.concurrency = [4, 8]
        opts.database = opts.database or ["sqlite"]
    return opts


def postgres_answers() -> bool:
    from ingest import DEFAULT_PG_URL, PostgresDatabase

    return PostgresDatabase(DEFAULT_PG_URL).reachable()


def plan(opts: argparse.Namespace, workdir: Path) -> list[Job]:
    from ingest import DEFAULT_PG_URL

    databases = opts.database
    opts.not_run = {}
    if databases is None:
        databases = ["sqlite"]
        if postgres_answers():
            databases.append("postgresql")
        else:
            # Said in the table too: a missing half must not pass for a short table.
            opts.not_run["postgresql"] = f"PostgreSQL does not answer at {DEFAULT_PG_URL}"
            print(f"{opts.not_run['postgresql']}: SQLite only", file=sys.stderr, flush=True)
    low, high = opts.concurrency
    per_run = 2 * (opts.duration + 1 + 30)  # both apps: run, warm-up, start and stop
    jobs = []
    for db in databases:
        spec = "sqlite" if db == "sqlite" else DEFAULT_PG_URL
        common = [sys.executable, str(BENCH / "ingest.py"), "--database", spec,
                  "--duration", f"{opts.duration:g}", "--runs", str(opts.runs)]
        if opts.smoke:
            common += ["--warmup", "0.2", "--loadgen", "python"]
        variants = [("base", low, []), ("high", high, []),
                    ("subscriptions", low, ["--subscriptions", str(opts.subscriptions)]),
                    ("preload", low, ["--preload-events", str(opts.preload_events)])]
        for name, concurrency, extra in variants:
            seeding = 900 if name == "preload" else 0
            jobs.append(Job(f"{db}:{name}", [*common, "--concurrency", str(concurrency),
                                             *extra], opts.runs * per_run + seeding + 60))
    for db in databases:
        spec = "sqlite" if db == "sqlite" else DEFAULT_PG_URL.replace("bench_ingest",
                                                                      "bench_dispatch")
        argv = [sys.executable, str(BENCH / "dispatch.py"), "--database", spec]
        argv += ["--smoke"] if opts.smoke else ["--events", str(opts.events)]
        jobs.append(Job(f"{db}:dispatch", argv, 600))
    for db in databases:
        spec = "sqlite" if db == "sqlite" else DEFAULT_PG_URL.replace("bench_ingest",
                                                                      "bench_ordering")
        argv = [sys.executable, str(BENCH / "ordering.py"), "--database", spec]
        jobs.append(Job(f"{db}:ordering", argv + (["--smoke"] if opts.smoke else []), 900))
    if "postgresql" in databases:
        argv = [sys.executable, str(BENCH / "fleet.py"), "--database",
                DEFAULT_PG_URL.replace("bench_ingest", "bench_fleet")]
        if opts.smoke:
            argv += ["--callbacks", "40", "--subscriptions", "5", "--lease", "4"]
        jobs.append(Job("postgresql:fleet", argv, 400))
    for db in databases:
        spec = "sqlite" if db == "sqlite" else DEFAULT_PG_URL.replace("bench_ingest",
                                                                      "bench_large")
        argv = [sys.executable, str(BENCH / "large_callback.py"), "--database", spec]
        jobs.append(Job(f"{db}:large", argv + (["--smoke"] if opts.smoke else []), 300))
    for job in jobs:
        job.argv += ["--json", str(workdir / f"{job.key.replace(':', '-')}.json")]
    return jobs


RUNNING: list[subprocess.Popen] = []


def run(job: Job) -> None:
    """One benchmark, its output passed on to stderr line by line, under a time limit."""
    out = Path(job.argv[-1])
    print(f"\n== {job.key}: {' '.join(Path(a).name if '/' in a else a for a in job.argv[1:])}",
          file=sys.stderr, flush=True)
    started = time.monotonic()
    process = subprocess.Popen(job.argv, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    RUNNING.append(process)
    timer = _Deadline(process, job.timeout)
    try:
        for line in process.stdout:
            print(f"   {line.rstrip()}", file=sys.stderr, flush=True)
        process.wait()
    finally:
        timer.cancel()
        stop(process)
        RUNNING.remove(process)
    job.seconds = time.monotonic() - started
    if timer.fired:
        job.error = f"stopped after its time limit of {job.timeout:.0f} s"
    elif process.returncode != 0:
        job.error = f"exit status {process.returncode}"
    if out.exists():
        job.result = json.loads(out.read_text())
    elif job.error is None:
        job.error = "wrote no results"


class _Deadline:
    def __init__(self, process: subprocess.Popen, seconds: float) -> None:
        import threading

        self.fired = False
        self._process = process
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        self._process.terminate()  # its own cleanup stops its servers, drops its database

    def cancel(self) -> None:
        self._timer.cancel()


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# --- the table ----------------------------------------------------------------------------

def ingest_summary(job: Job | None) -> dict | None:
    if job is None or job.result is None or not job.result.get("summaries"):
        return None
    return job.result["summaries"][0]


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "MISSED")


def rows_for(db: str, jobs: dict[str, Job], opts) -> list[tuple[str, str, str, str]]:
    name = NAMES[db]
    low, high = opts.concurrency
    rows: list[tuple[str, str, str, str]] = []

    def failed(key: str, what: str) -> bool:
        job = jobs.get(f"{db}:{key}")
        if job is not None and job.result is not None:
            return False
        reason = job.error if job is not None else "not run"
        rows.append((f"{name}: {what}", f"FAILED ({reason})", "", "MISSED"))
        return True

    base = ingest_summary(jobs.get(f"{db}:base"))
    if not failed("base", f"ingest / bare Flask, c{low}"):
        w, b = base["switchboard"], base["bare"]
        goal = RATIO_GOALS[db]
        rows.append((f"{name}: ingest / bare Flask, c{low}",
                     f"{base['ratio']:.2f}x ({w['rps']:,.0f} / {b['rps']:,.0f} req/s)",
                     f">= {goal:.2f}x", verdict(base["ratio"] >= goal)))
        rows.append((f"{name}: ingest p50 / p99, c{low}",
                     f"{w['p50_ms']:.1f} / {w['p99_ms']:.1f} ms",
                     f"p99 <= {P99_GOAL_MS:.0f} ms", verdict(w["p99_ms"] <= P99_GOAL_MS)))
    high_s = ingest_summary(jobs.get(f"{db}:high"))
    if not failed("high", f"ingest p50 / p99, c{high}"):
        w = high_s["switchboard"]
        rows.append((f"{name}: ingest p50 / p99, c{high}",
                     f"{w['p50_ms']:.1f} / {w['p99_ms']:.1f} ms ({high_s['ratio']:.2f}x, "
                     f"{w['rps']:,.0f} req/s)", "none set", "-"))
    for key, what, goal in (
            ("preload", f"ingest / bare, {opts.preload_events:,} events stored",
             PRELOAD_SLOWER_GOAL),
            ("subscriptions", f"ingest / bare, {opts.subscriptions} subscriptions",
             SUBSCRIPTIONS_SLOWER_GOAL)):
        summary = ingest_summary(jobs.get(f"{db}:{key}"))
        if failed(key, what):
            continue
        figure = f"{summary['ratio']:.2f}x ({summary['switchboard']['rps']:,.0f} req/s"
        ok = None
        if base is not None and base["ratio"] > 0:
            slower = 1 - summary["ratio"] / base["ratio"]
            figure += (f", {slower:.0%} slower)" if slower >= 0
                       else f", {-slower:.0%} faster)")
            ok = slower <= goal
        else:
            figure += ")"
        rows.append((f"{name}: {what}", figure, f"<= {goal:.0%} slower", verdict(ok)))
    if not failed("dispatch", "deliveries/s, one worker"):
        d = jobs[f"{db}:dispatch"].result
        rows.append((f"{name}: deliveries/s, one worker",
                     f"{d['deliveries_per_s']:,.0f}/s (requests loop "
                     f"{d['requests_loop_per_s']:,.0f}/s)",
                     f">= {DELIVERIES_GOAL:,.0f}/s",
                     verdict(d["deliveries_per_s"] >= DELIVERIES_GOAL)))
        rows.append((f"{name}: ingest->subscriber p50 / p99",
                     f"{d['latency_p50_ms']:.1f} / {d['latency_p99_ms']:.1f} ms "
                     f"({d['latency_rate']:.0f} callbacks/s x "
                     f"{d['latency_subscriptions']} subscriptions)",
                     f"p50 <= {LATENCY_P50_GOAL_MS:.0f}, p99 <= {LATENCY_P99_GOAL_MS:.0f} ms",
                     verdict(d["latency_p50_ms"] <= LATENCY_P50_GOAL_MS
                             and d["latency_p99_ms"] <= LATENCY_P99_GOAL_MS)))
    if not failed("ordering", "ordered delivery, one worker"):
        o = jobs[f"{db}:ordering"].result
        rows.append((f"{name}: deliveries/s ordered / unordered, "
                     f"{o['messages']:,} messages x 3 events",
                     f"{o['ratio']:.2f}x ({o['ordered_per_s']:,.0f} / "
                     f"{o['unordered_per_s']:,.0f}/s)",
                     f">= {o['ratio_goal']:.1f}x", verdict(o["ratio"] >= o["ratio_goal"])))
        rows.append((f"{name}: one message, {o['chain_events']} events, every third POST "
                     "refused once",
                     f"{o['chain_accepted']} arrived, "
                     f"{'in order' if o['chain_in_order'] else 'OUT OF ORDER'}, "
                     f"{o['chain_refused']} retried, {o['chain_seconds']:.0f} s",
                     "all, in order", verdict(o["chain_in_order"])))
    if db == "postgresql" and not failed("fleet", "two workers, one SIGKILLed"):
        f = jobs[f"{db}:fleet"].result
        rows.append((f"{name}: {f['callbacks']:,} callbacks x {f['subscriptions']} "
                     "subscriptions, two workers, one SIGKILLed",
                     f"{f['arrived_unique']:,} of {f['owed']:,} arrived, "
                     f"{f['duplicates']:,} duplicates, {f['rows_doubled']} rows doubled, "
                     f"{f['seconds']:.0f} s",
                     "every one arrives",
                     verdict(f["arrived_unique"] == f["owed"] and not f["rows_doubled"])))
    if not failed("large", "events/s, one 1,000-message callback"):
        (large,) = jobs[f"{db}:large"].result["results"]
        rows.append((f"{name}: events/s, one {large['messages']:,}-message callback",
                     f"{large['events_per_s']:,.0f}/s ({large['ratio']:.3f}x of bare Flask "
                     f"answering the same body, {large['bare_events_per_s']:,.0f}/s)",
                     "none set", "-"))
    return rows


def integrity_notes(jobs: list[Job]) -> list[str]:
    notes = []
    for job in jobs:
        summary = ingest_summary(job)
        if summary is not None:
            w = summary["switchboard"]
            if w["missing"]:
                notes.append(f"{job.key}: {w['missing']} accepted events were NOT stored")
            if w["errors"]:
                notes.append(f"{job.key}: {w['errors']} non-2xx answers or socket errors")
        elif job.result is not None and job.key.endswith(":large"):
            notes += [f"{job.key}: stored {r['stored']} of {r['accepted']} accepted events, "
                      f"{r['errors']} errors" for r in job.result["results"]
                      if r["stored"] != r["accepted"] or r["errors"]]
        elif job.result is not None and job.key.endswith(":dispatch"):
            d = job.result
            if d["delivered"] < d["events"] or d["unique"] < d["delivered"]:
                notes.append(f"{job.key}: delivered {d['delivered']} of {d['events']}, "
                             f"{d['unique']} unique")
    return notes


def table(opts, databases: list[str], jobs: dict[str, Job]) -> str:
    loadgen = next((j.result["options"]["loadgen"] for j in jobs.values()
                    if j.result and "options" in j.result), "?")
    rows = [r for db in databases for r in rows_for(db, jobs, opts)]
    rows += [(f"{NAMES[db]}: every figure", f"NOT RUN ({why})", "", "MISSED")
             for db, why in getattr(opts, "not_run", {}).items()]
    head = ("measure", "figure", "goal", "met?")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]

    def line(r):
        return "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    seeded = [j for k, j in jobs.items() if k.endswith(":preload") and j.result]
    out = [f"Switchboard at scale: gunicorn sync -w 2 on 127.0.0.1, load from {loadgen}, "
           f"{opts.duration:g} s runs, medians of {opts.runs} run(s) interleaved with bare "
           "Flask", line(head), "-" * len(line(head)), *map(line, rows), ""]
    out.append(f"Ratios are Switchboard req/s over bare Flask req/s under the same gunicorn, "
               f"same load, same minutes. 'slower' = 1 - variant ratio / c{opts.concurrency[0]}"
               " ratio.")
    if seeded:
        out.append(f"{opts.preload_events:,} events: seeded once per database (receipts, "
                   "events, status rows, deliveries; bench/seed.py) and reused by all "
                   f"{opts.runs} run(s) of that variant, each adding its own events.")
    out.append(f"{opts.subscriptions} subscriptions all match: every accepted callback "
               f"is owed {opts.subscriptions} deliveries, which a worker expands later.")
    out.append("Deliveries: one `switchboard worker` (concurrency 16) to bench/sink.py, "
               "expanding each event's fan-out too; the baseline is a requests.Session POST "
               "loop to the same sink.")
    notes = integrity_notes(list(jobs.values()))
    out += [f"! {n}" for n in notes]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="switchboard-scale-") as tmp:
        jobs = plan(opts, Path(tmp))
        try:
            for job in jobs:
                run(job)
        finally:
            for process in list(RUNNING):
                stop(process)
        databases = list(dict.fromkeys(j.key.split(":")[0] for j in jobs))
        by_key = {j.key: j for j in jobs}
        print(f"\n(all benchmarks took {time.monotonic() - started:.0f} s)\n",
              file=sys.stderr, flush=True)
        print(table(opts, databases, by_key), flush=True)
        if opts.json:
            opts.json.write_text(json.dumps({
                "options": {k: (str(v) if isinstance(v, Path) else v)
                            for k, v in vars(opts).items()},
                "jobs": [{"key": j.key, "seconds": j.seconds, "error": j.error,
                          "result": j.result} for j in jobs]}, indent=2, default=str))
    broken = [j.key for j in jobs if j.error] + integrity_notes(jobs)
    if broken:
        print(f"FAILED: {', '.join(broken)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
