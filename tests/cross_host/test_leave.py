"""Two real host processes, joined by invitation, and one of them leaves while the other is down.

The notice is owed from the commit that disabled the partner and retried until the
other host takes it; the other host then shows why, keeps the engagement as history
and stops syncing it. Re-enabling on one side leaves the other side as it was.
"""

from __future__ import annotations

from tests.cross_host.conftest import Pair, Scenario
from tests.polling import eventually

API = "/outsource/api/v1"


def test_a_leave_reaches_a_partner_that_was_down_and_the_engagement_stays_as_history(joined_pair: Pair) -> None:
    s = Scenario(joined_pair)
    s.send(authorised_hours="2")
    s.accept()
    lead, service = joined_pair.lead_api, joined_pair.service_api
    joined_pair.to_lead.refuse()
    try:
        left = service.post(
            f"{API}/partners/{joined_pair.service_partner_id}/disable", {"reason": "Contract over at year end"}
        )
        assert left["active"] is False and left["leave_notice"] == "due"
        retried = eventually(
            lambda: (p := service.get(f"{API}/partners/{joined_pair.service_partner_id}"))["leave_error"] and p
        )
        assert retried["leave_notice"] == "due"
        assert lead.get(f"{API}/partners/{joined_pair.lead_partner_id}")["active"] is True
    finally:
        joined_pair.to_lead.heal()
    told = eventually(
        lambda: not (p := lead.get(f"{API}/partners/{joined_pair.lead_partner_id}"))["active"] and p, timeout=60
    )
    assert told["disabled_reason"] == "Contract over at year end" and told["disabled_by_partner_at"]
    assert service.get(f"{API}/partners/{joined_pair.service_partner_id}")["leave_notice"] is None
    assert s.lead_state()["engagement"]["status"] == "accepted"  # readable, as history

    s.lead.post(f"/api/tickets/{s.lead_ticket}/notes", {"body": "After the partnership ended"})
    enabled = service.patch(f"{API}/partners/{joined_pair.service_partner_id}", {"active": True})
    assert enabled["active"] is True
    # the service polls the lead again, and the lead refuses a partner it has disabled: a round in which
    # the note could have crossed by either path (the lead does not push to a partner that left)
    eventually(
        lambda: (
            "answered 401" in str(service.get(f"{API}/partners/{joined_pair.service_partner_id}")["last_poll_error"])
        ),
        timeout=30,
        what="the lead refusing the service's next poll",
    )
    notes = s.service_ticket_json()["notes"]
    assert not any("After the partnership ended" in n["body"] for n in notes)
    assert lead.get(f"{API}/partners/{joined_pair.lead_partner_id}")["active"] is False
