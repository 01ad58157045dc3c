"""The dashboard's static files: read once from the package, served from memory.

They ship in ``moorage/dashboard/static/`` as package data (pyproject.toml),
so an editable install and a wheel both carry them; there is no build step
and nothing is fetched from elsewhere. Only the files found there at start
are served, by exact name: a request path never reaches the file system.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: bytes


def load_assets() -> dict[str, Asset]:
    """Every servable file of ``static/``, by file name."""
    folder = resources.files("moorage.dashboard").joinpath("static")
    found: dict[str, Asset] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        kind = _TYPES.get(suffix)
        if kind is not None and entry.is_file():
            found[entry.name] = Asset(entry.read_bytes(), kind)
    return found
