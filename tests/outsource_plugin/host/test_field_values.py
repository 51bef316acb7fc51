"""A field map's values read together (``fields.values_reader``) are the ones ``read_field`` reads one
by one: capture reads a bulk write's entries with it (issue 18, target 1)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from outsource_plugin.host.fields import Field, FieldSpec, read_field, values_reader

ROW = SimpleNamespace(body="Hi", internal=False, by=SimpleNamespace(name="Ada"), **{"odd.name": 3})

#: read from the row's ``__dict__`` when the map names only these (``missing`` is not there: read by getattr)
KEPT = frozenset({"body", "internal", "missing"})

MAPS: list[dict[str, FieldSpec]] = [
    {"text": "body", "internal": "internal"},
    {"text": "body"},
    {"text": "body", "author": "missing"},  # an attribute the row lacks reads as None
    {"text": "body", "author": lambda row: row.by.name},
    {"text": "body", "author": Field(read=lambda row: row.by.name.upper())},
    {"text": "odd.name"},  # a name with a dot is an attribute's name, not a path
    {},
]


@pytest.mark.parametrize("fields", MAPS)
def test_values_read_together_are_those_read_one_by_one(fields: dict[str, FieldSpec]) -> None:
    expected: dict[str, Any] = {name: read_field(ROW, spec) for name, spec in fields.items()}
    for reader in (values_reader(fields), values_reader(fields, kept=KEPT)):
        assert reader(ROW) == expected
        assert list(reader(ROW)) == list(fields)
