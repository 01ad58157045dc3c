"""Benchmark: moorage against the model servers people use, with the same no-op model.

Run ``.venv/bin/python bench/peers.py --setup`` once: it creates one venv per
peer under ``bench/.peers-venv/`` (KServe and MLServer pin different
versions of the same packages, and neither belongs in moorage's venv), then
``.venv/bin/python bench/peers.py`` (``--quick`` for a few short rounds,
``--write`` to put the table into ``docs/benchmarks.md``).

Every target answers a constant to a small JSON POST, each in its own process:

- ``floor``: a raw ASGI app under uvicorn with uvloop and httptools
  (``peer_servers/floor.py``), one hop with nothing in it;
- ``moorage direct`` and ``moorage routed``: moorage's model server called on
  its own port, and ``InvokeEndpoint`` through ``moorage serve`` (signed with
  SigV4 and verified), as ``bench/router.py`` measures them;
- ``kserve``: KServe 0.21, a ``kserve.Model`` under ``kserve.ModelServer``,
  v1 REST ``POST /v1/models/noop:predict`` (``peer_servers/kserve_noop.py``);
- ``mlserver``: MLServer 1.7, a custom ``MLModel`` runtime, v2 REST
  ``POST /v2/models/noop/infer`` (``peer_servers/mlserver_noop.py``);
- ``mms``: the SageMaker inference toolkit on Multi Model Server, as the
  SageMaker framework containers run it, ``POST /invocations`` with the same
  ``inference.py`` as moorage's (``peer_servers/mms_noop.py``); only when
  ``java`` is on the PATH.

One load generator (``bench/router.py``'s: keep-alive connections, an asyncio
protocol on uvloop) drives them all, at each concurrency, in alternating
rounds (forward, then reversed), and the report gives p50/p99/req/s per
target, each target's throughput as a share of the floor's (median of the
rounds' ratios) and, for each peer, whether moorage routed is faster.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))
from router import (
    INFERENCE_PY,
    PAYLOAD,
    Comparison,
    OtherLoad,
    Result,
    Target,
    _interrupt,
    endpoint,
    machine,
    measure,
    routed,
    warn_if_loaded,
    write_doc,
)

BENCH = Path(__file__).resolve().parent
SERVERS = BENCH / "peer_servers"
VENVS = BENCH / ".peers-venv"
BEGIN, END = "<!-- peers-table:begin -->", "<!-- peers-table:end -->"
FLOOR, DIRECT, ROUTED = "floor", "moorage direct", "moorage routed"
# The smallest valid v2 inference request (the v2 protocol has no free-form body).
V2_REQUEST = b'{"inputs":[{"name":"x","shape":[1],"datatype":"INT64","data":[1]}]}'


@dataclass(frozen=True)
class Peer:
    """A peer server: its venv under ``bench/.peers-venv/`` and what ``--setup`` installs."""

    name: str
    packages: tuple[str, ...]
    distributions: tuple[str, ...]  # whose versions the report names

    @property
    def venv(self) -> Path:
        return VENVS / self.name

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def version(self) -> str:
        code = (
            "import importlib.metadata as m; "
            f"print(', '.join(d + ' ' + m.version(d) for d in {self.distributions!r}))"
        )
        return subprocess.check_output([str(self.bin / "python"), "-c", code], text=True).strip()


KSERVE = Peer("kserve", ("kserve==0.21.*",), ("kserve",))
MLSERVER = Peer("mlserver", ("mlserver==1.7.*",), ("mlserver",))
MMS = Peer(
    "mms",
    # sagemaker-inference imports pkg_resources, which setuptools 82 and later leave out.
    ("multi-model-server==1.1.*", "sagemaker-inference==1.10.*", "setuptools<82"),
    ("multi-model-server", "sagemaker-inference"),
)
PEERS = (KSERVE, MLSERVER, MMS)


def setup() -> None:
    """Create (or bring up to date) one venv per peer, with pip, from the package index."""
    for peer in PEERS:
        if not (peer.bin / "python").exists():
            print(f"==> creating {peer.venv}", flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(peer.venv)], check=True)
        print(f"==> installing {' '.join(peer.packages)} into {peer.venv}", flush=True)
        pip = [str(peer.bin / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
        subprocess.run([*pip, "--quiet", *peer.packages], check=True)
        print(f"    {peer.version()}", flush=True)


# --- the servers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerTarget(Target):
    """An unsigned target with its own request body (its protocol's smallest request)."""

    body: bytes = PAYLOAD

    def request(self) -> bytes:
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(self.body)}\r\n\r\n"
        )
        return head.encode() + self.body


