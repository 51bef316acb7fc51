"""Litware, mounted by following docs/integrating.md, outsourcing to and taking in from the demo
help desk over real signed HTTP: statuses in a table of their own, replies by user id with an
``hours`` column and no internal flag, uploads on disk, and ids that SQLite reuses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.polling import eventually
from tests.second_host.test_second_host import API, configure_and_send, offer_at, wait_status
from tests.third_host.conftest import Desks


def reply(desks: Desks, ticket_id: int, body: str, hours: str = "") -> None:
    page = desks.litware_api.call("POST", f"/tickets/{ticket_id}/replies", data={"body": body, "hours": hours})
    assert page.status_code == 200, page.text


def upload(desks: Desks, ticket_id: int, name: str, data: bytes, media_type: str) -> None:
    page = desks.litware_api.call("POST", f"/tickets/{ticket_id}/uploads", files={"file": (name, data, media_type)})
    assert page.status_code == 200, page.text


def close(desks: Desks, ticket_id: int) -> None:
    page = desks.litware_api.call("POST", f"/tickets/{ticket_id}/close")
    assert page.status_code == 200, page.text


def contoso_ticket(desks: Desks, ticket_id: str, ready: Any = bool) -> dict[str, Any]:
    """The demo desk's ticket once ``ready`` holds for it."""
    return eventually(lambda: (t := desks.contoso_api.get(f"/api/tickets/{ticket_id}")) and ready(t) and t)


def test_litware_leads_a_ticket_to_the_demo_desk(desks: Desks) -> None:
    lit, con = desks.litware_api, desks.contoso_api
    ticket_id = desks.open_ticket("Laptop will not boot", "Blue screen after the update")
    lead_path = f"{API}/tickets/{ticket_id}/outsource"
    reply(desks, ticket_id, "Asked the user to try safe mode")  # before the offer: stays home
    uid = configure_and_send(lit, str(ticket_id), desks.contoso_at_litware)
    offer_id = offer_at(con, uid)
    assert con.get(f"{API}/engagements/{offer_id}")["offer"]["title"] == "Laptop will not boot"
    customer = con.get("/api/customers")["customers"][0]["id"]
    service_ticket = con.post(
        f"{API}/engagements/{offer_id}/actions", {"action": "accept", "customer_ref": str(customer)}
    )["ticket_id"]
    wait_status(lit, lead_path, "accepted")

    reply(desks, ticket_id, "The user is in room 12", hours="0.25")
    upload(desks, ticket_id, "bsod.txt", b"STOP 0x0000007B\n", "text/plain")
    ticket = contoso_ticket(desks, service_ticket, lambda t: t["notes"] and t["attachments"])
    assert [n["body"] for n in ticket["notes"]] == ["The user is in room 12"]
    assert [(a["filename"], a["size"]) for a in ticket["attachments"]] == [("bsod.txt", 16)]

    con.post(f"/api/tickets/{service_ticket}/notes", {"body": "Disk controller mode was changed"})
    con.post(f"/api/tickets/{service_ticket}/notes", {"body": "Our margin is thin", "internal": True})
    con.post(f"/api/tickets/{service_ticket}/time", {"work_date": "2026-11-26", "hours": "1.5", "summary": "repair"})
    con.post(f"/api/tickets/{service_ticket}/attachments", files={"file": ("fix.log", b"ahci on\n", "text/plain")})
    wait_status(lit, lead_path, "in_progress")
    lead_id = lit.get(lead_path)["engagement"]["id"]
    held = eventually(lambda: (e := lit.get(f"{API}/engagements/{lead_id}/entries")["entries"]) and len(e) == 4 and e)
    # the partner's notes, internal one and time included, and its file are held on the plugin's side
    assert [(e["kind"], e["author"], e["held"]) for e in held] == [
        ("note", "Ada Admin (Contoso Field Services)", True),
        ("note", "Ada Admin (Contoso Field Services)", True),
        ("time", "Ada Admin (Contoso Field Services)", True),
        ("attachment", "Ada Admin (Contoso Field Services)", True),
    ]
    assert [held[0]["values"]["text"], held[1]["values"]["internal"], held[2]["values"]["hours"]] == [
        "Disk controller mode was changed",
        True,
        "1.50",
    ]
    litware = desks.ticket(ticket_id)
    assert litware is not None
    assert [body for _, body, _ in litware["replies"]] == ["Asked the user to try safe mode", "The user is in room 12"]
    assert [name for _, name, _, _ in litware["uploads"]] == ["bsod.txt"]
    page = lit.call("GET", f"/tickets/{ticket_id}").text
    assert page.count('class="ob-held-entry"') == 4 and "Disk controller mode was changed" in page
    dashboard = lit.call("GET", "/outsource/dashboard").text  # the plugin's pages in Litware's layout
    assert dashboard.index("<header>Litware Help Desk") < dashboard.index("Outsource Dashboard</h1>")

    con.post(f"{API}/engagements/{offer_id}/actions", {"action": "submit"})
    wait_status(lit, lead_path, "waiting_approval")
    reply(desks, ticket_id, "Written while it waits for approval")  # suspended: never crosses
    lit.post(f"{lead_path}/actions", {"action": "reject", "reason": "The screen still flickers"})
    wait_status(con, f"{API}/engagements/{offer_id}", "in_progress")
    con.post(f"{API}/engagements/{offer_id}/actions", {"action": "submit"})
    wait_status(lit, lead_path, "waiting_approval")
    lit.post(f"{lead_path}/actions", {"action": "approve"})
    wait_status(con, f"{API}/engagements/{offer_id}", "complete")
    assert wait_status(lit, lead_path, "complete")["sync_state"] == "ended"

    reply(desks, ticket_id, "Thanks, all good")  # after Complete: nothing crosses
    page = lit.call("GET", f"/tickets/{ticket_id}")
    assert page.status_code == 200 and 'class="outsource-bar"' in page.text
    notes = [n["body"] for n in con.get(f"/api/tickets/{service_ticket}")["notes"]]
    assert "Written while it waits for approval" not in notes and "Thanks, all good" not in notes


