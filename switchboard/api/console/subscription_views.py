"""Console pages that change subscriptions: create, disable, enable, rotate the secret,
delete, send a test event. Each goes through operations.subscriptions (and the test event
through operations.subscription_test_event), the functions the admin API and the CLI call
too."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from switchboard import clock
from switchboard.api.console import auth, refusals
from switchboard.api.console.charts import stacked_bars
from switchboard.api.console.views import _state, bp
from switchboard.operations import subscriptions as subs
from switchboard.operations.common import check_id
from switchboard.operations.subscription_health import health
from switchboard.operations.subscription_test_event import send_test_event

NO_SUBSCRIPTIONS = {"subscriptions": [], "next_cursor": None}


def _page(listing: dict, limit: str | None = None, **shown):
    older_url = (url_for("console.subscriptions", cursor=listing["next_cursor"],
                         **({"limit": limit} if limit is not None else {}))
                 if listing["next_cursor"] else None)
    return render_template("console/subscriptions.html", subscriptions=listing["subscriptions"],
                           older_url=older_url, **shown)


def _listing(args: dict, **shown):
    """The list, a page at a time as `args` ask (cursor, limit), with `shown` above it."""
    with _state().engine.connect() as conn:
        listing = subs.list_page(conn, args)
    return _page(listing, args.get("limit"), **shown)


@bp.route("/subscriptions")
@auth.required
@refusals.page(lambda error: _page(NO_SUBSCRIPTIONS, form=MultiDict(), error=error))
def subscriptions():
    args = {k: v for k, v in request.args.items() if k in ("cursor", "limit")}
    return _listing(args, form=MultiDict())


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


@bp.route("/subscriptions", methods=["POST"])
@auth.required
@refusals.page(lambda error: _listing({}, form=request.form, error=error))
def create_subscription():
    form = request.form
    state = _state()
    with state.engine.begin() as conn:
        created, secret = subs.create(
            conn, state.settings, clock.now(), url=form.get("url", "").strip(),
            event_types=_words(form.get("event_types", "")),
            vendors=form.getlist("vendors") or None,
            description=form.get("description", ""))
    return _showing_secret(created["id"], secret, "created", 201)


def _showing_secret(subscription_id: str, secret: str, what: str, status: int = 200):
    """The one page a secret is ever on. Rendered, never flashed (a flash rides in the
    signed but readable cookie), and kept out of every cache, the browser's disk included."""
    response = make_response(_listing({}, form=MultiDict(), secret={
        "id": subscription_id, "secret": secret, "what": what}), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _known_shape(subscription_id: str) -> None:
    # An id no row can have (a NUL) is not found before PostgreSQL could refuse it.
    check_id(subscription_id, "subscription")


def _back_to_subscriptions() -> str:
    return auth.local(request.form.get("back"), url_for("console.subscriptions"))


def _change(subscription_id: str, action, done: str):
    _known_shape(subscription_id)
    with _state().engine.begin() as conn:
        action(conn)
    flash(done)
    return redirect(_back_to_subscriptions())


@bp.route("/subscriptions/<subscription_id>/disable", methods=["POST"])
@auth.required
@refusals.back(_back_to_subscriptions)
def disable_subscription(subscription_id: str):
    return _change(subscription_id, lambda conn: subs.set_active(
        conn, _state().settings, subscription_id, False),
        f"Subscription {subscription_id} is disabled.")


@bp.route("/subscriptions/<subscription_id>/enable", methods=["POST"])
@auth.required
@refusals.back(_back_to_subscriptions)
def enable_subscription(subscription_id: str):
    return _change(subscription_id, lambda conn: subs.set_active(
        conn, _state().settings, subscription_id, True),
        f"Subscription {subscription_id} is enabled; what it missed is not resent "
        "(replay does that).")


@bp.route("/subscriptions/<subscription_id>/delete", methods=["POST"])
@auth.required
@refusals.back(_back_to_subscriptions)
def delete_subscription(subscription_id: str):
    return _change(subscription_id, lambda conn: subs.delete(conn, subscription_id,
                                                             clock.now()),
                   f"Subscription {subscription_id} is deleted.")


@bp.route("/subscriptions/<subscription_id>/rotate-secret", methods=["POST"])
@auth.required
@refusals.back(_back_to_subscriptions)
def rotate_subscription_secret(subscription_id: str):
    _known_shape(subscription_id)
    with _state().engine.begin() as conn:
        secret = subs.rotate_secret(conn, subscription_id, clock.now())["secret"]
    return _showing_secret(subscription_id, secret, "rotated")


def _health_url() -> str:
    return url_for("console.subscription_health",
                   subscription_id=(request.view_args or {})["subscription_id"])


@bp.route("/subscriptions/<subscription_id>/test", methods=["POST"])
@auth.required
@refusals.back(_health_url)
def test_subscription(subscription_id: str):
    """Back to its health page, where the attempt shows once a worker has sent it."""
    _known_shape(subscription_id)
    with _state().engine.begin() as conn:
        sent = send_test_event(conn, subscription_id, clock.now())
    flash(f"Test event {sent['event_id']} is queued as delivery {sent['delivery_id']}; "
          "a worker sends it, and its attempt shows below.")
    return redirect(_health_url())


@bp.route("/subscriptions/<subscription_id>")
@auth.required
def subscription_health(subscription_id: str):
    _known_shape(subscription_id)
    with _state().engine.connect() as conn:
        shown = health(conn, subscription_id, clock.now())
    chart = stacked_bars(f"Attempts per hour, last 24 hours, to {subscription_id}",
                         shown["per_hour"]["hours"], shown["per_hour"]["series"])
    return render_template("console/subscription.html", h=shown, s=shown["subscription"],
                           chart=chart)
