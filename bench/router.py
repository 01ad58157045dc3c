"""Benchmark: the router's cost, InvokeEndpoint vs the model server called directly.

Run with ``.venv/bin/python bench/router.py`` (``--write`` also puts the table
into ``docs/benchmarks.md``). It starts ``moorage serve`` on a free port in a
temporary data dir, deploys a no-op model (``transform_fn`` returns a
constant) as a one-instance endpoint through boto3, reads the copy's own
address from its log (``<data-dir>/logs/<endpoint>/<variant>.<instance>.log``, the model
server's "listening on" line), then drives both targets with the same load:

- ``direct``: ``POST /invocations`` on the model server;
- ``router``: ``POST /endpoints/NAME/invocations`` on moorage's port.

Each concurrency level runs ``--rounds`` rounds after a warm-up; a round
sends ``--requests`` requests to each target, back to back, alternating which
goes first. Load comes from ``concurrency`` new keep-alive HTTP/1.1
connections per round, each sending its next request as soon as the previous
answer is complete; the client is an asyncio protocol that does everything
in its callbacks (on uvloop when installed), so it takes as little of the
shared CPU as it can. Latencies of all rounds are pooled for p50/p99;
requests per second are the median over rounds, and the router/direct ratio
is the median of each round's ratio (with its range), which keeps a machine
whose speed drifts during the run from biasing it.

The load generator, the router and the model server share the machine's
cores, so the figures that carry over to other machines are the ratios
(router vs direct), measured side by side in this one run. Every process is
stopped on exit, Ctrl-C and failure alike.
"""

from __future__ import annotations

import argparse
import asyncio
import configparser
import contextlib
import io
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, cast

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ENDPOINT = "bench-noop"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
PAYLOAD = b'{"x": 1}'
INFERENCE_PY = b"""\
def model_fn(model_dir):
    return None


def transform_fn(model, input_data, content_type, accept):
    return b'{"ok": 1}', "application/json"
"""
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
BEGIN, END = "<!-- router-table:begin -->", "<!-- router-table:end -->"


# --- the moorage server and the endpoint -------------------------------------------------


# The signing key of each server started here, by URL (its data dir's credentials file).
KEYS: dict[str, tuple[str, str]] = {}
REGION = "us-east-1"


def client(service: str, url: str) -> Any:
    """A boto3 client for the server at ``url``, signing with its key."""
    key_id, secret = KEYS[url]
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def read_keys(path: Path) -> tuple[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    section = parser[parser.sections()[0]]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


class Server:
    """``moorage serve --port 0`` in its own session; :meth:`stop` leaves nothing running."""

    def __init__(self, data_dir: Path, extra_args: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout_s: float = 30.0) -> None:
        data_dir = str(self.data_dir)
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "moorage", "serve", "--port", "0", "--data-dir", data_dir),
                *self.extra_args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if " listening on " in line:
                self.url = line.split(" listening on ")[1].split()[0]
                key_file = self.data_dir / "credentials"
                # --auth none writes no key and accepts any.
                KEYS[self.url] = read_keys(key_file) if key_file.exists() else ("any", "any")
                # Keep reading its output so the server never blocks on a full pipe.
                threading.Thread(target=self.proc.stdout.read, daemon=True).start()
                return
        raise RuntimeError("moorage serve did not start:\n" + "".join(seen))

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Copies die with the server (parent-death signal); this catches the rest.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def write_model(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(INFERENCE_PY)
        tar.addfile(info, io.BytesIO(INFERENCE_PY))
    return path


def write_sleeping_model(path: Path, sleep_s: float) -> Path:
    code = (
        "import time\n\n\n"
        "def model_fn(model_dir):\n"
        "    return None\n\n\n"
        "def transform_fn(model, input_data, content_type, accept):\n"
        f"    time.sleep({sleep_s!r})\n"
        '    return b\'{"ok": 1}\', "application/json"\n'
    ).encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("code/inference.py")
        info.size = len(code)
        tar.addfile(info, io.BytesIO(code))
    return path


# Handler threads of a sleeping production model: enough for every connection to sleep at once.
SLEEP_WORKERS = 32


def add_model_sleep_option(parser: argparse.ArgumentParser) -> None:
    """``--model-sleep MS``: a production model that sleeps instead of the no-op model."""
    parser.add_argument(
        "--model-sleep",
        type=float,
        default=0.0,
        metavar="MS",
        help="a production model that sleeps this many milliseconds per request "
        f"({SLEEP_WORKERS} handler threads) instead of the no-op model",
    )


def write_production_model(path: Path, sleep_ms: float) -> tuple[Path, dict[str, str]]:
    """The production artifact ``--model-sleep`` asks for, and its container environment."""
    if sleep_ms <= 0:
        return write_model(path), {}
    workers = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(SLEEP_WORKERS)}
    return write_sleeping_model(path, sleep_ms / 1000), workers


