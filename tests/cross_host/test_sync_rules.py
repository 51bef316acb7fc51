"""SPEC "What synchronises", one test per rule, across two running help desks.

Everything goes over HTTP. Absence is proven with a marker: a later change that
does cross is made after the one that must not, and once the marker has arrived
on the other side the partner feed (ordered per partner) has processed the
earlier change too, so the forbidden entry's absence is final.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from tests.cross_host.conftest import Scenario
from tests.cross_host.hosts import Client
from tests.polling import eventually

PLURAL = {"note": "notes", "time": "time", "charge": "charges", "attachment": "attachments"}
LISTS = {"note": "notes", "time": "time_entries", "charge": "charges", "attachment": "attachments"}


# -- helpers ------------------------------------------------------------------------------------------------


def token() -> str:
    return uuid.uuid4().hex[:10]


def entries(api: Client, ticket: str, kind: str) -> list[dict[str, Any]]:
    return list(api.get(f"/api/tickets/{ticket}")[LISTS[kind]])


def add(api: Client, ticket: str, kind: str, body: dict[str, Any]) -> int:
    return int(api.post(f"/api/tickets/{ticket}/{PLURAL[kind]}", body)["id"])


def note(api: Client, ticket: str, text: str, *, internal: bool = False) -> int:
    return add(api, ticket, "note", {"body": text, "internal": internal})


def upload(api: Client, ticket: str, name: str, data: bytes, *, internal: bool = False) -> int:
    form = {"internal": "true"} if internal else {}
    response = api.post(
        f"/api/tickets/{ticket}/attachments", files={"file": (name, data, "application/octet-stream")}, data=form
    )
    return int(response["id"])


def download(api: Client, attachment_id: int) -> bytes:
    response = api.call("GET", f"/api/attachments/{attachment_id}")
    assert response.status_code == 200, response.text
    return response.content


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def patch_entry(api: Client, ticket: str, kind: str, entry_id: int, body: dict[str, Any], expect: int = 200) -> Any:
    response = api.call("PATCH", f"/api/tickets/{ticket}/{PLURAL[kind]}/{entry_id}", json=body)
    assert response.status_code == expect, (kind, entry_id, response.status_code, response.text)
    return response.json() if response.content else None


def delete_entry(api: Client, ticket: str, kind: str, entry_id: int, expect: int = 204) -> Any:
    response = api.call("DELETE", f"/api/tickets/{ticket}/{PLURAL[kind]}/{entry_id}")
    assert response.status_code == expect, (kind, entry_id, response.status_code, response.text)
    return response.json() if response.content else None


def refused(response_json: Any) -> None:
    """A read-only refusal: 409 with a JSON error and a clear message."""
    assert response_json["error"] == "read_only_entry", response_json
    assert isinstance(response_json["message"], str) and response_json["message"].strip(), response_json


def wait_entry(api: Client, ticket: str, kind: str, match: Any, *, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until exactly one entry of ``kind`` matches and return it."""

    def check() -> dict[str, Any] | None:
        found = [e for e in entries(api, ticket, kind) if match(e)]
        assert len(found) <= 1, found
        return found[0] if found else None

    return eventually(check, timeout=timeout)


def wait_note(api: Client, ticket: str, text: str) -> dict[str, Any]:
    return wait_entry(api, ticket, "note", lambda n: n["body"] == text)


def wait_gone(api: Client, ticket: str, kind: str, match: Any) -> None:
    eventually(lambda: not any(match(e) for e in entries(api, ticket, kind)))


def lead_marker(s: Scenario) -> str:
    """A lead note that crosses; once it is on the service ticket, all earlier lead changes were processed."""
    text = f"lead marker {token()}"
    note(s.lead, s.lead_ticket, text)
    wait_note(s.service, str(s.service_ticket), text)
    return text


def service_marker(s: Scenario) -> str:
    text = f"service marker {token()}"
    note(s.service, str(s.service_ticket), text)
    wait_note(s.lead, s.lead_ticket, text)
    return text


def markers(s: Scenario) -> set[str]:
    return {lead_marker(s), service_marker(s)}


def note_bodies(api: Client, ticket: str) -> Counter[str]:
    return Counter(n["body"] for n in entries(api, ticket, "note"))


def time_key(t: dict[str, Any]) -> tuple[Any, ...]:
    return (t["work_date"], Decimal(t["hours"]), t["summary"], t["billable"], t["work_type"], t["resource"])


def charge_key(c: dict[str, Any]) -> tuple[Any, ...]:
    return (c["name"], Decimal(c["quantity"]), Decimal(c["unit_price"]), Decimal(c["unit_cost"]), c["billable"])


def attachment_key(a: dict[str, Any]) -> tuple[Any, ...]:
    return (a["filename"], a["media_type"], a["size"])


def keys(api: Client, ticket: str, kind: str) -> Counter[tuple[Any, ...]]:
    key = {"time": time_key, "charge": charge_key, "attachment": attachment_key}[kind]
    return Counter(key(e) for e in entries(api, ticket, kind))


def user_name(api: Client) -> str:
    return str(api.get("/api/me")["name"])


def started(s: Scenario, **terms: Any) -> Scenario:
    s.send(**terms)
    s.accept()
    return s


LEAD_ORG = "Northwind IT"
SERVICE_ORG = "Contoso Field Services"


