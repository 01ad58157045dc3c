"""Benchmark: shadow variants' cost on production InvokeEndpoint, vs no shadow.

Run with ``.venv/bin/python bench/shadow.py`` (``--write`` also puts the
tables into ``docs/benchmarks.md``). It starts ``moorage serve`` on a free
port in a temporary data dir and deploys the router benchmark's no-op model
(``bench/router.py``: ``transform_fn`` returns a constant) as the production
variant of four one-instance endpoints that differ only in their config's
``ShadowProductionVariants``:

- ``off``: no shadow;
- ``control``: the same as ``off``, to show the noise floor: two identical
  endpoints measured side by side differ by this much;
- ``shadow``: a shadow variant of weight 1.0 beside production's 1.0 (every
  request copied) whose model sleeps ``--shadow-sleep`` seconds (1 by
  default) per request: the shadow takes 8 copies a second at most, its
  queue (256) fills at once and nearly every copy is dropped;
- ``shadow-fast``: the same with the no-op model as the shadow (left out
  with ``--no-fast``): a shadow that keeps up as far as its 8 copies in
  flight allow, so (nearly) every copy is sent, which is what mirroring
  really costs.

All four are driven with the router benchmark's load generator and
method: ``--rounds`` rounds after a warm-up, each round sending
``--requests`` requests to each endpoint back to back; latencies of all
rounds pooled for p50/p99, requests per second the median round, and each
endpoint's ratio to ``off`` the median of the rounds' ratios (with its
range). Only production answers are timed: the caller never waits on a
shadow. The order changes from round to round so that each endpoint takes
each place and comes right after each other endpoint equally often
(:func:`round_orders`): with one order and its reverse, as the router
benchmark alternates two targets, the slow shadow's round would always
follow or precede the fast shadow's, whose work can spill past its pause.

Copies are sent to the shadow by tasks of the server's event loop after the
production answer, so part of their cost lands after a round's last answer.
Each round is followed by an idle pause (``--pause``, 0.25 s) in which the
fast shadow's queue drains, and the CPU time of the server process and of
the model servers (all threads, ``/proc/<pid>/task/*/schedstat``, as
``bench/capture.py`` reads it) is read around each round plus its pause and
reported per production request.

The shadows' counts come from the server's ``/metrics`` page after each
concurrency level (and a short wait for the fast shadow to drain): the
shadow variant's ``Invocations`` (copies sent and answered) and
``ShadowRequestsDropped``, with the production variant's ``Invocations`` as
a check that every request sent was counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from capture import Comparison, Measured, comparisons, process_cpu_s
from router import (
    DOC,
    IMAGE,
    ROLE,
    OtherLoad,
    Result,
    Server,
    Target,
    _with_descendants,
    add_model_sleep_option,
    client,
    machine,
    phase,
    warn_if_loaded,
    write_doc,
    write_model,
    write_production_model,
    write_sleeping_model,
)

# "control" is configured exactly as "off": how far two identical endpoints differ
# in one run is the noise floor of the comparisons.
ENDPOINTS = {
    "off": "bench-shadow-off",
    "control": "bench-shadow-control",
    "shadow": "bench-shadow-slow",
    "shadow-fast": "bench-shadow-fast",
}
# The shadow's model for each endpoint that has one.
SHADOW_MODEL = {"shadow": "bench-shadow-sleeps", "shadow-fast": "bench-shadow-noop"}
PRODUCTION, SHADOW = "Prod", "Shadow"
BEGIN, END = "<!-- shadow-table:begin -->", "<!-- shadow-table:end -->"
# The same comparison with a production model that sleeps (--model-sleep).
SLEEP_BEGIN, SLEEP_END = "<!-- shadow-sleep-table:begin -->", "<!-- shadow-sleep-table:end -->"


def _interrupt(sig: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _variant(name: str, model: str) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
        "InitialVariantWeight": 1.0,
    }


@dataclass(frozen=True)
class Models:
    """The artifacts: the no-op model, the slow shadow's, and production's."""

    noop: Path
    sleeping: Path
    production: Path
    production_environment: dict[str, str]


def deploy(url: str, models: Models, kinds: Sequence[str]) -> None:
    sm = client("sagemaker", url)
    for model, artifact, environment in (
        ("bench-shadow-noop", models.noop, {}),
        ("bench-shadow-sleeps", models.sleeping, {}),
        ("bench-shadow-production", models.production, models.production_environment),
    ):
        sm.create_model(
            ModelName=model,
            PrimaryContainer={
                "Image": IMAGE,
                "ModelDataUrl": artifact.as_uri(),
                "Environment": environment,
            },
            ExecutionRoleArn=ROLE,
        )
    for kind in kinds:
        name = ENDPOINTS[kind]
        extra: dict[str, Any] = {}
        if kind in SHADOW_MODEL:
            extra["ShadowProductionVariants"] = [_variant(SHADOW, SHADOW_MODEL[kind])]
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[_variant(PRODUCTION, "bench-shadow-production")],
            **extra,
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    for kind in kinds:
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=ENDPOINTS[kind], WaiterConfig={"Delay": 0.25, "MaxAttempts": 240}
        )


# --- CPU per request and the shadows' counts ------------------------------------------------


@dataclass
class ShadowMeasured(Measured):
    """:class:`Measured` plus the model servers' CPU per request, per round."""

    copies_cpu_us: list[float] = field(default_factory=list)

    @property
    def copies_cpu_per_request_us(self) -> float:
        return statistics.median(self.copies_cpu_us)


