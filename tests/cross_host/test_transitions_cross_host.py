"""Every row of the SPEC transition table, run across two real help-desk processes.

Northwind IT (lead) outsources to Contoso Field Services (service). After each
step both sides' outsource statuses are compared once synced (the lead's
engagement on the lead host and the service's engagement on the service
host), and the lead's audit history must show the transition, with the side
that made it. Where the service has a ticket, its own history must tell the
same story from the send onwards.

The auto-decline and first-acceptance rows need a lead the service has never
accepted from and an offer that expires within seconds: a third host,
Fabrikam Support, whose ``OUTSOURCE_DEFAULT_ACCEPTANCE_HOURS`` is 0.002 (7.2
seconds), registered with Contoso as a second lead partner.

Tests talk to the hosts only over HTTP.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import fresh_database
from tests.cross_host.conftest import Pair, Scenario
from tests.cross_host.hosts import Client, Host
from tests.polling import eventually

API = "/outsource/api/v1"
SERVICE_FOLDERS = (
    "waiting_acceptance",
    "accepted_or_in_progress",
    "waiting_approval",
    "complete",
    "declined",
    "canceled",
)
#: Fabrikam's default acceptance window, in hours: 7.2 seconds
QUICK_HOURS = 0.002

Step = tuple[str, str, str | None, str | None]


# --- helpers ------------------------------------------------------------------------------------


def lead_history(s: Scenario) -> list[dict[str, Any]]:
    return s.lead.get(f"{API}/tickets/{s.lead_ticket}/outsource/history")["history"]


def service_history(s: Scenario) -> list[dict[str, Any]]:
    return s.service.get(f"{API}/tickets/{s.service_ticket}/outsource/history")["history"]


def steps(history: list[dict[str, Any]]) -> list[Step]:
    return [(e["action"], e["side"], e["from"], e["to"]) for e in history]


def last_event(s: Scenario, action: str, side: str, frm: str | None, to: str | None) -> dict[str, Any]:
    """Wait until the lead's newest audit event is this transition, and return it."""

    def check() -> dict[str, Any]:
        event = lead_history(s)[-1]
        assert (event["action"], event["side"], event["from"], event["to"]) == (action, side, frm, to), event
        assert event["actor"] and event["at"]
        return event

    return eventually(check)