# -- 1. notes -----------------------------------------------------------------------------------------------


def test_notes_cross_both_ways_with_origin(scenario: Scenario) -> None:
    s = started(scenario)
    lead_user = s.pair.lead.client("manager")
    service_user = s.pair.service.client("tech")
    svc = str(s.service_ticket)

    lead_text = f"Customer says the rack key is at reception {token()}"
    note(lead_user, s.lead_ticket, lead_text)
    copy = wait_note(s.service, svc, lead_text)
    assert copy["internal"] is False
    assert user_name(lead_user) in copy["author"] and LEAD_ORG in copy["author"], copy

    service_text = f"On site, swapping the switch now {token()}"
    note(service_user, svc, service_text)
    copy = wait_note(s.lead, s.lead_ticket, service_text)
    assert copy["internal"] is True, "what arrives from the partner lands as internal"
    assert user_name(service_user) in copy["author"] and SERVICE_ORG in copy["author"], copy

    assert note_bodies(s.lead, s.lead_ticket) == note_bodies(s.service, svc)
    assert note_bodies(s.lead, s.lead_ticket)[lead_text] == 1 and note_bodies(s.lead, s.lead_ticket)[service_text] == 1


# -- 2. time entries ----------------------------------------------------------------------------------------


def test_time_entries_service_as_time_lead_as_note(scenario: Scenario) -> None:
    s = started(scenario)
    svc = str(s.service_ticket)
    service_user = s.pair.service.client("tech")
    lead_user = s.pair.lead.client("manager")

    add(
        service_user,
        svc,
        "time",
        {
            "work_date": "2024-05-06",
            "hours": "2.50",
            "summary": "Swapped PSU",
            "billable": True,
            "work_type": "On site",
        },
    )
    add(
        service_user,
        svc,
        "time",
        {"work_date": "2024-05-07", "hours": "0.75", "summary": "Travel", "billable": False},
    )
    copy = wait_entry(s.lead, s.lead_ticket, "time", lambda t: t["summary"] == "Swapped PSU")
    assert (copy["work_date"], Decimal(copy["hours"]), copy["billable"], copy["work_type"]) == (
        "2024-05-06",
        Decimal("2.50"),
        True,
        "On site",
    )
    assert copy["resource"] == user_name(service_user)
    travel = wait_entry(s.lead, s.lead_ticket, "time", lambda t: t["summary"] == "Travel")
    assert (travel["work_date"], Decimal(travel["hours"]), travel["billable"]) == ("2024-05-07", Decimal("0.75"), False)

    summary = f"Remote triage {token()}"
    add(lead_user, s.lead_ticket, "time", {"work_date": "2024-05-08", "hours": "1.25", "summary": summary})
    as_note = wait_entry(s.service, svc, "note", lambda n: summary in n["body"])
    for part in (user_name(lead_user), "2024-05-08", "1.25", summary):
        assert part in as_note["body"], (part, as_note)
    assert as_note["internal"] is False
    service_marker(s)
    lead_marker(s)

    # the lead's time never becomes a time entry on the service ticket
    service_time = keys(s.service, svc, "time")
    assert not any(summary in key[2] for key in service_time)
    lead_time = keys(s.lead, s.lead_ticket, "time")
    assert sum(service_time.values()) == 2
    assert lead_time - service_time == Counter({k: 1 for k in lead_time if k[2] == summary})
    assert service_time - lead_time == Counter()


# -- 3. charges ---------------------------------------------------------------------------------------------


def test_service_charges_reach_the_lead(scenario: Scenario) -> None:
    s = started(scenario)
    svc = str(s.service_ticket)
    psu = {"name": "PSU 650W", "quantity": "2", "unit_price": "120.00", "unit_cost": "85.50", "billable": True}
    cable = {"name": "Patch cables", "quantity": "10", "unit_price": "4.00", "unit_cost": "1.20", "billable": False}
    add(s.service, svc, "charge", psu)
    add(s.service, svc, "charge", cable)
    for charge in (psu, cable):
        copy = wait_entry(s.lead, s.lead_ticket, "charge", lambda c, n=charge["name"]: c["name"] == n)
        assert charge_key(copy) == (
            charge["name"],
            Decimal(charge["quantity"]),
            Decimal(charge["unit_price"]),
            Decimal(charge["unit_cost"]),
            charge["billable"],
        )
    lead_charge = {"name": f"Loan switch {token()}", "quantity": "1", "unit_price": "50", "unit_cost": "30"}
    add(s.lead, s.lead_ticket, "charge", lead_charge)
    wait_entry(s.service, svc, "charge", lambda c: c["name"] == lead_charge["name"])
    markers(s)
    assert keys(s.lead, s.lead_ticket, "charge") == keys(s.service, svc, "charge")
    assert sum(keys(s.lead, s.lead_ticket, "charge").values()) == 3


# -- 4. attachments -----------------------------------------------------------------------------------------


