"""POST /api/replays: owe stored events again (the work is switchboard.operations.replay's)."""

from __future__ import annotations

from flask import jsonify

from switchboard import clock
from switchboard.api.admin.blueprint import bp, json_object, state
from switchboard.api.errors import error_response


@bp.post("/replays")
def replay():
    from switchboard.operations.replay import ReplayError, replay_from_json

    body = json_object()
    app_state = state()
    try:
        answer = replay_from_json(app_state.engine, app_state.settings, body, clock.now())
    except ReplayError as exc:
        status = getattr(exc, "status", 400)
        return error_response(status, "not_found" if status == 404 else "invalid_replay",
                              exc.message, exc.field)
    return jsonify(answer)
