"""``moorage plan``: the timeline an UpdateEndpoint would follow (:mod:`moorage.clients.plan`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from moorage.cli.common import access, client_options


def run(args: argparse.Namespace) -> int:
    import json

    from moorage.clients.pages import PageError
    from moorage.clients.plan import fetch_plan
    from moorage.deploy.plan_format import format_plan

    deployment_config = None
    if args.deployment_config:
        text = args.deployment_config
        try:
            if text.startswith("@"):
                text = Path(text[1:]).expanduser().read_text()
            deployment_config = json.loads(text)
        except (OSError, ValueError) as exc:
            print(f"moorage plan: --deployment-config: {exc}", file=sys.stderr)
            return 2
    found = access(args, "plan")
    if found is None:
        return 1
    try:
        plan = fetch_plan(
            found,
            args.endpoint,
            args.config,
            deployment_config=deployment_config,
            retain_all_variant_properties=args.retain_all_variant_properties,
            retain_deployment_config=args.retain_deployment_config,
        )
    except PageError as exc:
        print(f"moorage plan: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"moorage plan: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(plan, indent=2) if args.json else format_plan(plan))
    return 0


def add_parser(commands: Any) -> None:
    plan = commands.add_parser(
        "plan", help="print the timeline an UpdateEndpoint would follow, changing nothing"
    )
    plan.add_argument("endpoint", help="endpoint name")
    plan.add_argument("config", help="the new endpoint config name")
    plan.add_argument(
        "--deployment-config", default=None, help="DeploymentConfig as JSON, or @FILE"
    )
    plan.add_argument("--retain-all-variant-properties", action="store_true")
    plan.add_argument("--retain-deployment-config", action="store_true")
    client_options(plan)
    plan.add_argument("--json", action="store_true", help="print the plan document as JSON")
    plan.set_defaults(func=run)
