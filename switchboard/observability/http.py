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


class _Notes:
    """What this request's log line and metrics will say, gathered as it goes (one object
    on `g`: each attribute of `g` or `request` read goes through a context-local proxy)."""

    __slots__ = ("started", "request_id", "vendor", "outcome", "reason", "event_ids",
                 "events")

    def __init__(self, started: float, request_id: str) -> None:
        self.started, self.request_id = started, request_id
        self.vendor: str | None = None
        self.outcome: str | None = None
        self.reason = ""
        self.event_ids: list[str] | None = None
        self.events: list[dict] | None = None


def note_callback(vendor: str | None = None, outcome: str | None = None,
                  reason: str | None = None, event_ids: list[str] | None = None,
                  events: list[dict] | None = None) -> None:
    """Called by the webhook view as it learns what the callback is and what became of it."""
    notes = _notes()
    if vendor is not None:
        notes.vendor = vendor
    if outcome is not None:
        notes.outcome, notes.reason = outcome, reason or ""
    if event_ids is not None:
        notes.event_ids = event_ids
    if events is not None:
        notes.events = events


def current_request_id() -> str | None:
    notes = g.get("sb_notes")
    return notes.request_id if notes is not None else None


def _notes() -> _Notes:
    notes = g.get("sb_notes")
    if notes is None:  # a request that did not pass _start (an earlier hook answered)
        notes = g.sb_notes = _Notes(time.perf_counter(), request_id(None))
    return notes


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    g.sb_notes = _Notes(time.perf_counter(), request_id(request.headers.get("X-Request-ID")))


def _finish(response: Response) -> Response:
    notes = _notes()
    req = request._get_current_object()
    path = req.path
    response.headers["X-Request-ID"] = notes.request_id
    seconds = time.perf_counter() - notes.started
    fields = {"request_id": notes.request_id, "method": req.method, "route": route(path),
              "status": response.status_code, "duration_ms": round(seconds * 1000, 2)}
    if req.blueprint == "webhooks" or path.startswith("/webhooks/"):
        _callback_fields(fields, notes, response)
        CALLBACKS.labels(fields["vendor"], fields["outcome"], fields["reason"]).inc()
        INGEST_SECONDS.labels(fields["vendor"]).observe(seconds)
    level = logging.DEBUG if path in QUIET and response.status_code < 400 \
        else logging.INFO
    log.log(level, "request", extra={"fields": fields})
    return response


def _callback_fields(fields: dict, notes: _Notes, response: Response) -> None:
    outcome, reason = notes.outcome, notes.reason
    if outcome is None:
        outcome = "error" if response.status_code >= 500 else "rejected"
        body = response.get_json(silent=True) if response.is_json else None
        error = body.get("error") if isinstance(body, dict) else None
        reason = (error.get("code") if isinstance(error, dict) else None) \
            or f"http_{response.status_code}"
    # Only configured vendors become label values: a scan of random paths must not grow
    # the metric without bound.
    fields["vendor"] = notes.vendor or "unknown"
    fields["outcome"] = outcome
    fields["reason"] = reason
    if notes.event_ids is not None:
        fields["event_ids"] = notes.event_ids
    if notes.events is not None:
        fields["events"] = notes.events
