"""``moorage status ENDPOINT``: one endpoint in full (:mod:`moorage.clients.endpoints`)."""

from __future__ import annotations

import argparse
from typing import Any

from moorage.cli.common import access, client_options, sagemaker_call


def run(args: argparse.Namespace) -> int:
    import datetime
    import json

    from moorage.clients.endpoints import endpoint_status, format_status

    found = access(args, "status")
    if found is None:
        return 1
    document = sagemaker_call(
        "status",
        args.url,
        lambda: endpoint_status(
            found.client("sagemaker"), found.client("cloudwatch"), args.endpoint
        ),
    )
    if document is None:
        return 1
    if args.json:
        print(json.dumps(document, indent=2, default=str))
    else:
        print(format_status(document, datetime.datetime.now(datetime.UTC)))
    return 0


def add_parser(commands: Any) -> None:
    status = commands.add_parser(
        "status",
        help="show one endpoint: variants, instances, rollout progress, components, alarms",
        description="Show an endpoint: its status and last failure, production and shadow "
        "variants (weights and instances now/wanted), the rollout under way, its inference "
        "components (copies now/wanted) and the state of its rollback alarms. See docs/cli.md.",
    )
    status.add_argument("endpoint", metavar="ENDPOINT", help="endpoint name")
    client_options(status)
    status.add_argument("--json", action="store_true", help="print the gathered answers as JSON")
    status.set_defaults(func=run)
