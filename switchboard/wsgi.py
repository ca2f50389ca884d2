"""The WSGI entry point gunicorn loads: `gunicorn switchboard.wsgi:app`."""

import sys

from switchboard.app import create_app
from switchboard.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    print(f"switchboard: configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None
