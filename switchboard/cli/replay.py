"""`switchboard replay`: owe stored events again, in batches, with a progress bar."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from switchboard import clock
from switchboard.operations.replay import (
    ReplayRequest,
    check_filter,
    count_matching,
    replay,
)


@click.command("replay")
@click.option("--event-id", "event_ids", multiple=True, help="an event id; repeat for several")
@click.option("--vendor")
@click.option("--type", "type_")
@click.option("--status")
@click.option("--message-id")
@click.option("--since", help="ISO 8601, received at or after")
@click.option("--until", help="ISO 8601, received before")
@click.option("--subscription", "subscription_id", help="only this subscription (no handlers)")
@click.option("--dry-run", is_flag=True, help="count what would be enqueued; enqueue nothing")
@click.option("--renormalize", is_flag=True,
              help="parse the stored raw receipts again first, and show what changed")
@click.option("--after", help="resume: only events (with --renormalize, receipts) after this "
                             "id, as printed on interrupt")
@with_appcontext
def replay_command(event_ids, vendor, type_, status, message_id, since, until,
                   subscription_id, dry_run, renormalize, after) -> None:
    """Replay events by id or by filter to every matching subscription and handler."""
    filter_ = {k: v for k, v in {"vendor": vendor, "type": type_, "status": status,
                                 "message_id": message_id, "since": since,
                                 "until": until}.items() if v}
    if bool(event_ids) == bool(filter_):
        raise click.UsageError("give --event-id(s) or filter options (--vendor, --type, ...)")
    state = current_app.extensions["switchboard"]
    request = ReplayRequest(event_ids=list(event_ids) or None,
                            filter=check_filter(filter_),
                            subscription_id=subscription_id, dry_run=dry_run,
                            renormalize=renormalize, after=after)
    total = count_matching(state.engine, request)
    # Renormalize walks receipts (and replays what changed); a replay walks events.
    unit = "receipts" if renormalize else "events"
    done = {"last": after, "walked": 0}
    label = "renormalizing" if renormalize else "replaying"
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        def progress(result) -> None:
            walked = (result.renormalized["receipts"] if renormalize
                      else result.matched)
            bar.update(walked - done["walked"])
            done.update(walked=walked, last=(result.last_receipt_id if renormalize
                                             else result.last_event_id))

        try:
            result = replay(state.engine, state.settings, request, clock.now(), progress)
        except KeyboardInterrupt:
            resume = done["last"]
            again = " --renormalize" if renormalize else ""
            click.echo(f"\ninterrupted after {done['walked']} {unit}"
                       + (f"; resume with{again} --after {resume}" if resume else ""),
                       err=True)
            sys.exit(130)
    answer = result.as_json() | ({"dry_run": True} if dry_run else {})
    click.echo(json.dumps(answer, indent=2, default=str))
