"""The transition table as plain data: SPEC rows present, nothing else."""

from __future__ import annotations

import itertools

import pytest

from outsource_plugin.errors import TransitionRefused
from outsource_plugin.workflow import (
    OPEN_STATUSES,
    TRANSITIONS,
    Action,
    Folder,
    Side,
    Status,
    SyncState,
    allowed,
    folders_for,
    sync_state,
    target,
)

L, S, SYS = Side.LEAD, Side.SERVICE, Side.SYSTEM

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
