"""Prometheus metrics: scraped from a real app after real deliveries, polls and
transitions with the in-memory partner, on a registry of the app's own."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from examples.helpdesk.models import db
from outsource_plugin.db.models import OutboxMessage, utcnow
from outsource_plugin.errors import ConfigurationError, PermanentAdapterError, TransientAdapterError
from outsource_plugin.ops.metrics import EXTENSION_KEY, init_metrics
from tests.conftest import Api, fresh_database, make_app, memory_partner, reset_data
from tests.outsource_plugin.core.test_lifecycle import act, sync

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(scope="module")
def metrics_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("metrics")
    with fresh_database(folder) as url:
        app = make_app(url, folder / "instance", OUTSOURCE_METRICS_PATH="/metrics")
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(metrics_app: Flask) -> Flask:
    reset_data(metrics_app)
    return metrics_app


def scrape(app: Flask) -> Series:
    """Every sample of the metrics page, by name and labels."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, tuple(sorted(labels.items()))))


def counted(after: Series, before: Series, name: str, **labels: str) -> float:
    """How much a counter grew between two scrapes: the module's app keeps counting across tests."""
    return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)


def test_a_delivery_a_poll_and_transitions_show_in_the_series(app: Flask, ticket_id: str, partner_id: int) -> None:
    api = Api(app.test_client())
    before = scrape(app)
    assert value(before, "outsource_outbox_depth", partner="Contoso") == 0

    assert api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id}).status_code == 201
    uid = act(api, ticket_id, "send")["engagement"]["uid"]
    queued = scrape(app)
    assert value(queued, "outsource_outbox_depth", partner="Contoso") == 1
    assert counted(queued, before, "outsource_transitions_total", status="assigned") == 1
    assert counted(queued, before, "outsource_deliveries_total", outcome="delivered") == 0

    memory_partner(app, partner_id).accept(uid)
    sync(app)
    after = scrape(app)
    assert value(after, "outsource_outbox_depth", partner="Contoso") == 0
    assert counted(after, before, "outsource_deliveries_total", outcome="delivered") == 1
    assert counted(after, before, "outsource_polls_total", partner="Contoso", outcome="ok") == 1
    assert counted(after, before, "outsource_poll_duration_seconds_count", partner="Contoso") == 1
    assert counted(after, before, "outsource_poll_duration_seconds_sum", partner="Contoso") > 0
    assert counted(after, before, "outsource_transitions_total", status="accepted") == 1
    assert value(after, "outsource_sync_lag_seconds", partner="Contoso") < 60
    assert value(after, "outsource_sync_max_lag_seconds", partner="Contoso") == 900


def test_retries_dead_letters_and_lag_are_counted(app: Flask, ticket_id: str, partner_id: int) -> None:
    api = Api(app.test_client())
    assert api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id}).status_code == 201
    act(api, ticket_id, "send")
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(hours=2)))
        db.session.commit()
    assert value(scrape(app), "outsource_sync_lag_seconds", partner="Contoso") >= 7200

    partner = memory_partner(app, partner_id)
    partner.failures.extend([TransientAdapterError("busy"), PermanentAdapterError("refused")])
    start = scrape(app)
    sync(app)  # the first attempt fails transiently and waits for its backoff
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        db.session.commit()
    sync(app)  # the second is refused for good
    series = scrape(app)
    assert counted(series, start, "outsource_deliveries_total", outcome="retry") == 1
    assert counted(series, start, "outsource_deliveries_total", outcome="dead") == 1
    assert counted(series, start, "outsource_deliveries_total", outcome="delivered") == 0
    assert value(series, "outsource_dead_letters", partner="Contoso") == 1
    assert value(series, "outsource_outbox_depth", partner="Contoso") == 0


def test_apps_have_registries_of_their_own(
    app: Flask, ticket_id: str, partner_id: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A second app in the same process (and on the same database) registers the same series without a
    clash; its counters count its own work, its gauges read the shared database."""
    other = make_app(
        app.config["SQLALCHEMY_DATABASE_URI"], tmp_path_factory.mktemp("other"), OUTSOURCE_METRICS_PATH="/metrics"
    )
    try:
        assert other.extensions[EXTENSION_KEY].registry is not app.extensions[EXTENSION_KEY].registry
        api = Api(app.test_client())
        start = scrape(app)
        assert api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id}).status_code == 201
        act(api, ticket_id, "send")
        sync(app)
        mine, theirs = scrape(app), scrape(other)
        assert counted(mine, start, "outsource_deliveries_total", outcome="delivered") == 1
        assert value(theirs, "outsource_deliveries_total", outcome="delivered") is None
        assert value(theirs, "outsource_transitions_total", status="assigned") is None
        assert value(theirs, "outsource_outbox_depth", partner="Contoso") == 0
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def test_off_by_default_and_a_clear_error_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    bare = Flask("bare")
    init_metrics(bare, {"OUTSOURCE_METRICS_PATH": None})
    assert EXTENSION_KEY not in bare.extensions and "outsource_metrics" not in bare.view_functions
    with pytest.raises(ConfigurationError, match="must start with '/'"):
        init_metrics(Flask("relative"), {"OUTSOURCE_METRICS_PATH": "metrics"})
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # what ``import`` sees when it is not installed
    with pytest.raises(ConfigurationError, match="prometheus-client is not installed"):
        init_metrics(Flask("missing"), {"OUTSOURCE_METRICS_PATH": "/metrics"})
