"""Ingest benchmark: Switchboard against a bare Flask app, same gunicorn, same signed load.

    python bench/ingest.py                      # SQLite, then PostgreSQL if reachable
    python bench/ingest.py --database sqlite
    python bench/ingest.py --database postgresql+psycopg://postgres@127.0.0.1:5432/bench_ingest
    python bench/ingest.py --smoke              # 1 short run, Python load (the test suite)
    python bench/ingest.py --preload-events 1000000 --subscriptions 50   # at scale

Both apps run under `gunicorn --worker-class sync --workers 2` on 127.0.0.1 and a free port:
bench/bare_app.py (an empty 200) and switchboard.wsgi:app (a fresh migrated database per run,
SWITCHBOARD_HONKIO_SECRETS set). Each is driven at the same concurrency for the same time
with HonkIO delivery receipts that are all new events: a unique `id` and message id, signed
with the production signer `switchboard.vendors.honkio.sign` and a fresh timestamp, all
generated before the clock starts. The load comes from wrk when it is installed (a Lua script
cycles through the pre-signed requests) and otherwise from Python threads on http.client.

Runs alternate bare, Switchboard, bare, Switchboard... and the table shows medians, because
single runs on a shared two-core machine drift by 10-20% (shared/PERFORMANCE.md). After
every Switchboard run the database is checked: every request answered "accepted" must be
stored. PostgreSQL runs use a scratch database (default `bench_ingest`) that is created and
dropped here, named after the URL's database and this process (`bench_ingest_<pid>`); the
name must start with "bench" so a shared database is never touched. It is ANALYZEd after
each warm-up, as autovacuum would a live one: see analyze(). The Python load
generator is itself CPU-bound near 1,500 req/s on two cores, which caps the bare app more
than Switchboard: its ratios read high; prefer wrk for figures.

At scale: `--preload-events N` stores N delivered HonkIO events (receipts, status rows and
finished deliveries, bench/seed.py) after migration and before the first Switchboard run;
seeding a million rows takes a minute or two, so that one seeded database is reused by every
run (each run adds its own few thousand events, under its own ids). `--subscriptions N` adds
N active subscriptions that all match, so each accepted callback is owed N deliveries (which
a worker expands later; none runs here).
bench/scale.py runs the variants and prints them as one table against the goals.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import secrets as random_tokens
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for _path in (ROOT, BENCH):  # the package, and bench/seed.py however this file is run
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from switchboard.vendors import honkio  # noqa: E402  (after the path fix above)

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_ingest"
SECRET = "whk_bench_5f0c8e3a9d2b41c7"
PATH = "/webhooks/honkio"
EVENT_TYPE = "message.delivered"
LOOPBACK = {"127.0.0.1", "localhost"}
# Pre-signed requests per second of run: above what either app reaches on this kind of
# machine, so the load never wraps round and Switchboard never sees a duplicate.
POOL_PER_SECOND = 7000
GOALS = {"sqlite": 0.5, "postgresql": 0.35}
P99_GOAL_MS = 50.0

STARTED: list[subprocess.Popen] = []


# --- the load -----------------------------------------------------------------------------

@dataclass
class Signed:
    event_id: str
    timestamp: str
    signature: str
    body: bytes

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", honkio.SIGNATURE: self.signature,
                honkio.TIMESTAMP: self.timestamp, honkio.EVENT: EVENT_TYPE}


def make_requests(count: int, tag: str) -> list[Signed]:
    """`count` distinct HonkIO delivery receipts (~400 bytes), signed now."""
    now = datetime.now(UTC)
    timestamp = str(int(now.timestamp()))
    created = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for i in range(count):
        event_id = f"evt_{tag}{i:08d}"
        body = json.dumps({
            "id": event_id, "type": EVENT_TYPE, "created": created,
            "account_id": "acc_01HXYZ4B5C6D7E8F9G0H1J2K3L",
            "data": {"message_id": f"msg_{tag}{i:08d}", "from": "+14165550100",
                     "to": "+16135550199", "status": "delivered", "error_code": None,
                     "segments": 1, "price": "0.0075", "currency": "USD",
                     "delivered_at": created, "network": "310260"},
        }, separators=(", ", ": ")).encode()
        out.append(Signed(event_id, timestamp, honkio.sign(SECRET, timestamp, body), body))
    return out


@dataclass
class LoadResult:
    requests: int = 0          # answers received (any status)
    ok: int = 0                # 2xx answers
    errors: int = 0            # non-2xx answers, socket errors and timeouts
    seconds: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    wrapped: bool = False      # the pool ran out and requests were sent twice
    accepted_ids: list[str] | None = None  # Python load only: ids answered "accepted"

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def python_load(port: int, pool: list[Signed], concurrency: int, duration: float,
                collect_ids: bool = True) -> LoadResult:
    """Threads on keep-alive http.client connections (gunicorn's sync workers close after
    each answer; http.client then reconnects by itself)."""
    prepared = [(s.event_id, s.body, s.headers()) for s in pool]
    counter = itertools.count()
    results: list[tuple[list[float], int, int, list[str], bool]] = []
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + duration

    def worker() -> None:
        latencies: list[float] = []
        ok = errors = 0
        accepted: list[str] = []
        wrapped = False
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            while time.perf_counter() < deadline:
                index = next(counter)
                if index >= len(prepared):
                    wrapped = True
                    index %= len(prepared)
                event_id, body, headers = prepared[index]
                began = time.perf_counter()
                try:
                    conn.request("POST", PATH, body, headers)
                    response = conn.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException):
                    errors += 1
                    conn.close()
                    continue
                latencies.append(time.perf_counter() - began)
                if 200 <= response.status < 300:
                    ok += 1
                    if collect_ids and b'"accepted"' in answer:
                        accepted.append(event_id)
                else:
                    errors += 1
        finally:
            conn.close()
            with lock:
                results.append((latencies, ok, errors, accepted, wrapped))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 30)
    seconds = time.perf_counter() - start
    latencies = sorted(x for r in results for x in r[0])
    return LoadResult(
        requests=len(latencies), ok=sum(r[1] for r in results),
        errors=sum(r[2] for r in results), seconds=seconds,
        p50_ms=percentile(latencies, 0.50) * 1000, p99_ms=percentile(latencies, 0.99) * 1000,
        wrapped=any(r[4] for r in results),
        accepted_ids=[x for r in results for x in r[3]] if collect_ids else None)


WRK_SCRIPT = r"""
-- Cycles through pre-signed HonkIO requests; each wrk thread takes a disjoint share.
local threads = {}
local count = 0

