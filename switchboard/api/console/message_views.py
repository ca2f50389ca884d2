"""Console pages for one message's timeline and for finding things: search by event id,
message id or phone number."""

from __future__ import annotations

from flask import render_template, request, url_for

from switchboard.api.console import auth, refusals
from switchboard.api.console.views import _state, bp
from switchboard.operations.search import search
from switchboard.operations.timeline import timeline


@bp.route("/messages/<vendor>/<path:message_id>")
@auth.required
def message(vendor: str, message_id: str):
    with _state().engine.connect() as conn:
        shown = timeline(conn, vendor, message_id)
    return render_template("console/message.html", m=shown)


def _search_page(found: dict | None = None, error: str | None = None) -> str:
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
                           more_messages_url=more_messages_url)


@bp.route("/search")
@auth.required
@refusals.page(lambda error: _search_page(error=error))
def search_page():
    if not request.args.get("q", "").strip():
        return _search_page()
    with _state().engine.connect() as conn:
        found = search(conn, request.args)
    return _search_page(found)
