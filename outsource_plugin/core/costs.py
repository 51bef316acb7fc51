"""The completion charge: what the partner's work cost the lead, for reconciling its invoice."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from outsource_plugin.core.linked_entries import link_values
from outsource_plugin.db.models import Engagement, EntryLink
from outsource_plugin.host.entries import HOURS, EntryKind
from outsource_plugin.permissions import Permission
from outsource_plugin.workflow import Side

if TYPE_CHECKING:
    from outsource_plugin.state import OutsourceState


def outsourcing_cost(state: OutsourceState, engagement: Engagement) -> Decimal:
    """The partner's time at the terms' rate (or the flat rate) plus its charges at cost.

    Its time is its time entries, the notes its time became on a host that keeps hours on notes
    (``host.entries.HOURS``), and its time held on the plugin's side.
    """
    terms = engagement.effective_terms
    counted = {EntryKind.TIME.value, EntryKind.CHARGE.value}
    if HOURS in state.host.entry_fields(EntryKind.NOTE):
        counted.add(EntryKind.NOTE.value)
    links = state.session.scalars(
        select(EntryLink).where(
            EntryLink.engagement_uid == engagement.uid,
            EntryLink.owner == Side.SERVICE,
            EntryLink.deleted.is_(False),
            EntryLink.kind.in_(counted),
        )
    ).all()
    hours = Decimal(0)
    charges = Decimal(0)
    for link, values in link_values(state, engagement, links):
        if values is None:
            continue
        if link.kind == EntryKind.CHARGE.value:
            charges += Decimal(str(values.get("quantity") or 0)) * Decimal(str(values.get("unit_cost") or 0))
        else:
            hours += Decimal(str(values.get("hours") or 0))
    if terms.get("rate_type") == "flat":
        time_cost = Decimal(str(terms.get("flat_rate") or 0))
    else:
        time_cost = hours * Decimal(str(terms.get("outsource_rate") or 0))
    return (time_cost + charges).quantize(Decimal("0.01"))


def add_completion_charge(state: OutsourceState, engagement: Engagement) -> None:
    """One non-billable charge on the lead ticket when its engagement completes."""
    if engagement.role is not Side.LEAD or engagement.ticket_id is None:
        return
    if EntryKind.CHARGE not in state.host.entry_kinds:
        return
    total = outsourcing_cost(state, engagement)
    charge = state.host.create_entry(
        EntryKind.CHARGE,
        engagement.ticket_id,
        {
            "name": f"Outsourcing cost: {engagement.partner.name}",
            "quantity": Decimal(1),
            "unit_price": total,
            "unit_cost": total,
            "billable": False,
        },
    )
    state.session.flush()
    engagement.cost_charge_id = state.host.entry_id(EntryKind.CHARGE, charge)


def is_cost_charge(state: OutsourceState, charge: Any) -> bool:
    """Whether ``charge`` (a host charge or its id) is the plugin's "Outsourcing cost" charge.

    Its amounts are a financial figure: a host shows them to Allow All only.
    The charge is known by its id, so renaming it does not reveal it.
    """
    charge_id = charge if isinstance(charge, str | int) else state.host.entry_id(EntryKind.CHARGE, charge)
    found = state.session.scalar(
        select(Engagement.id).where(Engagement.role == Side.LEAD, Engagement.cost_charge_id == str(charge_id)).limit(1)
    )
    return found is not None


def cost_hidden(state: OutsourceState, charge: Any) -> bool:
    """Whether the host's signed-in user may not see ``charge``'s amounts: it is the cost
    charge and they are below Allow All. A host's pages and API leave the amounts out then."""
    user = state.host.current_user()
    level = user.permission if user else Permission.NONE
    return level < Permission.ALL and is_cost_charge(state, charge)
