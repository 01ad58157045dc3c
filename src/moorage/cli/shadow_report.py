"""``moorage shadow-report``: production and shadow side by side."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from moorage.cli.common import access, client_options


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from botocore.exceptions import BotoCoreError

    from moorage.clients.shadow_report import ReportError, build_report, clients, format_report

    found = access(args, "shadow-report")
    if found is None:
        return 1
    try:
        sagemaker, cloudwatch = clients(found)
        report = build_report(sagemaker, cloudwatch, args.name, time.time())
    except ReportError as exc:
        print(f"moorage shadow-report: {exc}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"moorage shadow-report: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=2) if args.json else format_report(report))
    return 0


def add_parser(commands: Any) -> None:
    report = commands.add_parser(
        "shadow-report",
        help="compare a shadow test's production and shadow variants",
        description="Print invocations, p50/p99 model latency, errors and dropped shadow "
        "requests of the production and shadow variants side by side, read from the "
        "server's CloudWatch metrics over the experiment's time (an endpoint: its last "
        "14 days). See docs/shadow-tests.md.",
    )
    report.add_argument("name", metavar="EXPERIMENT_OR_ENDPOINT")
    client_options(report)
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(func=run)
