"""A batch of pushed messages as it travels: many numbered messages in one signed request.

The whole batch is checked before any of it is applied, each item as a single
push is: its envelope (``feed.MessageSchema``), then its payload by its kind's
schema (``messages.checked_change``).
A bad item fails the request with a 400 whose details name the item by its
place (``messages.<n>``), so the sender can dead-letter that message alone.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from outsource_plugin.adapters.base import RemoteChange
from outsource_plugin.errors import InvalidPartnerMessage
from outsource_plugin.federation.feed import change_from_message
from outsource_plugin.federation.messages import checked_change
from outsource_plugin.validation.schemas import StrictSchema, field_names, load, parts_of_checked_body, shared

#: the most messages one batch may carry, whatever the sender's ``OUTSOURCE_DELIVERY_BATCH``
MOST_MESSAGES = 1000
#: the error of a message that is not next in the partner's feed (a single push answers it with a 409)
OUT_OF_ORDER = "out_of_order"
#: where a batch's messages are in its body, and so in the names of its bad fields
MESSAGES = "messages"


class BatchSchema(StrictSchema):
    #: each item is checked by ``feed.MessageSchema`` in ``batch_changes``, named by its place
    messages = fields.List(
        fields.Dict(),
        required=True,
        validate=validate.Length(min=1, max=MOST_MESSAGES),
        metadata={"description": "Messages as POST /messages takes each one, in feed order."},
    )


def batch_changes(body: Any, applied: int = 0) -> list[RemoteChange]:
    """The batch's messages as checked changes, in feed order; InvalidPartnerMessage naming each bad item.

    A message numbered ``applied`` or below is answered as a duplicate whatever it carries, so only
    its envelope is checked, as a single push's is: a retried batch, or one the receiver's poll
    overtook, then costs little more than its reading.
    """
    items = load(shared(BatchSchema), body)[MESSAGES]
    changes, bad = [], {}
    with parts_of_checked_body():
        for place, item in enumerate(items):
            try:
                change = change_from_message(item)
                changes.append(change if (change.sequence or 0) <= applied else checked_change(change))
            except InvalidPartnerMessage as err:
                bad[str(place)] = err.details
    if bad:
        details = {MESSAGES: bad}
        raise InvalidPartnerMessage(f"invalid input: {', '.join(field_names(details))}", details=details)
    return sorted(changes, key=lambda change: change.sequence or 0)


def bad_items(details: Any) -> set[int]:
    """The places of the items a batch's 400 names (none when it names none)."""
    named = details.get(MESSAGES) if isinstance(details, dict) else None
    return {int(place) for place in named if str(place).isdigit()} if isinstance(named, dict) else set()
