"""Per request: a request id (the caller's X-Request-ID or a new one, echoed back), one
JSON log line, and for inbound callbacks one counter and one latency observation.

The webhook view says what became of a callback through `note_callback()`; anything it did
not get to say (a 413 raised while reading the body, a 503 from the database) is read back
from the error answer here.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from switchboard.observability.logging import request_id, route
from switchboard.observability.metrics import CALLBACKS, INGEST_SECONDS

log = logging.getLogger("switchboard.request")
QUIET = frozenset({"/healthz", "/readyz", "/metrics"})  # probes: DEBUG, not every 2 s at INFO


def note_callback(vendor: str | None = None, outcome: str | None = None,
                  reason: str | None = None, event_ids: list[str] | None = None,
                  events: list[dict] | None = None) -> None:
    """Called by the webhook view as it learns what the callback is and what became of it."""
    if vendor is not None:
        g.sb_vendor = vendor
    if outcome is not None:
        g.sb_outcome, g.sb_reason = outcome, reason or ""
    if event_ids is not None:
        g.sb_event_ids = event_ids
    if events is not None:
        g.sb_events = events


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    g.sb_started = time.perf_counter()
    g.sb_request_id = request_id(request.headers.get("X-Request-ID"))


def _finish(response: Response) -> Response:
    started = g.get("sb_started")
    rid = g.get("sb_request_id") or request_id(None)
    response.headers["X-Request-ID"] = rid
    seconds = time.perf_counter() - started if started is not None else 0.0
    fields = {"request_id": rid, "method": request.method, "route": route(request.path),
              "status": response.status_code, "duration_ms": round(seconds * 1000, 2)}
    if request.blueprint == "webhooks" or request.path.startswith("/webhooks/"):
        _callback_fields(fields, response)
        CALLBACKS.labels(fields["vendor"], fields["outcome"], fields["reason"]).inc()
        INGEST_SECONDS.labels(fields["vendor"]).observe(seconds)
    level = logging.DEBUG if request.path in QUIET and response.status_code < 400 \
        else logging.INFO
    log.log(level, "request", extra={"fields": fields})
    return response


def _callback_fields(fields: dict, response: Response) -> None:
    outcome = g.get("sb_outcome")
    reason = g.get("sb_reason", "")
    if outcome is None:
        outcome = "error" if response.status_code >= 500 else "rejected"
        body = response.get_json(silent=True) if response.is_json else None
        error = body.get("error") if isinstance(body, dict) else None
        reason = (error.get("code") if isinstance(error, dict) else None) \
            or f"http_{response.status_code}"
    # Only configured vendors become label values: a scan of random paths must not grow
    # the metric without bound.
    fields["vendor"] = g.get("sb_vendor") or "unknown"
    fields["outcome"] = outcome
    fields["reason"] = reason
    if g.get("sb_event_ids") is not None:
        fields["event_ids"] = g.sb_event_ids
    if g.get("sb_events") is not None:
        fields["events"] = g.sb_events