def free_port(below: int | None = None) -> int:
    """A port free on 127.0.0.1 now; with ``below``, one under that bound (and above 20000)."""
    if below is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    for port in random.sample(range(20_000, below), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between 20000 and {below}")


class Process:
    """A peer server in its own session, its output in a log file; :meth:`stop` ends them all."""

    def __init__(self, name: str, cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
        self.name = name
        self.log_path = cwd / "server.log"
        self.log: TextIO = self.log_path.open("w")
        self.proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def pids(self) -> list[int]:
        """Every process of its session: MMS's launcher exits once Java runs, orphaning it."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(stat[3]) == self.proc.pid:  # the session id
                        found.append(int(entry.name))
        return found or [self.proc.pid]

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(20)
        # MMS's Java frontend and Python workers are in the same process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()


def wait_ready(target: PeerTarget, process: Process, timeout_s: float) -> bytes:
    """Send the target's own request until it answers 200; return the answer's body."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        conn = http.client.HTTPConnection(target.host, target.port, timeout=10)
        try:
            conn.request("POST", target.path, target.body, {"Content-Type": "application/json"})
            answer = conn.getresponse()
            body = answer.read()
            if answer.status == 200:
                return body
            last = f"{answer.status} {body[:200]!r}"
        except OSError as exc:
            last = repr(exc)
        finally:
            conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} not ready in {timeout_s:.0f} s ({last}):\n{process.tail()}")


def start_floor(tmp: Path) -> tuple[Process, PeerTarget]:
    port = free_port()
    cmd = [sys.executable, str(SERVERS / "floor.py"), str(port)]
    return Process(FLOOR, cmd, tmp, {}), PeerTarget(FLOOR, "127.0.0.1", port, "/invocations")


def start_kserve(tmp: Path) -> tuple[Process, PeerTarget]:
    port = free_port()
    cmd = [str(KSERVE.bin / "python"), str(SERVERS / "kserve_noop.py"), "--http_port", str(port)]
    target = PeerTarget("kserve", "127.0.0.1", port, "/v1/models/noop:predict")
    return Process("kserve", cmd, tmp, {}), target


def start_mlserver(tmp: Path, parallel_workers: int) -> tuple[Process, PeerTarget]:
    port = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "debug": False,  # MLServer's default writes an access-log line per request
        "parallel_workers": parallel_workers,
    }
    (tmp / "settings.json").write_text(json.dumps(settings))
    (tmp / "noop").mkdir()
    model = {"name": "noop", "implementation": "mlserver_noop.Noop"}
    (tmp / "noop" / "model-settings.json").write_text(json.dumps(model))
    cmd = [str(MLSERVER.bin / "mlserver"), "start", str(tmp)]
    env = {"PYTHONPATH": str(SERVERS)}
    target = PeerTarget("mlserver", "127.0.0.1", port, "/v2/models/noop/infer", body=V2_REQUEST)
    return Process("mlserver", cmd, tmp, env), target


def start_mms(tmp: Path) -> tuple[Process, PeerTarget]:
    port = free_port(below=32_767)  # MMS refuses port numbers from Short.MAX_VALUE up
    code = tmp / "ml" / "model" / "code"
    code.mkdir(parents=True)
    (code / "inference.py").write_bytes(INFERENCE_PY)
    env = {
        "SAGEMAKER_BASE_DIR": str(tmp / "ml"),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "PATH": f"{MMS.bin}:{os.environ.get('PATH', '')}",
        "TMPDIR": str(tmp),  # where MMS keeps its pid file
        "TEMP": str(tmp),
    }
    cmd = [str(MMS.bin / "python"), str(SERVERS / "mms_noop.py")]
    return Process("mms", cmd, tmp, env), PeerTarget("mms", "127.0.0.1", port, "/invocations")


# --- the report ------------------------------------------------------------------------------


def _verdict(routed_result: Result, peer: Result) -> tuple[Comparison, str]:
    """moorage routed against a peer, round by round, and which of the two is faster."""
    versus = Comparison.of(peer, routed_result)
    return versus, ROUTED if versus.ratio >= 1 else peer.target


def summaries(results: Sequence[Result], peers: Sequence[str]) -> list[dict[str, Any]]:
    by = {(r.target, r.concurrency): r for r in results}
    rows: list[dict[str, Any]] = []
    for r in results:
        row: dict[str, Any] = dict(r.summary())
        floor = Comparison.of(by[(FLOOR, r.concurrency)], r)
        row["rps_vs_floor"] = round(floor.ratio, 3)
        row["rps_vs_floor_range"] = [
            round(min(floor.rps_ratios), 3),
            round(max(floor.rps_ratios), 3),
        ]
        if r.target in peers:
            versus, faster = _verdict(by[(ROUTED, r.concurrency)], r)
            row["routed_rps_ratio"] = round(versus.ratio, 3)
            row["routed_p50_minus_ms"] = round(versus.p50_overhead_ms, 3)
            row["faster"] = faster
        rows.append(row)
    return rows