def in_step(s: Scenario, status: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both hosts agree on the outsource status (and the sync state that follows from it)."""
    lead = s.wait_lead_status(status)
    service = s.wait_service_status(status)
    assert lead["uid"] == service["uid"] == s.uid
    assert (lead["role"], service["role"]) == ("lead", "service")
    assert lead["status"] == service["status"] == status
    assert lead["sync_state"] == service["sync_state"]
    if s.service_ticket is not None:
        assert_histories_agree(s)
    return lead, service


def assert_histories_agree(s: Scenario) -> None:
    """From the send on, the service ticket's history is the lead's, step for step, side for side.

    The service never saw Unsent, so its send starts from nothing."""

    def check() -> bool:
        lead = steps(lead_history(s))
        sent = max(i for i, step in enumerate(lead) if step[0] == "send")
        expected = [("send", "lead", None, "assigned"), *lead[sent + 1 :]]
        assert steps(service_history(s)) == expected
        return True

    eventually(check)


def service_folder_uids(s: Scenario, folder: str) -> set[str]:
    return {item["uid"] for item in s.service.get(f"{API}/dashboard/service/{folder}?limit=500")["items"]}


def service_knows(s: Scenario, uid: str) -> bool:
    return any(uid in service_folder_uids(s, folder) for folder in SERVICE_FOLDERS)


def lead_notes(s: Scenario) -> list[dict[str, Any]]:
    return s.lead_ticket_json()["notes"]


def configure(s: Scenario, expect: int = 201, **terms: Any) -> dict[str, Any]:
    return s.lead.post(
        f"{API}/tickets/{s.lead_ticket}/outsource",
        {"partner_id": s.pair.lead_partner_id, "terms": terms},
        expect=expect,
    )


def send_again(s: Scenario) -> str:
    """Send the ticket's current (Unsent) engagement and wait for the offer at the service."""
    s.uid = s.lead_action("send")["engagement"]["uid"]
    s.service_ticket = None
    s.wait_service_status("assigned")
    return s.uid


def barrier(s: Scenario) -> None:
    """Wait until everything the lead queued for the service so far has been applied there.

    The lead's messages to a partner are numbered and applied in order, so once
    a fresh offer has arrived, anything queued before it has arrived too."""
    probe = Scenario(s.pair)
    probe.send()
    probe.lead_action("cancel")
    probe.wait_service_status("canceled")


def no_dead_letters(s: Scenario) -> None:
    dead = s.lead.get(f"{API}/deadletters")["deadletters"]
    assert not [d for d in dead if d["partner_id"] == s.pair.lead_partner_id], dead


def drive(s: Scenario, status: str) -> None:
    """Take a fresh scenario to ``status`` over the two hosts' APIs."""
    if status == "unsent":
        s.uid = configure(s)["engagement"]["uid"]
        return
    s.send()
    if status == "assigned":
        return
    s.accept()
    if status == "in_progress":
        s.service.post(f"/api/tickets/{s.service_ticket}/notes", {"body": "Started on it"})
        in_step(s, "in_progress")
    elif status == "waiting_approval":
        s.service_action("submit")
        in_step(s, "waiting_approval")
    else:
        in_step(s, "accepted")


# --- a second lead: short acceptance window, not yet mapped to a customer ----------------------


@pytest.fixture(scope="module")
def quick_pair(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Fabrikam Support, a lead whose offers expire after 7.2 seconds unless the terms say otherwise,
    registered with the same Contoso as a new lead partner."""
    with fresh_database(tmp_path_factory.mktemp("quick-db")) as database:
        lead = Host(
            "Fabrikam Support",
            "fabrikam.example",
            tmp_path_factory.mktemp("quick"),
            database,
            extra_env={"OUTSOURCE_DEFAULT_ACCEPTANCE_HOURS": str(QUICK_HOURS)},
        )
        secret = secrets.token_hex(24)
        link = f"fabrikam-support-{secrets.token_hex(4)}"  # unique: other modules register links on Contoso too
        service_partner: int | None = None
        try:
            lead.seed()
            lead.start()
            lead_partner = _register(lead.client(), "Contoso Field Services", pair.service.plugin_url, link, secret)
            # named per instance too: the race tests set up their own Fabrikam on the same Contoso
            name = f"Fabrikam Support {link.rsplit('-', 1)[1]}"
            service_partner = _register(pair.service_api, name, lead.plugin_url, link, secret)
            yield Pair(lead, pair.service, pair.to_service, pair.to_lead, lead_partner, service_partner, secret)
        finally:
            if service_partner is not None:
                pair.service_api.post(f"{API}/partners/{service_partner}/disable", expect=200)
            lead.stop()


def _register(api: Client, name: str, base_url: str, link: str, secret: str) -> int:
    """A peer partner whose default terms set no acceptance window: the host's default applies."""
    partner = api.post(
        f"{API}/partners",
        {
            "name": name,
            "adapter": "peer",
            "config": {"base_url": base_url, "link_id": link, "secret": secret},
            "default_terms": {"rate_type": "hourly", "outsource_rate": "75.00"},
        },
    )
    return int(partner["id"])


@pytest.fixture
def quick(quick_pair: Pair) -> Scenario:
    return Scenario(quick_pair)


# --- (none) -> Unsent, Unsent -> Unsent, Unsent -> (none) ---------------------------------------


def test_configure_edit_remove_never_reaches_the_service(scenario: Scenario) -> None:
    s = scenario
    configured = configure(s, instructions="Bring a ladder", authorised_hours="3")
    engagement = configured["engagement"]
    uid = engagement["uid"]
    assert engagement["status"] == "unsent" and engagement["partner"]["id"] == s.pair.lead_partner_id
    assert engagement["terms"]["instructions"] == "Bring a ladder"
    assert engagement["terms"]["outsource_rate"] == "80.00"  # the partner's defaults fill in the rest
    assert set(configured["allowed_actions"]) == {"edit", "remove", "send"}
    assert uid in {i["uid"] for i in s.lead.get(f"{API}/dashboard/lead/unsent")["items"]}
    last_event(s, "configure", "lead", None, "unsent")

    edited = s.lead.patch(f"{API}/tickets/{s.lead_ticket}/outsource", {"terms": {"instructions": "Bring two ladders"}})
    assert edited["engagement"]["uid"] == uid and edited["engagement"]["status"] == "unsent"
    assert edited["engagement"]["terms"]["instructions"] == "Bring two ladders"
    assert edited["engagement"]["terms"]["authorised_hours"] == "3.00"
    last_event(s, "edit", "lead", "unsent", "unsent")

    removed = s.lead_action("remove")
    assert removed["engagement"] is None and removed["allowed_actions"] == ["configure"]
    last_event(s, "remove", "lead", "unsent", None)
    assert uid not in {i["uid"] for i in s.lead.get(f"{API}/dashboard/lead/unsent")["items"]}

    barrier(s)
    assert not service_knows(s, uid)
    no_dead_letters(s)
    assert steps(lead_history(s)) == [
        ("configure", "lead", None, "unsent"),
        ("edit", "lead", "unsent", "unsent"),
        ("remove", "lead", "unsent", None),
    ]
    assert s.lead_state()["engagement"] is None


# --- Unsent -> Assigned ---------------------------------------------------------------------------


def test_send_lists_the_offer_in_the_service_waiting_acceptance_folder(scenario: Scenario) -> None:
    s = scenario
    s.lead.patch(
        f"/api/tickets/{s.lead_ticket}",
        {"priority": "High", "due_date": "2031-03-14", "contact": {"name": "Pat", "email": "pat@example.com"}},
    )
    terms = {"authorised_hours": "6", "instructions": "Bring a spare PSU", "complete_by": "2031-03-10"}
    s.send(**terms, acceptance_hours=24)
    lead, service = in_step(s, "assigned")
    last_event(s, "send", "lead", "unsent", "assigned")

    offer = next(
        i for i in s.service.get(f"{API}/dashboard/service/waiting_acceptance?limit=500")["items"] if i["uid"] == s.uid
    )
    assert offer["ticket_id"] is None  # a peer opens the service ticket when it accepts
    assert offer["partner"]["name"] == "Northwind IT"
    assert offer["remote_ticket_number"] == s.lead_ticket_json()["number"]
    assert offer["offer"]["title"] == "Replace core switch"
    assert offer["offer"]["description"] == "Rack 2, unit 14"
    assert offer["offer"]["priority"] == "High"
    assert offer["offer"]["due"] == "2031-03-14"
    assert offer["offer"]["contact"] == {"name": "Pat", "email": "pat@example.com"}
    assert offer["offer"]["lead"] == "Northwind IT"
    assert offer["terms"]["instructions"] == "Bring a spare PSU"
    assert offer["terms"]["authorised_hours"] == "6.00"
    assert offer["terms"]["complete_by"] == "2031-03-10"
    assert offer["terms"]["acceptance_hours"] == 24
    assert offer["terms"] == lead["terms"]  # what was sent is what arrived
    assert offer["acceptance_deadline"] == lead["acceptance_deadline"]
    assert set(offer["allowed_actions"]) == {"accept", "decline"}
    assert set(lead["allowed_actions"]) == {"cancel"}
    assert s.uid in {i["uid"] for i in s.lead.get(f"{API}/dashboard/lead/waiting_acceptance?limit=500")["items"]}
    assert s.uid not in {i["uid"] for i in s.lead.get(f"{API}/dashboard/lead/unsent?limit=500")["items"]}

    s.accept()  # the service ticket is the offer
    service_ticket = s.service_ticket_json()
    assert (service_ticket["title"], service_ticket["description"], service_ticket["priority"]) == (
        "Replace core switch",
        "Rack 2, unit 14",
        "High",
    )
    assert service_ticket["due_date"] == "2031-03-14"
    in_step(s, "accepted")
    assert service["status"] == "assigned"


# --- Assigned -> Canceled / Declined --------------------------------------------------------------


def test_cancel_withdraws_the_offer_on_both_hosts(scenario: Scenario) -> None:
    s = scenario
    s.send()
    s.lead_action("cancel")
    in_step(s, "canceled")
    last_event(s, "cancel", "lead", "assigned", "canceled")
    assert s.uid in service_folder_uids(s, "canceled")
    assert s.uid not in service_folder_uids(s, "waiting_acceptance")
    note = next(n for n in lead_notes(s) if "canceled" in n["body"])
    assert note["body"] == "Outsourcing to Contoso Field Services was canceled."
    assert note["internal"] is True
    assert s.service_engagement()["allowed_actions"] == []
    assert steps(lead_history(s))[-2:] == [
        ("send", "lead", "unsent", "assigned"),
        ("cancel", "lead", "assigned", "canceled"),
    ]
    in_step(s, "canceled")


def test_decline_needs_a_reason_and_shows_it_to_the_lead(scenario: Scenario) -> None:
    s = scenario
    s.send()
    path = f"{API}/engagements/{s.service_engagement_id()}/actions"
    for body in ({"action": "decline"}, {"action": "decline", "reason": "   "}):
        refused = s.service.post(path, body, expect=400)
        assert "reason" in refused["details"]
    in_step(s, "assigned")
    assert steps(lead_history(s))[-1] == ("send", "lead", "unsent", "assigned")

    s.service_action("decline", reason="No technician free in that region")
    lead, service = in_step(s, "declined")
    event = last_event(s, "decline", "service", "assigned", "declined")
    assert event["reason"] == "No technician free in that region"
    assert lead["decline_reason"] == service["decline_reason"] == "No technician free in that region"
    note = next(n for n in lead_notes(s) if "declined" in n["body"])
    assert note["body"] == "Outsourcing declined by Contoso Field Services: No technician free in that region"
    assert note["internal"] is True
    assert s.lead_state()["allowed_actions"] == ["configure"]
    in_step(s, "declined")


# --- Assigned -> Declined by the deadline (sys) ---------------------------------------------------


def test_an_offer_not_accepted_in_time_is_auto_declined_on_both_hosts(quick: Scenario) -> None:
    s = quick
    s.send(instructions="Urgent: today only")
    lead = s.lead_state()["engagement"]
    window = datetime.fromisoformat(lead["acceptance_deadline"]) - datetime.fromisoformat(
        lead["status_times"]["assigned"]
    )
    assert abs(window.total_seconds() - QUICK_HOURS * 3600) < 1
    assert s.service_engagement()["acceptance_deadline"] == lead["acceptance_deadline"]

    lead = eventually(lambda: (e := s.lead_state()["engagement"]) and e["status"] == "declined" and e, timeout=40)
    service = eventually(lambda: (e := s.service_engagement()) and e["status"] == "declined" and e)
    lead, service = in_step(s, "declined")
    event = last_event(s, "auto_decline", "system", "assigned", "declined")
    assert "acceptance deadline" in event["reason"]
    assert lead["decline_reason"] == service["decline_reason"] == event["reason"]
    note = next(n for n in lead_notes(s) if "auto-declined" in n["body"])
    assert note["body"].startswith("Outsourcing auto-declined:") and note["internal"] is True
    assert s.uid in service_folder_uids(s, "declined")

    # configuring again starts from the terms that were sent
    again = configure(s)["engagement"]
    assert again["uid"] != s.uid and again["status"] == "unsent"
    assert again["terms"]["instructions"] == "Urgent: today only"
    last_event(s, "configure", "lead", None, "unsent")
    s.lead_action("remove")
    in_step(s, "declined")


# --- Assigned -> Accepted: the first acceptance from a new lead partner ---------------------------


def test_first_acceptance_from_a_new_lead_asks_which_customer_it_is(quick: Scenario) -> None:
    s = quick
    partner = s.service.get(f"{API}/partners/{s.pair.service_partner_id}")
    assert partner["customer_ref"] is None, "Fabrikam must still be unmapped: only this test accepts from it"
    customers = s.service.get("/api/customers")["customers"]
    assert customers, "the service host must have customers for the question to arise"
    s.send(acceptance_hours=1)
    path = f"{API}/engagements/{s.service_engagement_id()}/actions"

    refused = s.service.post(path, {"action": "accept"}, expect=400)
    assert "customer_ref" in refused["details"]
    refused = s.service.post(path, {"action": "accept", "customer_ref": "999999"}, expect=400)
    assert "customer_ref" in refused["details"]
    in_step(s, "assigned")
    assert s.service.get(f"{API}/partners/{s.pair.service_partner_id}")["customer_ref"] is None

    chosen = customers[-1]
    accepted = s.service.post(path, {"action": "accept", "customer_ref": str(chosen["id"])})
    s.service_ticket = str(accepted["ticket_id"])
    in_step(s, "accepted")
    last_event(s, "accept", "service", "assigned", "accepted")
    assert s.service_ticket_json()["customer_id"] == chosen["id"]
    assert s.service.get(f"{API}/partners/{s.pair.service_partner_id}")["customer_ref"] == str(chosen["id"])

    # the next offer from the same lead needs no question
    second = Scenario(s.pair)
    second.send(acceptance_hours=1)
    accepted = second.service_action("accept")
    second.service_ticket = str(accepted["ticket_id"])
    in_step(second, "accepted")
    assert second.service_ticket_json()["customer_id"] == chosen["id"]
    in_step(s, "accepted")


def test_accept_opens_the_service_ticket_and_starts_sync(scenario: Scenario) -> None:
    s = scenario
    s.send()
    s.accept()
    lead, service = in_step(s, "accepted")
    event = last_event(s, "accept", "service", "assigned", "accepted")
    assert lead["sync_state"] == "active"
    assert lead["accepted_by"] == service["accepted_by"] == event["actor"] == "Ada Admin"
    assert lead["remote_ticket_number"] == s.service_ticket_json()["number"]
    assert service["ticket_id"] == s.service_ticket
    assert s.uid in service_folder_uids(s, "accepted_or_in_progress")
    assert set(service["allowed_actions"]) == {"submit"}
    assert set(lead["allowed_actions"]) == {"complete"}
    in_step(s, "accepted")


# --- Declined / Canceled -> Unsent: a new engagement from the previous terms ---------------------


@pytest.mark.parametrize("ending", ["declined", "canceled"])
def test_configure_again_after_an_ended_offer_and_send_to_the_same_partner(scenario: Scenario, ending: str) -> None:
    s = scenario
    s.send(instructions="Use the side entrance", authorised_hours="2")
    first = s.uid
    if ending == "declined":
        s.service_action("decline", reason="Fully booked this week")
    else:
        s.lead_action("cancel")
    in_step(s, ending)

    again = configure(s, authorised_hours="5")["engagement"]
    assert again["uid"] != first and again["status"] == "unsent"
    assert again["terms"]["instructions"] == "Use the side entrance"  # from the previous terms
    assert again["terms"]["authorised_hours"] == "5.00"  # and editable
    assert again["partner"]["id"] == s.pair.lead_partner_id
    last_event(s, "configure", "lead", None, "unsent")

    send_again(s)
    assert s.uid == again["uid"] != first
    in_step(s, "assigned")
    assert s.service_engagement()["terms"]["authorised_hours"] == "5.00"
    s.accept()
    in_step(s, "accepted")
    last_event(s, "accept", "service", "assigned", "accepted")
    assert first in service_folder_uids(s, ending)  # the old engagement stays as history on both hosts
    history = s.lead.get(f"{API}/tickets/{s.lead_ticket}/outsource/history")["history"]
    assert [(e["action"], e["to"]) for e in history] == [
        ("configure", "unsent"),
        ("send", "assigned"),
        ("decline" if ending == "declined" else "cancel", ending),
        ("configure", "unsent"),
        ("send", "assigned"),
        ("accept", "accepted"),
    ]
    in_step(s, "accepted")


# --- Accepted -> In Progress -> Waiting Approval -> In Progress / Complete ------------------------


def test_a_note_on_the_service_ticket_starts_the_work(scenario: Scenario) -> None:
    s = scenario
    drive(s, "accepted")
    s.service.post(f"/api/tickets/{s.service_ticket}/notes", {"body": "Technician on the way"})
    lead, service = in_step(s, "in_progress")
    last_event(s, "start_work", "service", "accepted", "in_progress")
    assert lead["sync_state"] == service["sync_state"] == "active"
    assert s.uid in service_folder_uids(s, "accepted_or_in_progress")
    in_step(s, "in_progress")


@pytest.mark.parametrize("start", ["accepted", "in_progress"])
def test_submit_then_approve(scenario: Scenario, start: str) -> None:
    s = scenario
    drive(s, start)
    s.service_action("submit")
    lead, service = in_step(s, "waiting_approval")
    last_event(s, "submit", "service", start, "waiting_approval")
    assert lead["sync_state"] == service["sync_state"] == "suspended"
    assert set(lead["allowed_actions"]) == {"approve", "reject"}
    assert service["allowed_actions"] == []

    s.lead_action("approve")
    lead, service = in_step(s, "complete")
    last_event(s, "approve", "lead", "waiting_approval", "complete")
    assert lead["sync_state"] == service["sync_state"] == "ended"
    assert s.uid in service_folder_uids(s, "complete")
    in_step(s, "complete")


def test_reject_needs_a_reason_and_sends_it_to_the_service_ticket(scenario: Scenario) -> None:
    s = scenario
    drive(s, "in_progress")
    s.service_action("submit")
    in_step(s, "waiting_approval")
    last_event(s, "submit", "service", "in_progress", "waiting_approval")

    path = f"{API}/tickets/{s.lead_ticket}/outsource/actions"
    for body in ({"action": "reject"}, {"action": "reject", "reason": ""}, {"action": "reject", "reason": " "}):
        refused = s.lead.post(path, body, expect=400)
        assert "reason" in refused["details"]
    in_step(s, "waiting_approval")
    assert steps(lead_history(s))[-1] == ("submit", "service", "in_progress", "waiting_approval")

    s.lead_action("reject", reason="Port 12 still dark")
    lead, service = in_step(s, "in_progress")
    event = last_event(s, "reject", "lead", "waiting_approval", "in_progress")
    assert event["reason"] == "Port 12 still dark"
    assert lead["reject_reason"] == service["reject_reason"] == "Port 12 still dark"
    assert lead["sync_state"] == service["sync_state"] == "active"
    note = eventually(lambda: next(n for n in s.service_ticket_json()["notes"] if "Port 12" in n["body"]))
    assert note["body"] == "Northwind IT rejected the submission: Port 12 still dark"

    s.service_action("submit")
    in_step(s, "waiting_approval")
    s.lead_action("approve")
    in_step(s, "complete")


# --- Accepted / In Progress -> Complete early (L) -------------------------------------------------


@pytest.mark.parametrize("start", ["accepted", "in_progress"])
def test_lead_sets_complete_early(scenario: Scenario, start: str) -> None:
    s = scenario
    drive(s, start)
    s.lead_action("complete")
    lead, service = in_step(s, "complete")
    last_event(s, "complete", "lead", start, "complete")
    assert lead["sync_state"] == service["sync_state"] == "ended"
    assert lead["sync_ended_at"] and service["sync_ended_at"]
    assert s.uid in service_folder_uids(s, "complete")
    # the cascade rows do not fire: the tickets themselves stay open
    assert s.lead_ticket_json()["status"] != "Complete"
    assert s.service_ticket_json()["status"] != "Complete"
    in_step(s, "complete")


# --- any open status -> Complete: the completion cascade (sys) ------------------------------------


@pytest.mark.parametrize("start", ["assigned", "accepted", "in_progress", "waiting_approval"])
def test_lead_ticket_complete_cascades_to_both_hosts(scenario: Scenario, start: str) -> None:
    s = scenario
    drive(s, start)
    s.lead.patch(f"/api/tickets/{s.lead_ticket}", {"status": "Complete"})
    lead, service = in_step(s, "complete")
    last_event(s, "ticket_complete", "system", start, "complete")
    assert lead["sync_state"] == service["sync_state"] == "ended"
    assert s.uid in service_folder_uids(s, "complete")
    assert s.lead_state()["allowed_actions"] == []
    no_dead_letters(s)
    in_step(s, "complete")


def test_lead_ticket_complete_while_unsent_completes_it_without_telling_the_service(scenario: Scenario) -> None:
    s = scenario
    drive(s, "unsent")
    s.lead.patch(f"/api/tickets/{s.lead_ticket}", {"status": "Complete"})
    assert s.wait_lead_status("complete")["uid"] == s.uid
    last_event(s, "ticket_complete", "system", "unsent", "complete")
    barrier(s)
    assert not service_knows(s, s.uid)
    no_dead_letters(s)


@pytest.mark.parametrize("start", ["accepted", "in_progress", "waiting_approval"])
def test_service_ticket_complete_cascades_to_both_hosts(scenario: Scenario, start: str) -> None:
    """The service has no ticket of its own while the offer is Assigned, so its cascade starts at Accepted."""
    s = scenario
    drive(s, start)
    s.service.patch(f"/api/tickets/{s.service_ticket}", {"status": "Complete"})
    lead, service = in_step(s, "complete")
    last_event(s, "ticket_complete", "system", start, "complete")
    assert lead["sync_state"] == service["sync_state"] == "ended"
    assert s.lead_ticket_json()["status"] != "Complete"  # the cascade completes the outsourcing, not the ticket
    assert lead["allowed_actions"] == []
    no_dead_letters(s)
    in_step(s, "complete")


# --- everything else is refused on either host and changes nothing --------------------------------

REFUSED = [
    ("accepted", "lead", {"action": "approve"}),
    ("accepted", "lead", {"action": "reject", "reason": "not yet"}),
    ("accepted", "lead", {"action": "cancel"}),
    ("accepted", "service", {"action": "accept"}),
    ("accepted", "service", {"action": "decline", "reason": "changed our mind"}),
    ("assigned", "lead", {"action": "send"}),
    ("assigned", "lead", {"action": "remove"}),
    ("assigned", "lead", {"action": "complete"}),
    ("assigned", "lead", {"action": "approve"}),
    ("assigned", "service", {"action": "submit"}),
    ("assigned", "service", {"action": "cancel"}),
    ("waiting_approval", "lead", {"action": "complete"}),
    ("waiting_approval", "service", {"action": "submit"}),
    ("in_progress", "service", {"action": "approve"}),
    ("in_progress", "lead", {"action": "accept", "customer_ref": "1"}),
]


def poll_rounds(s: Scenario, rounds: int) -> None:
    """Wait until both hosts have finished ``rounds`` more polls of each other."""

    def last_polls() -> tuple[str, str]:
        lead = s.lead.get(f"{API}/partners/{s.pair.lead_partner_id}")["last_poll_at"]
        service = s.service.get(f"{API}/partners/{s.pair.service_partner_id}")["last_poll_at"]
        return lead, service

    def advanced(before: tuple[str, str]) -> bool:
        return all(now != then for now, then in zip(last_polls(), before, strict=True))

    for _ in range(rounds):
        start = last_polls()
        eventually(lambda start=start: advanced(start), timeout=15)


@pytest.mark.parametrize(
    ("start", "side", "body"), REFUSED, ids=[f"{st}-{side}-{b['action']}" for st, side, b in REFUSED]
)
def test_refused_actions_change_nothing_on_either_host(
    scenario: Scenario, start: str, side: str, body: dict[str, Any]
) -> None:
    s = scenario
    drive(s, start)
    in_step(s, start)
    poll_rounds(s, 2)  # let the last delivery record itself (it stamps last_sync_at and updated_at)
    before_lead, before_service = in_step(s, start)
    before_history = lead_history(s)
    if side == "lead":
        refused = s.lead.post(f"{API}/tickets/{s.lead_ticket}/outsource/actions", body, expect=409)
    else:
        refused = s.service.post(f"{API}/engagements/{s.service_engagement_id()}/actions", body, expect=409)
    assert refused["details"]["action"] == body["action"] and refused["details"]["status"] == start

    poll_rounds(s, 2)  # several delivery and poll rounds: anything relayed would have landed by now
    after_lead, after_service = in_step(s, start)
    assert after_lead == before_lead
    assert after_service == before_service
    assert lead_history(s) == before_history
    no_dead_letters(s)


def test_configure_and_edit_are_refused_once_sent(scenario: Scenario) -> None:
    s = scenario
    drive(s, "assigned")
    before = lead_history(s)
    configure(s, expect=409)
    s.lead.patch(f"{API}/tickets/{s.lead_ticket}/outsource", {"terms": {"instructions": "late"}}, expect=409)
    assert lead_history(s) == before
    _lead, service = in_step(s, "assigned")
    assert "instructions" not in service["terms"] or service["terms"]["instructions"] != "late"


def test_nothing_is_allowed_after_complete(scenario: Scenario) -> None:
    s = scenario
    drive(s, "accepted")
    s.lead_action("complete")
    in_step(s, "complete")
    before = lead_history(s)
    for action in ("approve", "reject", "complete", "cancel", "send"):
        s.lead.post(f"{API}/tickets/{s.lead_ticket}/outsource/actions", {"action": action, "reason": "x"}, expect=409)
    for action in ("submit", "accept", "decline"):
        s.service.post(
            f"{API}/engagements/{s.service_engagement_id()}/actions", {"action": action, "reason": "x"}, expect=409
        )
    configure(s, expect=409)
    assert lead_history(s) == before
    in_step(s, "complete")
