"""``moorage wait ENDPOINT``: a progress line until the endpoint is InService or has failed.

It asks DescribeEndpoint every second and shows the status, the time waited
and where each variant stands (the rollout's variants during an update):
rewritten in place on a terminal, a new line only when something changes
otherwise. Exit status: 0 InService; 1 Failed, UpdateRollbackFailed, an
update rolled back while waiting (the endpoint is InService again on its old
config, with a FailureReason), deleted, or not found; 3 ``--timeout`` passed.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from moorage.cli.common import access, client_options
from moorage.cli.logs import duration

POLL_S = 1.0
TIMED_OUT = 3
_FAILED = ("Failed", "UpdateRollbackFailed")


class _Line:
    """The progress line: in place on a terminal, one line per change elsewhere."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.last = ""
        self.width = 0

    def show(self, text: str, key: str) -> None:
        if self.tty:
            sys.stdout.write("\r" + text.ljust(self.width))
            self.width = len(text)
            sys.stdout.flush()
        elif key != self.last:
            print(text, flush=True)
        self.last = key

    def end(self) -> None:
        if self.tty and self.width:
            sys.stdout.write("\n")
            sys.stdout.flush()


def _describe(sagemaker: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        answer: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationException":
            return None  # AWS's answer for an endpoint that does not exist
        raise
    return answer


def watch(sagemaker: Any, name: str, timeout_s: float) -> int:
    from moorage.clients.endpoints import progress

    started = time.monotonic()
    line = _Line()
    first_reason: str | None = None
    rolled_back = False
    seen = False
    try:
        while True:
            endpoint = _describe(sagemaker, name)
            waited = time.monotonic() - started
            if endpoint is None:
                line.end()
                what = "was deleted" if seen else "does not exist"
                print(f"moorage wait: endpoint {name} {what}", file=sys.stderr)
                return 1
            status = str(endpoint["EndpointStatus"])
            reason = endpoint.get("FailureReason")
            if not seen:
                first_reason, seen = reason, True
            rolled_back = rolled_back or status == "RollingBack"
            text = progress(endpoint, waited)
            line.show(text, text.replace(f" {_age(waited)}", "", 1))
            if status == "InService":
                line.end()
                if rolled_back or (reason and reason != first_reason):
                    print(f"moorage wait: endpoint {name} rolled back: {reason}", file=sys.stderr)
                    return 1
                return 0
            if status in _FAILED:
                line.end()
                print(f"moorage wait: endpoint {name} is {status}: {reason}", file=sys.stderr)
                return 1
            if waited >= timeout_s:
                line.end()
                print(
                    f"moorage wait: endpoint {name} is still {status} after {_age(waited)}",
                    file=sys.stderr,
                )
                return TIMED_OUT
            time.sleep(min(POLL_S, max(0.0, timeout_s - waited)))
    except KeyboardInterrupt:
        line.end()
        return 130


def _age(seconds: float) -> str:
    from moorage.clients.endpoints import age

    return age(seconds)


def run(args: argparse.Namespace) -> int:
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    found = access(args, "wait")
    if found is None:
        return 1
    try:
        return watch(
            found.client("sagemaker", Config(retries={"max_attempts": 3})),
            args.endpoint,
            args.timeout,
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"moorage wait: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
    except BotoCoreError as exc:
        print(f"moorage wait: cannot reach {args.url}: {exc}", file=sys.stderr)
    return 1


def add_parser(commands: Any) -> None:
    wait = commands.add_parser(
        "wait",
        help="show a progress line until an endpoint is InService (exit 0) or failed (exit 1)",
        description="Follow an endpoint's status with a progress line until it is InService "
        "(exit status 0) or Failed, UpdateRollbackFailed, rolled back or deleted (1); 3 when "
        "--timeout passes first. See docs/cli.md.",
    )
    wait.add_argument("endpoint", metavar="ENDPOINT", help="endpoint name")
    wait.add_argument(
        "--timeout",
        type=duration,
        default=duration("1h"),
        metavar="DURATION",
        help="give up after this long: 30s, 10m, 2h (default: 1h)",
    )
    client_options(wait)
    wait.set_defaults(func=run)