def test_attachments_cross_both_ways_byte_for_byte(scenario: Scenario) -> None:
    s = started(scenario)
    svc = str(s.service_ticket)
    lead_bytes = os.urandom(200 * 1024)
    service_bytes = os.urandom(200 * 1024 + 17)
    lead_name = f"switch-config-{token()}.bin"
    service_name = f"site-photo-{token()}.bin"

    upload(s.lead, s.lead_ticket, lead_name, lead_bytes)
    copy = wait_entry(s.service, svc, "attachment", lambda a: a["filename"] == lead_name)
    assert copy["size"] == len(lead_bytes) and copy["internal"] is False
    assert sha(download(s.service, copy["id"])) == sha(lead_bytes)

    upload(s.service, svc, service_name, service_bytes)
    copy = wait_entry(s.lead, s.lead_ticket, "attachment", lambda a: a["filename"] == service_name)
    assert copy["size"] == len(service_bytes) and copy["internal"] is True
    assert sha(download(s.lead, copy["id"])) == sha(service_bytes)

    markers(s)
    assert keys(s.lead, s.lead_ticket, "attachment") == keys(s.service, svc, "attachment")
    lead_hashes = sorted(sha(download(s.lead, a["id"])) for a in entries(s.lead, s.lead_ticket, "attachment"))
    service_hashes = sorted(sha(download(s.service, a["id"])) for a in entries(s.service, svc, "attachment"))
    assert lead_hashes == service_hashes == sorted([sha(lead_bytes), sha(service_bytes)])


# -- 5. edits and deletes by the owner ----------------------------------------------------------------------


def test_owner_edits_and_deletes_reach_the_copy(scenario: Scenario) -> None:
    s = started(scenario)
    svc = str(s.service_ticket)
    t = token()

    lead_note = note(s.lead, s.lead_ticket, f"lead note {t}")
    service_note = note(s.service, svc, f"service note {t}")
    lead_time = add(s.lead, s.lead_ticket, "time", {"work_date": "2024-06-01", "hours": "1.00", "summary": f"lt {t}"})
    service_time = add(s.service, svc, "time", {"work_date": "2024-06-02", "hours": "2.00", "summary": f"st {t}"})
    service_charge = add(s.service, svc, "charge", {"name": f"sc {t}", "quantity": "1", "unit_cost": "10"})
    lead_file = upload(s.lead, s.lead_ticket, f"lead-{t}.bin", os.urandom(1024))
    service_file = upload(s.service, svc, f"service-{t}.bin", os.urandom(1024))
    wait_note(s.service, svc, f"lead note {t}")
    wait_note(s.lead, s.lead_ticket, f"service note {t}")
    wait_entry(s.service, svc, "note", lambda n: f"lt {t}" in n["body"])
    wait_entry(s.lead, s.lead_ticket, "time", lambda e: e["summary"] == f"st {t}")
    wait_entry(s.lead, s.lead_ticket, "charge", lambda c: c["name"] == f"sc {t}")
    wait_entry(s.service, svc, "attachment", lambda a: a["filename"] == f"lead-{t}.bin")
    wait_entry(s.lead, s.lead_ticket, "attachment", lambda a: a["filename"] == f"service-{t}.bin")

    # edits by the owner
    patch_entry(s.lead, s.lead_ticket, "note", lead_note, {"body": f"lead note edited {t}"})
    wait_note(s.service, svc, f"lead note edited {t}")
    patch_entry(s.service, svc, "note", service_note, {"body": f"service note edited {t}"})
    copy = wait_note(s.lead, s.lead_ticket, f"service note edited {t}")
    assert copy["internal"] is True
    patch_entry(s.service, svc, "time", service_time, {"hours": "3.50", "summary": f"st edited {t}"})
    copy = wait_entry(s.lead, s.lead_ticket, "time", lambda e: e["summary"] == f"st edited {t}")
    assert Decimal(copy["hours"]) == Decimal("3.50")
    patch_entry(s.service, svc, "charge", service_charge, {"quantity": "4", "unit_cost": "12.50"})
    eventually(
        lambda: [
            c
            for c in entries(s.lead, s.lead_ticket, "charge")
            if c["name"] == f"sc {t}" and Decimal(c["quantity"]) == 4 and Decimal(c["unit_cost"]) == Decimal("12.5")
        ]
    )
    patch_entry(s.lead, s.lead_ticket, "time", lead_time, {"hours": "1.75", "summary": f"lt edited {t}"})
    copy = wait_entry(s.service, svc, "note", lambda n: f"lt edited {t}" in n["body"])
    assert "1.75" in copy["body"]
    assert not [n for n in entries(s.service, svc, "note") if f"lt {t}" in n["body"]], "the edit replaces the note"

    bodies = markers(s)
    assert note_bodies(s.lead, s.lead_ticket) - note_bodies(s.service, svc) == Counter()
    assert keys(s.lead, s.lead_ticket, "charge") == keys(s.service, svc, "charge")
    assert keys(s.lead, s.lead_ticket, "attachment") == keys(s.service, svc, "attachment")

    # deletes by the owner
    delete_entry(s.lead, s.lead_ticket, "note", lead_note)
    wait_gone(s.service, svc, "note", lambda n: n["body"] == f"lead note edited {t}")
    delete_entry(s.service, svc, "note", service_note)
    wait_gone(s.lead, s.lead_ticket, "note", lambda n: n["body"] == f"service note edited {t}")
    delete_entry(s.service, svc, "time", service_time)
    wait_gone(s.lead, s.lead_ticket, "time", lambda e: f"st edited {t}" in e["summary"])
    delete_entry(s.service, svc, "charge", service_charge)
    wait_gone(s.lead, s.lead_ticket, "charge", lambda c: c["name"] == f"sc {t}")
    delete_entry(s.lead, s.lead_ticket, "attachment", lead_file)
    wait_gone(s.service, svc, "attachment", lambda a: a["filename"] == f"lead-{t}.bin")
    delete_entry(s.service, svc, "attachment", service_file)
    wait_gone(s.lead, s.lead_ticket, "attachment", lambda a: a["filename"] == f"service-{t}.bin")
    service_time_before = keys(s.service, svc, "time")
    delete_entry(s.lead, s.lead_ticket, "time", lead_time)
    wait_gone(s.service, svc, "note", lambda n: f"lt edited {t}" in n["body"])

    bodies |= markers(s)
    assert keys(s.service, svc, "time") == service_time_before == Counter()
    assert note_bodies(s.lead, s.lead_ticket) == note_bodies(s.service, svc) == Counter(bodies)
    for kind in ("time", "charge", "attachment"):
        assert entries(s.lead, s.lead_ticket, kind) == entries(s.service, svc, kind) == [], kind


