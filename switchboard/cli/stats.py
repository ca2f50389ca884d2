"""`switchboard stats providers`: the provider scorecard as a table."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from switchboard import clock
from switchboard.operations import stats as admin_stats
from switchboard.operations.common import OperationError, parse_time
from switchboard.operations.retention import parse_duration

COLUMNS = ("vendor", "country", "messages", "delivered", "failed", "pending", "overdue",
           "rate", "p50", "p95", "reasons")


def _moment(value: str | None, name: str, now) -> str | None:
    """`7d` (that long ago) or an ISO 8601 time, as the API takes it."""
    if value is None:
        return None
    try:
        return (now - parse_duration(value)).isoformat()
    except OverflowError:  # further back than year 1
        raise click.BadParameter(f"{value!r} reaches back before the year 1",
                                 param_hint=f"--{name}") from None
    except ValueError:
        return parse_time(value, name).isoformat()


@click.group("stats")
def stats() -> None:
    """What the stored receipts say about the providers."""


@stats.command("providers")
@click.option("--since", help="first receipt at or after: a duration back (7d, 12h) or an "
              "ISO 8601 time; default 7d")
@click.option("--until", help="first receipt before (a duration back or ISO 8601); default now")
@click.option("--vendor")
@click.option("--country", help="ISO 3166 alpha-2, e.g. CA")
@click.option("--json", "as_json", is_flag=True, help="the API's JSON answer instead")
@with_appcontext
def providers(since, until, vendor, country, as_json) -> None:
    """Per vendor and country: messages, delivered, failed, pending, overdue, delivery rate,
    time to deliver (p50, p95) and failure reasons."""
    now = clock.now()
    try:
        args = {"since": _moment(since, "since", now), "until": _moment(until, "until", now),
                "vendor": vendor, "country": country}
        where = admin_stats.StatsFilter.parse({k: v for k, v in args.items() if v}, now)
        with current_app.extensions["switchboard"].engine.connect() as conn:
            answer = admin_stats.provider_stats(conn, where)
    except OperationError as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from None
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    table = [COLUMNS] + [_cells(row) for row in answer["providers"]]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                       strict=True)).rstrip())


def _cells(row: dict) -> tuple[str, ...]:
    rate, times = row["delivery_rate"], row["time_to_deliver_seconds"]
    return (row["vendor"], row["country"] or "-", str(row["messages"]), str(row["delivered"]),
            str(row["failed"]), str(row["pending"]), str(row["overdue"]),
            "-" if rate is None else f"{rate * 100:.1f}%", _duration(times["p50"]),
            _duration(times["p95"]),
            ",".join(f"{k}={v}" for k, v in row["reasons"].items()) or "-")


def _duration(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:g}s"
