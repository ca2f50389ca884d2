"""Inbound callbacks: /webhooks/<vendor> (signed) and /webhooks/<vendor>/<token>.

The order of checks is the answer table of DESIGN.md: unknown or unconfigured vendor (404),
body too large (413), proof (401), parse (400, receipt kept), store (200 accepted or
duplicate), and 503 if the database fails.

`answer()` holds that order without Flask: GET and POST are served through it straight from
WSGI (switchboard.api.callback_wsgi); the blueprint's route answers the other methods.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from werkzeug.wrappers import Request

from switchboard import clock
from switchboard.api.errors import error_body
from switchboard.observability import http
from switchboard.router.ingest import ingest, store_failed_receipt
from switchboard.vendors.base import BadPayload, Inbound, Rejected
from switchboard.vendors.registry import get as get_vendor

bp = Blueprint("webhooks", __name__)


@bp.route("/webhooks/<vendor_name>", methods=["GET", "POST", "OPTIONS"],
          provide_automatic_options=False)
@bp.route("/webhooks/<vendor_name>/<token>", methods=["GET", "POST", "OPTIONS"],
          provide_automatic_options=False)
def receive(vendor_name: str, token: str | None = None):
    if request.method == "OPTIONS" and get_vendor(vendor_name) is not None:
        return "", 200, {"Allow": allowed_methods(vendor_name)}
    status, body = answer(current_app.extensions["switchboard"], http.notes(),
                          request._get_current_object(), vendor_name, token)
    headers = {"Allow": allowed_methods(vendor_name)} if status == 405 else {}
    return jsonify(body), status, headers


def allowed_methods(vendor_name: str) -> str:
    """The Allow header of a provider's callback URL: the methods it calls with, not every
    method the shared route takes (RFC 9110: a 405 says what would work)."""
    vendor = get_vendor(vendor_name)
    return ", ".join([*(vendor.methods if vendor else ()), "OPTIONS"])


def answer(state, notes: http.Notes, req: Request, vendor_name: str,
           token: str | None) -> tuple[int, dict]:
    """One callback: its HTTP status and JSON answer. A database failure, or a body over
    the limit (werkzeug's RequestEntityTooLarge), is raised for the caller to answer."""
    settings = state.settings
    vendor = get_vendor(vendor_name)
    secrets = settings.secrets_for(vendor_name) if vendor else ()
    if vendor is None or not secrets:
        return _reject(notes, 404, "unknown_vendor",
                       f"no provider {vendor_name!r} is configured here")
    notes.callback(vendor=vendor_name)
    if vendor.uses_token and token is None:
        return _reject(notes, 401, "invalid_token",
                       f"{vendor_name} callbacks go to /webhooks/{vendor_name}/<token>")
    if not vendor.uses_token and token is not None:
        return _reject(notes, 404, "not_found",
                       f"{vendor_name} callbacks go to /webhooks/{vendor_name}")
    if req.method not in vendor.methods:  # the caller adds Allow: allowed_methods()
        return _reject(notes, 405, "method_not_allowed",
                       f"{vendor_name} callbacks use {', '.join(vendor.methods)}")
    inbound = Inbound(vendor_name, req.method, req.get_data(cache=False),
                      headers=req.headers,
                      query_string=req.query_string.decode("latin-1"),
                      # receipts.content_type holds 200 characters and PostgreSQL
                      # text refuses NUL: the caller's oddity, not a reason for a 503.
                      content_type=(req.content_type or "").replace("\x00", "")[:200]
                      or None,
                      request_id=notes.request_id)
    now = clock.now()
    try:
        vendor.verify(inbound, secrets, settings, now, token)
    except Rejected as exc:
        return _reject(notes, exc.status, exc.code, exc.message)
    except BadPayload as exc:
        return _bad_payload(state, notes, vendor, inbound, exc, now)
    try:
        events = vendor.parse(inbound, settings)
    except BadPayload as exc:
        return _bad_payload(state, notes, vendor, inbound, exc, now)
    if len(events) > settings.max_events_per_callback:
        # Refused before any write: one callback holds SQLite's write lock (and a PostgreSQL
        # transaction) for as long as its events take to store, and every other callback
        # waits behind it.
        return _reject(notes, 413, "too_many_events",
                       f"the callback holds {len(events)} events; at most "
                       f"{settings.max_events_per_callback} are taken at once "
                       "(SWITCHBOARD_MAX_EVENTS_PER_CALLBACK)")
    result = ingest(state.engine, inbound, vendor.kept_headers, events, now)
    notes.callback(outcome=result.status, event_ids=result.event_ids,
                   events=[_logged(e, i) for e, i in zip(events, result.event_ids,
                                                         strict=True)])
    return 200, {"status": result.status, "event_ids": result.event_ids}


def _logged(event, event_id: str) -> dict:
    """What the request log says of an event; the formatter masks from/to/text."""
    data = event.data
    return {"id": event_id, "type": event.type, "message_id": data.get("message_id"),
            "status": event.status, "from": data.get("from"), "to": data.get("to"),
            "text": data.get("text")}


def _reject(notes: http.Notes, status: int, code: str, message: str,
            field: str | None = None) -> tuple[int, dict]:
    notes.callback(outcome="error" if status >= 500 else "rejected", reason=code)
    return status, error_body(code, message, field)


def _bad_payload(state, notes: http.Notes, vendor, inbound: Inbound, exc: BadPayload,
                 now) -> tuple[int, dict]:
    store_failed_receipt(state.engine, inbound, vendor.kept_headers,
                         f"{exc.code}: {exc.message}", now)
    return _reject(notes, 400, exc.code, exc.message, exc.field)
