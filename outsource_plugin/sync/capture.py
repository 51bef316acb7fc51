"""The sync engine: the rules of SPEC "What synchronises", in one place.

Outbound, it turns the host's entry changes (seen inside the host's own
flush) into entry links and outbox messages. Inbound, it applies a partner's
entry messages to the host. Both sides apply the same rules:

- entries cross only while the engagement is Accepted or In Progress;
- each entry has one owner; the other side's copy is read-only there until
  the engagement is Complete;
- an entry added while Waiting Approval never crosses, and entries from
  before the suspension are read-only on both sides until it resumes;
- the lead's internal notes and attachments never leave the lead, a service's
  reach only a partner with private notes, and what arrives at the lead
  arrives as internal;
- the lead's time reaches the partner as a note;
- nothing that arrived by sync is ever sent back.

Which side of a suspension or an end an entry falls on is decided causally,
by what each side had read of the other's feed, never by comparing the two
hosts' clocks:

- every message we queue for a peer carries ``seen``, how far we had read the
  partner's feed at that moment (``outsource_plugin.db.outbox``);
- our own boundary acts, the ones after which we sync no more (submit,
  approve, complete, the completion cascade), are numbered in our feed, and
  the engagement remembers the latest (``boundary_seq``);
- a partner's new entry lands only if the partner had seen our latest
  boundary act (``seen >= boundary_seq``); otherwise it was made while we had
  already suspended or ended sync, and it never lands. A change to an entry
  we already hold lands whatever it had seen: that entry crossed before our
  act, the partner keeps it as a pre-suspension entry, and both copies must
  stay alike;
- when the partner's boundary act arrives with ``seen = N``, each of our
  entries whose first message is numbered above N never reached the partner
  before it acted: it joins the suspension window (``in_suspension``), stays
  editable by us, and never crosses, not even after a reject resumes sync.
  Entries whose first message is N or below crossed: they are
  pre-suspension entries, read-only while suspended.

Both sides apply the same two rules, so they agree on every entry whatever
their clocks say. Messages without ``seen`` (a foreign system's poll, a peer's
message queued before this rule existed) and suspensions from before it (no
``boundary_seq``) fall back to the partner's timestamp: such an entry lands
while sync is active, or if it was stamped before we suspended or ended it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from outsource_plugin.adapters.base import Capability, RemoteChange
from outsource_plugin.adapters.registry import adapter_class
from outsource_plugin.core.engagements import (
    BOUNDARY_ACTIONS,
    Actor,
    current_engagement,
    lock_status,
    perform,
    ticket_completed,
    ticket_deleted,
)
from outsource_plugin.core.partner_entries import partner_author
from outsource_plugin.core.questions import is_question, question_arrived
from outsource_plugin.db import outbox
from outsource_plugin.db.models import Engagement, EntryLink, Partner
from outsource_plugin.errors import ReadOnlyEntry
from outsource_plugin.host.entries import (
    HOURS,
    PRIVATE_KINDS,
    WORK_KINDS,
    EntryKind,
    keep_local,
    kept_local,
    to_wire,
)
from outsource_plugin.host.privacy import holds
from outsource_plugin.host.protocol import EntryChange, EntryOp, HostChanges
from outsource_plugin.sync.collector import collector_paused
from outsource_plugin.sync.flush_reads import (
    EngagementFacts,
    Link,
    LiveLinks,
    NewLink,
    current_engagements,
    partner_link_fields,
    stamp,
    stamped_alike,
)
from outsource_plugin.sync.refusals import over_limit, refuse, refused_by_partner
from outsource_plugin.wire import (
    EntryMessage,
    WireOp,
    crossing,
    crossing_kind,
    entry_key,
    key_tokens,
    time_as_note,
)
from outsource_plugin.workflow import Action, Side, Status, SyncState, sync_state

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState
    from outsource_plugin.sync.run_entries import RunEntries


def on_host_changes(state: OutsourceState, changes: HostChanges) -> None:
    """Called inside the host's flush with what it changed."""
    with collector_paused(), state.session_resolved():
        _capture(state, changes)


