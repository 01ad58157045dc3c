"""Multi-model mode: SageMaker's multi-model container contract (``SAGEMAKER_MULTI_MODEL=true``).

In this mode the server starts with no model and :class:`MultiModels` keeps
the models the platform loads into it, by name, answering the contract
SageMaker's multi-model endpoints call
(docs/multi-model.md, "The container contract"):

- ``POST /models`` ``{"model_name": ..., "url": ...}`` loads the model in
  directory ``url`` with its own inference script (``url/code/inference.py``,
  or the code ``SAGEMAKER_SUBMIT_DIRECTORY`` named, when that holds the
  script), exactly as a single model loads (:func:`moorage.container.model.load`):
  409 if the name is loaded, 507 if loading ran out of memory, 500 with the
  reason if the script or ``model_fn`` failed;
- ``GET /models`` lists them (``{"models": [{"modelName", "modelUrl"}]}``,
  ``next_page_token`` / ``nextPageToken`` pagination), ``GET /models/{name}``
  describes one (404 if not loaded);
- ``DELETE /models/{name}`` forgets one and returns its memory to the
  system where the allocator allows (404 if not loaded);
- ``POST /models/{name}/invoke`` serves an invocation with that model (404 if
  not loaded); :mod:`moorage.container.app` runs it as any invocation.

Which models to load and unload, and when, is the platform's decision (the
router's, :mod:`moorage.runtime.multi_model`); this module only obeys.
Loads run in the handler pool, one at a time, so that a model's memory can
be told from another's. The models of one process share its interpreter: a
model's script is imported under its own module name, but sibling modules it
imports by a name another model's script already imported resolve to the
first one (as in the SageMaker inference toolkit).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import json
import threading
import urllib.parse
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from moorage.container.errors import InvocationError, StartupError
from moorage.container.http import (
    Receive,
    Scope,
    Send,
    header,
    log_exception,
    read_body,
    respond_json,
    respond_text,
)
from moorage.container.model import LoadedModel, ModelSettings, load

PREFIX = "/models"
ENVIRONMENT = "SAGEMAKER_MULTI_MODEL"
_MAX_REQUEST_BYTES = 64 * 1024
_MAX_NAME = 1024
# Models listed per page of GET /models when the caller does not ask for fewer.
_PAGE = 1000

Invoke = Callable[[Scope, Receive, Send, LoadedModel], Awaitable[None]]


@dataclass(frozen=True)
class CodeSettings:
    """What every model of the process shares: script name, default Accept, fetched code."""

    program: str
    default_accept: str
    # The code SAGEMAKER_SUBMIT_DIRECTORY named, fetched by the fleet; None: each model's code/.
    code_dir: Path | None = None


@dataclass(frozen=True)
class _Entry:
    name: str
    url: str
    model: LoadedModel


class MultiModels:
    """The models loaded into this process by name, and the ``/models`` endpoints."""

    def __init__(self, executor: Executor, code: CodeSettings) -> None:
        self._executor = executor
        self._code = code
        self._models: dict[str, _Entry] = {}
        self._changing: set[str] = set()
        # One model_fn at a time: the memory a load adds is then that model's.
        self._load_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._models)

    async def handle(self, scope: Scope, receive: Receive, send: Send, invoke: Invoke) -> None:
        method: str = scope["method"]
        raw = scope.get("raw_path") or scope["path"].encode()
        path = bytes(raw).split(b"?", 1)[0].decode("latin-1")
        try:
            if path in (PREFIX, PREFIX + "/"):
                if method in ("GET", "HEAD"):
                    await self._list(scope, send)
                elif method == "POST":
                    await self._load(scope, receive, send)
                else:
                    raise InvocationError(405, f"{method} is not allowed on {PREFIX}.")
                return
            rest = path[len(PREFIX) + 1 :]
            if rest.endswith("/invoke"):
                entry = self._entry(rest[: -len("/invoke")])
                if method != "POST":
                    raise InvocationError(405, f"Use POST {PREFIX}/{{model_name}}/invoke.")
                await invoke(scope, receive, send, entry.model)
            elif method in ("GET", "HEAD"):
                entry = self._entry(rest)
                await respond_json(send, 200, _describe(entry))
            elif method == "DELETE":
                await self._unload(self._entry(rest).name, send)
            else:
                raise InvocationError(405, f"{method} is not allowed on {path}.")
        except InvocationError as exc:
            await respond_text(send, exc.status, exc.message)

    def _entry(self, quoted: str) -> _Entry:
        name = urllib.parse.unquote(quoted)
        entry = self._models.get(name)
        if entry is None:
            raise InvocationError(404, f"Model {name} is not loaded.")
        return entry

    async def _list(self, scope: Scope, send: Send) -> None:
        query = urllib.parse.parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
        start = _whole(query.get("next_page_token"), 0, "next_page_token")
        limit = _whole(query.get("limit"), _PAGE, "limit") or _PAGE
        names = sorted(self._models)
        page = names[start : start + limit]
        answer: dict[str, object] = {"models": [_describe(self._models[n]) for n in page]}
        if start + limit < len(names):
            answer["nextPageToken"] = str(start + limit)
        await respond_json(send, 200, answer)

    async def _load(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive, header(scope, b"content-length"), _MAX_REQUEST_BYTES)
        name, url = _parse_load(body)
        if name in self._models:
            raise InvocationError(409, f"Model {name} is already loaded.")
        if name in self._changing:
            raise InvocationError(409, f"Model {name} is being loaded or unloaded; retry.")
        self._changing.add(name)
        try:
            loaded = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._load_model, name, Path(url)
            )
            self._models[name] = _Entry(name, url, loaded)
        finally:
            self._changing.discard(name)
        await respond_json(send, 200, {"modelName": name, "modelUrl": url})

    def _load_model(self, name: str, model_dir: Path) -> LoadedModel:
        code = self._code
        # The fetched SAGEMAKER_SUBMIT_DIRECTORY code serves every model when it
        # holds the script; otherwise each model brings its own code/.
        shared = code.code_dir
        if shared is not None and not (shared / _script_name(code.program)).is_file():
            shared = None
        settings = ModelSettings(model_dir, code.program, code.default_accept, shared)
        with self._load_lock:
            try:
                return load(settings)
            except StartupError as exc:
                raise InvocationError(
                    500, f"Model {name} could not be loaded: {exc.reason}"
                ) from None
            except MemoryError:
                raise InvocationError(
                    507, f"Model {name} could not be loaded: the process ran out of memory."
                ) from None
            except Exception as exc:
                log_exception(exc, f"Loading model {name} failed:")
                raise InvocationError(
                    500, f"Model {name} could not be loaded: {type(exc).__name__}: {exc}"
                ) from None

    async def _unload(self, name: str, send: Send) -> None:
        if name in self._changing:
            raise InvocationError(409, f"Model {name} is being loaded or unloaded; retry.")
        entry = self._models.pop(name, None)
        if entry is None:
            raise InvocationError(404, f"Model {name} is not loaded.")
        del entry
        # Give the memory back now, so that the next load's growth is its own.
        await asyncio.get_running_loop().run_in_executor(self._executor, release_memory)
        await respond_json(send, 200, {"modelName": name})


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc's malloc_trim)."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_TRIM: list[Callable[[int], int] | None] = []


def _malloc_trim() -> Callable[[int], int] | None:
    if not _TRIM:
        found: Callable[[int], int] | None = None
        name = ctypes.util.find_library("c")
        if name:
            try:
                found = ctypes.CDLL(name).malloc_trim
            except (OSError, AttributeError):
                found = None
        _TRIM.append(found)
    return _TRIM[0]


def _describe(entry: _Entry) -> dict[str, str]:
    return {"modelName": entry.name, "modelUrl": entry.url}


def _script_name(program: str) -> str:
    return program if program.endswith(".py") else f"{program}.py"


def _whole(values: list[str] | None, default: int, name: str) -> int:
    if not values:
        return default
    try:
        value = int(values[0])
    except ValueError:
        value = -1
    if value < 0:
        raise InvocationError(400, f"{name} must be a whole number, not {values[0]!r}.")
    return value


def _parse_load(body: bytes) -> tuple[str, str]:
    try:
        request = json.loads(body)
    except ValueError:
        request = None
    if not isinstance(request, dict):
        raise InvocationError(
            400, f'POST {PREFIX} wants a JSON object {{"model_name": ..., "url": ...}}.'
        )
    name = request.get("model_name")
    url = request.get("url")
    if not isinstance(name, str) or not name or len(name) > _MAX_NAME or "/" in name:
        raise InvocationError(
            400, f"model_name must be 1 to {_MAX_NAME} characters without '/', not {name!r}."
        )
    if not isinstance(url, str) or not url:
        raise InvocationError(400, f'POST {PREFIX} for {name} needs a "url" string.')
    if not Path(url).is_dir():
        raise InvocationError(404, f"Model directory {url} for {name} does not exist.")
    return name, url
