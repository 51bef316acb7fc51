"""A submit that the lead hears of late (the service host down, or the two cut apart), with the
lead writing and editing meanwhile: what crosses is decided by what each host had read of the
other's feed, whatever their clocks say (issue 12, defect 2).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from tests.cross_host.conftest import Pair, Scenario
from tests.faults.conftest import accepted
from tests.faults.ledger import SERVICE, Ledger, partner_poll_error, token
from tests.faults.test_environment import TOLERANCE, clock_ahead, clock_of, restarted
from tests.polling import eventually


def notes(api_json: dict[str, object]) -> list[str]:
    return [str(n["body"]) for n in api_json["notes"]]  # type: ignore[index, union-attr]


def lead_note(s: Scenario, body: str) -> int:
    return int(s.lead.post(f"/api/tickets/{s.lead_ticket}/notes", {"body": body})["id"])


def edit_lead_note(s: Scenario, note_id: int, body: str, *, expect: int = 200) -> None:
    s.lead.patch(f"/api/tickets/{s.lead_ticket}/notes/{note_id}", {"body": body}, expect=expect)


def on_service(s: Scenario, text: str) -> int:
    return sum(text in body for body in notes(s.service_ticket_json()))


def after_the_late_submit(s: Scenario, e1: int, e2: int, t: str) -> None:
    """The lead has heard of the submit: e1 (read by the service before it submitted) is a
    pre-suspension entry, e2 (written before the lead heard) a suspension-window one; after a
    reject and an edit, e2 still never reaches the service."""
    s.wait_lead_status("waiting_approval")
    edit_lead_note(s, e1, f"e1 edited while suspended {t}", expect=409)
    edit_lead_note(s, e2, f"e2 edited while suspended {t}")
    s.lead_action("reject", reason=f"Not finished {t}")
    s.wait_service_status("in_progress")
    edit_lead_note(s, e2, f"e2 edited after the reject {t}")
    marker = lead_note(s, f"e3 after the reject {t}")
    # the lead's feed is applied in order: once e3 is there, every earlier message of e2's was too
    eventually(lambda: on_service(s, f"e3 after the reject {t}") == 1, timeout=40)
    assert on_service(s, "e2 ") == 0, notes(s.service_ticket_json())
    edit_lead_note(s, marker, f"e3 edited {t}")
    eventually(lambda: on_service(s, f"e3 edited {t}") == 1)
    assert on_service(s, "e2 ") == 0


def test_note_written_while_the_submitting_service_is_down_never_crosses(scenario: Scenario, healed: Pair) -> None:
    s = accepted(scenario)
    pair, t = s.pair, token()
    e1 = lead_note(s, f"e1 before the submit {t}")
    eventually(lambda: on_service(s, f"e1 before the submit {t}") == 1)
    # the service submits and goes down before the lead hears of it
    pair.to_service.down = pair.to_lead.down = True
    s.service_action("submit")
    pair.service.stop(kill=True)
    pair.to_service.down = pair.to_lead.down = False
    e2 = lead_note(s, f"e2 during the outage {t}")
    eventually(lambda: partner_poll_error(s.lead, pair.lead_partner_id) is not None)
    assert s.lead_state()["engagement"]["status"] == "accepted"
    pair.service.start()
    after_the_late_submit(s, e1, e2, t)


@contextmanager
def skewed(pair: Pair, seconds: int, tolerance: int) -> Iterator[None]:
    """The service host's clock ``seconds`` off true time, and both hosts taking signed requests
    stamped up to ``tolerance`` seconds apart (restarted with that setting, then without)."""
    settings = {} if tolerance == TOLERANCE else {"OUTSOURCE_SIGNATURE_TOLERANCE": str(tolerance)}
    with ExitStack() as stack:
        if settings:
            stack.enter_context(restarted(pair.lead, settings))
        stack.enter_context(clock_ahead(pair.service, seconds, settings))
        yield


@pytest.mark.parametrize(
    ("skew", "tolerance"),
    [(-240, TOLERANCE), (240, TOLERANCE), (-420, 3 * TOLERANCE), (420, 3 * TOLERANCE)],
    ids=["behind-within", "ahead-within", "behind-beyond", "ahead-beyond"],
)
def test_crossing_a_submit_does_not_depend_on_the_clocks(
    scenario: Scenario, healed: Pair, skew: int, tolerance: int
) -> None:
    """Around a submit the lead hears of late, with the service's clock minutes off either way:
    the lead's new note stays out of the service, and its edit of a note the service already
    held reaches the copy there."""
    pair, t = scenario.pair, token()
    with skewed(pair, skew, tolerance):
        s = accepted(scenario)
        assert abs(clock_of(Ledger(s), SERVICE).total_seconds() - skew) < 30
        e1 = lead_note(s, f"e1 before the submit {t}")
        eventually(lambda: on_service(s, f"e1 before the submit {t}") == 1)
        pair.to_service.down = pair.to_lead.down = True
        s.service_action("submit")
        e2 = lead_note(s, f"e2 while cut apart {t}")
        edit_lead_note(s, e1, f"e1 edited before the lead heard {t}")
        pair.to_service.down = pair.to_lead.down = False
        eventually(lambda: on_service(s, f"e1 edited before the lead heard {t}") == 1, timeout=40)
        after_the_late_submit(s, e1, e2, t)