def _capture(state: OutsourceState, changes: HostChanges) -> None:
    # deletes first: a refused one stops the commit before anything is queued, and an allowed one
    # detaches its engagements, so the deleted ticket's entries and a new ticket on its id find none
    for ticket_id in changes.deleted:
        ticket_deleted(state, ticket_id)
    for ticket_id in changes.completed:
        ticket_completed(state, ticket_id)
    # a flush often carries many entries (a burst, an import): read their engagements and links
    # together (``flush_reads``), and number the messages of the whole flush together
    kept = kept_local(state.session)
    ours = [change for change in changes.entries if change.entry not in kept]
    engagements = current_engagements(state, {change.ticket_id for change in ours}) if ours else {}
    facts = {ticket_id: EngagementFacts.of(engagement) for ticket_id, engagement in engagements.items()}
    entry_id = state.host.entry_id
    local_ids = [entry_id(change.kind, change.entry) for change in ours]  # each asked of the host once
    links = LiveLinks.of(
        state,
        (
            (facts[change.ticket_id].uid, change.kind, local_id)
            for change, local_id in zip(ours, local_ids, strict=True)
            if change.ticket_id in facts
        ),
    )
    tokens = key_tokens(len(ours))  # a new entry's key takes one (``wire.entry_key``)
    with outbox.numbered_together(state.session), stamped_alike(state.session):
        for change, local_id, token in zip(ours, local_ids, tokens, strict=True):
            capture_entry(state, change, local_id, facts.get(change.ticket_id), links, key_token=token)
    links.insert_new(state.session)  # after the numbering: each link is inserted with its first message's number
    for ticket_id in changes.reassigned:
        engagement = _locked(state, current_engagement(state.session, ticket_id))
        if engagement is not None:
            _work_started(state, engagement)


def _locked(state: OutsourceState, engagement: Engagement | None) -> Engagement | None:
    """The engagement with its status re-read under lock: the partner's crossing act may have
    just committed (a cancel that withdrew the offer), and what to send follows the status."""
    if engagement is not None and engagement.is_open:  # a closed one never opens again
        lock_status(state.session, engagement)
    return engagement


def capture_entry(
    state: OutsourceState,
    change: EntryChange,
    local_id: str,
    facts: EngagementFacts | None,
    links: LiveLinks,
    *,
    key_token: str,
) -> None:
    """Link and send (or hold) one host entry change of the ticket whose current engagement ``facts`` tells of.

    ``facts``: the engagement's, read once per flush (``flush_reads.EngagementFacts``).
    ``local_id``: the host's id of the changed entry, asked once per flush (the links are read by it too).
    ``links``: the flush's live links, read once (``flush_reads.LiveLinks``).
    ``key_token``: the token of the entry key a new link takes, the flush's drawn together (``wire.key_tokens``).
    """
    if facts is None:
        return
    status, sync = facts.status, facts.sync
    if sync is SyncState.NONE:
        return
    side, uid = facts.side, facts.uid
    if change.op is EntryOp.CREATE:
        if sync is SyncState.ENDED:
            return
        stale = links.get(uid, change.kind, local_id)
        if stale is not None:
            stale.deleted = True  # see ``retire_local``
        link = NewLink(
            engagement_uid=uid,
            entry_key=entry_key(side, change.kind, local_id, key_token),
            kind=change.kind.value,
            local_id=local_id,
            owner=side,
            in_suspension=sync is SyncState.SUSPENDED,
        )
        links.add(link)
        if sync is SyncState.ACTIVE:
            _send(state, facts, link, change)
            if status is Status.ACCEPTED and side is Side.SERVICE and change.kind in WORK_KINDS:
                _work_started(state, facts.engagement)
                facts.read_status()  # In Progress now, for the flush's later entries
        return
    found = links.get(uid, change.kind, local_id)
    if found is None:
        return
    _check_and_send(state, facts, found, change, sync)
    if change.op is EntryOp.DELETE:
        # retired whether or not the delete crossed: the host may give its id to a new entry
        found.deleted = True


