"""A router process answers a drain question once nothing it routed is left on the copy.

The worker is driven as the server drives it, through real pipes: an
endpoint message, then a drain question for one of its copies.
"""

from __future__ import annotations

import asyncio
import json
import os

from moorage.domain.endpoint_config import Routing
from moorage.fleet.base import Copy, CopySpec
from moorage.routers.wire import encode_line, endpoint_message
from moorage.routers.worker import Worker
from moorage.runtime.snapshot import EndpointRoute, GroupRoute, VariantRoute

COPY = Copy(CopySpec("c-1", "ep", "AllTraffic", "img", None))
ROUTE = EndpointRoute.build(
    "ep",
    "InService",
    (VariantRoute("AllTraffic", 1.0, Routing.RANDOM, (GroupRoute("cfg", 1.0, (COPY,)),)),),
    component_based=False,
)


async def _pipe_worker() -> tuple[Worker, asyncio.StreamReader]:
    loop = asyncio.get_running_loop()
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(to_worker_r, "rb")
    )
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(from_worker_w, "wb")
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    answers = asyncio.StreamReader()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(answers), os.fdopen(from_worker_r, "rb")
    )
    os.close(to_worker_w)
    return Worker(reader, writer), answers


def test_a_drain_waits_for_the_requests_in_flight_on_the_copy() -> None:
    async def scenario() -> None:
        worker, answers = await _pipe_worker()
        message, _ = endpoint_message("ep", ROUTE, None)
        worker.apply(json.loads(encode_line(message)))
        routed = worker.router.get("ep")
        assert routed is not None
        copy = routed.variants[0].groups[0].copies[0]
        copy.inflight = 1
        # The copy leaves the routes, then the server asks.
        worker.apply({"t": "endpoint", "key": "ep", "route": None})
        assert worker.router.get("ep") is None
        worker.apply({"t": "drain", "copy": "c-1", "token": 7})
        early = asyncio.ensure_future(answers.readline())
        await asyncio.sleep(0.2)
        assert not early.done()
        copy.inflight = 0
        line = await asyncio.wait_for(early, 5)
        assert json.loads(line) == {"t": "drained", "token": 7}
        # A copy it never routed to is drained at once.
        worker.apply({"t": "drain", "copy": "unknown", "token": 8})
        line = await asyncio.wait_for(answers.readline(), 5)
        assert json.loads(line) == {"t": "drained", "token": 8}

    asyncio.run(scenario())
