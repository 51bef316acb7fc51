"""The long-polled change feed (issue 18): ``GET /changes?wait=`` holds an empty feed open.

A held request answers as soon as a change for its partner commits, empty at
its timeout otherwise, and at once when the process already holds its bound.
Requests are signed and sent through the Flask test client; the change is
committed from the test's own thread while the request is held in another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from outsource_plugin.db.feed_waits import FeedWaits
from outsource_plugin.db.models import MessageState
from tests.blueprints.api_helpers import add_outbox_message
from tests.polling import eventually
from tests.security.helpers import PEER_LINK, PEER_SECRET, signed


def _poll(app: Flask, query: str) -> TestResponse:
    return signed(app.test_client(), "GET", f"/changes?{query}", link=PEER_LINK, secret=PEER_SECRET)


class HeldPoll:
    """One poll sent on a thread of its own, so the test can act while it is held."""

    def __init__(self, app: Flask, query: str) -> None:
        self.response: TestResponse | None = None
        self._thread = threading.Thread(target=self._send, args=(app, query), daemon=True)
        self._thread.start()

    def _send(self, app: Flask, query: str) -> None:
        self.response = _poll(app, query)

    def answer(self, within: float) -> TestResponse:
        self._thread.join(timeout=within)
        assert self.response is not None, f"the poll did not answer within {within} s"
        return self.response


@pytest.fixture
def waits(app: Flask) -> Iterator[FeedWaits]:
    state = app.extensions["outsource"]
    yield state.feed_waits
    eventually(lambda: state.feed_waits.held == 0, timeout=40, what="held polls to end")


def test_a_held_poll_answers_with_the_change_that_commits_meanwhile(app: Flask, peer: int, waits: FeedWaits) -> None:
    poll = HeldPoll(app, "after=0&wait=25")
    eventually(lambda: waits.held == 1, what="the poll to be held")
    add_outbox_message(app, peer, state=MessageState.PENDING)
    answer = poll.answer(within=15)  # well inside the 25 s it asked to wait: woken by the change
    assert answer.status_code == 200
    assert [item["seq"] for item in answer.get_json()["changes"]] == [1]


def test_a_held_poll_answers_empty_when_its_wait_is_over(app: Flask, peer: int, waits: FeedWaits) -> None:
    started = time.monotonic()
    answer = _poll(app, "after=0&wait=0.5")
    assert answer.status_code == 200 and answer.get_json() == {"changes": []}
    assert time.monotonic() - started >= 0.5


def test_a_change_of_another_partner_does_not_answer_a_held_poll(
    app: Flask, peer: int, partner_id: int, waits: FeedWaits
) -> None:
    poll = HeldPoll(app, "after=0&wait=1")
    eventually(lambda: waits.held == 1, what="the poll to be held")
    add_outbox_message(app, partner_id, state=MessageState.PENDING)
    assert poll.answer(within=15).get_json() == {"changes": []}


def test_over_the_bound_a_poll_answers_at_once(
    app: Flask, peer: int, waits: FeedWaits, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = app.extensions["outsource"]
    monkeypatch.setattr(state, "feed_waits", FeedWaits(1))
    held = HeldPoll(app, "after=0&wait=25")
    eventually(lambda: state.feed_waits.held == 1, what="the first poll to be held")
    second = HeldPoll(app, "after=0&wait=25")
    assert second.answer(within=15).get_json() == {"changes": []}  # not held: the bound is 1
    assert state.feed_waits.held == 1
    add_outbox_message(app, peer, state=MessageState.PENDING)
    assert [item["seq"] for item in held.answer(within=15).get_json()["changes"]] == [1]


@pytest.mark.parametrize("wait", ["26", "-1", "soon", "nan"])
def test_a_wait_out_of_bounds_is_refused_naming_it(app: Flask, peer: int, wait: str) -> None:
    answer = _poll(app, f"after=0&wait={wait}")
    assert answer.status_code == 400
    assert "wait" in answer.get_data(as_text=True)
