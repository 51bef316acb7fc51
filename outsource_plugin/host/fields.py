"""How a field map names one value in a host's model: an attribute, a read-only callable, or a ``Field``.

Hosts keep the same fact in different shapes (a status as a string, as a foreign key to a
status table, as an enum; an author as a name or as a user id), so a field map entry is one of:

- an attribute name (``"status"``): read and written as it is;
- a callable (``lambda t: t.reference``): read only;
- a ``Field``: code both ways, with the attributes whose change means the value changed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any, cast


@dataclass(frozen=True)
class Field:
    """A value the plugin reaches through the host's own code.

    ``read`` turns a host row into the plugin's value; ``write`` sets that value on a host
    row (None: read only). ``watch`` names the row's attributes whose change means the value
    changed, so the plugin can see the change in the host's session (a status kept as
    ``status_id`` is watched through ``"status_id"``).
    """

    read: Callable[[Any], Any]
    write: Callable[[Any, Any], None] | None = None
    watch: tuple[str, ...] = ()


#: an entry of a field map; None for a field the host does not have
FieldSpec = str | Callable[[Any], Any] | Field


def read_field(obj: Any, spec: FieldSpec | None) -> Any:
    """The value ``spec`` names on ``obj``; None for a field the host does not have."""
    if spec is None:
        return None
    if isinstance(spec, Field):
        return spec.read(obj)
    if callable(spec):
        return spec(obj)
    return getattr(obj, spec, None)


def values_reader(fields: Mapping[str, FieldSpec], *, kept: Collection[str] = ()) -> Callable[[Any], dict[str, Any]]:
    """A reader of the values a field map names on a row (``read_field`` of each, by neutral name).

    When each is a plain attribute name, all are read with one ``attrgetter``: capture reads a bulk
    write's thousands of entries. A row that lacks one is read field by field, which gives None for it.
    ``kept``: the attributes whose loaded value a row keeps in its ``__dict__``, where reading it is all
    its getter does (an ORM model's mapped columns): when each name is one, a row with them all loaded
    is read there with one ``itemgetter``, skipping a Python getter per value; else as above.
    """

    def each(row: Any) -> dict[str, Any]:
        return {name: read_field(row, spec) for name, spec in fields.items()}

    names, specs = tuple(fields), tuple(fields.values())
    if not specs or not all(isinstance(spec, str) and "." not in spec for spec in specs):
        return each  # a callable or a ``Field`` is the host's code; a dotted name is an attribute's name
    attributes = cast(tuple[str, ...], specs)
    get = attrgetter(*attributes)
    one = len(names) == 1

    def named(got: Any) -> dict[str, Any]:
        return dict(zip(names, (got,) if one else got, strict=False))  # of one length

    def at_once(row: Any) -> dict[str, Any]:
        try:
            got = get(row)
        except AttributeError:
            return each(row)
        return named(got)

    if not all(name in kept for name in attributes):
        return at_once
    loaded = itemgetter(*attributes)

    def from_dict(row: Any) -> dict[str, Any]:
        try:
            got = loaded(vars(row))
        except KeyError:
            return at_once(row)  # one not loaded (expired, deferred, a default not yet set): its getter loads it
        return named(got)

    return from_dict


def writable(spec: FieldSpec | None) -> bool:
    """Whether the plugin can set this value on a host row."""
    return isinstance(spec, str) or (isinstance(spec, Field) and spec.write is not None)


def write_field(obj: Any, spec: FieldSpec | None, value: Any) -> bool:
    """Set the value ``spec`` names on ``obj``; False (nothing written) when it is read only."""
    if isinstance(spec, str):
        setattr(obj, spec, value)
        return True
    if isinstance(spec, Field) and spec.write is not None:
        spec.write(obj, value)
        return True
    return False


def watched(spec: FieldSpec | None) -> tuple[str, ...]:
    """The row attributes whose change means this value changed; empty: a change cannot be seen."""
    if isinstance(spec, str):
        return (spec,)
    if isinstance(spec, Field):
        return spec.watch
    return ()
