"""Batched delivery between two real hosts (issue 18, target 2).

A service that wrote many entries pushes them to the lead in one signed
request per batch, not one per message; a lead that does not know the batch
endpoint (an older plugin: its router answers 404) still gets every entry,
one message per request, as before. Each entry lands exactly once.
"""

from __future__ import annotations

import json
from collections import Counter

from tests.cross_host.conftest import Pair, Scenario
from tests.cross_host.hosts import Captured
from tests.faults.conftest import accepted_without_jobs, sync_round
from tests.faults.ledger import LEAD, SERVICE, dead_letters_of

API = "/outsource/api/v1"
#: the service's notes; with them goes its first work's action (In Progress), in the same batch
NOTES = 12


def pushes(pair: Pair, since: int) -> Counter[str]:
    """The service's pushes to the lead since ``since``, by path and status."""
    return Counter(
        f"{path.rsplit('/federation/v1', 1)[1]} {status}"
        for _, method, path, status in pair.to_lead.seen[since:]
        if method == "POST" and "/messages" in path
    )


def write_notes(s: Scenario, label: str) -> list[str]:
    texts = [f"{label} {n}" for n in range(NOTES)]
    for text in texts:
        s.service.post(f"/api/tickets/{s.service_ticket}/notes", {"body": text})
    return texts


def lead_notes(s: Scenario) -> Counter[str]:
    return Counter(n["body"] for n in s.lead_ticket_json()["notes"])


def test_a_burst_of_entries_crosses_in_one_request(jobless_pair: Pair) -> None:
    s = accepted_without_jobs(jobless_pair)
    texts = write_notes(s, "batched")
    since = len(jobless_pair.to_lead.seen)
    sync_round(SERVICE, jobless_pair)
    assert pushes(jobless_pair, since) == Counter({"/messages/batch 200": 1})
    on_lead = lead_notes(s)
    assert [on_lead[t] for t in texts] == [1] * NOTES


def test_a_lead_without_the_batch_endpoint_gets_one_message_per_request(jobless_pair: Pair) -> None:
    s = accepted_without_jobs(jobless_pair)
    texts = write_notes(s, "one by one")

    def older_plugin(request: Captured) -> tuple[int, bytes] | None:
        return (404, b'{"error": "not_found"}') if request.path.endswith("/messages/batch") else None

    jobless_pair.to_lead.intercept = older_plugin
    try:
        since = len(jobless_pair.to_lead.seen)
        sync_round(SERVICE, jobless_pair)
    finally:
        jobless_pair.to_lead.intercept = None
    pushed = pushes(jobless_pair, since)
    assert set(pushed) == {"/messages 200"} and pushed["/messages 200"] >= NOTES, pushed
    on_lead = lead_notes(s)
    assert [on_lead[t] for t in texts] == [1] * NOTES


def test_the_item_a_batch_refusal_names_is_dead_lettered_alone(jobless_pair: Pair) -> None:
    """A 400 naming one item dead-letters that message, as a single push's 400 does; the others
    were not applied and go again (the one before it in the same round, those after it at the next:
    the lead would refuse them as out of order); the poller still brings the refused one."""
    s = accepted_without_jobs(jobless_pair)
    texts = write_notes(s, "refused once")
    refusal = {
        "error": "validation_failed",
        "message": "invalid input: messages.1.payload.data.text",
        "details": {"messages": {"1": {"payload": {"data": {"text": ["Longer than the limit."]}}}}},
    }
    refused: list[str] = []

    def refuse_first_batch(request: Captured) -> tuple[int, bytes] | None:
        if refused or not request.path.endswith("/messages/batch"):
            return None
        refused.append(json.loads(request.body)["messages"][1]["id"])
        return 400, json.dumps(refusal).encode()

    jobless_pair.to_lead.intercept = refuse_first_batch
    try:
        sync_round(SERVICE, jobless_pair)
    finally:
        jobless_pair.to_lead.intercept = None
    (letter,) = dead_letters_of(s.service, s.uid)
    assert letter["message_id"] == refused[0] and letter["attempts"] == 1 and "400" in letter["last_error"]
    sync_round(LEAD, jobless_pair)  # the lead's poll reads the service's feed, the refused message too
    on_lead = lead_notes(s)
    assert [on_lead[t] for t in texts] == [1] * NOTES
