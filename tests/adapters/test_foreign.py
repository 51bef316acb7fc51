"""The pieces the Redmine and RT adapters share: the overlapping cursor, markers, the status-map filter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from outsource_plugin.adapters.base import EngagementRef
from outsource_plugin.adapters.foreign import (
    CURSOR_LIMIT,
    Cursor,
    Event,
    Workflow,
    action_change,
    entry_change,
    has_marker,
    marker,
    offer_text,
    select_new,
    workflow_filter,
)
from outsource_plugin.adapters.redmine import RedmineConfig
from outsource_plugin.errors import ValidationFailed
from outsource_plugin.validation.schemas import load
from outsource_plugin.wire import OfferMessage
from outsource_plugin.workflow import Action

T0 = datetime(2026, 11, 27, 0, 53, 9, tzinfo=timezone.utc)


def note(key: str, at: datetime, uid: str = "u1") -> Event:
    return Event(at, 0, key, entry_change(uid, key, "note", {"text": key}, org="P", user="pat", at=at))


def test_a_change_later_in_the_same_second_is_taken_once():
    first = note("a", T0)
    taken, cursor = select_new([first], Cursor())
    assert [e.key for e in taken] == ["a"]
    again, cursor = select_new([first, note("b", T0)], Cursor.parse(cursor.dump()))
    assert [e.key for e in again] == ["b"]
    none, after = select_new([first, note("b", T0)], Cursor.parse(cursor.dump()))
    assert none == [] and after.since == T0


def test_the_overlap_reaches_one_second_back_and_no_further():
    cursor = Cursor(T0, frozenset())
    events = [note("old", T0 - timedelta(seconds=2)), note("edge", T0 - timedelta(seconds=1)), note("new", T0)]
    taken, after = select_new(events, cursor)
    assert [e.key for e in taken] == ["edge", "new"]
    assert after.since == T0


def test_a_cursor_fits_the_column_even_after_a_busy_second():
    events = [note(f"k{i}", T0) for i in range(100)]
    _, cursor = select_new(events, Cursor())
    text = cursor.dump()
    assert text is not None and len(text) <= CURSOR_LIMIT
    assert Cursor.parse(text).since == T0


def test_markers_are_found_and_name_the_message():
    text = f"Hello\n\n{marker('lead:note:5', 'abcdef0123456789ffff')}"
    assert has_marker(text) and "abcdef0123456789]" in text
    assert not has_marker("a note that mentions [outsource] in passing")


def test_only_actions_the_workflow_allows_where_the_engagement_stands_pass():
    refs = [EngagementRef("u1", "7", "assigned")]
    at = T0

    def act(key: str, action: Action) -> Event:
        return Event(at, 0, key, action_change("u1", key, action, actor="pat", reason="r", number="#7"))

    events = [
        act("1", Action.SUBMIT),
        act("2", Action.ACCEPT),
        act("3", Action.ACCEPT),
        note("n", at),
        act("4", Action.SUBMIT),
    ]
    changes = workflow_filter(events, Workflow(refs), {"u1": "#7"})
    assert [(c.change_id, c.action) for c in changes] == [
        ("2", Action.ACCEPT),
        ("n:work", Action.START_WORK),
        ("n", None),
        ("4", Action.SUBMIT),
    ]


def test_a_status_map_naming_an_unknown_action_is_refused():
    base = {"base_url": "http://redmine.test", "api_key": "k" * 40, "project": "p"}
    loaded = load(RedmineConfig(), base)
    assert loaded["status_map"]["Resolved"] == "submit"
    with pytest.raises(ValidationFailed):
        load(RedmineConfig(), {**base, "status_map": {"Resolved": "celebrate"}})


def test_the_offer_text_says_the_acceptance_deadline_as_people_write_it():
    deadline = datetime(2026, 12, 4, 18, 0, tzinfo=timezone.utc)
    text = offer_text(OfferMessage({"title": "Fix it", "description": "Rack 2"}, acceptance_deadline=deadline), "")
    assert "Accept by: Fri 4 Dec 2026, 18:00 UTC" in text.splitlines()
    later = offer_text(OfferMessage({}, acceptance_deadline=datetime(2027, 3, 1, 9, 5, tzinfo=timezone.utc)), "")
    assert "Accept by: Mon 1 Mar 2027, 09:05 UTC" in later.splitlines()
