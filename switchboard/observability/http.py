"""Per request: a request id (the caller's X-Request-ID or a new one, echoed back), one
JSON log line, and for inbound callbacks one counter and one latency observation.

The webhook view says what became of a callback through `Notes.callback()`; anything it did
not get to say (a 413 raised while reading the body, a 503 from the database) is read back
from the error answer here. Callbacks served without Flask (switchboard.api.callback_wsgi)
keep the same notes and `record()` the same line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request

from switchboard.observability.logging import request_id, route
from switchboard.observability.metrics import CALLBACKS, INGEST_SECONDS

log = logging.getLogger("switchboard.request")
QUIET = frozenset({"/healthz", "/readyz", "/metrics"})  # probes: DEBUG, not every 2 s at INFO


class Notes:
    """What this request's log line and metrics will say, gathered as it goes (under Flask,
    one object on `g`: each attribute of `g` or `request` read goes through a
    context-local proxy)."""

    __slots__ = ("started", "request_id", "vendor", "outcome", "reason", "event_ids",
                 "events")

    def __init__(self, incoming_request_id: str | None) -> None:
        self.started = time.perf_counter()
        self.request_id = request_id(incoming_request_id)
        self.vendor: str | None = None
        self.outcome: str | None = None
        self.reason = ""
        self.event_ids: list[str] | None = None
        self.events: list[dict] | None = None

    def callback(self, vendor: str | None = None, outcome: str | None = None,
                 reason: str | None = None, event_ids: list[str] | None = None,
                 events: list[dict] | None = None) -> None:
        """Called by the webhook view as it learns what the callback is and what became of
        it."""
        if vendor is not None:
            self.vendor = vendor
        if outcome is not None:
            self.outcome, self.reason = outcome, reason or ""
        if event_ids is not None:
            self.event_ids = event_ids
        if events is not None:
            self.events = events


def notes() -> Notes:
    """This Flask request's notes."""
    found = g.get("sb_notes")
    if found is None:  # a request that did not pass _start (an earlier hook answered)
        found = g.sb_notes = Notes(None)
    return found


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    g.sb_notes = Notes(request.headers.get("X-Request-ID"))


def _finish(response: Response) -> Response:
    found = notes()
    req = request._get_current_object()
    response.headers["X-Request-ID"] = found.request_id
    callback = req.blueprint == "webhooks" or req.path.startswith("/webhooks/")
    record(found, req.method, req.path, response.status_code, callback,
           lambda: response.get_json(silent=True) if response.is_json else None)
    return response


def record(notes: Notes, method: str, path: str, status: int, callback: bool,
           answer: Callable[[], Any]) -> None:
    """The request's log line, and for a callback its counter and latency; `answer` gives
    the JSON answer, read only when the view did not say what became of the callback."""
    seconds = time.perf_counter() - notes.started
    fields = {"request_id": notes.request_id, "method": method, "route": route(path),
              "status": status, "duration_ms": round(seconds * 1000, 2)}
    if callback:
        _callback_fields(fields, notes, status, answer)
        CALLBACKS.labels(fields["vendor"], fields["outcome"], fields["reason"]).inc()
        INGEST_SECONDS.labels(fields["vendor"]).observe(seconds)
    level = logging.DEBUG if path in QUIET and status < 400 else logging.INFO
    log.log(level, "request", extra={"fields": fields})


def _callback_fields(fields: dict, notes: Notes, status: int,
                     answer: Callable[[], Any]) -> None:
    outcome, reason = notes.outcome, notes.reason
    if outcome is None:
        outcome = "error" if status >= 500 else "rejected"
        body = answer()
        error = body.get("error") if isinstance(body, dict) else None
        reason = (error.get("code") if isinstance(error, dict) else None) \
            or f"http_{status}"
    # Only configured vendors become label values: a scan of random paths must not grow
    # the metric without bound.
    fields["vendor"] = notes.vendor or "unknown"
    fields["outcome"] = outcome
    fields["reason"] = reason
    if notes.event_ids is not None:
        fields["event_ids"] = notes.event_ids
    if notes.events is not None:
        fields["events"] = notes.events
