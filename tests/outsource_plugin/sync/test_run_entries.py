"""A received run of entries reads its links through their index (``sync.run_entries``).

The links of a partner's batch were looked up by entry key alone, which no index
leads with: every received batch read every link of every engagement, so a
sync slowed as the links grew (bench 1's third burst took twice its first).
The plan is asked of the database itself, with PostgreSQL told to avoid a scan
where it can, since on a small table it would choose one anyway.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import event

from examples.helpdesk.models import db
from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.sync.run_entries import RunEntries


def _change(uid: str, n: int) -> RemoteChange:
    return RemoteChange(
        kind=ChangeKind.ENTRY, engagement_uid=uid, change_id=f"c{n}", sequence=n, data={"entry_key": f"lead:note:{n}:t"}
    )


def _plan(statement: str, parameters: Any) -> str:
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
    else:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return "\n".join(str(row[-1]) for row in rows)


def test_a_received_runs_links_are_read_through_their_index(app: Flask) -> None:
    read: list[tuple[str, Any]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if "FROM outsource_entry_link" in statement:
            read.append((statement, parameters))

    with app.app_context():
        state = app.extensions["outsource"]
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            RunEntries.of(state, [_change("a" * 32, 1), _change("a" * 32, 2), _change("b" * 32, 3)])
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        plans = [_plan(statement, parameters) for statement, parameters in read]
        db.session.rollback()
    # the index searched by its leading column, not read whole for a key (a scan of every link)
    assert plans and all(re.search(r"ix_outsource_entry_link_key.*engagement_uid", plan, re.S) for plan in plans), plans
