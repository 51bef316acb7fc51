"""Fabrikam, mounted by following docs/integrating.md, outsourcing to and taking in from
the demo help desk over real signed HTTP: UUID case keys, other table and column names,
and no time entries, so time arriving at Fabrikam lands as a note."""

from __future__ import annotations

import uuid
from typing import Any

from tests.cross_host.hosts import Client
from tests.polling import eventually
from tests.second_host.conftest import Desks

API = "/outsource/api/v1"


def offer_at(api: Client, uid: str) -> int:
    """The service side's engagement id for the offer with this uid, once it has arrived."""

    def find() -> int | None:
        items = api.get(f"{API}/dashboard/service/waiting_acceptance?limit=500")["items"]
        return next((int(item["id"]) for item in items if item["uid"] == uid), None)

    return eventually(find)


def configure_and_send(api: Client, ticket_id: str, partner_id: int) -> str:
    api.post(f"{API}/tickets/{ticket_id}/outsource", {"partner_id": partner_id, "terms": {"outsource_rate": "100"}})
    return str(api.post(f"{API}/tickets/{ticket_id}/outsource/actions", {"action": "send"})["engagement"]["uid"])


def wait_status(api: Client, path: str, status: str) -> dict[str, Any]:
    """The engagement at ``path`` once it has ``status``."""

    def check() -> dict[str, Any] | None:
        body = api.get(path)
        engagement = body.get("engagement", body)
        return engagement if engagement and engagement["status"] == status else None

    return eventually(check)


def test_fabrikam_leads_a_uuid_case_to_the_demo_desk(desks: Desks) -> None:
    fab, con = desks.fabrikam_api, desks.contoso_api
    case_id = fab.post("/api/cases", {"subject": "Printer fleet audit", "details": "Floor 3, 12 printers"})["uuid"]
    assert uuid.UUID(case_id)
    lead_path = f"{API}/tickets/{case_id}/outsource"
    uid = configure_and_send(fab, case_id, desks.contoso_at_fabrikam)
    offer_id = offer_at(con, uid)
    offer = con.get(f"{API}/engagements/{offer_id}")
    assert offer["offer"]["title"] == "Printer fleet audit"
    assert offer["offer"]["description"] == "Floor 3, 12 printers"
    customer = con.get("/api/customers")["customers"][0]["id"]
    service_ticket = con.post(
        f"{API}/engagements/{offer_id}/actions", {"action": "accept", "customer_ref": str(customer)}
    )["ticket_id"]
    lead = wait_status(fab, lead_path, "accepted")
    assert lead["ticket_id"] == case_id and lead["ticket_number"] == f"CASE-{uuid.UUID(case_id).hex[:8].upper()}"

    fab.post(f"/api/cases/{case_id}/comments", {"message": "Badge needed at reception"})
    fab.post(f"/api/cases/{case_id}/comments", {"message": "Client pays late", "staff_only": True})
    fab.post(f"/api/cases/{case_id}/expenses", {"label": "Toner kit", "qty": "2", "sell_each": "40", "cost_each": "25"})
    fab.post(f"/api/cases/{case_id}/files", files={"file": ("floor3.txt", b"floor 3 plan\n", "text/plain")})
    fab.post(f"/api/cases/{case_id}/files", files={"file": ("margin.txt", b"thin\n")}, data={"staff_only": "true"})
    ticket = eventually(
        lambda: (
            (t := con.get(f"/api/tickets/{service_ticket}")) and t["notes"] and t["charges"] and t["attachments"] and t
        )
    )
    assert [n["body"] for n in ticket["notes"]] == ["Badge needed at reception"]
    assert [(c["name"], c["quantity"], c["unit_price"], c["unit_cost"]) for c in ticket["charges"]] == [
        ("Toner kit", "2.00", "40.00", "25.00")
    ]
    assert [(a["filename"], a["size"]) for a in ticket["attachments"]] == [("floor3.txt", 13)]

    con.post(f"/api/tickets/{service_ticket}/notes", {"body": "Two printers need fusers"})
    time_entry = con.post(
        f"/api/tickets/{service_ticket}/time", {"work_date": "2026-11-26", "hours": "1.5", "summary": "audit"}
    )["id"]
    con.post(
        f"/api/tickets/{service_ticket}/charges",
        {"name": "Fuser", "quantity": "2", "unit_price": "60", "unit_cost": "45"},
    )
    con.post(
        f"/api/tickets/{service_ticket}/attachments", files={"file": ("report.csv", b"printer,state\n", "text/csv")}
    )
    wait_status(fab, lead_path, "in_progress")

    def arrived() -> dict[str, Any] | None:
        case = fab.get(f"/api/cases/{case_id}")
        return case if len(case["comments"]) == 4 and len(case["expenses"]) == 2 and len(case["files"]) == 3 else None

    case = eventually(arrived)
    partner_comments = {c["message"]: c for c in case["comments"][2:]}
    assert set(partner_comments) == {"Two printers need fusers", "Time entry by Ada Admin on 2026-11-26: 1.50 h, audit"}
    assert all(
        c["staff_only"] and c["written_by"].endswith("(Contoso Field Services)") for c in partner_comments.values()
    )
    assert case["expenses"][1] == {
        "no": case["expenses"][1]["no"],
        "label": "Fuser",
        "qty": "2.00",
        "sell_each": "60.00",
        "cost_each": "45.00",
        "chargeable": True,
    }
    report = case["files"][2]
    assert (report["file_name"], report["byte_count"], report["staff_only"]) == ("report.csv", 14, True)
    page = fab.call("GET", f"/cases/{case_id}")
    assert page.status_code == 200 and 'class="outsource-bar"' in page.text and 'class="outsource-menu"' in page.text
    assert page.text.count('class="outsource-lock"') == 2  # the partner's comment and time note are read-only here

    # the partner's time note follows its time entry: edited, then deleted
    con.patch(f"/api/tickets/{service_ticket}/time/{time_entry}", {"hours": "2"})
    eventually(
        lambda: any(
            c["message"] == "Time entry by Ada Admin on 2026-11-26: 2.00 h, audit"
            for c in fab.get(f"/api/cases/{case_id}")["comments"]
        )
    )
    con.delete(f"/api/tickets/{service_ticket}/time/{time_entry}")
    comments = eventually(lambda: (c := fab.get(f"/api/cases/{case_id}")["comments"]) and len(c) == 3 and c)
    assert [c["message"] for c in comments][2] == "Two printers need fusers"

    con.post(f"{API}/engagements/{offer_id}/actions", {"action": "submit"})
    wait_status(fab, lead_path, "waiting_approval")
    fab.post(f"{lead_path}/actions", {"action": "approve"})
    wait_status(con, f"{API}/engagements/{offer_id}", "complete")
    assert wait_status(fab, lead_path, "complete")["sync_state"] == "ended"
    cost = fab.get(f"/api/cases/{case_id}")["expenses"][-1]
    # no time model at Fabrikam: the cost is the partner's charges at cost (docs/integrating.md)
    assert (cost["label"], cost["cost_each"], cost["chargeable"]) == (
        "Outsourcing cost: Contoso Field Services",
        "90.00",
        False,
    )


