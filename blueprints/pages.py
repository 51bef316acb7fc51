"""Ticket pages: Outsource Ticket (partner and terms), View Terms, the action forms,
the offer (engagement) page and Ask a Question."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from outsource_plugin.blueprints.form_errors import action_errors, term_errors
from outsource_plugin.blueprints.pages_common import (
    ACTION_DONE,
    ACTION_HELP,
    ACTION_LABELS,
    ID,
    caller,
    form_int,
    pages,
    refuse_on_complete_ticket,
    render,
    state,
    terms_fields,
    terms_from_form,
    ticket_url,
)
from outsource_plugin.core.engagements import Actor, configure, current_engagement, edit, get_engagement, perform
from outsource_plugin.core.partners import choosable_partners
from outsource_plugin.core.present import engagement_json, user_actions
from outsource_plugin.core.questions import ask_question, can_ask
from outsource_plugin.db.models import Engagement, Partner
from outsource_plugin.errors import Conflict, NotFound, ValidationFailed
from outsource_plugin.permissions import Permission
from outsource_plugin.validation.schemas import ActionSchema, ChoosePartnerSchema, ConfigureSchema, QuestionSchema, load
from outsource_plugin.workflow import USER_ACTIONS, Action, Status


def _ticket(ticket_id: str) -> Any:
    ticket = state().host.get_ticket(ticket_id)
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket


@pages.get("/tickets/<ticket_id>/outsource")
def outsource_ticket(ticket_id: str) -> ResponseReturnValue:
    """Step 1: choose a partner (recently used first, with a search); step 2: the terms."""
    user = caller(Permission.OUTSOURCE)
    ticket = _ticket(ticket_id)
    refuse_on_complete_ticket(ticket_id)
    engagement = current_engagement(state().session, ticket_id)
    editing = engagement is not None and engagement.status is Status.UNSENT
    if not editing and Action.CONFIGURE.value not in user_actions(
        engagement.status if engagement else None, engagement, user.permission, ticket.is_complete
    ):
        raise Conflict("this ticket's outsourcing cannot be configured now: it is already sent or accepted")
    query = load(ChoosePartnerSchema(), request.args.to_dict())
    chosen = query["partner_id"]
    if chosen is None and editing and query["change"] is None:
        chosen = engagement.partner_id if engagement else None
    if chosen is None:
        search = query["q"]
        return render(
            "outsource/choose_partner.html",
            ticket=ticket,
            partners=choosable_partners(state().session, search),
            search=search,
            editing=editing,
            back=ticket_url(ticket_id, engagement),
        )
    partner = state().session.get(Partner, chosen)
    if partner is None or not partner.active:
        raise NotFound(f"partner {chosen} does not exist or is disabled")
    return _terms_form(ticket, engagement if editing else None, partner, user.permission, engagement)


def _terms_form(
    ticket: Any,
    editing: Engagement | None,
    partner: Partner,
    level: Permission,
    previous: Engagement | None,
    *,
    values: dict[str, Any] | None = None,
    error: ValidationFailed | Conflict | None = None,
) -> ResponseReturnValue:
    if values is None:
        if editing is not None and editing.partner_id == partner.id:
            values = dict(editing.terms)
        elif previous is not None:
            values = dict(previous.effective_terms)
        else:
            values = dict(partner.default_terms or {})
    fields = terms_fields(level)
    return render(
        "outsource/terms_form.html",
        400 if error else 200,
        ticket=ticket,
        partner=partner,
        editing=editing,
        fields=fields,
        values=values,
        error=error,
        errors=term_errors(error, fields),
        back=ticket_url(ticket.id, previous),
    )


@pages.post("/tickets/<ticket_id>/outsource")
def outsource_save(ticket_id: str) -> ResponseReturnValue:
    """Save: the engagement is (still) Unsent; then View Terms."""
    user = caller(Permission.OUTSOURCE)
    ticket = _ticket(ticket_id)
    refuse_on_complete_ticket(ticket_id)
    partner_id = form_int(request.form, "partner_id")
    engagement = current_engagement(state().session, ticket_id)
    try:
        terms = terms_from_form(request.form, user.permission)
        data = load(ConfigureSchema(), {"partner_id": partner_id, "terms": terms})
        if engagement is not None and engagement.status is Status.UNSENT:
            edit(state(), engagement, data["partner_id"], data["terms"], Actor(user.name))
        else:
            engagement = configure(state(), ticket_id, data["partner_id"], data["terms"], Actor(user.name))
        state().session.commit()
    except (ValidationFailed, Conflict) as err:
        state().session.rollback()
        partner = state().session.get(Partner, partner_id)
        if partner is None:
            raise
        current = current_engagement(state().session, ticket_id)
        editing = current if current is not None and current.status is Status.UNSENT else None
        return _terms_form(ticket, editing, partner, user.permission, current, values=dict(request.form), error=err)
    assert engagement is not None
    flash("Saved. The outsourcing is Unsent: check the terms, then send it with Outsource.")
    return redirect(url_for("outsource_pages.view_terms", engagement_id=engagement.id))


@pages.get(f"/engagements/<{ID}:engagement_id>/terms")
def view_terms(engagement_id: int) -> ResponseReturnValue:
    """View Terms: what will be (or was) sent; the Outsource button sends it."""
    user = caller(Permission.OUTSOURCE)
    engagement = get_engagement(state().session, engagement_id)
    ticket = state().host.get_ticket(engagement.ticket_id) if engagement.ticket_id else None
    return render(
        "outsource/view_terms.html",
        engagement=engagement,
        e=engagement_json(engagement, user.permission, ticket_complete=bool(ticket and ticket.is_complete)),
        ticket=ticket,
        fields=terms_fields(user.permission),
        back=ticket_url(engagement.ticket_id, engagement),
    )


@pages.get(f"/engagements/<{ID}:engagement_id>")
def engagement_page(engagement_id: int) -> ResponseReturnValue:
    """One engagement: the offer details, its terms and the forms of the actions allowed now.

    This is where a service partner accepts or declines an offer that has no ticket yet.
    """
    user = caller(Permission.OUTSOURCE)
    return _engagement_view(get_engagement(state().session, engagement_id), user.permission)


def _engagement_view(
    engagement: Engagement,
    level: Permission,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> ResponseReturnValue:
    """The offer page; with ``errors``, its accept or decline form again, marked and with what was typed."""
    ticket = state().host.get_ticket(engagement.ticket_id) if engagement.ticket_id else None
    e = engagement_json(engagement, level, ticket_complete=bool(ticket and ticket.is_complete))
    return render(
        "outsource/engagement.html",
        400 if errors else 200,
        engagement=engagement,
        e=e,
        ticket=ticket,
        fields=terms_fields(level),
        customers=_customers_needed(engagement),
        labels=ACTION_LABELS,
        ticket_link=ticket_url(engagement.ticket_id) if engagement.ticket_id else None,
        errors=errors or {},
        values=values or {},
    )


def _customers_needed(engagement: Engagement) -> list[tuple[str, str]]:
    """On the first acceptance from a new lead partner: the host's customers to choose from."""
    if engagement.partner.customer_ref is not None:
        return []
    return state().host.list_customers()


