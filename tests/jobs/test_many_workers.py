"""Production topology: two organisations, each with 2 web processes and 4 workers on one
PostgreSQL server, 500 engagements exchanging entries while workers are SIGKILLed and restarted.

At the end every message is delivered, no entry exists twice on either side, no auto-decline
or completion ran twice for an engagement, and the worker logs show leases taken over.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, bindparam, create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import fresh_database
from tests.cross_host.conftest import register
from tests.cross_host.hosts import Client, FaultProxy, Host
from tests.jobs.conftest import FIGURES
from tests.polling import eventually

pytestmark = [pytest.mark.postgresql, pytest.mark.many_connections]

ENGAGEMENTS = 500
EXPIRED = 50  # offers whose acceptance deadline passes: auto-declined by whichever worker gets there
COMPLETED = 100  # taken through submit and approve: the completion cascade
WORKERS = 4
WEB = 2
API = "/outsource/api/v1"
T = TypeVar("T")
U = TypeVar("U")

#: A partner's poll acknowledges what it reads, so a dead worker's messages would mostly be
#: acknowledged that way; polling less often than a lease lasts leaves them to be taken over.
WORKER_ENV = {
    "OUTSOURCE_SCHEDULER": "0",
    "OUTSOURCE_DELIVERY_LEASE": "2",
    "OUTSOURCE_POLL_INTERVAL": "6",
    "OUTSOURCE_DELIVERY_BATCH": "25",
    "OUTSOURCE_MAX_ATTEMPTS": "1000",
}


@dataclass
class Organisation:
    """One help desk: its web processes behind a round-robin proxy, and its workers."""

    webs: list[Host]
    proxy: FaultProxy
    workers: list[Any] = field(default_factory=list)
    log_offsets: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def host(self) -> Host:
        return self.webs[0]

    def client(self) -> Client:
        return self.host.client()

    def start_worker(self, slot: int) -> None:
        log = self.host.folder / f"worker-{slot}.log"
        self.log_offsets[slot] = log.stat().st_size if log.exists() else 0
        self.workers[slot] = self.host.spawn("outsource", "worker", log_name=log.name)

    def running(self, slot: int) -> bool:
        """Started and past loading the app: killing it now interrupts real work, not an import."""
        with (self.host.folder / f"worker-{slot}.log").open("rb") as log:
            log.seek(self.log_offsets[slot])
            return b"outsource worker started" in log.read()

    def kill_one(self, rng: random.Random) -> bool:
        """Kill a worker that holds a lease when one does (its messages must be taken over),
        else any worker past start-up; always leave one running."""
        with self.lock:
            ready = [slot for slot in range(len(self.workers)) if self.running(slot)]
            if len(ready) < 2:
                return False
            holders = self.lease_holders()
            holding = [slot for slot in ready if self.workers[slot].pid in holders]
            slot = rng.choice(holding or ready)
            self.workers[slot].kill()
            self.workers[slot].wait(timeout=15)
            self.start_worker(slot)
            return True

    def lease_holders(self) -> set[int]:
        """Pids of the workers holding outbox leases now (``claimed_by`` is ``host:pid``)."""
        with self.engine.connect() as conn:
            names = conn.execute(
                text(
                    "SELECT DISTINCT claimed_by FROM outsource_outbox WHERE state = 'pending' AND claimed_until > now()"
                )
            ).scalars()
            return {int(name.rsplit(":", 1)[1]) for name in names}

    def stop_workers(self) -> None:
        for process in self.workers:
            process.terminate()
            process.wait(timeout=30)

    def worker_logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.host.folder.glob("worker-*.log"))

    @cached_property
    def engine(self) -> Engine:
        return create_engine(self.host.database_url, pool_size=2)


@contextmanager
def organisation(name: str, domain: str, folder: Path, database_url: str) -> Iterator[Organisation]:
    webs = [Host(name, domain, folder, database_url, extra_env=WORKER_ENV) for _ in range(WEB)]
    turn = itertools.cycle(webs)
    turn_lock = threading.Lock()

    def next_web() -> str:
        with turn_lock:
            return next(turn).base

    org = Organisation(webs, FaultProxy(next_web))
    try:
        webs[0].seed()
        for web in webs:
            web.start()
        yield org
    finally:
        org.stop_workers()
        for web in webs:
            web.stop()
        org.proxy.close()
        org.engine.dispose()


#: connections the topology holds at its peak, measured (67): its processes' pools and the test's own
FREE_CONNECTIONS_NEEDED = 75


def check_free_connections(url: str) -> None:
    """Fail up front, naming what holds the server's slots, rather than with "too many clients"
    from whichever of a dozen processes connects last."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
            holders = conn.execute(
                text(
                    "SELECT coalesce(datname, '-') AS db, coalesce(application_name, '') AS app, count(*) AS n "
                    "FROM pg_stat_activity GROUP BY 1, 2 ORDER BY 3 DESC"
                )
            ).all()
    finally:
        engine.dispose()
    free = limit - sum(row.n for row in holders)
    assert free >= FREE_CONNECTIONS_NEEDED, (
        f"only {free} of the server's {limit} connections are free, this topology needs "
        f"{FREE_CONNECTIONS_NEEDED}; held now: " + ", ".join(f"{row.db} {row.app!r}: {row.n}" for row in holders)
    )


