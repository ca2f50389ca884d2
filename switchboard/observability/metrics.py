"""Prometheus metrics: the metric objects, and the view's registry at scrape time.

Counters and histograms live in the process that counts (web workers: callbacks; worker
processes: deliveries). Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set before this module
is imported (gunicorn.conf.py does it), so prometheus_client keeps every process's values in
files there and a scrape of any web worker adds them all up. Queue depths are not counted
anywhere: they are read from the database at scrape time, so they are right whichever
process answers and however many workers run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from switchboard import clock
from switchboard.store.queue import dead_deliveries, owed_fanouts, pending_deliveries

log = logging.getLogger("switchboard.metrics")

# Fast answers are the point of the ingest path (PERFORMANCE.md: 1-10 ms), so the buckets
# are fine at the low end.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)

CALLBACKS = Counter(
    "switchboard_callbacks", "Inbound provider callbacks by vendor and outcome "
    "(accepted, duplicate, rejected, error) and, for rejected and error, the error code",
    ["vendor", "outcome", "reason"])
INGEST_SECONDS = Histogram(
    "switchboard_ingest_duration_seconds",
    "Time to answer an inbound callback, from request start to response", ["vendor"],
    buckets=LATENCY_BUCKETS)
DELIVERIES = Counter(
    "switchboard_deliveries", "Delivery outcomes recorded by workers: succeeded, retry "
    "(failed, tried again later), dead (out of retries or 410), cancelled",
    ["target", "outcome"])
ATTEMPT_SECONDS = Histogram(
    "switchboard_delivery_attempt_duration_seconds",
    "Time of one delivery attempt (an HTTP POST or a handler call)", ["target"],
    buckets=LATENCY_BUCKETS + (15.0, 30.0))

# A message's terminal statuses as ingest commits them (a soft bounce later delivered counts
# under both), and the time from its first accepted or sent receipt to its delivery by the
# provider's own clocks: seconds to a day.
MESSAGES_TERMINAL = Counter(
    "switchboard_messages_terminal", "Messages reaching a terminal status, by vendor, status "
    "and failure reason (empty when delivered)", ["vendor", "status", "reason"])
TIME_TO_DELIVER = Histogram(
    "switchboard_time_to_deliver_seconds", "From a message's first accepted or sent receipt "
    "to its delivery, by the provider's own times", ["vendor"],
    buckets=(1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
             21600.0, 86400.0))


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class QueueCollector:
    """Pending and dead deliveries, read from the database when Prometheus scrapes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("switchboard_metrics_database_up",
                               "1 if the queue gauges below could be read from the database")
        try:
            with self.engine.connect() as conn:
                pending, oldest, earliest_due = pending_deliveries(conn)
                dead = dead_deliveries(conn)
                owed, oldest_owed = owed_fanouts(conn)
        except SQLAlchemyError as exc:  # a probe: any failure to read is "down"
            log.warning("metrics: queue depths unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = clock.now()
        yield _gauge("switchboard_deliveries_pending",
                     "Deliveries waiting to be sent (due now or scheduled for a retry)",
                     pending)
        yield _gauge("switchboard_deliveries_dead",
                     "Deliveries out of retries, waiting for an operator", dead)
        yield _gauge("switchboard_oldest_pending_delivery_age_seconds",
                     "Age of the oldest pending delivery (0 when none)", age(now, oldest))
        yield _gauge("switchboard_fanouts_owed",
                     "Events stored whose fan-out no worker has expanded into deliveries yet",
                     owed)
        yield _gauge("switchboard_worker_lag_seconds",
                     "How long the most overdue pending delivery, or the oldest event owed its "
                     "fan-out, has been due: how far the workers are behind (0 when nothing "
                     "is overdue)", max(age(now, earliest_due), age(now, oldest_owed)))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, documentation)
    gauge.add_metric([], value)
    return gauge


def age(now: datetime, since: datetime | None) -> float:
    if since is None:
        return 0.0
    return max(0.0, (now - since).total_seconds())


class _Scrape:
    """What one scrape reads: this process's (or every process's) metrics and the queue."""

    def __init__(self, *collectors) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def scrape_registry(engine: Engine) -> _Scrape:
    directory = multiprocess_dir()
    if directory:
        processes = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(processes, path=directory)
    else:
        processes = REGISTRY
    return _Scrape(processes, QueueCollector(engine))
