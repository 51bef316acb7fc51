"""Capture without the garbage collector's passes over the host's bulk write.

A host's bulk write holds thousands of objects in its session, and capture makes
a few more per entry: enough to start a collection every few hundred entries,
each tenth of them walking the older objects too. In a profile of 5,000 entries
on SQLite those passes were a third of capture's time. Paused for capture, the
objects it made are looked at once, by the next collection after it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection meanwhile; a collector that was off (the host's choice) stays off.

    The switch is the process's: a thread that finds it already paused by another capture
    leaves it alone, and the first to finish turns it back on, which costs the other only
    the pause.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
