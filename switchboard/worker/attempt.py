"""One attempt at one delivery: call the handler or POST to the subscriber, and decide what
follows (success, retry at a time, dead, or cancelled)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from switchboard.config import Settings
from switchboard.events import isoformat
from switchboard.handlers.registry import receiver_for
from switchboard.url_policy import UrlRefused, pin
from switchboard.worker.retry import at, next_delay, parse_retry_after
from switchboard.worker.send import Pool, SendResult, post, storable
from switchboard.worker.store import Outcome

log = logging.getLogger("switchboard.worker")


def event_payload(row: Any) -> dict:
    return {"id": row.event_id, "type": row.type, "vendor": row.vendor,
            "vendor_event_id": row.vendor_event_id, "occurred_at": isoformat(row.occurred_at),
            "received_at": isoformat(row.received_at), "sequence": row.sequence,
            "data": row.data, "raw": row.raw}


def run(row: Any, pool: Pool, settings: Settings, now: datetime) -> Outcome:
    if row.handler is not None:
        outcome = _handler(row, settings, now)
    elif row.url is None or not row.active or row.deleted_at is not None:
        # Re-enabling a subscription does not resend what it missed: replay does that.
        outcome = Outcome(row.id, "cancelled", row.attempts, now, now,
                          "subscription disabled or deleted before delivery", None)
    else:
        outcome = _http(row, pool, settings, now)
    _log(row, outcome)
    return outcome


def target(row: Any) -> str:
    return "handler" if row.handler is not None else "http"


def outcome_name(outcome: Outcome) -> str:
    """succeeded | retry | dead | cancelled: what metrics and logs call an attempt's end."""
    return "retry" if outcome.state == "pending" else outcome.state


@lru_cache(maxsize=1024)  # one per subscription URL, shown on every attempt's line
def shown_url(url: str | None) -> str | None:
    """A subscriber URL without user:password or query string, where tokens tend to hide."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _log(row: Any, outcome: Outcome) -> None:
    """One JSON line per delivery attempt (and per cancellation, which tries nothing)."""
    tried = outcome.attempt or {}
    fields = {"delivery_id": row.id, "event_id": row.event_id, "vendor": row.vendor,
              "type": row.type, "target": target(row), "attempt": outcome.attempts,
              "outcome": outcome_name(outcome), "status_code": tried.get("status_code"),
              "error": tried.get("error") if tried else outcome.last_error,
              "duration_ms": round(tried.get("duration_ms") or 0.0, 2),
              # The callback's request: its line shows the receipt arriving.
              "request_id": row.request_id}
    if row.handler is not None:
        fields["handler"] = row.handler
    else:
        fields["subscription_id"] = row.subscription_id
        fields["url"] = shown_url(row.url)
    if outcome.state == "pending":
        fields["next_attempt_at"] = isoformat(outcome.next_attempt_at)
    level = logging.WARNING if outcome.state == "dead" else logging.INFO
    log.log(level, "delivery attempt", extra={"fields": fields})


def _http(row: Any, pool: Pool, settings: Settings, now: datetime) -> Outcome:
    try:
        target = pin(row.url, settings.allow_private_urls)
    except UrlRefused as exc:
        result = SendResult(None, f"refused: {exc}", None, 0.0)
    else:
        secrets = [row.secret]
        if row.previous_secret and row.previous_secret_until and row.previous_secret_until > now:
            secrets.append(row.previous_secret)
        payload = json.dumps(event_payload(row), separators=(",", ":"))
        result = post(pool, target, row.event_id, payload, secrets,
                      settings.delivery_timeout)
    attempts = row.attempts + 1
    attempt = {"delivery_id": row.id, "started_at": now, "duration_ms": result.duration_ms,
               "status_code": result.status_code, "error": result.error,
               "response_body": result.body}
    if result.ok:
        return Outcome(row.id, "succeeded", attempts, now, now, None, attempt,
                       row.subscription_id, "recovered")
    error = result.error or f"HTTP {result.status_code}"
    if result.status_code == 410:
        return Outcome(row.id, "dead", attempts, now, now, error + " (subscription disabled)",
                       attempt, row.subscription_id, "gone")
    retry_after = None
    if result.status_code in (429, 503):
        retry_after = parse_retry_after(result.retry_after, now)
    return _failed(row, attempts, error, attempt, settings, now, retry_after, "failing")


def _handler(row: Any, settings: Settings, now: datetime) -> Outcome:
    attempts = row.attempts + 1
    receiver = receiver_for(row.handler, row.type)
    started = datetime.now(now.tzinfo)
    error = None
    if receiver is None:
        error = f"handler {row.handler!r} is not connected to event_stored in this worker"
    else:
        try:
            receiver(row.type, event=event_payload(row))
        except Exception as exc:  # noqa: BLE001 - one handler's failure is its own
            log.exception("handler %s failed on event %s", row.handler, row.event_id)
            error = storable(f"{type(exc).__name__}: {exc}"[:1000])
    duration = (datetime.now(now.tzinfo) - started).total_seconds() * 1000
    attempt = {"delivery_id": row.id, "started_at": now, "duration_ms": duration,
               "status_code": None, "error": error, "response_body": None}
    if error is None:
        return Outcome(row.id, "succeeded", attempts, now, now, None, attempt)
    return _failed(row, attempts, error, attempt, settings, now, None, None)


def timed_out(row: Any, settings: Settings, now: datetime) -> Outcome:
    """A handler still running after DELIVERY_TIMEOUT: failed like a subscriber that timed
    out, retried on the schedule. Its thread runs on; what it returns is ignored."""
    error = f"TimeoutError: handler still running after {settings.delivery_timeout:g}s"
    attempt = {"delivery_id": row.id, "started_at": now,
               "duration_ms": settings.delivery_timeout * 1000, "status_code": None,
               "error": error, "response_body": None}
    outcome = _failed(row, row.attempts + 1, error, attempt, settings, now, None, None)
    _log(row, outcome)
    return outcome


def _failed(row: Any, attempts: int, error: str, attempt: dict, settings: Settings,
            now: datetime, retry_after: float | None, effect: str | None) -> Outcome:
    delay = next_delay(settings.retry_schedule, attempts, retry_after)
    if delay is None:
        return Outcome(row.id, "dead", attempts, now, now, error, attempt,
                       row.subscription_id, effect)
    return Outcome(row.id, "pending", attempts, at(now, delay), None, error, attempt,
                   row.subscription_id, effect)
