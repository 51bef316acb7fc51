"""A ticket's status in the shape the host keeps it: a string column, an enum, a key into a status
table, a relationship to a status row, or the host's own code (a ``Field``) with what it watches.

The completion cascade hangs on seeing a host's close in the host's own session, so every shape
says which attributes to watch and whether the ticket is Complete; a mapping the plugin could not
watch is refused at start-up (``status_field``), never left to do nothing.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Enum, Select, inspect, select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import MANYTOONE, ColumnProperty, Mapper, RelationshipProperty, Session

from outsource_plugin.errors import ConfigurationError
from outsource_plugin.host.fields import Field, FieldSpec

log = logging.getLogger(__name__)

#: how a host whose status is its own code says so
WATCH_HINT = 'give Field(read, write, watch=("status_id",)) naming the attributes the status is read from'


class StatusField(Protocol):
    """What the plugin needs of a ticket's status, whatever its shape."""

    @property
    def watch(self) -> tuple[str, ...]:
        """The ticket attributes whose change may mean the ticket was closed."""

    def check(self, session: Session) -> None:
        """At start-up: raise ConfigurationError when the complete status cannot resolve."""

    def name(self, session: Session, ticket: Any) -> str: ...

    def is_complete(self, session: Session, ticket: Any) -> bool: ...

    def set_complete(self, session: Session, ticket: Any) -> None: ...


@dataclass(frozen=True)
class ColumnStatus:
    """A column holding the status's name."""

    attribute: str
    complete: Any

    @property
    def watch(self) -> tuple[str, ...]:
        return (self.attribute,)

    def check(self, session: Session) -> None:
        """Any string can be the complete status: nothing to resolve."""

    def name(self, session: Session, ticket: Any) -> str:
        return str(getattr(ticket, self.attribute) or "")

    def is_complete(self, session: Session, ticket: Any) -> bool:
        return bool(getattr(ticket, self.attribute) == self.complete)

    def set_complete(self, session: Session, ticket: Any) -> None:
        setattr(ticket, self.attribute, self.complete)


class EnumStatus(ColumnStatus):
    """An Enum column: ``complete`` is the member ``complete_status`` names by value or name (resolved
    by ``status_field``), and is written as the member."""

    def name(self, session: Session, ticket: Any) -> str:
        value = getattr(ticket, self.attribute)
        if isinstance(value, enum.Enum):
            return value.value if isinstance(value.value, str) else value.name
        return str(value or "")

    def is_complete(self, session: Session, ticket: Any) -> bool:
        value = getattr(ticket, self.attribute)
        return value is not None and value in (self.complete, getattr(self.complete, "name", self.complete))


@dataclass
class TableStatus:
    """A key into a status table (``key``), perhaps behind a relationship (``relationship``): the
    row's ``name_attribute`` says what the status is.

    Completion is told by the key, not by the related object: a host that sets ``status_id``
    leaves a loaded relationship stale until its commit. The complete row's key is looked up
    once; a table that is empty or missing at start-up is looked up again at first use.
    """

    model: type
    key: str
    row_class: type
    row_key: str
    name_attribute: str
    complete: str
    relationship: str | None = None
    _complete_key: Any = field(default=None, init=False, repr=False)

    @property
    def watch(self) -> tuple[str, ...]:
        return (self.key,) if self.relationship is None else (self.relationship, self.key)

    def _where(self) -> str:
        mapped = repr(self.key) if self.relationship is None else f"{self.relationship!r} (key {self.key!r})"
        table: str = inspect(self.row_class).local_table.name
        return (
            f'ticket_fields["status"] of {self.model.__name__}, {mapped}, points into {table} '
            f"({self.row_class.__name__}): its complete status is the row whose {self.name_attribute!r} is "
            f"{self.complete!r} (complete_status)"
        )

    @property
    def _row_key(self) -> Any:
        return getattr(self.row_class, self.row_key)

    @property
    def _row_name(self) -> Any:
        return getattr(self.row_class, self.name_attribute)

    def _complete_row(self) -> Select[Any]:
        return select(self._row_key).where(self._row_name == self.complete)

    def check(self, session: Session) -> None:
        """On a connection of its own, so that a table not yet created leaves no failed transaction behind."""
        try:
            with session.get_bind(mapper=inspect(self.row_class)).engine.connect() as connection:
                self._complete_key = connection.execute(self._complete_row()).scalar()
                any_row = self._complete_key is not None or connection.execute(select(self._row_name).limit(1)).first()
        except (OperationalError, ProgrammingError) as error:
            log.warning(
                "%s; the table cannot be read at start-up (%s): checked at first use", self._where(), error.orig
            )
            return
        if not any_row:
            log.warning("%s; the table is empty at start-up: checked at first use", self._where())
        elif self._complete_key is None:
            raise ConfigurationError(
                f"{self._where()}, and there is none: add it, or set complete_status or status_name"
            )

    def _key_value(self, session: Session) -> Any:
        """The complete row's key; None, logged as an error, while the table has no such row."""
        if self._complete_key is None:
            self._complete_key = session.scalar(self._complete_row())
            if self._complete_key is None:
                log.error("%s, and there is none: no ticket can be seen or set Complete until there is", self._where())
        return self._complete_key

    def name(self, session: Session, ticket: Any) -> str:
        key = getattr(ticket, self.key)
        if key is None:
            return ""
        return str(session.scalar(select(self._row_name).where(self._row_key == key)) or "")

    def is_complete(self, session: Session, ticket: Any) -> bool:
        key = getattr(ticket, self.key)
        return key is not None and key == self._key_value(session)

    def set_complete(self, session: Session, ticket: Any) -> None:
        key = self._key_value(session)
        if key is None:
            raise ConfigurationError(f"{self._where()}, and there is none: the ticket cannot be set Complete")
        if self.relationship is None:
            setattr(ticket, self.key, key)
        else:
            row: Any = session.scalars(select(self.row_class).where(self._row_key == key)).one()
            setattr(ticket, self.relationship, row)


