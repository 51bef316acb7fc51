"""The public pages behind an e-mail partner's links: Accept, Decline with a reason, and Work is done.

No login: the signed link is the partner's only credential (``federation.mail_links``).
The page shows the offer and a form carrying the plugin's CSRF token; the POST
checks the link again, applies the partner's action as any partner's action is
applied (``sync.inbound``) and commits. An accept also queues the confirmation
e-mail (the adapter sends it with the Work is done link), so it is retried like
every delivery.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from outsource_plugin.adapters.base import ChangeKind, RemoteChange
from outsource_plugin.blueprints.csrf import protect
from outsource_plugin.blueprints.errors import answer_in_pages
from outsource_plugin.blueprints.frame import PagesBlueprint
from outsource_plugin.blueprints.limits import json_limit, limit_body
from outsource_plugin.db.models import Engagement, utcnow
from outsource_plugin.db.outbox import enqueue
from outsource_plugin.errors import MailLinkRefused, ValidationFailed
from outsource_plugin.federation.mail_links import LinkAction, MailLink, app_key, read_link
from outsource_plugin.permissions import Permission
from outsource_plugin.state import current_outsource
from outsource_plugin.sync.inbound import apply_change
from outsource_plugin.wire import ActionMessage
from outsource_plugin.workflow import Action, Status

mail_links = PagesBlueprint("outsource_mail_links", __name__, template_folder="templates")
limit_body(mail_links, json_limit)
answer_in_pages(mail_links)
protect(mail_links)

ACTIONS = {LinkAction.ACCEPT: Action.ACCEPT, LinkAction.DECLINE: Action.DECLINE, LinkAction.DONE: Action.SUBMIT}
#: the statuses in which each link works: once its action is done, the engagement has left them
OPEN = {
    LinkAction.ACCEPT: {Status.ASSIGNED},
    LinkAction.DECLINE: {Status.ASSIGNED},
    LinkAction.DONE: {Status.ACCEPTED, Status.IN_PROGRESS},
}


class AnswerForm(Schema):
    """The partner's answer: a reason is required to decline, and kept short enough to read."""

    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    csrf_token = fields.String(load_default="")


def _open_engagement(link: MailLink) -> Engagement:
    """The link's engagement while its action can happen (``OPEN``); a used link, or one of a withdrawn offer,
    is refused."""
    engagement = (
        current_outsource().session.scalars(select(Engagement).where(Engagement.uid == link.engagement_uid)).first()
    )
    if engagement is None or engagement.partner.adapter != "email":
        raise MailLinkRefused("This link is not one of ours: check that it was copied whole.")
    if engagement.status not in OPEN[link.action]:
        what = "work" if link.action is LinkAction.DONE else "offer"
        now = engagement.status.value.replace("_", " ")
        raise MailLinkRefused(f"This {what} is closed ({now}): the link can no longer be used.")
    return engagement


def _page(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, user=None, level=Permission.NONE, Permission=Permission, **context), status


@mail_links.get("/<token>")
def link_page(token: str) -> ResponseReturnValue:
    link = read_link(app_key(current_app.config), token, utcnow())
    engagement = _open_engagement(link)
    return _page("outsource/mail_link.html", link=link, engagement=engagement, error=None, reason="")


@mail_links.post("/<token>")
def link_answer(token: str) -> ResponseReturnValue:
    link = read_link(app_key(current_app.config), token, utcnow())
    engagement = _open_engagement(link)
    try:
        reason = str(AnswerForm().load(request.form.to_dict())["reason"]).strip()
    except ValidationError as err:
        raise ValidationFailed("The answer is not valid.", details=err.normalized_messages()) from err
    if link.action is LinkAction.DECLINE and not reason:
        error = ValidationFailed("Say why you decline: the reason is required.", details={"reason": ["required"]})
        return _page("outsource/mail_link.html", 400, link=link, engagement=engagement, error=error, reason="")
    state = current_outsource()
    change = RemoteChange(
        ChangeKind.ACTION,
        engagement.uid,
        f"email-link:{link.action.value}:{engagement.uid}",
        action=ACTIONS[link.action],
        reason=reason or None,
        actor=engagement.partner.name,
    )
    apply_change(state, engagement.partner, change)
    if link.action is LinkAction.ACCEPT:
        enqueue(state.session, engagement, ActionMessage(Action.ACCEPT, actor=engagement.partner.name))
    state.session.commit()
    return _page("outsource/mail_link_done.html", link=link, engagement=engagement)
