"""Endpoints for load balancers and Prometheus: /healthz, /readyz, /metrics.

/healthz answers while the process can serve a request, and touches nothing else, so a
database outage does not make a load balancer kill every web process. /readyz says whether
this process should get traffic: the database answers and its schema is at least the one
this code expects (a deploy that forgot `switchboard db upgrade` is not ready; an old
process after the upgrade, before its replacement, still is).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from switchboard.api.errors import error_response
from switchboard.models import migrate
from switchboard.observability.metrics import scrape_registry

bp = Blueprint("health", __name__)
log = logging.getLogger("switchboard.health")


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    engine = current_app.extensions["switchboard"].engine
    try:
        current = migrate.is_current(engine)
    except SQLAlchemyError as exc:  # a probe: any failure to read is "down"
        log.warning("not ready: database unavailable: %s", type(exc).__name__)
        return error_response(503, "database_unavailable", "the database does not answer")
    if not current:
        return error_response(503, "migrations_pending",
                              "the database schema is not current: run `switchboard db "
                              "upgrade`")
    return jsonify({"status": "ready"})


@bp.get("/metrics")
def metrics():
    registry = scrape_registry(current_app.extensions["switchboard"].engine)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
