"""`switchboard events list|show` and `switchboard deliveries list|retry`: the admin API's
functions from a terminal."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from switchboard import clock
from switchboard.operations import deliveries as admin_deliveries
from switchboard.operations import events as admin_events
from switchboard.operations.common import MAX_LIMIT


def _engine():
    return current_app.extensions["switchboard"].engine


def _echo_page(rows: list[dict], next_cursor: str | None, line) -> None:
    for row in rows:
        click.echo(line(row))
    if next_cursor:
        click.echo(f"more: --cursor {next_cursor}", err=True)


@click.group("events")
def events() -> None:
    """Stored events."""


@events.command("list")
@click.option("--vendor")
@click.option("--type", "type_", help="exact type, e.g. message.delivered")
@click.option("--status", help="normalised status, e.g. delivered")
@click.option("--message-id")
@click.option("--since", help="received at or after (ISO 8601; UTC if no offset)")
@click.option("--until", help="received before (ISO 8601)")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, MAX_LIMIT))
@click.option("--cursor", help="the cursor printed after the previous page")
@click.option("--json", "as_json", is_flag=True, help="the API's JSON answer instead of lines")
@with_appcontext
def list_events(vendor, type_, status, message_id, since, until, limit, cursor,
                as_json) -> None:
    """Newest first: id, received_at, vendor, type, message id, disposition."""
    args = {"vendor": vendor, "type": type_, "status": status, "message_id": message_id,
            "since": since, "until": until, "limit": str(limit), "cursor": cursor}
    where = admin_events.EventFilter.parse({k: v for k, v in args.items() if v})
    with _engine().connect() as conn:
        answer = admin_events.list_events(conn, where)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    _echo_page(answer["events"], answer["next_cursor"], lambda e: (
        f"{e['id']}  {e['received_at']}  {e['vendor']}  {e['type']}  "
        f"{e['message_id'] or '-'}  {e['disposition']}"))


@events.command("show")
@click.argument("event_id")
@with_appcontext
def show_event(event_id: str) -> None:
    """One event as JSON, with its receipt, deliveries and their attempts."""
    with _engine().connect() as conn:
        answer = admin_events.get_event(conn, event_id)
    click.echo(json.dumps(answer, indent=2))


@click.group("deliveries")
def deliveries() -> None:
    """Deliveries to subscribers and handlers; dead letters."""


@deliveries.command("list")
@click.option("--state", type=click.Choice(admin_deliveries.STATES))
@click.option("--event-id")
@click.option("--subscription-id")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, MAX_LIMIT))
@click.option("--cursor", help="the cursor printed after the previous page")
@click.option("--json", "as_json", is_flag=True, help="the API's JSON answer instead of lines")
@with_appcontext
def list_deliveries(state, event_id, subscription_id, limit, cursor, as_json) -> None:
    """Newest first: id, state, attempts, target, event, last error."""
    args = {"state": state, "event_id": event_id, "subscription_id": subscription_id,
            "limit": str(limit), "cursor": cursor}
    with _engine().connect() as conn:
        answer = admin_deliveries.list_deliveries(
            conn, {k: v for k, v in args.items() if v})
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    _echo_page(answer["deliveries"], answer["next_cursor"], lambda d: (
        f"{d['id']}  {d['state']}  {d['attempt_count']} attempts  "
        f"{d['subscription_id'] or 'handler ' + str(d['handler'])}  {d['event_id']} "
        f"({d['event_type']})  {d['last_error'] or ''}".rstrip()))


@deliveries.command("retry")
@click.argument("delivery_id")
@with_appcontext
def retry(delivery_id: str) -> None:
    """Send a dead or cancelled delivery again, with its whole retry schedule."""
    with _engine().begin() as conn:
        admin_deliveries.retry(conn, delivery_id, clock.now())
    click.echo(f"{delivery_id} is pending again; a worker will send it")
