"""Litware Help Desk, the third test host: a module-level app with Flask-Login and Flask-Migrate,
ticket statuses in a table of their own and uploads on disk, mounted by docs/integrating.md."""
