"""Benchmarks 3, 4 and 5: a host with 100 to 1,000,000 idle engagements.

The engagements and their tickets are written straight into the lead's
database with set-based inserts (one executemany per chunk), not through the
API: the benchmark is about reading them. They are of both roles and every
status of the role's folders, so every folder of the dashboard holds its share;
reconciliation's repair then brings the maintained status counts in line, as it
would after any bulk load. Then, on the same database:

- 3. one poll round of the peer partner, which has no changes: the HTTP
  requests it makes (counted by the pass-through proxy in front of the
  service host) and its time, in this process, as the best of 20 rounds;
- 5. the peak RSS of a ``flask outsource sync --once`` worker process;
- 4. the dashboard (every folder of both roles, sorted by updated and by
  created) and a ticket page with its bar, timed from the client over
  loopback (an upper bound of the server time).

The hosts are served by waitress, the production WSGI server the README and
the demo use, not by ``flask run``'s development server.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from bench.common import RSS_RATIO, Section, database_label, engine_for, host_pair, summary_ms
from bench.throughput import host_app
from examples.helpdesk.models import Ticket, db
from outsource_plugin.core.status_counts import check, fold
from outsource_plugin.db.models import Engagement, utcnow
from outsource_plugin.jobs.poll import poll_all
from outsource_plugin.workflow import FOLDER_STATUSES, Side, Status, folders_for
from tests.cross_host.conftest import Pair
from tests.cross_host.hosts import WaitressHost

CHUNK = 10_000
#: what the seeded engagements cycle through: each role with every status of its folders
MIX = [(role, status) for role in (Side.LEAD, Side.SERVICE) for f in folders_for(role) for status in FOLDER_STATUSES[f]]
#: targets (issue 18): p95 of every dashboard folder and of the ticket page, in ms; worker RSS ratio
FOLDER_P95_MS, TICKET_P95_MS = 50.0, 30.0


def seed(url: str, partner_id: int, total: int) -> float:
    """Grow the host's engagements with the partner to ``total``, and its status counts; seconds taken."""
    started = time.monotonic()
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            have = int(conn.execute(select(func.count()).select_from(Engagement)).scalar_one())
            now = utcnow()
            for first in range(have, total, CHUNK):
                numbers = range(first, min(first + CHUNK, total))
                ids = ticket_rows(conn, numbers)
                conn.execute(
                    insert(Engagement),
                    [
                        engagement_row(n, ticket, partner_id, now, *MIX[n % len(MIX)])
                        for n, ticket in zip(numbers, ids, strict=True)
                    ],
                )
            with Session(conn) as session:
                check(session, repair=True)
                fold(session)
                session.flush()
        # what autovacuum would have done by the time anyone looks: planner statistics, visibility map
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    finally:
        engine.dispose()
    return time.monotonic() - started


def ticket_rows(conn: Any, numbers: range) -> list[int]:
    """New plain tickets, one executemany; their ids in order."""
    rows = [
        {"title": f"Bulk ticket {n}", "description": "", "status": "New", "priority": "Medium", "contact": {}}
        for n in numbers
    ]
    conn.execute(insert(Ticket), rows)
    return list(conn.scalars(select(Ticket.id).order_by(Ticket.id.desc()).limit(len(rows))))[::-1]


def engagement_row(n: int, ticket: int, partner_id: int, now: Any, role: Side, status: Status) -> dict[str, Any]:
    """The ``n``th seeded engagement, of ``role`` in ``status``."""
    at = now - timedelta(seconds=n)
    return {
        "uid": f"bulk{role.value[0]}{n:027d}",
        "role": role,
        "ticket_id": str(ticket),
        "ticket_number": f"T{ticket:05d}",
        "partner_id": partner_id,
        "status": status,
        "terms": {},
        "assigned_at": at,
        "accepted_at": None if status in (Status.UNSENT, Status.ASSIGNED) else at,
        "created_at": at,
        "updated_at": at,
    }


def poll_round(pair: Pair, app: Any, rounds: int = 20) -> tuple[float, float]:
    """Seconds of one poll round, the best of ``rounds``, and the HTTP requests each made.

    The best, not the median: a round takes 15 to 25 ms, and a median of five rounds moved with
    what the machine's neighbours did in that tenth of a second (ratios 0.77 and 1.63 in two runs
    of one commit). Noise only ever adds time.
    """
    state = app.extensions["outsource"]
    times = []
    with app.app_context():
        poll_all(state)  # warm: adapter, connections
        seen = len(pair.to_service.seen)
        for _ in range(rounds):
            started = time.perf_counter()
            poll_all(state)
            times.append(time.perf_counter() - started)
        requests = (len(pair.to_service.seen) - seen) / rounds
        db.session.remove()
    return min(times), requests


