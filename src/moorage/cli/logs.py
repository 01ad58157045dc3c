"""``moorage logs``: print an endpoint's (or a component's) model-server output.

A client of the server's CloudWatch Logs API (docs/logs.md), signing with
the server's key like the other client commands (:mod:`moorage.cli.common`):
it pages through FilterLogEvents from ``--since`` ago and prints one line per
event, ``<UTC time> <stream> <message>``. ``--follow`` then asks again every
second for what arrived since the last event printed, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterator
from typing import Any

from moorage.cli.common import access, client_options

_DURATION = re.compile(r"([0-9]+)([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
POLL_S = 1.0


def duration(text: str) -> int:
    """Seconds in ``30s``, ``10m``, ``2h``, ``1d`` or ``1w``."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration such as 30s, 10m, 2h, 1d or 1w"
        )
    return int(match[1]) * _UNIT_S[match[2]]


def format_event(event: dict[str, Any]) -> str:
    """``<UTC time to the millisecond> <stream> <message>``."""
    stamp = int(event["timestamp"])
    second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp // 1000))
    message = str(event.get("message", "")).rstrip("\n")
    return f"{second}.{stamp % 1000:03d}Z {event.get('logStreamName', '')} {message}"


def group_name(endpoint: str, component: str | None) -> str:
    from moorage.logs.names import component_group, endpoint_group

    return (component_group(component) if component else endpoint_group(endpoint)).name


def _pages(logs: Any, request: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    token: str | None = None
    while True:
        answer = logs.filter_log_events(**request, **({"nextToken": token} if token else {}))
        yield list(answer.get("events", []))
        token = answer.get("nextToken")
        if not token:
            return


def _print_since(logs: Any, request: dict[str, Any], seen: set[str], last: int) -> int:
    """Print the events of ``request`` not in ``seen``; the newest timestamp printed."""
    for events in _pages(logs, request):
        for event in events:
            event_id = str(event.get("eventId", ""))
            if event_id in seen:
                continue
            stamp = int(event["timestamp"])
            if stamp > last:
                # Only events at the newest time can come again in the next poll.
                seen.clear()
                last = stamp
            seen.add(event_id)
            print(format_event(event), flush=True)
    return last


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def run(args: argparse.Namespace) -> int:
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    found = access(args, "logs")
    if found is None:
        return 1
    group = group_name(args.endpoint, args.component)
    request: dict[str, Any] = {"logGroupName": group}
    if args.variant:
        request["logStreamNamePrefix"] = f"{args.variant}/"
    start = int((time.time() - args.since) * 1000)
    logs = found.client("logs", Config(retries={"max_attempts": 3}))
    seen: set[str] = set()
    last = start
    try:
        while True:
            try:
                last = _print_since(logs, {**request, "startTime": last}, seen, last)
            except ClientError as exc:
                # Following, a group that does not exist yet is waited for.
                if not args.follow or _code(exc) != "ResourceNotFoundException":
                    raise
            if not args.follow:
                break
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        return 0
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if _code(exc) == "ResourceNotFoundException":
            what = f"component {args.component}" if args.component else f"endpoint {args.endpoint}"
            print(
                f"moorage logs: {what} has no logs ({group} does not exist: no copy has "
                "started yet, or the name is wrong)",
                file=sys.stderr,
            )
        else:
            print(f"moorage logs: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"moorage logs: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    return 0


def add_parser(commands: Any) -> None:
    logs = commands.add_parser(
        "logs",
        help="print an endpoint's model-server output (CloudWatch Logs)",
        description="Print the model servers' output of an endpoint, or of one of its "
        "inference components, as '<time> <stream> <message>' lines, read from the "
        "server's CloudWatch Logs API. See docs/logs.md.",
    )
    logs.add_argument("endpoint", metavar="ENDPOINT", help="endpoint name")
    logs.add_argument(
        "--component",
        metavar="NAME",
        default=None,
        help="the inference component's output (its own log group) instead of the endpoint's",
    )
    logs.add_argument(
        "--variant", metavar="V", default=None, help="only the streams of production variant V"
    )
    logs.add_argument(
        "--since",
        type=duration,
        default=duration("10m"),
        metavar="DURATION",
        help="start this long ago: 30s, 10m, 2h, 1d, 1w (default: 10m)",
    )
    logs.add_argument(
        "--follow",
        action="store_true",
        help="keep printing new output (polled every second) until Ctrl-C",
    )
    client_options(logs)
    logs.set_defaults(func=run)
