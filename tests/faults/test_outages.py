"""Faults between two running hosts: a partner process restarted mid-scenario,
503 and 429 answers, a 4xx that dead-letters a message, and jobs run by a
separate worker. (Moved here from tests/cross_host: one home for fault cases.)

Each test ends with ``assert_converged``: both sides agree on the engagement's
status, and every entry added during the test is present exactly once on each side.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tests.cross_host.conftest import Pair, Scenario
from tests.cross_host.hosts import Client
from tests.faults.conftest import accepted
from tests.faults.ledger import (
    API,
    LEAD,
    SERVICE,
    Ledger,
    assert_converged,
    dead_letters_of,
    holds,
    no_dead_letters,
    partner_poll_error,
    polls_again,
    token,
)
from tests.polling import eventually


def note_bodies(api: Client, ticket_id: str | None) -> Counter[str]:
    return Counter(n["body"] for n in api.get(f"/api/tickets/{ticket_id}")["notes"])


def test_service_restarted_mid_scenario_loses_and_doubles_nothing(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    before = ledger.note(LEAD, "before the restart")
    eventually(lambda: ledger.tokens_on(SERVICE)[before] == 1)
    ledger.note(SERVICE, "on site")
    s.wait_lead_status("in_progress")
    s.service_action("submit")
    s.wait_lead_status("waiting_approval")

    pair.service.stop()
    reason = f"Port 12 still dark {token()}"
    s.lead_action("reject", reason=reason)
    assert s.lead_state()["engagement"]["status"] == "in_progress"
    for i in range(3):
        ledger.note(LEAD, f"while down {i}")
    # the lead has noticed: its polls of the service's feed fail
    eventually(lambda: partner_poll_error(s.lead, pair.lead_partner_id) is not None)
    pair.service.start()

    s.wait_service_status("in_progress")
    eventually(lambda: note_bodies(s.service, s.service_ticket)[f"Northwind IT rejected the submission: {reason}"] == 1)
    ledger.note(SERVICE, "back up")
    assert_converged(ledger, "in_progress")
    no_dead_letters(s)
    polls_again(s.lead, pair.lead_partner_id)


def test_service_killed_with_an_unsent_note_sends_it_once_after_restart(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    # The service writes a note it cannot hand over (both directions cut: no push, no
    # pull), and its process is killed: the note waits in its outbox, in its database.
    pair.to_service.down = pair.to_lead.down = True
    last_words = ledger.note(SERVICE, "last words")
    pair.service.stop(kill=True)
    pair.to_service.down = pair.to_lead.down = False
    assert ledger.tokens_on(LEAD)[last_words] == 0
    ledger.note(LEAD, "lead while service is dead")
    eventually(lambda: partner_poll_error(s.lead, pair.lead_partner_id) is not None)
    pair.service.start()
    assert_converged(ledger, "in_progress")
    no_dead_letters(s)


def test_a_service_note_in_flight_when_the_lead_completes_stays_on_the_service(
    scenario: Scenario, healed: Pair
) -> None:
    """The service wrote it before it heard of the complete, and the lead completed without it:
    it belongs to after the end on both sides (crossing is causal), so it never lands on the lead."""
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    pair.to_service.down = pair.to_lead.down = True
    mark = ledger.note(SERVICE, "written before the service heard of the completion", crosses=False)
    s.lead_action("complete")
    pair.to_service.down = pair.to_lead.down = False
    assert_converged(ledger, "complete")
    eventually(lambda: owes_nothing(s.service, pair.service_partner_id))  # the lead took (and dropped) the note
    assert ledger.tokens_on(LEAD)[mark] == 0 and ledger.tokens_on(SERVICE)[mark] == 1
    no_dead_letters(s)


def owes_nothing(api: Client, partner_id: int) -> bool:
    """The host's outbox holds nothing pending for the partner: the partner has taken it all."""
    partners = api.call("GET", f"{API}/health").json()["partners"]
    return all(p["pending"] == 0 for p in partners if p["id"] == partner_id)