function setup(thread)
  thread:set("tid", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  reqs, n, i, wrapped = {}, 0, 0, 0
  local k = 0
  for line in io.lines(path) do
    if k % nthreads == tid then
      local ts, sig, body = line:match("^(%d+)\t(%x+)\t(.*)$")
      n = n + 1
      reqs[n] = wrk.format("POST", "__PATH__", {
        ["Content-Type"] = "application/json",
        ["X-HonkIO-Signature"] = sig,
        ["X-HonkIO-Timestamp"] = ts,
        ["X-HonkIO-Event"] = "__EVENT__",
      }, body)
    end
    k = k + 1
  end
end

function request()
  i = i + 1
  if i > n then
    i = 1
    wrapped = wrapped + 1
  end
  return reqs[i]
end

function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + (t:get("wrapped") or 0) end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"wrapped": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), w))
end
"""


def wrk_load(wrk: str, workdir: Path, port: int, pool: list[Signed], concurrency: int,
             duration: float) -> LoadResult:
    script = workdir / "honkio.lua"
    script.write_text(WRK_SCRIPT.replace("__PATH__", PATH).replace("__EVENT__", EVENT_TYPE))
    requests_file = workdir / "requests.tsv"
    with requests_file.open("wb") as out:
        for s in pool:
            out.write(f"{s.timestamp}\t{s.signature}\t".encode() + s.body + b"\n")
    threads = max(1, min(2, concurrency))
    seconds = max(1, round(duration))
    command = [wrk, "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s",
               "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}{PATH}",
               "--", str(requests_file), str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                          check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    r = json.loads(line.removeprefix("WRK_RESULT "))
    socket_errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return LoadResult(requests=r["requests"], ok=r["requests"] - r["status"],
                      errors=r["status"] + socket_errors, seconds=r["duration_us"] / 1e6,
                      p50_ms=r["p50_us"] / 1000, p99_ms=r["p99_us"] / 1000,
                      wrapped=r["wrapped"] > 0)


# --- the servers --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_command(app: str, port: int, log: Path) -> list[str]:
    """The one configuration both apps are served with."""
    return [sys.executable, "-m", "gunicorn", "--worker-class", "sync", "--workers", "2",
            "--bind", f"127.0.0.1:{port}", "--timeout", "30", "--graceful-timeout", "5",
            "--log-level", "warning", "--error-logfile", str(log), app]


class Server:
    def __init__(self, app: str, env: dict[str, str], log: Path,
                 pythonpath: Path | None = None) -> None:
        self.app, self.env, self.log, self.pythonpath = app, env, log, pythonpath
        self.process: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> Server:
        for _attempt in range(3):
            self.port = free_port()
            command = gunicorn_command(self.app, self.port, self.log)
            if self.pythonpath:
                command[3:3] = ["--pythonpath", str(self.pythonpath)]
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL,
                                                start_new_session=True)
            STARTED.append(self.process)
            if self._wait_ready(30):
                return self
            stop(self.process)
        raise RuntimeError(f"gunicorn {self.app} did not start; its log:\n{self.log_tail()}")

    def __exit__(self, *_exc) -> None:
        if self.process is not None:
            stop(self.process)

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                # Both workers up: gunicorn has forked them all by the time one answers,
                # but give the second a moment to finish importing.
                return len(self.workers()) >= 2 or self._settle()
            except OSError:
                time.sleep(0.1)
        return False

    def _settle(self) -> bool:
        for _ in range(50):
            if len(self.workers()) >= 2:
                return True
            time.sleep(0.1)
        return True

    def workers(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.workers())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(x) for x in text.split()]
    except OSError:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
        return found


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen) -> None:
    """Gracefully, then by force: the gunicorn master we started and its process group."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
        except subprocess.TimeoutExpired:
            pass
    if process.poll() is None or _group_alive(process.pid):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def stop_all() -> None:
    for process in STARTED:
        stop(process)


