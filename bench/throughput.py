"""Benchmark 1 (and half of 5): sync throughput against its floor, and the workers' peak RSS.

Engagements in progress between two real hosts; on the service side a burst of
entries (notes, time, charges, small attachments) is committed in one
transaction; the clock runs from that commit until every entry is on the
lead. The floor is the same number of entries posted one by one into the lead
host's own API, on tickets that are not outsourced: the HTTP and database work
of an entry without the plugin's logic.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from bench.common import Section, database_label, engine_for, host_pair, open_in_progress, peak_rss_mb
from examples.helpdesk import create_app
from examples.helpdesk.app import settings_from_env
from examples.helpdesk.models import Attachment, Charge, Note, TimeEntry, db
from tests.cross_host.hosts import Client, Host
from tests.polling import eventually

#: of every 10 entries: 4 notes, 3 time entries, 2 charges, 1 attachment
MIX = ("note", "time", "note", "charge", "time", "note", "attachment", "time", "note", "charge")
ATTACHMENT = bytes(range(256)) * 4  # 1 KiB
ENTRY_MODELS = (Note, TimeEntry, Charge, Attachment)


def host_app(host: Host) -> Flask:
    """The host's own app in this process, on its database, with no jobs: for bulk writes."""
    return create_app({**settings_from_env(host.env()), "OUTSOURCE_SCHEDULER": False})


def entry_count(url: str) -> int:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return sum(int(conn.execute(select(func.count()).select_from(m)).scalar_one()) for m in ENTRY_MODELS)
    finally:
        engine.dispose()


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


def post_floor(api: Client, tickets: list[str], per_ticket: int) -> int:
    """The same entries, one HTTP request each, into the lead's own API."""
    for ticket in tickets:
        for n in range(per_ticket):
            kind = MIX[n % len(MIX)]
            if kind == "note":
                api.post(f"/api/tickets/{ticket}/notes", {"body": f"Progress note {n}"})
            elif kind == "time":
                api.post(f"/api/tickets/{ticket}/time", {"work_date": date.today().isoformat(), "hours": "0.25"})
            elif kind == "charge":
                api.post(f"/api/tickets/{ticket}/charges", {"name": f"Part {n}", "unit_price": "4.50"})
            else:
                api.post(f"/api/tickets/{ticket}/attachments", files={"file": (f"log-{n}.bin", io.BytesIO(ATTACHMENT))})
    return len(tickets) * per_ticket


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


def run(database: str, engagements: int, per_ticket: int) -> Section:
    label = database_label(database)
    section = Section(f"1. Sync throughput against its floor ({label})")
    with host_pair(database, {"OUTSOURCE_SCHEDULER": "0"}) as pair, workers(pair.lead, pair.service) as pids:
        started = time.monotonic()
        linked = open_in_progress(pair, engagements)
        print(f"  {engagements} engagements in progress in {time.monotonic() - started:.0f} s", flush=True)
        lead_url = pair.lead.database_url
        expected = entry_count(lead_url) + engagements * per_ticket
        app = host_app(pair.service)
        t0 = time.monotonic()
        total = burst(app, [service for _, service in linked], per_ticket)
        committed = time.monotonic()
        eventually(lambda: entry_count(lead_url) >= expected, timeout=900, interval=0.2, what="every entry on the lead")
        sync_seconds = time.monotonic() - committed
        rss = {"lead worker (polls)": peak_rss_mb(pids[0]), "service worker (delivers)": peak_rss_mb(pids[1])}
        with app.app_context():
            db.engine.dispose()
        floor_tickets = [
            str(pair.lead_api.post("/api/tickets", {"title": f"Floor {n}"})["id"]) for n in range(engagements)
        ]
        f0 = time.monotonic()
        post_floor(pair.lead_api, floor_tickets, per_ticket)
        floor_seconds = time.monotonic() - f0
    sync_rate, floor_rate = total / sync_seconds, total / floor_seconds
    ratio = sync_rate / floor_rate
    section.add(
        f"{engagements} engagements in progress x {per_ticket} entries = {total} entries "
        f"(burst committed in {committed - t0:.1f} s)"
    )
    section.add(
        f"sync: {sync_seconds:.1f} s from the burst's commit to the last entry on the lead = {sync_rate:.0f} entries/s"
    )
    section.add(f"floor: {floor_seconds:.1f} s posting them into the lead's own API = {floor_rate:.0f} entries/s")
    section.add(f"ratio sync/floor: {ratio:.2f} (target >= 0.5: {'met' if ratio >= 0.5 else 'MISSED'})")
    section.add("peak RSS: " + ", ".join(f"{name} {mb:.0f} MiB" for name, mb in rss.items()))
    section.figures = {"ratio": ratio, "sync_rate": sync_rate, "floor_rate": floor_rate, **rss}
    return section
