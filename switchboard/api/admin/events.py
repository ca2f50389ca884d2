"""GET /api/events (filters, cursor) and GET /api/events/<id>."""

from __future__ import annotations

from flask import jsonify, request

from switchboard.api.admin.blueprint import bp, state
from switchboard.operations import events


@bp.get("/events")
def list_events():
    where = events.EventFilter.parse(request.args)
    with state().engine.connect() as conn:
        return jsonify(events.list_events(conn, where))


@bp.get("/events/<event_id>")
def show_event(event_id: str):
    with state().engine.connect() as conn:
        return jsonify(events.get_event(conn, event_id))
