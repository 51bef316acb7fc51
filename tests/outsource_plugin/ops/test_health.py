"""Sync health: the figures after real deliveries, polls and dead letters (the in-memory
partner), the health endpoint (200, 503 on lag, 503 on an unreachable database),
``flask outsource status`` and the ticket page's information bar."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

from examples.helpdesk.models import db
from outsource_plugin.db.models import Engagement, OutboxMessage, Partner, utcnow
from outsource_plugin.errors import PermanentAdapterError
from outsource_plugin.ops.health import check_health, engagement_health, partner_health
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from tests.blueprints.page_helpers import html, page_client
from tests.conftest import Api, fresh_database, make_app, memory_partner
from tests.outsource_plugin.core.test_lifecycle import act, outsource, sync

HEALTH = "/outsource/api/v1/health"


def _age_partner_poll(app: Flask, partner_id: int, seconds: float) -> None:
    """Pretend the partner was last polled ``seconds`` ago."""
    with app.app_context():
        db.session.execute(
            update(Partner).where(Partner.id == partner_id).values(last_poll_at=utcnow() - timedelta(seconds=seconds))
        )
        db.session.commit()


def _contoso(app: Flask) -> dict[str, Any]:
    with app.app_context():
        (health,) = partner_health(current_outsource())
        return health.as_json()


def test_figures_follow_deliveries_polls_and_dead_letters(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    fresh = _contoso(app)
    assert fresh["pending"] == 0 and fresh["dead_letters"] == 0
    assert fresh["last_poll_at"] is None and fresh["last_delivery_at"] is None
    assert fresh["max_lag_seconds"] == 900.0 and fresh["healthy"] is True

    assert api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id}).status_code == 201
    uid = act(api, ticket_id, "send")["engagement"]["uid"]
    queued = _contoso(app)
    assert queued["pending"] == 1 and queued["oldest_pending_at"] is not None
    assert queued["last_delivery_at"] is None

    sync(app)
    synced = _contoso(app)
    assert synced["pending"] == 0 and synced["dead_letters"] == 0 and synced["outbox_lag_seconds"] is None
    assert synced["last_poll_at"] is not None and synced["last_delivery_at"] is not None
    assert synced["poll_lag_seconds"] < 60

    memory_partner(app, partner_id).failures.append(PermanentAdapterError("partner refused the cancel"))
    act(api, ticket_id, "cancel", reason="not needed")
    sync(app)
    dead = _contoso(app)
    assert dead["pending"] == 0 and dead["dead_letters"] == 1 and dead["healthy"] is True

    with app.app_context():
        engagement = db.session.query(Engagement).filter_by(uid=uid).one()
        figures = engagement_health(current_outsource(), engagement)
        assert (figures.pending, figures.dead_letters) == (0, 1)
        assert figures.last_delivery_at is not None and figures.last_poll_at is not None


def test_lag_counts_the_oldest_pending_message_and_the_last_poll(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    assert api.post(f"/tickets/{ticket_id}/outsource", json={"partner_id": partner_id}).status_code == 201
    act(api, ticket_id, "send")
    with app.app_context():
        db.session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    _age_partner_poll(app, partner_id, 120)
    lagging = _contoso(app)
    assert 3600 <= lagging["outbox_lag_seconds"] < 3700
    assert 120 <= lagging["poll_lag_seconds"] < 200
    assert lagging["lag_seconds"] == lagging["outbox_lag_seconds"]
    assert lagging["healthy"] is False


def test_endpoint_is_ok_and_shows_details_only_to_partner_management(app: Flask, api: Api, partner_id: int) -> None:
    anonymous = app.test_client().get(HEALTH)
    assert anonymous.status_code == 200
    assert anonymous.get_json() == {"status": "ok", "failing": []}
    assert anonymous.headers["Cache-Control"] == "no-store"
    assert "partners" not in api.get("/health", Permission.OUTSOURCE).get_json()
    detailed = api.get("/health", Permission.PARTNER_MANAGEMENT).get_json()
    assert detailed["status"] == "ok"
    assert [(p["id"], p["name"], p["healthy"]) for p in detailed["partners"]] == [(partner_id, "Contoso", True)]


def test_endpoint_is_503_when_a_partner_lags_beyond_its_bound(
    app: Flask, api: Api, partner_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _age_partner_poll(app, partner_id, 1000)
    response = app.test_client().get(HEALTH)
    assert response.status_code == 503
    assert response.get_json() == {"status": "unhealthy", "failing": [f"partner_lag:{partner_id}"]}
    assert "Contoso" not in response.get_data(as_text=True)
    detail = api.get("/health", Permission.PARTNER_MANAGEMENT)
    assert detail.status_code == 503 and detail.get_json()["partners"][0]["healthy"] is False

    # a partner of its own bound: Contoso may lag an hour
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_PARTNER_MAX_LAG", {"Contoso": 3600})
    assert app.test_client().get(HEALTH).status_code == 200
    # a disabled partner is not polled, so only its outbox can lag
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_PARTNER_MAX_LAG", None)
    with app.app_context():
        db.session.execute(update(Partner).values(active=False))
        db.session.commit()
    assert app.test_client().get(HEALTH).status_code == 200


def test_status_command_prints_a_table_and_exits_non_zero_when_unhealthy(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    outsource(api, app, ticket_id, partner_id)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["outsource", "status"])
    assert ok.exit_code == 0, ok.output
    header, row, verdict = ok.output.strip().splitlines()
    assert header.split()[:2] == ["PARTNER", "ACTIVE"]
    assert row.split()[0] == "Contoso" and row.split()[-1] == "ok"
    assert verdict == "healthy"

    as_json = runner.invoke(args=["outsource", "status", "--json"])
    assert as_json.exit_code == 0
    body = json.loads(as_json.output)
    assert body["status"] == "ok" and body["partners"][0]["last_delivery_at"] is not None

    _age_partner_poll(app, partner_id, 5000)
    lagging = runner.invoke(args=["outsource", "status"])
    assert lagging.exit_code == 1
    assert "LAGGING" in lagging.output and f"UNHEALTHY: partner_lag:{partner_id}" in lagging.output
    assert runner.invoke(args=["outsource", "status", "--json"]).exit_code == 1


def test_ticket_bar_shows_the_engagements_sync_figures_to_partner_managers(
    app: Flask, api: Api, ticket_id: str, partner_id: int
) -> None:
    outsource(api, app, ticket_id, partner_id)
    memory_partner(app, partner_id).failures.append(PermanentAdapterError("refused"))
    act(api, ticket_id, "cancel", reason="not needed")
    sync(app)
    page = html(page_client(app, Permission.PARTNER_MANAGEMENT), f"/tickets/{ticket_id}")
    assert 'class="ob-health" data-pending="0" data-dead="1"' in page
    assert "1 dead" in page and "0 pending" in page and "polled never" not in page
    assert "delivered never" not in page and "lag " in page
    # a technician and a viewer see the bar without the figures
    assert "ob-health" not in html(page_client(app, Permission.OUTSOURCE), f"/tickets/{ticket_id}")
    assert "ob-health" not in html(page_client(app, Permission.NONE), f"/tickets/{ticket_id}")


@contextmanager
def _unreachable(app: Flask, url: str) -> Iterator[None]:
    """Take the app's database away for real (renamed away), and give it back afterwards."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(str(parsed.database))
        shutil.move(path, path.with_suffix(".away"))
        path.mkdir()  # a folder where the file was: SQLite cannot open it
        try:
            yield
        finally:
            path.rmdir()
            shutil.move(path.with_suffix(".away"), path)
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = parsed.database
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{name}_away"'))
        yield
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}_away" RENAME TO "{name}"'))
    finally:
        admin.dispose()


def test_endpoint_and_status_are_unhealthy_when_the_database_is_unreachable(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        app = make_app(url, tmp_path / "instance")
        try:
            assert app.test_client().get(HEALTH).status_code == 200
            with _unreachable(app, url):
                response = app.test_client().get(HEALTH, headers={"Authorization": "Bearer admin"})
                assert response.status_code == 503
                assert response.get_json() == {"status": "unhealthy", "failing": ["database"]}
                status = app.test_cli_runner().invoke(args=["outsource", "status"])
                assert status.exit_code == 1 and "UNHEALTHY: database" in status.output
                with app.app_context():
                    assert check_health(current_outsource()).failing == ["database"]
            assert app.test_client().get(HEALTH).status_code == 200
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
