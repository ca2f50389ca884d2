"""`gunicorn wsgi:app` from the repository root, as DESIGN.md says production runs it."""

from switchboard.wsgi import app

__all__ = ["app"]