@pages.get(f"/engagements/<{ID}:engagement_id>/actions/<action>")
def action_page(engagement_id: int, action: str) -> ResponseReturnValue:
    """The form of one action: a confirmation, with a reason or a customer where needed."""
    user = caller(Permission.OUTSOURCE)
    engagement = get_engagement(state().session, engagement_id)
    name = _allowed_action(engagement, action, user.permission)
    if name == "send":
        return redirect(url_for("outsource_pages.view_terms", engagement_id=engagement.id))
    return _action_form(engagement, name, user.permission)


def _action_form(
    engagement: Engagement,
    name: str,
    level: Permission,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> ResponseReturnValue:
    """One action's form; with ``errors``, the same form again, marked and with what was typed."""
    return render(
        "outsource/action.html",
        400 if errors else 200,
        engagement=engagement,
        e=engagement_json(engagement, level),
        action=name,
        label=ACTION_LABELS[name],
        help=ACTION_HELP.get(name, ""),
        reason_required=name in ("decline", "reject"),
        reason_optional=name == "cancel",
        customers=_customers_needed(engagement) if name == "accept" else [],
        back=ticket_url(engagement.ticket_id, engagement),
        errors=errors or {},
        values=values or {},
    )


@pages.post(f"/engagements/<{ID}:engagement_id>/actions/<action>")
def action_post(engagement_id: int, action: str) -> ResponseReturnValue:
    """Perform the action through the same core call as the JSON API."""
    user = caller(Permission.OUTSOURCE)
    engagement = get_engagement(state().session, engagement_id)
    refuse_on_complete_ticket(engagement.ticket_id)
    chosen = next((a for a in USER_ACTIONS if a.value == action), None)
    if chosen is None:
        abort(404)
    ticket_id = engagement.ticket_id
    typed = {"reason": request.form.get("reason", ""), "customer_ref": request.form.get("customer_ref", "")}
    try:
        # the same schema as the JSON API, so a form cannot send what the API refuses (a 1 MB reason)
        data = load(ActionSchema(), {"action": chosen.value, **{k: v.strip() or None for k, v in typed.items()}})
        perform(
            state(),
            engagement,
            chosen,
            engagement.role,
            Actor(user.name),
            reason=data["reason"],
            customer_ref=data["customer_ref"],
        )
        state().session.commit()
    except ValidationFailed as err:
        errors = action_errors(err, typed["reason"].strip())
        if not errors:
            raise
        state().session.rollback()
        if request.form.get("form") == "offer":
            return _engagement_view(engagement, user.permission, errors=errors, values=typed)
        return _action_form(engagement, chosen.value, user.permission, errors=errors, values=typed)
    if chosen is Action.REMOVE:
        flash("The unsent outsourcing was removed.")
        return redirect(ticket_url(ticket_id))
    flash(f"{ACTION_DONE.get(chosen.value, 'Done')}. The outsource status is now {engagement.status.label}.")
    return redirect(ticket_url(engagement.ticket_id, engagement))


def _allowed_action(engagement: Engagement, action: str, level: Permission) -> str:
    """The action if the table allows it for this user now; otherwise the page explains why not."""
    ticket = state().host.get_ticket(engagement.ticket_id) if engagement.ticket_id else None
    allowed = user_actions(engagement.status, engagement, level, bool(ticket and ticket.is_complete))
    if action not in allowed:
        raise Conflict(
            f"'{ACTION_LABELS.get(action, action)}' is not possible while the outsource status is "
            f"{engagement.status.label}",
            details={"allowed": allowed or ["nothing"]},
        )
    return action


@pages.get(f"/engagements/<{ID}:engagement_id>/question")
def question_page(engagement_id: int) -> ResponseReturnValue:
    caller(Permission.OUTSOURCE)
    engagement = get_engagement(state().session, engagement_id)
    if not can_ask(engagement):
        raise Conflict("questions reach the lead partner only while the ticket is Accepted or In Progress")
    return render("outsource/question.html", engagement=engagement, back=ticket_url(engagement.ticket_id, engagement))


@pages.post(f"/engagements/<{ID}:engagement_id>/question")
def question_post(engagement_id: int) -> ResponseReturnValue:
    user = caller(Permission.OUTSOURCE)
    engagement = get_engagement(state().session, engagement_id)
    refuse_on_complete_ticket(engagement.ticket_id)
    form = load(QuestionSchema(), {"text": request.form.get("text", ""), "internal": "internal" in request.form})
    ask_question(state(), engagement, form["text"], Actor(user.name), internal=form["internal"])
    state().session.commit()
    flash(f"Your question was added as a note; it reaches {engagement.partner.name} with the next sync.")
    return redirect(ticket_url(engagement.ticket_id, engagement))
