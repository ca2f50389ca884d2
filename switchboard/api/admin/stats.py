"""GET /api/stats/providers: the scorecard per vendor and country."""

from __future__ import annotations

from flask import jsonify, request

from switchboard import clock
from switchboard.api.admin.blueprint import bp, state
from switchboard.operations import stats


@bp.get("/stats/providers")
def provider_stats():
    where = stats.StatsFilter.parse(request.args, clock.now())
    with state().engine.connect() as conn:
        return jsonify(stats.provider_stats(conn, where))
