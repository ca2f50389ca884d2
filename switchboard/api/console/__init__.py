"""The operators' console: server-rendered pages over the admin functions."""

from switchboard.api.console import subscription_views  # noqa: F401 - its routes
from switchboard.api.console.views import bp

__all__ = ["bp"]
