"""The checks of ``moorage serve``'s options.

Each turns its options into Settings fields, or prints one
``moorage serve: ...`` line and gives None.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def max_unpacked_size(text: str) -> int | None:
    """The --max-unpacked-size in bytes; None (and a line) if it is not a usable size."""
    from moorage.sizes import SizeError, parse_size

    try:
        size = parse_size(text)
    except SizeError as exc:
        print(f"moorage serve: --max-unpacked-size: {exc}", file=sys.stderr)
        return None
    if size < 1024:
        print("moorage serve: --max-unpacked-size must be at least 1K", file=sys.stderr)
        return None
    return size


def http_limits(args: argparse.Namespace) -> dict[str, Any] | None:
    """The options bounding what a client may hold on the port; None (and a line) if unusable.

    Raises the open-file limit first, as far as allowed, so that the
    connection cap can be checked against it (docs/limits.md).
    """
    from moorage.http_limits import (
        CONTROL_RESERVE,
        DEFAULT_MAX_CONNECTIONS,
        connections_that_fit,
        raise_open_files_limit,
    )
    from moorage.sizes import SizeError, parse_size

    try:
        header_bytes = parse_size(args.max_header_size)
    except SizeError as exc:
        print(f"moorage serve: --max-header-size: {exc}", file=sys.stderr)
        return None
    if not 1024 <= header_bytes <= 1024 * 1024:
        print("moorage serve: --max-header-size must be from 1K to 1M", file=sys.stderr)
        return None
    timeouts = {
        "--header-timeout": args.header_timeout,
        "--body-timeout": args.body_timeout,
        "--keep-alive-timeout": args.keep_alive_timeout,
    }
    for flag, seconds in timeouts.items():
        if not 1 <= seconds <= 3600:
            print(f"moorage serve: {flag} must be from 1 to 3600 seconds", file=sys.stderr)
            return None
    open_files = raise_open_files_limit()
    fit = connections_that_fit(open_files, CONTROL_RESERVE)
    max_connections = args.max_connections
    if max_connections is None:
        max_connections = min(DEFAULT_MAX_CONNECTIONS, fit)
    if fit < 1:
        print(
            f"moorage serve: the open-file limit ({open_files}) leaves no room for "
            "connections; raise it with ulimit -n",
            file=sys.stderr,
        )
        return None
    if not 1 <= max_connections <= fit:
        print(
            f"moorage serve: --max-connections must be from 1 to {fit} with the open-file "
            f"limit of {open_files} (ulimit -n; see docs/limits.md)",
            file=sys.stderr,
        )
        return None
    return {
        "max_header_bytes": header_bytes,
        "header_timeout_s": args.header_timeout,
        "body_timeout_s": args.body_timeout,
        "keep_alive_timeout_s": args.keep_alive_timeout,
        "max_connections": max_connections,
    }


def file_roots(values: list[str]) -> tuple[Path, ...] | None:
    """The --file-root directories, resolved; None (and a line) if one is not a directory."""
    roots: list[Path] = []
    for value in values:
        path = Path(value).expanduser().resolve()
        if not path.is_dir():
            print(f"moorage serve: --file-root {value}: not a directory", file=sys.stderr)
            return None
        roots.append(path)
    return tuple(roots)


def auth_settings(args: argparse.Namespace) -> dict[str, Any] | None:
    """The serve options about who may call the API, checked; None (and a line) if unusable."""
    from moorage.auth.browser import is_loopback
    from moorage.auth.keys import KeyFileError, read_key_file

    if args.auth == "none" and not is_loopback(args.host):
        print(
            f"moorage serve: --auth none is refused on {args.host}: it is allowed only on a "
            "loopback address (127.0.0.1, ::1); elsewhere requests must be signed",
            file=sys.stderr,
        )
        return None
    credentials = Path(args.credentials).expanduser().resolve() if args.credentials else None
    if credentials is not None:
        try:
            read_key_file(credentials)
        except KeyFileError as exc:
            print(f"moorage serve: --credentials: {exc}", file=sys.stderr)
            return None
    if (args.tls_cert is None) != (args.tls_key is None):
        print("moorage serve: --tls-cert and --tls-key go together", file=sys.stderr)
        return None
    tls: dict[str, Path | None] = {"tls_cert": None, "tls_key": None}
    for name in ("tls_cert", "tls_key"):
        value = getattr(args, name)
        if value is None:
            continue
        path = Path(value).expanduser().resolve()
        if not os.access(path, os.R_OK) or not path.is_file():
            flag = "--" + name.replace("_", "-")
            print(f"moorage serve: {flag}: cannot read {path}", file=sys.stderr)
            return None
        tls[name] = path
    return {
        "auth": args.auth,
        "credentials_path": credentials,
        "allowed_hosts": tuple(args.allowed_host),
        "allowed_origins": tuple(args.allowed_origin),
        "private_metrics": args.private_metrics,
        **tls,
    }
