"""Outbound HTTP: one POST of the event, signed per Standard Webhooks.

The standard library's http.client on a keep-alive pool of our own, not requests nor
urllib3: requests costs ~1.5 ms of CPU per POST on these machines, urllib3 ~0.6 ms and
http.client ~0.3 ms (shared/PERFORMANCE.md), and the worker must send 1,000/s on two cores,
where the POST is the largest part of a delivery's CPU (bench/NOTES.md has the figures).

Every connection goes to the address url_policy.pin checked, never to a name resolved again;
the name is kept for the Host header and for TLS (SNI and the certificate check).
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from standardwebhooks.webhooks import Webhook

from switchboard.url_policy import Target

RESPONSE_KEPT = 1024
DRAIN_LIMIT = 65536


@dataclass
class SendResult:
    status_code: int | None
    error: str | None
    body: str | None
    duration_ms: float
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@lru_cache(maxsize=1024)
def _webhook(secret: str) -> Webhook:
    return Webhook(secret)


def signature_header(secrets: list[str], msg_id: str, moment: datetime, payload: str) -> str:
    """Space-separated v1 signatures: during a rotation both secrets sign."""
    return " ".join(_webhook(s).sign(msg_id, moment, payload) for s in secrets)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to the pinned address, checking the certificate against the URL's name."""

    def __init__(self, address: str, port: int, server_name: str, timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(address, port, timeout=timeout, context=context)
        self.server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.server_name)


class Pool:
    """Idle keep-alive connections per (scheme, address, port, name), at most `size` each
    (the worker's threads: no more can be in use at once)."""

    def __init__(self, size: int, tls: ssl.SSLContext | None = None) -> None:
        self.size = size
        self._idle: dict[tuple, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls = tls  # the system's trust store unless given (tests bring their own CA)

    def take(self, target: Target, timeout: float) -> http.client.HTTPConnection:
        """An idle connection to the target, or a new one (it connects on first use)."""
        key = _key(target)
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None:
                break
            if _still_open(conn):
                return conn
            conn.close()  # the subscriber closed it while it sat idle
        if target.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()
            return _PinnedHTTPS(target.address, target.port, target.host, timeout, self._tls)
        return http.client.HTTPConnection(target.address, target.port, timeout=timeout)

    def give_back(self, target: Target, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(_key(target), [])
            if len(idle) < self.size:
                idle.append(conn)
                return
        conn.close()

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


def _key(target: Target) -> tuple:
    return target.scheme, target.address, target.port, target.host


def _still_open(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection has nothing to read: if it has, the peer closed it
    (or sent what nobody asked for), and a request on it would fail or be misread."""
    if conn.sock is None:
        return False
    poller = select.poll()
    poller.register(conn.sock, select.POLLIN)
    return not poller.poll(0)


def post(pool: Pool, target: Target, msg_id: str, payload: str, secrets: list[str],
         timeout: float) -> SendResult:
    # The wall clock, not the scheduling clock: subscribers check this against their own
    # time to refuse replays, so it must say when the request really left.
    moment = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Switchboard-Webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature_header(secrets, msg_id, moment, payload),
        "Host": target.host_header,
    }
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    conn = pool.take(target, timeout)
    try:
        _limit(conn, deadline)
        # Redirects are never followed (they could point inward): http.client does not.
        conn.request("POST", target.path, body=payload.encode(), headers=headers)
        _limit(conn, deadline)
        response = conn.getresponse()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        conn.close()
        return SendResult(None, _describe(exc), None, _ms(started))
    try:
        _limit(conn, deadline)
        body = response.read(RESPONSE_KEPT)
        reusable = _drain(response, conn, deadline)
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        return SendResult(response.status, _describe(exc), None, _ms(started))
    if reusable:
        pool.give_back(target, conn)
    else:
        conn.close()
    return SendResult(response.status, None, storable(body.decode("utf-8", "replace")),
                      _ms(started), response.getheader("retry-after"))


def _limit(conn: http.client.HTTPConnection, deadline: float) -> None:
    """What is left of the delivery's time, for the next socket operation."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    conn.timeout = left
    if conn.sock is not None:
        conn.sock.settimeout(left)


def _drain(response: http.client.HTTPResponse, conn: http.client.HTTPConnection,
           deadline: float) -> bool:
    """Read the rest of a short answer so the connection can carry the next request."""
    if response.will_close or (response.length or 0) > DRAIN_LIMIT:
        return False
    drained = 0
    while not response.isclosed():
        if drained > DRAIN_LIMIT:
            return False
        _limit(conn, deadline)
        chunk = response.read(16384)
        if not chunk:
            break
        drained += len(chunk)
    return response.isclosed()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "TimeoutError: timed out"
    reason = getattr(exc, "reason", None)
    return storable(f"{type(exc).__name__}: {reason or exc}"[:500])


def storable(text: str) -> str:
    """Text a subscriber (or a handler) chose, made fit for a text column: PostgreSQL
    refuses NUL, neither database takes a lone surrogate (an exception message can carry
    one from a file name), and an attempt that cannot be written down is retried and resent
    for ever."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
