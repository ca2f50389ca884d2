"""Make README's console screenshots from a seeded database, so they can be made again after
any change to a page:

    python scripts/screenshots.py            # writes docs/screenshots/*.png
    python scripts/screenshots.py --out /tmp/shots

It builds a fresh SQLite database in a temporary folder and fills it the way production
does: a day of signed callbacks from every vendor (their own sample shapes, through the
real webhook endpoints), one message's whole life including a late and a conflicting
receipt, a receipt that proved itself but did not parse, and two subscriptions delivered
to by the real worker through a local HTTP subscriber that fails some of the time (one
subscription always, so it has dead letters). The clock is fixed at 2026-11-22 12:40 UTC, so
the pages read the same every time. Then headless Chromium (Playwright) signs in and
photographs each page. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets as random_secrets
import shutil
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from werkzeug.serving import make_server  # noqa: E402

from switchboard import clock  # noqa: E402
from switchboard.app import create_app  # noqa: E402
from switchboard.config import load_settings  # noqa: E402
from switchboard.models.migrate import upgrade  # noqa: E402
from switchboard.operations import subscriptions as subs  # noqa: E402
from switchboard.store.db import make_engine  # noqa: E402
from switchboard.vendors import honkio  # noqa: E402
from switchboard.vendors.registry import VENDORS  # noqa: E402
from switchboard.worker.runner import Worker  # noqa: E402

NOW = datetime(2026, 11, 22, 12, 40, tzinfo=UTC)
TOKEN = "adm_" + random_secrets.token_hex(12)  # this run only
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Callbacks an hour per vendor: a working day's shape, busiest mid-morning.
TRAFFIC = [2, 1, 1, 1, 2, 3, 5, 8, 12, 14, 13, 11, 10, 9, 9, 8, 7, 6, 5, 4, 4, 3, 3, 2]
TYPES = ["message.delivered"] * 6 + ["message.sent"] * 3 + ["message.failed"]
LONG = {"events", "dead-letters", "subscription-health"}
PAGES = [("home", "/console/"), ("events", "/console/events"),
         ("subscriptions", "/console/subscriptions"), ("dead-letters", "/console/deliveries")]


class Clock:
    def __init__(self) -> None:
        self.moment = NOW

    def __call__(self) -> datetime:
        return self.moment


class Subscriber:
    """Answers 200, except 500 to one in six and always 503 on /down."""

    def __init__(self) -> None:
        rng = random.Random(7)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                down = self.path.endswith("/down") or rng.random() < 1 / 6
                status, body = (503, b"upstream unavailable") if down else (200, b'{"ok":true}')
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def settings_for(database_url: str):
    overrides = {"database_url": database_url, "admin_token": TOKEN,
                 "allow_private_urls": True, "retry_schedule": (0, 60, 300)}
    overrides["vendor_secrets"] = {name: (f"{name}-{random_secrets.token_hex(8)}",)
                                   for name in VENDORS}
    return load_settings(environ={}, overrides=overrides)


def post(client, sample) -> None:
    client.open(sample.path, method=sample.method, data=sample.body, headers=sample.headers,
                query_string=sample.query_string or None)


def honkio_receipt(client, settings, message_id: str, status: str) -> None:
    """A HonkIO receipt for one chosen message, signed as HonkIO signs."""
    body = json.dumps({"id": f"evt_{random_secrets.token_hex(8)}", "type": f"message.{status}",
                       "created": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "account_id": "acc_01HXYZ4B5C6D7E8F9G0H1J2K3L",
                       "data": {"message_id": message_id, "to": "+447700900123",
                                "status": status}}).encode()
    stamp = str(int(clock.now().timestamp()))
    client.post("/webhooks/honkio", data=body, headers={
        "Content-Type": "application/json", honkio.EVENT: f"message.{status}",
        honkio.TIMESTAMP: stamp,
        honkio.SIGNATURE: honkio.sign(settings.secrets_for("honkio")[0], stamp, body)})


def seed(app, settings, moment: Clock, subscriber: Subscriber) -> dict:
    engine = app.extensions["switchboard"].engine
    client = app.test_client()
    rng = random.Random(21)
    moment.moment = NOW - timedelta(hours=25)
    with engine.begin() as conn:
        billing, _ = subs.create(conn, settings, clock.now(), url=f"{subscriber.url}/billing",
                                 event_types=["message.*"], description="billing: charge "
                                 "for delivered messages")
        subs.create(conn, settings, clock.now(), url=f"{subscriber.url}/down",
                    event_types=["message.failed"], vendors=["honkio", "canary"],
                    description="support alerts (its server is down)")
    worker = Worker(engine, settings, concurrency=4, poll_interval=0.02)
    try:
        for hour, per_vendor in enumerate(TRAFFIC):
            start = NOW - timedelta(hours=24 - hour)
            for vendor in sorted(VENDORS):
                for _ in range(max(1, per_vendor * rng.randint(5, 12) // 10)):
                    moment.moment = start + timedelta(seconds=rng.randint(0, 1799))
                    type_ = rng.choice(TYPES) if vendor != "phonify" else None
                    try:
                        sample = VENDORS[vendor].sample(type_, settings.secrets_for(vendor),
                                                        clock.now())
                    except ValueError:
                        sample = VENDORS[vendor].sample(None, settings.secrets_for(vendor),
                                                        clock.now())
                    post(client, sample)
            moment.moment = start + timedelta(minutes=30)  # before the next hour's
            while worker.run_once():
                pass
        life = "msg_01JDSCREENSHOTLIFE0000000"
        for status, minutes in (("accepted", 28), ("sent", 27), ("delivered", 25),
                                ("sent", 22), ("failed", 15)):
            moment.moment = NOW - timedelta(minutes=minutes)
            honkio_receipt(client, settings, life, status)
        moment.moment = NOW - timedelta(minutes=12)
        broken = json.dumps({"id": "evt_broken", "type": "message.delivered"}).encode()
        stamp = str(int(clock.now().timestamp()))
        client.post("/webhooks/honkio", data=broken, headers={
            "Content-Type": "application/json", honkio.EVENT: "message.delivered",
            honkio.TIMESTAMP: stamp,
            honkio.SIGNATURE: honkio.sign(settings.secrets_for("honkio")[0], stamp, broken)})
        for minutes in (10, 4, 0):  # retries come due; the last round is this minute
            moment.moment = NOW - timedelta(minutes=minutes)
            while worker.run_once():
                pass
    finally:
        worker.close()
    moment.moment = NOW
    return {"subscription": billing["id"], "message": life}


def photograph(base: str, out: Path, seeded: dict) -> None:
    from playwright.sync_api import sync_playwright

    pages = PAGES + [
        ("subscription-health", f"/console/subscriptions/{seeded['subscription']}"),
        ("message-timeline", f"/console/messages/honkio/{seeded['message']}"),
        ("search", "/console/search?q=%2B44+7700+900123")]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(f"{base}/console/login")
        page.get_by_label("Admin token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        for name, path in pages:
            page.goto(base + path)
            # Long lists: the first screenful says it all and keeps the images small.
            page.screenshot(path=str(out / f"{name}.png"), full_page=name not in LONG)
            print(f"{out / name}.png", file=sys.stderr)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    moment = Clock()
    clock.now = moment
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite:///{Path(workdir) / 'screenshots.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        settings = settings_for(url)
        app = create_app(settings=settings)
        subscriber = Subscriber()
        try:
            seeded = seed(app, settings, moment, subscriber)
            server = make_server("127.0.0.1", 0, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            try:
                photograph(f"http://127.0.0.1:{server.server_port}", options.out, seeded)
            finally:
                server.shutdown()
        finally:
            subscriber.server.shutdown()
            app.extensions["switchboard"].engine.dispose()


if __name__ == "__main__":
    main()
