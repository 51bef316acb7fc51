"""The frame of the plugin's pages: the host's base template and content block, or the plugin's own.

Every page extends ``outsource/layout.html``, which extends a frame generated for
the block named by ``OUTSOURCE_CONTENT_BLOCK``: it extends
``OUTSOURCE_BASE_TEMPLATE`` and puts the plugin's stylesheet, its navigation and
the page's ``outsource_content`` into that block. Jinja block names are fixed
when a template is compiled, so the frame is generated per block name by a
loader on the pages blueprint, and any name works; the base template is read
from the config when a page renders. A host that overrides
``outsource/layout.html`` itself still gets its own frame.
"""

from __future__ import annotations

from flask import Blueprint, current_app
from jinja2 import BaseLoader, ChoiceLoader, Environment, TemplateNotFound
from werkzeug.utils import cached_property

from outsource_plugin.config import is_block_name

FRAME_PREFIX = "outsource/frame/"

#: ``BLOCK`` is replaced by a checked block name; nothing else of the config enters the source
FRAME_SOURCE = """{% extends config.OUTSOURCE_BASE_TEMPLATE %}
{% block BLOCK %}
{{ outsource_stylesheet() }}
{% include "outsource/_nav.html" %}
{% block outsource_content %}{% endblock %}
{% endblock %}
"""


def outsource_frame() -> str:
    """The frame's template name for this app's content block (a Jinja global)."""
    return f"{FRAME_PREFIX}{current_app.config['OUTSOURCE_CONTENT_BLOCK']}.html"


class FrameLoader(BaseLoader):
    """Serves ``outsource/frame/<block>.html`` for any block name, and no other template."""

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, None]:
        block = template.removeprefix(FRAME_PREFIX).removesuffix(".html")
        if not template.startswith(FRAME_PREFIX) or not template.endswith(".html") or not is_block_name(block):
            raise TemplateNotFound(template)
        return FRAME_SOURCE.replace("BLOCK", block), None, None


class PagesBlueprint(Blueprint):
    """A blueprint whose templates are its template folder's and the generated frames."""

    @cached_property
    def jinja_loader(self) -> BaseLoader | None:
        folder = super().jinja_loader
        return ChoiceLoader([folder, FrameLoader()]) if folder is not None else FrameLoader()
