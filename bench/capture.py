"""Benchmark 1a: the cost of capture in the host's own transaction.

The service host commits N entries (notes, time, charges, small attachments)
in one transaction, once on tickets whose engagement is In Progress and once
on tickets that are not outsourced: same entries, same run, same database.
The ratio is the plugin's overhead on a host's bulk write (issue 18, target 1).
No worker runs, so the timings hold capture alone, not delivery.
"""

from __future__ import annotations

import gc
import time

from sqlalchemy import insert

from bench.common import Section, database_label, engine_for, host_pair
from bench.scale import engagement_row, ticket_rows
from bench.throughput import burst, host_app
from examples.helpdesk.models import db
from outsource_plugin.db.models import Engagement, utcnow
from outsource_plugin.workflow import Side, Status

TARGET = 1.5


def outsourced_tickets(url: str, partner_id: int, count: int) -> tuple[list[str], list[str]]:
    """``count`` service tickets with an In Progress engagement and ``count`` plain ones, written
    straight into the database."""
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            now = utcnow()
            ids = ticket_rows(conn, range(count))
            rows = [
                engagement_row(n, ticket, partner_id, now, Side.SERVICE, Status.IN_PROGRESS)
                for n, ticket in enumerate(ids)
            ]
            conn.execute(insert(Engagement), rows)
            plain = ticket_rows(conn, range(count, 2 * count))
    finally:
        engine.dispose()
    return [str(t) for t in ids], [str(t) for t in plain]


#: the bursts, in the order they run: each kind as often first as second in a pair, so that
#: neither pays for a database grown by the other's rows, and each kind timed eight times, its best
#: kept: on a shared machine a neighbour's load only ever adds time (a plain CPU loop here ranged
#: 0.29 to 0.44 s, and four bursts of a kind 0.72 to 1.24 s)
ORDER = ("plain", "outsourced", "outsourced", "plain") * 4


def run(database: str, tickets: int, per_ticket: int) -> Section:
    label = database_label(database)
    section = Section(f"1a. Capture overhead in the host's transaction ({label})")
    with host_pair(database, {"OUTSOURCE_SCHEDULER": "0"}) as pair:
        outsourced, plain = outsourced_tickets(pair.service.database_url, pair.service_partner_id, tickets)
        app = host_app(pair.service)
        # warm: models, connections, and each kind's statements (capture's are compiled on first use)
        burst(app, plain[:1], 1)
        burst(app, outsourced[:1], 1)
        targets = {"plain": plain, "outsourced": outsourced}
        timings: dict[str, list[float]] = {kind: [] for kind in targets}
        for kind in ORDER:
            # each burst starts with no garbage left by the one before: the collector took about a fifth
            # of a plain burst here (0.16 to 0.23 s, 2 or 3 full collections), and what the last burst
            # left decided when they came
            gc.collect()
            t0 = time.monotonic()
            total = burst(app, targets[kind], per_ticket)
            timings[kind].append(time.monotonic() - t0)
        with app.app_context():
            db.engine.dispose()
    plain_seconds, outsourced_seconds = min(timings["plain"]), min(timings["outsourced"])
    ratio = outsourced_seconds / plain_seconds
    section.add(
        f"{tickets} tickets x {per_ticket} entries = {total} entries committed in one transaction, "
        f"{len(ORDER) // 2} times on each kind of ticket, alternately; the best of each"
    )
    section.add(
        f"plain tickets: {plain_seconds:.2f} s ({_all(timings['plain'])}); "
        f"outsourced (In Progress) tickets: {outsourced_seconds:.2f} s ({_all(timings['outsourced'])})"
    )
    section.add(f"ratio outsourced/plain: {ratio:.2f} (target <= {TARGET}: {'met' if ratio <= TARGET else 'MISSED'})")
    section.figures = {"ratio": ratio, "plain_s": plain_seconds, "outsourced_s": outsourced_seconds}
    return section


def _all(seconds: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in seconds)
