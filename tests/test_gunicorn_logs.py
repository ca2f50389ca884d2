"""The shipped gunicorn config writes one JSON object per line on stderr: gunicorn's own
lines (boot, signals, worker exits) as well as ours, so one parser reads the stream."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time

from tests.callbacks import honkio_body
from tests.conftest import SECRETS
from tests.gunicorn_server import free_port
from tests.signing import honkio_headers
from tests.test_gunicorn_edges import raw_exchange


def start_gunicorn(tmp_path, settings: dict, *flags: str, stdout=subprocess.PIPE):
    """gunicorn with the shipped configuration on a migrated SQLite database, once /healthz
    answers; its stderr (and stdout) are pipes for the test to read every line of."""
    port = free_port()
    env = {**os.environ, "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path}/sb.db",
           "WEB_CONCURRENCY": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
           **settings}
    subprocess.run([sys.executable, "-m", "switchboard.cli", "db", "upgrade"], env=env,
                   check=True, capture_output=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:switchboard.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}", *flags],
        env=env, cwd=tmp_path, stdout=stdout, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            assert conn.getresponse().status == 200
            conn.close()
            return port, server
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)


def test_every_line_gunicorn_and_the_app_write_is_json(tmp_path):
    port, server = start_gunicorn(tmp_path, {
        "SWITCHBOARD_HONKIO_SECRETS": SECRETS["honkio"][0]}, stdout=subprocess.DEVNULL)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        body = honkio_body()
        conn.request("POST", "/webhooks/honkio", body=body, headers=honkio_headers(
            body, SECRETS["honkio"][0], int(time.time())))
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        server.terminate()
        err = server.communicate(timeout=30)[1]
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    loggers = {line["logger"] for line in lines}
    assert "gunicorn.error" in loggers and "switchboard.request" in loggers, err
    assert any(line["msg"].startswith("Booting worker") for line in lines)
    assert SECRETS["honkio"][0] not in err


class _Untouchable:
    """A request or response that fails the test if anything reads it."""

    def __getattr__(self, name):
        raise AssertionError(f"the access log read {name}")


def _logger(**cfg):
    from types import SimpleNamespace

    from switchboard.observability.gunicorn_logger import Logger

    # No setup(): that would install the config on this test process's logging. (Nor
    # gunicorn_conf imported here: it sets PROMETHEUS_MULTIPROC_DIR for the whole process.)
    logger = Logger.__new__(Logger)
    logger.cfg = SimpleNamespace(logconfig=None, logconfig_dict={"version": 1},
                                 logconfig_json=None, syslog=False,
                                 disable_redirect_access_to_syslog=False, **cfg)
    return logger


def test_no_access_line_is_built_when_none_is_asked_for():
    from datetime import timedelta

    # gunicorn's own Logger would build the line here: logconfig_dict is set.
    _logger(accesslog=None).access(_Untouchable(), _Untouchable(), {}, timedelta(0))


def test_an_access_log_asked_for_is_still_written():
    from datetime import timedelta

    import pytest

    with pytest.raises(AssertionError, match="the access log read"):
        _logger(accesslog="-").access(_Untouchable(), _Untouchable(), {}, timedelta(0))


def test_gunicorn_lines_mask_url_tokens_query_strings_and_every_secret(tmp_path):
    """What gunicorn itself logs about a request (a request line it refuses, a callback
    killed by the worker timeout, with its traceback) shows no token, query string or
    configured secret, however short."""
    boomware, transmitsms = SECRETS["boomware"][0], SECRETS["transmitsms"][0]
    short = "Zq"  # HMAC secrets are the provider's choice: no minimum length
    port, server = start_gunicorn(
        tmp_path, {"SWITCHBOARD_BOOMWARE_TOKENS": boomware,
                   "SWITCHBOARD_TRANSMITSMS_TOKENS": transmitsms,
                   "SWITCHBOARD_HONKIO_SECRETS": short},
        # an access log asked for too: gunicorn writes it through a handler of its own
        "--timeout", "2", "--access-logfile", "-")
    try:
        # A non-ASCII byte: gunicorn refuses the request line and logs it whole.
        raw_exchange(port, f"GET /webhooks/transmitsms/{transmitsms}?mobile=61400000000"
                     "&response=helloé HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        raw_exchange(port, f"GET /x/{short}/é HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        # A body that never comes: the worker timeout kills the callback mid-read.
        with socket.create_connection(("127.0.0.1", port), timeout=15) as slow:
            slow.sendall(f"POST /webhooks/boomware/{boomware}?number=61400000000 HTTP/1.1\r\n"
                         "Host: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 100\r\n\r\n{".encode())
            try:
                while slow.recv(65536):
                    pass
            except (ConnectionResetError, TimeoutError):
                pass
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    err += out
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    gunicorn = " ".join(line["msg"] + line.get("exc", "") for line in lines
                        if line["logger"].startswith("gunicorn."))
    # The lines are there, with what an operator needs to know which URL it was.
    assert "Invalid HTTP request line: 'GET /webhooks/transmitsms/***?***" in gunicorn, err
    assert "Error handling request POST /webhooks/boomware/***?***" in gunicorn, err
    assert "SystemExit" in gunicorn, err  # the traceback is kept
    assert "/x/***/" in gunicorn, err
    assert '"POST /webhooks/boomware/***?*** HTTP/1.1" 500' in gunicorn, err  # access log
    for hidden in (boomware, transmitsms, short, "61400000000", "hello", "mobile="):
        assert hidden not in err, hidden
    assert '"logger": "gunicorn.error"' in err  # the masks kept each line whole
