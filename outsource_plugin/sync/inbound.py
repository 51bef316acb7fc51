"""Applying what a partner did to this host: offers received and actions relayed.

A partner can only reach engagements it is party to, and applying the same
change twice has the effect of applying it once.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from outsource_plugin import signals
from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.core.engagements import Actor, perform, record_transition
from outsource_plugin.db.models import Engagement, Partner, utcnow
from outsource_plugin.errors import InvalidPartnerMessage, NotFound, TransitionRefused
from outsource_plugin.federation.messages import checked_change
from outsource_plugin.ops.logs import log_context
from outsource_plugin.sync.capture import apply_entry, hold_concurrent_entries
from outsource_plugin.sync.run_entries import RunEntries
from outsource_plugin.wire import EntryMessage, OfferMessage
from outsource_plugin.workflow import Action, Side, Status, acting_side, crossed, permits, reached_by

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState

log = logging.getLogger(__name__)


class Receipt(str, Enum):
    """What became of one change from the partner; the federation API answers with it."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    #: the partner's act crossed one of ours in flight and lost (``workflow.CROSSED``)
    SUPERSEDED = "superseded"


def apply_change(state: OutsourceState, partner: Partner, change: RemoteChange) -> Receipt:
    """Apply one change; a numbered change is applied only if it is the next in the feed.

    The change is checked first (``InvalidPartnerMessage``), so a malformed one writes nothing.
    """
    change = checked_change(change)
    if change.sequence is not None and not claim_sequence(state.session, partner, change.sequence):
        return Receipt.DUPLICATE
    engagement = None if change.kind is ChangeKind.OFFER else find_engagement(state, partner, change.engagement_uid)
    return apply_claimed(state, partner, change, engagement)


def apply_polled(state: OutsourceState, partner: Partner, changes: tuple[RemoteChange, ...]) -> str | None:
    """Apply a polled page of the partner's changes, the caller holding the partner's row
    (``outbox.lock_feed``); why a change was refused, the last one (None: none was).

    Numbered changes that are next in the feed go in runs, each claimed with one
    compare-and-set (``apply_run``), as a pushed batch's are; numbers a push already
    applied are skipped unread. Any other change is applied on its own (``apply_change``):
    a gap's or an unnumbered feed's, or refused when it fails its schema, and skipped.
    """
    refused, run, expected = None, [], 0
    for place, change in enumerate(changes):
        if change.sequence is not None and not expected:
            expected = applied_sequence(state.session, partner) + 1  # the row is ours: it stays put
        if change.sequence is not None and change.sequence < expected:
            continue  # a push applied it
        if change.sequence is not None and change.sequence == expected and (checked := _checked(change)) is not None:
            run.append((place, checked))
            expected += 1
            continue
        apply_run(state, partner, run)
        run = []
        try:
            apply_change(state, partner, change)
        except InvalidPartnerMessage as err:
            refuse_change(state, partner, change, err)
            refused = f"change {change.change_id} refused: {err.message}"  # shown on the partner page
        if change.sequence is not None:
            expected = applied_sequence(state.session, partner) + 1
    apply_run(state, partner, run)
    return refused


def _checked(change: RemoteChange) -> RemoteChange | None:
    """The change checked by its schema; None when it fails it (``apply_change`` tells why)."""
    try:
        return checked_change(change)
    except InvalidPartnerMessage:
        return None


def apply_run(
    state: OutsourceState, partner: Partner, run: list[tuple[int, RemoteChange]]
) -> list[tuple[int, Receipt]]:
    """Apply a run of checked changes numbered next in the partner's feed, claimed at once; each
    engagement is looked up once. ``run`` pairs each change with its place, which its receipt keeps."""
    if not run:
        return []
    first, last = run[0][1].sequence or 0, run[-1][1].sequence or 0
    if not claim_sequence(state.session, partner, first, last):
        # the cursor moved since we read it (a poll applied some): each claims its own number
        return [(place, apply_change(state, partner, change)) for place, change in run]
    # read before any copy is added: a look-up after one would flush each engagement's copies apart
    engagements = engagements_of(state, partner, {c.engagement_uid for _, c in run if c.kind is not ChangeKind.OFFER})
    entries = RunEntries.of(state, (change for _, change in run))
    receipts = []
    for place, change in run:
        uid = change.engagement_uid
        if change.kind is not ChangeKind.ENTRY:
            entries.settle()  # an offer or an action sees every entry before it written
        if change.kind is ChangeKind.OFFER:
            engagements.pop(uid, None)  # it makes the engagement: look it up again after
            receipts.append((place, apply_claimed(state, partner, change, None)))
            continue
        if uid not in engagements:
            engagements[uid] = find_engagement(state, partner, uid)
        receipts.append((place, apply_claimed(state, partner, change, engagements[uid], touch=False, run=entries)))
    entries.settle()
    now = utcnow()
    for engagement in engagements.values():
        if engagement is not None:
            engagement.last_sync_at = now  # changes from the partner arrived: the link works
    return receipts