class Cpu:
    """CPU seconds so far of the server process and of its model servers (all threads)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.copies = [p for p in _with_descendants([pid]) if p != pid]

    def sample(self) -> tuple[float, float]:
        return process_cpu_s(self.pid), sum(process_cpu_s(p) for p in self.copies)


def read_counters(url: str) -> dict[tuple[str, str, str], float]:
    """``(metric, endpoint, variant)`` → lifetime total, from the server's ``/metrics`` page."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    found: dict[tuple[str, str, str], float] = {}
    pattern = (
        r"^moorage_(invocations|shadow_requests_dropped)_total"
        r'\{endpoint="([^"]*)",variant="([^"]*)"\} (\S+)$'
    )
    for metric, endpoint, variant, value in re.findall(pattern, text, re.MULTILINE):
        found[(metric, endpoint, variant)] = float(value)
    return found


@dataclass(frozen=True)
class Counts:
    """One endpoint at one concurrency level: requests sent and what became of their copies."""

    target: str
    concurrency: int
    sent: int  # requests sent to the endpoint during the level, warm-up included
    production: int  # the production variant's Invocations during the level
    answered: int  # copies the shadow answered during the level (its Invocations)
    dropped: int  # ShadowRequestsDropped during the level
    waiting: int  # copies queued or in flight at the end of the level (all levels so far)

    def summary(self) -> dict[str, int | str]:
        return {
            "target": self.target,
            "concurrency": self.concurrency,
            "requests_sent": self.sent,
            "production_invocations": self.production,
            "shadow_invocations": self.answered,
            "shadow_dropped": self.dropped,
            "shadow_waiting_at_end": self.waiting,
        }


def _delta(
    before: dict[tuple[str, str, str], float],
    after: dict[tuple[str, str, str], float],
    metric: str,
    endpoint: str,
    variant: str,
) -> int:
    key = (metric, endpoint, variant)
    return round(after.get(key, 0.0) - before.get(key, 0.0))


def counts(
    kinds: Sequence[str],
    concurrency: int,
    sent: int,
    before: dict[tuple[str, str, str], float],
    after: dict[tuple[str, str, str], float],
    sent_so_far: int,
) -> list[Counts]:
    found = []
    for kind in kinds:
        if kind not in SHADOW_MODEL:
            continue
        name = ENDPOINTS[kind]
        answered = _delta(before, after, "invocations", name, SHADOW)
        dropped = _delta(before, after, "shadow_requests_dropped", name, SHADOW)
        total = _delta({}, after, "invocations", name, SHADOW) + _delta(
            {}, after, "shadow_requests_dropped", name, SHADOW
        )
        found.append(
            Counts(
                kind,
                concurrency,
                sent,
                _delta(before, after, "invocations", name, PRODUCTION),
                answered,
                dropped,
                sent_so_far - total,
            )
        )
    return found


