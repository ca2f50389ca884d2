"""Console: the provider scorecard, with its delivery rates as a bar chart drawn on the
server (SVG in the page: no script, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, render_template, request

from switchboard import clock
from switchboard.api.console import auth, refusals
from switchboard.api.console.views import bp
from switchboard.operations.stats import StatsFilter, provider_stats

# The chart's geometry, in SVG user units.
LABEL_WIDTH, BAR_SPACE, RATE_WIDTH = 190, 420, 70
BAR_HEIGHT, GAP = 18, 8


@dataclass(frozen=True)
class Bar:
    label: str
    vendor: str
    country: str
    rate: float | None
    y: int
    width: float  # 0 without a rate

    @property
    def rate_text(self) -> str:
        return "no outcome yet" if self.rate is None else f"{self.rate * 100:.1f}%"


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    label_width: int = LABEL_WIDTH
    bar_space: int = BAR_SPACE
    bar_height: int = BAR_HEIGHT

    @property
    def width(self) -> int:
        return LABEL_WIDTH + BAR_SPACE + RATE_WIDTH

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * (BAR_HEIGHT + GAP)


def rate_chart(rows: list[dict]) -> Chart:
    """One bar per vendor and country, as long as its delivery rate is of the full width."""
    bars = []
    for index, row in enumerate(rows):
        country = row["country"] or "unknown country"
        rate = row["delivery_rate"]
        bars.append(Bar(label=f"{row['vendor']} · {country}", vendor=row["vendor"],
                        country=row["country"] or "", rate=rate, y=index * (BAR_HEIGHT + GAP),
                        width=round((rate or 0) * BAR_SPACE, 1)))
    return Chart(bars)


def _stats_page(answer: dict, error: str | None = None) -> str:
    return render_template("console/stats.html", answer=answer,
                           chart=rate_chart(answer["providers"]), args=request.args,
                           error=error)


@bp.route("/stats")
@auth.required
@refusals.page(lambda error: _stats_page({"since": None, "until": None, "providers": []},
                                         error))
def stats():
    where = StatsFilter.parse({k: v for k, v in request.args.items() if v}, clock.now())
    with current_app.extensions["switchboard"].engine.connect() as conn:
        answer = provider_stats(conn, where)
    return _stats_page(answer)
