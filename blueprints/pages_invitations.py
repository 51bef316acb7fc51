"""Partnership by invitation, in the partner administration: "Invite a partner" (the code is
shown once, on the answer to the form) and "Join a partner" (paste a code); revoke an
invitation from the partners list. Allow Partner Management, CSRF like every form."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from outsource_plugin.blueprints.pages_common import ID, caller, pages, render, state, terms_fields, terms_from_form
from outsource_plugin.errors import AdapterError, Conflict, InvitationRefused, ValidationFailed
from outsource_plugin.federation import handshake
from outsource_plugin.partnership.invitations import create_invitation, get_invitation, public_url, revoke_invitation
from outsource_plugin.partnership.joining import join
from outsource_plugin.permissions import Permission

#: what a form shows beside itself instead of an error page
_FORM_ERRORS = (ValidationFailed, Conflict, InvitationRefused, AdapterError)


@pages.get("/partners/invite")
def invite_form() -> ResponseReturnValue:
    user = caller(Permission.PARTNER_MANAGEMENT)
    return render("outsource/invite_form.html", terms=terms_fields(user.permission), values={}, error=None)


@pages.post("/partners/invite")
def invite_create() -> ResponseReturnValue:
    """The code is on this answer only: the invitation keeps a hash of its token."""
    user = caller(Permission.PARTNER_MANAGEMENT)
    body = {
        "name": request.form.get("name", ""),
        "default_terms": terms_from_form(request.form, user.permission, "terms."),
    }
    try:
        invitation, code = create_invitation(state(), body, public_url(state(), request.url_root), user.permission)
        state().session.commit()
    except (ValidationFailed, Conflict) as err:
        state().session.rollback()
        terms = terms_fields(user.permission)
        return render("outsource/invite_form.html", err.status_code, terms=terms, values=dict(request.form), error=err)
    fingerprint = handshake.fingerprint(invitation.public_key)
    return render("outsource/invite_code.html", invitation=invitation, code=code, fingerprint=fingerprint)


@pages.get("/partners/join")
def join_form() -> ResponseReturnValue:
    caller(Permission.PARTNER_MANAGEMENT)
    return render("outsource/join_form.html", name="", error=None)


@pages.post("/partners/join")
def join_submit() -> ResponseReturnValue:
    """A refused code is explained beside the form, which does not show the code again."""
    caller(Permission.PARTNER_MANAGEMENT)
    name = request.form.get("name", "").strip()
    try:
        partner = join(state(), request.form.get("code", ""), public_url(state(), request.url_root), name or None)
        state().session.commit()
    except _FORM_ERRORS as err:
        state().session.rollback()
        return render("outsource/join_form.html", err.status_code, name=name, error=err)
    flash(f"Joined {partner.name}: both help desks now have each other as an active partner.")
    return redirect(url_for("outsource_pages.partner_edit", partner_id=partner.id))


@pages.post(f"/invitations/<{ID}:invitation_id>/revoke")
def invitation_revoke(invitation_id: int) -> ResponseReturnValue:
    """Back to the partners list, where the invitation is gone: its code is refused from now on."""
    caller(Permission.PARTNER_MANAGEMENT)
    session = state().session
    name = revoke_invitation(get_invitation(session, invitation_id)).name
    session.commit()
    flash(f"The invitation of {name} is revoked: its code is refused from now on.")
    return redirect(url_for("outsource_pages.partners"))
