"""``init_app`` makes SQLite writers wait their turn by itself: the host no longer copies the helper.

A transaction that holds the write lock from its start is what
``serialise_sqlite_writers`` installs; it is seen from a second, plain
connection that asks for the write lock without waiting and is refused.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from examples.helpdesk.models import Ticket, db
from outsource_plugin import Outsourcing
from outsource_plugin.host.sqlite import serialise_sqlite_writers
from tests.outsource_plugin.host_helpers import bare_host


def _app(url: str, **config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=url, TESTING=True, **config)
    db.init_app(app)
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "host.db"


@pytest.fixture
def make_app(db_file: Path) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(**config: object) -> Flask:
        apps.append(_app(f"sqlite:///{db_file}", **config))
        return apps[-1]

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _holds_write_lock_from_its_start(app: Flask, db_file: Path) -> bool:
    """Whether a session's transaction, after a mere read, keeps a second writer out."""
    with app.app_context():
        db.session.scalars(select(Ticket)).all()
        other = sqlite3.connect(db_file, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            assert "database is locked" in str(err)
            return True
        else:
            other.execute("ROLLBACK")
            return False
        finally:
            other.close()
            db.session.rollback()


def test_init_app_serialises_writers_on_sqlite(make_app: Callable[..., Flask], db_file: Path) -> None:
    app = make_app()
    assert not _holds_write_lock_from_its_start(app, db_file)
    Outsourcing(app, host=bare_host())
    assert _holds_write_lock_from_its_start(app, db_file)


def test_a_host_that_still_calls_the_helper_gets_it_once(make_app: Callable[..., Flask], db_file: Path) -> None:
    app = make_app()
    with app.app_context():
        serialise_sqlite_writers(db.engine)
        serialise_sqlite_writers(db.engine)
    Outsourcing(app, host=bare_host())
    # a second BEGIN IMMEDIATE inside the first would fail: "cannot start a transaction within a transaction"
    with app.app_context():
        db.session.add(Ticket(title="Printer jam", description="", status="New"))
        db.session.commit()
        assert db.session.scalars(select(Ticket.title)).all() == ["Printer jam"]
    assert _holds_write_lock_from_its_start(app, db_file)


def test_opting_out_leaves_sqlite_alone_and_warns(
    make_app: Callable[..., Flask], db_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(OUTSOURCE_SQLITE_SERIALISE_WRITERS=False)
    with caplog.at_level(logging.WARNING, logger="outsource_plugin"):
        Outsourcing(app, host=bare_host())
    assert not _holds_write_lock_from_its_start(app, db_file)
    warnings = [r for r in caplog.records if "OUTSOURCE_SQLITE_SERIALISE_WRITERS" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "database is locked" in warnings[0].getMessage()


def test_an_in_memory_database_keeps_its_rows() -> None:
    """One shared connection has no second writer to wait for, and closing it would drop the database."""
    app = _app("sqlite://")
    with app.app_context():
        db.session.add(Ticket(title="Kept", description="", status="New"))
        db.session.commit()
    Outsourcing(app, host=bare_host())
    with app.app_context():
        assert db.session.scalars(select(Ticket.title)).all() == ["Kept"]
        db.session.remove()


def _hold_write_lock(db_file: Path, seconds: float) -> threading.Thread:
    """Another writer (a second process, say) holding the write lock for ``seconds``."""
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(db_file, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    return thread


def test_a_writer_waits_for_the_lock_and_takes_it_when_it_is_free(
    make_app: Callable[..., Flask], db_file: Path
) -> None:
    app = make_app()
    Outsourcing(app, host=bare_host())
    holder = _hold_write_lock(db_file, 0.3)
    with app.app_context():
        db.session.add(Ticket(title="Waited", description="", status="New"))
        db.session.commit()
        assert db.session.scalars(select(Ticket.title)).all() == ["Waited"]
    holder.join()


def test_the_hosts_busy_timeout_still_bounds_the_wait_and_stays_set(
    make_app: Callable[..., Flask], db_file: Path
) -> None:
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": 0.2}})
    Outsourcing(app, host=bare_host())
    holder = _hold_write_lock(db_file, 1.0)
    with app.app_context():
        with pytest.raises(OperationalError, match="database is locked"):
            db.session.scalars(select(Ticket)).all()
        db.session.rollback()
    holder.join()
    with app.app_context():
        assert db.session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 200
        db.session.rollback()
