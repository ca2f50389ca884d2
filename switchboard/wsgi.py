"""The WSGI entry point gunicorn loads: `gunicorn switchboard.wsgi:app`."""

import gc
import sys

from switchboard.app import create_app
from switchboard.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    print(f"switchboard: configuration error: {exc}", file=sys.stderr)
    raise SystemExit(2) from None

# What is built by now (Flask, SQLAlchemy, the vendors' tables: ~100,000 objects) lives as
# long as the process. Frozen, the collector's full passes skip it: one took 48 ms, a stall
# for the callback in hand and the ones queued behind it. Loaded before a fork (gunicorn
# --preload), it also keeps the children from copying those pages as the collector
# touches them.
gc.freeze()
