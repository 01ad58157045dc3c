"""The ``moorage`` command line: one module per command.

``moorage serve`` (:mod:`moorage.cli.serve`) runs the server; ``plan``,
``placement``, ``replay``, ``shadow-report`` and ``logs`` work against a running
server, signing with its key (:mod:`moorage.cli.common`); ``credentials``
prints that key or writes it as an AWS profile. This command line is how
users, tests and benchmarks start moorage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from moorage import __version__
from moorage.cli import credentials, logs, placement, plan, replay, serve, shadow_report

COMMANDS = (serve, plan, placement, replay, shadow_report, logs, credentials)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moorage", description="Self-hosted Amazon SageMaker real-time hosting."
    )
    parser.add_argument("--version", action="version", version=f"moorage {__version__}")
    parser.add_argument(
        "--log-level", default="WARNING", help="logging level (DEBUG, INFO, WARNING, ERROR)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    code: int = args.func(args)
    return code
