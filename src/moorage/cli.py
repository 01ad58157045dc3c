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
        capture_flush_interval_s=args.capture_flush_interval,
        shadow_queue_size=args.shadow_queue,
        shadow_concurrency=args.shadow_concurrency,
        clock_speed=args.clock_speed,
    )

    def ready(url: str) -> None:
        print(f"moorage {__version__} listening on {url} (data in {settings.data_dir})", flush=True)

    uvloop.run(serve(settings, ready, deploys))
    return 0


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
    try:
        plan = fetch_plan(
            args.url,
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

    report = ReplayReport(args.capture, args.endpoint, args.variant, args.url)
    try:
        replay(read_capture(args.capture), runtime_client(args.url), report, limit=args.limit)
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

    try:
        sagemaker, cloudwatch = clients(args.url)
        report = build_report(sagemaker, cloudwatch, args.name, time.time())
    except ReportError as exc:
        print(f"moorage shadow-report: {exc}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"moorage shadow-report: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_json(), indent=2) if args.json else format_report(report))
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


def _placement(args: argparse.Namespace) -> int:
    import json

    from moorage.placement_client import PlacementError, fetch_placement, format_placement

    try:
        document = fetch_placement(args.url, args.endpoint)
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
    plan.add_argument("--url", default="http://127.0.0.1:8484", help="the moorage server")
    plan.add_argument("--json", action="store_true", help="print the plan document as JSON")
    plan.set_defaults(func=_plan)

    placement = commands.add_parser(
        "placement",
        help="print where an endpoint's inference-component copies run and the capacity left",
    )
    placement.add_argument("endpoint", help="endpoint name")
    placement.add_argument("--url", default="http://127.0.0.1:8484", help="the moorage server")
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
    replay.add_argument("--url", default="http://127.0.0.1:8484", help="the moorage server")
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
    report.add_argument("--url", default="http://127.0.0.1:8484", help="the moorage server")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(func=_shadow_report)
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
