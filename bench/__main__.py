"""``python -m bench``: run the benchmarks, print their figures and append them to BENCHMARKS.md.

Benchmark 1 (capture, then throughput) runs on every database given (SQLite
and PostgreSQL by default, since its targets name both); 2, 3, 4 and 5 run on
PostgreSQL, where their targets are set. The sizes default to the issue's;
``--quick`` (``make bench-quick``) runs them all at a tenth of the size for a
development loop. Only a default run should be quoted.
"""

from __future__ import annotations

import argparse
import time

from bench import capture, latency, scale, throughput
from bench.common import Section, append_log, commit, database_label

PARTS = ("capture", "throughput", "latency", "scale")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432", help="server URL")
    parser.add_argument("--only", nargs="*", choices=PARTS, help="benchmarks (scale runs 3, 4 and 5)")
    parser.add_argument("--quick", action="store_true", help="every size a tenth of its default")
    parser.add_argument("--engagements", type=int, help="engagements in the burst (default 200)")
    parser.add_argument("--entries", type=int, default=50, help="entries per engagement in the burst")
    parser.add_argument("--changes", type=int, help="latency sample per mode (default 1000)")
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds, for the latency runs")
    parser.add_argument("--gap", type=float, default=0.08, help="mean seconds between two latency changes")
    parser.add_argument("--sizes", type=int, nargs="+", help="idle engagements (default 100 100000 1000000)")
    parser.add_argument("--page-samples", type=int, default=100)
    parser.add_argument("--no-log", action="store_true", help="print only; do not append to BENCHMARKS.md")
    args = parser.parse_args()
    scale_down = 10 if args.quick else 1
    args.engagements = args.engagements or 200 // scale_down
    args.changes = args.changes or 1000 // scale_down
    args.sizes = args.sizes or [100, 100_000 // scale_down, 1_000_000 // scale_down]
    chosen = set(args.only or PARTS)
    started, revision = time.monotonic(), commit()
    sections: list[Section] = []
    try:
        for database in ("sqlite", args.postgres):
            if "capture" in chosen:
                print(f"1a. capture on {database_label(database)}", flush=True)
                sections.append(capture.run(database, args.engagements, args.entries))
            if "throughput" in chosen:
                print(f"1. throughput on {database_label(database)}", flush=True)
                sections.append(throughput.run(database, args.engagements, args.entries))
        if "latency" in chosen:
            print("2. latency", flush=True)
            sections.append(latency.run(args.postgres, args.changes, 4, args.poll_interval, args.gap))
        if "scale" in chosen:
            print("3-5. idle engagements at scale", flush=True)
            sections.extend(scale.run(args.postgres, args.sizes, args.page_samples))
    finally:
        # a benchmark that failed half way still leaves the figures of those that finished
        wall = time.monotonic() - started
        print(f"wall time {wall:.0f} s", flush=True)
        if not args.no_log and sections:
            databases = ["SQLite", "PostgreSQL"] if chosen & {"capture", "throughput"} else ["PostgreSQL"]
            append_log(sections, databases, wall, revision)


if __name__ == "__main__":
    main()
