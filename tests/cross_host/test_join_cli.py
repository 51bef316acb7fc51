"""Two real host processes become partners on the command line, then outsource a ticket.

Northwind IT runs ``flask outsource partners invite``; Contoso Field Services runs
``flask outsource partners join CODE``; no secret is typed or printed, and the
engagement then crosses both ways as with a hand-registered partnership.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.cross_host.conftest import Pair, Scenario, running_pair
from tests.cross_host.hosts import FaultProxy, Host
from tests.polling import eventually


def by_invitation(lead: Host, service: Host, to_service: FaultProxy, to_lead: FaultProxy) -> tuple[int, int, str]:
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


@pytest.fixture(scope="module")
def joined_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with running_pair(tmp_path_factory, connect=by_invitation) as started:
        yield started


def test_hosts_joined_on_the_command_line_outsource_a_ticket_end_to_end(joined_pair: Pair) -> None:
    s = Scenario(joined_pair)
    s.send(authorised_hours="2")
    s.accept()
    s.lead.post(f"/api/tickets/{s.lead_ticket}/notes", {"body": "Key at reception"})
    eventually(lambda: any("Key at reception" in n["body"] for n in s.service_ticket_json()["notes"]))
    s.service.post(f"/api/tickets/{s.service_ticket}/notes", {"body": "Swapped the unit"})
    s.wait_lead_status("in_progress")
    s.service_action("submit")
    s.wait_lead_status("waiting_approval")
    s.lead_action("approve")
    s.wait_service_status("complete")


def test_a_used_code_is_refused_on_the_command_line_and_registers_nothing(joined_pair: Pair) -> None:
    lead, service = joined_pair.lead, joined_pair.service
    url = f"{joined_pair.to_lead.url}/outsource"
    code = lead.flask("outsource", "partners", "invite", "--name", "Second desk", "--url", url).stdout.split()[-1]
    join = ("outsource", "partners", "join", code, "--name", "Northwind again", "--url", joined_pair.to_service.url)
    assert service.flask(*join).returncode == 0
    before = _names(service)
    again = service.flask(*join[:-4], "--name", "Northwind third", "--url", joined_pair.to_service.url)
    assert again.returncode == 1 and "used already" in again.stderr and code not in again.stderr
    assert _names(service) == before and "Northwind third" not in before


def _names(host: Host) -> list[str]:
    return [p["name"] for p in json.loads(host.flask("outsource", "partners", "list", "--json").stdout)["partners"]]