# -- 6. copies are read-only --------------------------------------------------------------------------------


def test_a_copy_is_read_only(scenario: Scenario) -> None:
    s = started(scenario)
    svc = str(s.service_ticket)
    t = token()
    note(s.lead, s.lead_ticket, f"lead note {t}")
    add(s.lead, s.lead_ticket, "time", {"work_date": "2024-06-01", "hours": "1.00", "summary": f"lt {t}"})
    upload(s.lead, s.lead_ticket, f"lead-{t}.bin", os.urandom(2048))
    note(s.service, svc, f"service note {t}")
    add(s.service, svc, "time", {"work_date": "2024-06-02", "hours": "2.00", "summary": f"st {t}"})
    add(s.service, svc, "charge", {"name": f"sc {t}", "quantity": "1", "unit_cost": "10"})
    upload(s.service, svc, f"service-{t}.bin", os.urandom(2048))

    lead_note_copy = wait_note(s.service, svc, f"lead note {t}")["id"]
    lead_time_copy = wait_entry(s.service, svc, "note", lambda n: f"lt {t}" in n["body"])["id"]
    lead_file_copy = wait_entry(s.service, svc, "attachment", lambda a: a["filename"] == f"lead-{t}.bin")["id"]
    service_note_copy = wait_note(s.lead, s.lead_ticket, f"service note {t}")["id"]
    service_time_copy = wait_entry(s.lead, s.lead_ticket, "time", lambda e: e["summary"] == f"st {t}")["id"]
    service_charge_copy = wait_entry(s.lead, s.lead_ticket, "charge", lambda c: c["name"] == f"sc {t}")["id"]
    service_file_copy = wait_entry(s.lead, s.lead_ticket, "attachment", lambda a: a["filename"] == f"service-{t}.bin")[
        "id"
    ]
    lead_before = s.lead_ticket_json()
    service_before = s.service_ticket_json()

    # the service side's copies of lead entries
    refused(patch_entry(s.service, svc, "note", lead_note_copy, {"body": "hijacked"}, expect=409))
    refused(patch_entry(s.service, svc, "note", lead_note_copy, {"internal": True}, expect=409))
    refused(delete_entry(s.service, svc, "note", lead_note_copy, expect=409))
    refused(patch_entry(s.service, svc, "note", lead_time_copy, {"body": "0 h"}, expect=409))
    refused(delete_entry(s.service, svc, "note", lead_time_copy, expect=409))
    refused(delete_entry(s.service, svc, "attachment", lead_file_copy, expect=409))
    # the lead side's copies of service entries
    refused(patch_entry(s.lead, s.lead_ticket, "note", service_note_copy, {"body": "hijacked"}, expect=409))
    refused(delete_entry(s.lead, s.lead_ticket, "note", service_note_copy, expect=409))
    refused(patch_entry(s.lead, s.lead_ticket, "time", service_time_copy, {"hours": "9.00"}, expect=409))
    refused(delete_entry(s.lead, s.lead_ticket, "time", service_time_copy, expect=409))
    refused(patch_entry(s.lead, s.lead_ticket, "charge", service_charge_copy, {"unit_cost": "0"}, expect=409))
    refused(delete_entry(s.lead, s.lead_ticket, "charge", service_charge_copy, expect=409))
    refused(delete_entry(s.lead, s.lead_ticket, "attachment", service_file_copy, expect=409))

    bodies = markers(s)

    def without_markers(ticket: dict[str, Any]) -> dict[str, Any]:
        return {**ticket, "notes": [n for n in ticket["notes"] if n["body"] not in bodies]}

    assert without_markers(s.lead_ticket_json()) == without_markers(lead_before)
    assert without_markers(s.service_ticket_json()) == without_markers(service_before)
    assert not any("hijacked" in n["body"] for n in entries(s.lead, s.lead_ticket, "note"))
    assert note_bodies(s.lead, s.lead_ticket) - note_bodies(s.service, svc) == Counter()
    for kind in ("charge", "attachment"):
        assert keys(s.lead, s.lead_ticket, kind) == keys(s.service, svc, kind), kind


# -- 7. private stays private -------------------------------------------------------------------------------


