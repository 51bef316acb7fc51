"""``mount``: the plugin mounted on the small host models of ``shapes``, on a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
from flask import Flask

from outsource_plugin import Outsourcing, Permission, SQLAlchemyHost
from tests.conftest import fresh_database
from tests.outsource_plugin.host.shapes import StatusRow, db


class Mount(Protocol):
    def __call__(self, *, tables: bool = True, statuses: Sequence[str] = ("Open", "Closed"), **host: Any) -> Flask: ...


def seed(app: Flask, statuses: Sequence[str]) -> None:
    """Create the host's tables and its status rows, as the host itself would."""
    with app.app_context():
        db.create_all()
        db.session.add_all(StatusRow(name=name) for name in statuses)
        db.session.commit()


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Mount]:
    """``mount(ticket_model=..., **host_keywords)``: an app with the plugin on those models.

    ``tables=False`` mounts before the host has created its tables (a first deployment, where the
    host's own migrations run after the app is built); ``statuses`` are the status rows seeded.
    """
    apps: list[Flask] = []
    with fresh_database(tmp_path) as url:

        def make(*, tables: bool = True, statuses: Sequence[str] = ("Open", "Closed"), **host: Any) -> Flask:
            app = Flask(__name__)
            app.config.update(SQLALCHEMY_DATABASE_URI=url, SECRET_KEY="test-secret", TESTING=True)
            db.init_app(app)
            apps.append(app)
            if tables:
                seed(app, statuses)
            Outsourcing(
                app,
                host=SQLAlchemyHost(db, current_user=lambda: None, permission=lambda user: Permission.NONE, **host),
            )
            return app

        yield make
        for app in apps:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
