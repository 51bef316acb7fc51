"""Shared fixtures: a demo help desk app on a fresh database per test.

The database is SQLite in a temporary folder by default; set
``OUTSOURCE_TEST_DATABASE_URL`` to a PostgreSQL server URL (without a
database name) to run the same tests against a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from werkzeug.security import generate_password_hash

from examples.helpdesk import create_app
from examples.helpdesk.models import Customer, Ticket, User, db
from outsource_plugin.adapters.memory import MemoryAdapter
from outsource_plugin.db.models import Base, Engagement, Partner
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.workflow import Status
from tests.adapters.servers.mail import MailServers, start_mail_servers
from tests.adapters.servers.system import running
from tests.blueprints.api_helpers import add_engagement, add_ticket
from tests.joining import CONTOSO_URL, NORTHWIND_URL, AppTransport, Desks
from tests.security import helpers as security

#: hashed once: the default scrypt hash costs more than a whole test
PASSWORD_HASH = generate_password_hash("pw")

LEVELS = {
    Permission.NONE: "viewer",
    Permission.OUTSOURCE: "tech",
    Permission.PARTNER_MANAGEMENT: "manager",
    Permission.ALL: "admin",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of the PostgreSQL-only topology belong to the PostgreSQL pass of ``make test``.

    They are deselected (reported as such), not skipped, in the SQLite pass; in
    the PostgreSQL pass they run and fail if the server is missing.
    """
    if os.environ.get("OUTSOURCE_TEST_DATABASE_URL"):
        # The SQLite pass runs tests/adapters first (collection order) and the PostgreSQL pass runs it
        # last, so side by side they hold the machine-wide Request Tracker server at different times.
        # A test that needs most of the server's connections goes first, while no fixture holds any.
        items.sort(
            key=lambda item: (
                (item.get_closest_marker("many_connections") is None) + item.nodeid.startswith("tests/adapters/")
            )
        )
        return
    chosen = [item for item in items if item.get_closest_marker("postgresql") is None]
    if len(chosen) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
        items[:] = chosen


@pytest.fixture
def peer(app: Flask) -> int:
    """Northwind IT, the peer partner whose requests ``tests/security/helpers.py`` signs."""
    return security.add_peer(app, "Northwind IT", security.PEER_LINK, security.PEER_SECRET)


@pytest.fixture
def uid(app: Flask, peer: int) -> str:
    """An Accepted engagement with the peer, on a ticket of its own: its entries land."""
    engagement_id = add_engagement(app, peer, status=Status.ACCEPTED, ticket_id=add_ticket(app, "VPN down"))
    with app.app_context():
        return str(db.session.get(Engagement, engagement_id).uid)


@pytest.fixture(scope="session")
def mail_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MailServers]:
    """Dovecot and an SMTP server delivering to it, for the e-mail partner (``adapters/servers/mail.py``);
    here, as the adapter tests and the cross-host ones both read them."""
    yield from running(start_mail_servers, MailServers.close, tmp_path_factory.mktemp("mail"), "mail")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """A new empty database: a SQLite file, or a PostgreSQL database when configured."""
    server = os.environ.get("OUTSOURCE_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{folder / 'helpdesk.db'}"
        return
    name = f"outsource_test_{uuid.uuid4().hex[:12]}"
    # no pool: an idle admin connection per database fixture, held for the whole run, would
    # take slots that the topology tests' processes need (tests/test_fresh_database.py)
    admin = create_engine(
        f"{server.rstrip('/')}/postgres",
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"application_name": admin_name()},
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"{server.rstrip('/')}/{name}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def admin_name() -> str:
    """The application name of this process's connections that create and drop test databases."""
    return f"outsource-tests-admin-{os.getpid()}"


def make_app(database_url: str, instance: Path, **overrides: Any) -> Flask:
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "HELPDESK_INSTANCE": str(instance),
            "SECRET_KEY": "test-secret",
            "TESTING": True,
            **overrides,
        }
    )


