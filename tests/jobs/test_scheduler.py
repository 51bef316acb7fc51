"""Workers in the production topology (issue 18): web processes with the scheduler off, a
``flask outsource worker`` per host, PostgreSQL.

Every job interval is an hour, so only the mechanism under test can move a
change in time: the worker's LISTEN for new outbox rows (pushes), or the poll
job's held request at the partner (``OUTSOURCE_POLL_HOLD``, pushes lost).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from tests.cross_host.conftest import Pair, Scenario, running_pair
from tests.cross_host.hosts import Host
from tests.polling import eventually

pytestmark = pytest.mark.postgresql

HOUR = {
    "OUTSOURCE_SCHEDULER": "0",
    "OUTSOURCE_DELIVERY_INTERVAL": "3600",
    "OUTSOURCE_POLL_INTERVAL": "3600",
    "OUTSOURCE_DEADLINE_INTERVAL": "3600",
}
LISTEN_BACKENDS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'"


def _workers(pair: Pair) -> Iterator[list[subprocess.Popen[bytes]]]:
    workers = [host.spawn("outsource", "worker") for host in (pair.lead, pair.service)]
    try:
        yield workers
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)


@pytest.fixture(scope="module")
def listening_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with running_pair(tmp_path_factory, HOUR) as pair:
        yield from (pair for _ in _workers(pair))


def _listen_pids(host: Host) -> set[int]:
    engine = create_engine(host.database_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text(LISTEN_BACKENDS)).scalars())
    finally:
        engine.dispose()


def _note_reaches_the_lead(s: Scenario, body: str) -> None:
    assert s.service_ticket is not None
    s.service.post(f"/api/tickets/{s.service_ticket}/notes", {"body": body})
    eventually(lambda: any(n["body"] == body for n in s.lead_ticket_json()["notes"]), what=f"{body!r} on the lead")


def test_a_worker_woken_by_notify_delivers_without_waiting_for_its_interval(listening_pair: Pair) -> None:
    s = Scenario(listening_pair)
    s.send()  # the lead's worker delivers the offer: woken by its commit in a web process
    s.accept()  # and the service's worker the acceptance
    _note_reaches_the_lead(s, "Cable replaced")


def test_a_lost_listen_connection_is_listened_again(listening_pair: Pair) -> None:
    s = Scenario(listening_pair)
    s.send()
    s.accept()
    service = listening_pair.service
    lost = eventually(lambda: _listen_pids(service), what="the service worker's LISTEN connection")
    engine = create_engine(service.database_url)
    with engine.connect() as conn:
        for pid in lost:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    engine.dispose()
    eventually(lambda: (pids := _listen_pids(service)) and not pids & lost, what="a new LISTEN connection")
    _note_reaches_the_lead(s, "Listening again")


@pytest.fixture(scope="module")
def holding_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Pushes to the lead are lost (its proxy refuses them): only the lead's held poll brings changes."""
    with running_pair(tmp_path_factory, {**HOUR, "OUTSOURCE_POLL_HOLD": "1"}) as pair:
        yield from (pair for _ in _workers(pair))


def test_with_pushes_lost_a_held_poll_brings_the_change(holding_pair: Pair) -> None:
    s = Scenario(holding_pair)
    s.send()
    s.accept()
    holding_pair.to_lead.down = True
    try:
        _note_reaches_the_lead(s, "Pulled, not pushed")
    finally:
        holding_pair.to_lead.down = False
    held = [line for line in holding_pair.service.log().splitlines() if "/changes?" in line and "&wait=" in line]
    assert held, "the lead's poll job never held a poll of the service's feed"
