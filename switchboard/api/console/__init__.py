"""The operators' console: server-rendered pages over the admin functions."""

from switchboard.api.console import (  # noqa: F401 - their routes
    home_views,
    message_views,
    stats,
    subscription_views,
)
from switchboard.api.console.views import bp

__all__ = ["bp"]
