"""The ``moorage`` command line.

``moorage serve`` runs the server in the foreground; it prints one line with
its URL once it accepts requests and stops cleanly on SIGINT or SIGTERM.
This command line is how users, tests and benchmarks start moorage.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from moorage import __version__
from moorage.settings import Settings, default_data_dir


def _serve(args: argparse.Namespace) -> int:
    import uvloop

    from moorage.fleet.images import ImageMap, ImageMapError
    from moorage.quickdeploy import QuickDeploy
    from moorage.server import serve

    try:
        deploys = tuple(QuickDeploy.parse(item) for item in args.deploy)
    except ValueError as exc:
        print(f"moorage serve: --deploy: {exc}", file=sys.stderr)
        return 2
    image_map = Path(args.image_map).expanduser().resolve() if args.image_map else None
    if image_map is not None:
        try:
            ImageMap.load(image_map)
        except ImageMapError as exc:
            print(f"moorage serve: {exc}", file=sys.stderr)
            return 2

    settings = Settings(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir).expanduser().resolve(),
        region=args.region,
        account_id=args.account_id,
        image_map_path=image_map,
    )

    def ready(url: str) -> None:
        print(f"moorage {__version__} listening on {url} (data in {settings.data_dir})", flush=True)

    uvloop.run(serve(settings, ready, deploys))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="moorage", description="Self-hosted Amazon SageMaker real-time hosting."
    )
    parser.add_argument("--version", action="version", version=f"moorage {__version__}")
    parser.add_argument(
        "--log-level", default="WARNING", help="logging level (DEBUG, INFO, WARNING, ERROR)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server in the foreground")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8484, help="0 picks a free port")
    serve.add_argument("--data-dir", default=str(default_data_dir()))
    serve.add_argument("--region", default="us-east-1")
    serve.add_argument("--account-id", default="123456789012")
    serve.add_argument(
        "--image-map",
        default=None,
        help="image map file (default: DATA_DIR/images.json); see docs/images.md",
    )
    serve.add_argument(
        "--deploy",
        action="append",
        default=[],
        metavar="NAME=ARTIFACT",
        help="create (if absent) a model, endpoint config and endpoint NAME serving ARTIFACT "
        "(a model.tar.gz path or URL); repeatable",
    )
    serve.set_defaults(func=_serve)
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


if __name__ == "__main__":
    sys.exit(main())
