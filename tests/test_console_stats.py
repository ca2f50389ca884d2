"""The console's provider page: the scorecard and a bar chart of delivery rates drawn on the
server as SVG, seen in a real browser (Debian's Chromium through Playwright)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from switchboard import clock
from switchboard.api.console.stats import BAR_SPACE, rate_chart
from tests.conftest import SECRETS
from tests.signing import honkio_headers, sample_json
from tests.test_console import (  # noqa: F401 - fixtures used by name
    CHROMIUM,
    TOKEN,
    console_app,
    live_console,
    need_chromium,
)

TX = SECRETS["transmitsms"][0]


def transmit(client, message_id: str, status: str) -> None:
    query = urlencode({"message_id": message_id, "mobile": "61400000000",
                       "datetime": "2026-11-22 04:00:00", "status": status})
    assert client.get(f"/webhooks/transmitsms/{TX}", query_string=query).status_code == 200


def honkio_delivered(client, message_id: str) -> None:
    payload = sample_json("honkio-delivered.json")
    payload["id"] = f"evt_{message_id}"
    payload["data"]["message_id"] = message_id
    body = json.dumps(payload).encode()
    headers = honkio_headers(body, SECRETS["honkio"][0], int(clock.now().timestamp()))
    assert client.post("/webhooks/honkio", data=body, headers=headers).status_code == 200


def test_pages_need_sign_in(console_app):  # noqa: F811 - the imported fixture
    answer = console_app.test_client().get("/console/stats")
    assert answer.status_code == 302 and "/console/login" in answer.location


def test_a_bad_filter_is_said_on_the_page(console_app):  # noqa: F811
    client = console_app.test_client()
    client.post("/console/login", data={"token": TOKEN})
    answer = client.get("/console/stats?country=Canada")
    assert answer.status_code == 400  # the caller's mistake, as the admin API says it
    assert "country must be an ISO 3166 alpha-2 code" in answer.get_data(as_text=True)


def test_chart_bars_are_as_long_as_their_rates():
    rows = [{"vendor": "honkio", "country": "CA", "delivery_rate": 1.0},
            {"vendor": "transmitsms", "country": "AU", "delivery_rate": 0.75},
            {"vendor": "canary", "country": None, "delivery_rate": None}]
    chart = rate_chart(rows)
    assert [bar.width for bar in chart.bars] == [BAR_SPACE, 0.75 * BAR_SPACE, 0]
    assert [bar.rate_text for bar in chart.bars] == ["100.0%", "75.0%", "no outcome yet"]
    assert [bar.y for bar in chart.bars] == [0, 26, 52]
    assert chart.bars[2].label == "canary · unknown country"


def test_browser_shows_the_chart_and_filters_it(live_console, frozen_clock,  # noqa: F811
                                                tmp_path):
    need_chromium()
    from playwright.sync_api import sync_playwright

    base, app = live_console
    client = app.test_client()
    for n in range(3):
        transmit(client, f"t{n}", "delivered")
    transmit(client, "t3", "hard-bounce")
    honkio_delivered(client, "h1")
    frozen_clock.advance(1)  # the default window ends at now, exclusive
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1100, "height": 700})
        # Nothing but our own server is asked for anything: the chart needs no CDN.
        asked = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(f"{base}/console/stats")
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.click("text=Providers")
        bars = page.locator("svg#delivery-rates g.bar")
        assert bars.count() == 2
        widths = {bars.nth(i).get_attribute("data-vendor"):
                  bars.nth(i).locator("rect.rate").bounding_box()["width"] for i in range(2)}
        # As drawn: the Australian bar three quarters as long as the Canadian one.
        assert abs(widths["transmitsms"] / widths["honkio"] - 0.75) < 0.01
        assert page.locator("svg#delivery-rates text.value").all_text_contents() == [
            "100.0%", "75.0%"]
        table = page.locator("#scorecard tbody tr")
        assert table.count() == 2
        assert "invalid_number 1" in table.nth(1).inner_text()
        page.screenshot(path=str(tmp_path / "providers.png"), full_page=True)
        page.select_option("select[name=vendor]", "transmitsms")
        with page.expect_navigation():  # else the bars may be counted before the reload
            page.click("button:has-text('Show')")
        assert "vendor=transmitsms" in page.url
        assert page.locator("svg#delivery-rates g.bar").count() == 1
        assert page.locator("svg#delivery-rates g.bar").get_attribute("data-country") == "AU"
        browser.close()
    assert asked and all(url.startswith(base) for url in asked), asked
