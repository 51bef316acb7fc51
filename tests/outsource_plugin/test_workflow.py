"""The transition table as plain data: SPEC rows present, nothing else."""

from __future__ import annotations

import itertools

import pytest

from outsource_plugin.errors import TransitionRefused
from outsource_plugin.workflow import (
    ACTION_FACTS,
    CROSSED,
    OPEN_STATUSES,
    TRANSITIONS,
    USER_ACTIONS,
    Action,
    Folder,
    Side,
    Status,
    SyncState,
    allowed,
    crossed,
    folders_for,
    sync_state,
    target,
)

L, S, SYS = Side.LEAD, Side.SERVICE, Side.SYSTEM

#: where a service's acceptance that lost a crossing may have got to
ACCEPTED_ON = (Status.ACCEPTED, Status.IN_PROGRESS, Status.WAITING_APPROVAL)

#: The SPEC's table, written out row by row, independent of the module's own encoding.
SPEC_ROWS = {
    (None, Action.CONFIGURE, L): Status.UNSENT,
    (Status.DECLINED, Action.CONFIGURE, L): Status.UNSENT,
    (Status.CANCELED, Action.CONFIGURE, L): Status.UNSENT,
    (Status.UNSENT, Action.EDIT, L): Status.UNSENT,
    (Status.UNSENT, Action.REMOVE, L): None,
    (Status.UNSENT, Action.SEND, L): Status.ASSIGNED,
    (Status.ASSIGNED, Action.CANCEL, L): Status.CANCELED,
    (Status.ASSIGNED, Action.DECLINE, S): Status.DECLINED,
    (Status.ASSIGNED, Action.AUTO_DECLINE, SYS): Status.DECLINED,
    (Status.ASSIGNED, Action.ACCEPT, S): Status.ACCEPTED,
    (Status.ACCEPTED, Action.START_WORK, S): Status.IN_PROGRESS,
    (Status.ACCEPTED, Action.SUBMIT, S): Status.WAITING_APPROVAL,
    (Status.IN_PROGRESS, Action.SUBMIT, S): Status.WAITING_APPROVAL,
    (Status.WAITING_APPROVAL, Action.REJECT, L): Status.IN_PROGRESS,
    (Status.WAITING_APPROVAL, Action.APPROVE, L): Status.COMPLETE,
    (Status.ACCEPTED, Action.COMPLETE, L): Status.COMPLETE,
    (Status.IN_PROGRESS, Action.COMPLETE, L): Status.COMPLETE,
    **{(s, Action.TICKET_COMPLETE, SYS): Status.COMPLETE for s in OPEN_STATUSES},
    # compensations (docs/races.md): the service side follows the lead's act that crossed its own
    **{(s, Action.WITHDRAW, SYS): Status.CANCELED for s in (*ACCEPTED_ON, Status.DECLINED)},
    **{(s, Action.LAPSE, SYS): Status.DECLINED for s in ACCEPTED_ON},
    (Status.WAITING_APPROVAL, Action.OVERRULE, SYS): Status.COMPLETE,
}

STATUSES: list[Status | None] = [None, *Status]


@pytest.mark.parametrize(("status", "action", "side"), list(itertools.product(STATUSES, Action, Side)))
def test_every_triple_is_the_spec_row_or_refused(status: Status | None, action: Action, side: Side) -> None:
    key = (status, action, side)
    if key in SPEC_ROWS:
        assert target(status, action, side) is SPEC_ROWS[key]
    else:
        with pytest.raises(TransitionRefused) as refused:
            target(status, action, side)
        assert refused.value.status_code == 409


def test_table_holds_exactly_the_spec_rows() -> None:
    encoded = {(s, a, d): to for s, row in TRANSITIONS.items() for (a, d), to in row.items()}
    assert encoded == SPEC_ROWS


def test_final_status_has_an_explicit_empty_row() -> None:
    assert TRANSITIONS[Status.COMPLETE] == {}


def test_allowed_is_read_off_the_table_in_menu_order() -> None:
    assert allowed(Status.UNSENT, L) == [Action.EDIT, Action.SEND, Action.REMOVE]
    assert allowed(Status.ASSIGNED, S) == [Action.ACCEPT, Action.DECLINE]
    assert allowed(Status.ASSIGNED, L) == [Action.CANCEL]
    assert allowed(Status.WAITING_APPROVAL, L) == [Action.APPROVE, Action.REJECT]
    assert allowed(Status.WAITING_APPROVAL, S) == []
    assert allowed(None, L) == [Action.CONFIGURE]
    assert allowed(Status.COMPLETE, L) == []


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (None, SyncState.NONE),
        (Status.ASSIGNED, SyncState.NONE),
        (Status.ACCEPTED, SyncState.ACTIVE),
        (Status.IN_PROGRESS, SyncState.ACTIVE),
        (Status.WAITING_APPROVAL, SyncState.SUSPENDED),
        (Status.COMPLETE, SyncState.ENDED),
    ],
)
def test_sync_runs_only_in_accepted_and_in_progress(status: Status | None, state: SyncState) -> None:
    assert sync_state(status) is state


