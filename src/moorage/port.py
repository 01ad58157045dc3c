"""How moorage's port is served: the gate before dispatch, and uvicorn's settings.

Shared by the server process and its router processes (``--workers``,
:mod:`moorage.routers`), so that a request meets the same checks, limits and
timeouts whichever process accepted its connection.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

from moorage.api.gate import Gate
from moorage.auth.browser import BrowserRules
from moorage.auth.keys import ensure_key_file, read_key_file
from moorage.auth.sigv4 import SigV4Verifier
from moorage.http_limits import HttpLimits, limited_protocol
from moorage.settings import Settings

# Seconds a stopping server lets requests in flight finish.
GRACEFUL_SHUTDOWN_S = 30


def build_gate(settings: Settings) -> Gate:
    """The port's one check before dispatch, as the settings ask (docs/security.md)."""
    verifier = None
    if settings.auth != "none":
        key_file = settings.credentials_path or ensure_key_file(settings.data_dir)
        verifier = SigV4Verifier(read_key_file(key_file), settings.region)
    public = ("/healthz",) if settings.private_metrics else ("/healthz", "/metrics")
    return Gate(
        verifier,
        BrowserRules.of(settings.allowed_hosts, settings.allowed_origins),
        max_body=settings.max_api_body_bytes,
        public_paths=public,
    )


def uvicorn_config(
    app: Callable[..., Any], settings: Settings, *, tls: bool = True
) -> uvicorn.Config:
    """uvicorn's configuration for ``app``; ``tls``: with the settings' certificate, if any."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=settings.access_log,
        lifespan="off",
        # Each small response in one write (docs/benchmarks.md), with the
        # header size, timeouts and connection cap of docs/limits.md; moorage is
        # reached directly, never through a proxy whose headers it should trust.
        http=limited_protocol(HttpLimits.from_settings(settings)),
        timeout_keep_alive=settings.keep_alive_timeout_s,
        # No WebSocket routes: an Upgrade request is an ordinary request, on a
        # connection the limits keep counting.
        ws="none",
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        ssl_certfile=str(settings.tls_cert) if tls and settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if tls and settings.tls_key else None,
    )
    if settings.access_log:
        # The configuration just set uvicorn's loggers to the level above, which
        # mutes its access lines; --access-log wants them.
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    return config


def unix_listener(path: str) -> socket.socket:
    """A listening Unix socket at ``path`` (replacing a stale one), private to this user."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o600)
    sock.listen(2048)
    sock.setblocking(False)
    return sock
