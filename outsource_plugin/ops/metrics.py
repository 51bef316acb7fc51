"""Prometheus metrics, served at ``OUTSOURCE_METRICS_PATH`` when it is set.

``prometheus-client`` is an optional extra (``pip install
outsource-plugin[metrics]``): it is imported only when the path is set, so
the plugin runs without it, and setting the path without it fails at
start-up with a ConfigurationError rather than on the first scrape.

Each app gets its own ``CollectorRegistry`` rather than the process-wide
default one: several apps in one process (tests, or a host serving two
tenants) would otherwise register the same series twice and clash.

Counters and the poll histogram are bumped where the work happens (the
delivery and poll jobs, and the ``status_changed`` signal); the outbox
depth, dead letters and lag gauges are read from the database at scrape
time with the aggregate queries of ``outsource_plugin.ops.health``, so they are
right whichever process did the work.

The endpoint has no authentication of its own, like most exporters: keep it
off (the default) or reach it only from the monitoring network. It shows
partner names and counts, never settings or secrets.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response

from outsource_plugin import signals
from outsource_plugin.db.models import Partner
from outsource_plugin.errors import ConfigurationError
from outsource_plugin.ops.health import partner_health
from outsource_plugin.state import OutsourceState, current_outsource

#: where the app's ``Metrics`` lives in ``app.extensions``
EXTENSION_KEY = "outsource_metrics"


class _SyncCollector:
    """The gauges read from the database when Prometheus scrapes."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self) -> list[Any]:
        # Nothing to describe up front: the registry must not call collect() (and the database) on register.
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        depth = GaugeMetricFamily("outsource_outbox_depth", "Outbox messages pending delivery.", labels=["partner"])
        dead = GaugeMetricFamily("outsource_dead_letters", "Outbox messages that failed for good.", labels=["partner"])
        lag = GaugeMetricFamily(
            "outsource_sync_lag_seconds",
            "The partner's sync lag (see outsource_plugin.ops.health).",
            labels=["partner"],
        )
        bound = GaugeMetricFamily(
            "outsource_sync_max_lag_seconds", "The lag above which the partner is unhealthy.", labels=["partner"]
        )
        with self.app.app_context():
            for health in partner_health(current_outsource()):
                depth.add_metric([health.name], health.pending)
                dead.add_metric([health.name], health.dead_letters)
                lag.add_metric([health.name], health.lag)
                bound.add_metric([health.name], health.max_lag)
        yield from (depth, dead, lag, bound)


class Metrics:
    """One app's registry and the series the jobs and signals update."""

    def __init__(self, app: Flask) -> None:
        try:
            import prometheus_client as prom
        except ImportError as err:
            raise ConfigurationError(
                "OUTSOURCE_METRICS_PATH is set but prometheus-client is not installed: "
                "pip install 'outsource-plugin[metrics]'"
            ) from err
        self.registry = prom.CollectorRegistry()
        self.deliveries = prom.Counter(
            "outsource_deliveries", "Outbox delivery attempts by outcome.", ["outcome"], registry=self.registry
        )
        self.polls = prom.Counter(
            "outsource_polls",
            "Polls of partner change feeds by outcome.",
            ["partner", "outcome"],
            registry=self.registry,
        )
        self.poll_seconds = prom.Histogram(
            "outsource_poll_duration_seconds",
            "How long one poll of a partner took.",
            ["partner"],
            registry=self.registry,
        )
        self.transitions = prom.Counter(
            "outsource_transitions", "Engagement transitions by the status entered.", ["status"], registry=self.registry
        )
        self.registry.register(_SyncCollector(app))
        signals.status_changed.connect(self.on_status_changed, sender=app)

    def on_status_changed(self, sender: Any, **kw: Any) -> None:
        """Count a committed transition; a removed Unsent engagement enters no status: 'removed'."""
        to_status = kw.get("to_status")
        self.transitions.labels(status=to_status.value if to_status else "removed").inc()

    def scrape(self) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(self.registry), mimetype=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask, config: dict[str, Any]) -> None:
    """Serve the metrics at the configured path; do nothing when it is None."""
    path = config["OUTSOURCE_METRICS_PATH"]
    if not path:
        return
    if not str(path).startswith("/"):
        raise ConfigurationError("OUTSOURCE_METRICS_PATH must start with '/'")
    metrics = Metrics(app)
    app.extensions[EXTENSION_KEY] = metrics
    app.add_url_rule(str(path), "outsource_metrics", metrics.scrape)


def _metrics(state: OutsourceState) -> Metrics | None:
    found: Metrics | None = state.app.extensions.get(EXTENSION_KEY)
    return found


def record_delivery(state: OutsourceState, outcome: str) -> None:
    """Count one delivery attempt's outcome ('delivered', 'retry' or 'dead')."""
    metrics = _metrics(state)
    if metrics is not None:
        metrics.deliveries.labels(outcome=outcome).inc()


def record_poll(state: OutsourceState, partner: Partner, started: float, *, ok: bool) -> None:
    """Count one poll and observe its duration since ``started`` (a ``time.perf_counter()`` reading)."""
    metrics = _metrics(state)
    if metrics is not None:
        metrics.polls.labels(partner=partner.name, outcome="ok" if ok else "error").inc()
        metrics.poll_seconds.labels(partner=partner.name).observe(time.perf_counter() - started)
