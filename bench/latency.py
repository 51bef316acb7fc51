"""Benchmark 2: latency from a note added on the service side to its copy on the lead.

Each change is a real request to the service host's API; a few are in flight
at a time (light load). The latency is read from the two databases afterwards:
the lead copy's ``created_at`` minus the original's, both stamped by the hosts
on one machine clock, so the measuring loop adds no polling error.

"Nudges on" is the shipped design: the commit that queues a message wakes the
service's delivery job, which pushes it to the lead's federation API at once.
"Polling alone" loses every push (the proxy in front of the lead closes the
connection, as for an unreachable partner), so changes cross only when the
lead polls the service's feed.
"""

from __future__ import annotations

import random
import time
from datetime import datetime

from sqlalchemy import text

from bench.common import Section, database_label, engine_for, host_pair, open_in_progress, summary_ms
from tests.polling import eventually


def _naive(value: datetime | str) -> datetime:
    """Both databases' timestamps on one footing: UTC without tzinfo (SQLite returns text)."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed.astimezone(None).replace(tzinfo=None)


def measure(database: str, env: dict[str, str], changes: int, inflight: int, gap: float, *, push: bool) -> list[float]:
    """Post ``changes`` notes on the service side, ``gap`` seconds apart on average and at most
    ``inflight`` unseen at the lead; return their latencies."""
    with host_pair(database, env) as pair:
        linked = open_in_progress(pair, inflight, timeout=120)
        pair.to_lead.down = not push
        lead_db, service_db = engine_for(pair.lead.database_url), engine_for(pair.service.database_url)
        arrived_sql = text("SELECT count(*) FROM outsource_entry_link WHERE entry_key LIKE 'service:note:%'")
        with lead_db.connect() as conn:
            baseline = int(conn.execute(arrived_sql).scalar_one())

        def arrived() -> int:
            with lead_db.connect() as conn:
                return int(conn.execute(arrived_sql).scalar_one()) - baseline

        posted: list[int] = []
        api = pair.service_api
        pacing = random.Random(7)
        for n in range(changes):
            ticket = linked[n % len(linked)][1]
            posted.append(int(api.post(f"/api/tickets/{ticket}/notes", {"body": f"Change {n}"})["id"]))
            # open-loop arrivals at random moments, so no change is timed against the poll's phase
            time.sleep(pacing.expovariate(1 / gap))
            eventually(lambda: arrived() > len(posted) - inflight, timeout=60, interval=0.01, what="the lead copy")
        eventually(lambda: arrived() >= len(posted), timeout=60, interval=0.05, what="every change on the lead")
        return _latencies(lead_db, service_db, posted)


def _latencies(lead_db: object, service_db: object, posted: list[int]) -> list[float]:
    wanted = set(posted)
    with service_db.connect() as conn:  # type: ignore[attr-defined]
        made = {
            int(i): _naive(at) for i, at in conn.execute(text("SELECT id, created_at FROM hd_note")) if int(i) in wanted
        }
    with lead_db.connect() as conn:  # type: ignore[attr-defined]
        rows = conn.execute(
            text(
                "SELECT l.entry_key, n.created_at FROM outsource_entry_link l "
                "JOIN hd_note n ON CAST(n.id AS VARCHAR(64)) = l.local_id "
                "WHERE l.entry_key LIKE 'service:note:%'"
            )
        )
        # service:note:<the service's note id>:<the life's token> (wire.entry_key)
        seen = {int(key.split(":")[2]): _naive(at) for key, at in rows}
    return [(seen[i] - made[i]).total_seconds() for i in posted]


def run(database: str, changes: int, inflight: int, poll_interval: float, gap: float) -> Section:
    label = database_label(database)
    section = Section(f"2. Change latency, service note to lead copy ({label})")
    interval = f"{poll_interval:g}"
    env = {"OUTSOURCE_POLL_INTERVAL": interval, "OUTSOURCE_DELIVERY_INTERVAL": "1.0"}
    runs = {"nudges on": True, "polling alone": False}
    section.add(
        f"{changes} changes per mode, one every {gap * 1000:.0f} ms on average (random), {inflight} in flight at most, "
        f"poll interval {interval} s, delivery interval 1 s (the default)"
    )
    for mode, push in runs.items():
        figures = summary_ms(measure(database, env, changes, inflight, gap, push=push))
        section.figures.update({f"{mode} {k}": v for k, v in figures.items()})
        if mode == "nudges on":
            met = figures["p50_ms"] < 250 and figures["p95_ms"] < 1000
            target = "p50 < 250 ms, p95 < 1000 ms"
        else:
            met = figures["p50_ms"] < poll_interval * 500 and figures["p95_ms"] < poll_interval * 1000 + 200
            target = f"p50 < {poll_interval * 500:.0f} ms, p95 < {poll_interval * 1000 + 200:.0f} ms"
        section.add(
            f"{mode}: p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms, "
            f"mean {figures['mean_ms']:.0f} ms (target {target}: {'met' if met else 'MISSED'})"
        )
    return section