@pytest.fixture(scope="session")
def session_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app for the whole run; ``app`` empties its tables before each test."""
    app = make_app(database_url, tmp_path_factory.mktemp("instance"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def reset_data(app: Flask) -> None:
    """Empty every table and seed a user per level, a customer and the memory partner."""
    with app.app_context():
        db.session.remove()
        tables = [*reversed(Base.metadata.sorted_tables), *reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            for table in tables:
                conn.execute(table.delete())
        app.extensions["outsource"].reset_adapters()
        for level, key in LEVELS.items():
            db.session.add(
                User(
                    email=f"{key}@t.example",
                    name=key.title(),
                    outsource_level=int(level),
                    api_token=key,
                    password_hash=PASSWORD_HASH,
                )
            )
        db.session.add(Customer(name="Acme"))
        db.session.add(Partner(name="Contoso", adapter="memory", config={}, default_terms={"acceptance_hours": 24}))
        db.session.commit()
        db.session.remove()


@pytest.fixture
def app(session_app: Flask) -> Flask:
    reset_data(session_app)
    return session_app


@pytest.fixture(scope="session")
def second_session_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """A second help desk on a database of its own, for tests where two hosts talk in process."""
    with fresh_database(tmp_path_factory.mktemp("second-db")) as url:
        app = make_app(url, tmp_path_factory.mktemp("second-instance"))
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def desks(app: Flask, second_session_app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desks]:
    """Northwind IT (``app``) and Contoso Field Services, each reaching the other in process."""
    reset_data(second_session_app)
    northwind, contoso = app.extensions["outsource"], second_session_app.extensions["outsource"]
    for state, name, url in (
        (northwind, "Northwind IT", NORTHWIND_URL),
        (contoso, "Contoso Field Services", CONTOSO_URL),
    ):
        monkeypatch.setitem(state.config, "OUTSOURCE_ORG_NAME", name)
        monkeypatch.setitem(state.config, "OUTSOURCE_PUBLIC_URL", url)
    to_northwind, to_contoso = AppTransport(app), AppTransport(second_session_app)
    contoso.http.mount(NORTHWIND_URL, to_northwind)
    northwind.http.mount(CONTOSO_URL, to_contoso)
    yield Desks(app, second_session_app, to_northwind, to_contoso)
    contoso.http.adapters.pop(NORTHWIND_URL)
    northwind.http.adapters.pop(CONTOSO_URL)


class Api:
    """A test client that speaks JSON with a bearer token per permission level."""

    def __init__(self, client: FlaskClient, prefix: str = "/outsource/api/v1") -> None:
        self.client = client
        self.prefix = prefix

    def call(self, method: str, path: str, level: Permission = Permission.ALL, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {LEVELS[level]}", **kw.pop("headers", {})}
        url = path if path.startswith("/api/") else self.prefix + path
        return self.client.open(url, method=method, headers=headers, **kw)

    def get(self, path: str, level: Permission = Permission.ALL, **kw: Any) -> Any:
        return self.call("GET", path, level, **kw)

    def post(self, path: str, json: Any = None, level: Permission = Permission.ALL, **kw: Any) -> Any:
        return self.call("POST", path, level, json=json, **kw)

    def put(self, path: str, json: Any = None, level: Permission = Permission.ALL, **kw: Any) -> Any:
        return self.call("PUT", path, level, json=json, **kw)

    def patch(self, path: str, json: Any = None, level: Permission = Permission.ALL, **kw: Any) -> Any:
        return self.call("PATCH", path, level, json=json, **kw)


@pytest.fixture
def api(app: Flask) -> Api:
    return Api(app.test_client())


@pytest.fixture
def ticket_id(app: Flask) -> str:
    with app.app_context():
        ticket = Ticket(title="Server down", description="The file server is down", status="New")
        db.session.add(ticket)
        db.session.commit()
        return str(ticket.id)


@pytest.fixture
def partner_id(app: Flask) -> int:
    with app.app_context():
        return db.session.query(Partner).filter_by(name="Contoso").one().id


#: the peer partner Fabrikam's link and shared secret (``peer_id``)
PEER_LINK, PEER_SECRET = "fabrikam-contoso", "f" * 32


@pytest.fixture
def peer_id(app: Flask) -> int:
    """Fabrikam, a peer partner whose signed pushes the tests make up."""
    with app.app_context():
        peer = Partner(
            name="Fabrikam",
            adapter="peer",
            link_id=PEER_LINK,
            config={"base_url": "http://fabrikam.invalid", "link_id": PEER_LINK, "secret": PEER_SECRET},
            default_terms={},
        )
        db.session.add(peer)
        db.session.commit()
        return int(peer.id)


def memory_partner(app: Flask, partner_id: int) -> MemoryAdapter:
    with app.app_context():
        state = current_outsource()
        adapter = state.adapter_for(state.session.get(Partner, partner_id))
        assert isinstance(adapter, MemoryAdapter)
        return adapter
