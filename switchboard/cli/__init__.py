"""The `switchboard` command: a Flask CLI group over create_app()."""

from __future__ import annotations

import json
import logging
import sys

import click
import requests
from flask import current_app
from flask.cli import AppGroup, ScriptInfo, with_appcontext

from switchboard import clock
from switchboard.cli import admin as admin_commands
from switchboard.cli import purge as purge_commands
from switchboard.cli import replay as replay_commands
from switchboard.cli import stats as stats_commands
from switchboard.cli import subscriptions as subscriptions_commands
from switchboard.cli import worker as worker_commands
from switchboard.cli.poll import poll
from switchboard.config import ConfigError
from switchboard.config.settings import vendor_variable
from switchboard.models import migrate
from switchboard.operations.common import OperationError
from switchboard.vendors.registry import VENDORS


def _create_app():
    from switchboard.app import create_app

    return create_app()


class Commands(AppGroup):
    """Every command's refused operation is said here, once, as a usage-style error."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OperationError as exc:
            raise click.ClickException(exc.said()) from None


@click.group(cls=Commands)
def cli() -> None:
    """Switchboard: SMS providers' callbacks, stored once and fanned out."""


@cli.group()
def db() -> None:
    """Database schema."""


cli.add_command(poll)


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply every migration not yet applied."""
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
    migrate.upgrade(current_app.extensions["switchboard"].engine)
    click.echo("database is up to date")


@cli.command()
@click.argument("vendor", type=click.Choice(sorted(VENDORS)))
@click.option("--type", "type_", default=None, help="event type, e.g. message.delivered")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True,
              help="the running Switchboard to post to")
@with_appcontext
def simulate(vendor: str, type_: str | None, url: str) -> None:
    """Send a sample callback, proven exactly as the provider would, and print the answer."""
    settings = current_app.extensions["switchboard"].settings
    secrets = settings.secrets_for(vendor)
    if not secrets:
        raise click.UsageError(f"{vendor} is not configured: set "
                               f"{vendor_variable(VENDORS[vendor])}")
    sample = VENDORS[vendor].sample(type_, secrets, clock.now())
    target = url.rstrip("/") + sample.path + (f"?{sample.query_string}"
                                              if sample.query_string else "")
    try:
        answer = requests.request(sample.method, target, data=sample.body,
                                  headers=sample.headers, timeout=10)
    except requests.RequestException as exc:
        raise click.ClickException(f"could not reach {url}: {exc}") from None
    shown = sample.path
    for secret in secrets:  # a URL token is a secret: never printed
        shown = shown.replace(secret, "<token>")
    click.echo(f"{sample.method} {shown} -> {answer.status_code}")
    try:
        click.echo(json.dumps(answer.json(), indent=2))
    except ValueError:
        click.echo(answer.text)
    if answer.status_code >= 400:
        sys.exit(1)


cli.add_command(subscriptions_commands.subscriptions)
cli.add_command(admin_commands.events)
cli.add_command(admin_commands.deliveries)
cli.add_command(worker_commands.worker)
cli.add_command(worker_commands.serve)
cli.add_command(replay_commands.replay_command)
cli.add_command(purge_commands.purge_command)
cli.add_command(stats_commands.stats)


def main() -> None:
    try:
        cli.main(prog_name="switchboard", obj=ScriptInfo(create_app=_create_app))
    except ConfigError as exc:
        click.echo(f"switchboard: configuration error: {exc}", err=True)
        sys.exit(2)

