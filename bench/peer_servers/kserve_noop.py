"""KServe's side of ``bench/peers.py``: the no-op model as a ``kserve.Model``.

Run with the peers' KServe venv: ``python kserve_noop.py --http_port PORT``
(KServe reads its own command line). One ``ModelServer`` process (one
uvicorn worker, KServe's default) serves the v1 protocol:
``POST /v1/models/noop:predict`` answers ``{"ok":1}``. What differs from
KServe's defaults only takes work away: no per-request log lines (latency
logging and uvicorn's access log off, as in moorage's model server) and no
gRPC listener; and its REST server, which always binds every interface, is
bound to 127.0.0.1.
"""

from __future__ import annotations

from typing import Any

import kserve
from kserve import model_server

NAME = "noop"


class Noop(kserve.Model):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(NAME)
        self.ready = True

    async def predict(
        self, payload: Any, headers: Any = None, response_headers: Any = None
    ) -> dict[str, int]:
        return {"ok": 1}


class LoopbackRESTServer(model_server.RESTServer):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config.host = "127.0.0.1"
        self.config.access_log = False


if __name__ == "__main__":
    model_server.RESTServer = LoopbackRESTServer
    kserve.ModelServer(enable_grpc=False, enable_latency_logging=False).start([Noop()])