def apply_claimed(
    state: OutsourceState,
    partner: Partner,
    change: RemoteChange,
    engagement: Engagement | None,
    *,
    touch: bool = True,
    run: RunEntries | None = None,
) -> Receipt:
    """Apply a checked change whose number (if any) this transaction has claimed; ``engagement`` is
    ours that it is about (None for an offer, which makes it, or when we hold none).

    ``touch=False`` leaves the engagement's ``last_sync_at`` to the caller: a batch sets it once,
    not once per change (each would be an UPDATE of its own). ``run``: the entries of the run it
    belongs to (``apply_run``), whose links are read and written together."""
    if change.kind is ChangeKind.OFFER:
        receive_offer(state, partner, change)
        return Receipt.APPLIED
    receipt = Receipt.APPLIED
    if change.kind is ChangeKind.ENTRY:
        # after a superseded act, the partner's entries come from its losing branch: they stay there
        if engagement is not None and engagement.superseded_at is None:
            apply_entry(state, partner, engagement, EntryMessage.from_wire(change.data), run)
    else:
        receipt = receive_action(state, partner, engagement, change)
        if engagement is not None and receipt is Receipt.APPLIED:
            hold_concurrent_entries(state, engagement, change)
    if engagement is not None and touch:
        engagement.last_sync_at = utcnow()  # a change from the partner arrived: the link works
    return receipt


def refuse_change(state: OutsourceState, partner: Partner, change: RemoteChange, err: InvalidPartnerMessage) -> None:
    """A polled change that failed its schema: recorded as a sync error on its engagement, and
    skipped (a numbered one too, so that the rest of the partner's feed still applies)."""
    if change.sequence is not None:
        claim_sequence(state.session, partner, change.sequence)
    engagement = find_engagement(state, partner, change.engagement_uid)
    if engagement is not None:
        engagement.last_sync_error = f"partner change {change.change_id} refused: {err.message}"
    signals.send_after_commit(state.session, signals.sync_failed, state.app, partner_id=partner.id, error=err.message)
    log.warning(
        "partner %s sent an invalid change %s: %s",
        partner.id,
        change.change_id,
        err.message,
        extra={**log_context(partner=partner), "engagement_uid": change.engagement_uid},
    )


def applied_sequence(session: Session, partner: Partner) -> int:
    value = session.scalar(select(Partner.poll_cursor).where(Partner.id == partner.id))
    return int(value or 0)


def claim_sequence(session: Session, partner: Partner, seq: int, last: int | None = None) -> bool:
    """Move the partner's cursor from ``seq - 1`` to ``last`` (``seq`` when None), or report that it
    is elsewhere; the numbers ``seq`` to ``last`` are then this transaction's to apply.

    A compare-and-set in one UPDATE: of two workers applying the same change
    (a push and a poll), the second finds the cursor moved and skips it. A
    pushed batch claims its whole run of numbers at once.
    """
    previous = Partner.poll_cursor == str(seq - 1)
    if seq == 1:
        previous = or_(Partner.poll_cursor.is_(None), previous)
    result = session.execute(
        update(Partner)
        .where(Partner.id == partner.id, previous)
        .values(poll_cursor=str(last if last is not None else seq))
        .execution_options(synchronize_session=False)
    )
    session.expire(partner, ["poll_cursor"])
    return bool(getattr(result, "rowcount", 0) == 1)


def receive_offer(state: OutsourceState, partner: Partner, change: RemoteChange) -> Engagement:
    """A lead partner offers us a ticket: it waits in our Waiting Acceptance folder."""
    session = state.session
    existing = find_engagement(state, partner, change.engagement_uid)
    if existing is not None:
        return existing
    offer = OfferMessage.from_wire(change.data)
    terms = dict(offer.terms)
    engagement = Engagement(
        uid=change.engagement_uid,
        role=Side.SERVICE,
        ticket_id=None,
        partner_id=partner.id,
        partner=partner,
        terms=terms,
        frozen_terms=terms,
        offer=dict(offer.offer),
        remote_ref=change.engagement_uid,
        remote_ticket_number=change.ticket_number,
        acceptance_deadline=offer.acceptance_deadline,
    )
    session.add(engagement)
    actor = Actor(change.actor or partner.name, remote=True)
    record_transition(state, engagement, Action.SEND, Side.LEAD, actor, None, Status.ASSIGNED)
    return engagement


