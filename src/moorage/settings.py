"""Server settings, loaded once at start-up and passed down.

Nothing in moorage reads the environment at import time: ``moorage serve``
builds one :class:`Settings` from its command line (and the few environment
variables documented in docs/configuration.md) and hands it to every layer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    """A per-user folder: ``$XDG_DATA_HOME/moorage`` or ``~/.local/share/moorage``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "moorage"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8484
    data_dir: Path = field(default_factory=default_data_dir)
    region: str = "us-east-1"
    account_id: str = "123456789012"
    # Largest request body the control-plane protocols accept.
    max_api_body_bytes: int = 16 * 1024 * 1024
    # An optional image map file (see docs/images.md); None → data_dir/images.json.
    image_map_path: Path | None = None
    # Longest a captured pair waits in memory before it is written (docs/data-capture.md).
    capture_flush_interval_s: float = 5.0
    # Per shadow variant: copied requests waiting, and in flight (docs/shadow-tests.md).
    shadow_queue_size: int = 256
    shadow_concurrency: int = 8
    # Invocations that find no copy wait while one starts (docs/autoscaling.md):
    # at most this many per component or variant (0: fail at once, as AWS),
    # each for at most hold_timeout_s.
    hold_queue_size: int = 64
    hold_timeout_s: float = 60.0
    # A serverless variant's copy stops after this long without a request.
    serverless_idle_s: float = 300.0
    # Seconds between samples of the copies' processes: utilization, requests
    # in flight, model setup times (docs/metrics-and-alarms.md).
    metrics_sample_interval_s: float = 10.0
    # Above 1, the server's clock runs this many times faster than real time
    # (moorage.clock.ScaledClock) for trying out experiment schedules; model
    # processes keep real time for their start-up and drain timeouts.
    clock_speed: float = 1.0
    # Print one line per HTTP request on the server's output (uvicorn's access log).
    access_log: bool = False
    # HTTP limits on the port (docs/limits.md): request line + headers in
    # bytes; seconds allowed for a request's head, between body bytes, and
    # between requests; connections open at once (more only for control calls).
    max_header_bytes: int = 64 * 1024
    header_timeout_s: int = 30
    body_timeout_s: int = 30
    keep_alive_timeout_s: int = 75
    max_connections: int = 1024
    # Who may call the API (docs/security.md): "sigv4" (signed requests only)
    # or "none" (loopback only). Keys come from credentials_path, or from
    # data_dir/credentials, created on first start.
    auth: str = "sigv4"
    credentials_path: Path | None = None
    # Host names (beyond loopback and IP addresses) and web origins allowed.
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    # Ask for a signature on GET /metrics too.
    private_metrics: bool = False
    # Serve HTTPS with this certificate chain and key (PEM files).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Local paths named through the API (file:// model data, code, capture
    # destinations, loader variables) must lie under one of these real paths;
    # empty: anywhere (docs/artifacts.md, "Files and the data dir").
    file_roots: tuple[Path, ...] = ()
    # The most one model's data may unpack to (and its requirements install
    # to) on disk: 20 GiB stops a decompression bomb (docs/artifacts.md).
    max_unpacked_bytes: int = 20 * 1024**3
    # Where copies run (docs/ray.md): "local" processes, or "ray" actors on the
    # Ray cluster at ray_address (None: the one started on this machine).
    fleet: str = "local"
    ray_address: str | None = None
    # After a restart, how long copies left running on the cluster wait to be
    # claimed by an endpoint before they are removed.
    ray_reattach_grace_s: float = 60.0
    # Router processes sharing the port (docs/workers.md); 0: the server
    # process serves every request itself.
    workers: int = 0

    @property
    def db_path(self) -> Path:
        return self.data_dir / "moorage.db"

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert is not None else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"
