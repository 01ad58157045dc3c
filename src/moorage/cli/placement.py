"""``moorage placement``: where an endpoint's copies run (:mod:`moorage.clients.placement`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from moorage.cli.common import access, client_options


def run(args: argparse.Namespace) -> int:
    import json

    from moorage.clients.placement import PlacementError, fetch_placement, format_placement

    found = access(args, "placement")
    if found is None:
        return 1
    try:
        document = fetch_placement(found, args.endpoint)
    except PlacementError as exc:
        print(f"moorage placement: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"moorage placement: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(document, indent=2) if args.json else format_placement(document))
    return 0


def add_parser(commands: Any) -> None:
    placement = commands.add_parser(
        "placement",
        help="print where an endpoint's inference-component copies run and the capacity left",
    )
    placement.add_argument("endpoint", help="endpoint name")
    client_options(placement)
    placement.add_argument("--json", action="store_true", help="print the document as JSON")
    placement.set_defaults(func=run)
