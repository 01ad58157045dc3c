"""``moorage credentials``: the server's key as exports or an AWS profile."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from moorage.settings import default_data_dir


def run(args: argparse.Namespace) -> int:
    from moorage.auth.keys import KeyFileError, ensure_key_file, read_key_file
    from moorage.auth.profile import ProfileError, ProfileFiles, exports, write_profile

    try:
        if args.credentials:
            key_file = Path(args.credentials).expanduser()
        else:
            data_dir = Path(args.data_dir).expanduser().resolve()
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            key_file = ensure_key_file(data_dir)
        pair = read_key_file(key_file).first
    except (KeyFileError, OSError) as exc:
        print(f"moorage credentials: {exc}", file=sys.stderr)
        return 1
    if args.write_profile is None:
        print(exports(pair, args.region, args.url if args.endpoint_urls else None))
        return 0
    files = ProfileFiles.from_environment(os.environ, Path.home())
    try:
        write_profile(files, args.write_profile, pair, args.region, args.url)
    except (ProfileError, OSError) as exc:
        print(f"moorage credentials: {exc}", file=sys.stderr)
        return 1
    print(
        f"profile {args.write_profile!r} written to {files.credentials} and {files.config}: "
        f"AWS_PROFILE={args.write_profile} points boto3, the AWS CLI and the SageMaker SDK "
        f"at {args.url}"
    )
    return 0


def add_parser(commands: Any) -> None:
    credentials = commands.add_parser(
        "credentials",
        help="print the server's access key as shell exports, or write it as an AWS profile",
        description="The key the server accepts: by default DATA_DIR/credentials (created if "
        "absent, as the server does on first start). Prints `export AWS_ACCESS_KEY_ID=... "
        "AWS_SECRET_ACCESS_KEY=... AWS_DEFAULT_REGION=...` for eval, or with --write-profile "
        "adds a profile to ~/.aws/credentials and ~/.aws/config whose services point at the "
        "server, so that AWS_PROFILE=NAME runs unchanged scripts against it. "
        "See docs/security.md.",
    )
    credentials.add_argument("--data-dir", default=str(default_data_dir()))
    credentials.add_argument(
        "--credentials", default=None, metavar="FILE", help="the file given to serve --credentials"
    )
    credentials.add_argument("--region", default="us-east-1")
    credentials.add_argument("--url", default="http://127.0.0.1:8484", help="the moorage server")
    credentials.add_argument(
        "--endpoint-urls",
        action="store_true",
        help="also print AWS_ENDPOINT_URL_<SERVICE> exports that point boto3 at --url",
    )
    credentials.add_argument(
        "--write-profile", default=None, metavar="NAME", help="write an AWS profile NAME"
    )
    credentials.set_defaults(func=run)