def test_internal_notes_and_attachments_of_the_lead_stay_on_the_lead(scenario: Scenario) -> None:
    s = started(scenario)
    svc = str(s.service_ticket)
    t = token()
    secret_note = note(s.lead, s.lead_ticket, f"internal: margin on this job is thin {t}", internal=True)
    upload(s.lead, s.lead_ticket, f"internal-{t}.bin", os.urandom(4096), internal=True)
    public = note(s.lead, s.lead_ticket, f"public note {t}")
    public_file = upload(s.lead, s.lead_ticket, f"public-{t}.bin", os.urandom(4096))
    wait_note(s.service, svc, f"public note {t}")
    wait_entry(s.service, svc, "attachment", lambda a: a["filename"] == f"public-{t}.bin")
    # edits of an internal note do not make it leave either
    patch_entry(s.lead, s.lead_ticket, "note", secret_note, {"body": f"internal: still thin {t}"})
    # a public note or attachment made internal disappears from the partner
    patch_entry(s.lead, s.lead_ticket, "note", public, {"internal": True})
    wait_gone(s.service, svc, "note", lambda n: n["body"] == f"public note {t}")
    lead_marker(s)

    service_notes = note_bodies(s.service, svc)
    assert not any("thin" in body or "public note" in body for body in service_notes)
    service_files = [a["filename"] for a in entries(s.service, svc, "attachment")]
    assert service_files == [f"public-{t}.bin"]
    lead_public = Counter(n["body"] for n in entries(s.lead, s.lead_ticket, "note") if not n["internal"])
    assert lead_public == service_notes
    lead_public_files = [a["filename"] for a in entries(s.lead, s.lead_ticket, "attachment") if not a["internal"]]
    assert lead_public_files == service_files
    assert public_file in [a["id"] for a in entries(s.lead, s.lead_ticket, "attachment")]


# -- 8. exactly once, no echo -------------------------------------------------------------------------------


def test_no_echo_each_entry_exists_once_per_side(scenario: Scenario) -> None:
    s = started(scenario)
    svc = str(s.service_ticket)
    t = token()
    lead_note = note(s.lead, s.lead_ticket, f"from lead {t}")
    service_note = note(s.service, svc, f"from service {t}")
    upload(s.lead, s.lead_ticket, f"lead-{t}.bin", os.urandom(1000))
    upload(s.service, svc, f"service-{t}.bin", os.urandom(1000))
    add(s.service, svc, "time", {"work_date": "2024-06-03", "hours": "1.00", "summary": f"st {t}"})
    add(s.service, svc, "charge", {"name": f"sc {t}"})
    wait_note(s.service, svc, f"from lead {t}")
    wait_note(s.lead, s.lead_ticket, f"from service {t}")
    # an edit of the owner's entry updates the copy; applying it must not echo either
    patch_entry(s.lead, s.lead_ticket, "note", lead_note, {"body": f"from lead, edited {t}"})
    patch_entry(s.service, svc, "note", service_note, {"body": f"from service, edited {t}"})
    wait_note(s.service, svc, f"from lead, edited {t}")
    wait_note(s.lead, s.lead_ticket, f"from service, edited {t}")
    # two rounds of markers: an echo of anything before the first round would have arrived by the second
    first = markers(s)
    second = markers(s)

    lead_notes = note_bodies(s.lead, s.lead_ticket)
    service_notes = note_bodies(s.service, svc)
    expected = Counter({f"from lead, edited {t}": 1, f"from service, edited {t}": 1, **{m: 1 for m in first | second}})
    assert lead_notes == expected, lead_notes
    assert service_notes == expected, service_notes
    for kind in ("time", "charge", "attachment"):
        lead_keys = keys(s.lead, s.lead_ticket, kind)
        assert lead_keys == keys(s.service, svc, kind), kind
        assert all(count == 1 for count in lead_keys.values()), (kind, lead_keys)
    assert sum(keys(s.lead, s.lead_ticket, "attachment").values()) == 2


# -- 9. Accepted -> In Progress -----------------------------------------------------------------------------


def _start_by(s: Scenario, how: str) -> None:
    svc = str(s.service_ticket)
    if how == "note":
        note(s.service, svc, "Starting now")
    elif how == "time":
        add(s.service, svc, "time", {"work_date": "2024-06-04", "hours": "0.50", "summary": "Diagnosis"})
    elif how == "charge":
        add(s.service, svc, "charge", {"name": "Call-out fee", "unit_price": "60", "unit_cost": "40"})
    else:
        me = s.service.get("/api/me")
        s.service.patch(f"/api/tickets/{svc}", {"assignee_id": me["id"]})


@pytest.mark.parametrize("how", ["note", "time", "charge", "reassign"])
def test_accepted_becomes_in_progress_when_the_service_works(scenario: Scenario, how: str) -> None:
    s = started(scenario)
    svc = str(s.service_ticket)
    # the lead's own note arriving on the service ticket is not the service starting work
    text = lead_marker(s)
    assert s.service_engagement()["status"] == "accepted"
    assert s.lead_state()["engagement"]["status"] == "accepted"

    _start_by(s, how)
    s.wait_service_status("in_progress")
    s.wait_lead_status("in_progress")
    bodies = markers(s) | {text}
    lead_notes = note_bodies(s.lead, s.lead_ticket)
    assert lead_notes == note_bodies(s.service, svc)
    assert set(lead_notes) - bodies == ({"Starting now"} if how == "note" else set())
    for kind in ("time", "charge"):
        assert keys(s.lead, s.lead_ticket, kind) == keys(s.service, svc, kind)
        assert sum(keys(s.lead, s.lead_ticket, kind).values()) == (1 if how == kind else 0)


