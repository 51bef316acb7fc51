"""A question from the service partner to the lead: a note flagged as a question.

It is an ordinary note on the service ticket, written through the host
adapter, so it syncs to the lead like any other note; each host hears of it
through the ``question_asked`` signal once the transaction commits: the
service host when it is asked, the lead's when it arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outsource_plugin import signals
from outsource_plugin.core.engagements import Actor
from outsource_plugin.db.models import Engagement
from outsource_plugin.errors import Conflict, ValidationFailed
from outsource_plugin.host.entries import EntryKind
from outsource_plugin.workflow import Side, SyncState, sync_state

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState

PREFIX = "Question: "
#: as long as an action's reason may be: a question is read, not a document
MAX_QUESTION_LENGTH = 5000


def can_ask(engagement: Engagement | None) -> bool:
    """Only the service partner asks, and only while the note can reach the lead."""
    return (
        engagement is not None
        and engagement.role is Side.SERVICE
        and engagement.ticket_id is not None
        and sync_state(engagement.status) is SyncState.ACTIVE
    )


def is_question(values: dict[str, Any]) -> bool:
    """A note asks a question when flagged so, or by its prefix: hosts that keep no flag keep the text."""
    return bool(values.get("question")) or str(values.get("text") or "").startswith(PREFIX)


def question_arrived(state: OutsourceState, engagement: Engagement, values: dict[str, Any]) -> None:
    """The service partner's question reached the lead's ticket: the lead hears of it too, after commit."""
    signals.send_after_commit(
        state.session,
        signals.question_asked,
        state.app,
        engagement_uid=engagement.uid,
        ticket_id=engagement.ticket_id,
        text=str(values.get("text") or ""),
        author=str(values.get("author") or ""),
    )


def ask_question(
    state: OutsourceState, engagement: Engagement, text: str, actor: Actor, *, internal: bool = False
) -> Any:
    """Add the question note to the service ticket; the caller commits."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("write the question first", details={"text": ["a question is required"]})
    if len(text) > MAX_QUESTION_LENGTH:
        raise ValidationFailed(
            f"a question may be at most {MAX_QUESTION_LENGTH} characters",
            details={"text": [f"longer than {MAX_QUESTION_LENGTH} characters"]},
        )
    if not can_ask(engagement):
        raise Conflict("questions reach the lead partner only while the ticket is Accepted or In Progress")
    assert engagement.ticket_id is not None
    body = text if text.startswith(PREFIX) else PREFIX + text
    values = {"text": body, "internal": internal, "author": actor.name, "question": True}
    entry = state.host.create_entry(EntryKind.NOTE, engagement.ticket_id, values)
    question_arrived(state, engagement, values)
    return entry
