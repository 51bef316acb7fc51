"""The plugin's own tables: models, migrations, the outbox and secrets at rest. Imports nothing above it
but the vocabulary (workflow, errors) and the adapter registry.
"""
