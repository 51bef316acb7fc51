"""Running it: sync health, Prometheus metrics and structured log context."""
