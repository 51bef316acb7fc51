"""Two running help desks whose entry tables reuse ids (issue 12, defect 1), over real HTTP.

Both hosts run with ``HELPDESK_REUSE_IDS``: a new note, time entry, charge or
attachment gets ``max(id) + 1`` of its table, so a deleted newest entry's id
comes back on the next one. SQLite does that by itself for the demo's tables;
the setting makes PostgreSQL hosts do it too. Each step checks that the id
really was reused before it checks the plugin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.cross_host.conftest import Pair, Scenario, running_pair
from tests.cross_host.test_sync_rules import (
    LEAD_ORG,
    SERVICE_ORG,
    add,
    delete_entry,
    entries,
    note,
    patch_entry,
    refused,
    started,
    token,
    wait_entry,
    wait_gone,
    wait_note,
)


@pytest.fixture(scope="module")
def reusing_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with running_pair(tmp_path_factory, {"HELPDESK_REUSE_IDS": "1"}) as pair:
        yield pair


def standing(api: Any, ticket: str, kind: str, entry_id: int) -> dict[str, Any]:
    (entry,) = [e for e in entries(api, ticket, kind) if e["id"] == entry_id]
    return dict(entry["outsource"])


def test_a_host_that_reuses_ids_keeps_each_entry_link_to_one_life(reusing_pair: Pair) -> None:
    s = started(Scenario(reusing_pair))
    svc = str(s.service_ticket)
    t = token()

    # the demo's repro: the lead adds a charge, deletes it, adds another (was a 500), then edits it
    first = add(s.lead, s.lead_ticket, "charge", {"name": f"Switch {t}", "unit_cost": "150"})
    wait_entry(s.service, svc, "charge", lambda c: c["name"] == f"Switch {t}")
    delete_entry(s.lead, s.lead_ticket, "charge", first)
    wait_gone(s.service, svc, "charge", lambda c: c["name"] == f"Switch {t}")
    second = add(s.lead, s.lead_ticket, "charge", {"name": f"Cable {t}", "unit_cost": "4"})
    assert second == first
    patch_entry(s.lead, s.lead_ticket, "charge", second, {"name": f"Patch cable {t}"})
    cable = wait_entry(s.service, svc, "charge", lambda c: c["name"] == f"Patch cable {t}")
    assert [c["name"] for c in entries(s.service, svc, "charge")] == [f"Patch cable {t}"]
    assert cable["outsource"]["own"] is False and cable["outsource"]["origin"]["partner"] == LEAD_ORG

    # a lead note on the id of a deleted partner copy: its edit crosses
    note(s.service, svc, f"service note {t}")
    copy = wait_note(s.lead, s.lead_ticket, f"service note {t}")["id"]
    delete_entry(
        s.service,
        svc,
        "note",
        next(n["id"] for n in entries(s.service, svc, "note") if n["body"] == f"service note {t}"),
    )
    wait_gone(s.lead, s.lead_ticket, "note", lambda n: n["body"] == f"service note {t}")
    ours = note(s.lead, s.lead_ticket, f"lead note {t}")
    assert ours == copy
    patch_entry(s.lead, s.lead_ticket, "note", ours, {"body": f"lead note, edited {t}"})
    wait_note(s.service, svc, f"lead note, edited {t}")

    # a partner copy on the id of a deleted lead charge stays read-only, and says whose it is
    dropped = add(s.lead, s.lead_ticket, "charge", {"name": f"Fan {t}"})
    wait_entry(s.service, svc, "charge", lambda c: c["name"] == f"Fan {t}")
    delete_entry(s.lead, s.lead_ticket, "charge", dropped)
    wait_gone(s.service, svc, "charge", lambda c: c["name"] == f"Fan {t}")
    add(s.service, svc, "charge", {"name": f"PSU {t}", "unit_cost": "85"})
    theirs = wait_entry(s.lead, s.lead_ticket, "charge", lambda c: c["name"] == f"PSU {t}")["id"]
    assert theirs == dropped
    refused(delete_entry(s.lead, s.lead_ticket, "charge", theirs, expect=409))
    refused(patch_entry(s.lead, s.lead_ticket, "charge", theirs, {"name": "mine now"}, expect=409))
    psu = standing(s.lead, s.lead_ticket, "charge", theirs)
    service_user = s.service.get("/api/me")["name"]
    assert (psu["own"], psu["read_only"], psu["origin"]["partner"], psu["origin"]["user"]) == (
        False,
        True,
        SERVICE_ORG,
        service_user,
    )
    assert standing(s.lead, s.lead_ticket, "charge", second) == {
        "own": True,
        "origin": None,
        "read_only": False,
        "read_only_reason": None,
    }

    # a pre-suspension lead note on a reused id is read-only while Waiting Approval
    gone = note(s.lead, s.lead_ticket, f"wrong part {t}")
    wait_note(s.service, svc, f"wrong part {t}")
    delete_entry(s.lead, s.lead_ticket, "note", gone)
    wait_gone(s.service, svc, "note", lambda n: n["body"] == f"wrong part {t}")
    kept = note(s.lead, s.lead_ticket, f"right part {t}")
    assert kept == gone
    wait_note(s.service, svc, f"right part {t}")
    s.service_action("submit")
    s.wait_lead_status("waiting_approval")
    refused(patch_entry(s.lead, s.lead_ticket, "note", kept, {"body": "changed"}, expect=409))
    refused(delete_entry(s.lead, s.lead_ticket, "note", kept, expect=409))
    assert "waits for approval" in standing(s.lead, s.lead_ticket, "note", kept)["read_only_reason"]

    # after Complete every entry, copies included, is each side's own to edit or delete locally
    s.lead_action("approve")
    s.wait_lead_status("complete")
    s.wait_service_status("complete")
    assert standing(s.lead, s.lead_ticket, "charge", theirs)["read_only"] is False
    patch_entry(s.lead, s.lead_ticket, "charge", theirs, {"name": f"PSU, checked {t}"})
    delete_entry(s.lead, s.lead_ticket, "charge", theirs)
    patch_entry(s.lead, s.lead_ticket, "note", kept, {"body": f"right part, invoiced {t}"})
    assert standing(s.service, svc, "charge", cable["id"])["read_only"] is False
    patch_entry(s.service, svc, "charge", cable["id"], {"name": f"Cable, ours {t}"})
    delete_entry(s.service, svc, "charge", cable["id"])
    local = add(s.lead, s.lead_ticket, "charge", {"name": f"Local {t}"})
    assert standing(s.lead, s.lead_ticket, "charge", local)["own"] is True