# --- the measurement ---------------------------------------------------------------------------


def round_orders(k: int) -> list[list[int]]:
    """Orders of ``k`` endpoints, one per round, in which each follows each other equally.

    A balanced Latin square (Williams design): over ``k`` rounds (``2k`` when
    ``k`` is odd) every endpoint takes every position, and comes right after
    every other endpoint, equally often, so what one endpoint's round leaves
    behind (the fast shadow's copies still being sent) weighs on all the
    others alike.
    """
    first = [0]
    low, high = 1, k - 1
    while len(first) < k:
        first.append(low)
        low += 1
        if len(first) < k:
            first.append(high)
            high -= 1
    orders = [[(i + shift) % k for i in first] for shift in range(k)]
    if k % 2:
        orders += [list(reversed(order)) for order in orders]
    return orders


async def measure(
    targets: Sequence[Target], args: argparse.Namespace, concurrency: int, cpu: Cpu
) -> list[ShadowMeasured]:
    for target in targets:
        await phase(target, concurrency, args.warmup)
    await asyncio.sleep(args.pause)
    measured = {t.name: ShadowMeasured(Result(t.name, concurrency, [], []), []) for t in targets}
    orders = round_orders(len(targets))
    for n in range(args.rounds):
        for target in (targets[i] for i in orders[n % len(orders)]):
            server_before, copies_before = cpu.sample()
            m = measured[target.name]
            m.result.add(await phase(target, concurrency, args.requests))
            await asyncio.sleep(args.pause)  # the round's last copies are sent meanwhile
            server_after, copies_after = cpu.sample()
            m.cpu_us.append((server_after - server_before) / args.requests * 1e6)
            m.copies_cpu_us.append((copies_after - copies_before) / args.requests * 1e6)
    return [measured[t.name] for t in targets]


async def run(
    args: argparse.Namespace, url: str, pid: int, kinds: Sequence[str]
) -> tuple[list[ShadowMeasured], list[Counts]]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    targets = [
        Target(kind, host, int(port), f"/endpoints/{ENDPOINTS[kind]}/invocations", url)
        for kind in kinds
    ]
    cpu = Cpu(pid)
    measured: list[ShadowMeasured] = []
    found: list[Counts] = []
    sent_so_far = 0
    for concurrency in args.concurrency:
        before = await asyncio.to_thread(read_counters, url)
        measured += await measure(targets, args, concurrency, cpu)
        await asyncio.sleep(1.0)  # the fast shadow's queue drains
        after = await asyncio.to_thread(read_counters, url)
        sent = args.warmup + args.rounds * args.requests
        sent_so_far += sent
        found += counts(kinds, concurrency, sent, before, after, sent_so_far)
    return measured, found


# --- the report ------------------------------------------------------------------------------