# --- the databases ------------------------------------------------------------------------

class Database:
    """A fresh, migrated database for each Switchboard run."""

    kind = ""

    seeded_url: str | None = None

    def fresh(self, run: int) -> str:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SQLiteDatabase(Database):
    kind = "sqlite"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir

    def fresh(self, run: int) -> str:
        path = self.workdir / f"switchboard-{run}.db"
        for leftover in self.workdir.glob(f"switchboard-{run}.db*"):
            leftover.unlink()
        url = f"sqlite:///{path}"
        migrate(url)
        return url


class PostgresDatabase(Database):
    kind = "postgresql"

    def __init__(self, url: str) -> None:
        from sqlalchemy import make_url

        from switchboard.config.settings import _database_url

        self.url = make_url(_database_url(url))
        name = self.url.database or ""
        if not name.startswith("bench"):
            raise SystemExit(f"bench: refusing to use database {name!r}: it is dropped and "
                             "re-created, so its name must start with 'bench' "
                             "(e.g. .../bench_ingest)")
        if (self.url.host or "127.0.0.1") not in LOOPBACK:
            raise SystemExit("bench: PostgreSQL must be on 127.0.0.1")
        # Our own name, so two benchmarks (or a developer's scratch database of the same
        # name) never drop each other's database.
        self.name = f"{name}_{os.getpid()}"
        self.url = self.url.set(database=self.name)
        self.created = False

    def _admin(self):
        from sqlalchemy import create_engine
        return create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT",
                             connect_args={"connect_timeout": 3})

    def reachable(self) -> bool:
        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False
        finally:
            engine.dispose()

    def _recreate(self, create: bool) -> None:
        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                if create:
                    conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        finally:
            engine.dispose()

    def fresh(self, run: int) -> str:
        self._recreate(create=True)
        self.created = True
        url = self.url.render_as_string(hide_password=False)
        migrate(url)
        return url

    def close(self) -> None:
        if self.created:
            self._recreate(create=False)
            self.created = False


def migrate(url: str) -> None:
    from switchboard.models.migrate import upgrade
    from switchboard.store.db import make_engine

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def analyze(url: str) -> None:
    """Give a fresh PostgreSQL database the statistics autovacuum gives a live one within a
    minute. Without them a connection plans its foreign-key checks against tables it
    believes empty, keeps those sequential scans, and a 10 s run measures that: with 50
    subscriptions, 9.5 of a callback's 15 ms went on the deliveries -> events check."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")  # also invalidates the cached plans
    finally:
        engine.dispose()


def stored_ids(url: str, prefix: str) -> set[str]:
    """vendor_event_ids of the stored HonkIO events that came from one measured load."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT vendor_event_id FROM events WHERE vendor = "
                                     "'honkio' AND vendor_event_id LIKE :p"),
                                {"p": f"{prefix}%"})
            return {r[0] for r in rows}
    finally:
        engine.dispose()


