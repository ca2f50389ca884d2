"""The operators' console: server-rendered pages over the admin functions."""

from switchboard.api.console import stats  # noqa: F401 - its page joins the blueprint
from switchboard.api.console.views import bp

__all__ = ["bp"]
