"""What the client commands share: the server's URL and the key to sign with."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from moorage.settings import default_data_dir

if TYPE_CHECKING:
    from moorage.auth.signing import Access


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