# --- one run ------------------------------------------------------------------------------

@dataclass
class Run:
    app: str
    database: str
    run: int
    load: LoadResult
    cpu_ms_per_request: float
    stored: int | None = None
    missing: int | None = None
    notes: list[str] = field(default_factory=list)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def start_profiler(server: Server, opts: argparse.Namespace, out: Path) -> subprocess.Popen:
    """py-spy on the gunicorn workers for the length of the measured load (its own overhead
    lowers that run's figures: profile runs are for shares of time, not for the table)."""
    spy = subprocess.Popen(
        [opts.py_spy, "record", "--pid", str(server.process.pid), "--subprocesses", "--idle",
         "--rate", "200", "--format", "raw", "--nonblocking",
         "--duration", str(max(1, round(opts.duration))), "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True)
    STARTED.append(spy)
    return spy


def measure(server: Server, opts: argparse.Namespace, workdir: Path, tag: str,
            collect_ids: bool, profile_to: Path | None = None,
            after_warmup=None) -> tuple[LoadResult, float]:
    warm = make_requests(max(200, int(opts.warmup * 2000)), f"w{tag}")
    python_load(server.port, warm, min(4, opts.concurrency), opts.warmup, collect_ids=False)
    if after_warmup is not None:
        after_warmup()
    pool = make_requests(int(opts.duration * POOL_PER_SECOND) + 1000, f"m{tag}")
    spy = start_profiler(server, opts, profile_to) if profile_to else None
    cpu_before = server.cpu_seconds()
    if opts.loadgen == "wrk":
        result = wrk_load(opts.wrk, workdir, server.port, pool, opts.concurrency, opts.duration)
    else:
        result = python_load(server.port, pool, opts.concurrency, opts.duration, collect_ids)
    cpu = server.cpu_seconds() - cpu_before
    if spy is not None:
        try:
            spy.wait(opts.duration + 30)
        except subprocess.TimeoutExpired:
            stop(spy)
    return result, (cpu / result.requests * 1000 if result.requests else 0.0)


def bare_run(opts, workdir: Path, database: str, run: int) -> Run:
    tag = random_tokens.token_hex(4)
    with Server("bare_app:app", base_env(), workdir / "bare.log", pythonpath=BENCH) as server:
        load, cpu = measure(server, opts, workdir, tag, collect_ids=False)
    return Run("bare", database, run, load, cpu)


def database_for_run(opts, db: Database, run: int) -> str:
    """A fresh migrated database, seeded as the options say; a preloaded one is seeded once
    and reused (the per-run ids keep runs apart)."""
    if opts.preload_events and db.seeded_url:
        return db.seeded_url
    url = db.fresh(run)
    if opts.preload_events or opts.subscriptions:
        from seed import seed

        seconds = seed(url, opts.preload_events, opts.subscriptions)
        print(f"  {db.kind:<10} seeded {opts.preload_events:,} events and "
              f"{opts.subscriptions} subscriptions in {seconds:.0f} s", flush=True)
    if opts.preload_events:
        db.seeded_url = url
    return url


def switchboard_run(opts, workdir: Path, db: Database, run: int) -> Run:
    url = database_for_run(opts, db, run)
    env = base_env() | {"SWITCHBOARD_DATABASE_URL": url, "SWITCHBOARD_HONKIO_SECRETS": SECRET}
    tag = random_tokens.token_hex(4)
    server = Server("switchboard.wsgi:app", env, workdir / "switchboard.log")
    with server:
        profile_to = (opts.profile / f"switchboard-{db.kind}-run{run + 1}.txt"
                      if opts.profile else None)
        load, cpu = measure(server, opts, workdir, tag, collect_ids=True, profile_to=profile_to,
                            after_warmup=lambda: analyze(url))
    # Servers are stopped: every answer they gave is committed (or was never accepted).
    stored = stored_ids(url, f"evt_m{tag}")
    result = Run("switchboard", db.kind, run, load, cpu, stored=len(stored))
    if load.accepted_ids is not None:
        result.missing = len(set(load.accepted_ids) - stored)
        accepted = len(load.accepted_ids)
    else:
        # wrk does not read answers: every 2xx counts, and a request in flight when wrk
        # stopped may be stored without being counted.
        accepted = load.ok
        result.missing = max(0, accepted - len(stored))
    if result.missing:
        result.notes.append(f"{result.missing} accepted events are not stored")
    if load.errors:
        result.notes.append(f"{load.errors} errors; server log tail:\n{server.log_tail(10)}")
    if load.wrapped:
        result.notes.append("the request pool ran out: duplicates were sent, figures are off")
    return result


def describe(r: Run) -> str:
    line = (f"  {r.database:<10} run {r.run + 1} {r.app:<11} {r.load.rps:8,.0f} req/s  "
            f"p50 {r.load.p50_ms:6.1f} ms  p99 {r.load.p99_ms:6.1f} ms  "
            f"CPU {r.cpu_ms_per_request:5.2f} ms/req  errors {r.load.errors}")
    if r.stored is not None:
        line += f"  stored {r.stored}"
    for note in r.notes:
        line += f"\n    ! {note}"
    return line


# --- the table ----------------------------------------------------------------------------

def summarise(runs: list[Run], database: str) -> dict:
    def med(app: str, attr: str) -> float:
        values = [getattr(r.load, attr) if hasattr(r.load, attr) else getattr(r, attr)
                  for r in runs if r.app == app and r.database == database]
        return statistics.median(values) if values else 0.0

    bare_rps, sb_rps = med("bare", "rps"), med("switchboard", "rps")
    sb_runs = [r for r in runs if r.app == "switchboard" and r.database == database]
    return {
        "database": database,
        "bare": {"rps": bare_rps, "p50_ms": med("bare", "p50_ms"),
                 "p99_ms": med("bare", "p99_ms"),
                 "cpu_ms_per_request": med("bare", "cpu_ms_per_request")},
        "switchboard": {"rps": sb_rps, "p50_ms": med("switchboard", "p50_ms"),
                        "p99_ms": med("switchboard", "p99_ms"),
                        "cpu_ms_per_request": med("switchboard", "cpu_ms_per_request"),
                        "errors": sum(r.load.errors for r in sb_runs),
                        "accepted": sum(len(r.load.accepted_ids) if r.load.accepted_ids
                                        is not None else r.load.ok for r in sb_runs),
                        "stored": sum(r.stored or 0 for r in sb_runs),
                        "missing": sum(r.missing or 0 for r in sb_runs)},
        "ratio": sb_rps / bare_rps if bare_rps else 0.0,
        "goal": GOALS[database],
    }


def table(summaries: list[dict], opts: argparse.Namespace) -> str:
    head = (f"Switchboard ingest vs bare Flask: gunicorn sync -w 2, concurrency "
            f"{opts.concurrency}, {opts.duration:g} s x {opts.runs} interleaved runs, "
            f"medians, load from {opts.loadgen}")
    if opts.preload_events or opts.subscriptions:
        head += (f"; Switchboard with {opts.preload_events:,} events stored and "
                 f"{opts.subscriptions} matching subscriptions")
    cols = (f"{'database':<11}| {'bare req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms':>6} "
            f"| {'switchboard req/s':>17} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms':>6} "
            f"| {'ratio':>6}  goal")
    if opts.profile:
        head += " (py-spy attached: Switchboard figures are lowered by it)"
    lines = [head, cols, "-" * len(cols)]
    for s in summaries:
        b, w = s["bare"], s["switchboard"]
        verdict = "ok" if s["ratio"] >= s["goal"] and w["p99_ms"] <= P99_GOAL_MS else "MISSED"
        lines.append(
            f"{s['database']:<11}| {b['rps']:>10,.0f} {b['p50_ms']:>7.1f} {b['p99_ms']:>7.1f} "
            f"{b['cpu_ms_per_request']:>6.2f} "
            f"| {w['rps']:>17,.0f} {w['p50_ms']:>7.1f} {w['p99_ms']:>7.1f} "
            f"{w['cpu_ms_per_request']:>6.2f} | {s['ratio']:>5.2f}x  "
            f">= {s['goal']:.2f}x, p99 <= {P99_GOAL_MS:.0f} ms: {verdict}")
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", action="append", metavar="sqlite|URL",
                        help="'sqlite' or a postgresql+psycopg://...@127.0.0.1/bench_* URL; "
                             "repeatable (default: sqlite, plus PostgreSQL at "
                             f"{DEFAULT_PG_URL} when it answers)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs of each app")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each run")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--smoke", action="store_true",
                        help="1 run of ~1 s at concurrency 4 with the Python load, on SQLite "
                             "unless --database says otherwise (what the test suite runs)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--preload-events", type=int, default=0, metavar="N",
                        help="store N delivered events before the Switchboard runs (seeded "
                             "once, then reused by every run)")
    parser.add_argument("--subscriptions", type=int, default=0, metavar="N",
                        help="N active subscriptions matching every measured callback")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy the Switchboard workers during each run into DIR as "
                             "collapsed stacks (needs py-spy; its overhead lowers the figures)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory (logs, SQLite files) and say where")
    opts = parser.parse_args(argv)
    if opts.smoke:
        opts.runs, opts.duration, opts.warmup = 1, 1.0, 0.2
        opts.concurrency = min(opts.concurrency, 4)
        if opts.loadgen == "auto":
            opts.loadgen = "python"
        opts.database = opts.database or ["sqlite"]
    if opts.duration <= 0 or opts.duration > 600 or opts.runs < 1 or opts.runs > 20:
        parser.error("--duration must be in (0, 600] and --runs in [1, 20]")
    if not 1 <= opts.concurrency <= 1024:
        parser.error("--concurrency must be in [1, 1024]")
    if not 0 <= opts.preload_events <= 10_000_000 or not 0 <= opts.subscriptions <= 1000:
        parser.error("--preload-events must be in [0, 10,000,000], --subscriptions in "
                     "[0, 1000]")
    opts.wrk = shutil.which("wrk")
    opts.py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(
        Path(sys.executable).parent))
    if opts.profile:
        if not opts.py_spy:
            parser.error("--profile needs py-spy (pip install py-spy)")
        opts.profile.mkdir(parents=True, exist_ok=True)
    if opts.loadgen == "auto":
        opts.loadgen = "wrk" if opts.wrk else "python"
    if opts.loadgen == "wrk" and not opts.wrk:
        parser.error("wrk is not installed (apt-get install wrk), use --loadgen python")
    return opts


