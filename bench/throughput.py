"""Benchmark 1 (and half of 5): sync throughput against its floor, and the workers' peak RSS in the burst.

Engagements in progress between two real hosts; on the service side a burst of
entries (notes, time, charges, small attachments) is committed in one
transaction; the clock runs from that commit until every entry is on the
lead (issue 18, target 2).

The floor is physical: the lead host's own app, in this process, committing
the same entries (the same mix, the same rows) in one transaction on plain
tickets that are not outsourced. The plugin stays installed there, but with no
engagement on those tickets its capture finds nothing to relay, so what is
timed is the database writes any sync has to make on the lead anyway. The
ratio sync/floor is then what the plugin's delivery costs on top of them:
HTTP, signing, validation, the outbox and the order guarantee.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import Engine, func, select

from bench.common import (
    RSS_RATIO,
    Section,
    analyse,
    database_label,
    engine_for,
    host_pair,
    listed,
    open_in_progress,
    peak_rss_mb,
    restart_peak_rss,
    rss_mb,
)
from examples.helpdesk import create_app
from examples.helpdesk.app import settings_from_env
from examples.helpdesk.models import Attachment, Charge, Note, Ticket, TimeEntry, db
from tests.cross_host.hosts import Host
from tests.polling import eventually

#: of every 10 entries: 4 notes, 3 time entries, 2 charges, 1 attachment
MIX = ("note", "time", "note", "charge", "time", "note", "attachment", "time", "note", "charge")
ATTACHMENT = bytes(range(256)) * 4  # 1 KiB
ENTRY_MODELS = (Note, TimeEntry, Charge, Attachment)
#: the sync may take at most this many times the floor
TARGET = 5.0
#: bursts synced, and commits of the floor timed, the best of each kept: on a shared machine a
#: neighbour's load only ever adds time (one floor run of about a second ranged 0.68 to 1.24 s here)
BURSTS = FLOOR_RUNS = 3


def host_app(host: Host) -> Flask:
    """The host's own app in this process, on its database, with no jobs: for bulk writes."""
    return create_app({**settings_from_env(host.env()), "OUTSOURCE_SCHEDULER": False})


def entry_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(int(conn.execute(select(func.count()).select_from(m)).scalar_one()) for m in ENTRY_MODELS)


def burst(app: Flask, tickets: list[str], per_ticket: int) -> int:
    """Every ticket's entries added and committed in one transaction, as the host's own models."""
    with app.test_request_context():
        for ticket in tickets:
            for n in range(per_ticket):
                db.session.add(_entry(MIX[n % len(MIX)], int(ticket), n))
        db.session.commit()
        db.session.remove()
    return len(tickets) * per_ticket


def _entry(kind: str, ticket: int, n: int) -> Any:
    if kind == "note":
        return Note(ticket_id=ticket, author="Bench", body=f"Progress note {n}", internal=False)
    if kind == "time":
        return TimeEntry(ticket_id=ticket, resource="Bench", work_date=date.today(), hours=Decimal("0.25"))
    if kind == "charge":
        return Charge(ticket_id=ticket, name=f"Part {n}", quantity=Decimal(1), unit_price=Decimal("4.50"))
    return Attachment(
        ticket_id=ticket, filename=f"log-{n}.bin", media_type="application/octet-stream", size=1024, data=ATTACHMENT
    )


def plain_tickets(app: Flask, count: int) -> list[str]:
    """``count`` new tickets with no engagement, from the host's own models."""
    with app.app_context():
        tickets = [Ticket(title=f"Floor ticket {n}") for n in range(count)]
        db.session.add_all(tickets)
        db.session.commit()
        return [str(t.id) for t in tickets]


@contextmanager
def workers(*hosts: Host) -> Iterator[list[int]]:
    """One ``flask outsource worker`` per host; yields their pids, stops them on exit."""
    started = [host.spawn("outsource", "worker") for host in hosts]
    try:
        yield [p.pid for p in started]
    finally:
        for process in started:
            process.terminate()
            process.wait(timeout=30)


