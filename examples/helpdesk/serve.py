"""``python -m examples.helpdesk.serve``: one demo help desk under waitress, a production WSGI server.

Werkzeug's development server is for a developer's own machine: it announces
its version and is not built to face a network. The demo serves each help
desk the way the README tells a host to serve the plugin.
"""

from __future__ import annotations

import argparse

from waitress import serve

from examples.helpdesk import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    # ident="": no Server header naming the server and its version
    serve(create_app(), host=args.host, port=args.port, threads=args.threads, ident="")


if __name__ == "__main__":
    main()
