"""``flask outsource worker`` keeps SQLite's memory in the process within a bound (issue 18, target 5).

A worker's jobs take the pool's connections in turn, and each connection's page cache
fills to SQLite's default (2 MiB) as the outbox is read: in a 10,000-entry burst the
worker grew by a cache per pooled connection. The bound is SQLite's soft heap limit,
which is the whole process's, so only the worker (the plugin's own process) sets it.
It is read back here from a connection of its own, as any connection in the process sees it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

import pytest
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from examples.helpdesk.models import db
from outsource_plugin.jobs.scheduler import run_worker


@pytest.fixture
def soft_heap_limit() -> Iterator[Callable[[], int]]:
    """Reads the process's SQLite soft heap limit; set to 12345 for the test, restored after it."""
    probe = sqlite3.connect(":memory:")

    def read() -> int:
        return int(probe.execute("PRAGMA soft_heap_limit").fetchone()[0])

    before = read()
    probe.execute("PRAGMA soft_heap_limit = 12345")
    yield read
    probe.execute(f"PRAGMA soft_heap_limit = {before}")
    probe.close()


def _start_worker(app: Flask, monkeypatch: pytest.MonkeyPatch, memory: object) -> None:
    """``run_worker`` up to its scheduler's start, which returns at once here instead of blocking."""
    monkeypatch.setitem(app.extensions["outsource"].config, "OUTSOURCE_WORKER_SQLITE_MEMORY", memory)
    monkeypatch.setattr(BlockingScheduler, "start", lambda self, *args, **kwargs: None)
    run_worker(app)


def _on_sqlite(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "sqlite"


@pytest.mark.parametrize("memory", [3 * 1024 * 1024, "3145728"], ids=["int", "from-the-environment"])
def test_a_worker_bounds_sqlite_memory_by_its_setting(
    app: Flask, soft_heap_limit: Callable[[], int], monkeypatch: pytest.MonkeyPatch, memory: object
) -> None:
    _start_worker(app, monkeypatch, memory)
    # on PostgreSQL the process's SQLite is not the worker's to bound
    assert soft_heap_limit() == (3 * 1024 * 1024 if _on_sqlite(app) else 12345)


def test_a_worker_set_to_zero_leaves_sqlite_memory_alone(
    app: Flask, soft_heap_limit: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _start_worker(app, monkeypatch, 0)
    assert soft_heap_limit() == 12345
