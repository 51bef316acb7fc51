"""The plugin's blueprints: the JSON API, the pages, and their error answers."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask, prefix: str) -> None:
    from outsource_plugin.blueprints.api import api
    from outsource_plugin.blueprints.errors import answer_host_refusals, answer_routing_errors
    from outsource_plugin.blueprints.federation import federation
    from outsource_plugin.blueprints.federation_join import federation_join
    from outsource_plugin.blueprints.fragments import register_fragments
    from outsource_plugin.blueprints.headers import secure_headers
    from outsource_plugin.blueprints.mail_links import mail_links
    from outsource_plugin.blueprints.pages_all import pages

    app.register_blueprint(api, url_prefix=f"{prefix}/api/v1")
    app.register_blueprint(federation, url_prefix=f"{prefix}/federation/v1")
    app.register_blueprint(federation_join, url_prefix=f"{prefix}/federation/v1/join")
    app.register_blueprint(pages, url_prefix=prefix or None)
    app.register_blueprint(mail_links, url_prefix=f"{prefix}/mail")
    answer_routing_errors(app, (f"{prefix}/api/", f"{prefix}/federation/"))
    answer_host_refusals(app)
    register_fragments(app)
    secure_headers(app, (api.name, federation.name, federation_join.name, pages.name, mail_links.name))
