"""How an image URI runs without Docker: the image map.

SageMaker runs the container image a model names. moorage has no container
engine; instead an *image map* says which command implements the SageMaker
inference-container contract for an image URI. By default every image runs
moorage's own Python model server (what the framework images do with
``inference.py``). Users map image patterns to their own servers in
``images.json`` in the data dir (or ``moorage serve --image-map FILE``)::

    {"images": [
      {"match": "*/my-server:*", "name": "my-server",
       "command": ["/opt/my-server/bin/serve", "--port", "{port}", "--model", "{model_dir}"],
       "env": {"WORKERS": "2"}}
    ]}

``match`` is a shell-style pattern on the image URI; the first rule that
matches wins. Placeholders: ``{port}``, ``{model_dir}``, ``{python}``. The
command also gets ``SAGEMAKER_BIND_TO_PORT`` and ``SM_MODEL_DIR``.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from moorage import __version__

BUILTIN_NAME = f"moorage-model-server:{__version__}"
BUILTIN_COMMAND = (
    "{python}",
    "-m",
    "moorage.container",
    "--model-dir",
    "{model_dir}",
    "--port",
    "{port}",
)


class ImageMapError(Exception):
    """The image map file is malformed."""


@dataclass(frozen=True)
class ImageRule:
    match: str
    name: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedImage:
    name: str
    command: tuple[str, ...]
    env: Mapping[str, str]
    builtin: bool

    def argv(self, *, port: int, model_dir: Path) -> list[str]:
        values = {"port": str(port), "model_dir": str(model_dir), "python": sys.executable}
        return [part.format(**values) for part in self.command]


@dataclass(frozen=True)
class ImageMap:
    rules: tuple[ImageRule, ...] = ()

    def resolve(self, image: str) -> ResolvedImage:
        for rule in self.rules:
            if fnmatch.fnmatchcase(image, rule.match):
                return ResolvedImage(rule.name, rule.command, rule.env, builtin=False)
        return ResolvedImage(BUILTIN_NAME, BUILTIN_COMMAND, {}, builtin=True)

    @classmethod
    def load(cls, path: Path) -> ImageMap:
        """Read an image map; a missing file is an empty map."""
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ImageMapError(f"cannot read image map {path}: {exc}") from None
        entries = data.get("images") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ImageMapError(f'image map {path} must be an object with an "images" list')
        return cls(tuple(_rule(path, i, entry) for i, entry in enumerate(entries)))


def _rule(path: Path, index: int, entry: object) -> ImageRule:
    where = f"image map {path}, entry {index}"
    if not isinstance(entry, dict):
        raise ImageMapError(f"{where} must be an object")
    match = entry.get("match")
    command = entry.get("command")
    env = entry.get("env", {})
    if not isinstance(match, str) or not match:
        raise ImageMapError(f'{where}: "match" must be a non-empty string')
    if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
        raise ImageMapError(f'{where}: "command" must be a non-empty list of strings')
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise ImageMapError(f'{where}: "env" must map strings to strings')
    name = entry.get("name", match)
    if not isinstance(name, str) or not name or any(ch.isspace() for ch in name):
        raise ImageMapError(f'{where}: "name" must be a string without spaces')
    for part in command:
        try:
            part.format(port="", model_dir="", python="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ImageMapError(f"{where}: bad placeholder in {part!r}: {exc}") from None
    return ImageRule(match, name, tuple(command), dict(env))
