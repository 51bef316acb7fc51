"""Rows the plugin writes many at a time, handed to the database driver as they are.

A host's bulk write makes capture insert thousands of outbox messages and entry
links in one flush. Through SQLAlchemy's ``insert`` every value of every row
passes its column type's conversion (a timestamp's timezone and text, a boolean,
an enum) and every row its column defaults: on SQLite that was half of capture's
time. Here the values that are the same on every row (the flush's moment, a
state) are converted once, by their columns' own types; the others column by
column, only where the driver could not take them as they are (JSON, enums), and
each distinct object once (a column often holds one enum member on every row).
The stored rows are the ones ``insert`` would write (``tests/outsource_plugin/db/test_bulk_rows.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from itertools import chain, repeat
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Boolean, Column, Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    import psycopg

#: the driver's placeholder for a positional value, by DB-API paramstyle
_MARKS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def insert_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    shared: Mapping[str, Any],
    *,
    json_texts: Collection[str] = (),
) -> None:
    """Insert ``rows`` (values of ``columns``, in that order), each with the ``shared`` values too,
    on the session's connection (in its transaction).

    ``json_texts``: JSON columns of ``columns`` whose values are given as the text ``json.dumps``
    writes of them, as the column's type stores them by default; made by the caller, who can make
    it faster than from a dictionary built for it (``wire.EntryMessage.to_json``).

    Columns named in neither get what ``insert`` gives a column left out: their column
    default is not applied, so give any the rows need (an id made per row, a timestamp).
    psycopg gets the rows as one COPY (``_copied``). As SQLAlchemy's ``insert`` does, another
    driver that runs an executemany one row at a time on the server (psycopg2) gets pages of rows
    in multi-row VALUES statements; SQLite's driver, whose executemany reuses one prepared
    statement in process, gets one executemany.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    same = [_bound(table.c[name], dialect, value) for name, value in shared.items()]
    values: list[Sequence[Any]] = list(zip(*rows, strict=True))  # column by column
    for i, name in enumerate(columns):
        convert = _from_text(table.c[name], dialect) if name in json_texts else _converter(table.c[name], dialect)
        if convert is not None:
            values[i] = _each_converted(convert, values[i])
    bound = list(zip(*values, *map(repeat, same), strict=False))  # the shared values repeat without end
    names = [*columns, *shared]
    if dialect.driver == "psycopg":
        _copied(connection, table, names, bound)
        return
    if not dialect.use_insertmanyvalues_wo_returning:
        connection.exec_driver_sql(_statement(table, names, dialect, 1), bound)
        return
    size = dialect.insertmanyvalues_page_size
    for first in range(0, len(bound), size):
        page = bound[first : first + size]
        connection.exec_driver_sql(_statement(table, names, dialect, len(page)), tuple(chain.from_iterable(page)))


def _copied(connection: Connection, table: Table, names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """The rows written with one COPY, in the connection's transaction.

    psycopg sends an executemany as one prepared INSERT per row, and a multi-row INSERT of a page
    of rows is a query it parses in Python; both cost more than the rows' own writing. COPY takes
    the rows as one stream, each value in the text form the column's type reads (a JSON text as
    it is). It runs on the driver's cursor, with the engine's cursor events told of it (no
    execution context: the events allow None).
    """
    preparer = connection.dialect.identifier_preparer
    listed = ", ".join(preparer.format_column(table.c[name]) for name in names)
    statement = f"COPY {preparer.format_table(table)} ({listed}) FROM STDIN"
    driver = cast("psycopg.Connection[Any]", connection.connection.driver_connection)
    events = connection.dispatch  # a host's SQL tracing sees the COPY as it sees an executemany
    with driver.cursor() as cursor:
        events.before_cursor_execute(connection, cursor, statement, rows, None, True)
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        events.after_cursor_execute(connection, cursor, statement, rows, None, True)


def _statement(table: Table, names: list[str], dialect: Dialect, count: int) -> str:
    """The INSERT of ``count`` rows in the driver's own terms; made of the table's names alone,
    quoted by the dialect."""
    preparer = dialect.identifier_preparer
    listed = ", ".join(preparer.format_column(table.c[name]) for name in names)
    marks = ", ".join([f"({', '.join([_mark(dialect)] * len(names))})"] * count)
    return f"INSERT INTO {preparer.format_table(table)} ({listed}) VALUES {marks}"  # noqa: S608  no values in it


def _mark(dialect: Dialect) -> str:
    mark = _MARKS.get(dialect.paramstyle)
    if mark is None:
        raise RuntimeError(f"no bulk insert for the {dialect.driver} driver's {dialect.paramstyle} paramstyle")
    return mark


def _converter(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What a value of the column goes through on its way to the driver; None when nothing.

    A bool goes as it is: SQLite's driver stores it as 1 or 0, PostgreSQL's as a boolean,
    as ``Boolean`` would (its check that the value is a bool is the caller's type hints').
    """
    if isinstance(column.type, Boolean):
        return None
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _from_text(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What a JSON column's value given as text goes through: nothing, as both drivers take a JSON
    column's text as it is; but an engine made with a JSON serializer of its own would store that
    serializer's text, so there the value is read back and bound as the column's type binds it."""
    if getattr(dialect, "_json_serializer", None) is None:
        return None
    return lambda text: _bound(column, dialect, json.loads(text))


def _bound(column: Column[Any], dialect: Dialect, value: Any) -> Any:
    """``value`` as the column's own type binds it."""
    convert = column.type.dialect_impl(dialect).bind_processor(dialect)
    return value if convert is None else convert(value)


def _each_converted(convert: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    """``values`` (one column's) converted, each distinct object once: a column of a bulk write
    often holds one enum member, or None, on every row, and its conversion was a fifth of the
    rows' cost. By identity, not equality: values that compare equal may convert apart (a
    ``Decimal`` and its scale, a moment in two zones)."""
    distinct = {id(value): value for value in values}
    if len(distinct) == len(values):
        return list(map(convert, values))
    converted = {key: convert(value) for key, value in distinct.items()}
    return [converted[id(value)] for value in values]