@pytest.fixture(scope="module")
def orgs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Organisation, Organisation]]:
    with ExitStack() as stack:
        urls = [stack.enter_context(fresh_database(tmp_path_factory.mktemp(f"db{i}"))) for i in range(2)]
        assert all(url.startswith("postgresql") for url in urls), "this topology runs on PostgreSQL"
        check_free_connections(urls[0])
        lead = stack.enter_context(
            organisation("Northwind IT", "northwind.example", tmp_path_factory.mktemp("n"), urls[0])
        )
        service = stack.enter_context(
            organisation("Contoso Field Services", "contoso.example", tmp_path_factory.mktemp("c"), urls[1])
        )
        yield lead, service


def parallel(work: Callable[[T], U], items: list[T]) -> list[U]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(work, items))


def folder_items(client: Client, role: str, folder: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = ""
    while True:
        page = client.get(f"{API}/dashboard/{role}/{folder}?limit=500{after}")
        items += page["items"]
        if not page["next"]:
            return items
        after = f"&after={page['next']}"


class Killer:
    """SIGKILLs a random worker of either organisation every ``period`` seconds and starts a new one."""

    def __init__(self, orgs: tuple[Organisation, ...], period: float = 3.0) -> None:
        self.orgs, self.period, self.kills = orgs, period, 0
        self.stopped = threading.Event()
        self.rng = random.Random(6)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stopped.wait(self.period):
            self.kills += self.rng.choice(self.orgs).kill_one(self.rng)

    def __enter__(self) -> Killer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)


