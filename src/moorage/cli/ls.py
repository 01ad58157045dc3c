"""``moorage ls``: the endpoints, their status, variants and age.

The client is :mod:`moorage.clients.endpoints`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from moorage.cli.common import access, client_options, sagemaker_call


def run(args: argparse.Namespace) -> int:
    import datetime
    import json

    from moorage.clients.endpoints import format_list, list_endpoints

    found = access(args, "ls")
    if found is None:
        return 1
    endpoints = sagemaker_call("ls", args.url, lambda: list_endpoints(found.client("sagemaker")))
    if endpoints is None:
        return 1
    if args.json:
        print(json.dumps(endpoints, indent=2, default=str))
    else:
        print(format_list(endpoints, datetime.datetime.now(datetime.UTC)))
    sys.stdout.flush()
    return 0


def add_parser(commands: Any) -> None:
    ls = commands.add_parser(
        "ls",
        help="list the endpoints: status, production variants, age",
        description="List the server's endpoints (ListEndpoints, then DescribeEndpoint each): "
        "name, status, production variants with their instances now/wanted (and weights when "
        "there are several), and age. See docs/cli.md.",
    )
    client_options(ls)
    ls.add_argument("--json", action="store_true", help="print the DescribeEndpoint answers")
    ls.set_defaults(func=run)
