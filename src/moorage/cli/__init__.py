"""The ``moorage`` command line: one module per command.

``moorage serve`` (:mod:`moorage.cli.serve`) runs the server; ``ls``,
``status``, ``wait``, ``logs``, ``plan``, ``placement``, ``models``,
``replay`` and ``shadow-report`` work against a running server, signing with
its key (:mod:`moorage.cli.common`), through the clients of
:mod:`moorage.clients`; ``credentials``
prints that key or writes it as an AWS profile. This command line is how
users, tests and benchmarks start moorage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from moorage import __version__, console
from moorage.cli import (
    credentials,
    logs,
    ls,
    models,
    placement,
    plan,
    replay,
    serve,
    shadow_report,
    status,
    wait,
)
from moorage.cli.common import log_level_option, quiet_broken_pipe

COMMANDS = (
    serve,
    ls,
    status,
    wait,
    logs,
    plan,
    placement,
    models,
    replay,
    shadow_report,
    credentials,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moorage", description="Self-hosted Amazon SageMaker real-time hosting."
    )
    parser.add_argument("--version", action="version", version=f"moorage {__version__}")
    log_level_option(parser, default=None)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The server prints its lifecycle events (INFO) unless told otherwise; clients only problems.
    level = args.log_level or ("INFO" if args.command == "serve" else "WARNING")
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "serve":
        console.configure(logging.getLevelName(level), sys.stdout)
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``moorage plan ... | head``): stop quietly.
        quiet_broken_pipe()
        return 0
    return code
