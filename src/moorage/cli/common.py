"""What the client commands share: the server's URL and the key to sign with."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from moorage.settings import default_data_dir

if TYPE_CHECKING:
    from moorage.auth.signing import Access

T = TypeVar("T")


def access(args: argparse.Namespace, command: str) -> Access | None:
    """The URL, key and region a client command signs with; None (and a line) if none."""
    from moorage.auth.signing import AccessError, resolve_access

    try:
        return resolve_access(args.url, Path(args.data_dir).expanduser(), args.region)
    except AccessError as exc:
        print(f"moorage {command}: {exc}", file=sys.stderr)
        return None


def client_options(parser: argparse.ArgumentParser) -> None:
    """Where a client command finds the server and the key to sign with."""
    parser.add_argument("--url", default="http://127.0.0.1:8484", help="the moorage server")
    parser.add_argument(
        "--data-dir",
        default=str(default_data_dir()),
        help="the server's data dir, whose credentials file holds the key to sign with "
        "(when it has none: AWS_ACCESS_KEY_ID/AWS_PROFILE as boto3 finds them)",
    )
    parser.add_argument(
        "--region",
        default=None,
        help="the server's region (default: AWS_DEFAULT_REGION or us-east-1)",
    )


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(LOG_LEVELS)}")
    return level


def log_level_option(parser: argparse.ArgumentParser, default: object) -> None:
    """``--log-level``: accepted before the command and (for serve) after it."""
    parser.add_argument(
        "--log-level",
        type=_log_level,
        default=default,
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default: INFO for serve, which prints "
        "one line per lifecycle event at INFO; WARNING for the other commands)",
    )


def quiet_broken_pipe() -> None:
    """After the reader of standard output went away: drop what is left to write, quietly."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def sagemaker_call(command: str, url: str, call: Callable[[], T]) -> T | None:
    """``call()``; None (and one line) if the server refused it or could not be reached."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"moorage {command}: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
    except BotoCoreError as exc:
        print(f"moorage {command}: cannot reach {url}: {exc}", file=sys.stderr)
    return None
