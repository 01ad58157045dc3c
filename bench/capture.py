"""Benchmark: data capture's cost on InvokeEndpoint, 100 % capture vs capture off.

Run with ``.venv/bin/python bench/capture.py`` (``--write`` also puts the
table into ``docs/benchmarks.md``). It starts ``moorage serve`` on a free
port in a temporary data dir and deploys the router benchmark's no-op model
(``bench/router.py``: ``transform_fn`` returns a constant) as three
one-instance endpoints that differ only in their config's DataCaptureConfig:

- ``off``: no DataCaptureConfig;
- ``control``: the same as ``off``, to show the noise floor: two identical
  endpoints measured side by side differ by this much;
- ``on``: ``InitialSamplingPercentage`` 100, ``InputAndOutput``, JSON
  content types written as text, to a ``file://`` folder in the data dir.

All three are driven with the router benchmark's load generator and
method: ``--rounds`` rounds after a warm-up, each round sending
``--requests`` requests to each endpoint back to back, in one order and
then the reverse; latencies of all rounds pooled for p50/p99, requests per
second the median round, and each endpoint's ratio to ``off`` the median of
the rounds' ratios (with its range).

The capture writer encodes and writes records on a thread of the server
process, so its work is part of what ``on`` costs. To charge it to the
round that caused it, the server flushes every ``--flush-interval`` seconds
(0.25 by default; 5 is the server's default, which only changes how many
records a file holds) and each round is followed by an idle pause twice as
long. The server process's CPU time (all its threads, from
``/proc/<pid>/task/*/schedstat``) is read around each round plus its pause
and reported per request: the cost in CPU rather than in rates (it drifts
with the machine's speed as the rates do; ``control`` shows by how much).

After the run the server is stopped with SIGTERM and the captured records
are counted: every request sent to ``on`` (warm-up included) must have been
written, as a clean stop writes everything queued.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from moorage.capture import read_capture
from router import (
    DOC,
    IMAGE,
    ROLE,
    OtherLoad,
    Result,
    Server,
    Target,
    add_model_sleep_option,
    client,
    machine,
    phase,
    warn_if_loaded,
    write_doc,
    write_production_model,
)

# "control" is configured exactly as "off": how far two identical endpoints differ
# in one run is the noise floor of the on/off comparison.
ENDPOINTS = {
    "off": "bench-capture-off",
    "control": "bench-capture-control",
    "on": "bench-capture-on",
}
BEGIN, END = "<!-- capture-table:begin -->", "<!-- capture-table:end -->"
# The same comparison with a production model that sleeps (--model-sleep).
SLEEP_BEGIN, SLEEP_END = "<!-- capture-sleep-table:begin -->", "<!-- capture-sleep-table:end -->"


def _interrupt(sig: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def deploy(url: str, artifact: Path, capture_uri: str, environment: dict[str, str]) -> None:
    sm = client("sagemaker", url)
    sm.create_model(
        ModelName="bench-capture",
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": artifact.as_uri(),
            "Environment": environment,
        },
        ExecutionRoleArn=ROLE,
    )
    for kind, name in ENDPOINTS.items():
        extra: dict[str, Any] = {}
        if kind == "on":
            extra["DataCaptureConfig"] = {
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": capture_uri,
                "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
                "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
            }
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "bench-capture",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
            **extra,
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    for name in ENDPOINTS.values():
        sm.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 0.25, "MaxAttempts": 240}
        )


def process_cpu_s(pid: int) -> float:
    """CPU time of every thread of process ``pid`` so far (Linux schedstat, nanoseconds)."""
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def writer_pids(server_pid: int) -> list[int]:
    """The server's capture writer process (a child running moorage.capture.worker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == server_pid and b"moorage.capture.worker" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def server_and_writer_cpu_s(pid: int) -> tuple[float, float]:
    """CPU time so far of the server process, and of its capture writer process."""
    return process_cpu_s(pid), sum(process_cpu_s(child) for child in writer_pids(pid))


