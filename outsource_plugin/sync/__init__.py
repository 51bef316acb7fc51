"""Keeping both sides' entries and statuses in step: capture of host changes, applying partners' changes,
entry locks, backfill, reconciliation.
"""
