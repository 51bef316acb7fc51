"""Fabrikam Service Desk: a second, differently shaped help desk that mounts the plugin
by following docs/integrating.md literally, and its cross-host tests."""
