"""Two demo help desks, Northwind IT (lead) and Contoso Field Services (service),
started once per test session and registered as each other's peer partner.

Each reaches the other through a ``FaultProxy``, so tests can inject 503s,
429s and outages between them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import fresh_database
from tests.cross_host.hosts import Client, FaultProxy, Host
from tests.polling import eventually

LINK = "northwind-contoso"


@dataclass
class Pair:
    lead: Host
    service: Host
    to_service: FaultProxy
    to_lead: FaultProxy
    lead_partner_id: int
    service_partner_id: int
    secret: str

    @property
    def lead_api(self) -> Client:
        return self.lead.client()

    @property
    def service_api(self) -> Client:
        return self.service.client()


#: how the two started hosts become each other's peer: their partner ids there, and the shared
#: secret when the test knows it
Connect = Callable[[Host, Host, FaultProxy, FaultProxy], tuple[int, int, str]]


def by_shared_secret(lead: Host, service: Host, to_service: FaultProxy, to_lead: FaultProxy) -> tuple[int, int, str]:
    """The manual registration: the same secret typed into both hosts' partner form."""
    secret = secrets.token_hex(24)
    lead_partner = register(lead.client(), "Contoso Field Services", f"{to_service.url}/outsource", secret)
    service_partner = register(service.client(), "Northwind IT", f"{to_lead.url}/outsource", secret)
    return lead_partner, service_partner, secret


def by_invitation(lead: Host, service: Host, to_service: FaultProxy, to_lead: FaultProxy) -> tuple[int, int, str]:
    """Northwind invites on the command line and Contoso joins with the code: no secret is typed."""
    invited = lead.flask(
        "outsource",
        "partners",
        "invite",
        "--name",
        "Contoso Field Services",
        "--url",
        f"{to_lead.url}/outsource",
        "--terms",
        "rate_type=hourly",
        "--terms",
        "acceptance_hours=48",
    )
    assert invited.returncode == 0, invited.stderr
    code = invited.stdout.strip().splitlines()[-1]
    joined = service.flask("outsource", "partners", "join", code, "--url", f"{to_service.url}/outsource")
    assert joined.returncode == 0, joined.stderr
    assert "secret" not in json.loads(joined.stdout)["config"] and code not in joined.stdout + joined.stderr
    listed = json.loads(lead.flask("outsource", "partners", "list", "--json").stdout)["partners"]
    lead_partner = next(p for p in listed if p["name"] == "Contoso Field Services")
    service_partner = json.loads(joined.stdout)
    assert lead_partner["active"] and service_partner["active"] and service_partner["name"] == "Northwind IT"
    return int(lead_partner["id"]), int(service_partner["id"]), ""


@contextmanager
def running_pair(
    tmp_path_factory: pytest.TempPathFactory,
    extra_env: dict[str, str] | None = None,
    connect: Connect = by_shared_secret,
    host_class: type[Host] = Host,
) -> Iterator[Pair]:
    """Start a lead and a service host made each other's peer by ``connect``; stop them on exit.

    ``extra_env`` is added to both hosts' environment (``OUTSOURCE_SCHEDULER=0``
    for hosts whose jobs run in a separate worker); ``host_class`` says how they are served.
    """
    stack = ExitStack()
    lead_db = stack.enter_context(fresh_database(tmp_path_factory.mktemp("lead-db")))
    service_db = stack.enter_context(fresh_database(tmp_path_factory.mktemp("service-db")))
    env = dict(extra_env or {})
    lead = host_class("Northwind IT", "northwind.example", tmp_path_factory.mktemp("lead"), lead_db, extra_env=env)
    service = host_class(
        "Contoso Field Services", "contoso.example", tmp_path_factory.mktemp("service"), service_db, extra_env=env
    )
    to_service = FaultProxy(lambda: service.base)
    to_lead = FaultProxy(lambda: lead.base)
    try:
        for host in (lead, service):
            host.seed()
            host.start()
        yield Pair(lead, service, to_service, to_lead, *connect(lead, service, to_service, to_lead))
    finally:
        for host in (lead, service):
            host.stop()
        to_service.close()
        to_lead.close()
        stack.close()


@pytest.fixture(scope="module")
def joined_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """A lead and a service host that became partners on their command lines, by invitation."""
    with running_pair(tmp_path_factory, connect=by_invitation) as started:
        yield started


# Package-scoped, not session-scoped: each pair's processes hold a dozen database connections, and
# the topology tests that come later in a run (tests/jobs) need the server's slots.
@pytest.fixture(scope="package")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with running_pair(tmp_path_factory) as started:
        yield started


@pytest.fixture(scope="package")
def jobless_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """A second pair whose web processes run no jobs: a worker or ``sync --once`` must.

    Its delivery lease is short (2 s), so a killed worker's messages are taken over quickly.
    """
    with running_pair(tmp_path_factory, {"OUTSOURCE_SCHEDULER": "0", "OUTSOURCE_DELIVERY_LEASE": "2"}) as started:
        yield started


