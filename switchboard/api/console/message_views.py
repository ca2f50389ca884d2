"""Console pages for one message's timeline and for finding things: search by event id,
message id or phone number."""

from __future__ import annotations

from flask import abort, render_template

from switchboard.admin.common import AdminError
from switchboard.admin.timeline import timeline
from switchboard.api.console import auth
from switchboard.api.console.views import _state, bp


@bp.route("/messages/<vendor>/<path:message_id>")
@auth.required
def message(vendor: str, message_id: str):
    try:
        with _state().engine.connect() as conn:
            shown = timeline(conn, vendor, message_id)
    except AdminError as exc:
        abort(exc.status, description=exc.message)
    return render_template("console/message.html", m=shown)