def floor(lead: Host, tickets: int, per_ticket: int) -> list[float]:
    """Seconds for the lead's own app to commit ``tickets`` x ``per_ticket`` entries in one transaction,
    on plain tickets, ``FLOOR_RUNS`` times; a warm-up entry first, as the sync's burst finds its app warm."""
    app = host_app(lead)
    try:
        plain = plain_tickets(app, tickets + 1)
        burst(app, plain[:1], 1)
        runs = []
        for _ in range(FLOOR_RUNS):
            started = time.monotonic()
            burst(app, plain[1:], per_ticket)
            runs.append(time.monotonic() - started)
        return runs
    finally:
        with app.app_context():
            db.engine.dispose()


@dataclass(frozen=True)
class Burst:
    commit_seconds: float
    sync_seconds: float
    #: per worker, MiB: its RSS just before the burst, and its peak from then to the sync's end
    at_rest: dict[str, float]
    peak: dict[str, float]


def synced(app: Flask, lead_db: Engine, tickets: list[str], per_ticket: int, pids: dict[str, int]) -> Burst:
    """One burst on the service: committed, then followed until its last entry is on the lead."""
    expected = entry_count(lead_db) + len(tickets) * per_ticket
    for pid in pids.values():
        restart_peak_rss(pid)
    at_rest = {name: rss_mb(pid) for name, pid in pids.items()}
    started = time.monotonic()
    burst(app, tickets, per_ticket)
    committed = time.monotonic()
    eventually(lambda: entry_count(lead_db) >= expected, timeout=900, interval=0.05, what="every entry on the lead")
    synced_at = time.monotonic()
    peak = {name: peak_rss_mb(pid) for name, pid in pids.items()}
    return Burst(committed - started, synced_at - committed, at_rest, peak)


def run(database: str, engagements: int, per_ticket: int) -> Section:
    label = database_label(database)
    section = Section(f"1. Sync throughput against its floor ({label})")
    with host_pair(database, {"OUTSOURCE_SCHEDULER": "0"}) as pair, workers(pair.lead, pair.service) as pids:
        started = time.monotonic()
        linked = open_in_progress(pair, engagements)
        print(f"  {engagements} engagements in progress in {time.monotonic() - started:.0f} s", flush=True)
        # one engine for the counts, made before any clock starts: counting often must cost the hosts little
        lead_db = engine_for(pair.lead.database_url)
        app = host_app(pair.service)
        names = {"lead worker (polls)": pids[0], "service worker (delivers)": pids[1]}
        try:
            bursts = []
            for _ in range(BURSTS):
                for host in (pair.lead, pair.service):
                    analyse(host.database_url)
                bursts.append(synced(app, lead_db, [s for _, s in linked], per_ticket, names))
        finally:
            lead_db.dispose()
            with app.app_context():
                db.engine.dispose()
        floor_runs = floor(pair.lead, engagements, per_ticket)
    total = engagements * per_ticket
    sync_seconds, floor_seconds = min(b.sync_seconds for b in bursts), min(floor_runs)
    sync_rate, floor_rate = total / sync_seconds, total / floor_seconds
    ratio = sync_seconds / floor_seconds
    section.add(
        f"{engagements} engagements in progress x {per_ticket} entries = {total} entries a burst, "
        f"{BURSTS} bursts (each committed in {listed((b.commit_seconds for b in bursts), 1)} s); the best of each"
    )
    section.add(
        f"sync: {sync_seconds:.1f} s from the burst's commit to the last entry on the lead = {sync_rate:.0f} entries/s "
        f"({listed((b.sync_seconds for b in bursts), 1)})"
    )
    section.add(
        f"floor: {floor_seconds:.2f} s for the lead committing them in one transaction on plain tickets "
        f"= {floor_rate:.0f} entries/s ({listed(floor_runs, 2)})"
    )
    section.add(f"ratio sync/floor: {ratio:.2f} (target <= {TARGET}: {'met' if ratio <= TARGET else 'MISSED'})")
    first = bursts[0]
    growth = max(first.peak[name] / first.at_rest[name] for name in names)
    section.add(
        "peak RSS during the first burst and its sync (the workers' first after start-up): "
        + ", ".join(f"{name} {first.peak[name]:.0f} MiB ({first.at_rest[name]:.0f} MiB before)" for name in names)
        + f"; largest ratio {growth:.2f} (target <= {RSS_RATIO}: {'met' if growth <= RSS_RATIO else 'MISSED'})"
    )
    section.figures = {
        "ratio": ratio,
        "sync_rate": sync_rate,
        "floor_rate": floor_rate,
        "rss_ratio": growth,
        **first.peak,
    }
    return section