def test_many_workers_deliver_everything_once(orgs: tuple[Organisation, Organisation]) -> None:
    lead, service = orgs
    secret = "many-workers-shared-secret-0123456789"
    lead_partner = register(lead.client(), "Contoso Field Services", f"{service.proxy.url}/outsource", secret)
    register(service.client(), "Northwind IT", f"{lead.proxy.url}/outsource", secret)
    for org in orgs:
        org.workers = [None] * WORKERS
        for slot in range(WORKERS):
            org.start_worker(slot)
    lead_api, service_api = lead.client(), service.client()
    customer = str(service_api.get("/api/customers")["customers"][0]["id"])

    with Killer(orgs) as killer:

        def outsource(n: int) -> tuple[str, str]:
            ticket = str(lead_api.post("/api/tickets", {"title": f"Job {n}", "description": "many workers"})["id"])
            lead_api.post(f"{API}/tickets/{ticket}/outsource", {"partner_id": lead_partner, "terms": {}})
            uid = lead_api.post(f"{API}/tickets/{ticket}/outsource/actions", {"action": "send"})["engagement"]["uid"]
            return ticket, uid

        sent = parallel(outsource, list(range(ENGAGEMENTS)))
        uids = [uid for _, uid in sent]
        expiring = set(uids[:EXPIRED])
        with lead.engine.begin() as conn:  # their acceptance deadline passes
            conn.execute(
                text(
                    "UPDATE outsource_engagement SET acceptance_deadline = now() - interval '1 second' "
                    "WHERE uid = ANY(:uids)"
                ),
                {"uids": list(expiring)},
            )
        waiting = {uid for uid in uids if uid not in expiring}
        offers = eventually(
            lambda: (
                (o := folder_items(service_api, "service", "waiting_acceptance"))
                and waiting <= {item["uid"] for item in o}
                and o
            ),
            timeout=300,
            interval=1,
        )
        by_uid = {o["uid"]: o["id"] for o in offers}
        accepted = [(t, u) for t, u in sent if u not in expiring]

        def accept(pair: tuple[str, str]) -> tuple[str, str, str]:
            engagement = service_api.post(
                f"{API}/engagements/{by_uid[pair[1]]}/actions", {"action": "accept", "customer_ref": customer}
            )
            return pair[0], pair[1], str(engagement["ticket_id"])

        linked = parallel(accept, accepted)
        eventually(
            lambda: _count(lead, "accepted", "in_progress") == len(linked),
            timeout=240,
            interval=1,
        )

        def exchange(link: tuple[str, str, str]) -> None:
            lead_ticket, uid, service_ticket = link
            lead_api.post(f"/api/tickets/{lead_ticket}/notes", {"body": f"lead note {uid}"})
            service_api.post(f"/api/tickets/{service_ticket}/notes", {"body": f"service note {uid}"})
            service_api.post(f"/api/tickets/{service_ticket}/charges", {"name": f"part {uid}", "unit_price": "3.00"})

        parallel(exchange, linked)
        finishing = linked[:COMPLETED]
        eventually(lambda: _count(lead, "in_progress") == len(linked), timeout=300, interval=1)
        parallel(
            lambda link: service_api.post(f"{API}/engagements/{by_uid[link[1]]}/actions", {"action": "submit"}),
            finishing,
        )
        eventually(lambda: _count(lead, "waiting_approval") == COMPLETED, timeout=300, interval=1)
        parallel(
            lambda link: lead_api.post(f"{API}/tickets/{link[0]}/outsource/actions", {"action": "approve"}), finishing
        )
        eventually(lambda: killer.kills >= 8, timeout=120, interval=0.5)

    for org in orgs:  # the last word: every queued message reaches the partner
        eventually(lambda org=org: _outbox(org) == {"delivered"}, timeout=300, interval=1)
    eventually(lambda: _count(service, "complete") == COMPLETED, timeout=120, interval=1)
    assert _count(lead, "complete") == COMPLETED
    assert _count(lead, "declined") == EXPIRED
    eventually(lambda: _count(service, "declined") == EXPIRED, timeout=120, interval=1)

    for org in orgs:
        with org.engine.connect() as conn:
            twice = conn.execute(
                text(
                    "SELECT ticket_id, body, count(*) FROM hd_note GROUP BY ticket_id, body HAVING count(*) > 1 "
                    "UNION ALL SELECT ticket_id, name, count(*) FROM hd_charge "
                    "GROUP BY ticket_id, name HAVING count(*) > 1"
                )
            ).all()
            assert twice == [], f"entries doubled: {twice[:5]}"
            repeated = conn.execute(
                text(
                    "SELECT engagement_uid, action, side, count(*) FROM outsource_audit_event "
                    "GROUP BY engagement_uid, action, side HAVING count(*) > 1"
                )
            ).all()
            assert repeated == [], f"a transition ran twice: {repeated[:5]}"
    _assert_every_entry_crossed(lead, service, linked)
    for org in orgs:  # a deadlock aborts a request (a 500) or a worker's round: neither is expected
        logs = "".join(p.read_text(errors="replace") for p in org.host.folder.glob("*.log"))
        assert "deadlock detected" not in logs, "PostgreSQL broke a deadlock: see the logs in " + str(org.host.folder)
    takeovers = re.findall(r"took over the expired lease of (\d+)", lead.worker_logs() + service.worker_logs())
    assert takeovers, "no worker took over a dead worker's lease"
    FIGURES.update(
        engagements=ENGAGEMENTS,
        workers=WORKERS * 2,
        web_processes=WEB * 2,
        kills=killer.kills,
        takeovers=len(takeovers),
        messages_taken_over=sum(map(int, takeovers)),
        messages_delivered=sum(_delivered(org) for org in orgs),
        entries_checked=2 * 3 * len(linked),
        entries_lost=0,
        entries_doubled=0,
    )


def _count(org: Organisation, *statuses: str) -> int:
    query = text("SELECT count(*) FROM outsource_engagement WHERE status IN :statuses").bindparams(
        bindparam("statuses", expanding=True)
    )
    with org.engine.connect() as conn:
        return int(conn.execute(query, {"statuses": list(statuses)}).scalar_one())


def _delivered(org: Organisation) -> int:
    with org.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM outsource_outbox WHERE state = 'delivered'")).scalar_one())


def _outbox(org: Organisation) -> set[str]:
    with org.engine.connect() as conn:
        return {str(s) for s in conn.execute(text("SELECT DISTINCT state FROM outsource_outbox")).scalars()}


def _assert_every_entry_crossed(lead: Organisation, service: Organisation, linked: list[tuple[str, str, str]]) -> None:
    with lead.engine.connect() as conn:
        lead_notes = set(conn.execute(text("SELECT body FROM hd_note WHERE body LIKE 'service note %'")).scalars())
        lead_parts = set(conn.execute(text("SELECT name FROM hd_charge WHERE name LIKE 'part %'")).scalars())
    with service.engine.connect() as conn:
        service_notes = set(conn.execute(text("SELECT body FROM hd_note WHERE body LIKE 'lead note %'")).scalars())
    uids = {uid for _, uid, _ in linked}
    assert lead_notes == {f"service note {u}" for u in uids}
    assert lead_parts == {f"part {u}" for u in uids}
    assert service_notes == {f"lead note {u}" for u in uids}