# -- 10. suspension -----------------------------------------------------------------------------------------


def test_suspension_freezes_old_entries_and_never_sends_new_ones(scenario: Scenario) -> None:
    s = started(scenario)
    svc = str(s.service_ticket)
    t = token()
    lead_note = note(s.lead, s.lead_ticket, f"before: lead {t}")
    lead_time = add(s.lead, s.lead_ticket, "time", {"work_date": "2024-06-05", "hours": "1.00", "summary": f"lt {t}"})
    service_note = note(s.service, svc, f"before: service {t}")
    service_time = add(s.service, svc, "time", {"work_date": "2024-06-05", "hours": "2.00", "summary": f"st {t}"})
    service_charge = add(s.service, svc, "charge", {"name": f"sc {t}", "unit_cost": "5"})
    lead_copy = wait_note(s.service, svc, f"before: lead {t}")["id"]
    service_copy = wait_note(s.lead, s.lead_ticket, f"before: service {t}")["id"]
    wait_entry(s.service, svc, "note", lambda n: f"lt {t}" in n["body"])
    wait_entry(s.lead, s.lead_ticket, "time", lambda e: e["summary"] == f"st {t}")
    wait_entry(s.lead, s.lead_ticket, "charge", lambda c: c["name"] == f"sc {t}")

    s.service_action("submit")
    s.wait_service_status("waiting_approval")
    s.wait_lead_status("waiting_approval")

    # pre-suspension entries are read-only on both sides, own entries and copies alike
    refused(patch_entry(s.lead, s.lead_ticket, "note", lead_note, {"body": "changed"}, expect=409))
    refused(delete_entry(s.lead, s.lead_ticket, "note", lead_note, expect=409))
    refused(patch_entry(s.lead, s.lead_ticket, "time", lead_time, {"hours": "5"}, expect=409))
    refused(patch_entry(s.service, svc, "note", service_note, {"body": "changed"}, expect=409))
    refused(delete_entry(s.service, svc, "note", service_note, expect=409))
    refused(patch_entry(s.service, svc, "time", service_time, {"hours": "5"}, expect=409))
    refused(delete_entry(s.service, svc, "charge", service_charge, expect=409))
    refused(patch_entry(s.service, svc, "note", lead_copy, {"body": "changed"}, expect=409))
    refused(patch_entry(s.lead, s.lead_ticket, "note", service_copy, {"body": "changed"}, expect=409))

    # both can still add, and edit what they add, but none of it is sent
    during_lead = note(s.lead, s.lead_ticket, f"during: lead {t}")
    add(s.lead, s.lead_ticket, "time", {"work_date": "2024-06-06", "hours": "1.50", "summary": f"during lt {t}"})
    upload(s.lead, s.lead_ticket, f"during-lead-{t}.bin", os.urandom(1000))
    during_service = note(s.service, svc, f"during: service {t}")
    during_time = add(s.service, svc, "time", {"work_date": "2024-06-06", "hours": "3.00", "summary": f"during {t}"})
    add(s.service, svc, "charge", {"name": f"during sc {t}", "unit_cost": "7"})
    upload(s.service, svc, f"during-service-{t}.bin", os.urandom(1000))
    patch_entry(s.lead, s.lead_ticket, "note", during_lead, {"body": f"during: lead, edited {t}"})
    patch_entry(s.service, svc, "time", during_time, {"hours": "3.25"})

    s.lead_action("reject", reason=f"Port 12 still dark {t}")
    s.wait_service_status("in_progress")
    s.wait_lead_status("in_progress")

    # edits after the resume of entries added while suspended still do not cross
    patch_entry(s.lead, s.lead_ticket, "note", during_lead, {"body": f"during: lead, edited again {t}"})
    patch_entry(s.service, svc, "note", during_service, {"body": f"during: service, edited {t}"})
    markers(s)

    assert not [n for n in entries(s.service, svc, "note") if "during: lead" in n["body"] or "during lt" in n["body"]]
    assert not [a for a in entries(s.service, svc, "attachment") if "during-lead" in a["filename"]]
    assert not [n for n in entries(s.lead, s.lead_ticket, "note") if "during: service" in n["body"]]
    assert not [e for e in entries(s.lead, s.lead_ticket, "time") if f"during {t}" in e["summary"]]
    assert not [c for c in entries(s.lead, s.lead_ticket, "charge") if "during sc" in c["name"]]
    assert not [a for a in entries(s.lead, s.lead_ticket, "attachment") if "during-service" in a["filename"]]

    # resumed: pre-suspension entries are editable by their owner again, and the edits sync
    patch_entry(s.lead, s.lead_ticket, "note", lead_note, {"body": f"after: lead {t}"})
    wait_note(s.service, svc, f"after: lead {t}")
    patch_entry(s.service, svc, "note", service_note, {"body": f"after: service {t}"})
    wait_note(s.lead, s.lead_ticket, f"after: service {t}")
    patch_entry(s.service, svc, "time", service_time, {"hours": "2.25"})
    eventually(
        lambda: [
            e for e in entries(s.lead, s.lead_ticket, "time") if e["summary"] == f"st {t}" and e["hours"] == "2.25"
        ]
    )
    # ... while the copies stay read-only
    refused(patch_entry(s.service, svc, "note", lead_copy, {"body": "changed"}, expect=409))
    refused(patch_entry(s.lead, s.lead_ticket, "note", service_copy, {"body": "changed"}, expect=409))
    # new entries sync again, both ways
    note(s.lead, s.lead_ticket, f"new: lead {t}")
    note(s.service, svc, f"new: service {t}")
    add(s.service, svc, "charge", {"name": f"new sc {t}", "unit_cost": "3"})
    wait_note(s.service, svc, f"new: lead {t}")
    wait_note(s.lead, s.lead_ticket, f"new: service {t}")
    wait_entry(s.lead, s.lead_ticket, "charge", lambda c: c["name"] == f"new sc {t}")
    markers(s)

    # both sides agree on everything except what was added while suspended, the lead's time (a note on the
    # service ticket) and the plugin's own note of the rejection (written on the service ticket)
    def synced_notes(bodies: Counter[str], *skip: str) -> Counter[str]:
        return Counter(
            {b: n for b, n in bodies.items() if not b.startswith(skip) and "rejected the submission" not in b}
        )

    assert synced_notes(note_bodies(s.lead, s.lead_ticket), "during") == synced_notes(
        note_bodies(s.service, svc), "during", "Time entry by"
    )
    service_charges = Counter({k: n for k, n in keys(s.service, svc, "charge").items() if "during" not in k[0]})
    assert keys(s.lead, s.lead_ticket, "charge") == service_charges
    service_time = Counter({k: n for k, n in keys(s.service, svc, "time").items() if "during" not in k[2]})
    lead_time = Counter({k: n for k, n in keys(s.lead, s.lead_ticket, "time").items() if "lt " not in k[2]})
    assert lead_time == service_time
    assert [a["filename"] for a in entries(s.lead, s.lead_ticket, "attachment")] == [f"during-lead-{t}.bin"]
    assert [a["filename"] for a in entries(s.service, svc, "attachment")] == [f"during-service-{t}.bin"]