def receive_action(
    state: OutsourceState, partner: Partner, engagement: Engagement | None, change: RemoteChange
) -> Receipt:
    """Apply the partner's outsource action to our copy of the engagement.

    A repeat of an action already applied is ignored. An action that crossed one
    of ours in flight is settled by the workflow's ``CROSSED`` rule: ours lost and
    we compensate, or theirs lost and it is superseded. Any other action our table
    refuses is recorded on the engagement as a sync error, not raised, so one bad
    change does not stall the partner's whole feed.
    """
    if engagement is None or change.action is None:
        log.warning(
            "partner %s sent %s for an unknown engagement",
            partner.id,
            change.change_id,
            extra={**log_context(partner=partner), "engagement_uid": change.engagement_uid},
        )
        return Receipt.APPLIED
    action = change.action
    side = acting_side(action, engagement.role.other)
    if _already_applied(engagement.status, action, side) or _overtaken(engagement.status, action):
        return Receipt.APPLIED
    did_cross, compensation = crossed(engagement.status, action, side)
    if did_cross:
        return _settle(state, partner, engagement, change, compensation)
    try:
        perform(
            state,
            engagement,
            action,
            side,
            Actor(change.actor or partner.name, remote=True),
            reason=change.reason,
            ticket_number=change.ticket_number,
        )
    except TransitionRefused as err:
        engagement.last_sync_error = f"partner change {change.change_id} refused: {err.message}"
    return Receipt.APPLIED


def _settle(
    state: OutsourceState, partner: Partner, engagement: Engagement, change: RemoteChange, compensation: Action | None
) -> Receipt:
    """One side of a crossing: our act lost (compensate, with a note saying so) or theirs did."""
    if compensation is None:
        engagement.superseded_at = utcnow()
        log.info(
            "partner %s's %s crossed our %s and was superseded",
            partner.id,
            change.action,
            engagement.status.value,
            extra={**log_context(partner=partner), "engagement_uid": engagement.uid},
        )
        return Receipt.SUPERSEDED
    why = _lost_because(partner, engagement.status, compensation)
    perform(state, engagement, compensation, Side.SYSTEM, Actor("system", remote=True), reason=why)
    return Receipt.APPLIED


def _lost_because(partner: Partner, status: Status, compensation: Action) -> str:
    """What the note on our ticket says when our act lost a crossing with the partner's."""
    ours = "decline" if status is Status.DECLINED else "acceptance"
    if compensation is Action.OVERRULE:
        return f"{partner.name} set the work Complete before your submission reached them: the outsourcing is Complete."
    if compensation is Action.LAPSE:
        return (
            f"The acceptance deadline of {partner.name}'s offer passed before your acceptance reached them: "
            "the offer was auto-declined and this service ticket is withdrawn."
        )
    withdrawn = ": this service ticket is withdrawn." if ours == "acceptance" else "."
    return f"{partner.name} canceled this offer before your {ours} reached them{withdrawn}"


def _already_applied(status: Status, action: Action, side: Side) -> bool:
    """True when ``status`` is where ``action`` leads and the action cannot apply again."""
    return not permits(status, action, side) and status in reached_by(action, side)


def _overtaken(status: Status, action: Action) -> bool:
    """Work started matters only while Accepted; once this side has moved on
    (submitted, completed) the partner's late news changes nothing."""
    return action is Action.START_WORK and status is not Status.ACCEPTED


def check_party(state: OutsourceState, partner: Partner, uid: str, *, offer: bool) -> None:
    """A partner touches only its own engagements: another's is NotFound, nothing written."""
    if find_engagement(state, partner, uid) is not None:
        return
    # Only another partner's engagement is out of bounds: this partner's offer may have been
    # committed by our poller a moment ago, between the look-up above and this one.
    others = select(Engagement.id).where(Engagement.uid == uid, Engagement.partner_id != partner.id)
    if not offer or state.session.scalar(others) is not None:
        raise NotFound(f"no engagement {uid} with this partner")


def engagements_of(state: OutsourceState, partner: Partner, uids: set[str]) -> dict[str, Engagement | None]:
    """Ours with the partner among ``uids``, in one query; None for each we hold none of."""
    found: dict[str, Engagement | None] = dict.fromkeys(uids)
    if uids:
        query = select(Engagement).where(Engagement.partner_id == partner.id, Engagement.uid.in_(uids))
        found.update((engagement.uid, engagement) for engagement in state.session.scalars(query))
    return found


def find_engagement(state: OutsourceState, partner: Partner, uid: str) -> Engagement | None:
    query = select(Engagement).where(Engagement.uid == uid, Engagement.partner_id == partner.id)
    return state.session.scalars(query).first()
