"""create_app(): settings, database, blueprints and CLI in one place."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import Engine

from switchboard.config import ConfigError, Settings, load_settings
from switchboard.observability import logging as json_logging
from switchboard.store.db import is_server, make_engine

log = logging.getLogger("switchboard.app")


@dataclass
class State:
    """What request handlers and commands reach through app.extensions["switchboard"]."""

    settings: Settings
    engine: Engine


def create_app(overrides: Mapping[str, object] | None = None,
               settings: Settings | None = None) -> Flask:
    """Build the app from SWITCHBOARD_* variables; `overrides` (tests) win over them."""
    settings = settings or load_settings(overrides=overrides)
    app = Flask("switchboard")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    # A provider's URL is answered where it points: no 308 to a merged-slash path that a
    # provider's client would not follow with its POST body.
    app.url_map.merge_slashes = False
    app.json.sort_keys = False
    app.extensions["switchboard"] = State(settings=settings,
                                          engine=make_engine(settings.database_url))
    json_logging.install(settings)
    engine = app.extensions["switchboard"].engine
    if settings.allow_private_urls and is_server(engine):
        log.warning("SWITCHBOARD_ALLOW_PRIVATE_URLS=true on a PostgreSQL database: subscriber "
                    "URLs may reach loopback and private networks; this is a test setting")

    from switchboard.api import chunked, errors, health, webhooks
    from switchboard.handlers.registry import import_modules
    from switchboard.observability import http

    try:
        import_modules(settings.handler_modules)
    except ImportError as exc:
        raise ConfigError(f"SWITCHBOARD_HANDLER_MODULES: cannot import {exc.name!r}") from None

    errors.init_app(app)
    http.init_app(app)
    chunked.init_app(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    from switchboard.api import admin as admin_api  # /api/* and /openapi.json
    admin_api.init_app(app)
    _init_console(app, settings)
    from switchboard.api import callback_wsgi
    callback_wsgi.install(app)
    return app


def _init_console(app: Flask, settings: Settings) -> None:
    from switchboard.api import console
    from switchboard.api.console.auth import LIFETIME, CookieSessions, session_key

    if settings.admin_token:
        app.secret_key = session_key(settings.admin_token)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_PATH="/console", SESSION_COOKIE_NAME="switchboard_console",
                      # The cookie expires with the server-side session (auth.LIFETIME after
                      # sign-in), not LIFETIME after the latest page.
                      PERMANENT_SESSION_LIFETIME=LIFETIME, SESSION_REFRESH_EACH_REQUEST=False)
    app.session_interface = CookieSessions()
    app.register_blueprint(console.bp)
