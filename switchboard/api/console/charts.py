"""Charts drawn on the server as SVG: no script, no CDN, readable by a screen reader
through their <title> and the table of the same numbers printed beside each one."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 560, 160, 36, 18, 8
LEGEND_ROW, LEGEND_CHAR = 14, 6.6
# One colour per outcome, the same on every chart: green is good, red is bad.
COLOURS = {"succeeded": "#1b7a3a", "failed": "#d97706", "dead": "#b3261e",
           "pending": "#6b7280", "cancelled": "#9ca3af", "retry": "#d97706"}
PALETTE = ("#2563eb", "#7c3aed", "#0891b2", "#ca8a04", "#db2777", "#4b5563")


def colour(name: str, index: int) -> str:
    return COLOURS.get(name, PALETTE[index % len(PALETTE)])


def stacked_bars(title: str, hours: list[datetime], series: dict[str, list[int]]) -> Markup:
    """One bar per hour, stacked by series, with a legend; the y axis tops at the largest
    hour (at least 1), labelled."""
    names = list(series)
    totals = [sum(series[n][i] for n in names) for i in range(len(hours))]
    top = max(totals + [1])
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(hours), 1)
    legend, rows = _legend(names, series)
    tall = HEIGHT + 4 + LEGEND_ROW * rows
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {tall}" '
             f'width="{WIDTH}" height="{tall}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 4}" y2="{TOP + plot_h}" '
             'stroke="#9ca3af"/>',
             f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10">{top}</text>',
             f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" font-size="10">0</text>']
    for i, hour in enumerate(hours):
        x = LEFT + i * slot + 1
        y = TOP + plot_h
        for k, name in enumerate(names):
            count = series[name][i]
            if not count:
                continue
            height = plot_h * count / top
            y -= height
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot - 2:.1f}" '
                         f'height="{height:.1f}" fill="{colour(name, k)}">'
                         f"<title>{hour:%H}:00 UTC {escape(name)}: {count}</title></rect>")
        if i % 6 == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT}" font-size="10">{hour:%H}:00</text>')
    parts += legend
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it went through escape()


def _legend(names: list[str], series: dict[str, list[int]]) -> tuple[list[str], int]:
    """A swatch and `name (total)` per series, left to right, wrapping to a new row before an
    item would pass the right edge; returns the parts and the number of rows. SVG lays out
    no text, so each item is given the width its label would take at the widest glyphs of
    10px sans-serif (digits, most lower case) plus a gap."""
    parts, x, row = [], LEFT, 0
    for k, name in enumerate(names):
        label = f"{name} ({sum(series[name])})"
        width = 14 + LEGEND_CHAR * len(label) + 10
        if x > LEFT and x + width > WIDTH:
            x, row = LEFT, row + 1
        y = HEIGHT + 6 + LEGEND_ROW * row
        parts.append(f'<rect x="{x:.0f}" y="{y}" width="10" height="10" '
                     f'fill="{colour(name, k)}"/><text class="legend" x="{x + 14:.0f}" '
                     f'y="{y + 9}" font-size="10">{escape(label)}</text>')
        x += width
    return parts, row + 1 if names else 0


def bars(title: str, hours: list[datetime], name: str, values: list[float],
         label=str) -> Markup:
    """One bar per hour for a single measure (not a count: seconds, say), each bar's title
    the hour and `label(value)`; the y axis tops at the largest hour, labelled the same."""
    top = max(values + [0]) or 1
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(hours), 1)
    fill = colour(name, 0)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>",
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 4}" y2="{TOP + plot_h}" '
             'stroke="#9ca3af"/>',
             f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10">'
             f"{escape(label(top) if max(values + [0]) else '')}</text>",
             f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" font-size="10">0</text>']
    for i, hour in enumerate(hours):
        x = LEFT + i * slot + 1
        if values[i]:
            height = plot_h * values[i] / top
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
                         f'width="{slot - 2:.1f}" height="{height:.1f}" fill="{fill}">'
                         f"<title>{hour:%H}:00 UTC {escape(name)}: "
                         f"{escape(label(values[i]))}</title></rect>")
        if i % 6 == 0:
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT}" font-size="10">{hour:%H}:00</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it went through escape()
