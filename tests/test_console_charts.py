"""The home page's charts as Chromium draws them: a legend never overlaps itself or runs
past its chart, whatever the names and totals (five providers once did both)."""

from __future__ import annotations

from datetime import timedelta

from switchboard.api.console.charts import stacked_bars
from tests.conftest import FROZEN_AT
from tests.test_console import CHROMIUM, need_chromium

# Each legend item's box, and the chart's, as the browser laid them out.
BOXES = """() => {
  const svg = document.querySelector('svg.chart');
  const frame = svg.getBoundingClientRect();
  const items = [...svg.querySelectorAll('rect:not(.bar) + text')].map((t) => {
    const swatch = t.previousElementSibling.getBoundingClientRect();
    const text = t.getBoundingClientRect();
    return {left: swatch.left, right: text.right, top: Math.min(swatch.top, text.top),
            bottom: Math.max(swatch.bottom, text.bottom), label: t.textContent};
  });
  return {frame: {left: frame.left, right: frame.right, top: frame.top,
                  bottom: frame.bottom}, items};
}"""


def _overlap(a: dict, b: dict) -> bool:
    return (a["left"] < b["right"] and b["left"] < a["right"]
            and a["top"] < b["bottom"] and b["top"] < a["bottom"])


def _laid_out(series: dict[str, list[int]]) -> dict:
    from playwright.sync_api import sync_playwright

    hours = [FROZEN_AT - timedelta(hours=23 - i) for i in range(24)]
    svg = stacked_bars("Callbacks per vendor", hours, series)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.set_content(f"<!doctype html><html><body>{svg}</body></html>")
        boxes = page.evaluate(BOXES)
        browser.close()
    return boxes


def test_legend_items_stay_apart_and_inside_the_chart():
    need_chromium()
    series = {name: [total // 24] * 23 + [total - 23 * (total // 24)]
              for name, total in [("boomware", 111_111), ("canary", 222_222),
                                  ("honkio", 333_333), ("phonify", 444_444),
                                  ("transmitsms", 555_555), ("message.receipt_overdue", 9)]}
    laid = _laid_out(series)
    items, frame = laid["items"], laid["frame"]
    assert [i["label"] for i in items] == [f"{n} ({sum(v)})" for n, v in series.items()]
    for item in items:
        assert frame["left"] <= item["left"] and item["right"] <= frame["right"], item
        assert frame["top"] <= item["top"] and item["bottom"] <= frame["bottom"], item
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            assert not _overlap(a, b), (a["label"], b["label"])
    assert len({round(i["top"]) for i in items}) > 1  # it had to wrap to fit


def test_a_short_legend_keeps_one_row():
    need_chromium()
    laid = _laid_out({"succeeded": [1] * 24, "dead": [0] * 24})
    assert len({round(i["top"]) for i in laid["items"]}) == 1
    assert laid["items"][0]["right"] < laid["items"][1]["left"]
