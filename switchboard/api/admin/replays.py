"""POST /api/replays: owe stored events again (the work is switchboard.operations.replay's)."""

from __future__ import annotations

from flask import jsonify

from switchboard import clock
from switchboard.api.admin.blueprint import bp, json_object, state
from switchboard.operations.replay import replay_from_json


@bp.post("/replays")
def replay():
    body = json_object()
    app_state = state()
    return jsonify(replay_from_json(app_state.engine, app_state.settings, body, clock.now()))