@dataclass(frozen=True)
class FieldStatus:
    """The host's own code: ``Field.read`` gives the status's name, ``Field.write`` sets it."""

    spec: Field
    complete: str
    model_name: str

    @property
    def watch(self) -> tuple[str, ...]:
        return self.spec.watch

    def check(self, session: Session) -> None:
        """The host's code resolves the name: nothing the plugin can look up."""

    def name(self, session: Session, ticket: Any) -> str:
        return str(self.spec.read(ticket) or "")

    def is_complete(self, session: Session, ticket: Any) -> bool:
        return bool(self.spec.read(ticket) == self.complete)

    def set_complete(self, session: Session, ticket: Any) -> None:
        if self.spec.write is None:
            raise ConfigurationError(
                f'ticket_fields["status"] of {self.model_name} is a Field without write: the plugin cannot set a '
                f"ticket Complete; give Field(read, write, watch=...)"
            )
        self.spec.write(ticket, self.complete)


def status_field(model: type, spec: FieldSpec | None, complete: str, name_attribute: str) -> StatusField:
    """The status shape ``spec`` names on ``model``; ConfigurationError for one the plugin could not watch."""
    mapper: Mapper[Any] = inspect(model)
    where = f'ticket_fields["status"] of {model.__name__}'
    if isinstance(spec, Field):
        return _field_status(mapper, spec, complete, where)
    if not isinstance(spec, str):
        what = "not mapped" if spec is None else "a bare callable, which the plugin cannot watch"
        raise ConfigurationError(f"{where} is {what}: map the status column, or {WATCH_HINT}")
    if spec not in mapper.attrs:
        raise ConfigurationError(
            f"{where} is {spec!r}, which is not a column or relationship of {model.__name__}: {WATCH_HINT}"
        )
    prop = mapper.attrs[spec]
    if isinstance(prop, RelationshipProperty):
        return _relationship_status(mapper, prop, complete, name_attribute, where)
    if not isinstance(prop, ColumnProperty):
        raise ConfigurationError(f"{where} is {spec!r}, which the plugin cannot watch: {WATCH_HINT}")
    column = prop.columns[0]
    if isinstance(column.type, Enum):
        return EnumStatus(spec, _member(column.type, complete, f"{where} is the enum {spec!r}"))
    foreign_keys = list(getattr(column, "foreign_keys", ()))
    if len(foreign_keys) == 1:
        row_mapper = _mapper_of(mapper, foreign_keys[0].column.table, where)
        row_key = row_mapper.get_property_by_column(foreign_keys[0].column).key
        return _table_status(mapper, spec, row_mapper, row_key, complete, name_attribute, where)
    return ColumnStatus(spec, complete)


def _field_status(mapper: Mapper[Any], spec: Field, complete: str, where: str) -> FieldStatus:
    if not spec.watch:
        raise ConfigurationError(f"{where} is a Field that watches nothing: {WATCH_HINT}")
    missing = [name for name in spec.watch if name not in mapper.attrs]
    if missing:
        raise ConfigurationError(
            f"{where} watches {', '.join(map(repr, missing))}, which {mapper.class_.__name__} does not map: "
            f"name its columns or relationships in watch="
        )
    return FieldStatus(spec, complete, mapper.class_.__name__)


def _member(column_type: Enum, complete: str, where: str) -> Any:
    """The enum member (or string of a plain string enum) that ``complete`` names, by value or name."""
    enum_class = column_type.enum_class
    members: list[Any] = list(enum_class) if enum_class is not None else list(column_type.enums)
    for member in members:
        if complete in (member, getattr(member, "value", None), getattr(member, "name", None)):
            return member
    names = ", ".join(repr(getattr(m, "value", m)) for m in members)
    raise ConfigurationError(f"{where}, which has no member {complete!r} (complete_status); its members: {names}")


def _relationship_status(
    mapper: Mapper[Any], prop: RelationshipProperty[Any], complete: str, name_attribute: str, where: str
) -> TableStatus:
    pairs = prop.local_remote_pairs or []
    if prop.direction is not MANYTOONE or len(pairs) != 1:
        raise ConfigurationError(
            f"{where} is {prop.key!r}, which is not a many-to-one relationship on one key column: {WATCH_HINT}"
        )
    local, remote = pairs[0]
    key = mapper.get_property_by_column(local).key
    row_key = prop.mapper.get_property_by_column(remote).key
    return _table_status(mapper, key, prop.mapper, row_key, complete, name_attribute, where, prop.key)


def _table_status(
    mapper: Mapper[Any],
    key: str,
    row_mapper: Mapper[Any],
    row_key: str,
    complete: str,
    name_attribute: str,
    where: str,
    relationship: str | None = None,
) -> TableStatus:
    if name_attribute not in row_mapper.attrs:
        raise ConfigurationError(
            f"{where} points into {row_mapper.class_.__name__}, which has no {name_attribute!r}: set status_name "
            f"to the attribute holding a status's name"
        )
    return TableStatus(mapper.class_, key, row_mapper.class_, row_key, name_attribute, complete, relationship)


def _mapper_of(mapper: Mapper[Any], table: Any, where: str) -> Mapper[Any]:
    """The mapped class of a status table, found among the ticket model's fellow models."""
    for candidate in mapper.registry.mappers:
        if candidate.local_table is table:
            return candidate
    raise ConfigurationError(f"{where} points into {table.name}, which no model maps: map it, or {WATCH_HINT}")
