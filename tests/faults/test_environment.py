"""Faults around the processes: the database taken away from a running worker for a few
seconds, and the partners' clocks apart (a real skewed process, via libfaketime), within
the signing tolerance and beyond it.
"""

from __future__ import annotations

import platform
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from tests.cross_host.conftest import Pair, Scenario
from tests.cross_host.hosts import Host
from tests.faults.conftest import accepted, accepted_without_jobs, heal
from tests.faults.ledger import (
    API,
    LEAD,
    SERVICE,
    FaultReport,
    Ledger,
    assert_converged,
    dead_letters_of,
    holds,
    no_dead_letters,
    partner_poll_error,
    polls_again,
)
from tests.polling import eventually

OUTAGE_SECONDS = 3.0
#: Debian's faketime package (``make system-deps`` installs it)
FAKETIME = Path(f"/usr/lib/{platform.machine()}-linux-gnu/faketime/libfaketime.so.1")
TOLERANCE = 300  # OUTSOURCE_SIGNATURE_TOLERANCE's default, which the demo hosts use


@contextmanager
def database_unavailable(url: str) -> Iterator[None]:
    """Take the database away from its clients: SQLite locked by another writer,
    PostgreSQL refusing connections with the open ones terminated."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        holder = sqlite3.connect(str(parsed.database), isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            yield
            holder.execute("COMMIT")
        finally:
            holder.close()
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = parsed.database
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
            )
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def test_database_unavailable_to_a_worker(jobless_pair: Pair, fault_report: FaultReport) -> None:
    pair = jobless_pair
    s = accepted_without_jobs(pair)
    ledger = Ledger(s)
    pair.to_service.down = True  # the worker cannot deliver yet: the messages wait in the outbox
    log = pair.lead.folder / "db-outage-worker.log"
    worker = pair.lead.spawn("outsource", "worker", log_name=log.name)
    try:
        marks = [ledger.note(LEAD, "queued before the outage"), ledger.charge(LEAD)]
        eventually(lambda: partner_poll_error(s.lead, pair.lead_partner_id) is not None)
        with database_unavailable(pair.lead.database_url):
            pair.to_service.heal()
            # the partner is back, but the worker cannot claim, record or poll anything
            holds(
                lambda: worker.poll() is None and not any(ledger.tokens_on(SERVICE)[m] for m in marks), OUTAGE_SECONDS
            )
        ledger.note(SERVICE, "after the outage")
        eventually(lambda: s.lead.get("/api/me"))  # the web process reconnects too
        ledger.note(LEAD, "after the outage")
        tally = assert_converged(ledger, "in_progress")
        assert worker.poll() is None, "the worker survived the outage"
    finally:
        worker.terminate()
        worker.wait(timeout=15)
        heal(pair)
    errors = log.read_text(errors="replace").count("raised an exception")
    if make_url(pair.lead.database_url).get_backend_name() == "postgresql":
        assert "OperationalError" in log.read_text(errors="replace"), "the worker logs what failed"
    polls_again(s.lead, pair.lead_partner_id)
    fault_report.record("database-unavailable", 1, tally, outage_s=OUTAGE_SECONDS, job_errors_logged=errors)


@contextmanager
def restarted(host: Host, settings: dict[str, str]) -> Iterator[None]:
    """Restart ``host`` with ``settings`` added to its environment, and without them after."""
    saved = host.extra_env
    host.stop()
    host.extra_env = {**saved, **settings}
    try:
        host.start()
        yield
    finally:
        host.stop()
        host.extra_env = saved
        host.start()


@contextmanager
def clock_ahead(host: Host, seconds: int, settings: dict[str, str] | None = None) -> Iterator[None]:
    """Restart ``host`` with its clock ``seconds`` ahead (behind when negative; libfaketime) and
    ``settings`` added, and on true time after."""
    assert FAKETIME.exists(), "libfaketime is missing: install Debian's faketime package (make system-deps)"
    faked = {
        **(settings or {}),
        "LD_PRELOAD": str(FAKETIME),
        "FAKETIME": f"{seconds:+d}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    with restarted(host, faked):
        yield


def clock_of(ledger: Ledger, side: str) -> timedelta:
    """How far ahead of ours the host's clock is, read off a note it stamps."""
    ledger.note(side, "what time is it")
    note = ledger.api(side).get(f"/api/tickets/{ledger.ticket(side)}")["notes"][-1]
    stamped = datetime.fromisoformat(note["created_at"])
    return stamped.replace(tzinfo=stamped.tzinfo or timezone.utc) - datetime.now(timezone.utc)


def test_clock_skew_within_the_tolerance(scenario: Scenario, healed: Pair, fault_report: FaultReport) -> None:
    pair = scenario.pair
    skew = TOLERANCE - 60
    with clock_ahead(pair.service, skew):
        s = accepted(scenario)
        ledger = Ledger(s)
        assert abs(clock_of(ledger, SERVICE).total_seconds() - skew) < 30
        for side in (LEAD, SERVICE):
            ledger.note(side, f"{side} with skewed clocks")
            ledger.time(side)
            ledger.charge(side)
        assert_converged(ledger, "in_progress")
        s.service_action("submit")
        ledger.note(SERVICE, "during the suspension", crosses=False)
        s.wait_lead_status("waiting_approval")
        ledger.note(LEAD, "during the suspension", crosses=False)
        s.lead_action("approve")
        s.wait_service_status("complete")
        ledger.note(LEAD, "after completion", crosses=False)
        ledger.charge(SERVICE, "after completion", crosses=False)
        tally = assert_converged(ledger, "complete")
        no_dead_letters(s)
    fault_report.record("clock-skew-within-tolerance", 1, tally, skew_s=skew, tolerance_s=TOLERANCE)


def test_clock_skew_beyond_the_tolerance_is_refused_then_recovers(
    scenario: Scenario, healed: Pair, fault_report: FaultReport
) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    skew = TOLERANCE * 2
    with clock_ahead(pair.service, skew):
        lead_mark = ledger.note(LEAD, "refused as stale")
        service_mark = ledger.note(SERVICE, "refused as stale")
        # Both sides refuse the other's signed requests with a clear error, and write nothing.
        (letter,) = eventually(lambda: dead_letters_of(s.lead, s.uid), timeout=20)
        assert "401" in letter["last_error"] and "stale request" in letter["last_error"]
        eventually(lambda: "stale request" in (partner_poll_error(s.service, pair.service_partner_id) or ""))
        eventually(lambda: "stale request" in (partner_poll_error(s.lead, pair.lead_partner_id) or ""))
        assert ledger.tokens_on(SERVICE)[lead_mark] == 0 and ledger.tokens_on(LEAD)[service_mark] == 0
    # On true time again the polls catch up, and the dead letters retried are answered as done.
    tally = assert_converged(ledger, "in_progress")
    letters = dead_letters_of(s.lead, s.uid) + dead_letters_of(s.service, s.uid)
    for api in (s.lead, s.service):
        for dead in dead_letters_of(api, s.uid):
            api.post(f"{API}/deadletters/{dead['id']}/retry")
    eventually(lambda: dead_letters_of(s.lead, s.uid) == dead_letters_of(s.service, s.uid) == [])
    assert assert_converged(ledger, "in_progress") == tally
    fault_report.record(
        "clock-skew-beyond-tolerance", 1, tally, skew_s=skew, tolerance_s=TOLERANCE, dead_lettered=len(letters)
    )
