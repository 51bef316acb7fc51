"""Faults between two running hosts: a partner process restarted mid-scenario,
503 and 429 answers, a 4xx that dead-letters a message, and jobs run by a
separate worker. (Moved here from tests/cross_host: one home for fault cases.)

Each test ends by comparing both sides: the engagement's status, and every
entry added during the test present exactly once on each side.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from tests.cross_host.conftest import Pair, Scenario
from tests.cross_host.hosts import Client, eventually
from tests.faults.conftest import accepted
from tests.faults.ledger import holds, partner_poll_error, polls_again

API = "/outsource/api/v1"


def marker(label: str) -> str:
    return f"{label} [{uuid.uuid4().hex[:8]}]"


def note_bodies(api: Client, ticket_id: str | None) -> Counter[str]:
    return Counter(n["body"] for n in api.get(f"/api/tickets/{ticket_id}")["notes"])


def dead_letters(api: Client) -> list[dict[str, Any]]:
    return api.get(f"{API}/deadletters")["deadletters"]


def add_note(api: Client, ticket_id: str | None, text: str) -> str:
    api.post(f"/api/tickets/{ticket_id}/notes", {"body": text})
    return text


def assert_converged(
    s: Scenario,
    status: str,
    lead_notes: Sequence[str],
    service_notes: Sequence[str] = (),
    *,
    dead: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
) -> None:
    """Both sides reach ``status``; every listed note is there exactly once on both sides;
    no note of the ticket is doubled anywhere; the dead-letter lists are as they were."""
    s.wait_lead_status(status)
    s.wait_service_status(status)
    wanted = [*lead_notes, *service_notes]

    def arrived() -> bool:
        lead, service = note_bodies(s.lead, s.lead_ticket), note_bodies(s.service, s.service_ticket)
        missing = {text: (lead[text], service[text]) for text in wanted if (lead[text], service[text]) != (1, 1)}
        assert not missing, f"(lead, service) counts: {missing}; lead {dict(lead)}; service {dict(service)}"
        return True

    eventually(arrived, timeout=30)
    lead, service = note_bodies(s.lead, s.lead_ticket), note_bodies(s.service, s.service_ticket)
    assert [b for b, n in lead.items() if n > 1] == [] and [b for b, n in service.items() if n > 1] == []
    # every note the lead wrote (not internal) reached the service; every service note reached the lead
    lead_own = {n["body"] for n in s.lead_ticket_json()["notes"] if not n["internal"]}
    assert set(lead_notes) <= lead_own <= set(service)
    assert set(service_notes) <= set(lead)
    assert s.lead_state()["engagement"]["status"] == s.service_engagement()["status"] == status
    if dead is not None:
        assert dead_letters(s.lead) == dead[0] and dead_letters(s.service) == dead[1]


def dead_now(s: Scenario) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return dead_letters(s.lead), dead_letters(s.service)


def test_service_restarted_mid_scenario_loses_and_doubles_nothing(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair = s.pair
    dead = dead_now(s)
    before = add_note(s.lead, s.lead_ticket, marker("before the restart"))
    eventually(lambda: note_bodies(s.service, s.service_ticket)[before] == 1)
    on_site = add_note(s.service, s.service_ticket, marker("on site"))
    s.wait_lead_status("in_progress")
    s.service_action("submit")
    s.wait_lead_status("waiting_approval")

    pair.service.stop()
    reason = marker("Port 12 still dark")
    s.lead_action("reject", reason=reason)
    assert s.lead_state()["engagement"]["status"] == "in_progress"
    while_down = [add_note(s.lead, s.lead_ticket, marker(f"while down {i}")) for i in range(3)]
    # the lead has noticed: its polls of the service's feed fail
    eventually(lambda: partner_poll_error(s.lead, pair.lead_partner_id) is not None)
    pair.service.start()

    s.wait_service_status("in_progress")
    eventually(lambda: note_bodies(s.service, s.service_ticket)[f"Northwind IT rejected the submission: {reason}"] == 1)
    after = add_note(s.service, s.service_ticket, marker("back up"))
    assert_converged(s, "in_progress", [before, *while_down], [on_site, after], dead=dead)
    polls_again(s.lead, pair.lead_partner_id)


def test_service_killed_with_an_unsent_note_sends_it_once_after_restart(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair = s.pair
    dead = dead_now(s)
    # The service writes a note it cannot hand over (both directions cut: no push, no
    # pull), and its process is killed: the note waits in its outbox, in its database.
    pair.to_service.down = pair.to_lead.down = True
    last_words = add_note(s.service, s.service_ticket, marker("last words"))
    pair.service.stop(kill=True)
    pair.to_service.down = pair.to_lead.down = False
    assert note_bodies(s.lead, s.lead_ticket)[last_words] == 0
    lead_note = add_note(s.lead, s.lead_ticket, marker("lead while service is dead"))
    eventually(lambda: partner_poll_error(s.lead, pair.lead_partner_id) is not None)
    pair.service.start()
    assert_converged(s, "in_progress", [lead_note], [last_words], dead=dead)


def test_a_service_note_in_flight_when_the_lead_completes_is_not_lost(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair = s.pair
    pair.to_service.down = pair.to_lead.down = True
    in_flight = add_note(s.service, s.service_ticket, marker("written before completion"))
    s.lead_action("complete")
    pair.to_service.down = pair.to_lead.down = False
    s.wait_service_status("complete")
    assert_converged(s, "complete", [], [in_flight])


def test_503_then_429_are_retried_and_retry_after_is_honoured(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair = s.pair
    dead = dead_now(s)
    # Cut the service's pull path (its poller reads the lead's feed through to_lead), so
    # the note can only cross by the lead's pushes and every push attempt is observable.
    pair.to_lead.down = True
    answered, seen = len(pair.to_service.answered), len(pair.to_service.seen)
    pair.to_service.fail(503)
    pair.to_service.fail(429, headers={"Retry-After": "3"})
    text = add_note(s.lead, s.lead_ticket, marker("through the storm"))

    faults = eventually(lambda: (f := pair.to_service.answered[answered:]) and len(f) == 2 and f, timeout=15)
    assert [status for _, _, status in faults] == [503, 429]
    assert all("/messages" in path for _, path, _ in faults)
    (at_503, _, _), (at_429, _, _) = faults
    assert at_429 - at_503 >= 0.4, "the retry after a 503 waits the backoff"

    def push_after_429() -> float | None:
        pushes = [
            t
            for t, method, path, _ in pair.to_service.seen[seen:]
            if method == "POST" and "/messages" in path and t > at_429
        ]
        return min(pushes) if pushes else None

    # Retry-After is 3 s: wait for the push with a deadline comfortably past it
    pushed_at = eventually(push_after_429, timeout=15)
    assert pushed_at - at_429 >= 2.9, f"pushed {pushed_at - at_429:.2f}s after the 429: Retry-After ignored"
    pushes = [(p, st) for t, m, p, st in pair.to_service.seen[seen:] if m == "POST" and "/messages" in p]
    assert pushes[0][1] == 200
    eventually(lambda: note_bodies(s.service, s.service_ticket)[text] == 1)

    pair.to_lead.down = False
    reply = add_note(s.service, s.service_ticket, marker("heard you"))
    assert_converged(s, "in_progress", [text], [reply], dead=dead)
    assert pair.to_service.faults == []


def test_a_4xx_dead_letters_the_message_and_retry_delivers_it(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair = s.pair
    dead_lead, dead_service = dead_now(s)
    pair.to_service.fail(400)
    text = add_note(s.lead, s.lead_ticket, marker("refused once"))

    def new_dead() -> list[dict[str, Any]]:
        return [d for d in dead_letters(s.lead) if d["engagement_uid"] == s.uid]

    (letter,) = eventually(new_dead)
    assert letter["kind"] == "entry" and letter["attempts"] == 1 and "400" in letter["last_error"]
    assert letter["partner_id"] == pair.lead_partner_id
    # The service's poller pulls the lead's feed, dead letters included: the note still arrives, once.
    eventually(lambda: note_bodies(s.service, s.service_ticket)[text] == 1)

    retried = s.lead.post(f"{API}/deadletters/{letter['id']}/retry")
    assert retried == {"id": letter["id"], "state": "pending"}
    eventually(lambda: not new_dead())
    s.lead.post(f"{API}/deadletters/{letter['id']}/retry", expect=404)
    assert_converged(s, "accepted", [text], dead=(dead_lead, dead_service))


def test_a_dead_letter_holds_back_later_messages_until_retried(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair = s.pair
    dead_lead, dead_service = dead_now(s)
    pair.to_lead.down = True  # no pull path: only the lead's pushes can carry the notes
    seen = len(pair.to_service.seen)
    pair.to_service.fail(400)
    first = add_note(s.lead, s.lead_ticket, marker("first, refused"))
    (letter,) = eventually(lambda: [d for d in dead_letters(s.lead) if d["engagement_uid"] == s.uid])
    second = add_note(s.lead, s.lead_ticket, marker("second, must wait"))

    # The second message is refused as out of order (its predecessor is missing) and retried.
    eventually(
        lambda: any(m == "POST" and "/messages" in p and st == 409 for _, m, p, st in pair.to_service.seen[seen:])
    )
    service_notes = note_bodies(s.service, s.service_ticket)
    assert service_notes[first] == 0 and service_notes[second] == 0

    s.lead.post(f"{API}/deadletters/{letter['id']}/retry")
    eventually(lambda: (n := note_bodies(s.service, s.service_ticket)) and n[first] == 1 and n[second] == 1)
    assert [d for d in dead_letters(s.lead) if d["engagement_uid"] == s.uid] == []
    pair.to_lead.down = False
    assert_converged(s, "accepted", [first, second], dead=(dead_lead, dead_service))


def _offer_uids(api: Client) -> set[str]:
    return {i["uid"] for i in api.get(f"{API}/dashboard/service/waiting_acceptance?limit=500")["items"]}


def test_a_separate_worker_runs_the_jobs_and_sync_once_delivers(jobless_pair: Pair) -> None:
    pair = jobless_pair
    s = Scenario(pair)
    s.lead.post(f"{API}/tickets/{s.lead_ticket}/outsource", {"partner_id": pair.lead_partner_id, "terms": {}})
    seen = len(pair.to_service.seen)
    s.uid = s.lead_action("send")["engagement"]["uid"]

    # No scheduler in either web process: the offer waits in the lead's outbox.
    holds(lambda: s.uid not in _offer_uids(s.service), 1.5)
    assert pair.to_service.seen[seen:] == []

    worker = pair.lead.spawn("outsource", "worker")
    try:
        eventually(lambda: s.uid in _offer_uids(s.service), timeout=30)
    finally:
        worker.terminate()
        worker.wait(timeout=15)
    assert "outsource worker started" in (pair.lead.folder / "worker.log").read_text()
    s.wait_service_status("assigned")

    # The service accepts; with no jobs anywhere the lead does not learn it...
    customers = s.service.get("/api/customers")["customers"]
    engagement = s.service_action("accept", customer_ref=str(customers[0]["id"]))
    s.service_ticket = str(engagement["ticket_id"])
    holds(lambda: s.lead_state()["engagement"]["status"] == "assigned", 1.0)

    # ... until one `flask outsource sync --once` round on the service pushes it.
    ran = pair.service.flask("outsource", "sync", "--once")
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["delivered"] >= 1, result
    assert s.lead_state()["engagement"]["status"] == "accepted"

    # A lead note crosses with a sync round on the lead; a service note by the lead pulling.
    lead_note = add_note(s.lead, s.lead_ticket, marker("pushed by sync --once"))
    ran = pair.lead.flask("outsource", "sync", "--once")
    assert ran.returncode == 0 and json.loads(ran.stdout.strip().splitlines()[-1])["delivered"] >= 1, ran.stderr
    assert note_bodies(s.service, s.service_ticket)[lead_note] == 1
    service_note = add_note(s.service, s.service_ticket, marker("pulled by sync --once"))
    ran = pair.lead.flask("outsource", "sync", "--once")
    assert ran.returncode == 0 and json.loads(ran.stdout.strip().splitlines()[-1])["changes"] >= 1, ran.stderr
    # the service's own round still pushes what the lead already pulled: answered as duplicates, nothing doubles
    ran = pair.service.flask("outsource", "sync", "--once")
    assert ran.returncode == 0 and json.loads(ran.stdout.strip().splitlines()[-1])["delivered"] >= 1, ran.stderr
    assert_converged(s, "in_progress", [lead_note], [service_note], dead=([], []))
