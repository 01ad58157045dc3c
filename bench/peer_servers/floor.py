"""The floor of ``bench/peers.py``: a raw ASGI app under uvicorn (uvloop + httptools).

It reads the request body and answers the same 9-byte constant as the no-op
model, with nothing between uvicorn and the answer: what one HTTP hop in
Python costs at best. Run by ``bench/peers.py`` with moorage's own venv
(``python floor.py PORT``); it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

ANSWER = b'{"ok": 1}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"9")]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return  # lifespan: nothing to start
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
