"""A real gunicorn on 127.0.0.1 for tests where processes and sockets matter."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(port: int, process: subprocess.Popen | None = None,
                         seconds: float = 20) -> None:
    """Until 127.0.0.1:port takes connections; OSError if it does not in time, or if the
    process meant to serve it has exited."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline or (process and process.poll() is not None):
                raise
            time.sleep(0.05)


def _wait_until_answering(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    """Until the app itself answers /healthz: a worker still importing it on a loaded
    machine would otherwise make a test's first request wait past its read timeout."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            answered = conn.getresponse().status == 200
            conn.close()
            if answered:
                return
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"gunicorn on port {port} did not answer /healthz")
        time.sleep(0.05)


@contextmanager
def gunicorn(env: dict[str, str], cwd: Path, workers: int = 2,
             timeout: int = 3) -> Iterator[tuple[int, subprocess.Popen]]:
    """(port, master process) of `gunicorn switchboard.wsgi:app` with these flags only: cwd
    is away from the repository, so gunicorn reads no gunicorn.conf.py."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
         str(workers), "--timeout", str(timeout), "--graceful-timeout", "3",
         "switchboard.wsgi:app"],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(port, process)
        _wait_until_answering(port, process)
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
