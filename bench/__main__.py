"""``python -m bench``: run the five benchmarks, print their figures and append them to BENCHMARKS.md.

Benchmark 1 runs on every database given (SQLite and PostgreSQL by default,
since its target names both); 2, 3 and 4 run on PostgreSQL, where their
targets are set. The sizes default to the issue's and can be scaled down for
a quick look (``--engagements 20 --entries 10``); only a default run should be
quoted.
"""

from __future__ import annotations

import argparse
import time

from bench import latency, scale, throughput
from bench.common import Section, append_log, commit, database_label


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432", help="server URL")
    parser.add_argument("--only", nargs="*", type=int, choices=(1, 2, 3), help="benchmarks (3 also runs 4 and 5b)")
    parser.add_argument("--engagements", type=int, default=200)
    parser.add_argument("--entries", type=int, default=50, help="entries per engagement in the burst")
    parser.add_argument("--changes", type=int, default=1000, help="latency sample per mode")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds, for the latency runs")
    parser.add_argument("--gap", type=float, default=0.08, help="mean seconds between two latency changes")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000, 100_000])
    parser.add_argument("--page-samples", type=int, default=100)
    parser.add_argument("--no-log", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()
    chosen = set(args.only or (1, 2, 3))
    started, revision = time.monotonic(), commit()
    sections: list[Section] = []
    try:
        if 1 in chosen:
            for database in ("sqlite", args.postgres):
                print(f"1. throughput on {database_label(database)}", flush=True)
                sections.append(throughput.run(database, args.engagements, args.entries))
        if 2 in chosen:
            print("2. latency", flush=True)
            sections.append(latency.run(args.postgres, args.changes, 4, args.poll_interval, args.gap))
        if 3 in chosen:
            print("3-5. idle engagements at scale", flush=True)
            sections.extend(scale.run(args.postgres, args.sizes, args.page_samples))
    finally:
        # a benchmark that failed half way still leaves the figures of those that finished
        wall = time.monotonic() - started
        print(f"wall time {wall:.0f} s", flush=True)
        if not args.no_log and sections:
            databases = ["SQLite", "PostgreSQL"] if 1 in chosen else ["PostgreSQL"]
            append_log(sections, databases, wall, revision)


if __name__ == "__main__":
    main()