def test_litware_takes_in_from_the_demo_desk_and_completes_by_closing(desks: Desks) -> None:
    lit, con = desks.litware_api, desks.contoso_api
    lead_ticket = str(con.post("/api/tickets", {"title": "Replace badge reader", "description": "Door 4"})["id"])
    lead_path = f"{API}/tickets/{lead_ticket}/outsource"
    uid = configure_and_send(con, lead_ticket, desks.litware_at_contoso)
    offer_id = offer_at(lit, uid)
    ticket_id = int(lit.post(f"{API}/engagements/{offer_id}/actions", {"action": "accept"})["ticket_id"])
    litware = desks.ticket(ticket_id)
    assert litware is not None
    # the columns Litware requires, filled from the configuration
    assert (litware["subject"], litware["body"], litware["status"], litware["category"]) == (
        "Replace badge reader",
        "Door 4",
        "Open",
        "Outsourced",
    )
    assert lit.call("GET", f"/tickets/{ticket_id}").status_code == 200
    assert lit.call("GET", "/").status_code == 200
    wait_status(con, lead_path, "accepted")

    con.post(f"/api/tickets/{lead_ticket}/notes", {"body": "Ask for Sam at the desk"})
    litware = eventually(lambda: (t := desks.ticket(ticket_id)) and t["replies"] and t)
    # the lead's public note is a reply here, written as Litware's first user; the plugin names its author
    assert litware["replies"] == [("Admin at litware.example", "Ask for Sam at the desk", Decimal(0))]
    (lead_note,) = lit.get(f"{API}/engagements/{offer_id}/entries")["entries"]
    assert (lead_note["author"], lead_note["held"]) == ("Ada Admin (Contoso Field Services)", False)
    reply(desks, ticket_id, "Reader replaced", hours="1.25")
    upload(desks, ticket_id, "reader.jpg", b"\xff\xd8\xff fake jpeg", "image/jpeg")
    wait_status(con, lead_path, "in_progress")
    lead = contoso_ticket(desks, lead_ticket, lambda t: len(t["notes"]) == 2 and t["attachments"])
    assert [(n["body"], n["internal"]) for n in lead["notes"]] == [
        ("Ask for Sam at the desk", False),
        ("Reader replaced", True),
    ]
    assert [(a["filename"], a["size"]) for a in lead["attachments"]] == [("reader.jpg", 13)]

    close(desks, ticket_id)
    wait_status(con, lead_path, "complete")
    assert wait_status(lit, f"{API}/engagements/{offer_id}", "complete")["sync_state"] == "ended"
    closed = desks.ticket(ticket_id)
    assert closed is not None and closed["status"] == "Closed"


def test_a_deleted_ticket_leaves_nothing_to_the_next_one(desks: Desks) -> None:
    lit, con = desks.litware_api, desks.contoso_api
    ticket_id = desks.open_ticket("Printer jam")
    uid = configure_and_send(lit, str(ticket_id), desks.contoso_at_litware)
    offer_id = offer_at(con, uid)
    deleted = lit.call("POST", f"/tickets/{ticket_id}/delete")
    assert deleted.status_code == 200, deleted.text
    wait_status(con, f"{API}/engagements/{offer_id}", "canceled")

    reused = desks.open_ticket("Unrelated: new monitor")
    if desks.litware.database_url.startswith("sqlite"):
        assert reused == ticket_id  # SQLite hands the deleted newest ticket's id to the next one
    assert lit.get(f"{API}/tickets/{reused}/outsource")["engagement"] is None


def test_an_accepted_ticket_refuses_the_delete(desks: Desks) -> None:
    lit, con = desks.litware_api, desks.contoso_api
    ticket_id = desks.open_ticket("Server room too warm")
    uid = configure_and_send(lit, str(ticket_id), desks.contoso_at_litware)
    offer_id = offer_at(con, uid)
    customer = con.get("/api/customers")["customers"][0]["id"]
    con.post(f"{API}/engagements/{offer_id}/actions", {"action": "accept", "customer_ref": str(customer)})
    wait_status(lit, f"{API}/tickets/{ticket_id}/outsource", "accepted")
    refused = lit.call("POST", f"/tickets/{ticket_id}/delete")
    assert refused.status_code == 409, refused.text
    assert desks.ticket(ticket_id) is not None