def table(rows: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| concurrency | target | p50 ms | p99 ms | req/s | req/s vs floor "
        "| moorage routed ÷ this, req/s | faster |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        low, high = row["rps_vs_floor_range"]
        share = (
            "" if row["target"] == FLOOR else f"{row['rps_vs_floor']:.0%} ({low:.0%}..{high:.0%})"
        )
        versus = f"{row['routed_rps_ratio']:.2f}" if "routed_rps_ratio" in row else ""
        lines.append(
            f"| {row['concurrency']} | {row['target']} | {row['p50_ms']:.3f} | "
            f"{row['p99_ms']:.3f} | {row['rps']:,} | {share} | {versus} | {row.get('faster', '')} |"
        )
    return "\n".join(lines)


# --- the run ------------------------------------------------------------------------------


def start_peers(
    stack: contextlib.ExitStack, tmp: Path, args: argparse.Namespace, skipped: dict[str, str]
) -> list[tuple[Process, PeerTarget]]:
    """The floor and every peer started (not yet answering), each stopped when ``stack`` closes."""
    launches: list[tuple[str, Callable[[Path], tuple[Process, PeerTarget]]]] = [
        (FLOOR, start_floor)
    ]
    if "kserve" not in args.skip:
        launches.append(("kserve", start_kserve))
    if "mlserver" not in args.skip:
        launches.append(("mlserver", lambda folder: start_mlserver(folder, args.mlserver_workers)))
    if "mms" not in args.skip:
        if shutil.which("java") is None:
            skipped["mms"] = "no java on the PATH (Multi Model Server needs a JVM)"
            print(f"skipping mms: {skipped['mms']}", file=sys.stderr)
        else:
            launches.append(("mms", start_mms))
    started: list[tuple[Process, PeerTarget]] = []
    for name, launch in launches:
        folder = tmp / name
        folder.mkdir()
        process, target = launch(folder)
        stack.callback(process.stop)
        started.append((process, target))
    return started


def check_venvs(skip: Sequence[str]) -> None:
    missing = [p for p in PEERS if p.name not in skip and not (p.bin / "python").exists()]
    if missing:
        names = ", ".join(p.name for p in missing)
        raise SystemExit(
            f"no venv for {names} under {VENVS}: run `.venv/bin/python bench/peers.py --setup` "
            "first (or leave them out with --skip)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", action="store_true", help=f"create the peers' venvs in {VENVS}")
    parser.add_argument("--quick", action="store_true", help="a few short rounds: does it work?")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=2_000, help="per target, per round")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--skip", nargs="+", default=[], choices=[p.name for p in PEERS])
    parser.add_argument(
        "--auth",
        choices=("sigv4", "none"),
        default="sigv4",
        help="sigv4 (default): routed requests signed and verified, as users run moorage; "
        "none: moorage serve --auth none and unsigned requests",
    )
    parser.add_argument(
        "--mlserver-workers",
        type=int,
        default=0,
        help="MLServer's parallel_workers (default 0: inference in the server's own process, "
        "its fastest for a no-op model; MLServer's own default is 1)",
    )
    parser.add_argument("--write", action="store_true", help="put the table into benchmarks.md")
    args = parser.parse_args(argv)
    if args.setup:
        setup()
        return 0
    if args.quick:
        args.requests, args.rounds, args.warmup = 300, 2, 300
    check_venvs(args.skip)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        import uvloop

        loop_factory: Any = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    skipped: dict[str, str] = {name: "--skip" for name in args.skip}
    for name, reason in skipped.items():
        print(f"skipping {name}: {reason}", file=sys.stderr)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="moorage-peers-")))
        started = start_peers(stack, tmp, args, skipped)
        # The peers start while moorage deploys its endpoint.
        url, copy, moorage_pid = stack.enter_context(endpoint(("--auth", args.auth)))
        answers = {t.name: wait_ready(t, process, 300.0) for process, t in started}
        floor, *peers = (t for _, t in started)
        targets: list[Target] = [
            floor,
            Target(DIRECT, copy[0], copy[1], "/invocations"),
            routed(ROUTED, url, args.auth != "none"),
            *peers,
        ]
        runner = stack.enter_context(asyncio.Runner(loop_factory=loop_factory))
        other = OtherLoad(
            [*(pid for p, _ in started for pid in p.pids()), moorage_pid, os.getpid()]
        )
        results: list[Result] = []
        for concurrency in args.concurrency:
            results += runner.run(
                measure(targets, concurrency, args.requests, args.warmup, args.rounds)
            )
        other_share = other.share()
    peer_names = [t.name for t in peers]
    rows = summaries(results, peer_names)
    report = {
        "benchmark": "peers",
        "machine": machine(),
        "versions": {p.name: p.version() for p in PEERS if p.name in peer_names},
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "auth": args.auth,
        "mlserver_parallel_workers": args.mlserver_workers,
        "request_bytes": {t.name: len(t.body) for t in (floor, *peers)},
        "answer_bytes": {name: len(body) for name, body in answers.items()},
        "skipped": skipped,
        "other_load": None if other_share is None else round(other_share, 3),
        "results": rows,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    text = f"Machine: {report['machine']}.\n\n{table(rows)}"
    print()
    print(text)
    warn_if_loaded(other_share)
    if args.write:
        write_doc(text, BEGIN, END)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: every server is already stopped
        print("interrupted", file=sys.stderr)
        sys.exit(130)
