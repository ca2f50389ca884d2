"""Phonify polling: list the API's messages and ingest each new message or changed state.

Phonify documents no callbacks (shared/vendors/phonify-api.txt), so
`GET {PHONIFY_API_URL}/messages?offset=&limit=` (Basic auth, the API key as username) is read
page by page until a short or empty page. Each message whose `state` differs from what the
`poll_state` table remembers is parsed by the Phonify vendor module and stored by the same
ingest as a pushed one. poll_state is written only after that ingest committed, so a run
that stops midway (a page answering 500, a crash) is picked up by the next run; a message
ingested but not yet remembered comes back as a duplicate, never as a second event.

Phonify lists the most recent messages first: a message arriving between two pages pushes
the rest down by one, so a page may repeat an entry of the previous one (remembered,
skipped); none is skipped over.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import Engine

from switchboard import clock
from switchboard.router.ingest import ingest, store_failed_receipt
from switchboard.store import poll_state
from switchboard.vendors.base import BadPayload, Inbound
from switchboard.vendors.phonify import vendor

log = logging.getLogger("switchboard.poll.phonify")

PAGE_SIZE = 100  # Phonify allows up to 1000
REQUEST_TIMEOUT = 15.0  # seconds per page


class PollNotConfigured(Exception):
    """SWITCHBOARD_PHONIFY_API_URL or SWITCHBOARD_PHONIFY_API_KEY is unset."""


class PageError(Exception):
    """A page could not be read: the run stops there and the next run tries again."""


@dataclass
class PollSummary:
    pages: int = 0
    listed: int = 0
    unchanged: int = 0  # state already remembered: skipped
    accepted: int = 0  # new or changed, stored as new event(s)
    duplicates: int = 0  # new to poll_state but already stored (pushed, or a crash before)
    invalid: int = 0  # could not be parsed (receipt kept) or has no usable id and state
    event_ids: list[str] = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        text = (f"phonify: {self.pages} page(s), {self.listed} message(s): "
                f"{self.accepted} accepted, {self.duplicates} duplicate, "
                f"{self.unchanged} unchanged, {self.invalid} invalid")
        return text + (f"; stopped: {self.error}" if self.error else "")


def poll_once(engine: Engine, settings: Any, now_fn: Callable[[], datetime] | None = None,
              *, page_size: int = PAGE_SIZE,
              http: requests.Session | None = None) -> PollSummary:
    """One pass over every page. Phonify's failures end the pass and are reported in
    `summary.error`; a database failure raises (nothing half-written either way)."""
    now_fn = now_fn or clock.now
    if not settings.phonify_api_url or not settings.phonify_api_key:
        raise PollNotConfigured("set SWITCHBOARD_PHONIFY_API_URL and SWITCHBOARD_PHONIFY_API_KEY")
    http = http or requests.Session()
    summary = PollSummary()
    offset = 0
    while True:
        try:
            page = fetch_page(http, settings, offset, page_size)
        except PageError as exc:
            summary.error = str(exc)
            log.warning("phonify poll stopped: %s", exc)
            break
        summary.pages += 1
        summary.listed += len(page)
        ingest_page(engine, settings, page, summary, now_fn)
        if len(page) < page_size:
            break
        offset += len(page)
    return summary


def fetch_page(http: requests.Session, settings: Any, offset: int, limit: int) -> list:
    url = settings.phonify_api_url.rstrip("/") + "/messages"
    where = f"GET /messages?offset={offset}&limit={limit}"
    try:
        answer = http.get(url, params={"offset": offset, "limit": limit},
                          auth=(settings.phonify_api_key, ""), timeout=REQUEST_TIMEOUT)
    except requests.RequestException as exc:
        raise PageError(f"{where}: {type(exc).__name__}") from None
    if answer.status_code != 200:
        raise PageError(f"{where}: HTTP {answer.status_code}")
    try:
        body = answer.json()
    except ValueError:
        raise PageError(f"{where}: the answer is not JSON") from None
    # A bare collection, as documented; tolerate one wrapped in an object.
    if isinstance(body, dict):
        body = body.get("messages", body.get("data"))
    if not isinstance(body, list):
        raise PageError(f"{where}: the answer is not a list of messages")
    return body


def ingest_page(engine: Engine, settings: Any, page: list, summary: PollSummary,
                now_fn: Callable[[], datetime]) -> None:
    identified = [(message, identity(message)) for message in page]
    seen = remembered(engine, [key[0] for _, key in identified if key])
    for message, key in identified:
        if key is None:
            summary.invalid += 1
            log.warning("phonify poll: skipped a message without a usable id and state")
            continue
        object_id, state = key
        if seen.get(object_id) == state:
            summary.unchanged += 1
            continue
        now = now_fn()
        inbound = Inbound(vendor.name, "POST", json.dumps(message).encode(), headers={},
                          content_type="application/json")
        try:
            events = vendor.parse(inbound, settings)
        except BadPayload as exc:
            # Kept for re-normalisation once, not once per run.
            store_failed_receipt(engine, inbound, vendor.kept_headers,
                                 f"{exc.code}: {exc.message}", now)
            summary.invalid += 1
        else:
            result = ingest(engine, inbound, vendor.kept_headers, events, now)
            summary.event_ids.extend(result.new_event_ids)
            if result.new_event_ids:
                summary.accepted += 1
            else:
                summary.duplicates += 1
        remember(engine, object_id, state, now)
        seen[object_id] = state


def identity(message: Any) -> tuple[str, str] | None:
    """(id, state) as poll_state keeps them, or None when they cannot be kept."""
    if not isinstance(message, dict):
        return None
    object_id, state = message.get("id"), message.get("state")
    if isinstance(object_id, bool) or not isinstance(object_id, (str, int)):
        return None
    if not isinstance(state, str):
        return None
    object_id = str(object_id)
    if not object_id or not state or len(object_id) > 200 or len(state) > 64:
        return None
    return object_id, state


def remembered(engine: Engine, object_ids: list[str]) -> dict[str, str]:
    if not object_ids:
        return {}
    with engine.connect() as conn:
        return poll_state.remembered(conn, vendor.name, object_ids)


def remember(engine: Engine, object_id: str, state: str, now: datetime) -> None:
    with engine.begin() as conn:
        poll_state.remember(conn, vendor.name, object_id, state, now)
