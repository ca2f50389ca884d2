"""`switchboard poll phonify`: one polling pass from the command line."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from switchboard import clock
from switchboard.poll import phonify


@click.group()
def poll() -> None:
    """Poll providers that do not call back."""


@poll.command("phonify")
@with_appcontext
def poll_phonify() -> None:
    """List Phonify's messages once and ingest every new message or changed state."""
    state = current_app.extensions["switchboard"]
    try:
        summary = phonify.poll_once(state.engine, state.settings, clock.now)
    except phonify.PollNotConfigured as exc:
        raise click.UsageError(f"Phonify polling is not configured: {exc}") from None
    click.echo(summary.line())
    if summary.error:
        sys.exit(1)
