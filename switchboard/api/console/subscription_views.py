"""Console pages that change subscriptions: create, disable, enable, rotate the secret,
delete, send a test event. Each goes through operations.subscriptions (and the test event
through operations.subscription_test_event), the functions the admin API and the CLI call
too."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from switchboard import clock
from switchboard.api.console import auth
from switchboard.api.console.charts import stacked_bars
from switchboard.api.console.views import _state, bp
from switchboard.operations import subscriptions as subs
from switchboard.operations.common import OperationError, check_id
from switchboard.operations.subscription_health import health
from switchboard.operations.subscription_test_event import send_test_event


def _listing(**shown):
    args = {k: v for k, v in request.args.items() if k in ("cursor", "limit")}
    try:
        with _state().engine.connect() as conn:
            listing = subs.list_page(conn, args)
    except OperationError as exc:
        shown["error"] = exc.said()
        listing = {"subscriptions": [], "next_cursor": None}
    older_url = (url_for("console.subscriptions", cursor=listing["next_cursor"],
                         **({"limit": args["limit"]} if "limit" in args else {}))
                 if listing["next_cursor"] else None)
    return render_template("console/subscriptions.html", subscriptions=listing["subscriptions"],
                           older_url=older_url, **shown)


@bp.route("/subscriptions")
@auth.required
def subscriptions():
    return _listing(form=MultiDict())


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


@bp.route("/subscriptions", methods=["POST"])
@auth.required
def create_subscription():
    form = request.form
    state = _state()
    try:
        with state.engine.begin() as conn:
            created, secret = subs.create(
                conn, state.settings, clock.now(), url=form.get("url", "").strip(),
                event_types=_words(form.get("event_types", "")),
                vendors=form.getlist("vendors") or None,
                description=form.get("description", ""))
    except OperationError as exc:
        return _listing(form=form, error=exc.said()), exc.status
    return _showing_secret(created["id"], secret, "created", 201)


def _showing_secret(subscription_id: str, secret: str, what: str, status: int = 200):
    """The one page a secret is ever on. Rendered, never flashed (a flash rides in the
    signed but readable cookie), and kept out of every cache, the browser's disk included."""
    response = make_response(_listing(form=MultiDict(), secret={
        "id": subscription_id, "secret": secret, "what": what}), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _known_shape(subscription_id: str) -> None:
    try:
        check_id(subscription_id, "subscription")
    except OperationError as exc:
        abort(exc.status, description=exc.message)


def _change(subscription_id: str, action, done: str):
    _known_shape(subscription_id)
    try:
        with _state().engine.begin() as conn:
            action(conn)
        flash(done)
    except OperationError as exc:
        flash(exc.message)
    return redirect(auth.local(request.form.get("back"), url_for("console.subscriptions")))


@bp.route("/subscriptions/<subscription_id>/disable", methods=["POST"])
@auth.required
def disable_subscription(subscription_id: str):
    return _change(subscription_id, lambda conn: subs.set_active(
        conn, _state().settings, subscription_id, False),
        f"Subscription {subscription_id} is disabled.")


@bp.route("/subscriptions/<subscription_id>/enable", methods=["POST"])
@auth.required
def enable_subscription(subscription_id: str):
    return _change(subscription_id, lambda conn: subs.set_active(
        conn, _state().settings, subscription_id, True),
        f"Subscription {subscription_id} is enabled; what it missed is not resent "
        "(replay does that).")


@bp.route("/subscriptions/<subscription_id>/delete", methods=["POST"])
@auth.required
def delete_subscription(subscription_id: str):
    return _change(subscription_id, lambda conn: subs.delete(conn, subscription_id,
                                                             clock.now()),
                   f"Subscription {subscription_id} is deleted.")


@bp.route("/subscriptions/<subscription_id>/rotate-secret", methods=["POST"])
@auth.required
def rotate_subscription_secret(subscription_id: str):
    _known_shape(subscription_id)
    try:
        with _state().engine.begin() as conn:
            secret = subs.rotate_secret(conn, subscription_id, clock.now())["secret"]
    except OperationError as exc:
        return _listing(form=MultiDict(), error=exc.message), exc.status
    return _showing_secret(subscription_id, secret, "rotated")


@bp.route("/subscriptions/<subscription_id>/test", methods=["POST"])
@auth.required
def test_subscription(subscription_id: str):
    _known_shape(subscription_id)
    try:
        with _state().engine.begin() as conn:
            sent = send_test_event(conn, subscription_id, clock.now())
        flash(f"Test event {sent['event_id']} is queued as delivery {sent['delivery_id']}; "
              "a worker sends it, and its attempt shows below.")
    except OperationError as exc:
        flash(exc.message)
    return redirect(url_for("console.subscription_health", subscription_id=subscription_id))


@bp.route("/subscriptions/<subscription_id>")
@auth.required
def subscription_health(subscription_id: str):
    _known_shape(subscription_id)
    try:
        with _state().engine.connect() as conn:
            shown = health(conn, subscription_id, clock.now())
    except OperationError as exc:
        abort(exc.status, description=exc.message)
    chart = stacked_bars(f"Attempts per hour, last 24 hours, to {subscription_id}",
                         shown["per_hour"]["hours"], shown["per_hour"]["series"])
    return render_template("console/subscription.html", h=shown, s=shown["subscription"],
                           chart=chart)
