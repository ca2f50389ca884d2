"""`switchboard subscriptions add|list|disable|enable|rotate-secret|delete|test`."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from switchboard import clock
from switchboard.operations import subscriptions as subs


def _state():
    return current_app.extensions["switchboard"]


def _run(fn):
    state = _state()
    with state.engine.begin() as conn:
        return fn(conn, state.settings)


@click.group("subscriptions")
def subscriptions() -> None:
    """HTTP subscribers that receive events."""


@subscriptions.command("add")
@click.argument("url")
@click.option("--event-type", "-t", "event_types", multiple=True, default=["*"],
              show_default=True, help='pattern such as "message.*"; repeat for several')
@click.option("--vendor", "vendors", multiple=True, help="only events from this vendor")
@click.option("--description", default="")
@with_appcontext
def add(url: str, event_types: tuple[str, ...], vendors: tuple[str, ...],
        description: str) -> None:
    """Subscribe URL; prints the signing secret, shown only this once."""
    sub, secret = _run(lambda conn, settings: subs.create(
        conn, settings, clock.now(), url=url, event_types=list(event_types),
        vendors=list(vendors) or None, description=description))
    click.echo(json.dumps(sub | {"secret": secret}, indent=2))
    click.echo("Keep the secret now: it is not shown again.", err=True)


@subscriptions.command("list")
@click.option("--all", "include_deleted", is_flag=True, help="include deleted ones")
@with_appcontext
def list_(include_deleted: bool) -> None:
    """List subscriptions (never their secrets)."""
    rows = _run(lambda conn, _: subs.list_all(conn, include_deleted))
    for sub in rows:
        state = "active" if sub["active"] else f"disabled ({sub['disabled_reason']})"
        vendors = ",".join(sub["vendors"]) if sub["vendors"] else "all vendors"
        click.echo(f"{sub['id']}  {state}  {sub['url']}  {','.join(sub['event_types'])}  "
                   f"{vendors}  {sub['description']}")


@subscriptions.command("disable")
@click.argument("subscription_id")
@with_appcontext
def disable(subscription_id: str) -> None:
    """Stop sending to a subscription; its pending deliveries are cancelled."""
    _run(lambda conn, settings: subs.set_active(conn, settings, subscription_id, False))
    click.echo(f"{subscription_id} disabled")


@subscriptions.command("enable")
@click.argument("subscription_id")
@with_appcontext
def enable(subscription_id: str) -> None:
    """Send again from now on (what it missed is not resent: use replay)."""
    _run(lambda conn, settings: subs.set_active(conn, settings, subscription_id, True))
    click.echo(f"{subscription_id} enabled")


@subscriptions.command("rotate-secret")
@click.argument("subscription_id")
@with_appcontext
def rotate_secret(subscription_id: str) -> None:
    """New secret; the old one keeps signing beside it for 24 hours."""
    rotated = _run(lambda conn, _: subs.rotate_secret(conn, subscription_id, clock.now()))
    click.echo(rotated["secret"])
    click.echo("The old secret also signs for the next 24 hours.", err=True)


@subscriptions.command("delete")
@click.argument("subscription_id")
@with_appcontext
def delete(subscription_id: str) -> None:
    """Delete (softly: its delivery history is kept)."""
    _run(lambda conn, _: subs.delete(conn, subscription_id, clock.now()))
    click.echo(f"{subscription_id} deleted")


@subscriptions.command("test")
@click.argument("subscription_id")
@with_appcontext
def send_test(subscription_id: str) -> None:
    """Send it a switchboard.test event (it alone, whatever its event types); a worker
    delivers it, and `switchboard events show` prints the event with its attempts."""
    from switchboard.operations.common import OperationError
    from switchboard.operations.subscription_test_event import send_test_event

    try:
        sent = _run(lambda conn, _: send_test_event(conn, subscription_id, clock.now()))
    except OperationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(sent["event_id"])
    click.echo(f"queued as delivery {sent['delivery_id']}", err=True)
