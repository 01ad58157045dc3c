"""The ``moorage`` command line.

``moorage serve`` runs the server in the foreground; it prints one line with
its URL once it accepts requests and stops cleanly on SIGINT or SIGTERM.
This command line is how users, tests and benchmarks start moorage.
``moorage plan`` (:mod:`moorage.plan_client`) and ``moorage replay``
(:mod:`moorage.replay`) work against a running server.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moorage import __version__
from moorage.settings import Settings, default_data_dir

if TYPE_CHECKING:
    from moorage.auth.signing import Access


def _serve(args: argparse.Namespace) -> int:
    import uvloop

    from moorage.data_dir import DataDirError
    from moorage.fleet.images import ImageMap, ImageMapError
    from moorage.quickdeploy import QuickDeploy
    from moorage.server import serve
    from moorage.store.sqlite import StoreOpenError

    try:
        deploys = tuple(QuickDeploy.parse(item) for item in args.deploy)
    except ValueError as exc:
        print(f"moorage serve: --deploy: {exc}", file=sys.stderr)
        return 2
    if not 0 < args.capture_flush_interval <= 3600:
        print(
            "moorage serve: --capture-flush-interval must be above 0 and at most 3600 seconds",
            file=sys.stderr,
        )
        return 2
    if not 1 <= args.shadow_queue <= 1_000_000:
        print("moorage serve: --shadow-queue must be from 1 to 1000000", file=sys.stderr)
        return 2
    if not 1 <= args.shadow_concurrency <= 1024:
        print("moorage serve: --shadow-concurrency must be from 1 to 1024", file=sys.stderr)
        return 2
    if not 0 < args.clock_speed <= 1_000_000:
        print("moorage serve: --clock-speed must be above 0 and at most 1000000", file=sys.stderr)
        return 2
    http_limits = _http_limits(args)
    if http_limits is None:
        return 2
    image_map = Path(args.image_map).expanduser().resolve() if args.image_map else None
    if image_map is not None:
        try:
            ImageMap.load(image_map)
        except ImageMapError as exc:
            print(f"moorage serve: {exc}", file=sys.stderr)
            return 2
    file_roots = _file_roots(args.file_root)
    if file_roots is None:
        return 2
    max_unpacked = _max_unpacked_size(args.max_unpacked_size)
    if max_unpacked is None:
        return 2

    auth = _auth_settings(args)
    if auth is None:
        return 2
    settings = Settings(
        **auth,
        **http_limits,
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir).expanduser().resolve(),
        region=args.region,
        account_id=args.account_id,
        image_map_path=image_map,
        capture_flush_interval_s=args.capture_flush_interval,
        shadow_queue_size=args.shadow_queue,
        shadow_concurrency=args.shadow_concurrency,
        clock_speed=args.clock_speed,
        file_roots=file_roots,
        max_unpacked_bytes=max_unpacked,
    )

    def ready(url: str) -> None:
        print(f"moorage {__version__} listening on {url} (data in {settings.data_dir})", flush=True)
        if settings.auth == "none":
            print(
                "warning: --auth none: any local process can use this server's API and run "
                "code as this user; only web pages are kept out",
                flush=True,
            )
        else:
            print(
                "requests must be signed with the key in "
                f"{settings.credentials_path or settings.data_dir / 'credentials'}: "
                f"eval $(moorage credentials --data-dir {settings.data_dir}) "
                "or moorage credentials --write-profile moorage (docs/security.md)",
                flush=True,
            )

    try:
        uvloop.run(serve(settings, ready, deploys))
    except (DataDirError, StoreOpenError) as exc:
        # A data dir in use or a database that cannot be used: one line, no traceback.
        print(f"moorage serve: {exc}", file=sys.stderr)
        return 1
    return 0


def _max_unpacked_size(text: str) -> int | None:
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


def _http_limits(args: argparse.Namespace) -> dict[str, Any] | None:
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


def _file_roots(values: list[str]) -> tuple[Path, ...] | None:
    """The --file-root directories, resolved; None (and a line) if one is not a directory."""
    roots: list[Path] = []
    for value in values:
        path = Path(value).expanduser().resolve()
        if not path.is_dir():
            print(f"moorage serve: --file-root {value}: not a directory", file=sys.stderr)
            return None
        roots.append(path)
    return tuple(roots)


def _auth_settings(args: argparse.Namespace) -> dict[str, Any] | None:
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


def _plan(args: argparse.Namespace) -> int:
    import json

    from moorage.deploy.plan_format import format_plan
    from moorage.plan_client import PlanError, fetch_plan

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
    access = _access(args, "plan")
    if access is None:
        return 1
    try:
        plan = fetch_plan(
            access,
            args.endpoint,
            args.config,
            deployment_config=deployment_config,
            retain_all_variant_properties=args.retain_all_variant_properties,
            retain_deployment_config=args.retain_deployment_config,
        )
    except PlanError as exc:
        print(f"moorage plan: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"moorage plan: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(plan, indent=2) if args.json else format_plan(plan))
    return 0


def _replay(args: argparse.Namespace) -> int:
    import json

    from moorage.capture import CaptureReadError, read_capture
    from moorage.replay import ReplayError, ReplayReport, format_report, replay, runtime_client

    access = _access(args, "replay")
    if access is None:
        return 1
    report = ReplayReport(args.capture, args.endpoint, args.variant, args.url)
    try:
        replay(read_capture(args.capture), runtime_client(access), report, limit=args.limit)
    except (CaptureReadError, ReplayError) as exc:
        print(f"moorage replay: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=2) if args.json else format_report(report))
    return 0


def _shadow_report(args: argparse.Namespace) -> int:
    import json
    import time

    from botocore.exceptions import BotoCoreError

    from moorage.shadow_report import ReportError, build_report, clients, format_report

    access = _access(args, "shadow-report")
    if access is None:
        return 1
    try:
        sagemaker, cloudwatch = clients(access)
        report = build_report(sagemaker, cloudwatch, args.name, time.time())
    except ReportError as exc:
        print(f"moorage shadow-report: {exc}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"moorage shadow-report: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=2) if args.json else format_report(report))
    return 0


def _access(args: argparse.Namespace, command: str) -> Access | None:
    """The URL, key and region a client command signs with; None (and a line) if none."""
    from moorage.auth.signing import AccessError, resolve_access

    try:
        return resolve_access(args.url, Path(args.data_dir).expanduser(), args.region)
    except AccessError as exc:
        print(f"moorage {command}: {exc}", file=sys.stderr)
        return None


def _client_options(parser: argparse.ArgumentParser) -> None:
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


def _credentials(args: argparse.Namespace) -> int:
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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def _placement(args: argparse.Namespace) -> int:
    import json

    from moorage.placement_client import PlacementError, fetch_placement, format_placement

    access = _access(args, "placement")
    if access is None:
        return 1
    try:
        document = fetch_placement(access, args.endpoint)
    except PlacementError as exc:
        print(f"moorage placement: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"moorage placement: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(document, indent=2) if args.json else format_placement(document))
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
    serve.add_argument(
        "--clock-speed",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="run the server's clock FACTOR times faster than real time, to try out "
        "schedules (inference experiments, bake periods); see docs/shadow-tests.md",
    )
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
    serve.add_argument(
        "--capture-flush-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="write captured data at least this often (default 5); see docs/data-capture.md",
    )
    serve.add_argument(
        "--shadow-queue",
        type=int,
        default=256,
        metavar="N",
        help="copied requests that may wait per shadow variant before more are dropped "
        "(default 256); see docs/shadow-tests.md",
    )
    serve.add_argument(
        "--shadow-concurrency",
        type=int,
        default=8,
        metavar="N",
        help="copied requests in flight at once per shadow variant (default 8)",
    )
    serve.add_argument(
        "--max-header-size",
        default="64K",
        metavar="SIZE",
        help="largest request line plus headers; larger heads are answered 431 "
        "(default 64K); see docs/limits.md",
    )
    serve.add_argument(
        "--header-timeout",
        type=int,
        default=30,
        metavar="SECONDS",
        help="close a connection whose request line and headers take longer (default 30)",
    )
    serve.add_argument(
        "--body-timeout",
        type=int,
        default=30,
        metavar="SECONDS",
        help="abandon a request whose body stops arriving this long (default 30)",
    )
    serve.add_argument(
        "--keep-alive-timeout",
        type=int,
        default=75,
        metavar="SECONDS",
        help="close a connection idle this long between requests (default 75)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=None,
        metavar="N",
        help="connections open at once (default 1024, less if the open-file limit is low); "
        "past N, idle ones are closed first, then only health checks and control-plane "
        "calls are served",
    )
    serve.add_argument(
        "--file-root",
        action="append",
        default=[],
        metavar="DIR",
        help="allow file:// and local paths in requests (model data, code, capture "
        "destinations, loader variables) only under DIR; repeatable (default: anywhere); "
        "see docs/artifacts.md",
    )
    serve.add_argument(
        "--auth",
        choices=("sigv4", "none"),
        default="sigv4",
        help="sigv4 (default): every request must carry an AWS SigV4 signature made with the "
        "server's key; none: accept unsigned requests (loopback addresses only)",
    )
    serve.add_argument(
        "--credentials",
        default=None,
        metavar="FILE",
        help="accept the keys of this AWS shared-credentials file (every section) instead of "
        "DATA_DIR/credentials",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to host NAME (beyond loopback names and IP "
        "addresses; '*' for any); repeatable",
    )
    serve.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="accept requests from web pages of ORIGIN (e.g. https://notebook.example:8888); "
        "repeatable",
    )
    serve.add_argument(
        "--private-metrics",
        action="store_true",
        help="require a signature on GET /metrics too (by default Prometheus may scrape it)",
    )
    serve.add_argument(
        "--max-unpacked-size",
        default="20G",
        metavar="SIZE",
        help="the most one model's data may unpack to on disk, e.g. 512M or 200G (default 20G; "
        "K, M, G, T are powers of 1024); larger artifacts fail with a FailureReason that "
        "says so; see docs/artifacts.md",
    )
    serve.add_argument("--tls-cert", default=None, metavar="PEM", help="serve HTTPS: certificate")
    serve.add_argument("--tls-key", default=None, metavar="PEM", help="serve HTTPS: private key")
    serve.set_defaults(func=_serve)

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
    _client_options(plan)
    plan.add_argument("--json", action="store_true", help="print the plan document as JSON")
    plan.set_defaults(func=_plan)

    placement = commands.add_parser(
        "placement",
        help="print where an endpoint's inference-component copies run and the capacity left",
    )
    placement.add_argument("endpoint", help="endpoint name")
    _client_options(placement)
    placement.add_argument("--json", action="store_true", help="print the document as JSON")
    placement.set_defaults(func=_placement)

    replay = commands.add_parser(
        "replay",
        help="send captured requests to an endpoint again and compare the answers",
        description="Read data-capture records (file://, a path or s3://; a file or a prefix), "
        "send each captured request to the endpoint through InvokeEndpoint and report how the "
        "answers differ from the captured ones, and the replay's latencies. "
        "See docs/data-capture.md.",
    )
    replay.add_argument("capture", metavar="CAPTURE_URI", help="capture file, folder or prefix")
    replay.add_argument("--endpoint", required=True, help="endpoint to send the requests to")
    replay.add_argument("--variant", default=None, help="send every request to this variant")
    _client_options(replay)
    replay.add_argument(
        "--limit", type=_positive, default=None, metavar="N", help="send at most N requests"
    )
    replay.add_argument("--json", action="store_true", help="print the report as JSON")
    replay.set_defaults(func=_replay)

    report = commands.add_parser(
        "shadow-report",
        help="compare a shadow test's production and shadow variants",
        description="Print invocations, p50/p99 model latency, errors and dropped shadow "
        "requests of the production and shadow variants side by side, read from the "
        "server's CloudWatch metrics over the experiment's time (an endpoint: its last "
        "14 days). See docs/shadow-tests.md.",
    )
    report.add_argument("name", metavar="EXPERIMENT_OR_ENDPOINT")
    _client_options(report)
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(func=_shadow_report)

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
    credentials.set_defaults(func=_credentials)
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
