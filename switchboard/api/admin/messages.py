"""GET /api/messages/<vendor>/<message_id>: status and history of one message."""

from __future__ import annotations

from flask import jsonify

from switchboard.api.admin.blueprint import bp, state
from switchboard.operations import messages


@bp.get("/messages/<vendor>/<path:message_id>")
def show_message(vendor: str, message_id: str):
    with state().engine.connect() as conn:
        return jsonify(messages.get_message(conn, vendor, message_id))
