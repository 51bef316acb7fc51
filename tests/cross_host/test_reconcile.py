"""Reconciliation across two running help desks: drift induced behind the plugins' backs (rows
changed or deleted directly in one host's database) is named by ``flask outsource reconcile``
on both hosts, ``--repair`` makes each host re-send what it owns until both sides agree and
the audit history records it, and an entry from a suspension window is never repaired across.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import create_engine, text

from tests.cross_host.conftest import Scenario
from tests.cross_host.hosts import Client, Host
from tests.polling import eventually


def reconcile(host: Host, uid: str, *args: str) -> tuple[int, dict[str, Any]]:
    """``flask outsource reconcile`` on one host, for this test's engagement only (the pair is shared)."""
    result = host.flask("outsource", "reconcile", "--json", "--engagement", uid, *args)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def drifts(found: dict[str, Any]) -> list[tuple[str, str, bool, bool]]:
    return sorted((d["kind"], d["entry_key"] or "", d["repairable"], d["repaired"]) for d in found["drifts"])


def sql(host: Host, statement: str, **params: Any) -> None:
    """Change a host's database directly, as a lost row or a restored backup would."""
    engine = create_engine(host.database_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(text(statement), params).rowcount == 1
    finally:
        engine.dispose()


def bodies(api: Client, ticket: str) -> list[str]:
    return sorted(n["body"] for n in api.get(f"/api/tickets/{ticket}")["notes"])


def note(api: Client, ticket: str, body: str) -> None:
    api.post(f"/api/tickets/{ticket}/notes", {"body": body})


def repairs(api: Client, ticket: str) -> list[str]:
    history = api.get(f"/outsource/api/v1/tickets/{ticket}/outsource/history")["history"]
    return [e["reason"] for e in history if e["action"] == "repair"]


def test_drift_is_reported_then_repaired_by_each_owner(scenario: Scenario) -> None:
    s, pair = scenario, scenario.pair
    uid = s.send()
    svc = s.accept()
    lead_text, service_text = f"Lead note {uuid.uuid4().hex[:8]}", f"Service note {uuid.uuid4().hex[:8]}"
    note(s.lead, s.lead_ticket, lead_text)
    note(s.service, svc, service_text)
    eventually(lambda: lead_text in bodies(s.service, svc) and service_text in bodies(s.lead, s.lead_ticket))

    # the service side loses the lead's note; the lead's copy of the service's note is altered
    sql(pair.service, "DELETE FROM hd_note WHERE ticket_id = :t AND body = :b", t=int(svc), b=lead_text)
    sql(
        pair.lead,
        "UPDATE hd_note SET body = 'tampered' WHERE ticket_id = :t AND body = :b",
        t=int(s.lead_ticket),
        b=service_text,
    )

    # retried only while the lead's delivery of its note may still be settling (then it is in flight, not drift)
    code, at_lead = eventually(lambda: (found := reconcile(pair.lead, uid)) and len(found[1]["drifts"]) == 2 and found)
    assert code == 1
    [(kind_a, key_a, fix_a, _), (kind_b, key_b, fix_b, _)] = drifts(at_lead)
    assert (kind_a, fix_a) == ("differs", False) and key_a.startswith("service:note:")
    assert (kind_b, fix_b) == ("missing_on_partner", True) and key_b.startswith("lead:note:")

    code, at_service = reconcile(pair.service, uid, "--repair")
    assert code == 1, "the lead's missing note is the lead's to repair"
    assert drifts(at_service) == [("differs", key_a, True, True), ("missing_here", key_b, False, False)]
    eventually(lambda: service_text in bodies(s.lead, s.lead_ticket))
    code, at_lead = reconcile(pair.lead, uid, "--repair")
    assert code == 0 and drifts(at_lead) == [("missing_on_partner", key_b, True, True)]
    eventually(lambda: bodies(s.service, svc).count(lead_text) == 1)

    assert bodies(s.lead, s.lead_ticket) == bodies(s.service, svc)
    clean = {"checked": 1, "drifts": [], "repaired": 0, "not_supported": {}, "status_counts": []}
    assert eventually(lambda: reconcile(pair.service, uid) == (0, clean))
    [lead_repair] = repairs(s.lead, s.lead_ticket)
    [service_repair] = repairs(s.service, svc)
    assert key_b in lead_repair and key_a in service_repair


def test_an_entry_from_a_suspension_window_is_never_repaired_across(scenario: Scenario) -> None:
    s, pair = scenario, scenario.pair
    uid = s.send()
    svc = s.accept()
    s.service_action("submit")
    s.wait_lead_status("waiting_approval")
    lead_during, service_during = (f"Written while suspended {uuid.uuid4().hex[:8]}" for _ in range(2))
    note(s.lead, s.lead_ticket, lead_during)
    note(s.service, svc, service_during)
    s.lead_action("reject", reason="The switch still drops packets")
    s.wait_service_status("in_progress")

    for host in (pair.lead, pair.service):
        code, found = reconcile(host, uid, "--repair")
        assert code == 0 and found["drifts"] == [], found
    lead_marker, service_marker = (f"Marker after the repair {uuid.uuid4().hex[:8]}" for _ in range(2))
    note(s.lead, s.lead_ticket, lead_marker)
    note(s.service, svc, service_marker)
    eventually(lambda: lead_marker in bodies(s.service, svc) and service_marker in bodies(s.lead, s.lead_ticket))
    assert lead_during not in bodies(s.service, svc) and service_during not in bodies(s.lead, s.lead_ticket)
    assert repairs(s.lead, s.lead_ticket) == [] and repairs(s.service, svc) == []
