"""The shipped gunicorn config writes one JSON object per line on stderr: gunicorn's own
lines (boot, signals, worker exits) as well as ours, so one parser reads the stream."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time

from tests.callbacks import honkio_body
from tests.conftest import SECRETS
from tests.signing import honkio_headers
from tests.test_gunicorn_edges import free_port


def test_every_line_gunicorn_and_the_app_write_is_json(tmp_path):
    port = free_port()
    env = {**os.environ, "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path}/sb.db",
           "SWITCHBOARD_HONKIO_SECRETS": SECRETS["honkio_secrets"][0], "WEB_CONCURRENCY": "1",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    subprocess.run([sys.executable, "-m", "switchboard.cli", "db", "upgrade"], env=env,
                   check=True, capture_output=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:switchboard.gunicorn_conf",
         "--bind", f"127.0.0.1:{port}"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                body = honkio_body()
                conn.request("POST", "/webhooks/honkio", body=body, headers=honkio_headers(
                    body, SECRETS["honkio_secrets"][0], int(time.time())))
                assert conn.getresponse().status == 200
                conn.close()
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
    finally:
        server.terminate()
        err = server.communicate(timeout=30)[1]
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    loggers = {line["logger"] for line in lines}
    assert "gunicorn.error" in loggers and "switchboard.request" in loggers, err
    assert any(line["msg"].startswith("Booting worker") for line in lines)
    assert SECRETS["honkio_secrets"][0] not in err


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
