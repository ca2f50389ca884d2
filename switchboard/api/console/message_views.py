"""Console pages for one message's timeline and for finding things: search by event id,
message id or phone number."""

from __future__ import annotations

from flask import abort, render_template, request, url_for

from switchboard.api.console import auth
from switchboard.api.console.views import _state, bp
from switchboard.operations.common import OperationError
from switchboard.operations.search import search
from switchboard.operations.timeline import timeline


@bp.route("/messages/<vendor>/<path:message_id>")
@auth.required
def message(vendor: str, message_id: str):
    try:
        with _state().engine.connect() as conn:
            shown = timeline(conn, vendor, message_id)
    except OperationError as exc:
        abort(exc.status, description=exc.message)
    return render_template("console/message.html", m=shown)


@bp.route("/search")
@auth.required
def search_page():
    found, error = None, None
    if request.args.get("q", "").strip():
        try:
            with _state().engine.connect() as conn:
                found = search(conn, request.args)
        except OperationError as exc:
            error = exc.said()
    older_url = (url_for("console.search_page", q=found["query"], cursor=found["next_cursor"],
                         **({"country": request.args["country"]}
                            if request.args.get("country") else {}))
                 if found and found["next_cursor"] else None)
    more_messages_url = (url_for("console.search_page", q=found["query"],
                                 messages_cursor=found["messages_next_cursor"],
                                 **({"limit": request.args["limit"]}
                                    if request.args.get("limit") else {}))
                         if found and found["messages_next_cursor"] else None)
    return render_template("console/search.html", found=found, error=error,
                           args=request.args, older_url=older_url,
                           more_messages_url=more_messages_url), 400 if error else 200
