"""A real HTTP subscriber on 127.0.0.1, in a thread of the test process."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    path: str = ""


class Subscriber:
    """Records every POST; answers from a queue of scripted replies, then the default."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[Received] = []
        self.replies: deque[tuple[int, dict[str, str], bytes]] = deque()
        self.default: tuple[int, dict[str, str], bytes] = (200, {}, b'{"ok": true}')
        self.delay = 0.0
        # Given each request as it arrives (under the lock): a reply of its own, or None for
        # the scripted one.
        self.answer = None
        self.lock = threading.Lock()
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the body waits for the
            # client's delayed ACK (40 ms a response).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with subscriber.lock:
                    arrived = Received(dict(self.headers.items()), body, time.monotonic(),
                                       self.path)
                    subscriber.received.append(arrived)
                    status, headers, reply = (
                        subscriber.answer and subscriber.answer(arrived)
                        or (subscriber.replies.popleft() if subscriber.replies
                            else subscriber.default))
                if subscriber.delay:
                    time.sleep(subscriber.delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def start(self) -> Subscriber:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reply(self, status: int, headers: dict[str, str] | None = None,
              body: bytes = b"") -> None:
        self.replies.append((status, headers or {}, body))

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"subscriber got {len(self.received)} of {count}")
            time.sleep(0.02)

    def webhook_ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]
