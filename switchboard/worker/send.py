"""Outbound HTTP: one POST of the event, signed per Standard Webhooks.

urllib3's pool, not requests: requests costs ~1.5 ms of CPU per POST on these machines,
urllib3 ~0.6 ms (shared/PERFORMANCE.md), and the worker must send 1,000/s on two cores.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import urllib3
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


def make_pool(size: int) -> urllib3.PoolManager:
    return urllib3.PoolManager(num_pools=64, maxsize=size, block=True, retries=False)


def post(pool: urllib3.PoolManager, target: Target, msg_id: str, payload: str,
         secrets: list[str], timeout: float) -> SendResult:
    # The wall clock, not the scheduling clock: subscribers check this against their own
    # time to refuse replays, so it must say when the request really left.
    moment = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": "Switchboard-Webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature_header(secrets, msg_id, moment, payload),
        "host": target.host_header,
    }
    # TLS still checks the certificate against the name, while the socket goes to the
    # address that was checked; redirects are never followed (they could point inward).
    tls = ({"server_hostname": target.host, "assert_hostname": target.host}
           if target.scheme == "https" else None)
    started = time.perf_counter()
    try:
        connections = pool.connection_from_host(target.address, target.port, target.scheme,
                                                pool_kwargs=tls)
        response = connections.urlopen("POST", target.path, body=payload.encode(),
                                       headers=headers, timeout=urllib3.Timeout(total=timeout),
                                       redirect=False, retries=False, preload_content=False,
                                       assert_same_host=False)
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        return SendResult(None, _describe(exc), None, _ms(started))
    try:
        body = response.read(RESPONSE_KEPT)
        remaining = response.length_remaining
        if remaining is not None and remaining <= DRAIN_LIMIT:
            response.drain_conn()
            response.release_conn()
        else:
            response.close()
    except urllib3.exceptions.HTTPError as exc:
        response.close()
        return SendResult(response.status, _describe(exc), None, _ms(started))
    return SendResult(response.status, None, body.decode("utf-8", "replace"), _ms(started),
                      response.headers.get("retry-after"))


def _describe(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason or exc}"[:500]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
