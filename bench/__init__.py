"""Benchmarks: ``make bench`` or ``python -m bench``; figures are appended to BENCHMARKS.md."""