# -- 11. only Accepted and In Progress sync -----------------------------------------------------------------


def test_nothing_crosses_before_accept(scenario: Scenario) -> None:
    s = scenario
    t = token()
    unsent_note = note(s.lead, s.lead_ticket, f"before send {t}")
    s.send()
    assigned_note = note(s.lead, s.lead_ticket, f"while assigned {t}")
    upload(s.lead, s.lead_ticket, f"assigned-{t}.bin", os.urandom(1000))
    add(s.lead, s.lead_ticket, "charge", {"name": f"assigned charge {t}"})
    s.accept()
    svc = str(s.service_ticket)
    lead_marker(s)
    # edits after accept of entries from before it do not send them either
    patch_entry(s.lead, s.lead_ticket, "note", assigned_note, {"body": f"while assigned, edited {t}"})
    patch_entry(s.lead, s.lead_ticket, "note", unsent_note, {"body": f"before send, edited {t}"})
    markers(s)

    service_notes = note_bodies(s.service, svc)
    assert not [b for b in service_notes if t in b], service_notes
    assert entries(s.service, svc, "attachment") == []
    assert entries(s.service, svc, "charge") == []
    lead_notes = note_bodies(s.lead, s.lead_ticket)
    assert Counter({b: n for b, n in lead_notes.items() if t not in b}) == service_notes


# -- 12. Complete ends sync ---------------------------------------------------------------------------------


