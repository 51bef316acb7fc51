"""Two real host processes become partners on the command line, then outsource a ticket.

Northwind IT runs ``flask outsource partners invite``; Contoso Field Services runs
``flask outsource partners join CODE``; no secret is typed or printed, and the
engagement then crosses both ways as with a hand-registered partnership.
"""

from __future__ import annotations

import json

from tests.cross_host.conftest import Pair, Scenario
from tests.cross_host.hosts import Host
from tests.polling import eventually


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
