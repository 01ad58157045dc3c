"""``moorage serve``: run the server in the foreground.

It prints one line with its URL once it accepts requests (tests and benchmarks
wait for it) and stops cleanly on SIGINT or SIGTERM. The options are checked
by :mod:`moorage.cli.serve_checks` before anything starts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from moorage import __version__
from moorage.cli.common import log_level_option
from moorage.cli.serve_checks import auth_settings, file_roots, http_limits, max_unpacked_size
from moorage.settings import Settings, default_data_dir

# Router processes (--workers): one per core of a large machine is the most useful.
MAX_WORKERS = 256


def run(args: argparse.Namespace) -> int:
    import uvloop

    from moorage.clients.quickdeploy import QuickDeploy, runnable
    from moorage.data_dir import DataDirError
    from moorage.fleet.images import ImageMap, ImageMapError
    from moorage.fleet.ray.cluster import RayUnavailable
    from moorage.listener import ListenError
    from moorage.routers.pool import RouterStartError
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
    if not 0 <= args.hold_queue <= 100_000:
        print("moorage serve: --hold-queue must be from 0 to 100000", file=sys.stderr)
        return 2
    if not 0 < args.hold_timeout <= 3600:
        print("moorage serve: --hold-timeout must be above 0 and at most 3600", file=sys.stderr)
        return 2
    if not 1 <= args.serverless_idle <= 86_400:
        print("moorage serve: --serverless-idle must be from 1 to 86400 seconds", file=sys.stderr)
        return 2
    if not 1 <= args.metrics_sample_interval <= 3600:
        print(
            "moorage serve: --metrics-sample-interval must be from 1 to 3600 seconds",
            file=sys.stderr,
        )
        return 2
    if not 0 < args.clock_speed <= 1_000_000:
        print("moorage serve: --clock-speed must be above 0 and at most 1000000", file=sys.stderr)
        return 2
    if args.ray_address and args.fleet != "ray":
        print("moorage serve: --ray-address needs --fleet ray", file=sys.stderr)
        return 2
    if not 0 <= args.ray_reattach_grace <= 86_400:
        print("moorage serve: --ray-reattach-grace must be from 0 to 86400", file=sys.stderr)
        return 2
    if not 0 <= args.workers <= MAX_WORKERS:
        print(f"moorage serve: --workers must be from 0 to {MAX_WORKERS}", file=sys.stderr)
        return 2
    limits = http_limits(args)
    if limits is None:
        return 2
    image_map = Path(args.image_map).expanduser().resolve() if args.image_map else None
    if image_map is not None:
        if not image_map.is_file():
            # Only the default (DATA_DIR/images.json) may be absent; a named file must exist.
            print(f"moorage serve: --image-map {args.image_map}: no such file", file=sys.stderr)
            return 2
        try:
            ImageMap.load(image_map)
        except ImageMapError as exc:
            print(f"moorage serve: {exc}", file=sys.stderr)
            return 2
    roots = file_roots(args.file_root)
    if roots is None:
        return 2
    max_unpacked = max_unpacked_size(args.max_unpacked_size)
    if max_unpacked is None:
        return 2

    auth = auth_settings(args)
    if auth is None:
        return 2
    settings = Settings(
        **auth,
        **limits,
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir).expanduser().resolve(),
        region=args.region,
        account_id=args.account_id,
        image_map_path=image_map,
        capture_flush_interval_s=args.capture_flush_interval,
        shadow_queue_size=args.shadow_queue,
        shadow_concurrency=args.shadow_concurrency,
        hold_queue_size=args.hold_queue,
        hold_timeout_s=args.hold_timeout,
        serverless_idle_s=args.serverless_idle,
        metrics_sample_interval_s=args.metrics_sample_interval,
        clock_speed=args.clock_speed,
        access_log=args.access_log,
        file_roots=roots,
        max_unpacked_bytes=max_unpacked,
        fleet=args.fleet,
        ray_address=args.ray_address,
        ray_reattach_grace_s=args.ray_reattach_grace,
        workers=args.workers,
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
            moorage = runnable("moorage")
            print(
                "requests must be signed with the key in "
                f"{settings.credentials_path or settings.data_dir / 'credentials'}: "
                f'eval "$({moorage} credentials --data-dir {settings.data_dir})" '
                f"or {moorage} credentials --write-profile moorage (docs/security.md)",
                flush=True,
            )

    try:
        uvloop.run(serve(settings, ready, deploys))
    except (DataDirError, StoreOpenError) as exc:
        # A data dir in use or a database that cannot be used: one line, no traceback.
        print(f"moorage serve: {exc}", file=sys.stderr)
        return 1
    except ListenError as exc:
        print(f"moorage serve: {exc}", file=sys.stderr)
        return 2
    except RouterStartError as exc:
        # --workers: a router process could not start (docs/workers.md).
        print(f"moorage serve: {exc}", file=sys.stderr)
        return 1
    except RayUnavailable as exc:
        # --fleet ray without Ray, or a cluster that cannot be joined (docs/ray.md).
        print(f"moorage serve: {exc}", file=sys.stderr)
        return 1
    return 0


def add_parser(commands: Any) -> None:
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
        "--fleet",
        choices=("local", "ray"),
        default="local",
        help="where copies run: local processes (default) or actors on a Ray cluster "
        "(needs moorage[ray]); see docs/ray.md",
    )
    serve.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="with --fleet ray: the cluster to join (host:port of its head; default: the "
        "cluster started on this machine with ray start)",
    )
    serve.add_argument(
        "--ray-reattach-grace",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="with --fleet ray: how long copies a previous server left running wait to be "
        "claimed before they are removed (default 60)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="run N router processes on the port, which serve invocations on as many cores "
        "while this process runs the APIs and the deployments (default 0: one process serves "
        "everything); see docs/workers.md",
    )
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
        "--hold-queue",
        type=int,
        default=64,
        metavar="N",
        help="invocations that may wait per inference component or variant while a copy "
        "starts (scale from zero); 0 fails them at once as AWS does (default 64); "
        "see docs/autoscaling.md",
    )
    serve.add_argument(
        "--hold-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="how long a held invocation waits for a copy (default 60)",
    )
    serve.add_argument(
        "--serverless-idle",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="a serverless variant's copy stops after this long without requests "
        "(server clock; default 300)",
    )
    serve.add_argument(
        "--shadow-concurrency",
        type=int,
        default=8,
        metavar="N",
        help="copied requests in flight at once per shadow variant (default 8)",
    )
    serve.add_argument(
        "--metrics-sample-interval",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="sample the copies' CPU, memory, disk and GPU utilization and requests in flight "
        "this often (default 10, from 1 to 3600); see docs/metrics-and-alarms.md",
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
    log_level_option(serve, default=argparse.SUPPRESS)
    serve.add_argument(
        "--access-log",
        action="store_true",
        help="print one line per HTTP request (client, request line, status) on the output",
    )
    serve.add_argument("--tls-cert", default=None, metavar="PEM", help="serve HTTPS: certificate")
    serve.add_argument("--tls-key", default=None, metavar="PEM", help="serve HTTPS: private key")
    serve.set_defaults(func=run)