def test_after_complete_nothing_crosses_and_the_cost_is_charged(scenario: Scenario) -> None:
    s = started(scenario, outsource_rate="80.00")
    svc = str(s.service_ticket)
    t = token()
    add(s.service, svc, "time", {"work_date": "2024-06-07", "hours": "2.50", "summary": f"st1 {t}"})
    add(s.service, svc, "time", {"work_date": "2024-06-08", "hours": "1.25", "summary": f"st2 {t}", "billable": False})
    dropped = add(s.service, svc, "time", {"work_date": "2024-06-08", "hours": "4.00", "summary": f"dropped {t}"})
    add(s.service, svc, "charge", {"name": f"PSU {t}", "quantity": "2", "unit_price": "120", "unit_cost": "85.50"})
    add(s.service, svc, "charge", {"name": f"Cable {t}", "quantity": "3", "unit_price": "9", "unit_cost": "4.10"})
    service_note = note(s.service, svc, f"service note {t}")
    lead_note = note(s.lead, s.lead_ticket, f"lead note {t}")
    add(s.lead, s.lead_ticket, "time", {"work_date": "2024-06-07", "hours": "6.00", "summary": f"lead lt {t}"})
    add(s.lead, s.lead_ticket, "charge", {"name": f"lead charge {t}", "quantity": "1", "unit_cost": "999"})
    wait_entry(s.lead, s.lead_ticket, "time", lambda e: e["summary"] == f"dropped {t}")
    delete_entry(s.service, svc, "time", dropped)
    wait_gone(s.lead, s.lead_ticket, "time", lambda e: e["summary"] == f"dropped {t}")
    wait_entry(s.lead, s.lead_ticket, "charge", lambda c: c["name"] == f"Cable {t}")
    service_note_copy = wait_note(s.lead, s.lead_ticket, f"service note {t}")["id"]
    lead_note_copy = wait_note(s.service, svc, f"lead note {t}")["id"]
    markers(s)
    service_time_copy = wait_entry(s.lead, s.lead_ticket, "time", lambda e: e["summary"] == f"st1 {t}")["id"]
    service_charge_copy = wait_entry(s.lead, s.lead_ticket, "charge", lambda c: c["name"] == f"PSU {t}")["id"]

    s.service_action("submit")
    s.wait_lead_status("waiting_approval")
    s.lead_action("approve")
    s.wait_lead_status("complete")
    s.wait_service_status("complete")
    assert s.lead_state()["engagement"]["sync_state"] == "ended"

    cost_charges = [c for c in entries(s.lead, s.lead_ticket, "charge") if c["name"].startswith("Outsourcing cost")]
    assert len(cost_charges) == 1, cost_charges
    cost = cost_charges[0]
    expected = Decimal("3.75") * Decimal("80.00") + 2 * Decimal("85.50") + 3 * Decimal("4.10")
    assert cost["name"] == f"Outsourcing cost: {SERVICE_ORG}"
    assert cost["billable"] is False
    assert Decimal(cost["quantity"]) * Decimal(cost["unit_cost"]) == expected == Decimal("483.30")
    assert Decimal(cost["unit_cost"]) == expected

    lead_before = s.lead_ticket_json()
    service_before = s.service_ticket_json()

    # both still add and edit; the partner's synced entries on the lead ticket are now the lead's
    note(s.lead, s.lead_ticket, f"after complete: lead {t}")
    patch_entry(s.lead, s.lead_ticket, "note", lead_note, {"body": f"lead note, edited after complete {t}"})
    patch_entry(s.lead, s.lead_ticket, "note", service_note_copy, {"body": f"lead's now {t}"})
    patch_entry(s.lead, s.lead_ticket, "time", service_time_copy, {"hours": "2.00"})
    patch_entry(s.lead, s.lead_ticket, "charge", service_charge_copy, {"unit_price": "150"})
    upload(s.lead, s.lead_ticket, f"after-lead-{t}.bin", os.urandom(1000))
    note(s.service, svc, f"after complete: service {t}")
    patch_entry(s.service, svc, "note", service_note, {"body": f"service note, edited after complete {t}"})
    add(s.service, svc, "time", {"work_date": "2024-06-09", "hours": "1.00", "summary": f"after {t}"})
    add(s.service, svc, "charge", {"name": f"after charge {t}"})
    upload(s.service, svc, f"after-service-{t}.bin", os.urandom(1000))

    # nothing can cross this engagement any more, so the marker travels on another one with the
    # same partner: each host's feed to its partner is one ordered sequence over all engagements
    other = started(Scenario(s.pair))
    markers(other)

    lead_after = s.lead_ticket_json()
    service_after = s.service_ticket_json()
    assert [n["body"] for n in lead_after["notes"] if n["id"] == service_note_copy] == [f"lead's now {t}"]
    assert [n["body"] for n in service_after["notes"] if n["id"] == lead_note_copy] == [f"lead note {t}"]
    lead_only = {f"after complete: lead {t}", f"lead note, edited after complete {t}", f"lead's now {t}"}
    service_only = {f"after complete: service {t}", f"service note, edited after complete {t}"}
    assert not [n for n in lead_after["notes"] if n["body"] in service_only]
    assert not [n for n in service_after["notes"] if n["body"] in lead_only]
    assert next(n["body"] for n in service_after["notes"] if n["id"] == service_note) in service_only
    assert lead_after["time_entries"] == [
        {**e, "hours": "2.00"} if e["id"] == service_time_copy else e for e in lead_before["time_entries"]
    ]
    assert lead_after["charges"] == [
        {**c, "unit_price": "150.00"} if c["id"] == service_charge_copy else c for c in lead_before["charges"]
    ]
    assert [a["filename"] for a in lead_after["attachments"]] == [f"after-lead-{t}.bin"]
    assert [a["filename"] for a in service_after["attachments"]] == [f"after-service-{t}.bin"]
    assert service_after["time_entries"][: len(service_before["time_entries"])] == service_before["time_entries"]
    assert service_after["charges"][: len(service_before["charges"])] == service_before["charges"]
    assert not [c for c in service_after["charges"] if c["name"].startswith("Outsourcing cost")]
    # the cost charge is still the only one
    assert len([c for c in lead_after["charges"] if c["name"].startswith("Outsourcing cost")]) == 1


def test_notes_the_plugin_writes_about_a_partner_action_are_not_sent_back(scenario: Scenario) -> None:
    s = started(scenario)
    note(s.service, str(s.service_ticket), "work started")
    s.service_action("submit")
    s.wait_lead_status("waiting_approval")
    s.lead_action("reject", reason="Port 12 still dark")
    s.wait_service_status("in_progress")
    wait_note(s.service, str(s.service_ticket), "Northwind IT rejected the submission: Port 12 still dark")
    service_marker(s)
    assert not [body for body in note_bodies(s.lead, s.lead_ticket) if "rejected the submission" in body]