def databases(opts: argparse.Namespace, workdir: Path) -> list[Database]:
    chosen: list[Database] = []
    for spec in opts.database or ["sqlite", "default-postgresql"]:
        if spec == "sqlite" or spec.startswith("sqlite:"):
            chosen.append(SQLiteDatabase(workdir))
        elif spec == "default-postgresql":
            pg = PostgresDatabase(DEFAULT_PG_URL)
            if pg.reachable():
                chosen.append(pg)
            else:
                print(f"PostgreSQL does not answer at {DEFAULT_PG_URL}: SQLite only",
                      flush=True)
        else:
            pg = PostgresDatabase(spec)
            if not pg.reachable():
                raise SystemExit(f"bench: PostgreSQL does not answer at {spec}")
            chosen.append(pg)
    return chosen


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    chosen: list[Database] = []
    runs: list[Run] = []
    try:
        chosen = databases(opts, workdir)
        for db in chosen:
            for run in range(opts.runs):
                for measured in (bare_run(opts, workdir, db.kind, run),
                                 switchboard_run(opts, workdir, db, run)):
                    runs.append(measured)
                    print(describe(measured), flush=True)
        summaries = [summarise(runs, db.kind) for db in chosen]
        print()
        print(table(summaries, opts))
        if opts.json:
            opts.json.write_text(json.dumps({
                "options": {k: (str(v) if isinstance(v, Path) else v)
                            for k, v in vars(opts).items()},
                "summaries": summaries,
                "runs": [asdict(r) | {"rps": r.load.rps} for r in runs],
            }, indent=2, default=str))
        missing = sum(s["switchboard"]["missing"] for s in summaries)
        if missing:
            print(f"FAILED: {missing} events answered 'accepted' were not stored",
                  file=sys.stderr)
            return 1
        return 0
    finally:
        stop_all()
        for db in chosen:
            try:
                db.close()
            except Exception as exc:  # cleanup must not hide the real error
                print(f"bench: could not drop the scratch database: {exc}", file=sys.stderr)
        if opts.keep:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
