"""The console: sign-in, CSRF on every form, and a real browser (Debian's Chromium driven by
Playwright) filtering to one event, opening it, replaying it and seeing the new delivery."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from switchboard import clock
from switchboard.app import create_app
from switchboard.operations import subscriptions as subs
from switchboard.worker.runner import Worker
from tests.callbacks import send_honkio
from tests.conftest import expand_owed, rows
from tests.subscriber import Subscriber

TOKEN = "adm_console_test_token"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def console_app(settings):
    app = create_app(settings=dataclasses.replace(settings, admin_token=TOKEN))
    yield app
    app.extensions["switchboard"].engine.dispose()


def csrf_of(page_html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page_html).group(1)


def test_pages_need_sign_in(console_app):
    client = console_app.test_client()
    for path in ("/console/", "/console/deliveries", "/console/subscriptions",
                 "/console/replay"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/console/login" in answer.location
    wrong = client.post("/console/login", data={"token": "nope"})
    assert wrong.status_code == 401
    assert client.get("/console/").status_code == 302


def test_console_off_without_a_token(settings):
    app = create_app(settings=settings)
    answer = app.test_client().get("/console/login")
    assert answer.status_code == 503 and "SWITCHBOARD_ADMIN_TOKEN" in answer.get_json()[
        "error"]["message"]


def test_forms_refuse_a_missing_or_wrong_csrf_token(console_app, frozen_clock):
    client = console_app.test_client()
    send_honkio(client)
    client.post("/console/login", data={"token": TOKEN})
    page = client.get("/console/replay").get_data(as_text=True)
    body = {"vendor": "honkio", "dry_run": "on"}
    assert client.post("/console/replay", data=body).status_code == 400
    assert client.post("/console/replay", data=body | {"csrf": "forged"}).status_code == 400
    ok = client.post("/console/replay", data=body | {"csrf": csrf_of(page)})
    assert ok.status_code == 200 and "would replay" in ok.get_data(as_text=True)


def test_changing_the_admin_token_signs_sessions_out(console_app, settings):
    client = console_app.test_client()
    client.post("/console/login", data={"token": TOKEN})
    assert client.get("/console/").status_code == 200
    console_app.extensions["switchboard"].settings = dataclasses.replace(
        settings, admin_token="a_new_console_token")
    assert client.get("/console/").status_code == 302


COOKIE = "switchboard_console"


def signed_in_client(app):
    client = app.test_client()
    assert client.post("/console/login", data={"token": TOKEN}).status_code == 302
    return client


def test_sign_out_ends_the_session_for_good_in_every_process(console_app, settings,
                                                             frozen_clock):
    # Another web process on the same database: nothing kept in one process's memory.
    other = create_app(settings=dataclasses.replace(settings, admin_token=TOKEN))
    try:
        client = signed_in_client(console_app)
        copied = client.get_cookie(COOKIE, path="/console").value
        thief = other.test_client()
        thief.set_cookie(COOKIE, copied, path="/console")
        assert thief.get("/console/").status_code == 200
        csrf = csrf_of(client.get("/console/replay").get_data(as_text=True))
        assert client.post("/console/logout", data={"csrf": csrf}).status_code == 302
        assert client.get("/console/").status_code == 302
        for app in (console_app, other):
            replayed = app.test_client()
            replayed.set_cookie(COOKIE, copied, path="/console")
            answer = replayed.get("/console/")
            assert answer.status_code == 302 and "/console/login" in answer.location
        # Signing in again is a new session, not the old one brought back.
        again = signed_in_client(other)
        assert again.get_cookie(COOKIE, path="/console").value != copied
        assert thief.get("/console/").status_code == 302
    finally:
        other.extensions["switchboard"].engine.dispose()


def test_a_session_lasts_twelve_hours_at_most(console_app, frozen_clock):
    assert console_app.permanent_session_lifetime.total_seconds() == 12 * 3600
    client = signed_in_client(console_app)
    copied = client.get_cookie(COOKIE, path="/console").value
    frozen_clock.advance(12 * 3600 - 1)
    assert client.get("/console/").status_code == 200  # in use all along: still ends
    frozen_clock.advance(1)
    answer = client.get("/console/")
    assert answer.status_code == 302 and "/console/login" in answer.location
    kept = console_app.test_client()  # the cookie as it was, whatever a browser did
    kept.set_cookie(COOKIE, copied, path="/console")
    assert kept.get("/console/").status_code == 302
    assert signed_in_client(console_app).get("/console/").status_code == 200


def test_the_cookie_is_secure_over_https_only(console_app):
    over_https = console_app.test_client().post("/console/login", data={"token": TOKEN},
                                                base_url="https://localhost")
    assert "; Secure" in over_https.headers["Set-Cookie"]
    over_http = console_app.test_client().post("/console/login", data={"token": TOKEN})
    cookie = over_http.headers["Set-Cookie"]
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_console_pages_cannot_be_framed(console_app):
    client = console_app.test_client()
    answers = [client.get("/console/login"), client.get("/console/"),
               client.post("/console/login", data={"token": TOKEN}),
               client.get("/console/"), client.get("/console/subscriptions"),
               client.get("/console/static/console.css")]
    for answer in answers:
        assert answer.headers["X-Frame-Options"] == "DENY", answer.request.path
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_login_never_redirects_off_site(console_app):
    answer = console_app.test_client().post("/console/login?next=//evil.example/x",
                                            data={"token": TOKEN})
    assert answer.status_code == 302 and answer.location.endswith("/console/")


@pytest.mark.parametrize("next_", ["/console/%0d%0aX", "/console/%0aSet-Cookie:x=1",
                                   "/console/%09x", "/console/%7fx"])
def test_login_with_a_control_character_in_next_lands_on_the_console(console_app, next_):
    """A line break in `next` would reach the Location header (503 from werkzeug)."""
    answer = console_app.test_client().post(f"/console/login?next={next_}",
                                            data={"token": TOKEN})
    assert answer.status_code == 302 and answer.location.endswith("/console/")


@pytest.mark.parametrize("back, lands_on", [
    ("https://evil.example/x", "/console/deliveries"),
    ("//evil.example/x", "/console/deliveries"),
    ("/\\evil.example/x", "/console/deliveries"),
    ("/consolex.example", "/console/deliveries"),
    ("/console/events/evt_x", "/console/events/evt_x"),
])
def test_retry_never_redirects_off_site(console_app, back, lands_on):
    client = console_app.test_client()
    client.post("/console/login", data={"token": TOKEN})
    csrf = csrf_of(client.get("/console/replay").get_data(as_text=True))
    answer = client.post("/console/deliveries/dlv_nope/retry", data={"csrf": csrf,
                                                                   "back": back})
    assert answer.status_code == 302 and answer.location == lands_on


def test_dead_letter_retry_button_queues_it_again(console_app, frozen_clock):
    state = console_app.extensions["switchboard"]
    client = console_app.test_client()
    subscriber = Subscriber().start()
    worker = Worker(state.engine, dataclasses.replace(state.settings, retry_schedule=(0, 1)),
                    concurrency=1, poll_interval=0.02)
    try:
        with state.engine.begin() as conn:
            subs.create(conn, state.settings, clock.now(), url=subscriber.url,
                        event_types=["*"])
        subscriber.default = (500, {}, b"down")
        send_honkio(client)
        for _ in range(2):  # retry_schedule (0, 1): two attempts, then dead
            assert worker.run_once() == 1
            frozen_clock.advance(2)
        (dead,) = rows(state.engine, "SELECT * FROM deliveries")
        assert dead["state"] == "dead"
        client.post("/console/login", data={"token": TOKEN})
        page = client.get("/console/deliveries").get_data(as_text=True)
        form = re.search(r'<form[^>]*action="([^"]+/retry)"(.*?)</form>', page, re.S)
        assert form.group(1) == f"/console/deliveries/{dead['id']}/retry"
        back = re.search(r'name="back" value="([^"]+)"', form.group(2)).group(1)
        answer = client.post(form.group(1), data={"csrf": csrf_of(form.group(2)),
                                                  "back": back.replace("&amp;", "&")})
        assert answer.status_code == 302 and answer.location == "/console/deliveries?state=dead"
        assert "is queued again" in client.get(answer.location).get_data(as_text=True)
        (again,) = rows(state.engine, "SELECT * FROM deliveries")
        assert (again["state"], again["attempts"]) == ("pending", 0)
        subscriber.default = (200, {}, b"ok")
        assert worker.run_once() == 1
        assert rows(state.engine, "SELECT * FROM deliveries")[0]["state"] == "succeeded"
    finally:
        worker.close()
        subscriber.stop()


def test_ci_fails_rather_than_skips_without_chromium(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("SWITCHBOARD_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="SWITCHBOARD_REQUIRE_BROWSER"):
        need_chromium()
    monkeypatch.delenv("SWITCHBOARD_REQUIRE_BROWSER")
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        need_chromium()


@pytest.fixture
def live_console(console_app):
    server = make_server("127.0.0.1", 0, console_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", console_app
    server.shutdown()


def need_chromium() -> None:
    """CI (`.ci/run` sets SWITCHBOARD_REQUIRE_BROWSER=1) fails without the browser, so a green
    run proves this test ran; a dev box that cannot install it skips, saying why."""
    if shutil.which("chromium") is not None:
        return
    reason = ("Debian's chromium is not installed and `make test` could not install it "
              "(needs root and apt-get)")
    if os.environ.get("SWITCHBOARD_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and SWITCHBOARD_REQUIRE_BROWSER=1 says this run must drive it")
    pytest.skip(reason)


def test_browser_filter_open_replay(live_console):
    need_chromium()
    from playwright.sync_api import sync_playwright

    base, app = live_console
    state = app.extensions["switchboard"]
    client = app.test_client()
    with state.engine.begin() as conn:
        subs.create(conn, state.settings, clock.now(), url="http://127.0.0.1:9/in",
                    event_types=["*"], description="billing")
    send_honkio(client, "sent", message_id="msg_other")
    (wanted,) = send_honkio(client, "delivered", message_id="msg_wanted")
    expand_owed(state.engine)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        page.goto(f"{base}/console/events")
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.fill("input[name=message_id]", "msg_wanted")
        page.click("text=Filter")
        rows = page.locator("tbody tr")
        assert rows.count() == 1
        page.click(f"text={wanted}")
        assert page.locator("#raw").inner_text().count("msg_wanted") == 1
        assert page.locator("tr.delivery").count() == 1
        page.click("button:has-text('Replay')")
        assert "Replayed 1 event(s) as 1 delivery" in page.locator("#replay-result").inner_text()
        page.goto(f"{base}/console/events/{wanted}")
        assert page.locator("tr.delivery").count() == 2
        assert page.locator("tr.delivery >> text=yes").count() == 1
        browser.close()
