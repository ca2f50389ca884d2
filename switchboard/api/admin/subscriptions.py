"""Subscriptions over HTTP, through the same functions as `switchboard subscriptions`.
The secret is answered at creation and rotation only."""

from __future__ import annotations

from flask import jsonify

from switchboard import clock
from switchboard.api.admin.blueprint import bp, json_object, state
from switchboard.operations import subscriptions as subs
from switchboard.operations.common import check_id


@bp.get("/subscriptions")
def list_subscriptions():
    with state().engine.connect() as conn:
        return jsonify({"subscriptions": subs.list_all(conn)})


@bp.post("/subscriptions")
def create_subscription():
    body = json_object()
    app_state = state()
    with app_state.engine.begin() as conn:
        return jsonify(subs.create_from_json(conn, app_state.settings, clock.now(), body)), 201


@bp.get("/subscriptions/<subscription_id>")
def show_subscription(subscription_id: str):
    with state().engine.connect() as conn:
        return jsonify(subs.public(subs.get_row(conn, _id(subscription_id))))


@bp.patch("/subscriptions/<subscription_id>")
def update_subscription(subscription_id: str):
    body = json_object()
    app_state = state()
    with app_state.engine.begin() as conn:
        return jsonify(subs.update_fields(conn, app_state.settings, _id(subscription_id), body))


@bp.delete("/subscriptions/<subscription_id>")
def delete_subscription(subscription_id: str):
    """Soft: the row stays for its deliveries' history; the answer shows it deleted."""
    with state().engine.begin() as conn:
        subs.delete(conn, _id(subscription_id), clock.now())
        return jsonify(subs.public(subs.get_row(conn, subscription_id, include_deleted=True)))


@bp.post("/subscriptions/<subscription_id>/rotate-secret")
def rotate_secret(subscription_id: str):
    """The new secret, once; the old one keeps signing beside it for 24 hours."""
    with state().engine.begin() as conn:
        return jsonify(subs.rotate_secret(conn, _id(subscription_id), clock.now()))


def _id(subscription_id: str) -> str:
    return check_id(subscription_id, "subscription")
