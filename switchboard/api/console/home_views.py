"""The console's home page: the last 24 hours as charts with their numbers beside them."""

from __future__ import annotations

from flask import render_template

from switchboard import clock
from switchboard.api.console import auth
from switchboard.api.console.charts import bars, stacked_bars
from switchboard.api.console.display import age
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
        ("dead-letters", "Dead letters: deliveries that died, by the hour they died",
         stacked_bars("Dead letters per hour, last 24 hours", hours,
                      {"dead": shown["dead_hourly"]}), {"dead": shown["dead_hourly"]}),
    ]
    lag_chart = bars("Worker lag per hour (the longest a delivery owed that hour waited for "
                     "its first attempt), last 24 hours", hours, "worker lag",
                     shown["worker_lag_hourly"], age)
    return render_template("console/home.html", o=shown, charts=charts, lag_chart=lag_chart)
