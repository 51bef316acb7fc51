"""LISTEN for new outbox rows on PostgreSQL (issue 18): what a commit wakes, and a lost connection.

The trigger of migration ``0014_notify`` NOTIFYs at commit with the partner's
id; ``OutboxListener`` hears it on a connection of its own and listens again
when that connection is killed on the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from examples.helpdesk.models import db
from outsource_plugin.db.models import MessageState
from outsource_plugin.db.wakeups import OutboxListener
from tests.blueprints.api_helpers import add_outbox_message
from tests.conftest import fresh_database, make_app, reset_data
from tests.polling import eventually

pytestmark = pytest.mark.postgresql


@pytest.fixture
def pg_app(tmp_path: Path) -> Iterator[Flask]:
    with fresh_database(tmp_path) as url:
        app = make_app(url, tmp_path / "instance")
        reset_data(app)
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def heard(pg_app: Flask) -> Iterator[tuple[OutboxListener, list[int | None]]]:
    woken: list[int | None] = []
    with pg_app.app_context():
        listener = OutboxListener(db.engine, woken.append, retry=0.1).start()
    eventually(listener.listening.is_set, what="the listener to listen")
    yield listener, woken
    listener.stop()


def _partner(app: Flask) -> int:
    with app.app_context():
        return int(db.session.execute(text("SELECT id FROM outsource_partner")).scalar_one())


def test_a_committed_outbox_row_wakes_the_listener_with_its_partner(
    pg_app: Flask, heard: tuple[OutboxListener, list[int | None]]
) -> None:
    _listener, woken = heard
    partner = _partner(pg_app)
    eventually(lambda: woken == [None], what="the wake-up every (re)connection gives")
    add_outbox_message(pg_app, partner, state=MessageState.PENDING)
    eventually(lambda: woken == [None, partner], what="the commit's notification")


def test_a_lost_connection_is_listened_again_and_hears_the_next_commit(
    pg_app: Flask, heard: tuple[OutboxListener, list[int | None]]
) -> None:
    listener, woken = heard
    lost = listener.backend_pid
    with pg_app.app_context():
        db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost})
        db.session.commit()
    eventually(lambda: listener.connections == 2 and listener.listening.is_set(), what="a second connection")
    assert listener.backend_pid != lost
    partner = _partner(pg_app)
    add_outbox_message(pg_app, partner, state=MessageState.PENDING)
    eventually(lambda: woken[-1] == partner, what="the commit's notification on the new connection")
    assert woken.count(None) == 2  # each connection began by waking everything: missed rows are due
