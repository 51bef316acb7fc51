"""The bound on held feed requests and their wake-ups, without a request or a database."""

from __future__ import annotations

import threading

from outsource_plugin.db.feed_waits import FeedWaits


def test_a_process_holds_no_more_requests_than_its_bound() -> None:
    waits = FeedWaits(2)
    with waits.slot() as first, waits.slot() as second, waits.slot() as third:
        assert (first, second, third) == (True, True, False)
        assert waits.held == 2
    assert waits.held == 0


def test_a_bound_of_zero_holds_nothing() -> None:
    with FeedWaits(0).slot() as held:
        assert held is False


def test_a_wake_moves_its_partner_only_and_a_general_wake_moves_all() -> None:
    waits = FeedWaits(1)
    one, two = waits.mark(1), waits.mark(2)
    waits.wake(1)
    assert waits.mark(1) != one and waits.mark(2) == two
    waits.wake(None)
    assert waits.mark(2) != two


def test_a_pause_ends_when_its_partner_is_woken() -> None:
    waits = FeedWaits(1)
    since = waits.mark(7)
    ended = threading.Event()

    def held() -> None:
        # without LISTEN a pause is one short check; a wake before it ends it at once
        while waits.mark(7) == since:
            waits.pause(7, since, 30)
        ended.set()

    thread = threading.Thread(target=held, daemon=True)
    thread.start()
    waits.wake(7)
    assert ended.wait(20)
