"""Property: whatever the interleaving of user actions, entry changes on both sides and
delivery failures, once deliveries drain the two sides converge.

Hypothesis draws a list of steps for a fresh accepted ticket on the session's running
pair: notes (internal or public), time and charges on either side; faults on either
link (500, 503, 429 with Retry-After, partner down); and after each few of those a
status action: the service submits, the lead rejects, approves or sets Complete early
(each where SPEC allows it, skipped otherwise).
After each status action the test waits for both sides to agree, so the rules give one
answer for every entry: it crosses if, and only if, it was written while the engagement
was Accepted or In Progress (and is not a lead internal note), and, when it was written by
the side that did not act, had reached the acting side before the act (crossing is causal:
one still in flight is concurrent with the act and stays on its owner's side). Then:

- synced entry sets converge: each entry once on its side, once on the other if it crosses;
- nothing written during a suspension ever crosses, not even after the sync resumes;
- nothing crosses after Complete;
- both sides' outsource statuses agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cross_host.conftest import Pair, Scenario
from tests.faults.conftest import accepted, heal
from tests.faults.ledger import (
    LEAD,
    SERVICE,
    FaultReport,
    Ledger,
    Tally,
    agreed_status,
    assert_converged,
    expected,
    holds,
)

ACTIVE, SUSPENDED, ENDED = "active", "suspended", "ended"

#: (action, who acts, the phase it is allowed in, the phase and status it leads to)
ACTIONS = {
    "submit": (SERVICE, ACTIVE, SUSPENDED, "waiting_approval"),
    "reject": (LEAD, SUSPENDED, ACTIVE, "in_progress"),
    "approve": (LEAD, SUSPENDED, ENDED, "complete"),
    "complete": (LEAD, ACTIVE, ENDED, "complete"),
}

entries = st.tuples(st.just("entry"), st.sampled_from(["note", "time", "charge"]), st.sampled_from([LEAD, SERVICE]))
internal_notes = st.tuples(st.just("internal"), st.just("note"), st.sampled_from([LEAD, SERVICE]))
actions = st.tuples(st.just("action"), st.sampled_from(sorted(ACTIONS)), st.just(""))
faults = st.tuples(st.just("fault"), st.sampled_from(["500", "503", "429", "down"]), st.sampled_from([LEAD, SERVICE]))
writes = st.lists(st.one_of(entries, internal_notes, faults), min_size=1, max_size=3)
#: rounds of a few writes and faults, each round ending in a status action (skipped where not allowed)
steps = st.lists(st.tuples(writes, actions), min_size=1, max_size=3).map(
    lambda rounds: [step for written, action in rounds for step in (*written, action)]
)


EXAMPLES = 20


@dataclass
class Totals:
    examples: int = 0
    injected: int = 0
    checked: int = 0
    lost: int = 0
    doubled: int = 0
    actions: int = 0


class Run:
    """One example: the model's phase, and the steps applied to the real pair."""

    def __init__(self, pair: Pair) -> None:
        self.s = accepted(Scenario(pair))
        self.pair = pair
        self.ledger = Ledger(self.s)
        self.phase = ACTIVE
        self.injected = 0

    def entry(self, kind: str, side: str, *, internal: bool = False) -> None:
        crosses = self.phase == ACTIVE
        if kind == "note":
            self.ledger.note(side, f"{self.phase} note", internal=internal, crosses=crosses)
        elif kind == "time":
            self.ledger.time(side, f"{self.phase} time", crosses=crosses)
        else:
            self.ledger.charge(side, f"{self.phase} charge", crosses=crosses)

    def action(self, name: str) -> bool:
        actor, allowed_in, then, status = ACTIONS[name]
        if self.phase != allowed_in:
            return False
        # the links held around the act, so the model can read what the actor had received by then
        self.pair.to_service.down = self.pair.to_lead.down = True
        body = {"reason": "Not quite done yet"} if name == "reject" else {}
        if actor == LEAD:
            self.s.lead_action(name, **body)
        else:
            self.s.service_action(name, **body)
        self.concurrent_stay_apart(actor)
        self.pair.to_service.down = self.pair.to_lead.down = False  # an outage ends with the status change
        agreed_status(self.s, status)
        self.phase = then
        return True

    def concurrent_stay_apart(self, actor: str) -> None:
        """The other side's entries that had not reached the actor when it acted (the links are
        held, so none arrives since) are concurrent with its act: they never cross (SPEC's
        suspension window; nothing after Complete)."""
        received = self.ledger.tokens_on(actor)
        self.ledger.written = [
            replace(w, crosses=False) if w.side != actor and w.crosses and not received[w.token] else w
            for w in self.ledger.written
        ]

    def fault(self, kind: str, towards: str) -> None:
        proxy = self.pair.to_service if towards == SERVICE else self.pair.to_lead
        if kind == "down":
            proxy.down = True
        else:
            proxy.fail(int(kind), headers={"Retry-After": "1"} if kind != "500" else None, times=2)
        self.injected += 1

    def drain(self) -> Tally:
        """Deliveries flow again; wait for convergence, and hold it for a few poll rounds
        when something must *not* cross (it must not merely be late)."""
        self.pair.to_service.down = self.pair.to_lead.down = False
        tally = assert_converged(self.ledger)
        stay_apart = [w for w in self.ledger.written if not w.crosses]
        if stay_apart:

            def still_apart() -> bool:
                lead, service = self.ledger.tokens_on(LEAD), self.ledger.tokens_on(SERVICE)
                return all((lead[w.token], service[w.token]) == expected(w) for w in stay_apart)

            holds(still_apart, 1.0)
        return tally


def test_random_interleavings_converge(pair: Pair, fault_report: FaultReport) -> None:
    totals = Totals()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
    @given(plan=steps)
    def converges(plan: list[tuple[str, str, str]]) -> None:
        run = Run(pair)
        try:
            for step, what, arg in plan:
                if step == "entry":
                    run.entry(what, arg)
                elif step == "internal":
                    run.entry(what, arg, internal=True)
                elif step == "action":
                    totals.actions += run.action(what)
                else:
                    run.fault(what, arg)
            tally = run.drain()
        finally:
            heal(pair)
        totals.examples += 1
        totals.injected += run.injected
        totals.checked += tally.entries_checked
        totals.lost += tally.lost
        totals.doubled += tally.doubled

    converges()
    assert totals.examples == EXAMPLES
    fault_report.record(
        "property-random-interleavings",
        totals.injected,
        Tally("mixed", totals.checked, totals.lost, totals.doubled),
        examples=totals.examples,
        status_actions=totals.actions,
    )
