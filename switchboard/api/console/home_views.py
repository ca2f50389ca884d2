"""The console's home page: the last 24 hours as charts with their numbers beside them."""

from __future__ import annotations

from flask import render_template

from switchboard import clock
from switchboard.api.console import auth
from switchboard.api.console.charts import stacked_bars
from switchboard.api.console.views import _state, bp
from switchboard.operations.overview import overview


@bp.route("/")
@auth.required
def home():
    with _state().engine.connect() as conn:
        shown = overview(conn, clock.now())
    hours = shown["hours"]
    charts = [
        ("callbacks", "Callbacks stored per vendor per hour",
         stacked_bars("Callbacks stored per vendor per hour, last 24 hours", hours,
                      shown["callbacks"]), shown["callbacks"]),
        ("failed", "Failed receipts (proved, did not parse) per hour",
         stacked_bars("Failed receipts per vendor per hour, last 24 hours", hours,
                      shown["failed_receipts"]), shown["failed_receipts"]),
        ("deliveries", "Deliveries by outcome, by the hour they were owed",
         stacked_bars("Deliveries by outcome per hour, last 24 hours", hours,
                      shown["deliveries"]), shown["deliveries"]),
    ]
    return render_template("console/home.html", o=shown, charts=charts)
