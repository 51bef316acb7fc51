"""Waiting for a state, never for a fixed time: the one poll-until helper of the tests and the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import requests

T = TypeVar("T")

#: what a check raises while the state it waits for is still on its way (a host starting, an answer half there)
NOT_YET: tuple[type[BaseException], ...] = (AssertionError, requests.RequestException, KeyError, IndexError)


def eventually(
    check: Callable[[], T],
    *,
    timeout: float = 20.0,
    interval: float = 0.1,
    what: str = "the condition",
    tolerate: tuple[type[BaseException], ...] = NOT_YET,
    error: Callable[[str], Exception] = AssertionError,
) -> T:
    """Call ``check`` until it returns something truthy, and return that; raise ``error`` at the deadline.

    An exception in ``tolerate`` counts as "not yet" and is named in the error
    if the deadline passes; any other exception ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except tolerate as err:
            last = err
        if time.monotonic() > deadline:
            raise error(f"waited {timeout:g}s for {what}" + (f": {last!r}" if last else ""))
        time.sleep(interval)
