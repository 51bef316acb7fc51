"""``load``: text no column stores is named wherever it hides; other text passes untouched."""

from __future__ import annotations

import pytest

from outsource_plugin.errors import ValidationFailed
from outsource_plugin.federation.batch import BatchSchema
from outsource_plugin.validation.schemas import LeaveSchema, load, shared


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"messages": [{"a": "ok"}, {"payload": {"data": {"text": "x\x00y"}}}]}, "messages.payload.data.text"),
        ({"messages": [{"payload": {"list": ["fine", "bad\ud800"]}}]}, "messages.payload.list"),
        ({"messages": [{"payload": {"k\x00": "v"}}]}, "messages.payload"),
        ({"messages": [{"\udc00": 1}]}, "messages"),
    ],
)
def test_a_nul_or_lone_surrogate_anywhere_in_a_body_is_named(body: dict, named: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        load(shared(BatchSchema), body)
    assert named in err.value.message


@pytest.mark.parametrize("text", ["\\u0000", "a\\ud800b", "plain ünïcode ✓"])
def test_text_that_only_looks_like_an_escape_is_taken(text: str) -> None:
    assert load(LeaveSchema(), {"reason": text}) == {"reason": text}


def test_a_shared_schema_is_built_once_and_loads_like_a_new_one() -> None:
    assert shared(LeaveSchema) is shared(LeaveSchema)
    assert load(shared(LeaveSchema), {"reason": "moving on"}) == load(LeaveSchema(), {"reason": "moving on"})