def retire_local(state: OutsourceState, uid: str, kind: EntryKind, local_id: str) -> None:
    """A new entry holds ``local_id``: a live link still naming it lost its entry unseen, so it is retired."""
    stale = _link_by_local(state, uid, kind, local_id)
    if stale is not None:
        stale.deleted = True


def _check_and_send(
    state: OutsourceState, facts: EngagementFacts, link: Link, change: EntryChange, sync: SyncState
) -> None:
    """An edit or delete of a synced entry: refused on a read-only one, else sent if sync is on."""
    local_id = link.local_id
    if link.owner is not facts.side:
        if sync is not SyncState.ENDED:
            raise ReadOnlyEntry(
                f"this {change.kind.value} came from {facts.engagement.partner.name}: only they can change it",
                details={"entry": [change.kind.value, local_id]},
            )
        return
    if sync is SyncState.SUSPENDED and not link.in_suspension:
        raise ReadOnlyEntry(
            f"this {change.kind.value} is read-only while the ticket waits for approval",
            details={"entry": [change.kind.value, local_id]},
        )
    if sync is SyncState.ACTIVE and not link.in_suspension:
        _send(state, facts, link, change)


def _send(state: OutsourceState, facts: EngagementFacts, link: Link, change: EntryChange) -> None:
    """Queue the entry's new state for the partner, under the privacy rules."""
    if change.op is EntryOp.DELETE:
        _send_delete(state, facts, link)
        return
    _send_values(state, facts, link, change.kind, state.host.entry_values(change.kind, change.entry))


def send_delete(state: OutsourceState, engagement: Engagement, link: Link) -> None:
    """Our entry is gone: so is the partner's copy, if it has one."""
    _send_delete(state, EngagementFacts.of(engagement), link)


def _send_delete(state: OutsourceState, facts: EngagementFacts, link: Link) -> None:
    link.deleted = True
    if link.sent:
        kind = crossing_kind(facts.side, EntryKind(link.kind))
        _enqueue(state, facts, link, kind, WireOp.DELETE, {})


def send_values(
    state: OutsourceState, engagement: Engagement, link: Link, kind: EntryKind, values: dict[str, Any]
) -> None:
    """Queue one of our entries as it stands (``values``) for the partner, under the privacy rules.

    Capture, backfill and reconciliation's repairs all go through here, so the
    rules cannot differ between them.
    """
    _send_values(state, EngagementFacts.of(engagement), link, kind, values)


def _send_values(
    state: OutsourceState, facts: EngagementFacts, link: Link, kind: EntryKind, values: dict[str, Any]
) -> None:
    engagement = facts.engagement
    if kind in PRIVATE_KINDS and values.get("internal") and not _internal_may_leave(engagement):
        if link.sent:
            _enqueue(state, facts, link, kind, WireOp.DELETE, {})
            link.sent = False
        return
    kind, values = crossing(facts.side, kind, values)
    if facts.side is Side.LEAD:
        _tell_if_not_carried(state, engagement, kind)
    if over_limit(state, kind, values):
        refuse(state, engagement, link.entry_key, values, sent=True)
        return
    _enqueue(state, facts, link, kind, WireOp.UPSERT, values)
    link.sent = True


def _internal_may_leave(engagement: Engagement) -> bool:
    """A lead's internal entries never leave the lead; a service's reach only a partner system
    that keeps them internal (``Capability.PRIVATE_NOTES``)."""
    capabilities = adapter_class(engagement.partner.adapter).capabilities
    return engagement.role is Side.SERVICE and Capability.PRIVATE_NOTES in capabilities


#: the partner capability an entry kind needs to arrive as itself (else the adapter sends it as a note)
CARRIED_BY = {
    EntryKind.NOTE: Capability.NOTES,
    EntryKind.TIME: Capability.TIME_ENTRIES,
    EntryKind.CHARGE: Capability.CHARGES,
    EntryKind.ATTACHMENT: Capability.ATTACHMENTS,
}


