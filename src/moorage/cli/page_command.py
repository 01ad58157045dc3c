"""Client commands that print one endpoint's ``/moorage/{page}/`` document.

``moorage placement`` and ``moorage models`` are each a name, a help line and
the fetch and format functions of their client module (loaded only when the
command runs, so that ``moorage --help`` stays quick); this module gives
them their shared arguments (``ENDPOINT``, the client options, ``--json``)
and their run: fetch signed, print the table or the JSON, one line on
standard error and status 1 on failure.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

from moorage.cli.common import access, client_options

Fetch = Callable[..., dict[str, Any]]
Format = Callable[[Mapping[str, Any]], str]
# Imports the command's client module: its fetch and format functions.
Load = Callable[[], tuple[Fetch, Format]]


def add_page_command(commands: Any, name: str, help_text: str, load: Load) -> None:
    parser = commands.add_parser(name, help=help_text)
    parser.add_argument("endpoint", help="endpoint name")
    client_options(parser)
    parser.add_argument("--json", action="store_true", help="print the document as JSON")
    parser.set_defaults(func=functools.partial(_run, name, load))


def _run(name: str, load: Load, args: argparse.Namespace) -> int:
    from moorage.clients.pages import PageError

    fetch, render = load()
    found = access(args, name)
    if found is None:
        return 1
    try:
        document = fetch(found, args.endpoint)
    except PageError as exc:
        print(f"moorage {name}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"moorage {name}: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(document, indent=2) if args.json else render(document))
    return 0