def test_503_then_429_are_retried_and_retry_after_is_honoured(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    # Cut the service's pull path (its poller reads the lead's feed through to_lead), so
    # the note can only cross by the lead's pushes and every push attempt is observable.
    pair.to_lead.down = True
    answered, seen = len(pair.to_service.answered), len(pair.to_service.seen)
    pair.to_service.fail(503)
    pair.to_service.fail(429, headers={"Retry-After": "3"})
    text = ledger.note(LEAD, "through the storm")

    faults = eventually(lambda: (f := pair.to_service.answered[answered:]) and len(f) == 2 and f, timeout=15)
    assert [status for _, _, status in faults] == [503, 429]
    assert all("/messages" in path for _, path, _ in faults)
    # The retry after the 503 waits a full-jitter backoff, anywhere from 0 to the capped exponential
    # (1 s for a first retry): tests/outsource_plugin/test_backoff.py pins its spread, a run cannot.
    _, (at_429, _, _) = faults

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
    eventually(lambda: ledger.tokens_on(SERVICE)[text] == 1)

    pair.to_lead.down = False
    ledger.note(SERVICE, "heard you")
    assert_converged(ledger, "in_progress")
    no_dead_letters(s)
    assert pair.to_service.faults == []


def test_a_4xx_dead_letters_the_message_and_retry_delivers_it(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    pair.to_service.fail(400)
    text = ledger.note(LEAD, "refused once")

    def new_dead() -> list[dict[str, Any]]:
        return dead_letters_of(s.lead, s.uid)

    (letter,) = eventually(new_dead)
    assert letter["kind"] == "entry" and letter["attempts"] == 1 and "400" in letter["last_error"]
    assert letter["partner_id"] == pair.lead_partner_id
    # The service's poller pulls the lead's feed, dead letters included: the note still arrives, once.
    eventually(lambda: ledger.tokens_on(SERVICE)[text] == 1)

    retried = s.lead.post(f"{API}/deadletters/{letter['id']}/retry")
    assert retried == {"id": letter["id"], "state": "pending"}
    eventually(lambda: not new_dead())
    s.lead.post(f"{API}/deadletters/{letter['id']}/retry", expect=404)
    assert_converged(ledger, "accepted")
    no_dead_letters(s)


def test_a_dead_letter_holds_back_later_messages_until_retried(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair, ledger = s.pair, Ledger(s)
    pair.to_lead.down = True  # no pull path: only the lead's pushes can carry the notes
    seen = len(pair.to_service.seen)
    pair.to_service.fail(400)
    first = ledger.note(LEAD, "first, refused")
    (letter,) = eventually(lambda: dead_letters_of(s.lead, s.uid))
    second = ledger.note(LEAD, "second, must wait")

    # The second message is refused as out of order (its predecessor is missing) and retried.
    eventually(
        lambda: any(m == "POST" and "/messages" in p and st == 409 for _, m, p, st in pair.to_service.seen[seen:])
    )
    on_service = ledger.tokens_on(SERVICE)
    assert on_service[first] == 0 and on_service[second] == 0

    s.lead.post(f"{API}/deadletters/{letter['id']}/retry")
    eventually(lambda: (n := ledger.tokens_on(SERVICE)) and n[first] == 1 and n[second] == 1)
    assert dead_letters_of(s.lead, s.uid) == []
    pair.to_lead.down = False
    assert_converged(ledger, "accepted")
    no_dead_letters(s)


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
    ledger = Ledger(s)
    holds(lambda: s.lead_state()["engagement"]["status"] == "assigned", 1.0)

    # ... until one `flask outsource sync --once` round on the service pushes it.
    ran = pair.service.flask("outsource", "sync", "--once")
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["delivered"] >= 1, result
    assert s.lead_state()["engagement"]["status"] == "accepted"

    # A lead note crosses with a sync round on the lead; a service note by the lead pulling.
    lead_note = ledger.note(LEAD, "pushed by sync --once")
    ran = pair.lead.flask("outsource", "sync", "--once")
    assert ran.returncode == 0 and json.loads(ran.stdout.strip().splitlines()[-1])["delivered"] >= 1, ran.stderr
    assert ledger.tokens_on(SERVICE)[lead_note] == 1
    ledger.note(SERVICE, "pulled by sync --once")
    ran = pair.lead.flask("outsource", "sync", "--once")
    assert ran.returncode == 0 and json.loads(ran.stdout.strip().splitlines()[-1])["changes"] >= 1, ran.stderr
    # the service's own round still pushes what the lead already pulled: answered as duplicates, nothing doubles
    ran = pair.service.flask("outsource", "sync", "--once")
    assert ran.returncode == 0 and json.loads(ran.stdout.strip().splitlines()[-1])["delivered"] >= 1, ran.stderr
    assert_converged(ledger, "in_progress")
    no_dead_letters(s)
