"""The SQL an app's engine runs during a block: for tests that bound a page's or a flush's statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from examples.helpdesk.models import db


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL the app's engine runs meanwhile, one string per execute or executemany (within an app context)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
