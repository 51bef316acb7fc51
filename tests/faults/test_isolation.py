"""One partner's failure stays that partner's, between real hosts.

The service host (Contoso) has three partners, polled in the order they were
registered: Northwind (the pair's lead), a URL that answers HTML, and a third
demo host, Fabrikam, whose offers reach Contoso only through Contoso's poll
(Fabrikam's pushes are cut). Whatever Northwind or the HTML site does, Fabrikam's
offer must still arrive, and the failing partner's error must be shown.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import fresh_database
from tests.cross_host.conftest import Pair, Scenario, register
from tests.cross_host.hosts import Captured, Client, FaultProxy, Host, eventually
from tests.cross_host.html_partner import html_site
from tests.faults.conftest import heal
from tests.faults.ledger import API, partner_poll_error, polls_again

FABRIKAM_LINK = "fabrikam-contoso"


@dataclass
class Trio:
    pair: Pair
    fabrikam: Host
    #: Fabrikam's way to Contoso: cut, so that Fabrikam's offers arrive only by Contoso's poll
    fabrikam_to_service: FaultProxy
    html_partner_id: int
    fabrikam_partner_id: int

    def offer_from_fabrikam(self) -> str:
        """Fabrikam outsources a new ticket to Contoso; the engagement uid."""
        api = self.fabrikam.client()
        ticket = api.post("/api/tickets", {"title": "Badge reader offline", "description": "Gate 3"})
        partner_id = api.get(f"{API}/partners")["partners"][0]["id"]
        api.post(f"{API}/tickets/{ticket['id']}/outsource", {"partner_id": partner_id, "terms": {}})
        sent = api.post(f"{API}/tickets/{ticket['id']}/outsource/actions", {"action": "send"})
        return str(sent["engagement"]["uid"])


def waiting_on_service(api: Client, uid: str) -> bool:
    items = api.get(f"{API}/dashboard/service/waiting_acceptance?limit=500")["items"]
    return any(item["uid"] == uid for item in items)


@pytest.fixture(scope="module")
def trio(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trio]:
    """Fabrikam started and registered with Contoso after an HTML-answering partner; both
    are disabled again afterwards, so the rest of the session's pair is as it was."""
    stack = ExitStack()
    html_url = stack.enter_context(html_site())
    database = stack.enter_context(fresh_database(tmp_path_factory.mktemp("fabrikam-db")))
    fabrikam = Host("Fabrikam Ltd", "fabrikam.example", tmp_path_factory.mktemp("fabrikam"), database)
    cut = FaultProxy(lambda: pair.service.base)
    cut.down = True
    secret = secrets.token_hex(24)
    service = pair.service_api
    added: list[int] = []
    try:
        fabrikam.seed()
        fabrikam.start()
        html = service.post(
            f"{API}/partners",
            {
                "name": "Wrong URL Ltd",
                "adapter": "peer",
                "config": {"base_url": html_url, "link_id": "wrong-url", "secret": secrets.token_hex(24)},
            },
        )
        added.append(int(html["id"]))
        added.append(register(service, "Fabrikam Ltd", f"{fabrikam.base}/outsource", secret, link=FABRIKAM_LINK))
        register(fabrikam.client(), "Contoso Field Services", f"{cut.url}/outsource", secret, link=FABRIKAM_LINK)
        yield Trio(pair, fabrikam, cut, added[0], added[1])
    finally:
        for partner_id in added:
            service.post(f"{API}/partners/{partner_id}/disable")
        fabrikam.stop()
        cut.close()
        stack.close()


def test_a_partner_answering_html_does_not_keep_the_next_partners_offer_out(trio: Trio) -> None:
    service = trio.pair.service_api
    uid = trio.offer_from_fabrikam()
    eventually(lambda: waiting_on_service(service, uid), timeout=30)
    error = str(eventually(lambda: partner_poll_error(service, trio.html_partner_id)))
    assert "text/html, not JSON" in error and "JSONDecodeError" not in error
    page = trio.pair.service.client().call("GET", "/outsource/partners")
    assert page.status_code == 200 and "text/html, not JSON" in page.text


def test_a_poisoned_message_from_one_partner_does_not_keep_the_next_partners_offer_out(trio: Trio) -> None:
    pair = trio.pair
    s = Scenario(pair)
    s.lead.post(f"{API}/tickets/{s.lead_ticket}/outsource", {"partner_id": pair.lead_partner_id, "terms": {}})

    def poison(request: Captured) -> tuple[int, bytes] | None:
        """Northwind's feed, as Contoso reads it, with this offer's deadline spoiled."""
        if request.method != "GET" or "/changes" not in request.path:
            return None
        upstream: requests.Response = pair.to_lead.forward(request)
        feed = upstream.json()
        for change in feed.get("changes", []):
            if change["engagement_uid"] == s.uid and change["kind"] == "offer":
                change["payload"]["acceptance_deadline"] = "garbage"
        return upstream.status_code, json.dumps(feed).encode()

    pair.to_service.down = True  # Northwind's offer can only arrive by Contoso's poll, poisoned
    pair.to_lead.intercept = poison
    try:
        s.uid = s.lead_action("send")["engagement"]["uid"]
        error = str(eventually(lambda: partner_poll_error(s.service, pair.service_partner_id), timeout=30))
        assert "garbage" in error
        uid = trio.offer_from_fabrikam()
        eventually(lambda: waiting_on_service(s.service, uid), timeout=30)
        assert not waiting_on_service(s.service, s.uid)
    finally:
        heal(pair)
    # the partner's feed was left where it was: once it is readable, nothing is lost
    eventually(lambda: waiting_on_service(s.service, str(s.uid)), timeout=30)
    polls_again(s.service, pair.service_partner_id)
    s.lead_action("cancel")
    s.wait_service_status("canceled")
