"""Streamed requests copied to a shadow variant: sent as streams, measured, captured, dropped.

The shadow's copy is a scripted HTTP server on a loopback port that answers
the way a model server streams (chunked transfer encoding), breaks its
stream, or holds it open; the mirror talks to it through the real upstream
clients, records into a real metric store and captures with a real writer
to ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from moorage.capture import CaptureConfig, CaptureRecord, CaptureWriter, read_capture
from moorage.clock import FakeClock
from moorage.domain.endpoint_config import Routing
from moorage.fleet.base import Copy, CopySpec
from moorage.monitoring import InvocationMetrics, MetricKey, MetricStore
from moorage.runtime.capture import MAX_STREAMED_CAPTURE_BYTES, StreamedOutput
from moorage.runtime.router import Router
from moorage.runtime.shadow import ShadowMirror
from moorage.runtime.snapshot import EndpointRoute, GroupRoute, ShadowRoute, VariantRoute
from moorage.runtime.upstream import Upstream

T0 = 1_800_000_000.0
HEADERS = {"content-type": "application/json", "x-amzn-sagemaker-inference-id": "req-1"}
CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Shadow:
    """A model copy that streams ``shadow:0;shadow:1;shadow:2;`` or what the request asks."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.release = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                self.bodies.append(body)
                if not await self._answer(body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, body: bytes, writer: asyncio.StreamWriter) -> bool:
        """Write the answer ``body`` asks for; False when the connection is to close."""
        if body == b"fail":
            writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops")
            return True
        writer.write(CHUNKED)
        if body == b"break":
            writer.write(_chunk(b"first;"))
            await writer.drain()
            return False  # no final chunk: the stream breaks
        if body == b"hold":
            await self.release.wait()
        if body == b"huge":
            piece = b"x" * (1024 * 1024)
            for _ in range(MAX_STREAMED_CAPTURE_BYTES // len(piece) + 1):
                writer.write(_chunk(piece))
                await writer.drain()
        else:
            for i in range(3):
                writer.write(_chunk(f"shadow:{i};".encode()))
                await writer.drain()
                await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


class Setup:
    def __init__(self, tmp_path: Path, port: int, *, queue_size: int, concurrency: int) -> None:
        self.clock = FakeClock(T0)
        self.store = MetricStore(self.clock)
        self.writer = CaptureWriter(self.clock)
        self.upstream = Upstream()
        self.capture = CaptureConfig.of(
            f"file://{tmp_path}", json_content_types=["application/json", "text/plain"]
        )
        copy = Copy(CopySpec("shadow-1", "Shop", "Shadow", "img", None))
        copy.port = port
        prod = VariantRoute("Prod", 1.0, Routing.RANDOM, ())
        shadow = VariantRoute(
            "Shadow", 1.0, Routing.RANDOM, (GroupRoute("shop-config", 1.0, (copy,)),)
        )
        self.route = EndpointRoute.build(
            "Shop", "InService", (prod,), component_based=False, shadows=(ShadowRoute(shadow, 1.0),)
        )
        router = Router()
        router.publish(self.route)
        self.mirror = ShadowMirror(
            router,
            self.upstream,
            InvocationMetrics(self.store),
            capture=self.writer,
            queue_size=queue_size,
            concurrency=concurrency,
        )

    def metric(self, name: str, stat: str = "Sum") -> float:
        key = MetricKey.of("AWS/SageMaker", name, {"EndpointName": "Shop", "VariantName": "Shadow"})
        points = self.store.get_statistics(key, T0 - 60, T0 + 60, 60, [stat])
        return sum(dict(point.values)[stat] for point in points)

    def stream(self, body: bytes) -> None:
        """A streamed production request that ended normally, as the invoker hands it over."""
        self.mirror.mirror_stream(self.route, "Prod", HEADERS, body, None, None)

    async def answered(self, count: int) -> None:
        for _ in range(500):
            if self.mirror.stats.answered + self.mirror.stats.dropped >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{self.mirror.stats} after 5 s")

    def captured(self, root: Path) -> dict[str, list[CaptureRecord]]:
        self.writer.flush()
        by_variant: dict[str, list[CaptureRecord]] = {}
        if root.exists():
            for record in read_capture(root.as_uri()):
                variant = record.source.split("/Shop/", 1)[1].split("/", 1)[0]
                by_variant.setdefault(variant, []).append(record)
        return by_variant


def run(
    tmp_path: Path,
    test: Callable[[Setup, Shadow], Awaitable[None]],
    *,
    queue_size: int = 256,
    concurrency: int = 8,
) -> None:
    async def main() -> None:
        shadow = Shadow()
        port = await shadow.start()
        setup = Setup(tmp_path, port, queue_size=queue_size, concurrency=concurrency)
        try:
            await test(setup, shadow)
        finally:
            shadow.release.set()
            await setup.mirror.aclose()
            await setup.upstream.close()
            setup.writer.close()
            await shadow.stop()

    asyncio.run(main())


def test_a_streamed_copy_is_read_to_its_end_and_measured(tmp_path: Path) -> None:
    async def test(setup: Setup, shadow: Shadow) -> None:
        setup.stream(b'{"prompt": "tide"}')
        await setup.answered(1)
        assert shadow.bodies == [b'{"prompt": "tide"}']
        assert setup.metric("Invocations") == 1
        assert setup.metric("Invocation5XXErrors") == 0
        # The three chunks come 50 ms apart: the model's time runs to the stream's end.
        assert setup.metric("ModelLatency", "Maximum") >= 100_000
        # Nothing captured without an inference experiment.
        assert setup.captured(tmp_path) == {}

    run(tmp_path, test)


def test_a_broken_or_failed_shadow_stream_is_recorded_as_production_records_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def test(setup: Setup, shadow: Shadow) -> None:
        setup.mirror.set_capture("Shop", setup.capture)
        with caplog.at_level(logging.WARNING, logger="moorage.runtime.shadow"):
            setup.stream(b"break")
            setup.stream(b"fail")
            await setup.answered(2)
        assert setup.mirror.stats.dropped == 0
        assert setup.metric("Invocations") == 2
        # A caller would have had a 200 and then a ModelStreamError event; a
        # model error is the model's status.
        assert setup.metric("Invocation5XXErrors") == 1
        assert "shadow variant Shadow of endpoint Shop ended unexpectedly" in caplog.text
        # Neither has a complete answer to record.
        assert setup.captured(tmp_path) == {}

    run(tmp_path, test)


def test_an_experiment_captures_both_streamed_answers_joined(tmp_path: Path) -> None:
    async def test(setup: Setup, shadow: Shadow) -> None:
        setup.mirror.set_capture("Shop", setup.capture)
        capture = setup.mirror.production_capture(setup.route)
        assert capture == setup.capture
        output = StreamedOutput(keep=True)
        output.content_type = "text/plain"
        for piece in (b"prod:0;", b"prod:1;"):
            output.add(piece)
        output.finish()
        setup.mirror.mirror_stream(setup.route, "Prod", HEADERS, b'{"n": 2}', output, capture)
        await setup.answered(1)
        records = setup.captured(tmp_path)
        assert sorted(records) == ["Prod", "Shadow"]
        answers = {
            v: [r.endpoint_output.data for r in rs if r.endpoint_output]
            for v, rs in records.items()
        }
        assert answers == {"Prod": ["prod:0;prod:1;"], "Shadow": ["shadow:0;shadow:1;shadow:2;"]}
        for (record,) in records.values():
            assert record.inference_id == "req-1"
            assert record.endpoint_input is not None
            assert record.endpoint_input.data == '{"n": 2}'

    run(tmp_path, test)


def test_a_shadow_stream_beyond_the_capture_limit_is_measured_not_captured(
    tmp_path: Path,
) -> None:
    async def test(setup: Setup, shadow: Shadow) -> None:
        setup.mirror.set_capture("Shop", setup.capture)
        setup.stream(b"huge")
        await setup.answered(1)
        assert setup.metric("Invocations") == 1
        assert "Shadow" not in setup.captured(tmp_path)

    run(tmp_path, test)


def test_streamed_copies_beyond_the_queue_are_dropped_and_counted(tmp_path: Path) -> None:
    async def test(setup: Setup, shadow: Shadow) -> None:
        setup.stream(b"hold")
        await asyncio.sleep(0.1)  # the one worker now waits on the held stream
        for _ in range(5):
            setup.stream(b"{}")
        assert (setup.mirror.stats.queued, setup.mirror.stats.dropped) == (2, 4)
        assert setup.metric("ShadowRequestsDropped") == 4
        shadow.release.set()
        await setup.answered(6)
        assert setup.metric("Invocations") == 2
        assert setup.metric("ShadowRequestsDropped") == 4

    run(tmp_path, test, queue_size=1, concurrency=1)
