"""A small but real help desk that mounts the outsourcing plugin."""

from examples.helpdesk.app import create_app

__all__ = ["create_app"]
