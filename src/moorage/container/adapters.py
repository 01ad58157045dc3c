"""Adapters (LoRA-style) loaded into a running model: moorage's extension of the contract.

The fleet (``moorage.fleet``) loads an inference component's adapter into a
running copy of its base component with ``POST /adapters``
``{"name": ..., "path": ...}``; that calls the script's
``load_adapter(model, name, adapter_dir[, context])`` hook and, only if the
hook returns, registers the name. ``DELETE /adapters/{name}`` calls the
optional ``unload_adapter(model, name[, context])`` and forgets the name
(even if the hook raised: its state is then unknown, and refusing the name is
the safe answer). ``GET /adapters`` lists the names. An invocation selects an
adapter with the ``X-Moorage-Adapter`` header; :mod:`moorage.container.app`
checks the name against this registry and puts it in ``context.adapter``.

Hooks run in the handler thread pool, like every other handler.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from concurrent.futures import Executor

from moorage.container.errors import InvocationError
from moorage.container.http import (
    Receive,
    Scope,
    Send,
    error_status,
    header,
    log_exception,
    read_body,
    respond_json,
    respond_text,
)
from moorage.container.model import LoadedModel

PREFIX = "/adapters"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MAX_REQUEST_BYTES = 64 * 1024


class Adapters:
    """The adapters loaded into this process, by name, and the HTTP endpoints that manage them."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._paths: dict[str, str] = {}
        self._changing: set[str] = set()

    def __contains__(self, name: object) -> bool:
        return name in self._paths

    def names(self) -> list[str]:
        return sorted(self._paths)

    async def handle(self, scope: Scope, receive: Receive, send: Send, model: LoadedModel) -> None:
        method = scope["method"]
        path: str = scope["path"]
        try:
            if path in (PREFIX, PREFIX + "/"):
                if method == "GET":
                    await respond_json(send, 200, {"adapters": self.names()})
                elif method == "POST":
                    await self._load(scope, receive, send, model)
                else:
                    raise InvocationError(405, f"{method} is not allowed on {PREFIX}.")
            elif method == "DELETE":
                await self._unload(path[len(PREFIX) + 1 :], send, model)
            else:
                raise InvocationError(405, f"{method} is not allowed on {path}.")
        except InvocationError as exc:
            await respond_text(send, exc.status, exc.message)

    async def _load(self, scope: Scope, receive: Receive, send: Send, model: LoadedModel) -> None:
        body = await read_body(receive, header(scope, b"content-length"), _MAX_REQUEST_BYTES)
        name, adapter_dir = _parse_load(body)
        if name in self._paths:
            raise InvocationError(409, f"Adapter {name} is already loaded.")
        with self._claim(name):
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, model.load_adapter, name, adapter_dir
                )
            except InvocationError:
                raise
            except Exception as exc:
                log_exception(exc, f"load_adapter raised while loading adapter {name}:")
                status, text = error_status(exc)
                raise InvocationError(
                    status, f"load_adapter raised for adapter {name}: {text}"
                ) from None
            self._paths[name] = adapter_dir
        await respond_json(send, 200, {"name": name, "path": adapter_dir})

    async def _unload(self, name: str, send: Send, model: LoadedModel) -> None:
        if name not in self._paths:
            raise InvocationError(404, f"Adapter {name} is not loaded.")
        with self._claim(name):
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, model.unload_adapter, name
                )
            except Exception as exc:
                log_exception(exc, f"unload_adapter raised while unloading adapter {name}:")
                _, text = error_status(exc)
                raise InvocationError(
                    500,
                    f"unload_adapter raised for adapter {name}: {text} "
                    "(the adapter was forgotten anyway)",
                ) from None
            finally:
                self._paths.pop(name, None)
        await respond_json(send, 200, {"name": name})

    def _claim(self, name: str) -> _Claim:
        if name in self._changing:
            raise InvocationError(409, f"Adapter {name} is being loaded or unloaded; retry.")
        return _Claim(self._changing, name)


class _Claim:
    """Holds a name in the set of adapters being changed for the duration of a hook."""

    def __init__(self, changing: set[str], name: str) -> None:
        self._changing = changing
        self._name = name

    def __enter__(self) -> None:
        self._changing.add(self._name)

    def __exit__(self, *exc: object) -> None:
        self._changing.discard(self._name)


def _parse_load(body: bytes) -> tuple[str, str]:
    try:
        request = json.loads(body)
    except ValueError:
        raise InvocationError(
            400, 'POST /adapters wants a JSON object {"name": ..., "path": ...}.'
        ) from None
    name = request.get("name") if isinstance(request, dict) else None
    path = request.get("path") if isinstance(request, dict) else None
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvocationError(
            400,
            f"Adapter name {name!r} is not valid: use 1 to 128 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit.",
        )
    if not isinstance(path, str) or not path:
        raise InvocationError(400, f'POST /adapters for {name} needs a "path" string.')
    if not os.path.isdir(path):
        raise InvocationError(400, f"Adapter directory {path} for {name} does not exist.")
    return name, path