def warn_if_loaded(other_share: float | None) -> None:
    """Say on stderr when other processes used more than 5 % of the CPUs during the run."""
    if other_share is not None and other_share > 0.05:
        print(
            f"\nwarning: other processes used {other_share:.0%} of the CPUs during the run; "
            "the figures are not representative",
            file=sys.stderr,
        )


def model_and_config(sm: Any, name: str, container: dict[str, Any]) -> None:
    """A model and a one-instance endpoint config, both named ``name``."""
    sm.create_model(
        ModelName=name, PrimaryContainer={"Image": IMAGE, **container}, ExecutionRoleArn=ROLE
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )


def deploy(url: str, artifact: Path) -> None:
    sm = client("sagemaker", url)
    model_and_config(sm, ENDPOINT, {"ModelDataUrl": artifact.as_uri()})
    sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=ENDPOINT, WaiterConfig={"Delay": 0.25, "MaxAttempts": 240}
    )


def copy_address(data_dir: Path) -> tuple[str, int]:
    """Host and port of the endpoint's one copy, from its log's "listening on" line."""
    logs = sorted((data_dir / "logs" / ENDPOINT).glob("*.log"))
    if len(logs) != 1:
        raise RuntimeError(f"expected one copy log for {ENDPOINT}, found {len(logs)}")
    found = re.search(r" listening on http://([^\s:]+):(\d+)", logs[0].read_text())
    if found is None:
        raise RuntimeError(f"no 'listening on' line in {logs[0]}")
    return found[1], int(found[2])


