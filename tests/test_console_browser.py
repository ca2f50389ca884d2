"""The operator's cockpit in a real browser (Debian's Chromium through Playwright): home,
create a subscription and see its secret once, send it a test event that the worker
delivers, its health page, search by phone number, a message's timeline, rotate, disable,
delete (rotate and delete only once their confirm() is accepted, on the list and the health
page alike); and on every page, every input labelled and every action a real button or link."""

from __future__ import annotations

import re

from switchboard.worker.runner import Worker
from tests.callbacks import send_honkio
from tests.test_console import (  # noqa: F401 - fixtures used by name
    CHROMIUM,
    TOKEN,
    console_app,
    live_console,
    need_chromium,
)

# Every visible form control has a label (a <label>, aria-label or aria-labelledby); every
# button says what it does; every link goes somewhere; nothing acts through onclick.
UNLABELLED = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label')
        && !el.getAttribute('aria-labelledby')) bad.push('unlabelled ' + el.outerHTML);
  }
  for (const b of document.querySelectorAll('button'))
    if (!b.textContent.trim()) bad.push('empty button ' + b.outerHTML);
  for (const a of document.querySelectorAll('a'))
    if (!a.getAttribute('href')) bad.push('link without href ' + a.outerHTML);
  for (const el of document.querySelectorAll('[onclick]')) bad.push('onclick ' + el.tagName);
  for (const svg of document.querySelectorAll('svg'))
    if (!svg.querySelector('title')) bad.push('svg without title');
  return bad;
}"""


def accessible(page) -> None:
    assert page.evaluate(UNLABELLED) == [], page.url


def test_browser_cockpit(live_console, subscriber, frozen_clock):  # noqa: F811 - the fixture
    need_chromium()
    from playwright.sync_api import sync_playwright

    base, app = live_console
    state = app.extensions["switchboard"]
    (event_id,) = send_honkio(app.test_client(), "delivered", message_id="msg_browser")
    frozen_clock.advance(1)  # the subscription made below is younger: it is owed only its test
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        asked, confirming = [], {"accept": True}

        def answer(dialog):
            asked.append(dialog.message)
            dialog.accept() if confirming["accept"] else dialog.dismiss()

        page.on("dialog", answer)
        page.goto(f"{base}/console/login")
        accessible(page)
        page.get_by_label("Admin token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        assert page.url == f"{base}/console/"
        assert page.locator("svg.chart").count() == 5  # and worker lag, dead letters
        assert page.locator("#chart-worker-lag .lag-max").inner_text() == "0 s"
        assert page.locator("#chart-dead-letters .total").inner_text() == "0"
        assert page.locator("#chart-callbacks .total").first.inner_text() == "1"
        accessible(page)

        page.get_by_role("link", name="Subscriptions").click()
        page.get_by_label("URL").fill(subscriber.url)
        page.get_by_label("Event types", exact=False).fill("message.*")
        page.get_by_label("honkio").check()
        page.get_by_label("Description").fill("billing")
        page.get_by_role("button", name="Add subscription").click()
        secret = page.locator("#new-secret code").inner_text()
        assert secret.startswith("whsec_")
        accessible(page)
        page.get_by_role("link", name="Subscriptions").click()
        assert secret not in page.content()

        page.get_by_role("button", name="Send test event").click()
        assert "/console/subscriptions/sub_" in page.url
        assert "Test event" in page.locator(".flash").inner_text()
        worker = Worker(state.engine, state.settings, concurrency=1, poll_interval=0.02)
        try:
            assert worker.run_once() == 1
        finally:
            worker.close()
        page.reload()
        attempt = page.locator("tr.attempt")
        assert attempt.count() == 1 and "switchboard.test" in attempt.inner_text()
        assert "200" in attempt.inner_text() and page.locator("#succeeded").count() == 1
        assert page.locator("#success-rate").inner_text() == "100.0 %"
        accessible(page)

        page.get_by_label("Search by event id, message id or phone number").fill(
            "+1 (613) 555-0199")
        page.get_by_role("button", name="Search", exact=True).click()
        assert page.locator("#found-phone").inner_text() == "+16135550199"
        accessible(page)
        page.get_by_role("link", name=event_id).click()
        accessible(page)
        page.locator("#timeline").click()
        assert page.url == f"{base}/console/messages/honkio/msg_browser"
        assert page.locator("#message-status").inner_text() == "delivered"
        assert re.search(r"\d+ (s|min|h|d)", page.locator(".age").first.inner_text())
        accessible(page)

        for path in ("/console/events", "/console/deliveries", "/console/replay"):
            page.goto(base + path)
            accessible(page)

        page.get_by_role("link", name="Subscriptions").click()
        page.get_by_role("button", name="Rotate secret").click()
        rotated = page.locator("#new-secret code").inner_text()
        assert asked == ["Rotate the secret? The old one keeps signing for 24 hours."]
        assert rotated.startswith("whsec_") and rotated != secret
        page.get_by_role("button", name="Disable").click()
        assert page.locator(".sub-state").inner_text().startswith("disabled")
        page.get_by_role("button", name="Enable").click()
        assert page.locator(".sub-state").inner_text() == "active"
        # From the health page: dismissed, nothing is sent; accepted, the subscription goes.
        page.locator("tr.subscription a").first.click()
        health = page.url
        confirming["accept"] = False
        page.get_by_role("button", name="Delete").click()
        assert asked[-1] == "Delete this subscription? It is never sent to again."
        page.goto(health)
        assert page.locator(".sub-state").inner_text() == "active"
        confirming["accept"] = True
        page.get_by_role("button", name="Delete").click()
        assert page.locator(".sub-state").inner_text() == "deleted"
        assert len(asked) == 3
        page.get_by_role("link", name="Subscriptions").click()
        assert page.locator("tr.subscription").count() == 0
        browser.close()
