"""Which columns a new row of a host model would leave empty, checked at start-up.

The plugin creates rows in the host's tables (a ticket for an accepted offer, a partner's note).
A row missing a value the host's model requires fails its insert, or worse is one the host's own
pages cannot render; so ``init_app`` refuses to start until every such column has a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Integer, inspect
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipProperty

from outsource_plugin.errors import ConfigurationError


def _generated(column: Column[Any]) -> bool:
    """The database or SQLAlchemy gives it a value: a default, a server default, a computed or
    identity column, or the one integer primary key (autoincrement)."""
    if any(x is not None for x in (column.default, column.server_default, column.computed, column.identity)):
        return True
    keys = list(column.table.primary_key.columns)
    return keys == [column] and column.autoincrement is not False and isinstance(column.type, Integer)


def _filled_columns(mapper: Mapper[Any], given: Iterable[str]) -> tuple[set[Column[Any]], list[str]]:
    """The columns the attributes ``given`` fill, and the names among them the model does not have."""
    filled: set[Column[Any]] = set()
    unknown: list[str] = []
    for name in given:
        if name not in mapper.attrs:
            unknown.append(name)
            continue
        prop = mapper.attrs[name]
        if isinstance(prop, ColumnProperty):
            filled.update(c for c in prop.columns if isinstance(c, Column))
        elif isinstance(prop, RelationshipProperty):
            filled.update(c for c in prop.local_columns if isinstance(c, Column))
    return filled, unknown


def check_filled(model: type, given: Iterable[str], where: str, fix: str, *, sometimes: Iterable[str] = ()) -> None:
    """Raise ConfigurationError naming each column of ``model`` a new row needs that ``given`` leaves
    empty, and each name in ``given`` or ``sometimes`` the model does not have.

    ``given`` are the attributes the plugin sets on every new row, ``sometimes`` those it sets only
    when it has a value (they fill nothing); ``where`` says which rows these are and ``fix`` where
    the host gives the missing values.
    """
    mapper: Mapper[Any] = inspect(model)
    filled, unknown = _filled_columns(mapper, given)
    unknown += _filled_columns(mapper, sometimes)[1]
    missing = [
        prop.key
        for prop in mapper.column_attrs
        for column in prop.columns[:1]
        if isinstance(column, Column) and not column.nullable and not _generated(column) and column not in filled
    ]
    problems = []
    if missing:
        problems.append(
            f"{', '.join(map(repr, missing))} of {model.__name__} must have a value (NOT NULL, no default) and "
            f"nothing gives one: {fix}"
        )
    if unknown:
        problems.append(f"{', '.join(map(repr, unknown))}, named in {where}, is not an attribute of {model.__name__}")
    if problems:
        raise ConfigurationError(f"The plugin cannot create {where}: " + "; ".join(problems))