# --- the load generator ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    host: str
    port: int
    path: str
    # The moorage server whose key signs the requests (None: the model server, unsigned).
    server_url: str | None = None

    def request(self) -> bytes:
        """One request, sent again and again: a signature stays valid for five minutes,
        and every phase signs anew, so the server verifies a real signature each time."""
        headers = {
            "Host": f"{self.host}:{self.port}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if self.server_url is not None:
            key_id, secret = KEYS[self.server_url]
            signed = AWSRequest(
                method="POST", url=self.server_url + self.path, data=PAYLOAD, headers=headers
            )
            SigV4Auth(Credentials(key_id, secret), "sagemaker", REGION).add_auth(signed)
            headers = dict(signed.headers.items())
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head = f"POST {self.path} HTTP/1.1\r\n{lines}Content-Length: {len(PAYLOAD)}\r\n\r\n"
        return head.encode() + PAYLOAD


class Load:
    """What one phase shares between its connections: requests left, latencies, the end."""

    def __init__(self, request: bytes, count: int, connections: int) -> None:
        self.request = request
        self.left = count
        self.running = connections
        self.latencies_ns: list[int] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def finished(self, exc: BaseException | None = None) -> None:
        self.running -= 1
        if self.done.done():
            return
        if exc is not None:
            self.done.set_exception(exc)
        elif self.running == 0:
            self.done.set_result(None)


class Connection(asyncio.Protocol):
    """A keep-alive HTTP/1.1 connection sending its next request as each answer completes.

    Everything happens in the protocol callbacks (no task, no future per
    request), so the load generator takes as little CPU as it can.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.load: Load | None = None
        self.sent = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def start(self, load: Load) -> None:
        self.load = load
        self._next()

    def _next(self) -> None:
        load = self.load
        assert load is not None and self.transport is not None
        if load.left <= 0:
            self.load = None
            load.finished()
            return
        load.left -= 1
        self.sent = time.perf_counter_ns()
        self.transport.write(load.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            self.buffer = buffer
            return
        total = end + 4 + _content_length(buffer, end)
        if len(buffer) < total:
            self.buffer = buffer
            return
        load = self.load
        assert load is not None
        load.latencies_ns.append(time.perf_counter_ns() - self.sent)
        self.buffer = buffer[total:]
        if buffer[9:12] != b"200":
            self.load = None
            load.finished(RuntimeError(f"answer {buffer[:total][:300]!r}"))
            return
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.load is not None:
            load, self.load = self.load, None
            load.finished(exc or ConnectionError("the server closed the connection"))


def _content_length(buffer: bytes, end: int) -> int:
    at = buffer.find(b"\r\ncontent-length: ", 0, end)  # how uvicorn writes it
    if at >= 0:
        return int(buffer[at + 18 : buffer.find(b"\r\n", at + 18)])
    found = re.search(rb"\r\ncontent-length: *(\d+)", buffer[:end].lower())
    if found is None:
        raise RuntimeError("an answer without Content-Length")
    return int(found[1])


async def connect(target: Target) -> Connection:
    _, protocol = await asyncio.get_running_loop().create_connection(
        Connection, target.host, target.port
    )
    return protocol


@dataclass(frozen=True)
class Sample:
    latencies_ns: list[int]
    elapsed_s: float


async def drive(connections: list[Connection], request: bytes, count: int) -> Sample:
    """Send ``count`` requests over the connections, each one request at a time."""
    load = Load(request, count, len(connections))
    started = time.perf_counter()
    for conn in connections:
        conn.start(load)
    await load.done
    return Sample(load.latencies_ns, time.perf_counter() - started)


@dataclass
class Result:
    target: str
    concurrency: int
    latencies_ns: list[int]
    round_rps: list[float]

    def add(self, sample: Sample) -> None:
        self.latencies_ns.extend(sample.latencies_ns)
        self.round_rps.append(len(sample.latencies_ns) / sample.elapsed_s)

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_ns)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6

    @property
    def rps(self) -> float:
        return statistics.median(self.round_rps)

    def summary(self) -> dict[str, float | int | str]:
        return {
            "target": self.target,
            "concurrency": self.concurrency,
            "requests": len(self.latencies_ns),
            "p50_ms": round(self.percentile_ms(0.50), 3),
            "p99_ms": round(self.percentile_ms(0.99), 3),
            "rps": round(self.rps),
        }


@dataclass(frozen=True)
class Comparison:
    """Router vs direct at one concurrency; ratios of rounds run back to back."""

    concurrency: int
    rps_ratios: list[float]
    p50_overhead_ms: float
    target: str = "router"

    @classmethod
    def of(cls, direct: Result, router: Result) -> Comparison:
        ratios = [r / d for r, d in zip(router.round_rps, direct.round_rps, strict=True)]
        overhead = router.percentile_ms(0.5) - direct.percentile_ms(0.5)
        return cls(direct.concurrency, ratios, overhead, router.target)

    @property
    def ratio(self) -> float:
        return statistics.median(self.rps_ratios)

    def summary(self) -> dict[str, float | int | str]:
        return {
            "concurrency": self.concurrency,
            "target": self.target,
            "router_direct_rps_ratio": round(self.ratio, 3),
            "ratio_min": round(min(self.rps_ratios), 3),
            "ratio_max": round(max(self.rps_ratios), 3),
            "p50_overhead_ms": round(self.p50_overhead_ms, 3),
        }


async def phase(target: Target, concurrency: int, count: int) -> Sample:
    """``count`` requests over ``concurrency`` new connections (servers close idle ones)."""
    connections = [await connect(target) for _ in range(concurrency)]
    try:
        return await drive(connections, target.request(), count)
    finally:
        for conn in connections:
            if conn.transport is not None:
                conn.transport.close()


async def measure(
    targets: Sequence[Target], concurrency: int, requests: int, warmup: int, rounds: int
) -> list[Result]:
    for target in targets:
        # Also opens the router's pooled connections to the copy.
        await phase(target, concurrency, warmup)
    results = {t.name: Result(t.name, concurrency, [], []) for t in targets}
    for n in range(rounds):
        for target in targets if n % 2 == 0 else list(reversed(targets)):
            results[target.name].add(await phase(target, concurrency, requests))
    return [results[t.name] for t in targets]


# --- the report ------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def comparisons(results: Sequence[Result]) -> list[Comparison]:
    """Each routed target against the direct one, per concurrency."""
    direct = {r.concurrency: r for r in results if r.target == "direct"}
    return [Comparison.of(direct[r.concurrency], r) for r in results if r.target != "direct"]


def table(results: Sequence[Result]) -> str:
    rows = [
        "| concurrency | path | p50 ms | p99 ms | req/s | router/direct req/s | p50 overhead ms |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    compared = {(c.target, c.concurrency): c for c in comparisons(results)}
    for r in results:
        ratio = overhead = ""
        if r.target != "direct":
            c = compared[(r.target, r.concurrency)]
            ratio = f"{c.ratio:.0%} ({min(c.rps_ratios):.0%}..{max(c.rps_ratios):.0%})"
            overhead = f"{c.p50_overhead_ms:+.3f}"
        rows.append(
            f"| {r.concurrency} | {r.target} | {r.percentile_ms(0.5):.3f} | "
            f"{r.percentile_ms(0.99):.3f} | {r.rps:,.0f} | {ratio} | {overhead} |"
        )
    return "\n".join(rows)


def write_doc(text: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace what stands between the markers ``begin`` and ``end`` in docs/benchmarks.md."""
    doc = DOC.read_text()
    start, stop = doc.find(begin), doc.find(end)
    if start < 0 or stop < start:
        raise RuntimeError(f"{DOC} has no {begin} ... {end} section to replace")
    DOC.write_text(doc[: start + len(begin)] + "\n" + text + "\n" + doc[stop:])


# --- the run ------------------------------------------------------------------------------


@contextlib.contextmanager
def endpoint(extra_args: Sequence[str] = ()) -> Iterator[tuple[str, tuple[str, int], int]]:
    """A running server with the no-op endpoint InService: URL, copy address, server pid."""
    with tempfile.TemporaryDirectory(prefix="moorage-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        server = Server(data_dir, extra_args)
        try:
            server.start()
            deploy(server.url, write_model(Path(tmp) / "model.tar.gz"))
            assert server.proc is not None
            yield server.url, copy_address(data_dir), server.proc.pid
        finally:
            server.stop()


class OtherLoad:
    """CPU the rest of the machine used while the benchmark ran (Linux ``/proc``).

    The benchmark's figures assume its three processes have the cores to
    themselves; anything else running (a test suite, a build) shows here.
    """

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = pids
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.start = self._sample()

    def share(self) -> float | None:
        """Fraction of all CPUs used by other processes since construction."""
        end = self._sample()
        if self.start is None or end is None:
            return None
        busy, ours, wall = (b - a for a, b in zip(self.start, end, strict=True))
        return max(0.0, (busy - ours) / (wall * self.tick * (os.cpu_count() or 1)))

    def _sample(self) -> tuple[int, int, float] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
            busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
            ours = sum(_cpu_ticks(pid) for pid in _with_descendants(self.pids))
        except (OSError, ValueError, IndexError):
            return None
        return busy, ours, time.monotonic()


def _with_descendants(pids: Sequence[int]) -> list[int]:
    found = dict.fromkeys(pids)
    walk = list(found)
    for pid in walk:  # grows while walking
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                for child in map(int, (task / "children").read_text().split()):
                    if child not in found:
                        found[child] = None
                        walk.append(child)
    return list(found)


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0  # ended meanwhile
    return int(fields[11]) + int(fields[12])


def _interrupt(sig: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def routed(name: str, url: str, signed: bool) -> Target:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    path = f"/endpoints/{ENDPOINT}/invocations"
    return Target(name, host, int(port), path, url if signed else None)


async def run(
    args: argparse.Namespace, url: str, copy: tuple[str, int], unsigned_url: str | None
) -> list[Result]:
    targets = [
        Target("direct", copy[0], copy[1], "/invocations"),
        routed("router", url, args.auth != "none"),
    ]
    if unsigned_url is not None:
        targets.append(routed("router --auth none", unsigned_url, False))
    results: list[Result] = []
    for concurrency in args.concurrency:
        results += await measure(targets, concurrency, args.requests, args.warmup, args.rounds)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--requests", type=int, default=2_000, help="per target, per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--write", action="store_true", help=f"put the table into {DOC.name}")
    parser.add_argument(
        "--auth",
        choices=("sigv4", "none", "both"),
        default="both",
        help="sigv4: every routed request signed and verified, as users run it; none: moorage "
        "serve --auth none and unsigned requests; both (default): a second server with --auth "
        "none measured in the same rounds, to show what verification costs",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    main_auth = "none" if args.auth == "none" else "sigv4"
    with contextlib.ExitStack() as stack:
        url, copy, pid = stack.enter_context(endpoint(("--auth", main_auth)))
        pids = [pid, os.getpid()]
        unsigned_url = None
        if args.auth == "both":
            unsigned_url, _, unsigned_pid = stack.enter_context(endpoint(("--auth", "none")))
            pids.append(unsigned_pid)
        runner = stack.enter_context(asyncio.Runner(loop_factory=loop_factory))
        other = OtherLoad(pids)
        results = runner.run(run(args, url, copy, unsigned_url))
        other_share = other.share()
    report = {
        "benchmark": "router",
        "machine": machine(),
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "other_load": None if other_share is None else round(other_share, 3),
        "results": [r.summary() for r in results],
        "comparisons": [c.summary() for c in comparisons(results)],
    }
    print(json.dumps(report, indent=2))
    text = f"Machine: {report['machine']}.\n\n{table(results)}"
    print()
    print(text)
    warn_if_loaded(other_share)
    if args.write:
        write_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
