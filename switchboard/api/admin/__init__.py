"""The admin API under /api (bearer ADMIN_TOKEN) and its /openapi.json description."""

from __future__ import annotations

from flask import Flask

from switchboard.api import openapi
from switchboard.api.admin import (  # noqa: F401
    deliveries,
    events,
    messages,
    replays,
    stats,
    subscriptions,
)
from switchboard.api.admin.blueprint import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    openapi.init_app(app)
