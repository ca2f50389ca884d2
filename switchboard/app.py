"""create_app(): settings, database, blueprints and CLI in one place."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import Engine

from switchboard.config import ConfigError, Settings, load_settings
from switchboard.models import make_engine


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
    app.json.sort_keys = False
    app.extensions["switchboard"] = State(settings=settings,
                                          engine=make_engine(settings.database_url))
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")

    from switchboard.api import errors, webhooks
    from switchboard.handlers.registry import import_modules

    try:
        import_modules(settings.handler_modules)
    except ImportError as exc:
        raise ConfigError(f"SWITCHBOARD_HANDLER_MODULES: cannot import {exc.name!r}") from None

    errors.init_app(app)
    app.register_blueprint(webhooks.bp)
    return app
