"""Console pages: events (filtered), one event, dead letters, subscriptions, replay."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from switchboard import clock
from switchboard.api.console import auth, refusals
from switchboard.api.console.display import age, when
from switchboard.operations import deliveries as admin_deliveries
from switchboard.operations import subscriptions as subs
from switchboard.operations.common import OperationError
from switchboard.operations.events import EventFilter, get_event, list_events
from switchboard.operations.replay import replay_from_json
from switchboard.vendors.registry import VENDORS

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static")
bp.register_error_handler(OperationError, refusals.show)


def _state():
    return current_app.extensions["switchboard"]


@bp.after_request
def _not_framed(response):
    # No page of the console may be framed by another site (clickjacking a retry or a
    # replay button): the header old browsers read, and the CSP directive new ones do.
    response.headers["X-Frame-Options"] = "DENY"
    csp = response.headers.get("Content-Security-Policy")
    response.headers["Content-Security-Policy"] = (
        f"{csp}; frame-ancestors 'none'" if csp else "frame-ancestors 'none'")
    return response


@bp.app_context_processor
def _globals():
    return {"csrf_token": auth.csrf_token, "vendors": sorted(VENDORS), "when": when, "age": age,
            "pretty": lambda value: json.dumps(value, indent=2, default=str)}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not _state().settings.admin_token:
        abort(503, description="the console is off: set SWITCHBOARD_ADMIN_TOKEN")
    if request.method == "POST":
        if auth.sign_in(request.form.get("token", "")):
            return redirect(auth.local(request.args.get("next"), url_for("console.home")))
        flash("That token is not the admin token.")
        return render_template("console/login.html"), 401
    return render_template("console/login.html")


@bp.route("/logout", methods=["POST"])
@auth.required
def logout():
    auth.sign_out()
    return redirect(url_for("console.login"))


def _events_page(listing: dict, error: str | None = None) -> str:
    kept = {k: v for k, v in request.args.items() if k != "cursor" and v}
    older_url = (url_for("console.events", cursor=listing["next_cursor"], **kept)
                 if listing["next_cursor"] else None)
    return render_template("console/events.html", listing=listing, args=request.args,
                           older_url=older_url, error=error)


@bp.route("/events")
@auth.required
@refusals.page(lambda error: _events_page({"events": [], "next_cursor": None}, error))
def events():
    where = EventFilter.parse(request.args)
    with _state().engine.connect() as conn:
        listing = list_events(conn, where)
    return _events_page(listing)


@bp.route("/events/<event_id>")
@auth.required
def event(event_id: str):
    with _state().engine.connect() as conn:
        shown = get_event(conn, event_id)
        subscriptions = subs.list_all(conn)
    return render_template("console/event.html", event=shown, subscriptions=subscriptions)


def _deliveries_args() -> dict:
    return {"state": request.args.get("state", "dead"), "cursor": request.args.get("cursor"),
            "subscription_id": request.args.get("subscription_id")}


def _deliveries_page(listing: dict, error: str | None = None) -> str:
    args = _deliveries_args()
    return render_template("console/deliveries.html", listing=listing, state=args["state"],
                           subscription_id=args["subscription_id"], error=error)


@bp.route("/deliveries")
@auth.required
@refusals.page(lambda error: _deliveries_page({"deliveries": [], "next_cursor": None}, error))
def deliveries():
    with _state().engine.connect() as conn:
        listing = admin_deliveries.list_deliveries(conn, _deliveries_args())
    return _deliveries_page(listing)


def _back_to_deliveries() -> str:
    return auth.local(request.form.get("back"), url_for("console.deliveries"))


@bp.route("/deliveries/<delivery_id>/retry", methods=["POST"])
@auth.required
@refusals.back(_back_to_deliveries)
def retry_delivery(delivery_id: str):
    with _state().engine.begin() as conn:
        admin_deliveries.retry(conn, delivery_id, clock.now())
    flash(f"Delivery {delivery_id} is queued again.")
    return redirect(_back_to_deliveries())


def _replay_page(result: dict | None = None, error: str | None = None) -> str:
    with _state().engine.connect() as conn:
        subscriptions = subs.list_all(conn)
    form = request.form if request.method == "POST" else request.args
    return render_template("console/replay.html", result=result, form=form,
                           subscriptions=subscriptions, error=error)


def _replay_body(form) -> dict:
    """The replay form as the admin API's body: event ids if any are given, else a filter."""
    body: dict = {"dry_run": form.get("dry_run") == "on"}
    ids = [i for i in form.get("event_ids", "").split() if i]
    if ids:
        body["event_ids"] = ids
    else:
        body["filter"] = {k: form[k] for k in ("vendor", "type", "status", "message_id",
                                               "since", "until") if form.get(k)}
    if form.get("subscription_id"):
        body["subscription_id"] = form["subscription_id"]
    return body


@bp.route("/replay", methods=["GET", "POST"])
@auth.required
@refusals.page(lambda error: _replay_page(error=error))
def replay():
    if request.method != "POST":
        return _replay_page()
    body = _replay_body(request.form)
    state = _state()
    result = replay_from_json(state.engine, state.settings, body, clock.now())
    return _replay_page(result | {"dry_run": body["dry_run"]})
