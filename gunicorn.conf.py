"""gunicorn reads ./gunicorn.conf.py when started from the repository root
(`gunicorn wsgi:app`). The settings live in the package, so that `switchboard serve` finds
them in any install: see switchboard/gunicorn_conf.py."""

from switchboard.gunicorn_conf import *  # noqa: F403
