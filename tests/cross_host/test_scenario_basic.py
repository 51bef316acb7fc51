"""The main path across two running hosts: outsource, accept, work, submit, reject, approve."""

from __future__ import annotations

from tests.cross_host.conftest import Scenario
from tests.polling import eventually


def test_outsource_accept_work_submit_reject_approve(scenario: Scenario) -> None:
    s = scenario
    s.send(authorised_hours="4", instructions="Bring a spare PSU")
    offer = s.service_engagement()
    assert offer["offer"]["title"] == "Replace core switch" and offer["terms"]["instructions"] == "Bring a spare PSU"
    s.accept()
    service_ticket = s.service_ticket_json()
    assert service_ticket["title"] == "Replace core switch"

    s.lead.post(f"/api/tickets/{s.lead_ticket}/notes", {"body": "Customer says rack key is at reception"})
    eventually(lambda: any("rack key" in n["body"] for n in s.service_ticket_json()["notes"]))
    s.service.post(f"/api/tickets/{s.service_ticket}/notes", {"body": "On site, swapping now"})
    s.wait_lead_status("in_progress")
    lead_notes = eventually(lambda: [n for n in s.lead_ticket_json()["notes"] if "swapping" in n["body"]])
    assert lead_notes[0]["internal"] is True

    s.service_action("submit")
    s.wait_lead_status("waiting_approval")
    s.lead_action("reject", reason="Port 12 still dark")
    s.wait_service_status("in_progress")
    eventually(lambda: any("Port 12 still dark" in n["body"] for n in s.service_ticket_json()["notes"]))
    s.service_action("submit")
    s.wait_lead_status("waiting_approval")
    s.lead_action("approve")
    s.wait_service_status("complete")
    assert s.lead_state()["engagement"]["sync_state"] == "ended"
