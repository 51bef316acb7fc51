"""``flask outsource partners invite|invitations|revoke-invitation|join``: partnership by invitation.

They are added to the ``partners`` group (``outsource_plugin.cli``), each in an app context
as that group's own commands are. The code ``invite`` prints is the only time it is shown (the database keeps
its token's hash); ``join`` registers the inviting host with the keys the two
hosts agree on, and prints the partner without any secret.
"""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from outsource_plugin.cli.common import clear_errors
from outsource_plugin.cli.partners import key_values, shown
from outsource_plugin.partnership import invitations
from outsource_plugin.partnership.joining import join
from outsource_plugin.state import current_outsource
from outsource_plugin.validation.schemas import TermsSchema

URL_HELP = "This help desk's plugin URL as the partner reaches it (default: OUTSOURCE_PUBLIC_URL)."


@click.command("invite")
@with_appcontext
@click.option("--name", required=True, help="The partner's name here, unique.")
@click.option("--terms", "terms_pairs", multiple=True, metavar="KEY=VALUE", help="A default term.")
@click.option("--url", help=URL_HELP)
def invite_command(name: str, terms_pairs: tuple[str, ...], url: str | None) -> None:
    """Invite a partner: print a one-time code to give them (shown this once)."""
    state = current_outsource()
    with clear_errors(state.session):
        body = {"name": name, "default_terms": key_values(terms_pairs, TermsSchema(), "--terms")}
        invitation, code = invitations.create_invitation(
            state, body, url.rstrip("/") if url else invitations.public_url(state, None)
        )
        state.session.commit()
    click.echo(f"invitation {invitation.id} for {invitation.name}, valid until {invitation.expires_at.isoformat()}")
    click.echo(code)


@click.command("invitations")
@with_appcontext
def invitations_command() -> None:
    """Open invitations (not joined, not revoked); never their codes."""
    session = current_outsource().session
    rows = [invitations.invitation_json(i) for i in invitations.open_invitations(session)]
    click.echo(json.dumps({"invitations": rows}, indent=2))


@click.command("revoke-invitation")
@with_appcontext
@click.argument("invitation_id", type=int, metavar="ID")
def revoke_command(invitation_id: int) -> None:
    """Revoke an invitation: its code is refused from now on."""
    state = current_outsource()
    with clear_errors(state.session):
        invitation = invitations.revoke_invitation(invitations.get_invitation(state.session, invitation_id))
        state.session.commit()
    click.echo(f"invitation {invitation.id} ({invitation.name}) revoked")


@click.command("join")
@with_appcontext
@click.argument("code")
@click.option("--name", help="The partner's name here (default: the inviting organisation's name).")
@click.option("--url", help=URL_HELP)
def join_command(code: str, name: str | None, url: str | None) -> None:
    """Join the partner that gave CODE: both hosts end up registered as each other's peer."""
    state = current_outsource()
    with clear_errors(state.session):
        partner = join(state, code, url.rstrip("/") if url else invitations.public_url(state, None), name)
        state.session.commit()
    click.echo(json.dumps(shown(partner), indent=2))
