"""A batch of messages a peer pushed: each applied only if it is the next in the partner's feed.

The batch is applied in one transaction, in feed order. Its run of next
numbers is claimed with one compare-and-set on the partner's cursor
(``inbound.apply_run``), as a single push claims its one number: the
order guarantee holds within a batch and across batches, and against a poll
applying the same messages (whichever moves the cursor first applies them).
A message that is not next (an earlier one is missing or was refused) holds
back every message after it, which the sender retries or the poller fetches,
as after a single push.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.db.models import Partner
from outsource_plugin.errors import NotFound
from outsource_plugin.federation.batch import OUT_OF_ORDER
from outsource_plugin.sync.inbound import Receipt, apply_run, check_party, engagements_of

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState


def receive_batch(
    state: OutsourceState, partner: Partner, changes: list[RemoteChange], applied: int
) -> list[dict[str, Any]]:
    """Apply checked ``changes`` (numbered, in feed order) after ``applied``; one answer per change.

    The caller commits, once for the batch.
    """
    answers: list[dict[str, Any] | None] = []
    run: list[tuple[int, RemoteChange]] = []
    refused: dict[tuple[str, bool], str | None] = {}
    offered: set[str] = set()
    held = engagements_of(state, partner, {change.engagement_uid for change in changes})
    expected = applied + 1
    for place, change in enumerate(changes):
        seq, uid, offer = change.sequence or 0, change.engagement_uid, change.kind is ChangeKind.OFFER
        if seq > expected:
            answers.append({"id": change.change_id, "error": OUT_OF_ORDER, "expected": expected})
            continue
        if uid not in offered and (uid, offer) not in refused:
            refused[uid, offer] = None if held[uid] is not None else _refusal(state, partner, uid, offer)
        why = None if uid in offered else refused[uid, offer]
        if why is not None:
            answers.append({"id": change.change_id, "error": NotFound.code, "message": why})
        elif seq < expected:
            answers.append({"id": change.change_id, "status": Receipt.DUPLICATE.value})
        else:
            answers.append(None)
            run.append((place, change))
            expected += 1
            if offer:
                offered.add(uid)
    for place, receipt in apply_run(state, partner, run):
        answers[place] = {"id": changes[place].change_id, "status": receipt.value}
    return [a for a in answers if a is not None]


def _refusal(state: OutsourceState, partner: Partner, uid: str, offer: bool) -> str | None:
    """Why the partner may not touch engagement ``uid`` (None: it may)."""
    try:
        check_party(state, partner, uid, offer=offer)
    except NotFound as err:
        return err.message
    return None
