"""`switchboard worker` and `switchboard serve` (HTTP and a worker from one command)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--concurrency", default=16, show_default=True,
              help="deliveries in flight at once")
@click.option("--lease", "lease_seconds", type=float, default=None,
              help="seconds a claimed delivery stays ours (default: 4 x timeout + 30)")
@with_appcontext
def worker(concurrency: int, lease_seconds: float | None) -> None:
    """Deliver events to handlers and subscribers until SIGTERM."""
    from switchboard.worker.runner import Worker

    state = current_app.extensions["switchboard"]
    runner = Worker(state.engine, state.settings, concurrency=concurrency,
                    lease_seconds=lease_seconds)
    runner.install_signal_handlers()
    try:
        runner.run_forever()
    finally:
        runner.close()


@click.command("serve")
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--workers", default=2, show_default=True, help="gunicorn worker processes")
@click.option("--no-worker", is_flag=True, help="HTTP only (production runs workers apart)")
@with_appcontext
def serve(bind: str, workers: int, no_worker: bool) -> None:
    """Serve HTTP with gunicorn and run one delivery worker beside it; Ctrl-C stops both."""
    python = sys.executable
    children = [subprocess.Popen([python, "-m", "gunicorn", "--bind", bind,  # noqa: S603
                                  "--workers", str(workers), "switchboard.wsgi:app"])]
    if not no_worker:
        children.append(subprocess.Popen([python, "-m", "switchboard.cli", "worker"]))  # noqa: S603

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
    sys.exit(max(child.returncode or 0 for child in children))
