"""``moorage models``: the models a multi-model endpoint holds (:mod:`moorage.clients.models`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from moorage.cli.common import access, client_options


def run(args: argparse.Namespace) -> int:
    import json

    from moorage.clients.models import ModelsError, fetch_models, format_models

    found = access(args, "models")
    if found is None:
        return 1
    try:
        document = fetch_models(found, args.endpoint)
    except ModelsError as exc:
        print(f"moorage models: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"moorage models: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(document, indent=2) if args.json else format_models(document))
    return 0


def add_parser(commands: Any) -> None:
    models = commands.add_parser(
        "models",
        help="print the models a multi-model endpoint holds, per copy, and each model's "
        "invocations, cache hits, loads and unloads",
    )
    models.add_argument("endpoint", help="endpoint name")
    client_options(models)
    models.add_argument("--json", action="store_true", help="print the document as JSON")
    models.set_defaults(func=run)
