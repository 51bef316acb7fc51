"""Real partner systems for the adapter tests: started once for this folder, stopped when it is done.

Package scope, not session: Request Tracker's configuration is machine-wide, so a
second test session (``make test`` runs the SQLite and PostgreSQL passes side
by side) waits for the first one's RT to stop; it should not wait for that
whole session.

A partner system that cannot be installed or started fails the tests that
need it, with a message naming what is missing: these tests are never skipped
(in CI, ``CI=true``, or anywhere else).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.adapters.email_partner import EmailPartner
from tests.adapters.partners import Harness, MemoryHarness, RedmineHarness, RequestTrackerHarness
from tests.adapters.peer_partner import PeerHarness
from tests.adapters.servers.redmine import RedmineServer, start_redmine
from tests.adapters.servers.request_tracker import RequestTrackerServer, start_request_tracker
from tests.adapters.servers.system import running
from tests.conftest import fresh_database
from tests.cross_host.hosts import Host

#: every adapter the contract suite runs against, by its harness
HARNESSES: dict[str, type[Harness]] = {
    "memory": MemoryHarness,
    "peer": PeerHarness,
    "redmine": RedmineHarness,
    "request_tracker": RequestTrackerHarness,
    "email": EmailPartner,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A contract case runs against each adapter whose partner system can do what the case needs
    (``@pytest.mark.partner_can("assign")``): a case that cannot apply is never generated, not skipped."""
    if "harness" not in metafunc.fixturenames:
        return
    needs = {need for mark in metafunc.definition.iter_markers("partner_can") for need in mark.args}
    adapters = [name for name, harness in HARNESSES.items() if needs <= harness.can]
    metafunc.parametrize("harness", adapters, indirect=True)


@pytest.fixture(scope="package")
def redmine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedmineServer]:
    yield from running(start_redmine, RedmineServer.stop, tmp_path_factory.mktemp("redmine"), "Redmine")


@pytest.fixture(scope="package")
def rt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RequestTrackerServer]:
    yield from running(
        start_request_tracker, RequestTrackerServer.close, tmp_path_factory.mktemp("rt"), "Request Tracker"
    )


@pytest.fixture(scope="session")
def lead_server(session_app: Flask) -> Iterator[str]:
    """The in-process lead help desk served over real HTTP too, for what a partner opens in a browser."""
    server = make_server("127.0.0.1", 0, session_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def lead_url(app: Flask, lead_server: str) -> Iterator[str]:
    """The lead's address for this test: links in e-mails point at it (OUTSOURCE_BASE_URL)."""
    config = app.extensions["outsource"].config
    before = config["OUTSOURCE_BASE_URL"]
    config["OUTSOURCE_BASE_URL"] = lead_server
    try:
        yield lead_server
    finally:
        config["OUTSOURCE_BASE_URL"] = before


@pytest.fixture(scope="package")
def peer_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    """A demo help desk process (Contoso) playing the peer partner."""
    with fresh_database(tmp_path_factory.mktemp("peer-db")) as url:
        host = Host("Contoso Field Services", "contoso.example", tmp_path_factory.mktemp("peer"), url)
        host.seed()
        host.start()
        try:
            yield host
        finally:
            host.stop()


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    found: Harness
    if request.param == "memory":
        found = MemoryHarness()
    elif request.param == "peer":
        found = PeerHarness(request.getfixturevalue("peer_host"))
    elif request.param == "redmine":
        found = RedmineHarness(request.getfixturevalue("redmine_server"))
    elif request.param == "email":
        request.getfixturevalue("lead_url")  # the offer's links point at the lead
        servers = request.getfixturevalue("mail_servers")
        servers.empty("desk")  # the lead reads all of our mailbox: only this case's mail
        found = EmailPartner(servers)
    else:
        found = RequestTrackerHarness(request.getfixturevalue("rt_server"))
    yield found
    found.close()
