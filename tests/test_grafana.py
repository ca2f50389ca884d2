"""deploy/grafana/switchboard.json queries only what /metrics exposes: every metric name in
every panel's expression is a sample /metrics gives after real traffic (a callback
accepted, one refused, a delivery sent), and every label it groups or filters by is one
those samples carry. A renamed metric or label fails here, not on an operator's screen."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from switchboard import clock
from switchboard.operations import subscriptions as subs
from tests.callbacks import send_honkio

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "switchboard.json"
METRIC = re.compile(r"\b(switchboard_[a-z0-9_]+)")
GROUPED = re.compile(r"\bby \(([^)]*)\)")
SELECTED = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)\s*\"")


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def exposed(client) -> dict[str, set[str]]:
    """Sample name -> the label names its samples carry."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


def test_every_queried_metric_and_label_is_exposed(app, client, engine, settings,
                                                   subscriber, make_worker, frozen_clock):
    with engine.begin() as conn:
        subs.create(conn, settings, clock.now(), url=subscriber.url, event_types=["*"])
    send_honkio(client)
    assert client.post("/webhooks/honkio", data=b"{}", headers={
        "Content-Type": "application/json"}).status_code == 401
    assert make_worker().run_once() == 1
    labels = exposed(client)
    queried = expressions()
    assert len(queried) >= 10
    for expr in queried:
        names = METRIC.findall(expr)
        assert names, f"no switchboard metric in {expr!r}"
        missing = [n for n in names if n not in labels]
        assert not missing, f"{expr!r} queries {missing}, which /metrics does not expose"
        carried = set().union(*(labels[n] for n in names))
        used = {label.strip() for group in GROUPED.findall(expr)
                for label in group.split(",") if label.strip()}
        used |= set(SELECTED.findall(expr))
        assert used <= carried, f"{expr!r} uses labels {sorted(used - carried)} not exposed"


def test_the_dashboard_covers_what_the_issue_asks():
    """Callbacks by vendor and outcome, ingest latency, deliveries by outcome, worker lag,
    dead letters: each has a panel."""
    queried = " ".join(expressions())
    for metric in ("switchboard_callbacks_total", "switchboard_ingest_duration_seconds_bucket",
                   "switchboard_deliveries_total", "switchboard_worker_lag_seconds",
                   "switchboard_deliveries_dead"):
        assert metric in queried, metric