def test_service_side_has_no_unsent_folder() -> None:
    assert Folder.UNSENT in folders_for(L)
    assert Folder.UNSENT not in folders_for(S)
    assert len(folders_for(L)) == 7


#: docs/races.md, written out: (our status, the partner's action) -> our compensation, or None (superseded)
RACE_RULES: dict[tuple[Status, Action], Action | None] = {
    **{(s, Action.CANCEL): Action.WITHDRAW for s in (*ACCEPTED_ON, Status.DECLINED)},
    **{(s, Action.AUTO_DECLINE): Action.LAPSE for s in ACCEPTED_ON},
    (Status.WAITING_APPROVAL, Action.COMPLETE): Action.OVERRULE,
    **{
        (s, a): None
        for s in (Status.CANCELED, Status.DECLINED)
        for a in (Action.ACCEPT, Action.SUBMIT, Action.TICKET_COMPLETE)
    },
    (Status.CANCELED, Action.DECLINE): None,
    (Status.COMPLETE, Action.SUBMIT): None,
    (Status.COMPLETE, Action.REJECT): None,
}


def _partner_side(action: Action) -> Side:
    if action in (Action.AUTO_DECLINE, Action.TICKET_COMPLETE):
        return SYS
    return L if action in (Action.CANCEL, Action.COMPLETE, Action.REJECT, Action.APPROVE) else S


def test_crossed_holds_exactly_the_race_rules() -> None:
    assert CROSSED == RACE_RULES


@pytest.mark.parametrize(("ours", "action"), list(RACE_RULES), ids=lambda v: v.value)
def test_a_crossing_is_only_what_the_table_refuses_and_compensates_by_a_row(ours: Status, action: Action) -> None:
    side = _partner_side(action)
    with pytest.raises(TransitionRefused):
        target(ours, action, side)
    assert crossed(ours, action, side) == (True, RACE_RULES[(ours, action)])
    compensation = RACE_RULES[(ours, action)]
    if compensation is not None:
        # the loser ends where the winner's act led the winner
        winner_from = Status.IN_PROGRESS if action is Action.COMPLETE else Status.ASSIGNED
        assert target(ours, compensation, SYS) is target(winner_from, action, side)


@pytest.mark.parametrize(("status", "action", "side"), list(itertools.product(Status, Action, Side)))
def test_an_allowed_action_never_counts_as_crossed(status: Status, action: Action, side: Side) -> None:
    if (action, side) in TRANSITIONS[status]:
        assert crossed(status, action, side) == (False, None)


def test_every_action_has_facts() -> None:
    assert set(ACTION_FACTS) == set(Action)


def test_the_user_actions_come_in_menu_order() -> None:
    assert USER_ACTIONS == (
        Action.SEND,
        Action.REMOVE,
        Action.CANCEL,
        Action.ACCEPT,
        Action.DECLINE,
        Action.SUBMIT,
        Action.APPROVE,
        Action.REJECT,
        Action.COMPLETE,
    )


@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
def test_the_facts_agree_with_the_table(action: Action) -> None:
    facts = ACTION_FACTS[action]
    rows = [(side, to) for row in TRANSITIONS.values() for (known, side), to in row.items() if known is action]
    assert {side for side, _ in rows} == ({facts.side} if facts.side else set())
    leads_to = {to for _, to in rows}
    assert not (facts.user_action and facts.side is SYS), "a user of one side takes it"
    assert facts.compensation == (action in set(CROSSED.values()))
    assert facts.system == (facts.side is SYS and not facts.compensation)
    if facts.local_only:
        assert leads_to <= {Status.UNSENT, None}, "only what the partner has never heard of stays local"
    if facts.reason_required:
        assert facts.reason_column is not None
    ends_sync = any(sync_state(to) in (SyncState.SUSPENDED, SyncState.ENDED) for to in leads_to)
    assert (facts.stamps is not None) == ends_sync
    if facts.unstamps is not None:
        assert {sync_state(to) for to in leads_to} == {SyncState.ACTIVE}