@dataclass
class Measured:
    """One endpoint at one concurrency: latencies and rates, and server CPU per request."""

    result: Result
    cpu_us: list[float]  # per round: the server process
    writer_cpu_us: list[float] = field(default_factory=list)  # per round: its capture writer

    @property
    def cpu_per_request_us(self) -> float:
        return statistics.median(self.cpu_us)

    @property
    def writer_cpu_per_request_us(self) -> float:
        return statistics.median(self.writer_cpu_us) if self.writer_cpu_us else 0.0


async def measure(
    targets: Sequence[Target], args: argparse.Namespace, concurrency: int, pid: int
) -> list[Measured]:
    pause = 2 * args.flush_interval
    for target in targets:
        await phase(target, concurrency, args.warmup)
    await asyncio.sleep(pause)
    measured = {t.name: Measured(Result(t.name, concurrency, [], []), [], []) for t in targets}
    for n in range(args.rounds):
        for target in targets if n % 2 == 0 else list(reversed(targets)):
            server_before, writer_before = server_and_writer_cpu_s(pid)
            measured[target.name].result.add(await phase(target, concurrency, args.requests))
            await asyncio.sleep(pause)  # the round's last records are written meanwhile
            server_after, writer_after = server_and_writer_cpu_s(pid)
            per_request = 1e6 / args.requests
            measured[target.name].cpu_us.append((server_after - server_before) * per_request)
            measured[target.name].writer_cpu_us.append((writer_after - writer_before) * per_request)
    return [measured[t.name] for t in targets]


@dataclass(frozen=True)
class Comparison:
    """An endpoint against ``off`` at one concurrency; ratios of rounds run back to back."""

    target: str
    concurrency: int
    rps_ratios: list[float]
    p50_delta_ms: float
    p99_delta_ms: float
    cpu_off_us: float
    cpu_us: float
    writer_cpu_us: float

    @classmethod
    def of(cls, off: Measured, other: Measured) -> Comparison:
        a, b = other.result, off.result
        ratios = [x / y for x, y in zip(a.round_rps, b.round_rps, strict=True)]
        return cls(
            a.target,
            b.concurrency,
            ratios,
            a.percentile_ms(0.5) - b.percentile_ms(0.5),
            a.percentile_ms(0.99) - b.percentile_ms(0.99),
            off.cpu_per_request_us,
            other.cpu_per_request_us,
            other.writer_cpu_per_request_us,
        )

    @property
    def ratio(self) -> float:
        return statistics.median(self.rps_ratios)

    def summary(self) -> dict[str, float | int | str]:
        return {
            "target": self.target,
            "concurrency": self.concurrency,
            "rps_ratio_to_off": round(self.ratio, 3),
            "ratio_min": round(min(self.rps_ratios), 3),
            "ratio_max": round(max(self.rps_ratios), 3),
            "p50_delta_ms": round(self.p50_delta_ms, 3),
            "p99_delta_ms": round(self.p99_delta_ms, 3),
            "server_cpu_us_per_request_off": round(self.cpu_off_us, 1),
            "server_cpu_us_per_request": round(self.cpu_us, 1),
            "writer_cpu_us_per_request": round(self.writer_cpu_us, 1),
        }


def comparisons(measured: Sequence[Measured]) -> list[Comparison]:
    by_key = {(m.result.target, m.result.concurrency): m for m in measured}
    return [
        Comparison.of(by_key[("off", m.result.concurrency)], m)
        for m in measured
        if m.result.target != "off"
    ]