def table(measured: Sequence[ShadowMeasured]) -> str:
    rows = [
        "| concurrency | endpoint | p50 ms | p99 ms | req/s | req/s vs off "
        "| p50 / p99 vs off, ms | server CPU µs/request | model servers CPU µs/request |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    compared = {(c.target, c.concurrency): c for c in comparisons(measured)}
    by_key = {(m.result.target, m.result.concurrency): m for m in measured}
    for m in measured:
        r = m.result
        ratio = delta = ""
        cpu = f"{m.cpu_per_request_us:.1f}"
        copies = f"{m.copies_cpu_per_request_us:.1f}"
        c: Comparison | None = compared.get((r.target, r.concurrency))
        if c is not None:
            off = by_key[("off", r.concurrency)]
            ratio = f"{c.ratio:.1%} ({min(c.rps_ratios):.0%}..{max(c.rps_ratios):.0%})"
            delta = f"{c.p50_delta_ms:+.3f} / {c.p99_delta_ms:+.3f}"
            cpu += f" ({c.cpu_us - c.cpu_off_us:+.1f})"
            copies += f" ({m.copies_cpu_per_request_us - off.copies_cpu_per_request_us:+.1f})"
        rows.append(
            f"| {r.concurrency} | {r.target} | {r.percentile_ms(0.5):.3f} | "
            f"{r.percentile_ms(0.99):.3f} | {r.rps:,.0f} | {ratio} | {delta} | {cpu} | {copies} |"
        )
    return "\n".join(rows)


def counts_table(found: Sequence[Counts]) -> str:
    rows = [
        "| concurrency | endpoint | requests sent | production Invocations "
        "| shadow Invocations (sent) | ShadowRequestsDropped | queued or in flight at the end |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for c in found:
        rows.append(
            f"| {c.concurrency} | {c.target} | {c.sent:,} | {c.production:,} | "
            f"{c.answered:,} | {c.dropped:,} | {c.waiting:,} |"
        )
    return "\n".join(rows)


@contextlib.contextmanager
def endpoints(data_dir: Path, models: Models, kinds: Sequence[str]) -> Iterator[Server]:
    """A running server with the endpoints InService; stopped (SIGTERM) on exit."""
    server = Server(data_dir)
    try:
        server.start()
        deploy(server.url, models, kinds)
        yield server
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--requests", type=int, default=2_000, help="per endpoint, per round")
    parser.add_argument(
        "--rounds", type=int, default=12, help="a multiple of 4 (of 6 with --no-fast) is balanced"
    )
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--pause", type=float, default=0.25, help="idle seconds after a round")
    parser.add_argument(
        "--shadow-sleep", type=float, default=1.0, help="seconds the slow shadow's model sleeps"
    )
    parser.add_argument(
        "--fast",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure a shadow with the no-op model",
    )
    add_model_sleep_option(parser)
    parser.add_argument("--write", action="store_true", help=f"put the tables into {DOC.name}")
    args = parser.parse_args(argv)
    kinds = [k for k in ENDPOINTS if args.fast or k != "shadow-fast"]
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with tempfile.TemporaryDirectory(prefix="moorage-bench-") as tmp:
        models = Models(
            write_model(Path(tmp) / "noop.tar.gz"),
            write_sleeping_model(Path(tmp) / "sleeps.tar.gz", args.shadow_sleep),
            *write_production_model(Path(tmp) / "production.tar.gz", args.model_sleep),
        )
        with (
            endpoints(Path(tmp) / "data", models, kinds) as server,
            asyncio.Runner(loop_factory=loop_factory) as runner,
        ):
            assert server.proc is not None
            other = OtherLoad([server.proc.pid, os.getpid()])
            measured, found = runner.run(run(args, server.url, server.proc.pid, kinds))
            other_share = other.share()
    shadowed = [m for m in measured if m.result.target != "off"]  # in comparisons' order
    report = {
        "benchmark": "shadow",
        "machine": machine(),
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "pause_s": args.pause,
        "shadow_sleep_s": args.shadow_sleep,
        "model_sleep_ms": args.model_sleep,
        "other_load": None if other_share is None else round(other_share, 3),
        "results": [m.result.summary() for m in measured],
        "comparisons": [
            {
                **c.summary(),
                "model_servers_cpu_us_per_request": round(m.copies_cpu_per_request_us, 1),
            }
            for c, m in zip(comparisons(measured), shadowed, strict=True)
        ],
        "shadow_counts": [c.summary() for c in found],
    }
    print(json.dumps(report, indent=2))
    model = (
        f"production model sleeping {args.model_sleep:g} ms"
        if args.model_sleep > 0
        else ("no-op production model")
    )
    text = f"Machine: {report['machine']}; {model}.\n\n{table(measured)}\n\n{counts_table(found)}"
    print()
    print(text)
    warn_if_loaded(other_share)
    if args.write:
        if args.model_sleep > 0:
            write_doc(text, SLEEP_BEGIN, SLEEP_END)
        else:
            write_doc(text, BEGIN, END)
    # Every request sent was answered by production and counted.
    return 0 if all(c.production == c.sent for c in found) else 1


if __name__ == "__main__":
    sys.exit(main())
