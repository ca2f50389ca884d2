"""`switchboard purge --older-than 30d [--dry-run]`: retention, in batches."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from switchboard import clock
from switchboard.events import isoformat
from switchboard.operations.retention import count, parse_duration, purge


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.command("purge")
@click.option("--older-than", "older_than", type=Duration(), required=True,
              help="age: 30d, 12h, 90m (s, m, h, d, w)")
@click.option("--dry-run", is_flag=True, help="count what would be deleted, delete nothing")
@click.option("--batch-size", type=click.IntRange(1, 100000), default=1000, show_default=True,
              help="rows per transaction")
@with_appcontext
def purge_command(older_than, dry_run: bool, batch_size: int) -> None:
    """Delete events, receipts (failed ones too) and finished deliveries (succeeded, dead,
    cancelled) with their attempts, older than --older-than.

    Never an event that still has a pending delivery, or a delivery that finished after
    the cutoff (a recent replay). Each batch is its own transaction: safe to interrupt and
    to run while serving. message_status rows stay even when all their events are purged:
    they are each message's current status, not history."""
    engine = current_app.extensions["switchboard"].engine
    cutoff = clock.now() - older_than
    if dry_run:
        click.echo(f"would delete {count(engine, cutoff).line()} "
                   f"from before {isoformat(cutoff)}")
        return
    done = purge(engine, cutoff, batch_size)
    click.echo(f"deleted {done.line()} from before {isoformat(cutoff)}")