def worker_rss(pair: Pair) -> float:
    """Peak RSS, in MiB, of a ``flask outsource sync --once`` process (one full round) on the lead."""
    process = pair.lead.spawn("outsource", "sync", "--once", log_name="sync.log")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"sync --once failed: {(pair.lead.folder / 'sync.log').read_text()[-2000:]}")
    return usage.ru_maxrss / 1024


def page_times(pair: Pair, ticket: str, samples: int) -> dict[str, list[float]]:
    """Client-side seconds for the dashboard (each folder of each role) and one ticket page with its bar."""
    api = pair.lead_api
    urls = {"ticket page with its bar": f"/tickets/{ticket}"}
    for role in (Side.LEAD, Side.SERVICE):
        for folder in folders_for(role):
            for sort in ("-updated", "-created"):
                urls[f"dashboard {role.value}/{folder.value} by {sort[1:]}"] = (
                    f"/outsource/dashboard?role={role.value}&folder={folder.value}&sort={sort}"
                )
    times: dict[str, list[float]] = {name: [] for name in urls}
    for _ in range(samples):
        for name, url in urls.items():
            started = time.perf_counter()
            response = api.call("GET", url)
            times[name].append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{url} answered {response.status_code}")
    return times


def run(database: str, sizes: list[int], samples: int) -> list[Section]:
    label = database_label(database)
    poll = Section(f"3. Poll cost with idle tickets ({label})")
    memory = Section(f"5. Peak RSS of a worker (sync --once) against idle engagements ({label})")
    pages = Section(f"4. Pages at {sizes[-1]:,} engagements ({label})")
    # served by waitress, as in production: Werkzeug's development server starts a thread per request
    with host_pair(database, {"OUTSOURCE_SCHEDULER": "0"}, WaitressHost) as pair:
        app = host_app(pair.lead)
        results = {}
        for size in sizes:
            took = seed(pair.lead.database_url, pair.lead_partner_id, size)
            seconds, requests = poll_round(pair, app)
            rss = worker_rss(pair)
            results[size] = (seconds, requests, rss)
            poll.add(
                f"{size:,} engagements (seeded in {took:.1f} s): "
                f"{requests:g} HTTP requests, {seconds * 1000:.1f} ms per round"
            )
            memory.add(f"{size:,} engagements: {rss:.0f} MiB")
        small, large = results[sizes[0]], results[sizes[-1]]
        ratio = large[0] / small[0]
        same = len({r[1] for r in results.values()}) == 1
        poll.add(f"requests the same at every size: {'yes, met' if same else 'no, MISSED'}")
        poll.add(
            f"time ratio {sizes[-1]:,} / {sizes[0]:,}: {ratio:.2f} "
            f"(target <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'})"
        )
        poll.figures = {"time_ratio": ratio, "rss_ratio": large[2] / small[2]}
        rss_ratio = large[2] / small[2]
        memory.add(
            f"RSS ratio {sizes[-1]:,} / {sizes[0]:,}: {rss_ratio:.2f} "
            f"(target <= {RSS_RATIO}: {'met' if rss_ratio <= RSS_RATIO else 'MISSED'})"
        )
        memory.figures = {"rss_ratio": rss_ratio}
        with app.app_context():
            ticket = db.session.scalar(select(Engagement.ticket_id).order_by(Engagement.id.desc()).limit(1))
            db.session.remove()
            db.engine.dispose()
        worst, ticket_p95 = 0.0, 0.0
        for name, values in page_times(pair, str(ticket), samples).items():
            figures = summary_ms(values)
            if name.startswith("dashboard"):
                worst = max(worst, figures["p95_ms"])
            else:
                ticket_p95 = figures["p95_ms"]
            pages.add(f"{name}: p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms")
        pages.add(
            f"worst dashboard p95 {worst:.1f} ms over {samples} requests each "
            f"(target < {FOLDER_P95_MS:.0f} ms: {'met' if worst < FOLDER_P95_MS else 'MISSED'})"
        )
        pages.add(
            f"ticket page p95 {ticket_p95:.1f} ms "
            f"(target < {TICKET_P95_MS:.0f} ms: {'met' if ticket_p95 < TICKET_P95_MS else 'MISSED'})"
        )
        pages.figures = {"worst_p95_ms": worst, "ticket_p95_ms": ticket_p95}
    return [poll, pages, memory]
