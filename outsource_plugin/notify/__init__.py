"""E-mail notifications, on with ``OUTSOURCE_MAIL_ENABLED``: the plugin's signals turned into e-mail.

``compose`` decides who hears of what and renders the message; ``queue`` writes
it to the mail outbox in the transaction of the change, before it commits;
``smtp`` hands it to the mail server, called by the mail job (``jobs.mail``).
"""