def table(measured: Sequence[Measured]) -> str:
    rows = [
        "| concurrency | endpoint | p50 ms | p99 ms | req/s | req/s vs off "
        "| p50 / p99 vs off, ms | server CPU µs/request | writer CPU µs/request |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    compared = {(c.target, c.concurrency): c for c in comparisons(measured)}
    for m in measured:
        r = m.result
        ratio = delta = ""
        cpu = f"{m.cpu_per_request_us:.1f}"
        c = compared.get((r.target, r.concurrency))
        if c is not None:
            ratio = f"{c.ratio:.1%} ({min(c.rps_ratios):.0%}..{max(c.rps_ratios):.0%})"
            delta = f"{c.p50_delta_ms:+.3f} / {c.p99_delta_ms:+.3f}"
            cpu += f" ({c.cpu_us - c.cpu_off_us:+.1f})"
        rows.append(
            f"| {r.concurrency} | {r.target} | {r.percentile_ms(0.5):.3f} | "
            f"{r.percentile_ms(0.99):.3f} | {r.rps:,.0f} | {ratio} | {delta} | {cpu} "
            f"| {m.writer_cpu_per_request_us:.1f} |"
        )
    return "\n".join(rows)


@contextlib.contextmanager
def endpoints(
    capture_dir: Path,
    data_dir: Path,
    artifact: Path,
    flush_interval_s: float,
    environment: dict[str, str],
) -> Iterator[Server]:
    """A running server with both endpoints InService; stopped (SIGTERM) on exit."""
    server = Server(data_dir, ("--capture-flush-interval", str(flush_interval_s)))
    try:
        server.start()
        deploy(server.url, artifact, capture_dir.as_uri(), environment)
        yield server
    finally:
        server.stop()


async def run(args: argparse.Namespace, url: str, pid: int) -> list[Measured]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    targets = [
        Target(kind, host, int(port), f"/endpoints/{name}/invocations", url)
        for kind, name in ENDPOINTS.items()
    ]
    measured: list[Measured] = []
    for concurrency in args.concurrency:
        measured += await measure(targets, args, concurrency, pid)
    return measured


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--requests", type=int, default=2_000, help="per endpoint, per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument(
        "--flush-interval", type=float, default=0.25, help="the server's capture flush interval"
    )
    add_model_sleep_option(parser)
    parser.add_argument("--write", action="store_true", help=f"put the table into {DOC.name}")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with tempfile.TemporaryDirectory(prefix="moorage-bench-") as tmp:
        capture_dir = Path(tmp) / "capture"
        artifact, environment = write_production_model(Path(tmp) / "model.tar.gz", args.model_sleep)
        with (
            endpoints(
                capture_dir, Path(tmp) / "data", artifact, args.flush_interval, environment
            ) as server,
            asyncio.Runner(loop_factory=loop_factory) as runner,
        ):
            assert server.proc is not None
            other = OtherLoad([server.proc.pid, os.getpid()])
            measured = runner.run(run(args, server.url, server.proc.pid))
            other_share = other.share()
        # The server has stopped: everything it captured is written.
        captured = sum(1 for _ in read_capture(capture_dir.as_uri()))
    sent = len(args.concurrency) * (args.warmup + args.rounds * args.requests)
    report = {
        "benchmark": "capture",
        "machine": machine(),
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "flush_interval_s": args.flush_interval,
        "model_sleep_ms": args.model_sleep,
        "other_load": None if other_share is None else round(other_share, 3),
        "results": [m.result.summary() for m in measured],
        "comparisons": [c.summary() for c in comparisons(measured)],
        "captured_records": captured,
        "requests_to_on": sent,
    }
    print(json.dumps(report, indent=2))
    model = f"model sleeping {args.model_sleep:g} ms" if args.model_sleep > 0 else "no-op model"
    text = f"Machine: {report['machine']}; {model}.\n\n{table(measured)}"
    print()
    print(text)
    print(f"\ncaptured records: {captured:,} of {sent:,} requests sent to the capturing endpoint")
    warn_if_loaded(other_share)
    if args.write:
        if args.model_sleep > 0:
            write_doc(text, SLEEP_BEGIN, SLEEP_END)
        else:
            write_doc(text, BEGIN, END)
    return 0 if captured == sent else 1


if __name__ == "__main__":
    sys.exit(main())
