"""Becoming partners by invitation: the inviting side (``invitations``) and the joining side (``joining``).

It stands above the core (it registers partners through ``core.partners``) and
the federation rules (the handshake), as the sync layer does, beside it.
"""
