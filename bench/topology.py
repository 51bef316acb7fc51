"""The production topology for the latency benchmark: per host, web processes with the scheduler
off behind a round-robin proxy, and ``flask outsource worker`` processes, all on one PostgreSQL
database per host.

The partner reaches a host through its proxy, so pushes and polls spread over
its web processes as behind a load balancer, on kept-alive connections;
``Pair.to_lead.down`` loses every push to the lead, as in the single-process runs.
"""

from __future__ import annotations

import itertools
import secrets
import subprocess
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from bench.common import TempFolders, database_kind
from outsource_plugin.config import SETTINGS
from tests.conftest import fresh_database
from tests.cross_host.conftest import Pair, register
from tests.cross_host.hosts import FaultProxy, Host

#: the documented defaults of what the tests' hosts run on short intervals (``Host.env``): a
#: check for expired offers every half second in each of the four workers is load no
#: production worker carries, and on a two-core machine it slows every other process
PRODUCTION = {
    setting.key: str(setting.default)
    for setting in SETTINGS
    if setting.key in ("OUTSOURCE_DEADLINE_INTERVAL", "OUTSOURCE_BACKOFF_CAP", "OUTSOURCE_HTTP_TIMEOUT")
}


def round_robin(hosts: list[Host]) -> FaultProxy:
    """A proxy that sends each request to the next of ``hosts``."""
    turn, lock = itertools.cycle(hosts), threading.Lock()

    def target() -> str:
        with lock:
            return next(turn).base

    return FaultProxy(target, keep_alive=True)


@contextmanager
def production_pair(server: str, env: dict[str, str], *, webs: int = 2, workers: int = 2) -> Iterator[Pair]:
    """A lead and a service host, each ``webs`` web processes and ``workers`` workers on PostgreSQL
    ``server``; the pair's ``lead`` and ``service`` are each host's first web process."""
    folders = TempFolders()
    settings = {**PRODUCTION, **env, "OUTSOURCE_SCHEDULER": "0"}
    with ExitStack() as stack, database_kind(server):
        stack.callback(folders.cleanup)
        sides = []
        for name, domain in (("Northwind IT", "northwind.example"), ("Contoso Field Services", "contoso.example")):
            url = stack.enter_context(fresh_database(folders.mktemp(f"{domain}-db")))
            folder = folders.mktemp(domain)
            hosts = [Host(name, domain, folder, url, extra_env=settings) for _ in range(webs)]
            hosts[0].seed()
            for host in hosts:
                stack.callback(host.stop)
                host.start()
            proxy = round_robin(hosts)
            stack.callback(proxy.close)
            for n in range(workers):
                stack.callback(_stop, hosts[0].spawn("outsource", "worker", log_name=f"worker-{n}.log"))
            sides.append((hosts[0], proxy))
        (lead, to_lead), (service, to_service) = sides
        secret = secrets.token_hex(24)
        lead_partner = register(lead.client(), service.name, f"{to_service.url}/outsource", secret)
        service_partner = register(service.client(), lead.name, f"{to_lead.url}/outsource", secret)
        yield Pair(lead, service, to_service, to_lead, lead_partner, service_partner, secret)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    worker.wait(timeout=30)
