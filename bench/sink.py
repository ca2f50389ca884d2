"""A fast local subscriber for the dispatch benchmark: asyncio, HTTP/1.1 keep-alive, 200 at
once. Records each delivery's arrival and the event's received_at, for latency.
GET /stats answers {"count", "unique", "first", "last", "latencies_ms"}, where "unique"
counts distinct (path, webhook-id) pairs: one per subscription (each has its own path) and
event, so count - unique is how many arrived twice; GET /reset forgets. Listens on
127.0.0.1 only.

    python bench/sink.py PORT [FAIL_EVERY]

With FAIL_EVERY (bench/ordering.py), every FAIL_EVERY-th POST is answered 500 unless its
event was refused once already; refused POSTs are counted apart ("refused") and are not in
"count". "sequences" lists the `sequence` of each accepted event in arrival order."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime

RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n"
            b"Connection: keep-alive\r\n\r\nok")

ids: list[str] = []
latencies: list[float] = []
arrivals: list[float] = []
sequences: list[int | None] = []
refused: set[str] = set()
posts = [0]
FAIL_EVERY = int(sys.argv[2]) if len(sys.argv) > 2 else 0
REFUSAL = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"


def _event(body: bytes) -> dict:
    try:
        event = json.loads(body)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def _received_at(event: dict) -> float | None:
    try:
        stamp = event["received_at"]
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if lines[0].startswith("GET /reset"):
                ids.clear(), latencies.clear(), arrivals.clear(), sequences.clear()
                refused.clear()
                posts[0] = 0
                writer.write(RESPONSE)
            elif lines[0].startswith("GET /stats"):
                stats = json.dumps({"count": len(ids), "unique": len(set(ids)),
                                    "first": arrivals[0] if arrivals else None,
                                    "last": arrivals[-1] if arrivals else None,
                                    "latencies_ms": latencies, "sequences": sequences,
                                    "refused": len(refused)}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(stats)
                             + stats)
            else:
                now = time.time()
                key = lines[0].split(" ")[1] + " " + headers.get("webhook-id", "")
                posts[0] += 1
                if FAIL_EVERY and posts[0] % FAIL_EVERY == 0 and key not in refused:
                    refused.add(key)
                    writer.write(REFUSAL)
                    await writer.drain()
                    continue
                ids.append(key)
                arrivals.append(now)
                event = _event(body)
                sequences.append(event.get("sequence"))
                received = _received_at(event)
                if received is not None:
                    latencies.append((now - received) * 1000)
                writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