def test_fabrikam_takes_in_from_the_demo_desk_and_completes_by_case_state(desks: Desks) -> None:
    fab, con = desks.fabrikam_api, desks.contoso_api
    lead_ticket = str(con.post("/api/tickets", {"title": "Replace door controller", "description": "Building B"})["id"])
    lead_path = f"{API}/tickets/{lead_ticket}/outsource"
    uid = configure_and_send(con, lead_ticket, desks.fabrikam_at_contoso)
    offer_id = offer_at(fab, uid)
    client = fab.get("/api/clients")["clients"][1]
    accepted = fab.post(
        f"{API}/engagements/{offer_id}/actions", {"action": "accept", "customer_ref": str(client["client_no"])}
    )
    case_id = accepted["ticket_id"]
    case = fab.get(f"/api/cases/{case_id}")
    assert (case["subject"], case["details"], case["state"], case["client_no"]) == (
        "Replace door controller",
        "Building B",
        "Open",
        client["client_no"],
    )
    wait_status(con, lead_path, "accepted")

    con.post(f"/api/tickets/{lead_ticket}/notes", {"body": "Alarm code is 4411"})
    con.post(f"/api/tickets/{lead_ticket}/time", {"work_date": "2026-11-25", "hours": "0.5", "summary": "triage"})
    con.post(f"/api/tickets/{lead_ticket}/charges", {"name": "Call-out", "unit_price": "50", "unit_cost": "50"})
    case = eventually(
        lambda: (c := fab.get(f"/api/cases/{case_id}")) and len(c["comments"]) == 2 and c["expenses"] and c
    )
    assert [c["message"] for c in case["comments"]] == [
        "Alarm code is 4411",
        "Time entry by Ada Admin on 2026-11-25: 0.50 h, triage",
    ]
    assert not any(c["staff_only"] for c in case["comments"])
    assert [e["label"] for e in case["expenses"]] == ["Call-out"]

    fab.post(f"/api/cases/{case_id}/comments", {"message": "Controller swapped"})
    fab.post(f"/api/cases/{case_id}/expenses", {"label": "Door controller", "sell_each": "300", "cost_each": "210"})
    assert wait_status(fab, f"{API}/engagements/{offer_id}", "in_progress")["ticket_id"] == case_id
    wait_status(con, lead_path, "in_progress")
    ticket = eventually(
        lambda: (t := con.get(f"/api/tickets/{lead_ticket}")) and len(t["notes"]) == 2 and len(t["charges"]) == 2 and t
    )
    assert (ticket["notes"][1]["body"], ticket["notes"][1]["internal"]) == ("Controller swapped", True)
    assert ticket["charges"][1]["name"] == "Door controller" and ticket["charges"][1]["unit_cost"] == "210.00"

    fab.patch(f"/api/cases/{case_id}", {"state": "Resolved"})
    wait_status(con, lead_path, "complete")
    assert wait_status(fab, f"{API}/engagements/{offer_id}", "complete")["sync_state"] == "ended"
    charges = eventually(
        lambda: (t := con.get(f"/api/tickets/{lead_ticket}")) and len(t["charges"]) == 3 and t["charges"]
    )
    assert (charges[2]["name"], charges[2]["unit_cost"], charges[2]["billable"]) == (
        "Outsourcing cost: Fabrikam Service Desk",
        "210.00",
        False,
    )
