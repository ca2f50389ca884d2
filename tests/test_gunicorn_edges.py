"""Through the real server (gunicorn, 2 sync workers): concurrent copies of one callback
across processes, request smuggling basics, oversized headers and slow bodies."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from tests.callbacks import honkio_body
from tests.conftest import SECRETS, rows
from tests.gunicorn_server import gunicorn
from tests.signing import honkio_headers

MASTERS: dict[int, int] = {}


@pytest.fixture
def server(database_url, tmp_path):
    env = {**os.environ, "SWITCHBOARD_DATABASE_URL": database_url,
           "SWITCHBOARD_HONKIO_SECRETS": SECRETS["honkio"][0]}
    with gunicorn(env, tmp_path) as (port, process):
        MASTERS[port] = process.pid
        yield port


def raw_exchange(port: int, data: bytes, read_timeout: float = 15.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def signed_post(port: int, body: bytes) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/webhooks/honkio", body=body, headers=honkio_headers(
        body, SECRETS["honkio"][0], int(time.time())))
    response = conn.getresponse()
    answer = (response.status, json.loads(response.read()))
    conn.close()
    return answer


def test_concurrent_copies_across_processes_store_one_event(server, engine):
    body = honkio_body()
    barrier = threading.Barrier(40)
    answers = []

    def send():
        barrier.wait()
        answers.append(signed_post(server, body))

    threads = [threading.Thread(target=send) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in answers] == [200] * 40
    assert len({tuple(a["event_ids"]) for _, a in answers}) == 1
    assert sorted(a["status"] for _, a in answers).count("accepted") == 1
    assert len(rows(engine, "SELECT id FROM events")) == 1
    assert len(rows(engine, "SELECT id FROM receipts")) == 1


def test_conflicting_content_length_and_transfer_encoding_is_refused(server, engine):
    body = honkio_body()
    head = (b"POST /webhooks/honkio HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    smuggled = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    answer = raw_exchange(server, head + smuggled)
    assert answer.startswith(b"HTTP/1.1 400")
    assert rows(engine, "SELECT id FROM receipts") == []


def test_oversized_headers_are_refused(server):
    answer = raw_exchange(server, b"POST /webhooks/honkio HTTP/1.1\r\nHost: x\r\nX-Big: "
                          + b"a" * 20000 + b"\r\nContent-Length: 0\r\n\r\n")
    assert answer.split(b" ")[1] in (b"400", b"431")


def test_body_over_the_limit_is_413_without_reading_it(server):
    answer = raw_exchange(server, b"POST /webhooks/honkio HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_slow_body_times_out_and_the_server_keeps_serving(server, engine):
    body = honkio_body()
    headers = honkio_headers(body, SECRETS["honkio"][0], int(time.time()))
    head = (b"POST /webhooks/honkio HTTP/1.1\r\nHost: x\r\n"
            + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
            + b"Content-Length: %d\r\n\r\n" % len(body))
    slow = socket.create_connection(("127.0.0.1", server), timeout=15)
    slow.sendall(head + body[:10])  # and then nothing more
    started = time.monotonic()
    try:
        closed = slow.recv(65536)  # the worker gives up: connection closed or an error
    except (ConnectionResetError, TimeoutError):
        closed = b""
    slow.close()
    assert time.monotonic() - started < 15
    assert not closed.startswith(b"HTTP/1.1 200")
    status, answer = signed_post(server, honkio_body())
    assert status == 200 and answer["status"] == "accepted"
    assert len(rows(engine, "SELECT id FROM events")) == 1


def gunicorn_workers(master_pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def test_kill_9_of_a_web_worker_mid_load_leaves_nothing_half_written(server, engine):
    master = MASTERS[server]
    accepted: list[str] = []
    failures: list[str] = []

    def load() -> None:
        for _ in range(60):
            try:
                status, answer = signed_post(server, honkio_body())
            except (OSError, http.client.HTTPException) as exc:
                failures.append(type(exc).__name__)  # the killed worker's connection
                continue
            if status == 200:
                accepted.extend(answer["event_ids"])
            else:
                failures.append(str(status))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    victims = gunicorn_workers(master)
    os.kill(victims[0], signal.SIGKILL)
    for thread in threads:
        thread.join()
    # the victim may die before, while or after it writes its answer: a client sees no
    # answer, a reset, a cut status line or a cut body, never a wrong answer
    assert set(failures) <= {"RemoteDisconnected", "ConnectionResetError", "BadStatusLine",
                             "IncompleteRead", "503"}, failures
    events = rows(engine, "SELECT id, receipt_id FROM events")
    receipts = {r["id"] for r in rows(engine, "SELECT id FROM receipts")}
    assert set(accepted) <= {e["id"] for e in events}  # every 200 was stored
    assert all(e["receipt_id"] in receipts for e in events)  # none half-written
    assert len(events) == len(receipts)
    status, answer = signed_post(server, honkio_body())  # a new worker took its place
    assert status == 200


def chunked(head: str, body: bytes, step: int = 4096) -> bytes:
    pieces = [body[i:i + step] for i in range(0, len(body), step)]
    return head.encode() + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) \
        + b"0\r\n\r\n"


def signed_chunked_head(body: bytes) -> str:
    headers = honkio_headers(body, SECRETS["honkio"][0], int(time.time()))
    return ("POST /webhooks/honkio HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            "Transfer-Encoding: chunked\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n")


def test_a_chunked_body_over_the_limit_is_413_and_kept_nowhere(server, engine):
    """A chunked body has no Content-Length to refuse up front: it must not be cut at the
    limit and parsed as what is left."""
    payload = json.loads(honkio_body())
    payload["data"]["padding"] = "x" * 300_000  # over the default 262,144 bytes
    body = json.dumps(payload).encode()
    answer = raw_exchange(server, chunked(signed_chunked_head(body), body))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"payload_too_large"' in answer
    assert rows(engine, "SELECT id FROM receipts") == []


def test_a_chunked_body_under_the_limit_is_stored(server, engine):
    body = honkio_body()
    answer = raw_exchange(server, chunked(signed_chunked_head(body), body, step=100))
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert len(rows(engine, "SELECT id FROM events")) == 1


@pytest.mark.parametrize("path", ["/webhooks/honkio", "/api/replays"])
def test_malformed_chunk_framing_is_400(server, engine, path):
    answer = raw_exchange(server, (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        "zz\r\nabc").encode())
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b'"error"' in answer
    assert rows(engine, "SELECT id FROM receipts") == []
