"""APScheduler jobs: deliver the outbox, poll partners, expire offers."""
