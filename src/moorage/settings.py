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
    # Above 1, the server's clock runs this many times faster than real time
    # (moorage.clock.ScaledClock) for trying out experiment schedules; model
    # processes keep real time for their start-up and drain timeouts.
    clock_speed: float = 1.0

    @property
    def db_path(self) -> Path:
        return self.data_dir / "moorage.db"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