def fresh_host(
    kind: type[Host], name: str, domain: str, stack: ExitStack, tmp_path_factory: pytest.TempPathFactory
) -> Host:
    """A host of ``kind`` with a folder and a new database of its own (dropped when ``stack`` closes)."""
    label = domain.split(".")[0]
    database = stack.enter_context(fresh_database(tmp_path_factory.mktemp(f"{label}-db")))
    return kind(name, domain, tmp_path_factory.mktemp(label), database)


def start_linked(stack: ExitStack, one: Host, other: Host) -> tuple[int, int]:
    """Seed and start both hosts (stopped when ``stack`` closes) and register each as the other's peer
    partner, with one shared secret: the partner id of ``other`` at ``one``, and of ``one`` at ``other``."""
    for host in (one, other):
        host.seed()
        stack.callback(host.stop)
        host.start()
    secret = secrets.token_hex(24)
    return (
        register(one.client(), other.name, other.plugin_url, secret),
        register(other.client(), one.name, one.plugin_url, secret),
    )


def register(api: Client, name: str, base_url: str, secret: str, *, link: str = LINK) -> int:
    partner = api.post(
        "/outsource/api/v1/partners",
        {
            "name": name,
            "adapter": "peer",
            "config": {"base_url": base_url, "link_id": link, "secret": secret},
            "default_terms": {"rate_type": "hourly", "outsource_rate": "80.00", "acceptance_hours": 48},
        },
    )
    assert "secret" not in partner["config"] and partner["secrets_set"] == ["secret"]
    return int(partner["id"])


@pytest.fixture
def scenario(pair: Pair) -> Iterator[Scenario]:
    pair.to_service.faults.clear()
    pair.to_lead.faults.clear()
    pair.to_service.down = pair.to_lead.down = False
    yield Scenario(pair)


class Scenario:
    """One lead ticket taken across the two hosts, with helpers that wait for sync."""

    API = "/outsource/api/v1"

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self.lead = pair.lead_api
        self.service = pair.service_api
        ticket = self.lead.post("/api/tickets", {"title": "Replace core switch", "description": "Rack 2, unit 14"})
        self.lead_ticket = str(ticket["id"])
        self.service_ticket: str | None = None
        self.uid: str | None = None

    def lead_state(self) -> dict[str, Any]:
        return self.lead.get(f"{self.API}/tickets/{self.lead_ticket}/outsource")

    def service_engagement(self) -> dict[str, Any]:
        engagement_id = self.service_engagement_id()
        return self.service.get(f"{self.API}/engagements/{engagement_id}")

    def service_engagement_id(self) -> int:
        def find() -> int | None:
            for folder in (
                "waiting_acceptance",
                "accepted_or_in_progress",
                "waiting_approval",
                "complete",
                "declined",
                "canceled",
            ):
                for item in self.service.get(f"{self.API}/dashboard/service/{folder}?limit=500")["items"]:
                    if item["uid"] == self.uid:
                        return int(item["id"])
            return None

        return eventually(find)

    def lead_action(self, action: str, **body: Any) -> dict[str, Any]:
        return self.lead.post(f"{self.API}/tickets/{self.lead_ticket}/outsource/actions", {"action": action, **body})

    def service_action(self, action: str, **body: Any) -> dict[str, Any]:
        return self.service.post(
            f"{self.API}/engagements/{self.service_engagement_id()}/actions", {"action": action, **body}
        )

    def send(self, **terms: Any) -> str:
        self.lead.post(
            f"{self.API}/tickets/{self.lead_ticket}/outsource",
            {"partner_id": self.pair.lead_partner_id, "terms": terms},
        )
        self.uid = self.lead_action("send")["engagement"]["uid"]
        self.wait_service_status("assigned")
        return self.uid

    def accept(self) -> str:
        customers = self.service.get("/api/customers")["customers"]
        engagement = self.service_action("accept", customer_ref=str(customers[0]["id"]))
        self.service_ticket = str(engagement["ticket_id"])
        self.wait_lead_status("accepted")
        return self.service_ticket

    def wait_lead_status(self, status: str) -> dict[str, Any]:
        return eventually(lambda: (s := self.lead_state()["engagement"]) and s["status"] == status and s)

    def wait_service_status(self, status: str) -> dict[str, Any]:
        return eventually(lambda: (s := self.service_engagement()) and s["status"] == status and s)

    def lead_ticket_json(self) -> dict[str, Any]:
        return self.lead.get(f"/api/tickets/{self.lead_ticket}")

    def service_ticket_json(self) -> dict[str, Any]:
        return self.service.get(f"/api/tickets/{self.service_ticket}")
