"""GET /api/deliveries?state=dead and POST /api/deliveries/<id>/retry."""

from __future__ import annotations

from flask import jsonify, request

from switchboard import clock
from switchboard.api.admin.blueprint import bp, state
from switchboard.operations import deliveries


@bp.get("/deliveries")
def list_deliveries():
    with state().engine.connect() as conn:
        return jsonify(deliveries.list_deliveries(conn, request.args))


@bp.post("/deliveries/<delivery_id>/retry")
def retry_delivery(delivery_id: str):
    with state().engine.begin() as conn:
        return jsonify(deliveries.retry(conn, delivery_id, clock.now()))