def _tell_if_not_carried(state: OutsourceState, engagement: Engagement, kind: EntryKind) -> None:
    """A partner system without this kind of entry: say so on the lead ticket, once."""
    partner = engagement.partner
    if CARRIED_BY[kind] in adapter_class(partner.adapter).capabilities or engagement.ticket_id is None:
        return
    text = f"{partner.name}'s system has no {kind.value} entries: each one reaches it as a structured note."
    if not any(v.get("text") == text for _, v in state.host.list_entries(EntryKind.NOTE, engagement.ticket_id)):
        state.host.add_note(engagement.ticket_id, text, author=f"Outsourcing ({partner.name})")


def _enqueue(
    state: OutsourceState, facts: EngagementFacts, link: Link, kind: EntryKind, op: WireOp, values: dict[str, Any]
) -> None:
    origin = stamp(state).origin(
        link.owner, state.config["OUTSOURCE_ORG_NAME"], values.get("author") or values.get("resource")
    )
    outbox.enqueue_later(
        state.session,
        facts.partner_id,
        facts.uid,
        EntryMessage(link.entry_key, op, kind, to_wire(kind, values), origin),
        lambda seq: _first_message(link, seq),
    )


def _first_message(link: Link, seq: int) -> None:
    if link.first_seq is None:
        link.first_seq = seq


def _crosses(engagement: Engagement, message: EntryMessage, held: bool) -> bool:
    """Whether a partner's entry change lands here (the rule in the module docstring).

    ``held``: we hold a live copy of the entry, so it crossed before any act of
    ours that the partner had not seen.
    """
    state = sync_state(engagement.status)
    if state is SyncState.NONE:
        return False
    seen = message.seen
    boundary = engagement.boundary_seq
    if seen is None or (boundary is None and state is not SyncState.ACTIVE):
        return _stamped_before_boundary(engagement, message.origin.made_at, state)
    return held or boundary is None or seen >= boundary


def _stamped_before_boundary(engagement: Engagement, made: datetime | None, state: SyncState) -> bool:
    """The fallback without causal facts: the change lands while sync is active, or if the
    partner stamped it (``made``) before we suspended or ended sync (its clock against ours)."""
    if state is SyncState.ACTIVE:
        return True
    closed_at = {SyncState.SUSPENDED: engagement.suspended_at, SyncState.ENDED: engagement.sync_ended_at}.get(state)
    if closed_at is None or engagement.accepted_at is None or made is None:
        return False
    return made < closed_at


def hold_concurrent_entries(state: OutsourceState, engagement: Engagement, change: RemoteChange) -> None:
    """The partner suspended or ended sync having read our feed up to ``seen``: our entries
    whose first message it had not read were made concurrently with its act, and join the
    suspension window on our side too, as the partner never lets them land."""
    seen = change.data.get("seen")
    if change.action not in BOUNDARY_ACTIONS or not isinstance(seen, int):
        return
    concurrent = select(EntryLink).where(
        EntryLink.engagement_uid == engagement.uid, EntryLink.owner == engagement.role, EntryLink.first_seq > seen
    )
    for link in state.session.scalars(concurrent):
        link.in_suspension = True


def _work_started(state: OutsourceState, engagement: Engagement) -> None:
    """A note, time, charge or reassignment on an Accepted service ticket: In Progress."""
    if engagement.role is Side.SERVICE and engagement.status is Status.ACCEPTED:
        user = state.host.current_user()
        perform(state, engagement, Action.START_WORK, Side.SERVICE, Actor(user.name if user else "system"))


def _link_by_local(state: OutsourceState, uid: str, kind: EntryKind, local_id: str) -> EntryLink | None:
    """The live link of the host entry ``local_id``; retired links of earlier entries on that id are not it."""
    query = (
        select(EntryLink)
        .where(
            EntryLink.engagement_uid == uid,
            EntryLink.kind == kind.value,
            EntryLink.local_id == local_id,
            EntryLink.deleted.is_(False),
        )
        .order_by(EntryLink.id.desc())
    )
    return state.session.scalars(query).first()


