"""`switchboard worker` and `switchboard serve` (HTTP and a worker from one command)."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--concurrency", default=16, show_default=True,
              help="deliveries in flight at once")
@click.option("--lease", "lease_seconds", type=float, default=None,
              help="seconds a claimed delivery stays ours (default: 8 x timeout + 30, "
                   "enough for two queued batches that all time out)")
@click.option("--grace", "grace_seconds", type=float, default=None,
              help="seconds after SIGTERM for running attempts to end (default: timeout + 5)")
@click.option("--metrics-port", type=int, default=None,
              help="serve this process's Prometheus metrics on this port (not needed when "
                   "it shares PROMETHEUS_MULTIPROC_DIR with the web processes)")
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@with_appcontext
def worker(concurrency: int, lease_seconds: float | None, grace_seconds: float | None,
           metrics_port: int | None, metrics_host: str) -> None:
    """Deliver events to handlers and subscribers until SIGTERM."""
    from switchboard.worker.runner import Worker

    state = current_app.extensions["switchboard"]
    if metrics_port is not None:
        _serve_metrics(metrics_host, metrics_port)
    try:
        runner = Worker(state.engine, state.settings, concurrency=concurrency,
                        lease_seconds=lease_seconds, grace_seconds=grace_seconds)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    runner.install_signal_handlers()
    try:
        runner.run_forever()
    finally:
        runner.close()
    if runner.stuck:
        # A hung handler's thread cannot be stopped, and the interpreter would wait for it
        # at exit forever: leave now; its delivery is taken up again after its lease.
        logging.shutdown()
        os._exit(1)


def _serve_metrics(host: str, port: int) -> None:
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    from switchboard.observability.metrics import multiprocess_dir

    registry = REGISTRY
    if multiprocess_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=multiprocess_dir())
    start_http_server(port, addr=host, registry=registry)


@click.command("serve")
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", type=int, default=None,
              help="gunicorn worker processes (default: one per CPU, from gunicorn_conf)")
@click.option("--no-worker", is_flag=True, help="HTTP only (production runs workers apart)")
@with_appcontext
def serve(bind: str, workers: int | None, no_worker: bool) -> None:
    """Serve HTTP with gunicorn and run one delivery worker beside it; Ctrl-C stops both.

    gunicorn runs with switchboard/gunicorn_conf.py; both processes count into one
    PROMETHEUS_MULTIPROC_DIR, so /metrics shows the worker's deliveries too."""
    python = sys.executable
    env = dict(os.environ)
    created = None
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        created = env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="switchboard-metrics-")
    command = [python, "-m", "gunicorn", "-c", "python:switchboard.gunicorn_conf",
               "--bind", bind]
    if workers is not None:
        command += ["--workers", str(workers)]
    children = [subprocess.Popen(command, env=env)]  # noqa: S603
    if not no_worker:
        children.append(subprocess.Popen([python, "-m", "switchboard.cli", "worker"],  # noqa: S603
                                         env=env))

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        # Either child ending ends both: a server without its worker would silently queue.
        while all(child.poll() is None for child in children):
            time.sleep(0.2)
    finally:
        stop()
        for child in children:
            child.wait()
        if created:
            shutil.rmtree(created, ignore_errors=True)
    sys.exit(max(child.returncode or 0 for child in children))
