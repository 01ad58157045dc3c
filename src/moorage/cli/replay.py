"""``moorage replay``: captured requests sent again (:mod:`moorage.clients.replay`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from moorage.cli.common import access, client_options, positive


def run(args: argparse.Namespace) -> int:
    import json

    from moorage.capture import CaptureReadError, read_capture
    from moorage.clients.replay import (
        ReplayError,
        ReplayReport,
        format_report,
        replay,
        runtime_client,
    )

    found = access(args, "replay")
    if found is None:
        return 1
    report = ReplayReport(args.capture, args.endpoint, args.variant, args.url)
    try:
        replay(read_capture(args.capture), runtime_client(found), report, limit=args.limit)
    except (CaptureReadError, ReplayError) as exc:
        print(f"moorage replay: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=2) if args.json else format_report(report))
    return 0


def add_parser(commands: Any) -> None:
    replay = commands.add_parser(
        "replay",
        help="send captured requests to an endpoint again and compare the answers",
        description="Read data-capture records (file://, a path or s3://; a file or a prefix), "
        "send each captured request to the endpoint through InvokeEndpoint and report how the "
        "answers differ from the captured ones, and the replay's latencies. "
        "See docs/data-capture.md.",
    )
    replay.add_argument("capture", metavar="CAPTURE_URI", help="capture file, folder or prefix")
    replay.add_argument("--endpoint", required=True, help="endpoint to send the requests to")
    replay.add_argument("--variant", default=None, help="send every request to this variant")
    client_options(replay)
    replay.add_argument(
        "--limit", type=positive, default=None, metavar="N", help="send at most N requests"
    )
    replay.add_argument("--json", action="store_true", help="print the report as JSON")
    replay.set_defaults(func=run)