def apply_entry(
    state: OutsourceState,
    partner: Partner,
    engagement: Engagement,
    message: EntryMessage,
    run: RunEntries | None = None,
) -> bool:
    """Apply a partner's entry change; False when the rules say it must not land.

    ``run``: the links of the run it belongs to, read together, and its new copies written together.
    """
    session = state.session
    if run is not None:
        link = run.link(engagement.uid, message.entry_key)
    else:
        link = session.scalars(
            select(EntryLink).where(
                EntryLink.engagement_uid == engagement.uid, EntryLink.entry_key == message.entry_key
            )
        ).first()
    held = link is not None and not link.deleted
    if not _crosses(engagement, message, held) or engagement.ticket_id is None:
        return False
    if message.op is WireOp.REFUSED:
        refused_by_partner(state, partner, engagement, message)
        return True
    kind, values = message.entry_kind, message.values()
    if kind is EntryKind.TIME and kind not in state.host.entry_kinds:
        # a host without time entries keeps the partner's time as a note rather than lose it
        kind, values = EntryKind.NOTE, _time_note(state, values)
    if kind not in state.host.entry_kinds:
        return False
    if message.op is WireOp.DELETE:
        if link is not None and not link.deleted and (link.local_id or link.held is not None):
            if link.local_id:
                # the copy's own kind: a lead's time entry lives here as a note
                state.host.delete_entry(EntryKind(link.kind), link.local_id)
            link.held = None
            link.deleted = True
        return True
    if link is not None and link.deleted:
        return False
    if over_limit(state, kind, values):
        refuse(state, engagement, message.entry_key, values, sent=False)
        return False
    if engagement.role is Side.LEAD and kind in PRIVATE_KINDS:
        values["internal"] = True
    origin = message.origin
    if kind is EntryKind.NOTE:
        values["author"] = partner_author(origin.user, partner.name)
    question = link is None and kind is EntryKind.NOTE and engagement.role is Side.LEAD and is_question(values)
    if holds(state.host.partner_entries, state.host.entry_fields(kind), values):
        _hold(state, engagement, link, message, question=question)
    elif link is None and run is not None and not question:
        run.add_copy(engagement, message, kind, values)
    elif link is None:
        local_id = _make_copy(state, kind, engagement.ticket_id, values)
        retire_local(state, engagement.uid, kind, local_id)
        session.add(_partner_link(engagement, message, kind, local_id=local_id, question=question))
    elif link.local_id:
        entry = state.host.update_entry(kind, link.local_id, values)
        if entry is None:
            # our copy vanished from the ticket (a reconciliation repair re-sends it): make it again
            link.local_id = _make_copy(state, kind, engagement.ticket_id, values)
        else:
            keep_local(session, entry)
    if question:
        question_arrived(state, engagement, values)
    return True


def _time_note(state: OutsourceState, values: dict[str, Any]) -> dict[str, Any]:
    """The partner's time as a note here; with its hours on the note when the host keeps hours there."""
    note = time_as_note(values)
    if HOURS in state.host.entry_fields(EntryKind.NOTE):
        note[HOURS] = values.get("hours")
    return note


def _hold(
    state: OutsourceState, engagement: Engagement, link: EntryLink | None, message: EntryMessage, *, question: bool
) -> None:
    """Keep the partner's entry on our side, as the partner sent it (its time stays time): the host
    cannot mark it internal and chose ``partner_entries="held"``."""
    held = to_wire(message.entry_kind, message.values())
    if link is None:
        state.session.add(_partner_link(engagement, message, message.entry_kind, held=held, question=question))
    else:
        link.held = held


def _partner_link(
    engagement: Engagement,
    message: EntryMessage,
    kind: EntryKind,
    *,
    local_id: str | None = None,
    held: dict[str, Any] | None = None,
    question: bool = False,
) -> EntryLink:
    """The link of a partner's new entry: owned by the partner, who made it and when."""
    return EntryLink(**partner_link_fields(engagement, message, kind), local_id=local_id, held=held, question=question)


def _make_copy(state: OutsourceState, kind: EntryKind, ticket_id: str, values: dict[str, Any]) -> str:
    """Write the partner's entry on our ticket, marked so that it is never sent back; its id here."""
    entry = state.host.create_entry(kind, ticket_id, values)
    keep_local(state.session, entry)
    state.session.flush()
    return state.host.entry_id(kind, entry)
